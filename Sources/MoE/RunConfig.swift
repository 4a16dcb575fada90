// The configuration of one MoE serving run (the MoE section of an experiment), validated
// strictly: unknown keys, wrong types and out-of-range values are errors naming the key path.

import Foundation
import Yams

/// Which requests a run serves.
public enum MoEWorkloadSource: Sendable, Equatable {
    /// A routing trace file (gpusim-routing/1, plain, .gz or .zst).
    case trace(path: String)
    /// The routing generator with a parameter file; requests come from the run's seed.
    case generator(path: String)
}

/// How request arrivals are timed, as configured.
public enum MoEArrivalConfig: Sendable, Equatable {
    /// Closed loop: `max_batch` requests in the system at once (batch 1: one after another).
    case closed
    /// The routing trace's own arrival times.
    case trace
    /// Poisson arrivals at `rate` requests/s.
    case poisson(rate: Double)
    /// The first requests' timestamps of a request trace (Azure CSV / Mooncake JSONL), scaled in
    /// time so that the mean rate is `rate` requests/s.
    case requestTrace(path: String, rate: Double)
}

/// Policy parameters (each policy reads its own; defaults documented in Docs/moe.md).
public struct MoEPolicyParams: Sendable, Equatable {
    /// lru and promoe: how later layers' experts are guessed.
    public var predictor: MoEPredictor = .learned
    /// lru with the noisy-oracle predictor: accuracy of the next-layer guess.
    public var nextLayerAccuracy: Double = 0.8
    /// promoe: prefetch stride (layers ahead) and predictor accuracy per expert.
    public var stride: Int = 2
    public var strideAccuracy: Double = 0.75
    /// moe-infinity: EAM collection capacity and prefetch coverage of a layer's activation ratio.
    public var eamCapacity: Int = 1000
    public var coverage: Double = 0.9
    /// fmoe: prefetch distance d (nil: the model's, DESIGN.md §6) and map-store capacity C.
    public var prefetchDistance: Int? = nil
    public var storeCapacity: Int = 1000
    public init() {}
}

public struct MoERunConfig: Sendable, Equatable {
    public static let policies = ["resident", "ondemand-layer", "lru", "moe-infinity", "promoe", "fmoe", "oracle"]

    public var model: String
    public var gpu: String
    /// GPUs for expert parallelism: experts round-robin over them, each with its own PCIe link.
    public var gpus: Int = 1
    /// Expert-cache budget over all GPUs, in GB (10^9 bytes).
    public var expertCacheGB: Double
    public var hostMemory: String = "pinned"
    public var policy: String
    public var policyParams = MoEPolicyParams()
    /// 1: the fMoE evaluation's batch size; more: continuous batching.
    public var maxBatch: Int = 1
    public var workload: MoEWorkloadSource
    /// Requests that only warm history-based policies (fmoe's map store, moe-infinity's EAMs).
    public var warmRequests: Int = 0
    public var testRequests: Int
    public var arrivals: MoEArrivalConfig = .closed
    /// Where the config came from (for messages).
    public var file: String = "<config>"

    public init(model: String, gpu: String, expertCacheGB: Double, policy: String, workload: MoEWorkloadSource,
                testRequests: Int) {
        self.model = model
        self.gpu = gpu
        self.expertCacheGB = expertCacheGB
        self.policy = policy
        self.workload = workload
        self.testRequests = testRequests
    }

