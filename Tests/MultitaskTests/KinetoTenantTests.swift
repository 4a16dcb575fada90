import Hardware
import SimCore
import Tenancy
import XCTest
@testable import Multitask

/// Training and replay tenants driven by a real Kineto trace (the small A100 AlexNet run).
final class KinetoTenantTests: XCTestCase {
    let path = repositoryRoot + "/Traces/kineto/a100-alexnet.json.gz"

    func tenant(_ program: KinetoProgram, iterations: Int, keepGaps: Bool, infer: Bool) -> KinetoTenant {
        KinetoTenant(descriptor: TenantDescriptor(name: "job", kind: "training", memoryFootprintBytes: 1 << 30,
                                                  priority: .bestEffort, streams: program.streamOps.count),
                     program: program, iterations: iterations, keepGaps: keepGaps, inferDependencies: infer)
    }

    /// A replayed trace alone on its GPU ends when `gpusim trace replay` says its last operation
    /// ends: both release queued operations after their predecessor and anchored ones at their
    /// recorded offset.
    func testReplayTenantAloneMatchesTraceReplay() throws {
        let spec = try catalog.spec(named: "A100-SXM4-40GB")
        let replay = try KinetoReplay(spec: spec).replay(path: path)
        let lastEnd = (replay.simulatedKernelIntervals.map(\.end) + replay.simulatedCopyIntervals.map(\.end)).max()!
        let program = try KinetoProgram(path: path, display: "alexnet", spec: spec, device: nil)
        let out = try SharingEngine.run(spec: spec, tenants: TenantArray([tenant(program, iterations: 1, keepGaps: true, infer: false)]),
                                        policy: StreamsPolicy(), memory: .fixed)
        XCTAssertEqual(out.metric("job", "kernels"), Double(replay.kernels))
        XCTAssertEqual(Double(out.end.nanoseconds), Double(lastEnd), accuracy: 1000)
    }

    /// A training job loops the trace: N iterations back to back, each the same length when it
    /// runs alone; with host gaps dropped an iteration is shorter than the recording (12.8 s
    /// span, 10.6 ms busy) but no shorter than the busiest stream's kernels run one after another.
    func testTrainingLoopsTheTraceForNIterations() throws {
        let program = try KinetoProgram(path: path, display: "alexnet", spec: a100, device: nil)
        let out = try SharingEngine.run(spec: a100, tenants: TenantArray([tenant(program, iterations: 3, keepGaps: false, infer: true)]),
                                        policy: ExclusivePolicy(), memory: .fixed)
        XCTAssertEqual(out.metric("job", "iterations"), 3)
        let mean = out.metric("job", "iteration_mean_s")!
        XCTAssertEqual(out.end.seconds, 3 * mean, accuracy: 1e-9)
        var busiest = 0.0
        for list in program.streamOps {
            var s = 0.0
            for i in list { if case .kernel(let k) = program.ops[Int(i)] { s += k.isolatedSeconds } }
            busiest = max(busiest, s)
        }
        XCTAssertGreaterThanOrEqual(mean, busiest)
        XCTAssertLessThan(mean, program.recordedSpanSeconds / 10)
        XCTAssertEqual(out.metric("job", "kernels"), Double(3 * program.kernels))
        // Keeping the recorded pace, an iteration lasts at least the recorded span.
        let paced = try SharingEngine.run(spec: a100, tenants: TenantArray([tenant(program, iterations: 2, keepGaps: true, infer: true)]),
                                          policy: ExclusivePolicy(), memory: .fixed)
        XCTAssertGreaterThanOrEqual(paced.metric("job", "iteration_mean_s")!, program.recordedSpanSeconds * 0.999)
    }

    /// Inferred dependencies: an anchored operation waits for everything that ended before it
    /// started in the recording, so a lone iteration never starts an operation earlier than an
    /// operation it must follow has finished.
    func testInferredDependenciesArePrefixesOfEndOrder() throws {
        let program = try KinetoProgram(path: path, display: "alexnet", spec: a100, device: nil)
        // needPrefix is non-decreasing in recorded start among anchored operations.
        XCTAssertEqual(program.endOrder.count, program.ops.count)
        XCTAssertEqual(Set(program.endOrder).count, program.ops.count)
        for list in program.streamOps {
            XCTAssertFalse(program.queued[Int(list[0])], "a stream's first operation is anchored")
        }
        XCTAssertTrue(program.needPrefix.allSatisfy { $0 >= 0 && Int($0) <= program.ops.count })
    }
}
