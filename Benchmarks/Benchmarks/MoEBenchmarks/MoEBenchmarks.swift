import Benchmark
import Foundation
import MoE

// The MoE serving loop at scale: Mixtral-8x7B at batch 1, requests of 37 prompt and 128 output
// tokens from the routing generator (streamed: one request in memory at a time). One iteration =
// one whole run.
// - resident on an H200 (every expert fits): the loop itself, ~34 events per token;
// - lru / fmoe / oracle on one A100-SXM4-80GB with a 24 GB expert cache: heavy offloading, ~44
//   (lru) expert copies over PCIe per token, each a fluid flow.
//
// Figures to read: wall clock per run (target: 1 M output tokens in ≤ 10 s on one core) and peak
// resident memory, which must not grow from the 100 k-token run to the 1 M-token run.

/// The data folder: $GPUSIM_DATA, else the repository's Traces (this file is
/// Benchmarks/Benchmarks/MoEBenchmarks/MoEBenchmarks.swift).
let dataRoot: URL = {
    if let d = ProcessInfo.processInfo.environment["GPUSIM_DATA"], !d.isEmpty { return URL(fileURLWithPath: d) }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Traces")
}()

/// Fixed-length requests: 37 prompt tokens, 128 output tokens (cv 0), LMSYS-like routing.
func generatorFile() throws -> String {
    let base = try String(contentsOf: dataRoot.appendingPathComponent("moe/generators/mixtral-8x7b.yaml"), encoding: .utf8)
    var lines: [String] = []
    for l in base.split(separator: "\n", omittingEmptySubsequences: false) {
        if l.hasPrefix("input_tokens:") { lines.append("input_tokens: {mean: 37, cv: 0, max: 37}") }
        else if l.hasPrefix("output_tokens:") { lines.append("output_tokens: {mean: 128, cv: 0, max: 128}") }
        else { lines.append(String(l)) }
    }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("moe-bench-mixtral.yaml").path
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

func run(policy: String, outputTokens: Int, environment: MoEEnvironment, generator: String) throws -> MoERunResult {
    var c = MoERunConfig(model: "Mixtral-8x7B", gpu: policy == "resident" ? "H200" : "A100-SXM4-80GB", expertCacheGB: 24, policy: policy,
                         workload: .generator(path: generator), testRequests: outputTokens / 128)
    c.maxBatch = 1
    if policy == "fmoe" || policy == "moe-infinity" { c.warmRequests = 150 }
    return try MoESimulation(config: c, environment: environment).run(seed: 1)
}

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .peakMemoryResident, .mallocCountTotal]
    let environment = try! MoEEnvironment(dataRoot: dataRoot)
    let generator = try! generatorFile()
    for (policy, tokens) in [("resident", 100_000), ("resident", 1_000_000), ("lru", 100_000), ("lru", 1_000_000),
                             ("fmoe", 100_000), ("oracle", 1_000_000)] {
        Benchmark("Mixtral-8x7B batch 1, \(tokens / 1000)k output tokens, \(policy)\(policy == "resident" ? " (H200)" : " (A100, 24 GB cache)")",
                  configuration: .init(metrics: metrics, scalingFactor: .one, maxDuration: .seconds(60), maxIterations: 3)) { benchmark in
            for _ in benchmark.scaledIterations {
                let r = try! run(policy: policy, outputTokens: tokens, environment: environment, generator: generator)
                blackHole(r.metric("tokens"))
            }
        }
    }
}
