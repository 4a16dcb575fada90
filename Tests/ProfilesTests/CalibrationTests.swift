import XCTest
@testable import Profiles

final class CalibrationTests: XCTestCase {
    static let example = Shipped.directory + "/calibration/example.json"

    func testExampleLoads() throws {
        let c = try Calibration.load(path: CalibrationTests.example)
        XCTAssertEqual(c.source, "example — not measured")
        XCTAssertEqual(c.device.name, "Example GPU")
        XCTAssertEqual(c.device.sms, 108)
        XCTAssertEqual(c.device.computeCapability, "8.0")
        XCTAssertEqual(c.copies.count, 6)
        XCTAssertEqual(c.copies.last?.direction, .both)
        XCTAssertEqual(c.copies.last?.h2dMedianUs, 2850)
        XCTAssertEqual(c.launch?.medianUs, 2.4)
        XCTAssertEqual(c.smScaling.count, 7)
        XCTAssertEqual(c.coRuns.first?.secondSlowdown ?? 0, 1.7, accuracy: 1e-12)
        XCTAssertEqual(c.gemms.count, 8)
        XCTAssertEqual(c.gemms[0].op, .mlpUpProj)
        XCTAssertEqual(c.gemms[0].medianMs, 0.15)
    }

    func testExampleJoinsPredictionsAsANewGPU() throws {
        var set = Shipped.profiles
        let gpu = try set.add(try Calibration.load(path: CalibrationTests.example))
        XCTAssertEqual(gpu, "Example GPU")
        let model = try CostModel(profiles: set, only: ["example gpu"])
        let d = ModelDims(hidden: 4096, ffn: 14336, gated: true)
        let p = try model.predict(ProfileQuery(gpu: "Example GPU", op: .mlpUpProj, tokens: 128, dims: d))
        XCTAssertEqual(p.ms, 0.2)
        XCTAssertEqual(p.method, .measured)
        // Other shapes come from a fit to the calibration rows alone (few shapes: c0, P, BW only).
        let other = try model.predict(ProfileQuery(gpu: "Example GPU", op: .mlpDownProj, tokens: 2048, dims: ModelDims(hidden: 5120, ffn: 13824, gated: true)))
        XCTAssertEqual(other.method, .fitted)
        XCTAssertGreaterThan(other.ms, 0.2)
        XCTAssertLessThan(other.ms, 5)
        // Operations it did not measure are an error, not a guess.
        XCTAssertThrowsError(try model.predict(ProfileQuery(gpu: "Example GPU", op: .add, tokens: 8, dims: d)))
    }

    func testCalibrationRowsReplaceVidurForTheirShape() throws {
        var set = Shipped.profiles
        let path = Scratch.write("a100-cal.json", minimal(device: "NVIDIA A100-SXM4-80GB", gemms: """
            {"op": "mlp_up_proj", "tokens": 512, "hidden": 2560, "ffn": 10240, "tp": 1, "gated": false, "median_ms": 0.1}
            """))
        XCTAssertEqual(try set.add(try Calibration.load(path: path)), "a100")
        let model = try CostModel(profiles: set, only: ["a100"])
        let phi = ModelDims(hidden: 2560, ffn: 10240, gated: false)
        XCTAssertEqual(try model.predict(ProfileQuery(gpu: "a100", op: .mlpUpProj, tokens: 512, dims: phi)).ms, 0.1)
        // Vidur's 0.126 is no longer used for that shape; 1024 tokens is extrapolated from the calibration point.
        XCTAssertEqual(try model.predict(ProfileQuery(gpu: "a100", op: .mlpUpProj, tokens: 1024, dims: phi)).method, .extrapolated)
    }

    func minimal(device: String = "Test GPU", extra: String = "", gemms: String = "") -> String {
        """
        {"schema": "gpusim-calibration/1", "source": "test",
         "device": {"name": "\(device)", "sms": 108, "memory_bytes": 85899345920, "compute_capability": "8.0",
                    "clock_khz": 1410000, "driver_version": 12040}\(extra),
         "gemms": [\(gemms)]}
        """
    }

