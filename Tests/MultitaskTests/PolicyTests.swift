import Hardware
import SimCore
import Tenancy
import XCTest
@testable import Multitask

/// The sharing policies against answers computed by hand.
final class PolicyTests: XCTestCase {
    let ms = 1_000_000.0   // ns

    /// Two compute-bound tenants, one 95 ms kernel each, quantum 10 ms, switch 0.1 ms. A runs
    /// [0, 10], B [10.1, 20.1], A [20.2, 30.2], ...: the k-th turn of each starts (k−1)·20.2 ms
    /// after its first, so each progresses at 10 / 20.2 = ½ · q/(q+c). A's 10th turn starts at
    /// 9·20.2 = 181.8 ms and needs 5 ms: done at 186.8. A yields, the switch costs 0.1 ms, B's
    /// last 5 ms end at 191.9. Switches: between 20 turns, 19 (loading the first context is free).
    func testTimesliceTwoComputeBoundTenantsEachProgressAtHalfLessSwitchOverhead() throws {
        let a = ScriptTenant("a", repeating: fullKernel(95), count: 1)
        let b = ScriptTenant("b", repeating: fullKernel(95), count: 1)
        let out = try runScripts([a, b], TimeslicePolicy(quantum: .ms(10), switchCost: .us(100)))
        XCTAssertNil(out.invariantViolation)
        XCTAssertEqual(Double(out.done("a", 0)), 186.8 * ms, accuracy: 10)
        XCTAssertEqual(Double(out.done("b", 0)), 191.9 * ms, accuracy: 10)
        XCTAssertEqual(out.metric("gpu", "context_switches"), 19)
        XCTAssertEqual(out.metric("a", "pauses"), 9)
        XCTAssertEqual(out.metric("b", "pauses"), 9)
        // Progress rate over the first 181.8 ms: 90 ms of work each.
        XCTAssertEqual(90 / 181.8, 0.5 * 10 / 10.1, accuracy: 1e-12)
    }

    /// An idle context yields at once: B arrives at 3 ms while A waits for nothing; A's kernel is
    /// 2 ms, so the GPU is idle from 2 ms; B's 4 ms kernel starts after one switch (0.1 ms).
    func testTimesliceIdleContextYields() throws {
        let a = ScriptTenant("a", repeating: fullKernel(2), count: 1)
        let b = ScriptTenant("b", repeating: fullKernel(4), count: 1, at: .ms(3))
        let out = try runScripts([a, b], TimeslicePolicy(quantum: .ms(30), switchCost: .us(100)))
        XCTAssertEqual(Double(out.done("a", 0)), 2 * ms, accuracy: 2)
        XCTAssertEqual(Double(out.done("b", 0)), 7.1 * ms, accuracy: 2)
        XCTAssertEqual(out.metric("gpu", "context_switches"), 1)
    }

    /// Two kernels that each fill every SM, started together under MPS: SMs go in launch order,
    /// so the first runs alone (10 ms) and the second gets the SMs when it ends (20 ms) — the
    /// pair takes twice the isolated time. With 50% active-thread caps each holds 54 of 108 SMs,
    /// two waves instead of one: both end at 20 ms.
    func testMPSTwoFullGPUKernelsTakeTwiceTheirIsolatedTimeTogether() throws {
        let a = ScriptTenant("a", repeating: fullKernel(10), count: 1)
        let b = ScriptTenant("b", repeating: fullKernel(10), count: 1)
        let out = try runScripts([a, b], MPSPolicy())
        XCTAssertEqual(Double(out.done("a", 0)), 10 * ms, accuracy: 2)
        XCTAssertEqual(Double(out.done("b", 0)), 20 * ms, accuracy: 2)
        XCTAssertEqual(Double(max(out.done("a", 0), out.done("b", 0))), 2 * 10 * ms, accuracy: 2)

        let capped = try runScripts([a, b], MPSPolicy(activeThreadPercentage: ["a": 50, "b": 50]))
        XCTAssertEqual(MPSPolicy.smLimit(percentage: 50, sms: 108), 54)
        XCTAssertEqual(Double(capped.done("a", 0)), 20 * ms, accuracy: 2)
        XCTAssertEqual(Double(capped.done("b", 0)), 20 * ms, accuracy: 2)
        XCTAssertEqual(capped.peakHeldSMs, 108)
        XCTAssertEqual(capped.metric("a", "blast_radius"), 2)
    }

