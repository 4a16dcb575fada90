import CUDADriver
import Foundation
import Profiles
import XCTest
@testable import Calibrate

final class CalibrateTests: XCTestCase {
    // MARK: Expectations from the fake's constants (independent of the calibrator's code)

    func ms(_ seconds: Double) -> Double { seconds * 1e3 }

    func copyMs(_ c: (latency: Double, bandwidth: Double), _ bytes: Int) -> Double {
        ms(c.latency + Double(bytes) / c.bandwidth)
    }

    /// Compute kernel on `sms` SMs (grid = tiles, one tile per CTA).
    func computeMs(sms: Int, tiles: Int, iterations: Int) -> Double {
        ms(Fake.kernelOverhead + Double(Fake.waves(tiles, Fake.ctasPerSM(threads: 256), sms) * iterations) * Fake.fmaIteration)
    }

    func memoryMs(sms: Int, tiles: Int) -> Double {
        ms(Fake.kernelOverhead + Double(Fake.waves(tiles, Fake.ctasPerSM(threads: 256), sms)) * Fake.copyTile)
    }

    func cublasMs(m: Int, n: Int, k: Int, sms: Int = Fake.sms) -> Double {
        ms(Fake.cublasOverhead + 2 * Double(m) * Double(n) * Double(k) / Fake.cublasFlops * Double(Fake.sms) / Double(sms))
    }

