// One multitask run's configuration, strictly validated: every key known, every value checked,
// every file present; errors name the file and the key path. Sections as in experiment files:
//
//   hardware:   gpu: NAME                          a GPU of Traces/hardware (name or alias)
//               data: DIR                          optional: the GPU catalog directory
//   workload:   tenants: [TENANT, ...]             at least one; names unique
//   parameters: memory: {mode: fixed|admission|unified, touch_fraction: F}
//               horizon_s: X                       optional: stop at X simulated seconds
//               fairness_baseline: isolated|none   normalised progress against isolated runs (default isolated)
//               profiles: DIR                      optional: measured profiles (default Traces/profiles)
//               gpu_compute: FILE                  optional: peak FLOPs table (default Traces/models/gpu-compute.yaml)
//               exclusive|timeslice|streams|mps|mig|priority|dynamic: {...}   each policy's settings
//
// TENANT (inference):
//   {name, kind: inference, priority: latency-critical|best-effort, model: FILE,
//    requests: {trace: FILE, limit: N, time_scale: X} | {generator: poisson|gamma, rate_per_s, cv, count,
//               input_tokens: DIST, output_tokens: DIST},
//    batching: {max_batch: N, max_tokens: N}, kv_cache_gib: X, workspace_gib: X,
//    granularity: op|layer|iteration, slo: {ttft_ms, tpot_ms, latency_ms}}
//   DIST: {constant: N} | {uniform: [A, B]} | {lognormal: {mean, cv, max}}
// TENANT (training):  {name, kind: training, priority, trace: FILE, iterations: N, gaps: drop|keep, memory_gib: X, device: N}
//                     or, instead of trace, a generated iteration:
//                     generator: {kernels: N, kernel_us: DIST, ctas: DIST, ctas_per_sm: N, memory_bound_fraction: F}
// TENANT (replay):    {name, kind: replay, priority, trace: FILE, memory_gib: X, device: N}

import Foundation
import Hardware
import SimCore
import Tenancy

/// A validated inference tenant.
public struct InferenceSettings: Sendable {
    public enum Requests: Sendable {
        case trace(path: String, display: String, limit: Int?, timeScale: Double)
        case generator(count: Int, rate: Double, cv: Double?, input: TokenDistribution, output: TokenDistribution)
    }
    public var name: String
    public var priority: PriorityClass
    public var model: LLMModel
    public var modelPath: String
    public var requests: Requests
    public var maxBatch: Int
    public var maxTokens: Int
    public var kvCacheBytes: Int
    public var workspaceBytes: Int
    public var granularity: KernelGranularity
    public var slo: TenantSLO

    public var kvCapacityTokens: Int { kvCacheBytes / model.kvBytesPerToken }
    public var footprintBytes: Int { model.weightBytes + kvCacheBytes + workspaceBytes }
}

/// A generated training iteration: `kernels` kernels in sequence with durations and CTA counts
/// drawn from distributions (seeded per tenant), a fraction of each kernel's time memory-bound.
public struct GeneratedIteration: Sendable, Equatable {
    public var kernels: Int
    public var kernelMicroseconds: TokenDistribution
    public var ctas: TokenDistribution
    public var ctasPerSM: Int
    public var memoryBoundFraction: Double
}

/// A validated training job or replayed trace.
public struct KinetoSettings: Sendable {
    public var name: String
    public var kind: String
    public var priority: PriorityClass
    /// The trace (empty with a generator).
    public var path: String
    public var display: String
    public var generator: GeneratedIteration?
    public var iterations: Int
    public var keepGaps: Bool
    public var inferDependencies: Bool
    public var memoryBytes: Int
    public var device: Int?
}

public enum TenantSettings: Sendable {
    case inference(InferenceSettings)
    case kineto(KinetoSettings)

    public var name: String {
        switch self {
        case .inference(let s): return s.name
        case .kineto(let s): return s.name
        }
    }
}

