import Hardware
import SimCore
import Tenancy
import XCTest
@testable import Multitask

/// Invariants and memory handling of the shared-GPU engine.
final class EngineTests: XCTestCase {
    let ms = 1_000_000.0

    /// A mixed workload: kernels of many shapes on several streams and tenants, copies too.
    func mixedTenants() -> [ScriptTenant] {
        var items: [ScriptTenant.Item] = []
        var rng = Xoshiro256StarStar(seed: 7)
        for i in 0..<60 {
            let ctas = 1 + rng.nextInt(below: 600)
            let op: TenantOp = i % 7 == 3
                ? .hostCopy(bytes: 1 << (16 + rng.nextInt(below: 8)), direction: .hostToDevice, memory: .pinned)
                : .kernel(KernelWork(ctas: ctas, ctasPerSM: 1 + rng.nextInt(below: 4), isolatedSeconds: 1e-4 * Double(1 + rng.nextInt(below: 30)),
                                     dramBytes: Double(rng.nextInt(below: 1 << 28))))
            items.append(.init(at: .us(Double(rng.nextInt(below: 20_000))), stream: rng.nextInt(below: 3), op: op))
        }
        let lc = ScriptTenant("lc", priority: .latencyCritical, streams: 3, items: items)
        let be1 = ScriptTenant("be1", streams: 3, items: items.map { var x = $0; x.at = x.at + .us(37); return x })
        let be2 = ScriptTenant("be2", repeating: fullKernel(3), count: 30)
        return [lc, be1, be2]
    }

    /// SM capacity is never exceeded and the fluid solution stays feasible and max-min fair,
    /// under every policy (checked after every event); every tenant finishes.
    func testSMCapacityNeverExceededUnderAnyPolicy() throws {
        let tenants = mixedTenants()
        let layout = try MIGLayout(spec: a100, profiles: ["3g.40gb", "2g.20gb", "2g.20gb"])
        let policies: [PolicyChoice] = [
            .exclusive(ExclusivePolicy()), .timeslice(TimeslicePolicy(quantum: .ms(2), switchCost: .us(50))),
            .streams(StreamsPolicy()), .mps(MPSPolicy(activeThreadPercentage: ["lc": 30, "be2": 50])),
            .mig(MIGPolicy(layout: layout, assignment: ["lc": 0, "be1": 1, "be2": 2])),
            .priority(PriorityPolicy(preemptionCost: .us(40))),
            .dynamic(DynamicPolicy(period: .ms(1), minSMs: 4, slackTarget: 0.2, preemptionCost: .us(30))),
        ]
        for p in policies {
            let out = try p.run(spec: a100, tenants: TenantArray(tenants), memory: .fixed,
                                options: EngineOptions(checkInvariants: true))
            XCTAssertNil(out.invariantViolation, p.name)
            XCTAssertLessThanOrEqual(out.peakHeldSMs, a100.smCount, p.name)
            XCTAssertGreaterThan(out.peakHeldSMs, 0, p.name)
            for t in ["lc", "be1", "be2"] { XCTAssertEqual(out.metric(t, "finished"), 1, "\(p.name): \(t)") }
            XCTAssertLessThanOrEqual(out.metric("gpu", "sm_utilisation")!, 1, p.name)
            XCTAssertEqual(out.metric("lc", "kernels")! + out.metric("be1", "kernels")! + out.metric("be2", "kernels")!,
                           Double(tenants[0].items.count + tenants[1].items.count - 2 * 9 + 30), p.name)
        }
    }

    /// With admission, a tenant whose footprint does not fit next to a running one waits until it
    /// finishes: 50 GiB + 50 GiB on an 80 GB A100.
    func testAdmissionWaitsUntilTheFootprintFits() throws {
        let a = ScriptTenant("a", footprintGiB: 50, repeating: fullKernel(10), count: 1)
        let b = ScriptTenant("b", footprintGiB: 50, repeating: fullKernel(10), count: 1)
        let out = try runScripts([a, b], StreamsPolicy(), memory: .admission)
        XCTAssertEqual(out.metric("b", "admission_wait_s")!, 0.010, accuracy: 1e-9)
        XCTAssertEqual(Double(out.done("b", 0)), 20 * ms, accuracy: 2)
        // Small footprints are admitted together and run at once.
        let c = ScriptTenant("c", footprintGiB: 10, repeating: fullKernel(10), count: 1)
        let both = try runScripts([a, c], StreamsPolicy(), memory: .admission)
        XCTAssertEqual(both.metric("c", "admission_wait_s"), 0)
    }

