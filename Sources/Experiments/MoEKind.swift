// Simulation kind `moe`: MoE expert-offloading serving runs (the MoE module's MoESimulation).
//
//   hardware:   gpu: NAME, gpus: N (expert parallelism), host_memory: pinned|pageable
//   workload:   model: NAME, generator: FILE | routing_trace: FILE, warm_requests: N,
//               test_requests: N, arrivals: closed | trace | {poisson: RATE} | {request_trace: FILE, rate: RATE}
//   parameters: expert_cache_gb: X, max_batch: N, policy_params: {POLICY: {...}} (only the run's policy's entry applies)
//   policies:   resident, ondemand-layer, lru, moe-infinity, promoe, fmoe, oracle (Docs/moe.md)
//
// The sections are flattened into the MoE module's run config (MoERunConfig) and validated by it;
// its errors are reported at the key path of this file (a grid entry for a grid value). A run
// whose expert cache cannot hold one layer's experts is recorded as infeasible, not run.
// Data (models, generators, GPUs): the `Traces` folder found from the config's directory upward,
// or $GPUSIM_DATA.

import Foundation
import Hardware
import MoE
import Results
import Yams

public enum MoEKind: SimulationKind {
    public static let name = "moe"
    public static let summary = "MoE expert offloading: serving with an expert cache and an offload/prefetch policy"

    public static let policies: [PolicyInfo] = [
        PolicyInfo("resident", "every expert in GPU memory (the upper bound when it fits)"),
        PolicyInfo("ondemand-layer", "DeepSpeed-Inference: a layer's experts loaded when the layer is reached"),
        PolicyInfo("lru", "Mixtral-Offloading: LRU expert cache with next-layer speculative prefetch"),
        PolicyInfo("moe-infinity", "MoE-Infinity: request-level expert activation matrices"),
        PolicyInfo("promoe", "ProMoE: stride-based speculative prefetch"),
        PolicyInfo("fmoe", "fMoE: fine-grained expert maps, semantic and trajectory search"),
        PolicyInfo("oracle", "perfect future knowledge (Belady eviction, perfect prefetch)"),
    ]

    static let seconds = Tolerance(abs: 1e-9, rel: 1e-6)
    static let count = Tolerance.exact
    static let ratio = Tolerance(abs: 1e-9, rel: 0)

    public static let metrics: [MetricInfo] = {
        var m: [MetricInfo] = [
            MetricInfo("requests", unit: "", "test requests served", tolerance: count),
            MetricInfo("tokens", unit: "", "tokens generated", tolerance: count),
        ]
        for (n, what) in [("ttft", "time to first token"), ("tpot", "time per output token"), ("e2e", "end-to-end latency")] {
            for s in ["mean", "p50", "p90", "p99"] {
                m.append(MetricInfo("\(n)_\(s)_s", unit: "s", "\(what), \(s)", tolerance: seconds))
            }
        }
        m += [
            MetricInfo("accesses", unit: "", "expert accesses", tolerance: count),
            MetricInfo("hits", unit: "", "accesses that found the expert resident", tolerance: count),
            MetricInfo("misses", unit: "", "accesses that had to wait for the expert", tolerance: count),
            MetricInfo("hit_rate", unit: "", "hits / accesses", tolerance: ratio),
            MetricInfo("late_prefetch_misses", unit: "", "misses on experts whose prefetch had not finished", tolerance: count),
            MetricInfo("demand_loads", unit: "", "experts loaded on demand", tolerance: count),
            MetricInfo("prefetches", unit: "", "experts prefetched", tolerance: count),
            MetricInfo("useful_prefetches", unit: "", "prefetched experts used before eviction", tolerance: count),
            MetricInfo("prefetch_precision", unit: "", "useful prefetches / prefetches", tolerance: ratio),
            MetricInfo("prefetch_recall", unit: "", "useful prefetches / accesses", tolerance: ratio),
            MetricInfo("evictions", unit: "", "experts evicted", tolerance: count),
            MetricInfo("pcie_bytes", unit: "B", "bytes over PCIe", tolerance: count),
            MetricInfo("expert_bytes", unit: "B", "bytes per expert", tolerance: count),
            MetricInfo("expert_cache_slots", unit: "", "expert slots over all GPUs", tolerance: count),
            MetricInfo("expert_memory_avg_bytes", unit: "B", "GPU memory held by experts, time average", tolerance: seconds),
            MetricInfo("expert_memory_peak_bytes", unit: "B", "GPU memory held by experts, peak", tolerance: count),
            MetricInfo("stall_s", unit: "s", "time stalled on expert loads", tolerance: seconds),
            MetricInfo("iterations", unit: "", "serving iterations", tolerance: count),
            MetricInfo("makespan_s", unit: "s", "first arrival to last finish", tolerance: seconds),
        ]
        return m
    }()

