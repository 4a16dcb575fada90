// Regression against a baseline: the mean of each (policy, params, tenant, metric) group of an
// experiment, compared with a stored value under a per-metric tolerance.
//
// Baseline file (JSON, format gpusim-baseline/1):
//   {"format": "gpusim-baseline/1", "experiment": NAME,
//    "tolerances": {"default": {"abs": A, "rel": R}, METRIC: {"abs": A, "rel": R}, ...},
//    "entries": [{"policy": P, "params": {...}, "tenant": T, "metric": M, "mean": X, "n": N}, ...]}
// A value passes when |now − baseline| ≤ abs + rel·|baseline|.

import Foundation
import Results

public struct BaselineError: Error, Sendable, CustomStringConvertible, LocalizedError {
    public var file: String
    public var keyPath: String
    public var message: String
    public var description: String { keyPath.isEmpty ? "\(file): \(message)" : "\(file): \(keyPath): \(message)" }
    public var errorDescription: String? { description }
}

public struct Baseline: Sendable, Equatable {
    public static let formatIdentifier = "gpusim-baseline/1"

    public struct Entry: Sendable, Equatable {
        public var policy: String
        public var params: CanonicalJSON
        public var tenant: String
        public var metric: String
        public var mean: Double
        public var n: Int
        public init(policy: String, params: CanonicalJSON, tenant: String, metric: String, mean: Double, n: Int) {
            self.policy = policy
            self.params = params
            self.tenant = tenant
            self.metric = metric
            self.mean = mean
            self.n = n
        }
    }

    public var experiment: String
    /// Per metric; "default" for the others.
    public var tolerances: [String: Tolerance]
    public var entries: [Entry]

    public init(experiment: String, tolerances: [String: Tolerance], entries: [Entry]) {
        self.experiment = experiment
        self.tolerances = tolerances
        self.entries = entries
    }

    public func tolerance(for metric: String) -> Tolerance {
        tolerances[metric] ?? tolerances["default"] ?? .exact
    }

    /// A baseline from the current results of an experiment, with the kind's default tolerances.
    public static func from(_ store: ResultsStore, experiment: String,
                            kinds: [any SimulationKind.Type] = SimulationKinds.all) throws -> Baseline {
        let report = try Report.build(store, experiment: experiment)
        guard !report.groups.isEmpty else {
            throw SweepError(message: "\(store.path) has no successful runs of experiment '\(experiment)' to make a baseline from")
        }
        let kind = kinds.first { $0.name == report.groups[0].kind }
        var tolerances: [String: Tolerance] = ["default": Tolerance(abs: 0, rel: 1e-9)]
        for m in Set(report.groups.map(\.metric)) {
            if let info = kind?.metrics.first(where: { $0.name == m }) { tolerances[m] = info.tolerance }
        }
        let entries = report.groups.map {
            Entry(policy: $0.policy, params: $0.params, tenant: $0.tenant, metric: $0.metric, mean: $0.mean, n: $0.n)
        }
        return Baseline(experiment: experiment, tolerances: tolerances, entries: entries)
    }

