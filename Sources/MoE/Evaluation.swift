// The fMoE evaluation (Experiments/fmoe-eval.yaml): an experiment file in the gpusim-experiment/1
// format with `kind: moe`, expanded here (sections hardware/workload/parameters, a list of grid
// blocks with cartesian axes and zip groups, policies, seeds), run, and compared with the paper.

import Foundation
import Yams

/// One expanded run of an evaluation.
public struct MoEEvaluationRun: Sendable {
    public var index: Int
    public var config: MoERunConfig
    public var seed: UInt64
    /// The policy's name in the experiment (a named variant, or the policy itself).
    public var label: String
    /// Whether arrivals come from a request trace (the online run) rather than a closed loop.
    public var online: Bool { if case .requestTrace = config.arrivals { return true }; return false }
    public var testbed: String { config.gpus > 1 ? "\(config.gpus)x \(config.gpu)" : config.gpu }
}

public struct MoEEvaluationSpec: Sendable {
    public var name: String
    public var file: String
    public var runs: [MoEEvaluationRun]

    public static func load(path: String) throws -> MoEEvaluationSpec {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        return try parse(yaml: try readTextFile(path), file: path, baseDirectory: url.deletingLastPathComponent().path)
    }

    public static func parse(yaml: String, file: String, baseDirectory: String) throws -> MoEEvaluationSpec {
        let root = try YAMLMap(try composeYAML(yaml, file: file), path: "", file: file)
        let format = try root.string("format")
        guard format == "gpusim-experiment/1" else { throw root.error("format", "expected 'gpusim-experiment/1', got '\(format)'") }
        let name = try root.string("name")
        let kind = try root.string("kind")
        guard kind == "moe" else { throw root.error("kind", "expected 'moe' for an MoE evaluation, got '\(kind)'") }
        _ = try root.optionalString("description")
        func section(_ k: String) throws -> [(String, Node)] {
            guard let m = try root.optionalMap(k) else { return [] }
            return m.keys.map { key in (key, m.optionalValue(key) ?? Node("null")) }
        }
        let hardware = try section("hardware"), workload = try section("workload"), parameters = try section("parameters")
        // Policies: names, or named variants {name, policy, parameters: {policy_params: {...}}}.
        var policies: [(label: String, policy: String, overrides: [(String, Node)])] = []
        for (i, p) in try root.list("policies").enumerated() {
            let path = "policies[\(i)]"
            var entry: (label: String, policy: String, overrides: [(String, Node)])
            if case .scalar = p {
                let n = try yamlString(p, file: file, path: path)
                entry = (n, n, [])
            } else {
                let m = try YAMLMap(p, path: path, file: file)
                let policy = try m.string("policy")
                let label = try m.optionalString("name") ?? policy
                var overrides: [(String, Node)] = []
                if let pm = try m.optionalMap("parameters") {
                    for k in pm.keys { overrides.append((k, pm.optionalValue(k) ?? Node("null"))) }
                }
                try m.finish(known: ["name", "policy", "parameters"])
                entry = (label, policy, overrides)
            }
            guard MoERunConfig.policies.contains(entry.policy) else {
                throw MoEConfigError(file: file, keyPath: path, message: "unknown policy '\(entry.policy)' (expected one of: \(MoERunConfig.policies.joined(separator: ", ")))", line: p.mark?.line)
            }
            guard !policies.contains(where: { $0.label == entry.label }) else {
                throw MoEConfigError(file: file, keyPath: path, message: "policy name '\(entry.label)' used twice", line: p.mark?.line)
            }
            policies.append(entry)
        }
        guard !policies.isEmpty else { throw root.error("policies", "expected at least one policy") }
        // Seeds.
        var seeds: [UInt64] = [1]
        if let s = root.optionalValue("seeds") {
            if case .sequence = s {
                seeds = try yamlList(s, file: file, path: "seeds").enumerated().map {
                    UInt64(try yamlInt($0.element, file: file, path: "seeds[\($0.offset)]", min: 0, max: Int.max))
                }
            } else {
                let m = try YAMLMap(s, path: "seeds", file: file)
                let first = try m.int("first", min: 0), count = try m.int("count", min: 1)
                try m.finish(known: ["first", "count"])
                seeds = (0..<count).map { UInt64(first + $0) }
            }
        }
        _ = root.optionalValue("metrics")
        _ = root.optionalValue("requests")
        // Grid points: each a list of (section.key, value) overrides.
        var points: [[(String, Node, String)]] = []
        if let g = root.optionalValue("grid") {
            var blocks: [(Node, String)] = []
            if case .sequence(let s) = g { blocks = s.enumerated().map { ($0.element, "grid[\($0.offset)]") } } else { blocks = [(g, "grid")] }
            for (b, bp) in blocks {
                let m = try YAMLMap(b, path: bp, file: file)
                var dims: [[[(String, Node, String)]]] = []
                if let c = try m.optionalMap("cartesian") {
                    for axis in c.keys {
                        let vals = try c.list(axis)
                        guard !vals.isEmpty else { throw c.error(axis, "expected at least one value") }
                        dims.append(vals.enumerated().map { [(axis, $0.element, "\(c.childPath(axis))[\($0.offset)]")] })
                    }
                }
                if let z = m.optionalValue("zip") {
                    var groups: [(Node, String)] = []
                    if case .sequence(let s) = z { groups = s.enumerated().map { ($0.element, "\(bp).zip[\($0.offset)]") } } else { groups = [(z, "\(bp).zip")] }
                    for (gnode, gp) in groups {
                        let gm = try YAMLMap(gnode, path: gp, file: file)
                        var n = -1
                        var axes: [(String, [Node])] = []
                        for axis in gm.keys {
                            let vals = try gm.list(axis)
                            if n >= 0 && vals.count != n {
                                throw gm.error(axis, "zipped axes must have equal lengths: this one has \(vals.count) values, the first \(n)")
                            }
                            n = vals.count
                            axes.append((axis, vals))
                        }
                        guard n > 0 else { throw gm.error(nil, "expected at least one zipped axis with values") }
                        dims.append((0..<n).map { i in axes.map { ($0.0, $0.1[i], "\(gp).\($0.0)[\(i)]") } })
                    }
                }
                try m.finish(known: ["cartesian", "zip"])
                guard !dims.isEmpty else { throw m.error(nil, "empty grid block: expected cartesian and/or zip axes") }
                var combos: [[(String, Node, String)]] = [[]]
                for d in dims { combos = combos.flatMap { c in d.map { c + $0 } } }
                points += combos
            }
        } else {
            points = [[]]
        }
        try root.finish(known: ["format", "name", "kind", "description", "hardware", "workload", "parameters", "policies", "grid",
                                "seeds", "metrics", "requests"])
        // Expand: grid point × policy × seed.
        var runs: [MoEEvaluationRun] = []
        for point in points {
            var hw = hardware, wl = workload, pa = parameters
            for (axis, value, where_) in point {
                let parts = axis.split(separator: ".", maxSplits: 1).map(String.init)
                guard parts.count == 2 else {
                    throw MoEConfigError(file: file, keyPath: where_, message: "grid axis '\(axis)' must be section.key (hardware/workload/parameters)")
                }
                func set(_ list: inout [(String, Node)]) {
                    if let i = list.firstIndex(where: { $0.0 == parts[1] }) { list[i].1 = value } else { list.append((parts[1], value)) }
                }
                switch parts[0] {
                case "hardware": set(&hw)
                case "workload": set(&wl)
                case "parameters": set(&pa)
                default: throw MoEConfigError(file: file, keyPath: where_, message: "grid axis '\(axis)': unknown section '\(parts[0])' (expected hardware, workload or parameters)")
                }
            }
            for policy in policies {
                var params = pa
                for (k, v) in policy.overrides {
                    if let i = params.firstIndex(where: { $0.0 == k }) { params[i].1 = v } else { params.append((k, v)) }
                }
                let flat = try flatten(hardware: hw, workload: wl, parameters: params, policy: policy.policy, file: file)
                let c = try MoERunConfig.parse(node: flat, file: file, keyPath: "", baseDirectory: baseDirectory)
                for s in seeds { runs.append(MoEEvaluationRun(index: runs.count, config: c, seed: s, label: policy.label)) }
            }
        }
        return MoEEvaluationSpec(name: name, file: file, runs: runs)
    }