    func expectError(_ text: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        let path = Scratch.write("cal-\(line).json", text)
        XCTAssertThrowsError(try Calibration.load(path: path), file: file, line: line) { e in
            XCTAssertEqual("\(e)", "\(path): \(expected)", file: file, line: line)
        }
    }

    func testBadFilesNameTheKeyPath() {
        XCTAssertNoThrow(try Calibration.load(path: Scratch.write("ok.json", minimal())))
        let gemm = #"{"op": "mlp_up_proj", "tokens": 1, "hidden": 4096, "ffn": 14336, "tp": 1, "gated": true, "median_ms": 0.1}"#
        // Unknown key.
        expectError(minimal(gemms: gemm.replacingOccurrences(of: "\"median_ms\"", with: "\"mediam_ms\"")),
                    "$.gemms[0].mediam_ms: unknown key \"mediam_ms\" (expected op, tokens, hidden, ffn, tp, gated, median_ms, p10_ms, p90_ms, repeats, model, n_head, n_kv_head)")
        expectError(minimal(extra: #", "colour": "blue""#),
                    "$.colour: unknown key \"colour\" (expected schema, source, device, tool, created_at, host, notes, copies, launch, sm_scaling, co_runs, gemms)")
        // Negative and zero times.
        expectError(minimal(gemms: gemm.replacingOccurrences(of: "0.1}", with: "-0.1}")),
                    "$.gemms[0].median_ms: expected a positive number, found -0.1")
        expectError(minimal(extra: #", "launch": {"median_us": 0, "p10_us": 1, "p90_us": 2, "repeats": 3}"#),
                    "$.launch.median_us: expected a positive number, found 0")
        // Missing key.
        expectError(minimal(gemms: gemm.replacingOccurrences(of: "\"tp\": 1, ", with: "")), "$.gemms[0]: missing key \"tp\"")
        expectError(#"{"schema": "gpusim-calibration/1", "source": "x"}"#, "$: missing key \"device\"")
        // Wrong schema, type, ordering, shape, duplicate key.
        expectError(minimal().replacingOccurrences(of: "gpusim-calibration/1", with: "gpusim-calibration/2"),
                    "$.schema: expected \"gpusim-calibration/1\", found \"gpusim-calibration/2\"")
        expectError(minimal().replacingOccurrences(of: "\"sms\": 108", with: "\"sms\": \"108\""),
                    "$.device.sms: expected a positive integer, found the string \"108\"")
        expectError(minimal(extra: #", "copies": [{"direction": "h2d", "pinned": true, "bytes": 4096, "median_us": 9, "p10_us": 10, "p90_us": 11, "repeats": 5}]"#),
                    "$.copies[0].p10_us: expected at most the median 9.0, found 10.0")
        expectError(minimal(extra: #", "copies": [{"direction": "up", "pinned": true, "bytes": 4096, "median_us": 9, "p10_us": 8, "p90_us": 11, "repeats": 5}]"#),
                    "$.copies[0].direction: expected one of \"h2d\", \"d2h\", \"d2d\", \"h2d+d2h\", found \"up\"")
        expectError(minimal(gemms: gemm.replacingOccurrences(of: "\"tp\": 1", with: "\"tp\": 3")), "$.gemms[0]: tp 3 does not divide ffn 14336")
        expectError(minimal(gemms: gemm.replacingOccurrences(of: "mlp_up_proj", with: "mlp_act")),
                    "$.gemms[0].op: expected a GEMM operation (attn_pre_proj, attn_post_proj, mlp_up_proj, mlp_down_proj), found \"mlp_act\"")
        expectError(minimal(extra: #", "source": "again""#), "$.source: duplicate key")
        // Not JSON at all: the reader's byte offset.
        expectError("{\"schema\": ", "byte 11: expected a value, found the end of the input")
    }
}