    /// A probe in MIG instance 1 (3g.40gb: 42 SMs, 4 of 8 memory slices) runs 1 ms kernels of 432
    /// CTAs, 2 per SM: 2 waves on 108 SMs, 6 on 42, so 3 ms each; 1 GB of DRAM traffic takes
    /// 1e9 / (2.039e12 · 4/8) = 0.98 ms, less. A noisy neighbour in instance 0 (heavy kernels,
    /// heavy DRAM) changes nothing. The same neighbour under `streams` does slow the probe.
    func testMIGNoisyNeighbourInAnotherInstanceDoesNotChangeLatency() throws {
        let probeOp = TenantOp.kernel(KernelWork(ctas: 432, ctasPerSM: 2, isolatedSeconds: 1e-3, dramBytes: 1e9))
        let probeItems = (0..<20).map { ScriptTenant.Item(at: .ms(Double($0) * 5), stream: 0, op: probeOp) }
        let probe = ScriptTenant("probe", items: probeItems)
        let quiet = ScriptTenant("noisy", repeating: fullKernel(1), count: 1, at: .s(10))
        let noisy = ScriptTenant("noisy", repeating: fullKernel(7, dramBytes: 1.4e10), count: 40)
        let layout = try MIGLayout(spec: a100, profiles: ["4g.40gb", "3g.40gb"])
        let policy = MIGPolicy(layout: layout, assignment: ["noisy": 0, "probe": 1])
        let alone = try runScripts([probe, quiet], policy)
        let crowded = try runScripts([probe, noisy], policy)
        for i in 0..<20 {
            XCTAssertEqual(Double(alone.latency("probe", i)), 3 * ms, accuracy: 2, "probe kernel \(i) alone")
            XCTAssertEqual(crowded.latency("probe", i), alone.latency("probe", i), "probe kernel \(i) next to a noisy neighbour")
        }
        XCTAssertNil(crowded.invariantViolation)
        // Without isolation the neighbour does slow it (so the comparison above can fail).
        let shared = try runScripts([probe, noisy], StreamsPolicy())
        XCTAssertGreaterThan((0..<20).map { shared.latency("probe", $0) }.max()!, 3_000_000)
    }

    /// A latency-critical tenant (2 ms kernels every 10 ms from 1 ms) next to a best-effort one
    /// that keeps every SM busy with 5 ms kernels. Each latency-critical kernel finds the SMs
    /// held, resets the best-effort kernel and starts after the 0.1 ms preemption cost: latency
    /// 2.1 ms = isolated 2 ms + one preemption cost. Under plain streams it would wait for the
    /// running 5 ms kernel to end.
    func testPriorityLatencyCriticalStaysWithinIsolatedPlusPreemptionCost() throws {
        let lcItems = (0..<10).map { ScriptTenant.Item(at: .ms(1 + Double($0) * 10), stream: 0, op: fullKernel(2)) }
        let lc = ScriptTenant("lc", priority: .latencyCritical, items: lcItems)
        let be = ScriptTenant("be", repeating: fullKernel(5), count: 40)
        let out = try runScripts([lc, be], PriorityPolicy(preemptionCost: .us(100)))
        XCTAssertNil(out.invariantViolation)
        for i in 0..<10 {
            XCTAssertLessThanOrEqual(Double(out.latency("lc", i)), 2 * ms + 0.1 * ms + 2, "kernel \(i)")
        }
        XCTAssertEqual(Double(out.latency("lc", 0)), 2.1 * ms, accuracy: 2)
        XCTAssertGreaterThan(out.metric("be", "preemptions")!, 0)
        XCTAssertEqual(out.metric("be", "finished"), 1)
        XCTAssertGreaterThan(out.metric("be", "lost_kernel_seconds")!, 0)
        let plain = try runScripts([lc, be], StreamsPolicy())
        XCTAssertGreaterThan((0..<10).map { plain.latency("lc", $0) }.max()!, 2_100_002)
    }