    /// Checks a config built in code (the YAML parser checks the same as it reads). Errors name
    /// the key as the YAML form spells it.
    public func validate() throws {
        func bad(_ key: String, _ m: String) -> MoEConfigError { MoEConfigError(file: file, keyPath: key, message: m) }
        guard MoERunConfig.policies.contains(policy) else {
            throw bad("policy", "unknown policy '\(policy)' (expected one of: \(MoERunConfig.policies.joined(separator: ", ")))")
        }
        guard gpus >= 1 && gpus <= 64 else { throw bad("gpus", "expected a whole number in 1...64, got \(gpus)") }
        guard expertCacheGB.isFinite && expertCacheGB >= 0 else { throw bad("expert_cache_gb", "expected a number ≥ 0, got \(expertCacheGB)") }
        guard hostMemory == "pinned" || hostMemory == "pageable" else { throw bad("host_memory", "expected 'pinned' or 'pageable', got '\(hostMemory)'") }
        guard maxBatch >= 1 && maxBatch <= 4096 else { throw bad("max_batch", "expected a whole number in 1...4096, got \(maxBatch)") }
        guard warmRequests >= 0 else { throw bad("workload.warm_requests", "expected a whole number ≥ 0, got \(warmRequests)") }
        guard testRequests >= 1 else { throw bad("workload.test_requests", "expected a whole number ≥ 1, got \(testRequests)") }
        let p = policyParams
        guard (0...1).contains(p.nextLayerAccuracy) else { throw bad("policy_params.next_layer_accuracy", "expected a number in 0...1, got \(p.nextLayerAccuracy)") }
        guard p.stride >= 1 else { throw bad("policy_params.stride", "expected a whole number ≥ 1, got \(p.stride)") }
        guard (0...1).contains(p.strideAccuracy) else { throw bad("policy_params.accuracy", "expected a number in 0...1, got \(p.strideAccuracy)") }
        guard p.eamCapacity >= 1 else { throw bad("policy_params.eam_capacity", "expected a whole number ≥ 1, got \(p.eamCapacity)") }
        guard (0...1).contains(p.coverage) else { throw bad("policy_params.coverage", "expected a number in 0...1, got \(p.coverage)") }
        if let d = p.prefetchDistance, d < 1 { throw bad("policy_params.prefetch_distance", "expected a whole number ≥ 1, got \(d)") }
        guard p.storeCapacity >= 1 else { throw bad("policy_params.store_capacity", "expected a whole number ≥ 1, got \(p.storeCapacity)") }
        switch arrivals {
        case .poisson(let r), .requestTrace(_, let r):
            guard r.isFinite && r > 0 else { throw bad("workload.arrivals", "expected a rate > 0 requests/s, got \(r)") }
        default: break
        }
    }

    public static let knownKeys = ["model", "gpu", "gpus", "expert_cache_gb", "host_memory", "policy", "policy_params",
                                   "max_batch", "workload"]

    /// Parses a YAML file holding one run config.
    public static func load(path: String, baseDirectory: String? = nil) throws -> MoERunConfig {
        let file = path
        let node = try composeYAML(try readTextFile(path), file: file)
        return try parse(node: node, file: file, keyPath: "",
                         baseDirectory: baseDirectory ?? FileManager.default.currentDirectoryPath)
    }

