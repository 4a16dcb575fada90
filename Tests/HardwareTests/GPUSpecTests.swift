import Foundation
import XCTest
@testable import Hardware

/// The shipped GPU data files, the strict loader, the catalog and the transfer curves.
final class GPUSpecTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let hardwareDir = repoRoot.appendingPathComponent("Traces/hardware")
    static let catalog: GPUCatalog = try! GPUCatalog(directory: hardwareDir)

    static let requiredNames = ["A100-SXM4-80GB", "A100-SXM4-40GB", "H100-SXM5-80GB", "H200", "RTX-3090",
                                "V100-SXM2-32GB", "V100-SXM2-16GB"]
    let GiB = 1 << 30

    // MARK: - Shipped files

    func testEveryShippedFileLoads() throws {
        let files = try FileManager.default.contentsOfDirectory(at: Self.hardwareDir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "yaml" }
        XCTAssertEqual(files.count, 7)
        for url in files {
            let spec = try GPUSpec.load(contentsOf: url)
            XCTAssertEqual(spec.file, url.lastPathComponent)
            // Every figure or group of figures has a non-empty source.
            var required = ["compute_capability", "sms", "boost_clock_mhz", "per_sm", "per_cta", "memory.capacity_bytes",
                            "memory.bandwidth_bytes_per_s", "l2_bytes", "pcie", "pcie.h2d_pinned", "pcie.d2h_pinned",
                            "pcie.h2d_pageable", "pcie.d2h_pageable", "copy_engines"]
            if spec.nvlink != nil { required.append("nvlink") }
            if spec.mig != nil { required.append("mig") }
            if spec.memory.usableBytes != nil { required.append("memory.usable_bytes") }
            for key in required {
                let source = try XCTUnwrap(spec.sources[key], "\(spec.name): no source for \(key)")
                XCTAssertFalse(source.isEmpty)
            }
            XCTAssertTrue(spec.sources.values.allSatisfy { !$0.isEmpty })
            // Each profile falls back to the mig source unless it has its own.
            for i in spec.mig?.profiles.indices ?? 0..<0 {
                XCTAssertNotNil(spec.source(for: "mig.profiles[\(i)].sms"))
            }
        }
        XCTAssertEqual(Self.catalog.names.sorted(), Self.requiredNames.sorted())
    }

    func testRequiredNamesResolveCaseInsensitivelyAndByAlias() throws {
        for name in Self.requiredNames {
            XCTAssertEqual(try Self.catalog.spec(named: name).name, name)
            XCTAssertEqual(try Self.catalog.spec(named: name.lowercased()).name, name)
            XCTAssertEqual(try Self.catalog.spec(named: name.uppercased()).name, name)
            XCTAssertEqual(try Self.catalog.spec(named: "  " + name.replacingOccurrences(of: "-", with: "_") + " ").name, name)
        }
        let aliases = [
            "NVIDIA A100-SXM4-80GB": "A100-SXM4-80GB",
            "nvidia a100-sxm4-40gb": "A100-SXM4-40GB",
            "NVIDIA H100 80GB HBM3": "H100-SXM5-80GB",
            "nvidia h200": "H200",
            "NVIDIA GeForce RTX 3090": "RTX-3090",
            "rtx 3090": "RTX-3090",
            "Tesla V100-SXM2-32GB": "V100-SXM2-32GB",
            "TESLA V100-SXM2-16GB": "V100-SXM2-16GB",
        ]
        for (alias, name) in aliases {
            XCTAssertEqual(try Self.catalog.spec(named: alias).name, name, alias)
        }
    }

    func testFiguresMatchTheReferenceTable() throws {
        let a100 = try Self.catalog.spec(named: "A100-SXM4-80GB")
        XCTAssertEqual(a100.smCount, 108)
        XCTAssertEqual(a100.computeCapability, ComputeCapability(major: 8, minor: 0))
        XCTAssertEqual(a100.memory.capacityBytes, 80 * GiB)
        XCTAssertEqual(a100.memory.bandwidthBytesPerSecond, 2.039e12)
        XCTAssertEqual(a100.l2Bytes, 40 * (1 << 20))
        XCTAssertEqual(a100.pcie.generation, 4)
        XCTAssertEqual(a100.pcie.lanes, 16)
        XCTAssertEqual(a100.nvlink?.totalBandwidthBytesPerSecond, 600e9)
        XCTAssertEqual(a100.pcie.h2dPinned.peakBytesPerSecond, 25.7e9)
        // Pageable about half of pinned (measured 10.0 vs 25.7 GB/s).
        let ratio = a100.pcie.h2dPageable.peakBytesPerSecond / a100.pcie.h2dPinned.peakBytesPerSecond
        XCTAssertEqual(ratio, 10.0 / 25.7, accuracy: 1e-12)
        let a100mig = try XCTUnwrap(a100.mig)
        XCTAssertEqual(a100mig.memorySlices, 8)
        XCTAssertEqual(a100mig.computeSlices, 7)
        XCTAssertEqual(a100mig.maxInstances, 7)
        let a100SMs = try ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"].map {
            try a100mig.profile(named: $0, gpu: a100.name).smCount
        }
        XCTAssertEqual(a100SMs, [14, 28, 42, 56, 98])
        XCTAssertEqual(a100.perSM.maxCTAs, 32)
        XCTAssertEqual(a100.perSM.sharedMemoryBytes, 164 * 1024)
        XCTAssertEqual(a100.perCTA.maxSharedMemoryOptInBytes, 163 * 1024)

        let h100 = try Self.catalog.spec(named: "H100-SXM5-80GB")
        XCTAssertEqual(h100.smCount, 132)
        XCTAssertEqual(h100.memory.capacityBytes, 80 * GiB)
        XCTAssertEqual(h100.memory.bandwidthBytesPerSecond, 3.35e12)
        XCTAssertEqual(h100.l2Bytes, 50 * (1 << 20))
        XCTAssertEqual(h100.pcie.generation, 5)
        XCTAssertEqual(h100.nvlink?.totalBandwidthBytesPerSecond, 900e9)
        XCTAssertEqual(h100.nvlink?.links, 18)
        // Measured pinned H2D in the 52-55 GB/s band for large copies.
        let big = h100.pcie.h2dPinned.bandwidth(bytes: 256 << 20)
        XCTAssertGreaterThan(big, 52e9)
        XCTAssertLessThan(big, 56e9)
        XCTAssertTrue(h100.pcie.h2dPinned.isMeasured)
        XCTAssertLessThan(h100.pcie.h2dPageable.bandwidth(bytes: 1 << 30), 13e9)
        let h100mig = try XCTUnwrap(h100.mig)
        let h100SMs = try ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"].map {
            try h100mig.profile(named: $0, gpu: h100.name).smCount
        }
        XCTAssertEqual(h100SMs, [16, 32, 60, 64, 132])
        XCTAssertEqual(h100.perSM.sharedMemoryBytes, 228 * 1024)

        let h200 = try Self.catalog.spec(named: "H200")
        XCTAssertEqual(h200.smCount, 132)
        XCTAssertEqual(h200.memory.bandwidthBytesPerSecond, 4.8e12)
        XCTAssertEqual(h200.l2Bytes, 60 * (1 << 20))
        XCTAssertEqual(try XCTUnwrap(h200.mig).profiles.map(\.name).last, "7g.141gb")

        let rtx = try Self.catalog.spec(named: "RTX-3090")
        XCTAssertEqual(rtx.smCount, 82)
        XCTAssertEqual(rtx.pcie.generation, 4)
        XCTAssertNil(rtx.mig)
        XCTAssertEqual(rtx.nvlink?.links, 4)
        XCTAssertEqual(rtx.perSM.maxThreads, 1536)
        XCTAssertEqual(rtx.perSM.maxCTAs, 16)

        for name in ["V100-SXM2-32GB", "V100-SXM2-16GB"] {
            let v100 = try Self.catalog.spec(named: name)
            XCTAssertEqual(v100.smCount, 80)
            XCTAssertEqual(v100.pcie.generation, 3)
            XCTAssertNil(v100.mig)
            XCTAssertEqual(v100.perSM.reservedSharedMemoryPerCTABytes, 0)
            XCTAssertEqual(v100.nvlink?.totalBandwidthBytesPerSecond, 300e9)
        }
        XCTAssertEqual(try Self.catalog.spec(named: "V100-SXM2-16GB").memory.capacityBytes, 16 * GiB)
    }

    func testSourcesFallBackToTheEnclosingGroupAndEstimatesAreListed() throws {
        let h100 = try Self.catalog.spec(named: "H100-SXM5-80GB")
        XCTAssertEqual(h100.source(for: "per_sm.max_ctas"), h100.sources["per_sm"])
        XCTAssertEqual(h100.source(for: "pcie.h2d_pinned.points[3]"), h100.sources["pcie.h2d_pinned"])
        XCTAssertEqual(h100.source(for: "mig.profiles[2].sms"), h100.sources["mig"])
        XCTAssertNil(h100.source(for: "no_such_key"))
        XCTAssertTrue(h100.sources["pcie.h2d_pinned"]!.hasPrefix("measurement:"))
        XCTAssertFalse(h100.estimatedKeyPaths.contains { $0.hasPrefix("pcie.") })

        let rtx = try Self.catalog.spec(named: "RTX-3090")
        for key in ["pcie.h2d_pinned", "pcie.d2h_pinned", "pcie.h2d_pageable", "pcie.d2h_pageable"] {
            XCTAssertTrue(rtx.estimatedKeyPaths.contains(key), key)
            XCTAssertFalse(rtx.transferCurve(.hostToDevice, .pinned).isMeasured)
        }
        // The A100's 2-memory-slice 1g profile carries its own (estimated) source.
        let a100 = try Self.catalog.spec(named: "A100-SXM4-80GB")
        XCTAssertTrue(a100.estimatedKeyPaths.contains("mig.profiles[2]"))
        XCTAssertNotEqual(a100.source(for: "mig.profiles[2].placements"), a100.sources["mig"])
    }

    // MARK: - Catalog

    func testUnknownGPUNameIsAnErrorListingKnownNames() {
        XCTAssertThrowsError(try Self.catalog.spec(named: "A100-PCIE-40GB")) { error in
            guard case GPUCatalogError.unknownGPU(let name, let known) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(name, "A100-PCIE-40GB")
            XCTAssertEqual(known.sorted(), Self.requiredNames.sorted())
            let text = "\(error)"
            XCTAssertTrue(text.contains("unknown GPU 'A100-PCIE-40GB'"), text)
            for n in Self.requiredNames { XCTAssertTrue(text.contains(n), text) }
        }
        XCTAssertFalse(Self.catalog.contains("H300"))
        XCTAssertTrue(Self.catalog.contains("h100-sxm5-80gb"))
    }

    func testDefaultDirectoryFromEnvironmentOrCurrentDirectory() throws {
        let traces = Self.repoRoot.appendingPathComponent("Traces")
        let fromEnv = try GPUCatalog.defaultDirectory(environment: ["GPUSIM_DATA": traces.path], currentDirectory: "/")
        XCTAssertEqual(fromEnv.standardizedFileURL.path, Self.hardwareDir.standardizedFileURL.path)
        let nested = Self.repoRoot.appendingPathComponent("Sources/Hardware").path
        let fromCwd = try GPUCatalog.defaultDirectory(environment: [:], currentDirectory: nested)
        XCTAssertEqual(fromCwd.standardizedFileURL.path, Self.hardwareDir.standardizedFileURL.path)
        XCTAssertEqual(try GPUCatalog(environment: [:], currentDirectory: nested).names.count, 7)
        XCTAssertEqual(try GPUCatalog(path: Self.hardwareDir.path).names.count, 7)

        XCTAssertThrowsError(try GPUCatalog.defaultDirectory(environment: ["GPUSIM_DATA": "/nonexistent-gpusim"],
                                                             currentDirectory: "/")) { error in
            XCTAssertTrue("\(error)".contains("GPUSIM_DATA"), "\(error)")
        }
        let empty = try makeTempDir()
        XCTAssertThrowsError(try GPUCatalog.defaultDirectory(environment: [:], currentDirectory: empty.path)) { error in
            guard case GPUCatalogError.dataNotFound = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try GPUCatalog(directory: empty)) { error in
            XCTAssertEqual(error as? GPUCatalogError, .noDataFiles(path: empty.path))
        }
    }

    // MARK: - Strict loading

    private func makeTempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-hw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    private func shipped(_ file: String) throws -> String {
        try String(contentsOf: Self.hardwareDir.appendingPathComponent(file), encoding: .utf8)
    }

    /// Writes `text` as `name` in a fresh directory, loads it, and returns the loader's error.
    private func loadError(_ text: String, name: String = "broken.yaml",
                           file: StaticString = #filePath, line: UInt = #line) throws -> GPUSpecError? {
        let dir = try makeTempDir()
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        do {
            _ = try GPUSpec.load(contentsOf: url)
            XCTFail("loaded a broken file", file: file, line: line)
            return nil
        } catch let e as GPUSpecError {
            return e
        }
    }

    private func replacing(_ text: String, _ old: String, _ new: String,
                           file: StaticString = #filePath, line: UInt = #line) -> String {
        XCTAssertTrue(text.contains(old), "fixture text not found: \(old)", file: file, line: line)
        return text.replacingOccurrences(of: old, with: new)
    }

    func testAShippedFileRoundTripsThroughATempFile() throws {
        let dir = try makeTempDir()
        let url = dir.appendingPathComponent("rtx-3090.yaml")
        try shipped("rtx-3090.yaml").write(to: url, atomically: true, encoding: .utf8)
        let spec = try GPUSpec.load(contentsOf: url)
        XCTAssertEqual(spec, try Self.catalog.spec(named: "RTX-3090"))
    }

    func testMissingKeyIsNamedWithFileAndPath() throws {
        let text = replacing(try shipped("rtx-3090.yaml"), "  max_ctas: 16\n", "")
        let e = try XCTUnwrap(try loadError(text))
        XCTAssertEqual(e.file, "broken.yaml")
        XCTAssertEqual(e.keyPath, "per_sm")
        XCTAssertTrue(e.message.contains("missing required key 'max_ctas'"), e.message)
        XCTAssertTrue(e.description.hasPrefix("broken.yaml: per_sm: missing required key 'max_ctas'"), e.description)

        let noMIG = replacing(try shipped("rtx-3090.yaml"), "mig: null\n", "")
        let e2 = try XCTUnwrap(try loadError(noMIG))
        XCTAssertEqual(e2.keyPath, "")
        XCTAssertTrue(e2.description.hasPrefix("broken.yaml: missing required key 'mig'"), e2.description)

        let noSource = replacing(try shipped("rtx-3090.yaml"),
                                 #"sms: {value: 82, source: "NVIDIA Ampere GA102 GPU Architecture whitepaper (v2): GeForce RTX 3090 has 82 SMs (10496 CUDA cores)"}"#,
                                 "sms: {value: 82}")
        let e3 = try XCTUnwrap(try loadError(noSource))
        XCTAssertEqual(e3.keyPath, "sms")
        XCTAssertTrue(e3.message.contains("'source'"), e3.message)
    }

    func testUnknownKeyIsRejected() throws {
        let text = replacing(try shipped("rtx-3090.yaml"), "  max_ctas: 16\n", "  max_ctas: 16\n  max_cats: 16\n")
        let e = try XCTUnwrap(try loadError(text))
        XCTAssertEqual(e.keyPath, "per_sm.max_cats")
        XCTAssertEqual(e.message, "unknown key")
        XCTAssertEqual(e.line, 13)
        XCTAssertEqual(e.description, "broken.yaml: per_sm.max_cats: unknown key (line 13)")

        let top = try shipped("rtx-3090.yaml") + "tdp_watts: {value: 350, source: \"spec sheet\"}\n"
        XCTAssertEqual(try loadError(top)?.keyPath, "tdp_watts")
    }

    func testNonPositiveFiguresAreRejected() throws {
        let negative = replacing(try shipped("rtx-3090.yaml"), "bandwidth_bytes_per_s: {value: 936e9",
                                 "bandwidth_bytes_per_s: {value: -936e9")
        let e = try XCTUnwrap(try loadError(negative))
        XCTAssertEqual(e.keyPath, "memory.bandwidth_bytes_per_s.value")
        XCTAssertTrue(e.message.contains("must be positive"), e.message)
        XCTAssertTrue(e.description.hasPrefix("broken.yaml: memory.bandwidth_bytes_per_s.value: must be positive"))

        let zeroSMs = replacing(try shipped("rtx-3090.yaml"), "sms: {value: 82,", "sms: {value: 0,")
        XCTAssertEqual(try loadError(zeroSMs)?.keyPath, "sms.value")

        let negativePeak = replacing(try shipped("rtx-3090.yaml"), "peak_gb_per_s: 25.7", "peak_gb_per_s: -25.7")
        XCTAssertEqual(try loadError(negativePeak)?.keyPath, "pcie.h2d_pinned.peak_gb_per_s")

        let negativePoint = replacing(try shipped("h100-sxm5-80gb.yaml"), "[65536, 9.990]", "[65536, -9.990]")
        let e2 = try XCTUnwrap(try loadError(negativePoint))
        XCTAssertEqual(e2.keyPath, "pcie.h2d_pinned.points[4][1]")

        let notANumber = replacing(try shipped("rtx-3090.yaml"), "sms: {value: 82,", "sms: {value: \"82\",")
        let e3 = try XCTUnwrap(try loadError(notANumber))
        XCTAssertEqual(e3.keyPath, "sms.value")
        XCTAssertTrue(e3.message.contains("expected a number"), e3.message)

        let fractional = replacing(try shipped("rtx-3090.yaml"), "sms: {value: 82,", "sms: {value: 82.5,")
        XCTAssertTrue(try XCTUnwrap(try loadError(fractional)).message.contains("whole number"))
    }

    func testMalformedCurvePointNamesItsIndex() throws {
        let text = replacing(try shipped("h100-sxm5-80gb.yaml"), "[16384, 2.994]", "[16384]")
        let e = try XCTUnwrap(try loadError(text, name: "h100-sxm5-80gb.yaml"))
        XCTAssertEqual(e.description.components(separatedBy: " (line")[0],
                       "h100-sxm5-80gb.yaml: pcie.h2d_pinned.points[2]: expected [bytes, GB/s], got a list")

        let unordered = replacing(try shipped("h100-sxm5-80gb.yaml"), "[8192, 1.571]", "[2048, 1.571]")
        let e2 = try XCTUnwrap(try loadError(unordered))
        XCTAssertEqual(e2.keyPath, "pcie.h2d_pinned.points[1]")
        XCTAssertTrue(e2.message.contains("must increase"), e2.message)

        let both = replacing(try shipped("rtx-3090.yaml"), "peak_gb_per_s: 25.7,", "peak_gb_per_s: 25.7, points: [[1, 1], [2, 2]],")
        let e3 = try XCTUnwrap(try loadError(both))
        XCTAssertEqual(e3.keyPath, "pcie.h2d_pinned")
        XCTAssertTrue(e3.message.contains("not both"), e3.message)
    }

    func testOtherStructuralErrors() throws {
        let rtx = try shipped("rtx-3090.yaml")
        let schema = replacing(rtx, "schema: gpusim-gpu/1", "schema: gpusim-gpu/2")
        XCTAssertEqual(try loadError(schema)?.keyPath, "schema")

        let duplicate = replacing(rtx, "  max_ctas: 16\n", "  max_ctas: 16\n  max_ctas: 16\n")
        let e = try XCTUnwrap(try loadError(duplicate))
        XCTAssertEqual(e.message, "duplicate key 'max_ctas' in a mapping")
        XCTAssertNotNil(e.line)

        let notYAML = try XCTUnwrap(try loadError("name: [unclosed\n"))
        XCTAssertTrue(notYAML.message.contains("not valid YAML"), notYAML.message)
        XCTAssertTrue(try XCTUnwrap(try loadError("")).message.contains("empty"))
        XCTAssertEqual(try loadError("- 1\n- 2\n")?.keyPath, "")

        let h100 = try shipped("h100-sxm5-80gb.yaml")
        let badPlacement = replacing(h100, "max_instances: 2, placements: [0, 4]", "max_instances: 2, placements: [0, 5]")
        let e2 = try XCTUnwrap(try loadError(badPlacement))
        XCTAssertEqual(e2.keyPath, "mig.profiles[4].placements[1]")
        XCTAssertTrue(e2.message.contains("past the GPU's 8 memory slices"), e2.message)

        let tooManySMs = replacing(h100, "sms: 132, memory_bytes", "sms: 133, memory_bytes")
        XCTAssertEqual(try loadError(tooManySMs)?.keyPath, "mig.profiles[6].sms")

        let warps = replacing(rtx, "  max_warps: 48\n", "  max_warps: 47\n")
        XCTAssertEqual(try loadError(warps)?.keyPath, "per_sm.max_threads")
    }

    func testCatalogReportsTheFileOfABrokenSpecAndChecksFileNames() throws {
        let dir = try makeTempDir()
        let broken = replacing(try shipped("rtx-3090.yaml"), "  max_ctas: 16\n", "")
        try broken.write(to: dir.appendingPathComponent("rtx-3090.yaml"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try GPUCatalog(directory: dir)) { error in
            XCTAssertTrue("\(error)".hasPrefix("rtx-3090.yaml: per_sm: missing required key 'max_ctas'"), "\(error)")
        }

        let misnamed = try makeTempDir()
        try shipped("rtx-3090.yaml").write(to: misnamed.appendingPathComponent("gpu.yaml"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try GPUCatalog(directory: misnamed)) { error in
            XCTAssertTrue("\(error)".contains("must be named rtx-3090.yaml"), "\(error)")
        }

        let twice = try makeTempDir()
        try shipped("v100-sxm2-16gb.yaml").write(to: twice.appendingPathComponent("v100-sxm2-16gb.yaml"),
                                                 atomically: true, encoding: .utf8)
        let clash = replacing(try shipped("v100-sxm2-32gb.yaml"), "\"V100 32GB SXM2\"", "\"Tesla V100-SXM2-16GB\"")
        try clash.write(to: twice.appendingPathComponent("v100-sxm2-32gb.yaml"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try GPUCatalog(directory: twice)) { error in
            guard case GPUCatalogError.duplicateName(let name, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "Tesla V100-SXM2-16GB")
        }
    }

    // MARK: - Transfer curves

    func testMeasuredCurveInterpolatesBandwidthInLogSize() throws {
        let curve = try Self.catalog.spec(named: "H100-SXM5-80GB").pcie.h2dPinned
        // The file's points, written out: 1 MiB at 42.890 GB/s, 2 MiB at 48.402 GB/s, 64 MiB at 54.583 GB/s,
        // 4 KiB at 0.810 GB/s, 1 GiB at 54.893 GB/s, latency 4.948 us.
        XCTAssertEqual(curve.latencySeconds, 4.948e-6, accuracy: 1e-15)
        // On a point.
        XCTAssertEqual(curve.seconds(bytes: 1 << 26), 67108864.0 / 54.583e9, accuracy: 1e-15)
        XCTAssertEqual(curve.bandwidth(bytes: 1 << 26), 54.583e9, accuracy: 1e-3)
        // Halfway in log(size) between 1 MiB and 2 MiB: bandwidth is the mean of the two.
        let mid = 1048576.0 * 2.0.squareRoot()
        let bwMid = (42.890e9 + 48.402e9) / 2
        XCTAssertEqual(curve.seconds(bytes: mid), mid / bwMid, accuracy: 1e-15)
        // A quarter of the way (log2 size = 20.25): bandwidth 42.890 + 0.25 * (48.402 - 42.890) GB/s.
        let quarter = 1048576.0 * pow(2.0, 0.25)
        XCTAssertEqual(curve.bandwidth(bytes: quarter), 42.890e9 + 0.25 * 5.512e9, accuracy: 1e-2)
        // Below the smallest point: linear in size from the latency at 0 to the 4 KiB time.
        let t4k = 4096.0 / 0.810e9
        XCTAssertEqual(curve.seconds(bytes: 2048), 4.948e-6 + (t4k - 4.948e-6) / 2, accuracy: 1e-15)
        XCTAssertEqual(curve.seconds(bytes: 0), 4.948e-6, accuracy: 1e-15)
        // Above the largest point: the rest at the largest point's bandwidth.
        let t1g = 1073741824.0 / 54.893e9
        XCTAssertEqual(curve.seconds(bytes: 3 << 30), t1g + 2147483648.0 / 54.893e9, accuracy: 1e-12)
        // The peak streaming rate: the largest bytes / (time - latency), here at 256 MiB.
        XCTAssertEqual(curve.peakBytesPerSecond, 268435456.0 / (268435456.0 / 54.981e9 - 4.948e-6), accuracy: 1)
        // Noise makes the 4 KiB D2H copy almost all latency; its streaming rate is capped at the peak.
        let d2h = try Self.catalog.spec(named: "H100-SXM5-80GB").pcie.d2hPinned
        XCTAssertEqual(d2h.streamingBytesPerSecond(bytes: 4096), d2h.peakBytesPerSecond)
        for bytes in [1, 4096, 1 << 20, 1 << 28, 1 << 31] {
            XCTAssertLessThanOrEqual(curve.streamingBytesPerSecond(bytes: bytes), curve.peakBytesPerSecond)
        }
        // The streaming rate after the latency: bytes / (time - latency).
        XCTAssertEqual(curve.streamingBytesPerSecond(bytes: 1 << 26), 67108864.0 / (67108864.0 / 54.583e9 - 4.948e-6),
                       accuracy: 1)
    }

    func testCopyTimeNeverDecreasesWithSize() throws {
        for spec in Self.catalog.specs {
            for d in CopyDirection.allCases {
                for m in HostMemory.allCases {
                    let curve = spec.transferCurve(d, m)
                    var previous = 0.0
                    var bytes = 1.0
                    while bytes < 4e9 {
                        let t = curve.seconds(bytes: bytes)
                        XCTAssertGreaterThanOrEqual(t, previous, "\(spec.name) \(d) \(m) at \(bytes) bytes")
                        XCTAssertGreaterThanOrEqual(t, curve.latencySeconds)
                        previous = t
                        bytes *= 1.09
                    }
                }
            }
        }
    }

    func testModelCurveIsLatencyPlusBytesOverPeak() throws {
        let curve = try Self.catalog.spec(named: "A100-SXM4-80GB").pcie.h2dPinned
        XCTAssertFalse(curve.isMeasured)
        XCTAssertEqual(curve.seconds(bytes: 32_000_000), 4.9e-6 + 32e6 / 25.7e9, accuracy: 1e-15)
        XCTAssertEqual(curve.seconds(bytes: 0), 4.9e-6, accuracy: 1e-18)
        XCTAssertEqual(curve.streamingBytesPerSecond(bytes: 1234), 25.7e9)
        XCTAssertEqual(curve.bandwidth(bytes: 1 << 30), 1073741824.0 / (4.9e-6 + 1073741824.0 / 25.7e9), accuracy: 1e-3)
    }

    func testInvalidCurvesAreRejected() {
        typealias P = TransferCurve.Point
        XCTAssertThrowsError(try TransferCurve(latencySeconds: 1e-6, points: [P(bytes: 4096, bytesPerSecond: 1e9)]))
        XCTAssertThrowsError(try TransferCurve(latencySeconds: 1e-6, points: [
            P(bytes: 8192, bytesPerSecond: 1e9), P(bytes: 4096, bytesPerSecond: 2e9)]))
        // The 4 KiB copy would take 0.41 us, less than the 5 us latency.
        XCTAssertThrowsError(try TransferCurve(latencySeconds: 5e-6, points: [
            P(bytes: 4096, bytesPerSecond: 10e9), P(bytes: 8192, bytesPerSecond: 10e9)])) { error in
            XCTAssertEqual((error as? TransferCurveError)?.pointIndex, 0)
        }
        // A time that falls by more than 25% from one point to the next is a typo (here 10x the bandwidth)...
        XCTAssertThrowsError(try TransferCurve(latencySeconds: 1e-6, points: [
            P(bytes: 4096, bytesPerSecond: 1e9), P(bytes: 8192, bytesPerSecond: 20e9)])) { error in
            XCTAssertEqual((error as? TransferCurveError)?.pointIndex, 1)
        }
        // ...a small dip is measurement noise: accepted, and the curve holds the higher time.
        let noisy = try? TransferCurve(latencySeconds: 1e-6, points: [
            P(bytes: 4096, bytesPerSecond: 1e9), P(bytes: 8192, bytesPerSecond: 2.2e9), P(bytes: 16384, bytesPerSecond: 4e9)])
        XCTAssertNotNil(noisy)
        if let noisy {
            XCTAssertEqual(noisy.seconds(bytes: 8192), 4096 / 1e9, accuracy: 1e-18)
            XCTAssertEqual(noisy.seconds(bytes: 10000), 4096 / 1e9, accuracy: 1e-18)
            XCTAssertEqual(noisy.seconds(bytes: 16384), 16384 / 4e9, accuracy: 1e-18)
        }
        XCTAssertThrowsError(try TransferCurve(latencySeconds: 1e-6, peakBytesPerSecond: 0))
        XCTAssertThrowsError(try TransferCurve(latencySeconds: -1, peakBytesPerSecond: 1e9))
    }
}