    func assertClose(_ a: Double, _ b: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a, b, accuracy: max(abs(b) * 2e-5, 1e-7), what, file: file, line: line)
    }

    func fakeOptions(_ lib: String, cublas: String? = nil) -> CalibrationOptions {
        var o = CalibrationOptions()
        o.libcuda = lib
        o.libcublas = cublas ?? lib
        o.libnvrtc = lib
        o.copySizes = [4096, 1 << 20]
        o.smCounts = [2, 4, 8, 12]
        o.tokenCounts = [1, 64]
        o.repeats = 3
        o.warmup = 1
        return o
    }

    override func tearDown() {
        unsetenv("GPUSIM_FAKE_FAIL")
        super.tearDown()
    }

    // MARK: Loader

    func testLoaderResolvesEveryEntryPointOfTheFake() throws {
        let libs = try FakeDriver.libraries()
        let cuda = try CUDA(path: libs.full)
        XCTAssertEqual(cuda.libraryPath, libs.full)
        XCTAssertTrue(cuda.hasGreenContexts)
        XCTAssertNotNil(cuda.api.cuModuleLoadDataEx)
        XCTAssertNotNil(cuda.api.cuGreenCtxStreamCreate)
        XCTAssertEqual(cuda.errorName(2), "CUDA_ERROR_OUT_OF_MEMORY")

        let old = try CUDA(path: libs.noGreen)
        XCTAssertFalse(old.hasGreenContexts, "green contexts are optional entry points")
        XCTAssertNil(old.api.cuDevSmResourceSplitByCount)
    }

    func testMissingDriverIsOneClearLine() {
        XCTAssertThrowsError(try CUDA(path: "/nonexistent/libcuda.so.1")) { error in
            guard case CalibrationError.noDriver(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.hasPrefix("no NVIDIA driver: libcuda.so.1 not found"), message)
            XCTAssertTrue(message.contains("/nonexistent/libcuda.so.1"), "says what was tried: \(message)")
            XCTAssertFalse(message.contains("\n"))
            XCTAssertEqual((error as! CalibrationError).exitCode, 3)
        }
    }

    func testLibraryWithoutTheEntryPointsIsUnusable() {
        XCTAssertThrowsError(try CUDA(path: "libm.so.6")) { error in
            guard case CalibrationError.driverUnusable(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("cuInit") && message.contains("cuLaunchKernel"), message)
            XCTAssertEqual((error as! CalibrationError).exitCode, 4)
        }
    }

    // MARK: Every measurement path against the fake

    func testFullRunMatchesTheFakesFormulas() throws {
        let libs = try FakeDriver.libraries()
        let options = fakeOptions(libs.full)
        let calibrator = try Calibrator(options: options)
        let r = try calibrator.run(tool: "test", createdAt: "2026-01-01T00:00:00Z", host: "test")
        XCTAssertEqual(calibrator.failures, [])

        // Device.
        XCTAssertEqual(r.device.name, "Fake GPU FG-16")
        XCTAssertEqual(r.device.smCount, Fake.sms)
        XCTAssertEqual(r.device.computeCapability, "9.0")
        XCTAssertEqual(r.device.totalMemoryBytes, Fake.totalMemory)
        XCTAssertEqual(r.device.driverVersion, 12040)
        XCTAssertEqual(r.device.pciBusID, "0000:1b:00.0")
        XCTAssertTrue(r.device.greenContexts)
        XCTAssertEqual(r.device.cublasVersion, 120400)
        XCTAssertEqual(r.device.nvrtcVersion, "12.4")
        XCTAssertEqual(r.gemmBackend, "cublas")

        // Copies: latency + bytes / bandwidth; both directions at once overlap (separate engines).
        XCTAssertEqual(r.copies.count, 2 * 2 * 3 + 2)
        for bytes in [4096, 1 << 20] {
            func find(_ d: CopyDirection, _ pinned: Bool) throws -> CopyMeasurement {
                try XCTUnwrap(r.copies.first { $0.direction == d && $0.pinned == pinned && $0.bytes == bytes })
            }
            for pinned in [true, false] {
                let h2d = pinned ? Fake.h2dPinned : Fake.h2dPageable
                let d2h = pinned ? Fake.d2hPinned : Fake.d2hPageable
                assertClose(try find(.h2d, pinned).time.medianMs, copyMs(h2d, bytes), "H2D \(bytes) pinned \(pinned)")
                assertClose(try find(.d2h, pinned).time.medianMs, copyMs(d2h, bytes), "D2H \(bytes) pinned \(pinned)")
                let both = try find(.bidirectional, pinned)
                assertClose(both.time.medianMs, max(copyMs(h2d, bytes), copyMs(d2h, bytes)), "both \(bytes)")
                assertClose(try XCTUnwrap(both.h2dTime).medianMs, copyMs(h2d, bytes), "both/H2D")
                assertClose(try XCTUnwrap(both.d2hTime).medianMs, copyMs(d2h, bytes), "both/D2H")
                XCTAssertEqual(both.time.repeats, 3)
                XCTAssertEqual(both.time.warmup, 1)
            }
            assertClose(try find(.d2d, true).time.medianMs, copyMs(Fake.d2d, bytes), "D2D \(bytes)")
        }
        // The worked example: 1 MiB at 10 GB/s + 5 µs = 109.8576 µs.
        let mib = try XCTUnwrap(r.copies.first { $0.direction == .h2d && $0.pinned && $0.bytes == 1 << 20 })
        assertClose(mib.time.medianMs, 0.1098576, "1 MiB pinned H2D")
        XCTAssertEqual(mib.time.p10Ms, mib.time.p90Ms, accuracy: 1e-9, "a deterministic fake has no spread")

        // Launch latency: the empty kernel's 2 µs.
        let launch = try XCTUnwrap(r.launch)
        assertClose(launch.backToBackUs.medianMs, Fake.kernelOverhead * 1e6, "back-to-back launch µs")
        assertClose(launch.singleUs.medianMs, Fake.kernelOverhead * 1e6, "single launch µs")
        XCTAssertGreaterThan(launch.hostEnqueueUs.medianMs, 0)

        // SM scaling with green contexts: waves = ⌈CTAs / (SMs · CTAs per SM)⌉.
        XCTAssertEqual(r.smScaling.map(\.kernel.kind), [.compute, .memory, .gemm])
        let tiles = options.computeWaves * Fake.ctasPerSM(threads: 256) * Fake.sms
        let memTiles = (Fake.totalMemory / 32) / (256 * 16 * 16)
        for series in r.smScaling {
            XCTAssertEqual(series.method, .greenContext)
            XCTAssertEqual(series.points.map(\.sms), [2, 4, 8, 12, 16])
            for p in series.points {
                let expected: Double
                switch series.kernel.kind {
                case .compute: expected = computeMs(sms: p.sms, tiles: tiles, iterations: options.computeIterations)
                case .memory: expected = memoryMs(sms: p.sms, tiles: memTiles)
                case .gemm: expected = cublasMs(m: 28672, n: options.gemmKernelTokens, k: 4096, sms: p.sms)
                }
                assertClose(p.time.medianMs, expected, "\(series.kernel.kind) on \(p.sms) SMs")
            }
        }
        XCTAssertEqual(r.smScaling[0].kernel.ctas, tiles)
        XCTAssertEqual(r.smScaling[0].kernel.ctasPerSM, 8)
        XCTAssertEqual(r.smScaling[1].kernel.ctas, memTiles)

        // Co-runs: the fake runs kernels of two streams back to back on its SMs.
        let alone: [KernelKind: Double] = [
            .compute: computeMs(sms: Fake.sms, tiles: tiles, iterations: options.computeIterations),
            .memory: memoryMs(sms: Fake.sms, tiles: memTiles),
            .gemm: cublasMs(m: 28672, n: options.gemmKernelTokens, k: 4096),
        ]
        XCTAssertEqual(r.coRuns.count, 9)
        for c in r.coRuns {
            assertClose(c.firstAlone.medianMs, alone[c.first]!, "\(c.first) alone")
            assertClose(c.secondAlone.medianMs, alone[c.second]!, "\(c.second) alone")
            assertClose(c.firstTogether.medianMs, alone[c.first]!, "\(c.first) first")
            assertClose(c.secondTogether.medianMs, alone[c.first]! + alone[c.second]!, "\(c.second) after \(c.first)")
            assertClose(c.makespan.medianMs, alone[c.first]! + alone[c.second]!, "makespan")
            assertClose(c.secondSlowdown, (alone[c.first]! + alone[c.second]!) / alone[c.second]!, "slowdown")
        }

        // Expert GEMMs: every model shape, both ops, every token count.
        XCTAssertEqual(r.gemms.count, ExpertShape.defaults.count * 2 * 2)
        for g in r.gemms {
            let shape = try XCTUnwrap(ExpertShape.defaults.first { $0.model == g.model })
            if g.op == "mlp_up_proj" {
                XCTAssertEqual([g.n, g.k], [2 * shape.ffn, shape.hidden])
            } else {
                XCTAssertEqual(g.op, "mlp_down_proj")
                XCTAssertEqual([g.n, g.k], [shape.hidden, shape.ffn])
            }
            assertClose(g.time.medianMs, cublasMs(m: g.n, n: g.tokens, k: g.k), "\(g.model) \(g.op) \(g.tokens)")
        }
        let mixtralUp = try XCTUnwrap(r.gemms.first { $0.model == "Mixtral-8x7B" && $0.op == "mlp_up_proj" && $0.tokens == 64 })
        assertClose(mixtralUp.time.medianMs, 0.003 + 2 * 64 * 28672 * 4096 / 1e12 * 1e3, "Mixtral up 64 tokens")
    }

    func testWithoutGreenContextsOrCuBLAS() throws {
        let libs = try FakeDriver.libraries()
        var options = fakeOptions(libs.noGreen, cublas: "none")
        options.sections = [.smScaling, .gemm]
        options.tokenCounts = [1, 64, 256]
        let calibrator = try Calibrator(options: options)
        let r = try calibrator.run()
        XCTAssertEqual(calibrator.failures, [])
        XCTAssertFalse(r.device.greenContexts)
        XCTAssertEqual(r.gemmBackend, "ptx-naive")
        XCTAssertTrue(r.notes.contains { $0.contains("grid-limited") || $0.contains("fell back") }, "\(r.notes)")
        XCTAssertTrue(r.notes.contains { $0.contains("naive PTX GEMM") }, "\(r.notes)")

        // Grid-limited: N CTAs, one per SM (shared memory), each looping over tiles / N tiles.
        XCTAssertEqual(r.smScaling.map(\.kernel.kind), [.compute, .memory])
        let tiles = options.computeWaves * Fake.ctasPerSM(threads: 256) * Fake.sms
        let memTiles = (Fake.totalMemory / 32) / (256 * 16 * 16)
        for series in r.smScaling {
            XCTAssertEqual(series.method, .gridLimited)
            XCTAssertEqual(series.kernel.ctasPerSM, 1)
            XCTAssertEqual(series.points.map(\.sms), [2, 4, 8, 12, 16])
            for p in series.points {
                let rounds = Double(((series.kernel.kind == .compute ? tiles : memTiles) + p.sms - 1) / p.sms)
                let expected = series.kernel.kind == .compute
                    ? ms(Fake.kernelOverhead + rounds * Double(options.computeIterations) * Fake.fmaIteration)
                    : ms(Fake.kernelOverhead + rounds * Fake.copyTile)
                assertClose(p.time.medianMs, expected, "\(series.kernel.kind) grid of \(p.sms)")
            }
        }

        // Naive GEMM: 16×16 threads per output tile; tokens above 64 dropped without cuBLAS.
        XCTAssertEqual(Set(r.gemms.map(\.tokens)), [1, 64])
        for g in r.gemms {
            let ctas = ((g.n + 15) / 16) * ((g.tokens + 15) / 16)
            let expected = ms(Fake.kernelOverhead + Double(Fake.waves(ctas, 8, Fake.sms) * g.k) * Fake.gemmK)
            assertClose(g.time.medianMs, expected, "naive \(g.model) \(g.op) \(g.tokens)")
        }
    }

    func testGreenContextFailureFallsBackAndSaysSo() throws {
        let libs = try FakeDriver.libraries()
        var options = fakeOptions(libs.full)
        options.sections = [.smScaling]
        setenv("GPUSIM_FAKE_FAIL", "cuDeviceGetDevResource", 1)
        let calibrator = try Calibrator(options: options)
        let r = try calibrator.run()
        XCTAssertEqual(calibrator.failures, [])
        XCTAssertEqual(Set(r.smScaling.map(\.method)), [.gridLimited])
        XCTAssertTrue(r.notes.contains { $0.contains("cuDeviceGetDevResource failed: CUDA_ERROR_OUT_OF_MEMORY") }, "\(r.notes)")
    }

    func testAFailingCallIsNamed() throws {
        let libs = try FakeDriver.libraries()
        var options = fakeOptions(libs.full)
        options.sections = [.copies, .launch]
        setenv("GPUSIM_FAKE_FAIL", "cuMemcpyHtoDAsync_v2", 1)
        let calibrator = try Calibrator(options: options)
        let r = try calibrator.run()
        XCTAssertEqual(calibrator.failures.count, 1, "\(calibrator.failures)")
        XCTAssertTrue(calibrator.failures[0].hasPrefix("copies: cuMemcpyHtoDAsync failed: CUDA_ERROR_OUT_OF_MEMORY (2)"),
                      calibrator.failures[0])
        XCTAssertNotNil(r.launch, "the other sections still run")

        setenv("GPUSIM_FAKE_FAIL", "cuInit", 1)
        XCTAssertThrowsError(try Calibrator(options: options)) { error in
            XCTAssertEqual("\(error)", "cuInit failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory (fake)")
            XCTAssertEqual((error as? CalibrationError)?.exitCode, 4)
        }
    }

    // MARK: Output

    func testRawResultsRoundTrip() throws {
        let libs = try FakeDriver.libraries()
        var options = fakeOptions(libs.full)
        options.sections = [.copies, .launch, .coRun]
        let r = try Calibrator(options: options).run(tool: "test", createdAt: "now", host: "h")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-raw-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try CalibrationWriter.writeRaw(r, to: path)
        XCTAssertEqual(try CalibrationWriter.readRaw(path), r)
    }

    func testCalibrationFileLoadsWithTheProfilesLoader() throws {
        let libs = try FakeDriver.libraries()
        let r = try Calibrator(options: fakeOptions(libs.full)).run(tool: "test", createdAt: "now", host: "h")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-cal-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try CalibrationWriter.write(r, to: path)
        let c = try Calibration.load(path: path)

        XCTAssertEqual(c.device.name, "Fake GPU FG-16")
        XCTAssertEqual(c.device.sms, Fake.sms)
        XCTAssertEqual(c.device.memoryBytes, Fake.totalMemory)
        XCTAssertEqual(c.device.cublasVersion, 120400)
        XCTAssertTrue(c.source.contains("Fake GPU FG-16"))
        XCTAssertTrue(c.notes.contains { $0.contains("ctas_per_sm 8") }, "kernel shapes kept in notes: \(c.notes)")

        // Copies in µs: the worked example and the both-directions entries.
        XCTAssertEqual(c.copies.count, r.copies.count)
        let mib = try XCTUnwrap(c.copies.first { $0.direction == .h2d && $0.pinned && $0.bytes == 1 << 20 })
        XCTAssertEqual(mib.medianUs, 109.8576, accuracy: 1e-3)
        XCTAssertEqual(mib.repeats, 3)
        let both = try XCTUnwrap(c.copies.first { $0.direction == .both && $0.pinned && $0.bytes == 1 << 20 })
        XCTAssertEqual(try XCTUnwrap(both.h2dMedianUs), copyMs(Fake.h2dPinned, 1 << 20) * 1e3, accuracy: 1e-3)
        XCTAssertEqual(try XCTUnwrap(both.d2hMedianUs), copyMs(Fake.d2hPinned, 1 << 20) * 1e3, accuracy: 1e-3)
        XCTAssertEqual(both.medianUs, max(both.h2dMedianUs!, both.d2hMedianUs!), accuracy: 1e-3)

        let launch = try XCTUnwrap(c.launch)
        XCTAssertEqual(launch.medianUs, Fake.kernelOverhead * 1e6, accuracy: 1e-3)
        XCTAssertEqual(try XCTUnwrap(launch.singleUs), Fake.kernelOverhead * 1e6, accuracy: 1e-3)

        // SM scaling: 3 kernels × 5 SM counts, green contexts, the compute kernel's waves.
        XCTAssertEqual(c.smScaling.count, 15)
        XCTAssertEqual(Set(c.smScaling.compactMap(\.method)), ["green-context"])
        let tiles = 4 * Fake.ctasPerSM(threads: 256) * Fake.sms
        for p in c.smScaling where p.kernel == .compute {
            XCTAssertEqual(p.ctas, tiles)
            XCTAssertEqual(p.medianUs, computeMs(sms: p.sms, tiles: tiles, iterations: 2048) * 1e3, accuracy: 1e-3)
        }

        XCTAssertEqual(c.coRuns.count, 9)
        for run in c.coRuns {
            XCTAssertEqual(run.firstSlowdown, 1, accuracy: 1e-6, "the fake runs the first kernel unimpeded")
            XCTAssertEqual(run.secondTogetherUs, run.firstAloneUs + run.secondAloneUs, accuracy: 1e-2)
        }

        // GEMMs in ms, in Vidur's vocabulary; the shape the loader derives matches what was timed.
        XCTAssertEqual(c.gemms.count, r.gemms.count)
        for (g, m) in zip(c.gemms, r.gemms) {
            XCTAssertEqual(g.op.rawValue, m.op)
            XCTAssertEqual(g.model, m.model)
            XCTAssertEqual(g.tp, 1)
            XCTAssertTrue(g.gated)
            let shape = try XCTUnwrap(g.shape.gemm)
            XCTAssertEqual([shape.n, shape.k], [m.n, m.k], "\(g.op) \(g.model)")
            XCTAssertEqual(g.medianMs, cublasMs(m: m.n, n: m.tokens, k: m.k), accuracy: 1e-6)
        }
    }

    func testShippedCalibrationLoads() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Traces/profiles/calibration")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        let calibrations = files.filter { $0.hasSuffix(".json") && !$0.hasSuffix(".raw.json") && $0 != "example.json" }
        XCTAssertTrue(calibrations.contains("h100-sxm5-80gb.json"), "the measured H100 file is shipped: \(files)")
        for f in calibrations {
            let c = try Calibration.load(path: dir.appendingPathComponent(f).path)
            XCTAssertGreaterThan(c.copies.count, 0, f)
            XCTAssertGreaterThan(c.smScaling.count, 0, f)
            XCTAssertGreaterThan(c.gemms.count, 0, f)
            // The raw file beside it rewrites to the same calibration file.
            let raw = dir.appendingPathComponent(f.replacingOccurrences(of: ".json", with: ".raw.json")).path
            if FileManager.default.fileExists(atPath: raw) {
                let again = try CalibrationWriter.calibrationData(try CalibrationWriter.readRaw(raw))
                XCTAssertEqual(again, try Data(contentsOf: dir.appendingPathComponent(f)), "\(f) is what --from-raw writes")
            }
        }
    }

    func testSummaryQuantiles() {
        let s = Summary(samples: [5, 1, 4, 2, 3], warmup: 2)
        XCTAssertEqual(s.medianMs, 3)
        XCTAssertEqual(s.p10Ms, 1.4, accuracy: 1e-12)
        XCTAssertEqual(s.p90Ms, 4.6, accuracy: 1e-12)
        XCTAssertEqual([s.minMs, s.maxMs], [1, 5])
        XCTAssertEqual([s.repeats, s.warmup], [5, 2])
        XCTAssertEqual(Summary(samples: [7], warmup: 0).p90Ms, 7)
    }

    func testDefaultSizesAndCounts() {
        var o = CalibrationOptions()
        XCTAssertEqual(o.resolvedCopySizes.first, 4096)
        XCTAssertEqual(o.resolvedCopySizes.last, 1 << 30)
        XCTAssertEqual(o.resolvedCopySizes.count, 10)
        XCTAssertEqual(o.resolvedTokenCounts, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096])
        XCTAssertEqual(o.resolvedSMCounts(total: 132), [8, 16, 24, 32, 48, 64, 96, 128, 132])
        o.quick = true
        XCTAssertEqual(o.resolvedCopySizes, [4096, 65536, 1 << 20, 16 << 20, 256 << 20])
        XCTAssertEqual(o.resolvedSMCounts(total: 108), [8, 32, 108])
    }

    // MARK: The executable

    func testExecutableWithoutDriverExitsWithCode3AndOneLine() throws {
        guard let exe = calibrateExecutable() else { throw XCTSkip("gpusim-calibrate was not built next to the tests") }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-nodriver-\(getpid()).json").path
        let (status, _, stderr) = try runProcess(exe, ["--out", out], environment: ["GPUSIM_LIBCUDA": "/nonexistent"])
        XCTAssertEqual(status, 3)
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, stderr)
        XCTAssertTrue(stderr.hasPrefix("no NVIDIA driver: libcuda.so.1 not found"), stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testExecutableAgainstTheFake() throws {
        guard let exe = calibrateExecutable() else { throw XCTSkip("gpusim-calibrate was not built next to the tests") }
        let libs = try FakeDriver.libraries()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-cal-exe-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("cal.json").path, raw = dir.appendingPathComponent("raw.json").path
        let env = ["GPUSIM_LIBCUDA": libs.full, "GPUSIM_LIBCUBLAS": libs.full, "GPUSIM_LIBNVRTC": libs.full]
        let args = ["--out", out, "--raw", raw, "--quick", "--sizes", "4K", "1M", "--sm-counts", "4", "8",
                    "--tokens", "1", "16", "--repeats", "2", "--warmup", "0", "--quiet"]
        let (status, _, stderr) = try runProcess(exe, args, environment: env)
        XCTAssertEqual(status, 0, stderr)
        let r = try CalibrationWriter.readRaw(raw)
        XCTAssertEqual(r.device.name, "Fake GPU FG-16")
        XCTAssertEqual(r.smScaling.first?.points.map(\.sms), [4, 8, 16])
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))

        // A failing call: exit 4, the call named.
        let (s2, _, e2) = try runProcess(exe, args, environment: env.merging(["GPUSIM_FAKE_FAIL": "cuCtxCreate_v2"]) { $1 })
        XCTAssertEqual(s2, 4)
        XCTAssertTrue(e2.contains("cuCtxCreate failed: CUDA_ERROR_OUT_OF_MEMORY"), e2)
    }
}