    /// The experiment's sections as one flat run config mapping (see MoERunConfig).
    static func flatten(hardware: [(String, Node)], workload: [(String, Node)], parameters: [(String, Node)], policy: String,
                        file: String) throws -> Node {
        var top: [(Node, Node)] = []
        var wl: [(Node, Node)] = []
        func bad(_ section: String, _ key: String, _ known: [String]) -> MoEConfigError {
            MoEConfigError(file: file, keyPath: "\(section).\(key)", message: "unknown key (expected one of: \(known.joined(separator: ", ")))")
        }
        for (k, v) in hardware {
            switch k {
            case "gpu", "gpus", "host_memory": top.append((Node(k), v))
            default: throw bad("hardware", k, ["gpu", "gpus", "host_memory"])
            }
        }
        for (k, v) in workload {
            switch k {
            case "model": top.append((Node("model"), v))
            case "routing_trace", "generator", "warm_requests", "test_requests", "arrivals": wl.append((Node(k), v))
            default: throw bad("workload", k, ["model", "routing_trace", "generator", "warm_requests", "test_requests", "arrivals"])
            }
        }
        for (k, v) in parameters {
            switch k {
            case "expert_cache_gb", "max_batch": top.append((Node(k), v))
            case "policy_params":
                // {policy name: {params}}: only this run's policy's entry applies.
                let m = try YAMLMap(v, path: "parameters.policy_params", file: file)
                for p in m.keys {
                    guard MoERunConfig.policies.contains(p) else { throw m.error(p, "unknown policy '\(p)'") }
                    if p == policy, let pv = m.optionalValue(p) { top.append((Node("policy_params"), pv)) } else { _ = m.optionalValue(p) }
                }
            default: throw bad("parameters", k, ["expert_cache_gb", "max_batch", "policy_params"])
            }
        }
        top.append((Node("policy"), Node(policy)))
        top.append((Node("workload"), Node.mapping(Node.Mapping(wl))))
        return Node.mapping(Node.Mapping(top))
    }
}