    /// Best effort back-fills what latency-critical kernels leave idle: a 30-SM latency-critical
    /// kernel and best-effort 60-SM kernels run side by side, no preemption.
    func testPriorityBestEffortBackfillsIdleSMs() throws {
        let small = TenantOp.kernel(KernelWork(ctas: 30, ctasPerSM: 1, isolatedSeconds: 4e-3))
        let lc = ScriptTenant("lc", priority: .latencyCritical, repeating: small, count: 1, at: .ms(1))
        let be = ScriptTenant("be", repeating: .kernel(KernelWork(ctas: 60, ctasPerSM: 1, isolatedSeconds: 3e-3)), count: 2)
        let out = try runScripts([lc, be], PriorityPolicy(preemptionCost: .us(100)))
        XCTAssertEqual(out.metric("gpu", "preemptions"), 0)
        XCTAssertEqual(Double(out.latency("lc", 0)), 4 * ms, accuracy: 2)
        XCTAssertEqual(Double(out.done("be", 1)), 6 * ms, accuracy: 2)
        XCTAssertEqual(out.peakHeldSMs, 90)
    }

    /// Exclusive: the first tenant holds the GPU until it is done.
    func testExclusiveRunsTenantsOneAfterAnother() throws {
        let a = ScriptTenant("a", repeating: fullKernel(10), count: 2)
        let b = ScriptTenant("b", repeating: .kernel(KernelWork(ctas: 10, ctasPerSM: 1, isolatedSeconds: 1e-3)), count: 1)
        let out = try runScripts([a, b], ExclusivePolicy())
        XCTAssertEqual(Double(out.done("a", 1)), 20 * ms, accuracy: 2)
        XCTAssertEqual(Double(out.done("b", 0)), 21 * ms, accuracy: 2)
        XCTAssertEqual(out.metric("gpu", "makespan_s")!, 0.021, accuracy: 1e-9)
    }

    /// The dynamic manager gives a latency-critical tenant its demand. The probe's kernels (1,728
    /// CTAs, 2 per SM: 8 waves, 2 ms on 108 SMs) arrive every 10 ms from 20 ms, on period
    /// boundaries. Until then the probe is idle and keeps 1 SM; at 20 ms it has demand 108, so
    /// it gets 108 − 2 (the best-effort tenant keeps min_sms = 2): 9 waves, 2 · 9/8 = 2.25 ms. Its
    /// demand stays in the 4-period window between kernels, so every kernel gets 106 SMs. An
    /// equal split (54 SMs, 16 waves) would take 4 ms.
    func testDynamicGivesLatencyCriticalTenantItsDemand() throws {
        let probeOp = TenantOp.kernel(KernelWork(ctas: 1728, ctasPerSM: 2, isolatedSeconds: 2e-3))
        let lcItems = (0..<20).map { ScriptTenant.Item(at: .ms(20 + Double($0) * 10), stream: 0, op: probeOp) }
        let lc = ScriptTenant("lc", priority: .latencyCritical, items: lcItems)
        let be = ScriptTenant("be", repeating: fullKernel(5), count: 80)
        let policy = DynamicPolicy(period: .ms(5), minSMs: 2, slackTarget: 0.2, preemptionCost: .us(50))
        let out = try runScripts([lc, be], policy)
        XCTAssertNil(out.invariantViolation)
        XCTAssertLessThanOrEqual(out.peakHeldSMs, 108)
        XCTAssertEqual(out.metric("lc", "finished"), 1)
        XCTAssertEqual(out.metric("be", "finished"), 1)
        for i in 0..<20 {
            XCTAssertEqual(Double(out.latency("lc", i)), 2.25 * ms, accuracy: 2, "probe kernel \(i)")
        }
        XCTAssertGreaterThanOrEqual(out.metric("be", "preemptions")!, 1)
    }
}
