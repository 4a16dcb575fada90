import Benchmark
import Foundation
import Multitask

/// GPU multitasking speed (release builds):
/// - the co-location experiment's runs (Experiments/multitask-colocation.yaml), one per policy on
///   the A100: events per second = the events in the name × throughput (runs per second);
/// - the inference service alone over the first 10,000 Azure-conv requests, continuous batching,
///   Llama-2-7B on an A100 (one kernel per iteration): wall clock and peak memory.
/// Inputs (traces, profiles) are loaded before measuring; isolated baselines are off.
let benchmarks: @Sendable () -> Void = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    guard let experiment = try? MultitaskExperiment.load(path: root + "/Experiments/multitask-colocation.yaml") else {
        fatalError("cannot load Experiments/multitask-colocation.yaml")
    }
    for run in experiment.runs where run.config.spec.name == "A100-SXM4-80GB" {
        var config = run.config
        config.fairnessBaseline = false
        config.requests = false
        let simulation = MultitaskSimulation(config)
        guard let events = try? simulation.run(seed: run.seed).events else { fatalError("\(run.policyName) failed") }
        Benchmark("colocation A100 \(run.policyName) (\(events) events per run)",
                  configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
                                       scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 5)) { _ in
            blackHole(try simulation.run(seed: run.seed).events)
        }
    }

    // The inference service alone, 10,000 requests.
    let yaml = """
    hardware: {gpu: A100-SXM4-80GB}
    workload:
      tenants:
        - name: llm
          kind: inference
          priority: latency-critical
          model: Traces/models/llama-2-7b.yaml
          requests: {trace: Traces/requests/azure2023/AzureLLMInferenceTrace_conv.csv.zst, limit: 10000}
          batching: {max_batch: 64, max_tokens: 8192}
          kv_cache_gib: 20
          granularity: iteration
          slo: {ttft_ms: 500, tpot_ms: 50}
    parameters:
      fairness_baseline: none
    """
    guard let node = try? SettingsNode.parse(yaml: yaml, file: "benchmark"),
          case .map(let sections) = node.value,
          var config = try? MultitaskConfig.parse(hardware: sections[0].node, workload: sections[1].node, parameters: sections[2].node,
                                                  policy: "exclusive", policyNode: node, baseDirectory: root, file: "benchmark") else {
        fatalError("benchmark config")
    }
    config.requests = false
    let alone = MultitaskSimulation(config)
    guard let events = try? alone.run(seed: 1).events else { fatalError("inference run failed") }
    Benchmark("inference alone, 10,000 Azure-conv requests, Llama-2-7B on A100 (\(events) events)",
              configuration: .init(metrics: [.wallClock, .throughput, .peakMemoryResident, .mallocCountTotal],
                                   scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 10)) { _ in
        blackHole(try alone.run(seed: 1).events)
    }
}
