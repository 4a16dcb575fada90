import Hardware
import SimCore
import Tenancy
import XCTest
@testable import Multitask

/// Config validation: bad configs fail with the key path or file named; good ones run.
final class ConfigTests: XCTestCase {
    func yaml(train: String = "trace: Traces/kineto/a100-alexnet.json.gz\n      iterations: 1\n      memory_gib: 20",
              parameters: String = "memory: {mode: admission}", gpu: String = "A100-SXM4-80GB") -> String {
        """
        hardware: {gpu: \(gpu)}
        workload:
          tenants:
            - name: llm
              kind: inference
              priority: latency-critical
              model: Traces/models/llama-2-7b.yaml
              requests: {trace: Traces/requests/azure2023/AzureLLMInferenceTrace_conv.csv.zst, limit: 20}
              batching: {max_batch: 16}
              kv_cache_gib: 10
              slo: {ttft_ms: 1000, tpot_ms: 100}
            - name: train
              kind: training
              priority: best-effort
              \(train)
        parameters:
          \(parameters)
        """
    }

    func expectError(_ text: String, policy: String = "streams", keyPath: String, contains: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parseConfig(text, policy: policy), file: file, line: line) { error in
            guard let e = error as? SettingsError else { return XCTFail("not a SettingsError: \(error)", file: file, line: line) }
            XCTAssertEqual(e.keyPath, keyPath, "\(e)", file: file, line: line)
            XCTAssertTrue(e.description.contains(contains), "\(e)", file: file, line: line)
            XCTAssertTrue(e.description.hasPrefix("test.yaml: "), "\(e)", file: file, line: line)
        }
    }

    func testAGoodConfigParses() throws {
        let c = try parseConfig(yaml(), policy: "timeslice")
        XCTAssertEqual(c.tenants.count, 2)
        XCTAssertEqual(c.policy.name, "timeslice")
        XCTAssertEqual(c.spec.name, "A100-SXM4-80GB")
        if case .inference(let s) = c.tenants[0] {
            XCTAssertEqual(s.kvCapacityTokens, 10 * (1 << 30) / 524_288)
            XCTAssertEqual(s.footprintBytes, 6_738_415_616 * 2 + 10 * (1 << 30))
        } else { XCTFail() }
    }

    func testUnknownPolicyNamesTheKey() {
        expectError(yaml(), policy: "round-robin", keyPath: "policies[0]", contains: "unknown policy 'round-robin'")
    }

    func testMIGLayoutThatDoesNotFitNamesTheKey() {
        expectError(yaml(parameters: "mig: {layout: [4g.40gb, 4g.40gb], assign: {llm: 0, train: 1}}"), policy: "mig",
                    keyPath: "parameters.mig.layout", contains: "does not fit")
        expectError(yaml(parameters: "mig: {layout: [9g.90gb], assign: {llm: 0, train: 0}}"), policy: "mig",
                    keyPath: "parameters.mig.layout", contains: "no MIG profile '9g.90gb'")
        expectError(yaml(parameters: "mig: {layout: [3g.40gb, 3g.40gb], assign: {llm: 0}}"), policy: "mig",
                    keyPath: "parameters.mig.assign", contains: "tenant 'train' is not assigned")
        // A MIG block is checked even when another policy runs.
        expectError(yaml(parameters: "mig: {layout: [7g.80gb, 1g.10gb], assign: {llm: 0, train: 1}}"), policy: "streams",
                    keyPath: "parameters.mig.layout", contains: "does not fit")
    }

    func testFootprintOverCapacityNamesTheTenant() {
        expectError(yaml(train: "trace: Traces/kineto/a100-alexnet.json.gz\n      iterations: 1\n      memory_gib: 90"),
                    keyPath: "workload.tenants[1]", contains: "could never run")
        // In a MIG instance: 2g.20gb holds 19.5 GiB.
        expectError(yaml(parameters: "mig: {layout: [3g.40gb, 2g.20gb], assign: {llm: 0, train: 1}}"), policy: "mig",
                    keyPath: "workload.tenants[1]", contains: "MIG instance 1 2g.20gb")
        // Fixed memory: together they must fit.
        expectError(yaml(train: "trace: Traces/kineto/a100-alexnet.json.gz\n      iterations: 1\n      memory_gib: 70",
                         parameters: "memory: {mode: fixed}"),
                    keyPath: "parameters.memory", contains: "need")
        // Unified memory oversubscribes instead.
        XCTAssertNoThrow(try parseConfig(yaml(train: "trace: Traces/kineto/a100-alexnet.json.gz\n      iterations: 1\n      memory_gib: 90",
                                              parameters: "memory: {mode: unified}"), policy: "streams"))
    }

    func testMissingTraceFileNamesTheFileAndKey() {
        expectError(yaml(train: "trace: Traces/kineto/nope.json.gz\n      iterations: 1\n      memory_gib: 20"),
                    keyPath: "workload.tenants[1].trace", contains: "no such file 'Traces/kineto/nope.json.gz'")
    }

    func testOtherBadValues() {
        expectError(yaml(train: "trace: Traces/kineto/a100-alexnet.json.gz\n      iterations: 0\n      memory_gib: 20"),
                    keyPath: "workload.tenants[1].iterations", contains: "in 1...")
        expectError(yaml(train: "trace: Traces/kineto/a100-alexnet.json.gz\n      iterations: 1\n      memory_gib: 20\n      speed: 2"),
                    keyPath: "workload.tenants[1].speed", contains: "unknown key 'speed'")
        expectError(yaml(parameters: "memory: {mode: swap}"), keyPath: "parameters.memory.mode", contains: "unknown memory mode 'swap'")
        expectError(yaml(parameters: "timeslice: {quantum: tiny}"), policy: "timeslice", keyPath: "parameters.timeslice.quantum",
                    contains: "unknown quantum preset 'tiny'")
        expectError(yaml(parameters: "mps: {active_thread_percentage: {llm: 150}}"), policy: "mps",
                    keyPath: "parameters.mps.active_thread_percentage.llm", contains: "in 1...100")
        expectError(yaml(gpu: "B200"), keyPath: "hardware.gpu", contains: "unknown GPU 'B200'")
    }

    /// A generated training iteration: 50 kernels of exactly 1 ms filling the GPU, 4 iterations
    /// alone: 200 ms.
    func testGeneratedTrainingIterationByHand() throws {
        let text = """
        hardware: {gpu: A100-SXM4-80GB}
        workload:
          tenants:
            - name: synth
              kind: training
              priority: best-effort
              generator: {kernels: 50, kernel_us: {constant: 1000}, ctas: {constant: 108}, ctas_per_sm: 1}
              iterations: 4
              memory_gib: 10
        parameters: {fairness_baseline: none}
        """
        let r = try MultitaskSimulation(try parseConfig(text, policy: "exclusive")).run(seed: 1)
        XCTAssertEqual(r.metric("synth", "iterations"), 4)
        XCTAssertEqual(r.metric("gpu", "makespan_s")!, 0.200, accuracy: 1e-8)
        XCTAssertEqual(r.metric("synth", "kernels"), 200)
        XCTAssertEqual(r.metric("gpu", "sm_utilisation")!, 1, accuracy: 1e-9)
        expectError(text.replacingOccurrences(of: "ctas_per_sm: 1}", with: "ctas_per_sm: 1}\n      trace: x.json.gz"), policy: "exclusive",
                    keyPath: "workload.tenants[0]", contains: "either trace or generator")
    }

    /// The experiment file in Experiments/ expands to every policy on both GPUs and validates.
    func testTheColocationExperimentFileValidates() throws {
        let e = try MultitaskExperiment.load(path: repositoryRoot + "/Experiments/multitask-colocation.yaml")
        XCTAssertEqual(e.runs.count, 16)
        XCTAssertEqual(Set(e.runs.map { $0.config.policy.name }), Set(PolicyChoice.names))
        XCTAssertEqual(e.runs.filter { $0.policyName == "mps-train50" }.count, 2)
        XCTAssertEqual(Set(e.runs.map { $0.config.spec.name }), ["A100-SXM4-80GB", "H100-SXM5-80GB"])
    }

    /// A small co-location end to end through the library entry point: every policy runs, a
    /// second run gives the same metrics, and fairness is in (0, 1].
    func testSmallColocationRunsUnderEveryPolicy() throws {
        for p in PolicyChoice.names {
            let text = yaml(parameters: "memory: {mode: admission}\n  mig: {layout: [4g.40gb, 3g.40gb], assign: {llm: 0, train: 1}}")
            let config = try parseConfig(text, policy: p)
            let a = try MultitaskSimulation(config).run(seed: 1)
            let b = try MultitaskSimulation(config).run(seed: 1)
            XCTAssertEqual(a.metrics, b.metrics, p)
            XCTAssertEqual(a.requests, b.requests, p)
            XCTAssertEqual(a.metric("llm", "requests_finished"), 20, p)
            let j = try XCTUnwrap(a.metric("gpu", "jain_fairness"), p)
            XCTAssertGreaterThan(j, 0, p)
            XCTAssertLessThanOrEqual(j, 1 + 1e-12, p)
            XCTAssertNotNil(a.metric("train", "normalised_progress"), p)
        }
    }
}
