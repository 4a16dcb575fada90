import XCTest
import Yams
@testable import MoE

final class ConfigTests: XCTestCase {
    let base = """
    model: Mixtral-8x7B
    gpu: RTX-3090
    gpus: 6
    expert_cache_gb: 24
    policy: fmoe
    policy_params: {store_capacity: 500}
    workload:
      generator: gen.yaml
      warm_requests: 10
      test_requests: 4
      arrivals: {poisson: 2.0}
    """

    func parse(_ yaml: String) throws -> MoERunConfig {
        try MoERunConfig.parse(node: try Yams.compose(yaml: yaml)!, file: "run.yaml", keyPath: "", baseDirectory: "/base")
    }

    func testParsesAndResolvesPaths() throws {
        let c = try parse(base)
        XCTAssertEqual(c.gpus, 6)
        XCTAssertEqual(c.policyParams.storeCapacity, 500)
        XCTAssertEqual(c.workload, .generator(path: "/base/gen.yaml"))
        XCTAssertEqual(c.arrivals, .poisson(rate: 2))
        XCTAssertEqual(c.warmRequests, 10)
    }

    func testBadValuesNameTheKeyPath() throws {
        let cases: [(String, String, String)] = [
            (base.replacingOccurrences(of: "policy: fmoe", with: "policy: fifo"), "policy", "unknown policy 'fifo'"),
            (base.replacingOccurrences(of: "{store_capacity: 500}", with: "{store_capacity: 500, stride: 2}"), "policy_params.stride", "unknown key"),
            (base.replacingOccurrences(of: "expert_cache_gb: 24", with: "expert_cache_gb: -1"), "expert_cache_gb", "≥ 0"),
            (base.replacingOccurrences(of: "test_requests: 4", with: "test_requests: 0"), "workload.test_requests", "≥ 1"),
            (base.replacingOccurrences(of: "generator: gen.yaml", with: "generator: gen.yaml\n  routing_trace: t.zst"), "workload", "not both"),
            (base.replacingOccurrences(of: "arrivals: {poisson: 2.0}", with: "arrivals: sometimes"), "workload.arrivals", "expected 'closed'"),
            (base.replacingOccurrences(of: "gpus: 6", with: "gpus: 6\ncolour: red"), "colour", "unknown key"),
        ]
        for (yaml, key, message) in cases {
            XCTAssertThrowsError(try parse(yaml)) { e in
                guard let ce = e as? MoEConfigError else { return XCTFail("\(e)") }
                XCTAssertEqual(ce.file, "run.yaml")
                XCTAssertEqual(ce.keyPath, key, "\(ce)")
                XCTAssertTrue(ce.message.contains(message), "\(ce)")
            }
        }
    }

    func testBudgetsThatCannotWorkAreRejected() throws {
        let env = try Fixture.environment()
        let g = try Fixture.smallGenerator(model: "Mixtral-8x7B", name: "budget.yaml")
        // 1 GB holds 2 Mixtral experts: a layer needs 8.
        XCTAssertThrowsError(try MoESimulation(config: Fixture.config(generator: g, policy: "lru", budgetGB: 1), environment: env).run(seed: 1)) { e in
            guard let ce = e as? MoEConfigError else { return XCTFail("\(e)") }
            XCTAssertEqual(ce.keyPath, "expert_cache_gb")
            XCTAssertTrue(ce.message.contains("at least 2.82 GB"), "\(ce)")
        }
        // Every Mixtral expert (90 GB) does not fit one A100-80GB.
        XCTAssertThrowsError(try MoESimulation(config: Fixture.config(generator: g, policy: "resident"), environment: env).cacheSlots()) { e in
            XCTAssertTrue("\(e)".contains("A100-SXM4-80GB has"), "\(e)")
        }
        // A trace for another model.
        let other = try Fixture.smallGenerator(model: "Phi-3.5-MoE", name: "phi-for-mix.yaml")
        XCTAssertThrowsError(try MoESimulation(config: Fixture.config(generator: other, policy: "lru"), environment: env).run(seed: 1)) { e in
            XCTAssertTrue("\(e)".contains("generator parameters are for 'Phi-3.5-MoE'"), "\(e)")
        }
    }

    func testTheEvaluationFileExpands() throws {
        let spec = try MoEEvaluationSpec.load(path: Fixture.root.appendingPathComponent("Experiments/fmoe-eval.yaml").path)
        // 3 models × 9 policies (7 + 2 variants) × (5 budgets on the 3090s + 5 on the A100 + 1 online).
        XCTAssertEqual(spec.runs.count, 3 * 9 * 11)
        XCTAssertEqual(spec.runs.filter(\.online).count, 27)
        let variant = try XCTUnwrap(spec.runs.first { $0.label == "lru-oracle80" })
        XCTAssertEqual(variant.config.policy, "lru")
        XCTAssertEqual(variant.config.policyParams.predictor, .noisyOracle)
        XCTAssertEqual(variant.config.policyParams.nextLayerAccuracy, 0.8)
        XCTAssertEqual(Set(spec.runs.map(\.testbed)), ["6x RTX-3090", "A100-SXM4-80GB"])
        for r in spec.runs where r.online {
            XCTAssertEqual(r.config.testRequests, 256)
            XCTAssertEqual(r.config.warmRequests, 0)
        }
        let budgets = Set(spec.runs.filter { !$0.online && $0.config.gpus == 6 }.map(\.config.expertCacheGB))
        XCTAssertEqual(budgets, [6, 12, 24, 48, 96])
    }
}