    // MARK: flattening

    /// The run config mapping of the MoE module, built from the sections, and where each of its
    /// key paths was written in the experiment file.
    struct Flat {
        var entries: [ConfigEntry] = []
        var workload: [ConfigEntry] = []
        var origin: [String: ConfigNode] = [:]
    }

    static func flatten(_ spec: RunSpec) throws -> Flat {
        var f = Flat()
        let hw = try ConfigMap(spec.hardware, file: spec.file, what: "a mapping {gpu, gpus, host_memory}")
        try hw.expectKeys(["gpu", "gpus", "host_memory"])
        for e in hw.entries { f.entries.append(e); f.origin[e.key] = e.node }
        let wl = try ConfigMap(spec.workload, file: spec.file, what: "a mapping {model, generator | routing_trace, warm_requests, test_requests, arrivals}")
        try wl.expectKeys(["model", "routing_trace", "generator", "warm_requests", "test_requests", "arrivals"])
        for e in wl.entries {
            if e.key == "model" {
                f.entries.append(e)
                f.origin["model"] = e.node
            } else {
                f.workload.append(e)
                f.origin["workload." + e.key] = e.node
            }
        }
        f.origin["workload"] = spec.workload
        let pm = try ConfigMap(spec.parameters, file: spec.file, what: "a mapping {expert_cache_gb, max_batch, policy_params}")
        try pm.expectKeys(["expert_cache_gb", "max_batch", "policy_params"])
        for e in pm.entries {
            if e.key == "policy_params" {
                let pp = try ConfigMap(e.node, file: spec.file, what: "a mapping of policy → its parameters")
                let known = Self.policies.map(\.name)
                try pp.expectKeys(known)
                if let mine = pp.entries.first(where: { $0.key == spec.policy }) {
                    f.entries.append(ConfigEntry(key: "policy_params", node: mine.node))
                    f.origin["policy_params"] = mine.node
                }
            } else {
                f.entries.append(e)
                f.origin[e.key] = e.node
            }
        }
        f.entries.append(ConfigEntry(key: "policy", node: ConfigNode(.string(spec.policy), path: spec.policyPath)))
        f.origin["policy"] = ConfigNode(.string(spec.policy), path: spec.policyPath)
        f.entries.append(ConfigEntry(key: "workload", node: ConfigNode(.map(f.workload), path: spec.workload.path)))
        return f
    }

