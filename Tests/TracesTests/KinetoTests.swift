import XCTest
@testable import Traces

final class KinetoTests: XCTestCase {
    /// The whole a100-alexnet trace. Expected values from python (gzip + json), e.g.
    ///   python3 -c "import gzip,json; ev=json.load(gzip.open('Traces/kineto/a100-alexnet.json.gz'))['traceEvents'];
    ///     k=[e for e in ev if e.get('cat')=='kernel']; print(len(ev), len(k), sum(e['dur'] for e in k))"
    /// -> 1408 events, 79 kernels, sum(dur) 10692 µs; 16 gpu_memcpy (244403360 bytes), 3 gpu_memset
    /// (21760 bytes), 361 cuda_runtime; busy = length of the union of sorted [ts, ts+dur) = 10630 µs;
    /// span = max(ts+dur) - min(ts) = 12840244 µs; kernel streams {7, 20}.
    func testAlexnetWhole() throws {
        var kernels: [KinetoKernel] = []
        var copies: [KinetoCopy] = []
        var runtime: [KinetoRuntimeCall] = []
        var stats = KinetoStats()
        let summary = try KinetoReader(path: Paths.alexnet).read { r in
            stats.add(r)
            switch r {
            case .kernel(let k): kernels.append(k)
            case .copy(let c): copies.append(c)
            case .runtime(let c): runtime.append(c)
            }
        }
        XCTAssertTrue(summary.complete)
        XCTAssertEqual(summary.eventCount, 1408)
        XCTAssertEqual(summary.kernelCount, 79)
        XCTAssertEqual(summary.memcpyCount, 16)
        XCTAssertEqual(summary.memsetCount, 3)
        XCTAssertEqual(summary.runtimeCount, 361)
        XCTAssertEqual(summary.driverCount, 0)
        XCTAssertEqual(summary.otherCount, 1408 - 79 - 16 - 3 - 361)
        XCTAssertEqual(summary.traceName, "benchmark_result_2869224_1695835535_trace.json")
        XCTAssertEqual(kernels.count, 79)
        XCTAssertEqual(kernels.reduce(0) { $0 + $1.durNs }, 10_692_000)
        XCTAssertEqual(stats.kernelDurationSumNs, 10_692_000)
        XCTAssertEqual(stats.gpuBusyNs(), 10_630_000)
        XCTAssertEqual(stats.spanNs, 12_840_244_000)
        XCTAssertEqual(stats.streams, [7, 20])
        XCTAssertEqual(stats.kernelsWithoutLaunchCall, 0)
        XCTAssertEqual(copies.filter { $0.kind == .htod }.reduce(0) { $0 + $1.bytes }, 244_403_360)
        XCTAssertEqual(copies.filter { $0.kind == .memset }.reduce(0) { $0 + $1.bytes }, 21_760)
        XCTAssertEqual(stats.copies[.htod]?.count, 16)
        XCTAssertEqual(stats.copies[.memset]?.bytes, 21_760)

        // The first kernel, field by field (python: k[0]['ts'], k[0]['dur'], k[0]['args']).
        let k = kernels[0]
        XCTAssertTrue(k.name.hasPrefix("void at::native::(anonymous namespace)::distribution_elementwise_grid_stride_kernel<float, 4,"))
        XCTAssertEqual(k.tsNs, 1_695_835_573_023_613_000)
        XCTAssertEqual(k.durNs, 71_000)
        XCTAssertEqual(k.device, 0)
        XCTAssertEqual(k.stream, 7)
        XCTAssertEqual(k.correlation, 218)
        XCTAssertTrue(k.grid == (864, 1, 1))
        XCTAssertTrue(k.block == (256, 1, 1))
        XCTAssertEqual(k.registersPerThread, 47)
        XCTAssertEqual(k.sharedMemoryBytes, 0)
        XCTAssertEqual(k.blocksPerSM, 8)
        XCTAssertEqual(k.estAchievedOccupancyPct, 63)

        // First memcpy: 'Memcpy HtoD (Pageable -> Device)', ts 1695835572943613, dur 12, 92928 bytes.
        let c = copies[0]
        XCTAssertEqual(c.kind, .htod)
        XCTAssertEqual(c.hostMemory, .pageable)
        XCTAssertEqual(c.source, "Pageable")
        XCTAssertEqual(c.destination, "Device")
        XCTAssertEqual(c.bytes, 92_928)
        XCTAssertEqual(c.tsNs, 1_695_835_572_943_613_000)
        XCTAssertEqual(c.durNs, 12_000)
        XCTAssertEqual(c.correlation, 14)

        // First runtime call: cudaDeviceGetStreamPriorityRange, pid=tid=2869224, correlation 5.
        XCTAssertEqual(runtime[0].name, "cudaDeviceGetStreamPriorityRange")
        XCTAssertEqual(runtime[0].durNs, 29_927_377_000)
        XCTAssertEqual(runtime[0].threadID, 2_869_224)
        XCTAssertEqual(runtime[0].correlation, 5)

        // deviceProperties: 8 entries of the A100-PG509-200 (python: d['deviceProperties']).
        XCTAssertEqual(summary.deviceProperties.count, 8)
        let d = summary.deviceProperties[0]
        XCTAssertEqual(d.name, "NVIDIA A100-PG509-200")
        XCTAssertEqual(d.numSms, 108)
        XCTAssertEqual(d.totalGlobalMem, 42_297_524_224)
        XCTAssertEqual(d.computeMajor, 8)
        XCTAssertEqual(d.sharedMemPerMultiprocessor, 167_936)
        XCTAssertEqual(d.regsPerMultiprocessor, 65_536)
    }