    /// The file text: one entry per line, keys sorted, so that diffs of baselines read well.
    public var text: String {
        func tol(_ t: Tolerance) -> CanonicalJSON { .object(["abs": .double(t.abs)!, "rel": .double(t.rel)!]) }
        var lines = ["{", "\"format\": \"\(Self.formatIdentifier)\",", "\"experiment\": " + CanonicalJSON.string(experiment).text + ","]
        lines.append("\"tolerances\": {")
        let names = tolerances.keys.sorted { ($0 == "default" ? "" : $0) < ($1 == "default" ? "" : $1) }
        for (i, k) in names.enumerated() {
            lines.append("  " + CanonicalJSON.string(k).text + ": " + tol(tolerances[k]!).text + (i + 1 < names.count ? "," : ""))
        }
        lines.append("},")
        lines.append("\"entries\": [")
        for (i, e) in entries.enumerated() {
            let o: CanonicalJSON = .object(["policy": .string(e.policy), "params": e.params, "tenant": .string(e.tenant),
                                            "metric": .string(e.metric), "mean": .double(e.mean) ?? .null, "n": .int(e.n)])
            lines.append("  " + o.text + (i + 1 < entries.count ? "," : ""))
        }
        lines.append("]")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    public static func load(path: String) throws -> Baseline {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw BaselineError(file: path, keyPath: "", message: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> Baseline {
        let root: CanonicalJSON
        do { root = try CanonicalJSON.parse(text) } catch {
            throw BaselineError(file: file, keyPath: "", message: "not valid JSON: \(error)")
        }
        func fail(_ path: String, _ m: String) -> BaselineError { BaselineError(file: file, keyPath: path, message: m) }
        guard let top = root.objectValue else { throw fail("", "expected a JSON object with format, experiment, tolerances, entries") }
        for k in top.keys where !["format", "experiment", "tolerances", "entries"].contains(k) {
            throw fail(k, "unknown key (known keys: format, experiment, tolerances, entries)")
        }
        guard top["format"]?.stringValue == formatIdentifier else {
            throw fail("format", "expected \"\(formatIdentifier)\", got \(top["format"]?.text ?? "nothing")")
        }
        guard let experiment = top["experiment"]?.stringValue, !experiment.isEmpty else {
            throw fail("experiment", "expected the experiment's name (a string)")
        }
        guard let tolObj = top["tolerances"]?.objectValue else { throw fail("tolerances", "expected an object of metric → {abs, rel}") }
        var tolerances: [String: Tolerance] = [:]
        for (k, v) in tolObj {
            guard let o = v.objectValue, Set(o.keys).isSubset(of: ["abs", "rel"]) else {
                throw fail("tolerances.\(k)", "expected {\"abs\": A, \"rel\": R}")
            }
            let a = o["abs"]?.doubleValue ?? 0, r = o["rel"]?.doubleValue ?? 0
            guard a >= 0, r >= 0, o["abs"].map({ $0.doubleValue != nil }) ?? true, o["rel"].map({ $0.doubleValue != nil }) ?? true else {
                throw fail("tolerances.\(k)", "abs and rel must be non-negative numbers")
            }
            tolerances[k] = Tolerance(abs: a, rel: r)
        }
        guard let list = top["entries"]?.arrayValue else { throw fail("entries", "expected a list of entries") }
        var entries: [Entry] = []
        for (i, item) in list.enumerated() {
            let p = "entries[\(i)]"
            guard let o = item.objectValue else { throw fail(p, "expected an object {policy, params, tenant, metric, mean, n}") }
            for k in o.keys where !["policy", "params", "tenant", "metric", "mean", "n"].contains(k) {
                throw fail("\(p).\(k)", "unknown key")
            }
            guard let policy = o["policy"]?.stringValue else { throw fail("\(p).policy", "expected a string") }
            guard let params = o["params"], params.objectValue != nil else { throw fail("\(p).params", "expected an object") }
            guard let tenant = o["tenant"]?.stringValue else { throw fail("\(p).tenant", "expected a string") }
            guard let metric = o["metric"]?.stringValue else { throw fail("\(p).metric", "expected a string") }
            guard let mean = o["mean"]?.doubleValue, mean.isFinite else { throw fail("\(p).mean", "expected a finite number") }
            guard let n = o["n"]?.intValue, n >= 1 else { throw fail("\(p).n", "expected a whole number >= 1") }
            entries.append(Entry(policy: policy, params: params, tenant: tenant, metric: metric, mean: mean, n: n))
        }
        return Baseline(experiment: experiment, tolerances: tolerances, entries: entries)
    }
}

/// The outcome of comparing a database with a baseline.
public struct Regression: Sendable {
    public enum Status: String, Sendable { case ok, regressed, missing }

    public struct Comparison: Sendable {
        public var entry: Baseline.Entry
        public var status: Status
        public var value: Double?
        public var n: Int?
        public var tolerance: Tolerance
    }

    public var baselineFile: String
    public var experiment: String
    public var comparisons: [Comparison]
    /// Groups in the database that the baseline does not list.
    public var new: [ReportGroup]
    public var failedRuns: Int

    public var regressions: [Comparison] { comparisons.filter { $0.status != .ok } }
    public var passed: Bool { regressions.isEmpty && failedRuns == 0 }

    public static func compare(_ store: ResultsStore, baseline: Baseline, file: String) throws -> Regression {
        let report = try Report.build(store, experiment: baseline.experiment)
        var index: [String: ReportGroup] = [:]
        func key(_ policy: String, _ params: String, _ tenant: String, _ metric: String) -> String {
            [policy, params, tenant, metric].joined(separator: "\u{1}")
        }
        for g in report.groups { index[key(g.policy, g.paramsText, g.tenant, g.metric)] = g }
        var used = Set<String>()
        var comparisons: [Comparison] = []
        for e in baseline.entries {
            let k = key(e.policy, e.params.text, e.tenant, e.metric)
            let tol = baseline.tolerance(for: e.metric)
            guard let g = index[k] else {
                comparisons.append(Comparison(entry: e, status: .missing, value: nil, n: nil, tolerance: tol))
                continue
            }
            used.insert(k)
            comparisons.append(Comparison(entry: e, status: tol.accepts(g.mean, baseline: e.mean) ? .ok : .regressed,
                                          value: g.mean, n: g.n, tolerance: tol))
        }
        let new = report.groups.filter { !used.contains(key($0.policy, $0.paramsText, $0.tenant, $0.metric)) }
        return Regression(baselineFile: file, experiment: baseline.experiment, comparisons: comparisons, new: new,
                          failedRuns: report.runCounts[baseline.experiment]?.failed ?? 0)
    }

    static func describe(_ params: CanonicalJSON, policy: String, tenant: String) -> String {
        var parts = (params.objectValue ?? [:]).keys.sorted().map { "\(Report.short($0))=\(Report.cell(params[$0]))" }
        parts.append("policy=\(policy)")
        if tenant != "all" { parts.append("tenant=\(tenant)") }
        return parts.joined(separator: " ")
    }

    /// A readable diff: one block per regression, then a verdict line.
    public var text: String {
        var out: [String] = []
        let r = regressions
        out.append("regress \(experiment) against \(baselineFile): \(comparisons.count) metric(s) compared, "
                   + "\(r.filter { $0.status == .regressed }.count) regressed, \(r.filter { $0.status == .missing }.count) missing, "
                   + "\(new.count) not in the baseline, \(failedRuns) failed run(s)")
        for c in r {
            let what = "\(c.entry.metric)  [\(Self.describe(c.entry.params, policy: c.entry.policy, tenant: c.entry.tenant))]"
            switch c.status {
            case .missing:
                out.append("  MISSING     \(what)")
                out.append("              baseline \(Report.format(c.entry.mean)); no successful run in the database")
            case .regressed:
                let v = c.value!
                let delta = v - c.entry.mean
                let rel = c.entry.mean != 0 ? String(format: " (%+.3g%%)", delta / abs(c.entry.mean) * 100) : ""
                out.append("  REGRESSION  \(what)")
                out.append("              baseline \(Report.format(c.entry.mean))  now \(Report.format(v))  Δ \(delta >= 0 ? "+" : "")\(Report.format(delta))\(rel)  tolerance ±\(Report.format(c.tolerance.width(around: c.entry.mean)))")
            case .ok: break
            }
        }
        if !new.isEmpty {
            out.append("  (\(new.count) metric group(s) in the database are not in the baseline; regenerate it with --write-baseline to include them)")
        }
        out.append(passed ? "result: PASS" : "result: FAIL (\(r.count) regression(s)\(failedRuns > 0 ? ", \(failedRuns) failed run(s)" : ""))")
        return out.joined(separator: "\n")
    }

    public var json: String {
        let items: [CanonicalJSON] = comparisons.map { c in
            .object(["policy": .string(c.entry.policy), "params": c.entry.params, "tenant": .string(c.entry.tenant),
                     "metric": .string(c.entry.metric), "baseline": .double(c.entry.mean) ?? .null,
                     "value": c.value.flatMap { .double($0) } ?? .null, "status": .string(c.status.rawValue),
                     "tolerance": .double(c.tolerance.width(around: c.entry.mean)) ?? .null])
        }
        let o: CanonicalJSON = .object([
            "experiment": .string(experiment), "baseline": .string(baselineFile), "passed": .bool(passed),
            "failed_runs": .int(failedRuns), "new_groups": .int(new.count), "comparisons": .array(items),
        ])
        return o.text + "\n"
    }
}