    /// A Yams node for a config value (explicit tags: a quoted "5" stays a string).
    static func yaml(_ n: ConfigNode) -> Node {
        switch n.value {
        case .null: return Node("null", Tag(.null), .plain)
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool), .plain)
        case .int(let i): return Node(String(i), Tag(.int), .plain)
        case .double(let d): return Node(d.description, Tag(.float), .plain)
        case .string(let s): return Node(s, Tag(.str), .doubleQuoted)
        case .list(let l): return Node(l.map(yaml))
        case .map(let m): return Node(m.map { (Node($0.key, Tag(.str), .plain), yaml($0.node)) })
        }
    }

    /// A Yams node from the stored canonical JSON.
    static func yaml(_ j: CanonicalJSON) -> Node {
        switch j {
        case .null: return Node("null", Tag(.null), .plain)
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool), .plain)
        case .number(let t): return Node(t, Tag(Int(t) != nil ? .int : .float), .plain)
        case .string(let s): return Node(s, Tag(.str), .doubleQuoted)
        case .array(let a): return Node(a.map(yaml))
        case .object(let o): return Node(o.keys.sorted().map { (Node($0, Tag(.str), .plain), yaml(o[$0]!)) })
        }
    }

    /// Reports an error of the MoE module at this file's key path.
    static func translate(_ e: MoEConfigError, _ flat: Flat, file: String) -> ConfigError {
        var key = e.keyPath
        var rest: [String] = []
        while !key.isEmpty {
            if let n = flat.origin[key] {
                let suffix = rest.isEmpty ? "" : "." + rest.reversed().joined(separator: ".")
                return ConfigError(file: file, keyPath: n.path + suffix, message: e.message, line: n.line)
            }
            let parts = key.split(separator: ".")
            rest.append(String(parts.last!))
            key = parts.dropLast().joined(separator: ".")
        }
        return ConfigError(file: file, keyPath: "", message: e.description)
    }

    static func environment(_ context: KindContext) throws -> MoEEnvironment {
        try context.cached("moe.environment") {
            try MoEEnvironment(dataRoot: try MoEData.defaultRoot(currentDirectory: context.baseDirectory.path))
        }
    }

    static func digest(_ path: String, _ context: KindContext) throws -> String {
        try context.cached("moe.sha:" + path) { try SHA256.hex(fileAt: path) }
    }

    // MARK: SimulationKind

    public static func resolve(_ spec: RunSpec, context: KindContext) throws -> CanonicalJSON {
        let flat = try flatten(spec)
        let node = ConfigNode(.map(flat.entries), path: "")
        let base = context.baseDirectory.path
        let config: MoERunConfig
        let env: MoEEnvironment
        do {
            config = try MoERunConfig.parse(node: yaml(node), file: spec.file, keyPath: "", baseDirectory: base)
            env = try environment(context)
            _ = try MoESimulation(config: config, environment: env)
        } catch let e as MoEConfigError {
            throw translate(e, flat, file: spec.file)
        }
        // Input files enter the run's identity through their digests.
        var inputs: [String: CanonicalJSON] = [:]
        func add(_ key: String, _ path: String) throws {
            do { inputs[key] = .string(try digest(path, context)) } catch {
                let n = flat.origin["workload." + key] ?? flat.origin["workload"]!
                throw ConfigError(file: spec.file, keyPath: n.path, message: "cannot read \(path): \(error.localizedDescription)", line: n.line)
            }
        }
        switch config.workload {
        case .trace(let p): try add("routing_trace", p)
        case .generator(let p): try add("generator", p)
        }
        if case .requestTrace(let p, _) = config.arrivals { try add("arrivals", p) }
        if let gpu = try? env.gpus.spec(named: config.gpu) {
            inputs["gpu_file"] = .string(try digest(env.gpus.directory.appendingPathComponent(gpu.file).path, context))
        }
        return .object(["run": node.json, "input_sha256": .object(inputs)])
    }

    public static func run(config json: CanonicalJSON, seed: UInt64, options: RunOptions, context: KindContext) throws -> RunOutput {
        guard let run = json["run"] else { throw KindRunError(message: "moe config without 'run': \(json.text.prefix(200))") }
        let config = try MoERunConfig.parse(node: yaml(run), file: context.file, keyPath: "", baseDirectory: context.baseDirectory.path)
        let sim = try MoESimulation(config: config, environment: try environment(context))
        do {
            _ = try sim.cacheSlots()
        } catch let e as MoEConfigError where e.keyPath == "expert_cache_gb" {
            throw RunInfeasible(reason: e.message)
        }
        let r = try sim.run(seed: seed)
        var out = RunOutput(metrics: r.metrics.map { MetricRow(tenant: $0.tenant, name: $0.name, value: $0.value) })
        if options.requests {
            out.requests = r.requests.map {
                RequestRow(tenant: sim.tenant, request: Int64(bitPattern: $0.id), arrivalNs: $0.arrival.nanoseconds,
                           firstTokenNs: $0.firstToken.nanoseconds, finishNs: $0.finish.nanoseconds,
                           inputTokens: Int64($0.inputTokens), outputTokens: Int64($0.outputTokens))
            }
        }
        return out
    }
}