    /// The first 32000 events of the V100 trace, whose ts/dur carry 3 decimals (ns).
    /// Expected from python with exact decimals:
    ///   d = json.load(gzip.open(f), parse_float=decimal.Decimal); ev = d['traceEvents'][:32000]
    /// -> 759 kernels, sum dur*1000 = 73436860 ns, sum ts*1000 = 1299556381118163501193 ns,
    /// 182 memcpy+memset events with 57437744 bytes, 2164 cuda_runtime with sum dur 5696754 ns;
    /// first kernel ts = 1712195495505582.988 µs (a Double would read ...583.0), dur 4.928.
    func testV100Prefix() throws {
        var n = 0, copies = 0, runtime = 0
        var durSum: Int64 = 0, tsSum: Int64 = 0, bytes: Int64 = 0, rtDur: Int64 = 0
        var first: KinetoKernel? = nil
        let s = try KinetoReader(path: Paths.v100Training).read(maxEvents: 32000) { r in
            switch r {
            case .kernel(let k):
                if first == nil { first = k }
                n += 1; durSum += k.durNs; tsSum = tsSum &+ k.tsNs
            case .copy(let c): copies += 1; bytes += c.bytes
            case .runtime(let c): runtime += 1; rtDur += c.durNs
            }
        }
        XCTAssertFalse(s.complete)
        XCTAssertEqual(s.eventCount, 32000)
        XCTAssertEqual(n, 759)
        XCTAssertEqual(durSum, 73_436_860)
        // 1299556381118163501193 mod 2^64 as a signed Int64 (python: (x + 2**63) % 2**64 - 2**63).
        XCTAssertEqual(tsSum, 8_284_295_958_494_888_073)
        XCTAssertEqual(copies, 182)
        XCTAssertEqual(bytes, 57_437_744)
        XCTAssertEqual(runtime, 2164)
        XCTAssertEqual(rtDur, 5_696_754)
        XCTAssertEqual(first?.tsNs, 1_712_195_495_505_582_988)
        XCTAssertEqual(first?.durNs, 4928)
        XCTAssertTrue(first.map { $0.grid == (4, 106, 1) } ?? false)
        XCTAssertEqual(first?.correlation, 135_071)
        XCTAssertEqual(first?.blocksPerSM, 5.3)
        XCTAssertEqual(s.deviceProperties.first?.name, "Tesla V100-SXM2-32GB")
        XCTAssertEqual(s.deviceProperties.first?.numSms, 80)
        XCTAssertEqual(s.deviceProperties.first?.totalGlobalMem, 34_079_637_504)
    }