/// A multitask run's configuration (everything but the seed).
public struct MultitaskConfig: Sendable {
    public var file: String
    public var spec: GPUSpec
    public var tenants: [TenantSettings]
    public var memory: MemoryMode
    public var horizon: SimTime?
    public var fairnessBaseline: Bool
    public var profilesDirectory: String
    public var gpuComputePath: String
    public var policy: PolicyChoice
    /// Build per-request rows.
    public var requests = true

    public static let tenantKinds = ["inference", "training", "replay"]
    static let gib = Double(1 << 30)

    /// Validates the sections of one run. Relative paths start at `baseDirectory`; `file` names
    /// the config in errors; `policyNode` is where the policy was named.
    public static func parse(hardware: SettingsNode, workload: SettingsNode, parameters: SettingsNode,
                             policy: String, policyNode: SettingsNode, baseDirectory: String, file: String) throws -> MultitaskConfig {
        func resolve(_ p: String) -> String {
            p.hasPrefix("/") ? p : URL(fileURLWithPath: baseDirectory).appendingPathComponent(p).standardizedFileURL.path
        }
        func existing(_ n: SettingsNode, _ what: String) throws -> (path: String, display: String) {
            let raw = try SettingsMap.string(n, what)
            let path = resolve(raw)
            guard FileManager.default.fileExists(atPath: path) else {
                throw n.error("no such file '\(raw)' (looked for \(path))")
            }
            return (path, raw)
        }

        // Hardware.
        var hw = try SettingsMap(hardware, "hardware settings {gpu, data}")
        let gpuNode = try hw.required("gpu", "a GPU name from Traces/hardware, e.g. A100-SXM4-80GB")
        let gpuName = try SettingsMap.string(gpuNode, "a GPU name")
        let catalog: GPUCatalog
        do {
            if let d = hw.optional("data") {
                catalog = try GPUCatalog(path: resolve(try SettingsMap.string(d, "a directory of GPU data files")))
            } else {
                catalog = try GPUCatalog(path: nil, currentDirectory: baseDirectory)
            }
        } catch {
            throw hardware.error("cannot load the GPU catalog: \(error)")
        }
        let spec: GPUSpec
        do { spec = try catalog.spec(named: gpuName) } catch { throw gpuNode.error("\(error)") }
        try hw.finish(known: ["gpu", "data"])

        // Parameters (the data paths first: tenants need them).
        var pm = try SettingsMap(parameters, "parameters {memory, horizon_s, fairness_baseline, profiles, gpu_compute, and policy settings}")
        let repoRoot = try locateRepository(from: baseDirectory)
        let profiles: String
        if let n = pm.optional("profiles") { profiles = resolve(try SettingsMap.string(n, "a profile directory")) } else {
            profiles = repoRoot.map { $0 + "/Traces/profiles" } ?? ""
        }
        let computePath: String
        if let n = pm.optional("gpu_compute") { computePath = try existing(n, "a GPU compute file").path } else {
            guard let r = repoRoot else {
                throw parameters.error("cannot find Traces/models/gpu-compute.yaml above \(baseDirectory); set gpu_compute")
            }
            computePath = r + "/Traces/models/gpu-compute.yaml"
        }

        // Workload.
        var wl = try SettingsMap(workload, "workload settings {tenants}")
        let list = try SettingsMap.list(try wl.required("tenants", "a list of tenants"), "tenants")
        try wl.finish(known: ["tenants"])
        guard !list.isEmpty else { throw workload.error("tenants: expected at least one tenant") }
        var tenants: [TenantSettings] = []
        for node in list {
            var m = try SettingsMap(node, "a tenant {name, kind, priority, ...}")
            let nameNode = try m.required("name", "the tenant's name")
            let name = try SettingsMap.string(nameNode, "a name")
            guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]*$"#, options: .regularExpression) != nil, name != "gpu" else {
                throw nameNode.error("expected a name of letters, digits, '.', '_' and '-' (not 'gpu'), got '\(name)'")
            }
            if tenants.contains(where: { $0.name == name }) { throw nameNode.error("tenant '\(name)' is listed twice") }
            let kindNode = try m.required("kind", "the tenant kind: \(tenantKinds.joined(separator: ", "))")
            let kind = try SettingsMap.string(kindNode, "a tenant kind")
            guard tenantKinds.contains(kind) else {
                throw kindNode.error("unknown tenant kind '\(kind)'; expected one of: \(tenantKinds.joined(separator: ", "))")
            }
            let prNode = try m.required("priority", "latency-critical or best-effort")
            let prText = try SettingsMap.string(prNode, "a priority class")
            guard let priority = PriorityClass(rawValue: prText) else {
                throw prNode.error("unknown priority class '\(prText)'; expected latency-critical or best-effort")
            }
            switch kind {
            case "inference":
                let (modelPath, modelDisplay) = try existing(try m.required("model", "an LLM file, e.g. Traces/models/llama-2-7b.yaml"), "a model file")
                let model = try LLMModel.load(path: modelPath, display: modelDisplay)
                // Requests.
                let rNode = try m.required("requests", "{trace: FILE, limit: N} or {generator: poisson|gamma, ...}")
                var rm = try SettingsMap(rNode, "{trace: FILE, limit: N, time_scale: X} or {generator: poisson|gamma, rate_per_s, count, ...}")
                let requests: InferenceSettings.Requests
                if let t = rm.optional("trace") {
                    let (p, d) = try existing(t, "a request trace (Azure CSV or Mooncake JSONL)")
                    let limit = try rm.optionalInt("limit", "how many requests to take from the start", 1...100_000_000)
                    let scale = try rm.optionalDouble("time_scale", "a factor on arrival times", 1e-6...1e6) ?? 1
                    if rm.has("generator") { throw rNode.error("give either trace or generator, not both") }
                    try rm.finish(known: ["trace", "limit", "time_scale"])
                    requests = .trace(path: p, display: d, limit: limit, timeScale: scale)
                } else {
                    let gNode = try rm.required("generator", "poisson or gamma (or give trace)")
                    let g = try SettingsMap.string(gNode, "poisson or gamma")
                    guard g == "poisson" || g == "gamma" else { throw gNode.error("unknown generator '\(g)'; expected poisson or gamma") }
                    let rate = try rm.double("rate_per_s", "the mean arrival rate, requests per second", 1e-9...1e9)
                    let count = try rm.int("count", "how many requests", 1...100_000_000)
                    var cv: Double? = nil
                    if g == "gamma" { cv = try rm.double("cv", "the coefficient of variation of inter-arrival times", 0.01...100) }
                    let input = try tokenDistribution(try rm.required("input_tokens", "a token distribution"))
                    let output = try tokenDistribution(try rm.required("output_tokens", "a token distribution"))
                    try rm.finish(known: g == "gamma" ? ["generator", "rate_per_s", "count", "cv", "input_tokens", "output_tokens"]
                                                      : ["generator", "rate_per_s", "count", "input_tokens", "output_tokens"])
                    requests = .generator(count: count, rate: rate, cv: cv, input: input, output: output)
                }
                // Batching.
                var maxBatch = 1, maxTokens = 8192
                if let b = m.optional("batching") {
                    var bm = try SettingsMap(b, "batching {max_batch, max_tokens}")
                    maxBatch = try bm.int("max_batch", "the most requests per iteration (1: no batching)", 1...65_536)
                    maxTokens = try bm.optionalInt("max_tokens", "the most tokens per iteration", 1...10_000_000) ?? 8192
                    try bm.finish(known: ["max_batch", "max_tokens"])
                }
                let kvNode = try m.required("kv_cache_gib", "the KV cache reserved, GiB")
                let kvBytes = Int(try SettingsMap.double(kvNode, "the KV cache in GiB", 0.0001...100_000) * gib)
                guard kvBytes >= model.kvBytesPerToken else {
                    throw kvNode.error("the KV cache must hold at least one token (\(model.kvBytesPerToken) bytes for \(model.name))")
                }
                let workspace = Int((try m.optionalDouble("workspace_gib", "extra memory (activations, workspace), GiB", 0...100_000) ?? 0) * gib)
                var granularity = KernelGranularity.layer
                if let gn = m.optional("granularity") {
                    let s = try SettingsMap.string(gn, "op, layer or iteration")
                    guard let g = KernelGranularity(rawValue: s) else { throw gn.error("unknown granularity '\(s)'; expected op, layer or iteration") }
                    granularity = g
                }
                var slo = TenantSLO()
                if let sn = m.optional("slo") {
                    var sm = try SettingsMap(sn, "SLOs {ttft_ms, tpot_ms, latency_ms}")
                    slo.ttft = try sm.optionalDouble("ttft_ms", "the time-to-first-token target in ms", 0.001...1e9).map { .ms($0) }
                    slo.tpot = try sm.optionalDouble("tpot_ms", "the time-per-output-token target in ms", 0.001...1e9).map { .ms($0) }
                    slo.latency = try sm.optionalDouble("latency_ms", "the end-to-end latency target in ms", 0.001...1e9).map { .ms($0) }
                    try sm.finish(known: ["ttft_ms", "tpot_ms", "latency_ms"])
                }
                try m.finish(known: ["name", "kind", "priority", "model", "requests", "batching", "kv_cache_gib", "workspace_gib", "granularity", "slo"])
                tenants.append(.inference(InferenceSettings(name: name, priority: priority, model: model, modelPath: modelPath,
                                                            requests: requests, maxBatch: maxBatch, maxTokens: maxTokens,
                                                            kvCacheBytes: kvBytes, workspaceBytes: workspace,
                                                            granularity: granularity, slo: slo)))
            default:
                var p = "", d = ""
                var generator: GeneratedIteration? = nil
                if kind == "training", let g = m.optional("generator") {
                    if m.has("trace") { throw node.error("give either trace or generator, not both") }
                    var gm = try SettingsMap(g, "a generated iteration {kernels, kernel_us, ctas, ctas_per_sm, memory_bound_fraction}")
                    generator = GeneratedIteration(
                        kernels: try gm.int("kernels", "kernels per iteration", 1...10_000_000),
                        kernelMicroseconds: try tokenDistribution(try gm.required("kernel_us", "a distribution of kernel durations in µs")),
                        ctas: try tokenDistribution(try gm.required("ctas", "a distribution of CTAs per kernel")),
                        ctasPerSM: try gm.int("ctas_per_sm", "CTAs resident per SM", 1...64),
                        memoryBoundFraction: try gm.optionalDouble("memory_bound_fraction", "the fraction of HBM bandwidth a kernel uses alone", 0...1) ?? 0)
                    try gm.finish(known: ["kernels", "kernel_us", "ctas", "ctas_per_sm", "memory_bound_fraction"])
                } else {
                    (p, d) = try existing(try m.required("trace", kind == "training" ? "a Kineto trace (or a generator)" : "a Kineto trace (.json, .json.gz, .json.zst)"), "a Kineto trace")
                }
                let memory = Int(try m.double("memory_gib", "the job's GPU memory footprint, GiB", 0...100_000) * gib)
                let device = try m.optionalInt("device", "the trace's device to take operations from", 0...1024)
                var iterations = 1, keep = true
                if kind == "training" {
                    iterations = try m.int("iterations", "how many times to run the trace", 1...1_000_000)
                    if let g = m.optional("gaps") {
                        let s = try SettingsMap.string(g, "drop or keep")
                        guard s == "drop" || s == "keep" else { throw g.error("expected drop (GPU-bound job) or keep (the recorded pace), got '\(s)'") }
                        keep = s == "keep"
                    } else {
                        keep = false
                    }
                    try m.finish(known: ["name", "kind", "priority", "trace", "generator", "memory_gib", "device", "iterations", "gaps"])
                } else {
                    try m.finish(known: ["name", "kind", "priority", "trace", "memory_gib", "device"])
                }
                tenants.append(.kineto(KinetoSettings(name: name, kind: kind, priority: priority, path: p, display: d,
                                                      generator: generator, iterations: iterations, keepGaps: keep, inferDependencies: kind == "training",
                                                      memoryBytes: memory, device: device)))
            }
        }

        // Memory.
        var memory = MemoryMode.admission
        var memoryNode = parameters
        if let mn = pm.optional("memory") {
            memoryNode = mn
            var mm = try SettingsMap(mn, "memory settings {mode, touch_fraction}")
            let modeNode = try mm.required("mode", "fixed, admission or unified")
            let mode = try SettingsMap.string(modeNode, "a memory mode")
            switch mode {
            case "fixed": memory = .fixed; try mm.finish(known: ["mode"])
            case "admission": memory = .admission; try mm.finish(known: ["mode"])
            case "unified":
                let f = try mm.optionalDouble("touch_fraction", "the fraction of a footprint a kernel touches when its bytes are unknown", 1e-9...1) ?? 0.01
                memory = .unified(UnifiedMemoryModel(touchFraction: f))
                try mm.finish(known: ["mode", "touch_fraction"])
            default:
                throw modeNode.error("unknown memory mode '\(mode)'; expected fixed (everything fits at once), admission (wait until it fits) or unified (oversubscribe)")
            }
        }
        let horizon = try pm.optionalDouble("horizon_s", "the simulated time to stop at, seconds", 1e-9...1e9).map { SimTime.s($0) }
        var baseline = true
        if let b = pm.optional("fairness_baseline") {
            let s = try SettingsMap.string(b, "isolated or none")
            guard s == "isolated" || s == "none" else { throw b.error("expected isolated or none, got '\(s)'") }
            baseline = s == "isolated"
        }

        // Policy settings.
        var blocks: [String: SettingsNode] = [:]
        for n in PolicyChoice.names { if let b = pm.optional(n) { blocks[n] = b } }
        try pm.finish(known: ["memory", "horizon_s", "fairness_baseline", "profiles", "gpu_compute"] + PolicyChoice.names)
        let context = PolicyContext(spec: spec, tenantNames: tenants.map(\.name), sectionNode: parameters)
        let choice = try PolicyChoice.parse(name: policy, nameNode: policyNode, blocks: blocks, context: context)

        // Footprints that can never fit (fixed and admission; MIG per instance).
        let config = MultitaskConfig(file: file, spec: spec, tenants: tenants, memory: memory, horizon: horizon,
                                     fairnessBaseline: baseline, profilesDirectory: profiles, gpuComputePath: computePath,
                                     policy: choice)
        try config.checkMemory(tenantNodes: list, memoryNode: memoryNode)
        return config
    }

    /// The footprint of each tenant.
    public var footprints: [Int] {
        tenants.map { t in
            switch t {
            case .inference(let s): return s.footprintBytes
            case .kineto(let s): return s.memoryBytes
            }
        }
    }

    /// A footprint larger than its memory (unless unified), or footprints that do not fit together
    /// with fixed memory, is a config error naming the tenant.
    func checkMemory(tenantNodes: [SettingsNode], memoryNode: SettingsNode) throws {
        if case .unified = memory { return }
        var capacity = [Int](repeating: spec.memory.allocatableBytes, count: tenants.count)
        var domainName = [String](repeating: "\(spec.name) (\(String(format: "%.1f", Double(spec.memory.allocatableBytes) / MultitaskConfig.gib)) GiB)", count: tenants.count)
        var domainOf = [Int](repeating: 0, count: tenants.count)
        if case .mig(let p) = policy {
            for (i, t) in tenants.enumerated() {
                let inst = p.layout.instances[p.assignment[t.name]!]
                capacity[i] = inst.profile.memoryBytes
                domainName[i] = "MIG instance \(p.assignment[t.name]!) \(inst.profile.name) (\(String(format: "%.1f", Double(inst.profile.memoryBytes) / MultitaskConfig.gib)) GiB)"
                domainOf[i] = p.assignment[t.name]! + 1
            }
        }
        let f = footprints
        for i in tenants.indices where f[i] > capacity[i] {
            let key = { () -> String in
                if case .inference = tenants[i] { return "footprint (weights + kv_cache_gib + workspace_gib)" }
                return "memory_gib"
            }()
            throw tenantNodes[i].error("\(key) of tenant '\(tenants[i].name)' is \(String(format: "%.2f", Double(f[i]) / MultitaskConfig.gib)) GiB, more than \(domainName[i]) holds; with memory mode \(memory.name) it could never run (use mode unified to oversubscribe)")
        }
        if memory == .fixed {
            var total: [Int: Int] = [:]
            for i in tenants.indices { total[domainOf[i], default: 0] += f[i] }
            for (d, sum) in total.sorted(by: { $0.key < $1.key }) {
                let i = domainOf.firstIndex(of: d)!
                if sum > capacity[i] {
                    throw memoryNode.error("memory mode fixed: the tenants of \(domainName[i]) need \(String(format: "%.2f", Double(sum) / MultitaskConfig.gib)) GiB together; use mode admission or unified")
                }
            }
        }
    }

    static func tokenDistribution(_ n: SettingsNode) throws -> TokenDistribution {
        var m = try SettingsMap(n, "{constant: N} | {uniform: [A, B]} | {lognormal: {mean, cv, max}}")
        if let c = m.optional("constant") {
            try m.finish(known: ["constant"])
            return .constant(try SettingsMap.int(c, "a token count", 1...10_000_000))
        }
        if let u = m.optional("uniform") {
            try m.finish(known: ["uniform"])
            let l = try SettingsMap.list(u, "[A, B]")
            guard l.count == 2 else { throw u.error("expected [A, B], got a list of \(l.count)") }
            let a = try SettingsMap.int(l[0], "a token count", 1...10_000_000)
            let b = try SettingsMap.int(l[1], "a token count", a...10_000_000)
            return .uniform(a, b)
        }
        if let ln = m.optional("lognormal") {
            try m.finish(known: ["lognormal"])
            var lm = try SettingsMap(ln, "{mean, cv, max}")
            let mean = try lm.double("mean", "the mean token count", 1...10_000_000)
            let cv = try lm.double("cv", "the coefficient of variation", 0.001...100)
            let mx = try lm.int("max", "the largest token count", 1...10_000_000)
            try lm.finish(known: ["mean", "cv", "max"])
            return .lognormal(mean: mean, cv: cv, max: mx)
        }
        throw n.error("expected {constant: N}, {uniform: [A, B]} or {lognormal: {mean, cv, max}}")
    }

    /// The repository root (the directory holding Traces/models) at or above `directory`, or
    /// `$GPUSIM_DATA/..` when set.
    static func locateRepository(from directory: String) throws -> String? {
        let fm = FileManager.default
        if let data = ProcessInfo.processInfo.environment["GPUSIM_DATA"], !data.isEmpty {
            let root = URL(fileURLWithPath: data).deletingLastPathComponent().path
            if fm.fileExists(atPath: root + "/Traces/models") { return root }
        }
        var dir = URL(fileURLWithPath: directory).standardizedFileURL
        while true {
            if fm.fileExists(atPath: dir.appendingPathComponent("Traces/models").path) { return dir.path }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { return nil }
            dir = parent
        }
    }
}