/// The published fMoE improvements (Yu et al. 2025, abstract and §6 evaluation) that the
/// comparison is held against: fMoE's reductions over each baseline.
public enum FMoEPaper {
    public static let baselines = ["ondemand-layer", "lru", "promoe", "moe-infinity"]
    public static let labels = ["ondemand-layer": "DeepSpeed-Inference", "lru": "Mixtral-Offloading", "promoe": "ProMoE",
                                "moe-infinity": "MoE-Infinity"]
    /// TTFT and TPOT reduction (%) and hit-rate improvement (%, against the last three).
    public static let ttftReduction = ["ondemand-layer": 74.0, "lru": 67.0, "promoe": 56.0, "moe-infinity": 53.0]
    public static let tpotReduction = ["ondemand-layer": 46.0, "lru": 38.0, "promoe": 27.0, "moe-infinity": 22.0]
    public static let hitRateImprovement: [String: Double] = ["lru": 14.0, "promoe": 37.0, "moe-infinity": 68.0]
}

public struct MoEEvaluationResults: Sendable {
    public var spec: MoEEvaluationSpec
    /// nil where the run was skipped (see `skipped`).
    public var results: [MoERunResult?]
    /// Runs that cannot exist (e.g. every expert resident on a GPU too small): index and reason.
    public var skipped: [(index: Int, reason: String)] = []

    public struct Comparison: Sendable {
        public var testbed: String
        public var baseline: String
        /// Mean over (model, budget) cells of 1 − fmoe/baseline (%), and hit rate fmoe/baseline − 1 (%)
        /// and fmoe − baseline (percentage points).
        public var ttftReduction: Double
        public var tpotReduction: Double
        public var hitRateRelative: Double
        public var hitRatePoints: Double
        public var cells: Int
    }

    struct Key: Hashable { var testbed: String; var model: String; var budget: Double; var online: Bool; var seed: UInt64 }