    /// First 32000 events of the A100-80GB training trace. python (as above): 482 kernels with
    /// sum dur 6498 µs, 81 memcpy+memset events with 1099249324 bytes, 2665 cuda_runtime calls.
    func testA100TrainingPrefix() throws {
        var n = 0, copies = 0, runtime = 0
        var durSum: Int64 = 0, bytes: Int64 = 0
        let s = try KinetoReader(path: Paths.a100Training).read(maxEvents: 32000) { r in
            switch r {
            case .kernel(let k): n += 1; durSum += k.durNs
            case .copy(let c): copies += 1; bytes += c.bytes
            case .runtime: runtime += 1
            }
        }
        XCTAssertEqual(n, 482)
        XCTAssertEqual(durSum, 6_498_000)
        XCTAssertEqual(copies, 81)
        XCTAssertEqual(bytes, 1_099_249_324)
        XCTAssertEqual(runtime, 2665)
        XCTAssertEqual(s.deviceProperties.count, 8)
        XCTAssertEqual(s.deviceProperties.first?.name, "NVIDIA A100-SXM4-80GB")
        XCTAssertEqual(s.deviceProperties.first?.totalGlobalMem, 84_990_623_744)
    }

    /// A hand-written trace (values known by construction): deviceProperties after
    /// traceEvents, escapes in names, a driver call, old-style "Kernel" category, PtoP copy.
    func testHandmade() throws {
        var recs: [KinetoRecord] = []
        let s = try KinetoReader(path: Paths.fixture("handmade.json")).read { recs.append($0) }
        XCTAssertEqual(s.eventCount, 8)
        XCTAssertEqual(s.kernelCount, 2)
        XCTAssertEqual(s.memcpyCount, 2)
        XCTAssertEqual(s.memsetCount, 1)
        XCTAssertEqual(s.driverCount, 1)
        XCTAssertEqual(s.otherCount, 2)
        XCTAssertEqual(s.traceName, "handmade")
        XCTAssertEqual(s.deviceProperties, [KinetoDeviceProperties(
            id: 1, name: "Handmade GPU", numSms: 132, totalGlobalMem: 1024, computeMajor: 9, computeMinor: 0)])
        XCTAssertEqual(recs.count, 6)
        XCTAssertEqual(recs[0], .runtime(KinetoRuntimeCall(api: .driver, name: "cuLaunchKernel", tsNs: 100_250, durNs: 3500,
                                                           correlation: 7, processID: 11, threadID: 12)))
        XCTAssertEqual(recs[1], .kernel(KinetoKernel(
            name: "gemm<\"tile\", 128>é", tsNs: 110_125, durNs: 20_000, device: 1, stream: 3, correlation: 7,
            grid: (2, 3, 4), block: (32, 4, 1), registersPerThread: 64, sharedMemoryBytes: 49152,
            blocksPerSM: nil, estAchievedOccupancyPct: 25)))
        guard case .kernel(let old) = recs[2] else { return XCTFail() }
        XCTAssertEqual(old.durNs, 1001)
        XCTAssertEqual(old.blocksPerSM, 0.5)
        XCTAssertNil(old.estAchievedOccupancyPct)
        XCTAssertEqual(old.ctas, 1)
        XCTAssertEqual(old.threadsPerBlock, 64)
        guard case .copy(let p2p) = recs[3], case .copy(let d2h) = recs[4], case .copy(let ms) = recs[5] else { return XCTFail() }
        XCTAssertEqual(p2p.kind, .ptop)
        XCTAssertNil(p2p.hostMemory)
        XCTAssertEqual(p2p.bytes, 1_048_576)
        XCTAssertEqual(d2h.kind, .dtoh)
        XCTAssertEqual(d2h.hostMemory, .pinned)
        XCTAssertEqual(ms.kind, .memset)
        XCTAssertEqual(ms.destination, "Device")
        XCTAssertEqual(ms.durNs, 0)
    }

