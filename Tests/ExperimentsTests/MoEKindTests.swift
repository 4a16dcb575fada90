import Foundation
import XCTest
@testable import Experiments

/// The `moe` kind: sections flattened into the MoE module's run config, its errors reported at
/// this file's key paths. (Validation only: MoE runs are the MoE module's tests, and slow in debug.)
final class MoEKindTests: XCTestCase {
    static let generator = Fixture.root.appendingPathComponent("Traces/moe/generators/mixtral-8x7b.yaml").path

    static func yaml(_ replace: [(String, String)] = []) -> String {
        var y = """
        format: gpusim-experiment/1
        name: moe-small
        kind: moe
        hardware: {gpu: A100-SXM4-80GB, gpus: 1}
        workload:
          model: Mixtral-8x7B
          generator: \(generator)
          warm_requests: 2
          test_requests: 2
          arrivals: closed
        parameters:
          expert_cache_gb: 24
          max_batch: 1
          policy_params: {fmoe: {store_capacity: 50}}
        policies: [lru, fmoe, oracle]
        grid:
          cartesian: {parameters.expert_cache_gb: [12, 24]}
        seeds: [1]
        """
        for (a, b) in replace { y = y.replacingOccurrences(of: a, with: b) }
        return y
    }

    func testAValidMoEExperimentExpands() throws {
        let e = try Fixture.experiment(Self.yaml())
        XCTAssertEqual(e.kind.name, "moe")
        XCTAssertEqual(e.runs.count, 2 * 3)
        // Only the run's own policy's parameters enter its config.
        let lru = try XCTUnwrap(e.runs.first { $0.policy == "lru" })
        let fmoe = try XCTUnwrap(e.runs.first { $0.policy == "fmoe" })
        XCTAssertEqual(fmoe.kindConfig["run"]?["policy_params"]?["store_capacity"]?.text, "50")
        XCTAssertNil(lru.kindConfig["run"]?["policy_params"])
        XCTAssertNotNil(lru.kindConfig["input_sha256"]?["generator"]?.stringValue)
    }

    func testMoEErrorsNameThisFilesKeyPaths() throws {
        let cases: [([(String, String)], String, String)] = [
            ([("model: Mixtral-8x7B", "model: Mixtral-9x9B")], "workload.model", "Mixtral-9x9B"),
            ([("gpus: 1", "gpus: 0")], "hardware.gpus", "whole number"),
            ([("test_requests: 2", "test_requests: two")], "workload.test_requests", "whole number"),
            ([("[12, 24]", "[12, -1]")], "grid.cartesian.parameters.expert_cache_gb[1]", "≥ 0"),
            ([("arrivals: closed", "arrivals: sometimes")], "workload.arrivals", "expected 'closed'"),
            ([("policy_params: {fmoe:", "policy_params: {fmeo:")], "parameters.policy_params.fmeo", "unknown key 'fmeo'"),
            ([("store_capacity: 50", "store_capacity: 0")], "parameters.policy_params.fmoe.store_capacity", "1...1000000"),
            ([("  max_batch: 1\n", "  max_batch: 1\n  speed: 3\n")], "parameters.speed", "unknown key 'speed'"),
            ([("[lru, fmoe, oracle]", "[lru, belady]")], "policies[1]", "unknown policy 'belady'"),
            ([("gpu: A100-SXM4-80GB", "gpu: TPU-v5")], "hardware.gpu", "TPU-v5"),
        ]
        for (replace, path, words) in cases {
            XCTAssertThrowsError(try Fixture.experiment(Self.yaml(replace), file: "moe.yaml"), path) { e in
                guard let ce = e as? ConfigError else { return XCTFail("\(path): \(e)") }
                XCTAssertEqual(ce.keyPath, path, ce.description)
                XCTAssertTrue(ce.description.contains(words), "\(path): '\(words)' not in \(ce.description)")
            }
        }
    }
}