    /// A footprint larger than the GPU is an error under fixed and admission memory, and runs
    /// (paging) under unified memory: 60 + 60 GiB on 79.3 GiB. Each kernel touches 10% of its
    /// tenant's footprint; the part not resident (the overflow, 40.7 GiB, spread by eviction)
    /// migrates over PCIe before the kernel starts, so the run takes longer than without paging.
    func testUnifiedMemoryOversubscriptionPagesOverPCIe() throws {
        let huge = ScriptTenant("huge", footprintGiB: 100, repeating: fullKernel(1), count: 1)
        XCTAssertThrowsError(try runScripts([huge], StreamsPolicy(), memory: .admission)) { e in
            XCTAssertTrue("\(e)".contains("could never run"), "\(e)")
        }
        let a = ScriptTenant("a", footprintGiB: 60, repeating: fullKernel(1), count: 20)
        let b = ScriptTenant("b", footprintGiB: 60, repeating: fullKernel(1), count: 20)
        XCTAssertThrowsError(try runScripts([a, b], StreamsPolicy(), memory: .fixed))
        let um = try runScripts([a, b], StreamsPolicy(), memory: .unified(UnifiedMemoryModel(touchFraction: 0.1)))
        XCTAssertNil(um.invariantViolation)
        XCTAssertGreaterThan(um.metric("gpu", "um_fault_bytes")!, 0)
        XCTAssertGreaterThan(um.metric("gpu", "bytes_h2d")!, 0)
        XCTAssertGreaterThan(um.metric("gpu", "bytes_d2h")!, 0)
        let fits = try runScripts([ScriptTenant("a", footprintGiB: 30, repeating: fullKernel(1), count: 20),
                                   ScriptTenant("b", footprintGiB: 30, repeating: fullKernel(1), count: 20)], StreamsPolicy())
        XCTAssertEqual(fits.metric("gpu", "makespan_s")!, 0.040, accuracy: 1e-9)
        XCTAssertGreaterThan(um.metric("gpu", "makespan_s")!, 0.040)
        // b starts with 79.3 − 60 = 19.3 GiB resident: its first kernel faults 10% · 60 · (40.7/60) GiB.
        let gib = Double(1 << 30)
        let firstFault = (0.1 * 60 * gib * (60 * gib - (Double(a100.memory.allocatableBytes) - 60 * gib)) / (60 * gib)).rounded(.up)
        XCTAssertGreaterThanOrEqual(um.metric("b", "um_fault_bytes")!, firstFault)
    }

    /// Same inputs and seed, same results, to the last bit.
    func testRunsAreDeterministic() throws {
        let layout = try MIGLayout(spec: a100, profiles: ["3g.40gb", "2g.20gb", "2g.20gb"])
        for p: PolicyChoice in [.dynamic(DynamicPolicy(period: .ms(1), minSMs: 4, slackTarget: 0.2, preemptionCost: .us(30))),
                                .mig(MIGPolicy(layout: layout, assignment: ["lc": 0, "be1": 1, "be2": 2]))] {
            let a = try p.run(spec: a100, tenants: TenantArray(mixedTenants()), memory: .fixed, options: EngineOptions())
            let b = try p.run(spec: a100, tenants: TenantArray(mixedTenants()), memory: .fixed, options: EngineOptions())
            XCTAssertEqual(a.metrics, b.metrics)
            XCTAssertEqual(a.events, b.events)
        }
    }

    /// Two tenant kinds composed without existentials: a TenantSetPair of two arrays behaves as
    /// the same tenants in one array.
    func testTenantSetPairComposesTenantSets() throws {
        let t = mixedTenants()
        let one = try SharingEngine.run(spec: a100, tenants: TenantArray(t), policy: StreamsPolicy(), memory: .fixed)
        let pair = try SharingEngine.run(spec: a100, tenants: TenantSetPair(TenantArray(Array(t[0..<1])), TenantArray(Array(t[1...]))),
                                         policy: StreamsPolicy(), memory: .fixed)
        XCTAssertEqual(one.metrics, pair.metrics)
    }
}