    /// fmoe against each other policy (by its name in the experiment), per testbed, offline runs.
    public func comparisons() -> [Comparison] {
        var byKey: [Key: [String: MoERunResult]] = [:]
        var order: [Key] = []
        var labels: [String] = []
        for (run, res) in zip(spec.runs, results) {
            guard let r = res else { continue }
            let k = Key(testbed: run.testbed, model: run.config.model, budget: run.config.expertCacheGB, online: run.online, seed: run.seed)
            if byKey[k] == nil { order.append(k) }
            byKey[k, default: [:]][run.label] = r
            if !labels.contains(run.label) { labels.append(run.label) }
        }
        // The paper's baselines first, then any other policy or variant.
        let others = FMoEPaper.baselines + labels.filter { !FMoEPaper.baselines.contains($0) && $0 != "fmoe" && $0 != "resident" && $0 != "oracle" }
        var testbeds: [String] = []
        for k in order where !testbeds.contains(k.testbed) { testbeds.append(k.testbed) }
        var out: [Comparison] = []
        for tb in testbeds {
            for b in others {
                var t = 0.0, p = 0.0, fh = 0.0, bh = 0.0, n = 0
                for k in order where k.testbed == tb && !k.online {
                    guard let cell = byKey[k], let f = cell["fmoe"], let base = cell[b],
                          let ft = f.metric("ttft_mean_s"), let bt = base.metric("ttft_mean_s"),
                          let fp = f.metric("tpot_mean_s"), let bp = base.metric("tpot_mean_s"),
                          let fhit = f.metric("hit_rate"), let bhit = base.metric("hit_rate"), bt > 0, bp > 0 else { continue }
                    t += 1 - ft / bt
                    p += 1 - fp / bp
                    fh += fhit
                    bh += bhit
                    n += 1
                }
                if n > 0 {
                    out.append(Comparison(testbed: tb, baseline: b, ttftReduction: 100 * t / Double(n), tpotReduction: 100 * p / Double(n),
                                          hitRateRelative: bh > 0 ? 100 * (fh / bh - 1) : .nan, hitRatePoints: 100 * (fh - bh) / Double(n),
                                          cells: n))
                }
            }
        }
        return out
    }

    /// Mean of a metric over the offline cells of a testbed, per policy name.
    public func means(_ metric: String, testbed: String) -> [(label: String, value: Double)] {
        var sums: [String: (Double, Int)] = [:]
        var labels: [String] = []
        for (run, res) in zip(spec.runs, results) where run.testbed == testbed && !run.online {
            guard let v = res?.metric(metric) else { continue }
            if sums[run.label] == nil { labels.append(run.label) }
            let cur = sums[run.label] ?? (0, 0)
            sums[run.label] = (cur.0 + v, cur.1 + 1)
        }
        return labels.map { ($0, sums[$0]!.0 / Double(sums[$0]!.1)) }
    }

    func signed(_ x: Double) -> String { (x >= 0 ? "+" : "−") + fmt(abs(x), 0) }

    public func markdown() -> String {
        var s = "| testbed | fmoe vs | TTFT ours | TTFT paper | TPOT ours | TPOT paper | hit rate ours (relative / points) | hit rate paper | cells |\n"
        s += "|---|---|---|---|---|---|---|---|---|\n"
        for c in comparisons() {
            let label = FMoEPaper.labels[c.baseline].map { "\($0) (\(c.baseline))" } ?? c.baseline
            let paperHit = FMoEPaper.hitRateImprovement[c.baseline].map { "+\(fmt($0, 0)) %" } ?? "—"
            let paperT = FMoEPaper.ttftReduction[c.baseline].map { "−\(fmt($0, 0)) %" } ?? "—"
            let paperP = FMoEPaper.tpotReduction[c.baseline].map { "−\(fmt($0, 0)) %" } ?? "—"
            let rel = c.hitRateRelative.isFinite && c.baseline != "ondemand-layer" ? "\(signed(c.hitRateRelative)) % / " : ""
            s += "| \(c.testbed) | \(label) | \(signed(-c.ttftReduction)) % | \(paperT) | "
            s += "\(signed(-c.tpotReduction)) % | \(paperP) | "
            s += "\(rel)\(signed(c.hitRatePoints)) pp | \(paperHit) | \(c.cells) |\n"
        }
        s += "\n" + runTable(markdown: true)
        return s
    }

