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

    /// Launch-order dispatch in the deflation: A (216 CTAs, all 108 SMs of an A100) recorded over
    /// [0, 1 ms]; B (same shape, another stream) recorded over [0.9, 1.4 ms]. During the 0.1 ms
    /// overlap A, first in order, holds every SM (speed 1) and B holds one SM (speed
    /// waves(108)/waves(1) = 1/108). So A's isolated time stays 1 ms, B's is 0.4 ms + 0.1/108 ms.
    /// Replayed, B (released at its recorded start) waits for A's SMs and ends 0.926 µs after 1.4 ms.
    func testOverlapIsDeflatedUnderLaunchOrderDispatch() throws {
        let spec = try Self.catalog.spec(named: "A100-SXM4-80GB")
        let ks = [kernel(0, 1_000_000, stream: 1, corr: 1, ctas: 216), kernel(900_000, 500_000, stream: 2, corr: 2, ctas: 216)]
        let (iso, changed) = KinetoReplay.deflate(ks, need: [108, 108], ctasPerSM: [2, 2], sms: 108)
        XCTAssertEqual(iso[0], 1_000_000, accuracy: 1e-6)
        XCTAssertEqual(iso[1], 400_000 + 100_000.0 / 108, accuracy: 1e-6)
        XCTAssertEqual(changed, 1)
        var o = KinetoReplay.Options(); o.launchLatency = .ns(0)
        let r = try KinetoReplay(spec: spec, options: o).replay(kernels: ks, copies: [], launches: [1: 0, 2: 0])
        XCTAssertEqual(r.simulatedKernelIntervals[0].start, 0)
        XCTAssertEqual(r.simulatedKernelIntervals[0].end, 1_000_000)
        XCTAssertEqual(r.simulatedKernelIntervals[1].start, 1_000_000, "B waits for A's SMs")
        XCTAssertEqual(Double(r.simulatedKernelIntervals[1].end), 1_400_000 + 100_000.0 / 108, accuracy: 2)
        XCTAssertEqual(r.deflatedKernels, 1)
    }

    /// Small kernels that fit side by side run concurrently at full speed: two 24-CTA kernels
    /// (1024 threads → 2 CTAs per SM → 12 SMs each) recorded overlapping are not deflated.
    func testKernelsThatFitSideBySideAreNotDeflated() throws {
        let spec = try Self.catalog.spec(named: "A100-SXM4-80GB")
        let ks = [kernel(0, 1_000_000, stream: 1, corr: 1, ctas: 24), kernel(200_000, 1_000_000, stream: 2, corr: 2, ctas: 24)]
        var o = KinetoReplay.Options(); o.launchLatency = .ns(0)
        let r = try KinetoReplay(spec: spec, options: o).replay(kernels: ks, copies: [], launches: [1: 0, 2: 0])
        XCTAssertEqual(r.deflatedKernels, 0)
        XCTAssertEqual(r.simulatedKernelIntervals.map(\.end), [1_000_000, 1_200_000])
    }

    func testUnionAndSpan() {
        XCTAssertEqual(KinetoReplay.unionLength([(0, 10), (5, 15), (20, 30)]), 25)
        XCTAssertEqual(KinetoReplay.span([(5, 10), (0, 3), (20, 30)]), 30)
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