    func testCopyNames() {
        XCTAssertTrue(KinetoCopy.parseName("Memcpy HtoD (Pinned -> Device)", isMemset: false) == (.htod, "Pinned", "Device"))
        XCTAssertTrue(KinetoCopy.parseName("Memcpy DtoH (Device -> Pageable)", isMemset: false) == (.dtoh, "Device", "Pageable"))
        XCTAssertTrue(KinetoCopy.parseName("Memcpy DtoD (Device -> Device)", isMemset: false) == (.dtod, "Device", "Device"))
        XCTAssertTrue(KinetoCopy.parseName("Memcpy HtoH (Pinned -> Pinned)", isMemset: false) == (.htoh, "Pinned", "Pinned"))
        XCTAssertTrue(KinetoCopy.parseName("Memset (Unknown)", isMemset: true) == (.memset, nil, "Unknown"))
        XCTAssertTrue(KinetoCopy.parseName("Memcpy", isMemset: false) == (.other, nil, nil))
    }

    func testStopEarlyAndVisitorErrors() throws {
        struct Stop: Error {}
        var n = 0
        XCTAssertThrowsError(try KinetoReader(path: Paths.alexnet).read { _ in
            n += 1
            if n == 3 { throw Stop() }
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(n, 3)
    }
}

final class KinetoStatsTests: XCTestCase {
    /// KinetoStats over the whole A100-80GB training trace (5 streams, kernels overlapping
    /// across streams, more than 4096 kernels so the interval union compacts). python (gzip+json):
    /// busy = union of sorted [ts, ts+dur) over the 6080 kernels = 396315 µs, span 1227177 µs,
    /// sum dur 401445 µs; 705 kernels whose correlation has no cuda_runtime event; copies by
    /// name word 2: HtoD 80 / 253540804 B, DtoD 1280 / 16637320108 B, DtoH 30 / 8600 B,
    /// memset 277 / 333352 B.
    func testA100TrainingWhole() throws {
        var st = KinetoStats()
        _ = try KinetoReader(path: Paths.a100Training).read { st.add($0) }
        XCTAssertEqual(st.kernelCount, 6080)
        XCTAssertEqual(st.gpuBusyNs(), 396_315_000)
        XCTAssertEqual(st.spanNs, 1_227_177_000)
        XCTAssertEqual(st.kernelDurationSumNs, 401_445_000)
        XCTAssertEqual(st.streams, [7, 27, 84, 285, 363])
        XCTAssertEqual(st.kernelsWithoutLaunchCall, 705)
        XCTAssertEqual(st.copies[.htod]?.count, 80)
        XCTAssertEqual(st.copies[.htod]?.bytes, 253_540_804)
        XCTAssertEqual(st.copies[.dtod]?.count, 1280)
        XCTAssertEqual(st.copies[.dtod]?.bytes, 16_637_320_108)
        XCTAssertEqual(st.copies[.dtoh]?.bytes, 8600)
        XCTAssertEqual(st.copies[.memset]?.count, 277)
        XCTAssertEqual(st.copies[.memset]?.bytes, 333_352)
        XCTAssertNil(st.copies[.ptop])
    }

    /// Union by construction: for k in 0..<10000, [20k, 20k+10) and [20k+5, 20k+12) → 12 each;
    /// plus a nested interval and empty ones that add nothing. Added in reverse order so the
    /// buffer compacts unsorted input several times.
    func testIntervalUnion() {
        var u = IntervalUnion()
        for k in stride(from: 9999, through: 0, by: -1) {
            let b = Int64(20 * k)
            u.add(start: b + 5, end: b + 12)
            u.add(start: b, end: b + 10)
            u.add(start: b + 1, end: b + 2)
            u.add(start: b + 3, end: b + 3)
        }
        XCTAssertEqual(u.length(), 120_000)
        u.add(start: -5, end: 200_000)
        XCTAssertEqual(u.length(), 200_005)
        var empty = IntervalUnion()
        XCTAssertEqual(empty.length(), 0)
    }
}
