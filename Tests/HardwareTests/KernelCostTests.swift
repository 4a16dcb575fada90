import XCTest
import SimCore
@testable import Hardware

/// Hand-computed answers for the kernel and copy cost model (DESIGN.md §4).
final class KernelCostTests: XCTestCase {
    static let catalog: GPUCatalog = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try! GPUCatalog(directory: root.appendingPathComponent("Traces/hardware"))
    }()
    var a100: GPUSpec { try! Self.catalog.spec(named: "A100-SXM4-80GB") }
    var h100: GPUSpec { try! Self.catalog.spec(named: "H100-SXM5-80GB") }

    /// Runs the given kernels from time zero on one fluid system and returns their finish times.
    private func finishTimes(_ gpu: inout GPUModel, _ fluid: inout FluidSystem,
                             _ kernels: [(KernelWork, Int)]) -> [SimTime] {
        var ids: [FlowID] = []
        for (i, (k, p)) in kernels.enumerated() {
            ids.append(gpu.startKernel(k, partition: p, fluid: &fluid, at: .zero, tag: UInt64(i)))
        }
        fluid.solve(at: .zero)
        XCTAssertNil(fluid.checkInvariants())
        var done = [SimTime](repeating: .zero, count: kernels.count)
        while let t = fluid.nextCompletion {
            fluid.completeFlows(at: t) { _, tag in done[Int(tag)] = t }
            fluid.solve(at: t)
        }
        return done
    }

    func testTwiceTheSMsOfCTAsTakesTwoWavesAndHalfTheSMsDoublesTime() {
        let spec = a100
        let S = spec.smCount
        XCTAssertEqual(KernelCostModel.waves(ctas: 2 * S, ctasPerSM: 1, sms: S), 2)
        XCTAssertEqual(KernelCostModel.waves(ctas: 2 * S, ctasPerSM: 1, sms: S / 2), 4)
        let k = KernelWork(ctas: 2 * S, ctasPerSM: 1, isolatedSeconds: 1e-3)
        var fluid = FluidSystem()
        var gpu = GPUModel(spec: spec, fluid: &fluid)
        let half = gpu.addPartition(name: "half", sms: S / 2, fluid: &fluid)
        let full = finishTimes(&gpu, &fluid, [(k, 0)])
        XCTAssertEqual(full[0], .ms(1), "alone on the whole GPU it takes its isolated time")
        let halved = finishTimes(&gpu, &fluid, [(k, half)])
        XCTAssertEqual(halved[0], .ms(2), "half the SMs: four waves instead of two")
    }

    func testSmallKernelGainsNothingPast24SMs() {
        let spec = h100
        XCTAssertEqual(spec.smCount, 132)
        let k = KernelWork(ctas: 24, ctasPerSM: 1, isolatedSeconds: 50e-6)
        var fluid = FluidSystem()
        var gpu = GPUModel(spec: spec, fluid: &fluid)
        let p24 = gpu.addPartition(name: "24", sms: 24, fluid: &fluid)
        let p12 = gpu.addPartition(name: "12", sms: 12, fluid: &fluid)
        let t = finishTimes(&gpu, &fluid, [(k, 0), (k, p24), (k, p12)])
        XCTAssertEqual(t[0], .us(50))
        XCTAssertEqual(t[1], .us(50), "24 SMs are as good as 132 for 24 CTAs")
        XCTAssertEqual(t[2], .us(100), "12 SMs need two waves")
    }

    func testTwoMemoryBoundKernelsEachGetHalfTheBandwidth() {
        let spec = a100
        let B = spec.memory.bandwidthBytesPerSecond
        // Few CTAs, so SM time is not what binds; each moves T·B bytes: memory-bound alone.
        let k = KernelWork(ctas: 8, ctasPerSM: 1, isolatedSeconds: 1e-3, dramBytes: 1e-3 * B)
        var fluid = FluidSystem()
        var gpu = GPUModel(spec: spec, fluid: &fluid)
        let a = gpu.startKernel(k, fluid: &fluid, at: .zero, tag: 0)
        let b = gpu.startKernel(k, fluid: &fluid, at: .zero, tag: 1)
        fluid.solve(at: .zero)
        XCTAssertEqual(fluid.rate(of: a) * k.dramBytes, B / 2, accuracy: B * 1e-9)
        XCTAssertEqual(fluid.rate(of: b) * k.dramBytes, B / 2, accuracy: B * 1e-9)
        XCTAssertEqual(fluid.usage(of: gpu.hbm), B, accuracy: B * 1e-9)
        XCTAssertEqual(fluid.finishTime(of: a), .ms(2))
    }

    func testTwoKernelsFillingEverySMTakeTwiceTheirIsolatedTime() {
        let spec = a100
        let k = KernelWork(ctas: spec.smCount * 4, ctasPerSM: 4, isolatedSeconds: 2e-3)
        var fluid = FluidSystem()
        var gpu = GPUModel(spec: spec, fluid: &fluid)
        let t = finishTimes(&gpu, &fluid, [(k, 0), (k, 0)])
        XCTAssertEqual(t, [.ms(4), .ms(4)])
    }

    /// Co-running kernels split SM time equally (not kernel-completion rate): a 1 ms and a 10 ms
    /// kernel that each fill every SM run at half speed until the short one ends at 2 ms, having
    /// done 1 ms of the long one's work; the long one then finishes its other 9 ms alone at 11 ms.
    func testCoRunningKernelsShareSMTimeEqually() {
        let spec = a100
        let short = KernelWork(ctas: spec.smCount, ctasPerSM: 1, isolatedSeconds: 1e-3)
        let long = KernelWork(ctas: spec.smCount, ctasPerSM: 1, isolatedSeconds: 10e-3)
        var fluid = FluidSystem()
        var gpu = GPUModel(spec: spec, fluid: &fluid)
        let t = finishTimes(&gpu, &fluid, [(short, 0), (long, 0)])
        XCTAssertEqual(t[0].nanoseconds, 2_000_000, accuracy: 2)
        XCTAssertEqual(t[1].nanoseconds, 11_000_000, accuracy: 2)
    }

    /// A 24-CTA kernel next to one that fills all 132 SMs of an H100 keeps its 24 SMs (it needs no
    /// more than that); the big one gets the other 108 while the small one runs.
    func testSmallKernelKeepsItsSMsNextToABigOne() {
        let spec = h100
        let small = KernelWork(ctas: 24, ctasPerSM: 1, isolatedSeconds: 1e-3)
        let big = KernelWork(ctas: 132, ctasPerSM: 1, isolatedSeconds: 2e-3)
        var fluid = FluidSystem()
        let gpu = GPUModel(spec: spec, fluid: &fluid)
        let s = gpu.startKernel(small, fluid: &fluid, at: .zero, tag: 0)
        let b = gpu.startKernel(big, fluid: &fluid, at: .zero, tag: 1)
        fluid.solve(at: .zero)
        XCTAssertEqual(fluid.rate(of: s), 1e3, accuracy: 1e-6)                 // full speed
        XCTAssertEqual(fluid.rate(of: b), 108.0 / 132.0 / 2e-3, accuracy: 1e-6) // 108 of 132 SMs
        XCTAssertEqual(fluid.usage(of: gpu.partitions[0].smTime), 132, accuracy: 1e-9)
    }

    func testLaunchOrderDispatchAllocation() {
        XCTAssertEqual(SMDispatch.allocate(needs: [132, 132], sms: 132), [132, 0])
        XCTAssertEqual(SMDispatch.allocate(needs: [24, 132, 50], sms: 132), [24, 108, 0])
        XCTAssertEqual(SMDispatch.allocate(needs: [24, 24], sms: 132), [24, 24])
        XCTAssertEqual(SMDispatch.allocate(needs: [132, 132], limits: [66, 66], sms: 132), [66, 66])
    }

    /// The H100 co-run measurement (two kernels that each fill every SM, started together): the
    /// first runs as if alone, the second waits for its SMs. Under launch-order dispatch the first
    /// ends at T₁ and the second at T₁ + T₂.
    func testCoRunOfTwoFullKernelsIsFIFO() {
        let spec = h100
        let a = KernelWork(ctas: 132 * 8, ctasPerSM: 8, isolatedSeconds: 1.11e-3)
        let b = KernelWork(ctas: 132 * 8, ctasPerSM: 8, isolatedSeconds: 1.48e-3)
        var fluid = FluidSystem()
        let gpu = GPUModel(spec: spec, fluid: &fluid)
        let needs = [a, b].map { KernelCostModel.usefulSMs(ctas: $0.ctas, ctasPerSM: $0.ctasPerSM, sms: spec.smCount) }
        var held = SMDispatch.allocate(needs: needs, sms: spec.smCount)
        XCTAssertEqual(held, [132, 0])
        let fa = gpu.kernelFlow(a, holding: held[0])
        let first = fluid.startFlow(work: 1, cap: fa.cap, uses: fa.uses, at: .zero)
        fluid.solve(at: .zero)
        let t1 = fluid.finishTime(of: first)
        XCTAssertEqual(t1.nanoseconds, 1_110_000, accuracy: 1)
        fluid.completeFlows(at: t1) { _, _ in }
        held = SMDispatch.allocate(needs: [needs[1]], sms: spec.smCount)
        let fb = gpu.kernelFlow(b, holding: held[0])
        let second = fluid.startFlow(work: 1, cap: fb.cap, uses: fb.uses, at: t1)
        fluid.solve(at: t1)
        XCTAssertEqual(fluid.finishTime(of: second).nanoseconds, 2_590_000, accuracy: 2)
    }

    /// A kernel holding fewer SMs than it can fill runs at its wave-quantised rate on them.
    func testKernelHoldingPartOfItsSMs() {
        let spec = a100
        let k = KernelWork(ctas: 216, ctasPerSM: 1, isolatedSeconds: 1e-3)   // 2 waves on 108 SMs
        var fluid = FluidSystem()
        let gpu = GPUModel(spec: spec, fluid: &fluid)
        XCTAssertEqual(gpu.kernelFlow(k, holding: 108).cap, 1e3, accuracy: 1e-9)
        XCTAssertEqual(gpu.kernelFlow(k, holding: 54).cap, 500, accuracy: 1e-9)          // 4 waves
        XCTAssertEqual(gpu.kernelFlow(k, holding: 100).cap, 1e3 * 2 / 3, accuracy: 1e-9) // 3 waves
    }

    func testRooflineAloneOnAPartition() {
        // Memory-bound kernel in a MIG-like partition with 3/8 of the bandwidth: time T / (3/8).
        let spec = a100
        let B = spec.memory.bandwidthBytesPerSecond
        let k = KernelWork(ctas: 4, ctasPerSM: 1, isolatedSeconds: 3e-3, dramBytes: 3e-3 * B)
        var fluid = FluidSystem()
        var gpu = GPUModel(spec: spec, fluid: &fluid)
        let mig = gpu.addPartition(name: "3g", sms: 42, isolatedHBMFraction: 3.0 / 8, fluid: &fluid)
        let t = finishTimes(&gpu, &fluid, [(k, mig)])
        XCTAssertEqual(t[0].nanoseconds, 8_000_000, accuracy: 1)
        XCTAssertEqual(KernelCostModel.isolatedSeconds(k, sms: 42, bandwidth: B * 3 / 8, fullSMs: spec.smCount,
                                                       fullBandwidth: B), 8e-3, accuracy: 1e-12)
    }

    func testHostToDeviceCopyFollowsTheCurve() {
        let spec = h100
        var fluid = FluidSystem()
        let gpu = GPUModel(spec: spec, fluid: &fluid)
        for bytes in [4 << 10, 64 << 10, 1 << 20, 16 << 20, 256 << 20, 1 << 30] {
            for memory in HostMemory.allCases {
                let c = gpu.copyFlow(bytes: bytes, direction: .hostToDevice, hostMemory: memory)
                let f = fluid.startFlow(work: Double(bytes), cap: c.cap, uses: c.uses, at: c.latency, tag: 0)
                fluid.solve(at: c.latency)
                let simulated = fluid.finishTime(of: f)
                let expected = spec.pcie.curve(.hostToDevice, memory).seconds(bytes: bytes)
                XCTAssertEqual(simulated.seconds, expected, accuracy: 2e-9, "\(bytes) B \(memory)")
                fluid.removeFlow(f, at: simulated)
                fluid.solve(at: simulated)
            }
        }
    }

    func testCopiesInOneDirectionShareTheLink() {
        let spec = a100
        var fluid = FluidSystem()
        let gpu = GPUModel(spec: spec, fluid: &fluid)
        let bytes = 1 << 30
        let c = gpu.copyFlow(bytes: bytes, direction: .hostToDevice, hostMemory: .pinned)
        let a = fluid.startFlow(work: Double(bytes), cap: c.cap, uses: c.uses, at: .zero)
        let b = fluid.startFlow(work: Double(bytes), cap: c.cap, uses: c.uses, at: .zero)
        let d = gpu.copyFlow(bytes: bytes, direction: .deviceToHost, hostMemory: .pinned)
        let back = fluid.startFlow(work: Double(bytes), cap: d.cap, uses: d.uses, at: .zero)
        fluid.solve(at: .zero)
        let link = fluid.capacity(of: gpu.hostToDevice)
        XCTAssertEqual(fluid.rate(of: a) + fluid.rate(of: b), min(link, 2 * c.cap), accuracy: link * 1e-9)
        XCTAssertEqual(fluid.rate(of: back), min(d.cap, fluid.capacity(of: gpu.deviceToHost)), accuracy: 1,
                       "the other direction is a separate resource")
    }

    func testOccupancyByHand() throws {
        let spec = a100
        let sm = spec.perSM
        // The hand computations below use the A100 (compute capability 8.0) per-SM limits:
        XCTAssertEqual(sm.maxWarps, 64); XCTAssertEqual(sm.maxCTAs, 32); XCTAssertEqual(sm.registers, 65536)
        XCTAssertEqual(sm.registerAllocationUnit, 256); XCTAssertEqual(sm.warpAllocationGranularity, 4)
        XCTAssertEqual(sm.sharedMemoryBytes, 167_936); XCTAssertEqual(sm.sharedMemoryAllocationUnitBytes, 128)
        XCTAssertEqual(sm.reservedSharedMemoryPerCTABytes, 1024)
        // 256 threads = 8 warps → 64/8 = 8 CTAs; 32 regs → 1024 regs/warp → 64 warps → 8 CTAs.
        var r = try Occupancy.ctasPerSM(KernelLaunch(ctas: 1000, threadsPerCTA: 256, registersPerThread: 32, sharedMemoryPerCTABytes: 0), on: spec)
        XCTAssertEqual(r.ctasPerSM, 8); XCTAssertEqual(r.theoreticalOccupancy, 1)
        // 128 threads = 4 warps, 128 regs → 4096 regs/warp → 16 warps → 4 CTAs, occupancy 16/64.
        r = try Occupancy.ctasPerSM(KernelLaunch(ctas: 1000, threadsPerCTA: 128, registersPerThread: 128, sharedMemoryPerCTABytes: 0), on: spec)
        XCTAssertEqual(r.ctasPerSM, 4); XCTAssertEqual(r.limiter, .registers); XCTAssertEqual(r.theoreticalOccupancy, 0.25)
        // 48 KiB + 1 KiB reserved = 50176 B per CTA → ⌊167936 / 50176⌋ = 3 CTAs.
        r = try Occupancy.ctasPerSM(KernelLaunch(ctas: 1000, threadsPerCTA: 64, registersPerThread: 16, sharedMemoryPerCTABytes: 49_152), on: spec)
        XCTAssertEqual(r.ctasPerSM, 3); XCTAssertEqual(r.limiter, .sharedMemory)
        // 32-thread CTAs: the 32 CTA slots bind.
        r = try Occupancy.ctasPerSM(KernelLaunch(ctas: 1000, threadsPerCTA: 32, registersPerThread: 16, sharedMemoryPerCTABytes: 0), on: spec)
        XCTAssertEqual(r.ctasPerSM, 32); XCTAssertEqual(r.limiter, .ctaSlots)
        // Impossible launches are errors, not crashes.
        XCTAssertThrowsError(try Occupancy.ctasPerSM(KernelLaunch(ctas: 1, threadsPerCTA: 2048, registersPerThread: 16, sharedMemoryPerCTABytes: 0), on: spec))
        XCTAssertThrowsError(try Occupancy.ctasPerSM(KernelLaunch(ctas: 1, threadsPerCTA: 128, registersPerThread: 300, sharedMemoryPerCTABytes: 0), on: spec))
        XCTAssertThrowsError(try Occupancy.ctasPerSM(KernelLaunch(ctas: 0, threadsPerCTA: 128, registersPerThread: 16, sharedMemoryPerCTABytes: 0), on: spec))
    }
}