    public func text() -> String {
        var s = "fmoe against each baseline (mean over models × budgets; negative = fmoe lower):\n"
        s += pad("testbed", 22) + "  " + pad("baseline", 20) + "  " + pad("TTFT", 7) + "  " + pad("paper", 6) + "  " + pad("TPOT", 7)
            + "  " + pad("paper", 6) + "  " + pad("hit rel", 8) + "  " + pad("hit pp", 7) + "  " + pad("paper", 6) + "\n"
        for c in comparisons() {
            s += pad(c.testbed, 22) + "  " + pad(FMoEPaper.labels[c.baseline] ?? c.baseline, 20) + "  " + pad(signed(-c.ttftReduction) + "%", 7)
                + "  " + pad(FMoEPaper.ttftReduction[c.baseline].map { "-" + fmt($0, 0) + "%" } ?? "-", 6) + "  " + pad(signed(-c.tpotReduction) + "%", 7)
                + "  " + pad(FMoEPaper.tpotReduction[c.baseline].map { "-" + fmt($0, 0) + "%" } ?? "-", 6)
                + "  " + pad(c.hitRateRelative.isFinite && c.baseline != "ondemand-layer" ? signed(c.hitRateRelative) + "%" : "-", 8)
                + "  " + pad(signed(c.hitRatePoints), 7) + "  " + pad(FMoEPaper.hitRateImprovement[c.baseline].map { "+" + fmt($0, 0) + "%" } ?? "-", 6) + "\n"
        }
        return s + "\n" + runTable(markdown: false)
    }

    func runTable(markdown md: Bool) -> String {
        let cols = ["testbed", "model", "budget_gb", "run", "policy", "ttft_ms", "tpot_ms", "e2e_s", "hit_rate", "precision", "recall", "pcie_gb", "mem_gb", "stall_s"]
        var rows: [[String]] = []
        for (run, res) in zip(spec.runs, results) {
            func m(_ n: String, _ scale: Double, _ d: Int) -> String { res?.metric(n).map { fmt($0 * scale, d) } ?? "-" }
            rows.append([run.testbed, run.config.model, fmt(run.config.expertCacheGB, 0), run.online ? "online" : "offline", run.label,
                         m("ttft_mean_s", 1e3, 1), m("tpot_mean_s", 1e3, 1), m("e2e_mean_s", 1, 2), m("hit_rate", 1, 3),
                         m("prefetch_precision", 1, 3), m("prefetch_recall", 1, 3), m("pcie_bytes", 1e-9, 1),
                         m("expert_memory_avg_bytes", 1e-9, 1), m("stall_s", 1, 1)])
        }
        var notes = ""
        for (i, reason) in skipped { notes += "skipped: \(spec.runs[i].testbed) \(spec.runs[i].config.model) \(fmt(spec.runs[i].config.expertCacheGB, 0)) GB \(spec.runs[i].label): \(reason)\n" }
        if md {
            var s = "| " + cols.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: cols.count) + "\n"
            for r in rows { s += "| " + r.joined(separator: " | ") + " |\n" }
            return s + (notes.isEmpty ? "" : "\n" + notes)
        }
        var w = cols.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { w[i] = max(w[i], c.count) } }
        var s = zip(cols, w).map { pad($0.0, $0.1) }.joined(separator: "  ") + "\n"
        for r in rows { s += zip(r, w).map { pad($0.0, $0.1) }.joined(separator: "  ") + "\n" }
        return s + notes
    }

    public func json() -> String {
        var s = "{\"experiment\": \(jsonQuote(spec.name)), \"comparisons\": ["
        s += comparisons().map { c in
            "{\"testbed\": \(jsonQuote(c.testbed)), \"baseline\": \(jsonQuote(c.baseline)), \"ttft_reduction_pct\": \(MoEReport.number(c.ttftReduction)), "
                + "\"paper_ttft_reduction_pct\": \(FMoEPaper.ttftReduction[c.baseline].map(MoEReport.number) ?? "null"), "
                + "\"tpot_reduction_pct\": \(MoEReport.number(c.tpotReduction)), \"paper_tpot_reduction_pct\": \(FMoEPaper.tpotReduction[c.baseline].map(MoEReport.number) ?? "null"), "
                + "\"hit_rate_relative_pct\": \(MoEReport.number(c.hitRateRelative)), \"hit_rate_points\": \(MoEReport.number(c.hitRatePoints)), "
                + "\"paper_hit_rate_improvement_pct\": \(FMoEPaper.hitRateImprovement[c.baseline].map(MoEReport.number) ?? "null"), \"cells\": \(c.cells)}"
        }.joined(separator: ", ")
        s += "], \"runs\": ["
        s += zip(spec.runs, results).compactMap { run, res -> String? in
            guard let r = res else { return nil }
            return "{\"testbed\": \(jsonQuote(run.testbed)), \"model\": \(jsonQuote(run.config.model)), \"expert_cache_gb\": \(MoEReport.number(run.config.expertCacheGB)), "
                + "\"policy\": \(jsonQuote(run.label)), \"online\": \(run.online), \"seed\": \(run.seed), \"metrics\": {"
                + r.metrics.map { "\(jsonQuote($0.name)): \(MoEReport.number($0.value))" }.joined(separator: ", ") + "}}"
        }.joined(separator: ", ")
        s += "], \"skipped\": ["
        s += skipped.map { "{\"run\": \($0.index), \"reason\": \(jsonQuote($0.reason))}" }.joined(separator: ", ")
        return s + "]}"
    }
}