    /// Parses a YAML mapping (e.g. the `moe` section of an experiment); errors name `file` and
    /// key paths under `keyPath`. Relative paths resolve against `baseDirectory`.
    public static func parse(node: Node, file: String, keyPath: String, baseDirectory: String) throws -> MoERunConfig {
        let r = try YAMLMap(node, path: keyPath, file: file)
        func path(_ p: String) -> String {
            p.hasPrefix("/") ? p : (baseDirectory as NSString).appendingPathComponent(p)
        }
        let model = try r.string("model")
        let gpu = try r.string("gpu")
        let gpus = try r.optionalInt("gpus", min: 1, max: 64) ?? 1
        let budget = try r.double("expert_cache_gb", min: 0)
        let host = try r.optionalString("host_memory") ?? "pinned"
        guard host == "pinned" || host == "pageable" else { throw r.error("host_memory", "expected 'pinned' or 'pageable', got '\(host)'") }
        let policy = try r.string("policy")
        guard policies.contains(policy) else {
            throw r.error("policy", "unknown policy '\(policy)' (expected one of: \(policies.joined(separator: ", ")))")
        }
        var params = MoEPolicyParams()
        if let p = try r.optionalMap("policy_params") {
            var known: [String] = []
            switch policy {
            case "lru", "promoe":
                if let name = try p.optionalString("predictor") {
                    guard let pr = MoEPredictor(rawValue: name) else {
                        throw p.error("predictor", "expected 'learned' or 'noisy-oracle', got '\(name)'")
                    }
                    params.predictor = pr
                }
                let accuracyKey = policy == "lru" ? "next_layer_accuracy" : "accuracy"
                if let a = try p.optionalDouble(accuracyKey, min: 0, max: 1) {
                    guard params.predictor == .noisyOracle else {
                        throw p.error(accuracyKey, "applies only with predictor: noisy-oracle (the learned predictor's accuracy comes from the trace)")
                    }
                    if policy == "lru" { params.nextLayerAccuracy = a } else { params.strideAccuracy = a }
                }
                known = ["predictor", accuracyKey]
                if policy == "promoe" {
                    params.stride = try p.optionalInt("stride", min: 1) ?? params.stride
                    known.append("stride")
                }
            case "moe-infinity":
                known = ["eam_capacity", "coverage"]
                params.eamCapacity = try p.optionalInt("eam_capacity", min: 1, max: 1_000_000) ?? params.eamCapacity
                params.coverage = try p.optionalDouble("coverage", min: 0, max: 1) ?? params.coverage
            case "fmoe":
                known = ["prefetch_distance", "store_capacity"]
                params.prefetchDistance = try p.optionalInt("prefetch_distance", min: 1)
                params.storeCapacity = try p.optionalInt("store_capacity", min: 1, max: 1_000_000) ?? params.storeCapacity
            default:
                known = []
            }
            try p.finish(known: known.isEmpty ? ["(none: policy '\(policy)' takes no parameters)"] : known)
        }
        let maxBatch = try r.optionalInt("max_batch", min: 1, max: 4096) ?? 1
        let w = try r.map("workload")
        let source: MoEWorkloadSource
        switch (w.has("routing_trace"), w.has("generator")) {
        case (true, false): source = .trace(path: path(try w.string("routing_trace")))
        case (false, true): source = .generator(path: path(try w.string("generator")))
        case (true, true): throw w.error(nil, "give either 'routing_trace' or 'generator', not both")
        case (false, false): throw w.error(nil, "missing 'routing_trace' (a routing trace file) or 'generator' (a generator parameter file)")
        }
        let warm = try w.optionalInt("warm_requests", min: 0) ?? 0
        let test = try w.int("test_requests", min: 1)
        var arrivals = MoEArrivalConfig.closed
        if let a = w.optionalValue("arrivals") {
            let ap = w.childPath("arrivals")
            if case .scalar = a {
                let s = try yamlString(a, file: file, path: ap)
                switch s {
                case "closed": arrivals = .closed
                case "trace": arrivals = .trace
                default: throw MoEConfigError(file: file, keyPath: ap, message: "expected 'closed', 'trace', {poisson: RATE} or {request_trace: FILE, rate: RATE}, got '\(s)'", line: a.mark?.line)
                }
            } else {
                let m = try YAMLMap(a, path: ap, file: file)
                if m.has("poisson") {
                    arrivals = .poisson(rate: try m.double("poisson", min: 0, minExclusive: true))
                    try m.finish(known: ["poisson"])
                } else if m.has("request_trace") {
                    arrivals = .requestTrace(path: path(try m.string("request_trace")), rate: try m.double("rate", min: 0, minExclusive: true))
                    try m.finish(known: ["request_trace", "rate"])
                } else {
                    throw m.error(nil, "expected {poisson: RATE} or {request_trace: FILE, rate: RATE}")
                }
            }
        }
        try w.finish(known: ["routing_trace", "generator", "warm_requests", "test_requests", "arrivals"])
        try r.finish(known: knownKeys)
        var c = MoERunConfig(model: model, gpu: gpu, expertCacheGB: budget, policy: policy, workload: source, testRequests: test)
        c.gpus = gpus
        c.hostMemory = host
        c.policyParams = params
        c.maxBatch = maxBatch
        c.warmRequests = warm
        c.arrivals = arrivals
        c.file = file
        return c
    }
}
