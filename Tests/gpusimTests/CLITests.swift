import Foundation
import XCTest

/// Runs the built `gpusim` executable as a user would and checks exit status and output.
final class CLITests: XCTestCase {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static var productsDirectory: URL {
        // The test bundle sits beside the executables in the build products directory.
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL
    }

    static func gpusim(_ args: [String], cwd: URL? = nil) throws -> Result {
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent("gpusim")
        p.arguments = args
        if let cwd { p.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }

    /// The repository root (two levels above this file's folder).
    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func testVersionAndHelp() throws {
        let v = try Self.gpusim(["--version"])
        XCTAssertEqual(v.status, 0)
        XCTAssertTrue(v.stdout.range(of: #"^\d+\.\d+\.\d+"#, options: .regularExpression) != nil, v.stdout)
        let h = try Self.gpusim(["--help"])
        XCTAssertEqual(h.status, 0)
        XCTAssertTrue(h.stdout.contains("bench"))
    }

    func testBenchEnginePrintsEventsPerSecond() throws {
        let r = try Self.gpusim(["bench", "engine", "--events", "20000", "--pending", "100"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(line.hasPrefix("events_per_second: "), line)
        let value = Double(line.dropFirst("events_per_second: ".count))
        XCTAssertNotNil(value)
        XCTAssertGreaterThan(value ?? 0, 0)
    }

    func testBenchEngineJSONIsDeterministicInItsChecksum() throws {
        func run() throws -> [String: Any] {
            let r = try Self.gpusim(["bench", "engine", "--events", "5000", "--pending", "50", "--seed", "9", "--format", "json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
        }
        let a = try run(), b = try run()
        XCTAssertEqual(a["events"] as? Int, 5000)
        XCTAssertEqual(a["pending"] as? Int, 50)
        XCTAssertNotNil(a["events_per_second"])
        XCTAssertEqual(a["checksum"] as? UInt64, b["checksum"] as? UInt64)
    }

    func testBadArgumentsGetAClearMessageAndNonZeroExit() throws {
        let cases: [([String], String)] = [
            (["bench", "engine", "--events", "0"], "--events"),
            (["bench", "engine", "--pending", "-5"], "pending"),
            (["bench", "engine", "--events", "many"], "many"),
            (["bench", "engine", "--format", "xml"], "xml"),
            (["no-such-command"], "no-such-command"),
        ]
        for (args, mention) in cases {
            let r = try Self.gpusim(args)
            XCTAssertNotEqual(r.status, 0, "\(args) should fail")
            XCTAssertTrue(r.stderr.contains(mention), "\(args): stderr should mention \(mention): \(r.stderr)")
        }
    }

    func testTraceReplayJSONMatchesMeasurement() throws {
        let r = try Self.gpusim(["trace", "replay", "Traces/kineto/a100-alexnet.json.gz", "--format", "json"], cwd: Self.repoRoot)
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
        for key in ["measured_busy_us", "simulated_busy_us", "measured_span_us", "simulated_span_us", "kernels", "copies"] {
            XCTAssertNotNil(obj[key], "missing \(key)")
        }
        let measured = obj["measured_busy_us"] as? Double ?? 0, simulated = obj["simulated_busy_us"] as? Double ?? -1
        XCTAssertEqual(simulated, measured, accuracy: measured * 0.01)
        XCTAssertEqual(obj["kernels"] as? Int, 79)
        XCTAssertEqual(obj["gpu"] as? String, "A100-SXM4-40GB", "auto picks by SM count and memory for an unlisted A100 name")
    }

    func testTraceCommandsRejectBadInput() throws {
        let unknownGPU = try Self.gpusim(["trace", "replay", "Traces/kineto/a100-alexnet.json.gz", "--gpu", "GTX-480"], cwd: Self.repoRoot)
        XCTAssertNotEqual(unknownGPU.status, 0)
        XCTAssertTrue(unknownGPU.stderr.contains("GTX-480") && unknownGPU.stderr.contains("A100-SXM4-80GB"), unknownGPU.stderr)

        let missing = try Self.gpusim(["trace", "replay", "no/such/trace.json.gz", "--gpu", "H100-SXM5-80GB"], cwd: Self.repoRoot)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("no/such/trace.json.gz"), missing.stderr)

        let notKineto = try Self.gpusim(["trace", "inspect", "Tests/TracesTests/Fixtures/no-trace-events.json"], cwd: Self.repoRoot)
        XCTAssertNotEqual(notKineto.status, 0)
        XCTAssertTrue(notKineto.stderr.contains("no-trace-events.json"), notKineto.stderr)

        let badLatency = try Self.gpusim(["trace", "replay", "Traces/kineto/a100-alexnet.json.gz", "--launch-latency-us", "-3"], cwd: Self.repoRoot)
        XCTAssertNotEqual(badLatency.status, 0)
        XCTAssertTrue(badLatency.stderr.contains("launch-latency-us"), badLatency.stderr)
    }

    func testTraceReplayWithACalibrationProfile() throws {
        let profile = "Traces/profiles/calibration/h100-sxm5-80gb.json"
        let ok = try Self.gpusim(["trace", "replay", "Traces/kineto/a100-alexnet.json.gz", "--gpu", "H100-SXM5-80GB",
                                  "--profile", profile], cwd: Self.repoRoot)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("copies and launch latency from \(profile)"), ok.stdout)

        let wrongGPU = try Self.gpusim(["trace", "replay", "Traces/kineto/a100-alexnet.json.gz", "--profile", profile], cwd: Self.repoRoot)
        XCTAssertNotEqual(wrongGPU.status, 0)
        XCTAssertTrue(wrongGPU.stderr.contains("calibrated on"), wrongGPU.stderr)

        let missing = try Self.gpusim(["trace", "replay", "Traces/kineto/a100-alexnet.json.gz", "--gpu", "H100-SXM5-80GB",
                                       "--profile", "no/such/calibration.json"], cwd: Self.repoRoot)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("no/such/calibration.json"), missing.stderr)
    }
}