public struct MoEEvaluation {
    public let spec: MoEEvaluationSpec
    public let environment: MoEEnvironment

    public init(spec: MoEEvaluationSpec, environment: MoEEnvironment) {
        self.spec = spec
        self.environment = environment
    }

    /// Runs every run (in parallel with `jobs` > 1); results in run order.
    public func run(jobs: Int = 1, offline: Bool = true, online: Bool = true,
                    progress: @escaping @Sendable (String) -> Void = { _ in }) throws -> MoEEvaluationResults {
        let selected = spec.runs.filter { ($0.online && online) || (!$0.online && offline) }
        var sub = spec
        sub.runs = selected.enumerated().map { var r = $0.element; r.index = $0.offset; return r }
        let n = sub.runs.count
        let box = ResultBox(count: n)
        let env = environment
        let runs = sub.runs
        let next = Counter()
        let workers = max(1, min(jobs, n))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.take()
                if i >= n || box.failed { return }
                let run = runs[i]
                let sim: MoESimulation
                do {
                    sim = try MoESimulation(config: run.config, environment: env)
                    _ = try sim.cacheSlots()
                } catch let e as MoEConfigError {
                    // A run that cannot exist on this hardware: reported, not run.
                    box.skip(i, e.description)
                    continue
                } catch {
                    box.fail(error)
                    return
                }
                do {
                    let r = try sim.run(seed: run.seed)
                    let done = box.set(i, r)
                    progress("[\(done)/\(n)] \(run.testbed) \(run.config.model) \(fmt(run.config.expertCacheGB, 0)) GB \(run.online ? "online" : "offline") \(run.label)")
                } catch {
                    box.fail(error)
                    return
                }
            }
        }
        if let e = box.error { throw e }
        return MoEEvaluationResults(spec: sub, results: box.results, skipped: box.skipped.sorted { $0.index < $1.index })
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    var results: [MoERunResult?]
    var error: Error?
    var failed: Bool { lock.lock(); defer { lock.unlock() }; return error != nil }
    init(count: Int) { results = Array(repeating: nil, count: count) }
    var done = 0
    var skipped: [(index: Int, reason: String)] = []
    func skip(_ i: Int, _ reason: String) { lock.lock(); skipped.append((i, reason)); lock.unlock() }
    func set(_ i: Int, _ r: MoERunResult) -> Int { lock.lock(); defer { lock.unlock() }; results[i] = r; done += 1; return done }
    func fail(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take() -> Int { lock.lock(); defer { lock.unlock() }; let v = value; value += 1; return v }
}
