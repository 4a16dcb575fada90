import XCTest
import SimCore
@testable import Traces
@testable import Hardware

final class KinetoReplayTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let catalog: GPUCatalog = try! GPUCatalog(directory: root.appendingPathComponent("Traces/hardware"))

    private func kernel(_ ts: Int64, _ dur: Int64, stream: Int, corr: Int, ctas: Int = 108) -> KinetoKernel {
        KinetoKernel(name: "k\(corr)", tsNs: ts, durNs: dur, device: 0, stream: stream, correlation: corr,
                     grid: (ctas, 1, 1), block: (1024, 1, 1), registersPerThread: 32, sharedMemoryBytes: 0,
                     blocksPerSM: nil, estAchievedOccupancyPct: nil)
    }

    /// Kernels queued on one stream run back to back; a kernel that started long after its
    /// predecessor (waiting for something the trace does not show) keeps its recorded start.
    func testStreamOrderAndAnchoring() throws {
        let spec = try Self.catalog.spec(named: "A100-SXM4-80GB")
        let ks = [kernel(0, 100_000, stream: 7, corr: 1), kernel(100_000, 50_000, stream: 7, corr: 2),
                  kernel(300_000, 10_000, stream: 7, corr: 3)]
        var o = KinetoReplay.Options(); o.launchLatency = .ns(0)
        let r = try KinetoReplay(spec: spec, options: o).replay(kernels: ks, copies: [], launches: [1: 0, 2: 0, 3: 0])
        XCTAssertEqual(r.simulatedKernelIntervals.map(\.start), [0, 100_000, 300_000])
        XCTAssertEqual(r.simulatedKernelIntervals.map(\.end), [100_000, 150_000, 310_000])
        XCTAssertEqual(r.anchoredOperations, 2, "the first kernel and the one that waited are anchored")
        XCTAssertEqual(r.deflatedKernels, 0)
    }

    /// A queued kernel follows its predecessor's *simulated* end: a 256 MiB pinned host-to-device
    /// copy recorded as taking 1 ms takes the curve's time on the simulated GPU, and the kernel
    /// queued behind it starts when the simulated copy ends.
    func testQueuedKernelFollowsSimulatedCopy() throws {
        let spec = try Self.catalog.spec(named: "A100-SXM4-80GB")
        let bytes: Int64 = 256 << 20
        let copy = KinetoCopy(name: "Memcpy HtoD (Pinned -> Device)", kind: .htod, source: "Pinned", destination: "Device",
                              bytes: bytes, tsNs: 0, durNs: 1_000_000, device: 0, stream: 7, correlation: 1)
        let k = kernel(1_000_000, 100_000, stream: 7, corr: 2)
        var o = KinetoReplay.Options(); o.launchLatency = .ns(0)
        let r = try KinetoReplay(spec: spec, options: o).replay(kernels: [k], copies: [copy], launches: [1: 0, 2: 0])
        let copySeconds = spec.pcie.curve(.hostToDevice, .pinned).seconds(bytes: Int(bytes))
        XCTAssertEqual(Double(r.simulatedKernelIntervals[0].start), copySeconds * 1e9, accuracy: 2)
        XCTAssertEqual(r.simulatedKernelIntervals[0].end - r.simulatedKernelIntervals[0].start, 100_000)
    }

    /// Two full-GPU kernels that overlapped completely in the recording (both 2 ms, each slowed to
    /// half speed) are deflated to 1 ms each; replayed together they take the recorded 2 ms, not 4.
    func testOverlapIsNotCountedTwice() throws {
        let spec = try Self.catalog.spec(named: "A100-SXM4-80GB")
        // 1024 threads/CTA → 2 CTAs per SM on an A100 (64 warps / 32); 216 CTAs fill all 108 SMs.
        let ks = [kernel(0, 2_000_000, stream: 7, corr: 1, ctas: 216), kernel(0, 2_000_000, stream: 8, corr: 2, ctas: 216)]
        var o = KinetoReplay.Options(); o.launchLatency = .ns(0)
        let r = try KinetoReplay(spec: spec, options: o).replay(kernels: ks, copies: [], launches: [1: 0, 2: 0])
        XCTAssertEqual(r.deflatedKernels, 2)
        XCTAssertEqual(r.simulatedKernelIntervals.map(\.end), [2_000_000, 2_000_000])
        XCTAssertEqual(r.simulatedBusyMicroseconds, 2000, accuracy: 0.01)
    }

    /// A partial overlap: a kernel alone for 1 ms, then with another for 2 ms (both at half speed).
    /// Deflation: first kernel 1 + 1 = 2 ms isolated, second 1 ms. Replay reproduces the recording.
    func testPartialOverlapReplaysAsRecorded() throws {
        let spec = try Self.catalog.spec(named: "A100-SXM4-80GB")
        let ks = [kernel(0, 3_000_000, stream: 1, corr: 1, ctas: 216), kernel(1_000_000, 2_000_000, stream: 2, corr: 2, ctas: 216)]
        let (iso, changed) = KinetoReplay.deflate(ks, need: [108, 108], sms: 108)
        XCTAssertEqual(iso[0], 2_000_000, accuracy: 1)
        XCTAssertEqual(iso[1], 1_000_000, accuracy: 1)
        XCTAssertEqual(changed, 2)
        var o = KinetoReplay.Options(); o.launchLatency = .ns(0)
        let r = try KinetoReplay(spec: spec, options: o).replay(kernels: ks, copies: [], launches: [1: 0, 2: 1_000_000])
        XCTAssertEqual(r.simulatedKernelIntervals[0].end, 3_000_000)
        XCTAssertEqual(r.simulatedKernelIntervals[1].start, 1_000_000)
        XCTAssertEqual(r.simulatedKernelIntervals[1].end, 3_000_000)
    }

    func testUnionAndSpan() {
        XCTAssertEqual(KinetoReplay.unionLength([(0, 10), (5, 15), (20, 30)]), 25)
        XCTAssertEqual(KinetoReplay.span([(5, 10), (0, 3), (20, 30)]), 30)
        XCTAssertEqual(KinetoReplay.waterFill([10, 100, 100], capacity: 108), [10, 49, 49])
    }

    /// Fidelity on the real traces: busy time within 1% and span within 5% of the measurement.
    func testRealTracesReplayWithinTolerance() throws {
        let cases = [("a100-alexnet.json.gz", "A100-SXM4-80GB"),
                     ("a100-80gb-training-rank0.json.gz", "A100-SXM4-80GB"),
                     ("v100-training-rank0.json.gz", "V100-SXM2-32GB")]
        for (name, gpu) in cases {
            let path = Self.root.appendingPathComponent("Traces/kineto/\(name)").path
            let r = try KinetoReplay(spec: try Self.catalog.spec(named: gpu)).replay(path: path)
            let busyErr = abs(r.simulatedBusyMicroseconds - r.measuredBusyMicroseconds) / r.measuredBusyMicroseconds
            let spanErr = abs(r.simulatedSpanMicroseconds - r.measuredSpanMicroseconds) / r.measuredSpanMicroseconds
            XCTAssertLessThanOrEqual(busyErr, 0.01, "\(name): busy \(r.simulatedBusyMicroseconds) vs \(r.measuredBusyMicroseconds)")
            XCTAssertLessThanOrEqual(spanErr, 0.05, "\(name): span \(r.simulatedSpanMicroseconds) vs \(r.measuredSpanMicroseconds)")
            XCTAssertGreaterThan(r.kernels, 50)
        }
    }
}
