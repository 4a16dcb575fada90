// Simulation kind `multitask`: tenants sharing one GPU under a sharing policy (the Multitask
// module's MultitaskSimulation). The sections (hardware, workload with its tenants, parameters
// with each policy's settings) are validated by the Multitask module (MultitaskConfig.parse,
// Docs of issue 9); its errors come back at this file's key paths, since every value keeps the
// path where it was written (a grid entry for a grid value).
//
// Input files (traces, request traces, model files) enter each run's identity through their
// SHA-256 digests: every string of the sections that names an existing file is hashed.

import Foundation
import Multitask
import Results
import Tenancy

public enum MultitaskKind: SimulationKind {
    public static let name = "multitask"
    public static let summary = "GPU multitasking: tenants sharing one GPU under a sharing policy"

    public static var policies: [PolicyInfo] { PolicyChoice.summaries.map { PolicyInfo($0.name, $0.summary) } }

    static let count = Tolerance.exact
    static let value = Tolerance(abs: 1e-9, rel: 1e-6)

    public static let metrics: [MetricInfo] = {
        var m: [MetricInfo] = []
        func add(_ n: String, _ unit: String, _ what: String, _ t: Tolerance) { m.append(MetricInfo(n, unit: unit, what, tolerance: t)) }
        // GPU-wide (tenant "gpu") and per tenant, from the sharing engine.
        add("makespan_s", "s", "last tenant finish", value)
        add("sm_utilisation", "", "time-weighted SM busy fraction", value)
        add("hbm_utilisation", "", "time-weighted HBM bandwidth fraction", value)
        add("kernels", "", "kernels completed", count)
        add("context_switches", "", "context switches", count)
        add("preemptions", "", "kernels preempted", count)
        add("pauses", "", "tenant pauses", count)
        add("lost_kernel_seconds", "s", "kernel work lost to preemption", value)
        add("bytes_h2d", "B", "bytes host to device", value)
        add("bytes_d2h", "B", "bytes device to host", value)
        add("um_fault_bytes", "B", "unified-memory fault traffic", value)
        add("admission_wait_s", "s", "wait for memory admission", value)
        add("finished", "", "1 when the tenant finished", count)
        add("finish_s", "s", "tenant finish time", value)
        add("blast_radius", "", "tenants sharing the tenant's failure domain", count)
        add("jain_fairness", "", "Jain's fairness of normalised progress", value)
        add("normalised_progress", "", "shared performance / isolated performance", value)
        // Inference tenants.
        add("requests", "", "requests arrived", count)
        add("requests_finished", "", "requests finished", count)
        add("requests_rejected", "", "requests rejected", count)
        add("throughput_rps", "1/s", "finished requests per second", value)
        add("throughput_tokens_per_s", "1/s", "output tokens per second", value)
        add("slo_attainment", "", "requests meeting their SLO", value)
        for n in ["ttft", "tpot", "latency", "queue_delay"] {
            for s in ["mean", "p50", "p95", "p99"] { add("\(n)_\(s)_s", "s", "\(n), \(s)", value) }
        }
        add("cost_failed", "", "1 when the cost model could not price an operation", count)
        add("mean_batch", "", "mean batch size", value)
        // Training tenants.
        add("iterations", "", "iterations completed", count)
        add("throughput_iter_per_s", "1/s", "iterations per second", value)
        for s in ["mean", "p50", "p95", "p99"] { add("iteration_\(s)_s", "s", "iteration time, \(s)", value) }
        add("isolated_kernel_seconds_per_iteration", "s", "kernel time of one iteration alone", value)
        return m
    }()

    static func settings(_ n: ConfigNode, file: String) -> SettingsNode {
        let v: SettingsValue
        switch n.value {
        case .null: v = .null
        case .bool(let b): v = .bool(b)
        case .int(let i): v = .int(i)
        case .double(let d): v = .double(d)
        case .string(let s): v = .string(s)
        case .list(let l): v = .list(l.map { settings($0, file: file) })
        case .map(let m): v = .map(m.map { (key: $0.key, node: settings($0.node, file: file)) })
        }
        return SettingsNode(v, file: file, path: n.path, line: n.line)
    }

    /// A config tree from stored canonical JSON (paths are the JSON key paths).
    static func node(_ j: CanonicalJSON, path: String) -> ConfigNode {
        switch j {
        case .null: return ConfigNode(.null, path: path)
        case .bool(let b): return ConfigNode(.bool(b), path: path)
        case .number(let t): return ConfigNode(Int(t).map { .int($0) } ?? .double(Double(t) ?? .nan), path: path)
        case .string(let s): return ConfigNode(.string(s), path: path)
        case .array(let a): return ConfigNode(.list(a.enumerated().map { node($0.element, path: "\(path)[\($0.offset)]") }), path: path)
        case .object(let o):
            return ConfigNode(.map(o.keys.sorted().map { ConfigEntry(key: $0, node: node(o[$0]!, path: ConfigNode.join(path, $0))) }), path: path)
        }
    }

    static func parse(hardware: ConfigNode, workload: ConfigNode, parameters: ConfigNode, policy: String, policyPath: String,
                      file: String, context: KindContext) throws -> MultitaskConfig {
        do {
            return try MultitaskConfig.parse(hardware: settings(hardware, file: file), workload: settings(workload, file: file),
                                             parameters: settings(parameters, file: file), policy: policy,
                                             policyNode: SettingsNode(.string(policy), file: file, path: policyPath),
                                             baseDirectory: context.baseDirectory.path, file: file)
        } catch let e as SettingsError {
            throw ConfigError(file: e.file, keyPath: e.keyPath, message: e.message, line: e.line)
        }
    }

    /// SHA-256 of every existing file named by a string of the sections, by key path.
    static func digests(_ j: CanonicalJSON, path: String, context: KindContext, into out: inout [String: CanonicalJSON]) throws {
        switch j {
        case .string(let s) where !s.isEmpty && (s.contains("/") || s.contains(".")):
            let p = context.resolvePath(s)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue {
                out[path] = .string(try context.cached("multitask.sha:" + p) { try SHA256.hex(fileAt: p) })
            }
        case .array(let a):
            for (i, v) in a.enumerated() { try digests(v, path: "\(path)[\(i)]", context: context, into: &out) }
        case .object(let o):
            for (k, v) in o { try digests(v, path: ConfigNode.join(path, k), context: context, into: &out) }
        default: break
        }
    }

    public static func resolve(_ spec: RunSpec, context: KindContext) throws -> CanonicalJSON {
        _ = try parse(hardware: spec.hardware, workload: spec.workload, parameters: spec.parameters, policy: spec.policy,
                      policyPath: spec.policyPath, file: spec.file, context: context)
        let sections: CanonicalJSON = .object(["hardware": spec.hardware.json, "workload": spec.workload.json,
                                               "parameters": spec.parameters.json])
        var inputs: [String: CanonicalJSON] = [:]
        try digests(sections, path: "", context: context, into: &inputs)
        return .object(["sections": sections, "policy": .string(spec.policy), "input_sha256": .object(inputs)])
    }

    public static func run(config json: CanonicalJSON, seed: UInt64, options: RunOptions, context: KindContext) throws -> RunOutput {
        guard let s = json["sections"], let policy = json["policy"]?.stringValue else {
            throw KindRunError(message: "multitask config without sections/policy: \(json.text.prefix(200))")
        }
        var config = try parse(hardware: node(s["hardware"] ?? .object([:]), path: "hardware"),
                               workload: node(s["workload"] ?? .object([:]), path: "workload"),
                               parameters: node(s["parameters"] ?? .object([:]), path: "parameters"),
                               policy: policy, policyPath: "policy", file: context.file, context: context)
        config.requests = options.requests
        let r = try MultitaskSimulation(config).run(seed: seed)
        var out = RunOutput(metrics: r.metrics.map { Results.MetricRow(tenant: $0.tenant, name: $0.name, value: $0.value) })
        if options.requests {
            func opt(_ t: Int64) -> Int64? { t < 0 ? nil : t }
            out.requests = r.requests.map {
                Results.RequestRow(tenant: $0.tenant, request: Int64($0.request), arrivalNs: opt($0.arrivalNs),
                                   firstTokenNs: opt($0.firstTokenNs), finishNs: opt($0.finishNs),
                                   inputTokens: Int64($0.inputTokens), outputTokens: Int64($0.outputTokens))
            }
        }
        return out
    }
}
