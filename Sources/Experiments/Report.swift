// Reports: metrics grouped by experiment, grid point (params), policy, tenant and metric, with
// the mean and a 95% confidence interval (Student's t) over the seeds.

import Foundation
import Results

/// One (experiment, params, policy, tenant, metric) group over its seeds.
public struct ReportGroup: Sendable, Equatable {
    public var experiment: String
    public var kind: String
    public var params: CanonicalJSON
    public var paramsText: String
    public var policy: String
    public var tenant: String
    public var metric: String
    /// Values by seed order.
    public var values: [Double]
    /// Smallest ordinal of the group's runs (orders rows as the config lists them).
    public var ordinal: Int64

    public var n: Int { values.count }
    public var mean: Double { values.reduce(0, +) / Double(max(values.count, 1)) }
    /// Sample standard deviation (0 for one value).
    public var stddev: Double {
        guard values.count > 1 else { return 0 }
        let m = mean
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }
    /// Half-width of the 95% confidence interval of the mean, t(0.975, n−1)·s/√n; nil for n < 2.
    public var ci95: Double? {
        guard n >= 2 else { return nil }
        return Statistics.t975(degreesOfFreedom: n - 1) * stddev / Double(n).squareRoot()
    }
}

public enum Statistics {
    /// Two-sided 95% quantiles of Student's t, t(0.975, df), for df 1...30 (standard tables).
    static let t975Table: [Double] = [
        12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
        2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
        2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
    ]
    /// Beyond 30: (df, t) points, interpolated linearly in 1/df; 1.9600 at infinity.
    static let t975Tail: [(Double, Double)] = [(30, 2.0423), (40, 2.0211), (50, 2.0086), (60, 2.0003), (80, 1.9901),
                                                (100, 1.9840), (120, 1.9799), (.infinity, 1.9600)]

    /// t(0.975, df): the factor of s/√n in a 95% confidence interval of a mean.
    public static func t975(degreesOfFreedom df: Int) -> Double {
        precondition(df >= 1)
        if df <= 30 { return t975Table[df - 1] }
        let x = 1 / Double(df)
        for (a, b) in zip(t975Tail, t975Tail.dropFirst()) where Double(df) <= b.0 {
            let xa = 1 / a.0, xb = b.0.isInfinite ? 0 : 1 / b.0
            return a.1 + (b.1 - a.1) * (xa - x) / (xa - xb)
        }
        return 1.96
    }
}

public enum ReportFormat: String, Sendable, CaseIterable {
    case text, markdown, csv, json
}

public struct Report: Sendable {
    public var groups: [ReportGroup]
    /// Runs per experiment: ok, failed, infeasible.
    public var runCounts: [String: (ok: Int, failed: Int, infeasible: Int)]
    /// Axes per experiment, in order of first appearance.
    public var axes: [String: [String]]
    /// Metric order per experiment (the kind's order, then others by name).
    public var metricOrder: [String: [String]]

    /// Groups the ok runs' metrics of `store` (one experiment, or all); only `metrics` when given.
    public static func build(_ store: ResultsStore, experiment: String? = nil, metrics: [String]? = nil) throws -> Report {
        let runs = try store.runs(experiment: experiment)
        let values = try store.metricsByRun(experiment: experiment)
        var groups: [String: ReportGroup] = [:]
        var counts: [String: (ok: Int, failed: Int, infeasible: Int)] = [:]
        var axes: [String: [String]] = [:]
        var seenMetrics: [String: Set<String>] = [:]
        var kinds: [String: String] = [:]
        for r in runs {
            var c = counts[r.experiment] ?? (0, 0, 0)
            switch r.status {
            case .ok: c.ok += 1
            case .failed: c.failed += 1
            case .infeasible: c.infeasible += 1
            }
            counts[r.experiment] = c
            kinds[r.experiment] = r.kind
            let params = (try? CanonicalJSON.parse(r.params)) ?? .object([:])
            var list = axes[r.experiment] ?? []
            for k in (params.objectValue ?? [:]).keys.sorted() where !list.contains(k) { list.append(k) }
            axes[r.experiment] = list
            guard r.status == .ok else { continue }
            for m in values[r.id] ?? [] {
                if let metrics, !metrics.contains(m.name) { continue }
                seenMetrics[r.experiment, default: []].insert(m.name)
                let key = [r.experiment, r.params, r.policy, m.tenant, m.name].joined(separator: "\u{1}")
                if groups[key] == nil {
                    groups[key] = ReportGroup(experiment: r.experiment, kind: r.kind, params: params, paramsText: r.params,
                                              policy: r.policy, tenant: m.tenant, metric: m.name, values: [], ordinal: r.ordinal)
                }
                groups[key]!.values.append(m.value)
                groups[key]!.ordinal = min(groups[key]!.ordinal, r.ordinal)
            }
        }
        // Axes in the order the config's grid first varies them: sort by name is stable but the
        // params JSON loses the config's order, so keep names sorted.
        var metricOrder: [String: [String]] = [:]
        for (exp, names) in seenMetrics {
            let kindOrder = SimulationKinds.named(kinds[exp] ?? "")?.metrics.map(\.name) ?? []
            var order = kindOrder.filter { names.contains($0) }
            order += names.subtracting(order).sorted()
            if let metrics { order = metrics.filter { names.contains($0) } }
            metricOrder[exp] = order
        }
        let sorted = groups.values.sorted {
            ($0.experiment, $0.ordinal, $0.paramsText, $0.policy, $0.tenant, $0.metric)
                < ($1.experiment, $1.ordinal, $1.paramsText, $1.policy, $1.tenant, $1.metric)
        }
        return Report(groups: sorted, runCounts: counts, axes: axes, metricOrder: metricOrder)
    }

    // MARK: rendering

    /// A number with about six significant digits, without an exponent in the usual range.
    public static func format(_ x: Double, digits: Int? = nil) -> String {
        if x == 0 { return "0" }
        let a = abs(x)
        if x == x.rounded() && a < 1e15 && digits == nil { return String(format: "%.0f", x) }
        if a >= 1e12 || a < 1e-6 { return String(format: "%.4e", x) }
        let d = digits ?? max(0, min(6, 5 - Int(log10(a).rounded(.down))))
        return String(format: "%.\(d)f", x)
    }

    static func decimals(_ x: Double) -> Int {
        let a = abs(x)
        if a == 0 || a >= 1e12 || a < 1e-6 { return 4 }
        return max(0, min(6, 5 - Int(log10(a).rounded(.down))))
    }

    /// A grid value for a table cell: file paths shortened to their last component.
    static func cell(_ v: CanonicalJSON?) -> String {
        guard let v else { return "-" }
        let t = v.displayText
        if case .string(let s) = v, s.contains("/") { return (s as NSString).lastPathComponent }
        return t
    }

    static func short(_ axis: String) -> String { String(axis.split(separator: ".").last ?? Substring(axis)) }

    /// One table row: (experiment, params, policy, tenant).
    struct Row {
        var params: CanonicalJSON
        var paramsText: String
        var policy: String
        var tenant: String
        var cells: [String: ReportGroup]
    }

    func rows(of experiment: String) -> [Row] {
        var out: [Row] = []
        var index: [String: Int] = [:]
        for g in groups where g.experiment == experiment {
            let key = [g.paramsText, g.policy, g.tenant].joined(separator: "\u{1}")
            if let i = index[key] {
                out[i].cells[g.metric] = g
            } else {
                index[key] = out.count
                out.append(Row(params: g.params, paramsText: g.paramsText, policy: g.policy, tenant: g.tenant, cells: [g.metric: g]))
            }
        }
        return out
    }

    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .text: return renderTable(markdown: false)
        case .markdown: return renderTable(markdown: true)
        case .csv: return renderCSV()
        case .json: return renderJSON()
        }
    }

    var experiments: [String] { Array(Set(runCounts.keys)).sorted() }

    func renderTable(markdown: Bool) -> String {
        var out: [String] = []
        if experiments.isEmpty { return "no runs in the database" }
        for exp in experiments {
            let c = runCounts[exp] ?? (0, 0, 0)
            let rows = rows(of: exp)
            let seeds = Set(groups.filter { $0.experiment == exp }.map(\.n))
            let seedText = seeds.count == 1 ? "\(seeds.first!) seed\(seeds.first! == 1 ? "" : "s")" : "\(seeds.sorted().map(String.init).joined(separator: "/")) seeds"
            let header = "experiment \(exp): \(c.ok) run(s) ok, \(c.failed) failed" + (c.infeasible > 0 ? ", \(c.infeasible) infeasible (not run)" : "") + "; mean" + (seeds.contains { $0 > 1 } ? " ± 95% CI" : "") + " over \(seedText) per row"
            out.append(markdown ? "### \(exp)\n\n\(header)\n" : header)
            let axes = self.axes[exp] ?? []
            let metrics = metricOrder[exp] ?? []
            let showTenant = rows.contains { $0.tenant != "all" }
            var head = axes.map(Self.short) + ["policy"]
            if showTenant { head.append("tenant") }
            head += metrics
            var table: [[String]] = [head]
            for r in rows {
                var line = axes.map { Self.cell(r.params[$0]) } + [r.policy]
                if showTenant { line.append(r.tenant) }
                for m in metrics {
                    guard let g = r.cells[m] else { line.append("-"); continue }
                    let integral = g.values.allSatisfy { $0 == $0.rounded() && abs($0) < 1e15 }
                    let d = Self.decimals(g.mean)
                    var s = integral && g.ci95 == nil ? Self.format(g.mean) : Self.format(g.mean, digits: d)
                    if let ci = g.ci95 { s += " ± " + Self.format(ci, digits: d) }
                    line.append(s)
                }
                table.append(line)
            }
            let numericColumn = (0..<head.count).map { $0 >= axes.count + 1 + (showTenant ? 1 : 0) }
            if markdown {
                out.append("| " + head.joined(separator: " | ") + " |")
                out.append("|" + numericColumn.map { $0 ? "---:|" : "---|" }.joined())
                for line in table.dropFirst() { out.append("| " + line.joined(separator: " | ") + " |") }
            } else {
                let widths = (0..<head.count).map { i in table.map { $0[i].count }.max() ?? 0 }
                for line in table {
                    let cells = line.enumerated().map { i, s in
                        let pad = String(repeating: " ", count: widths[i] - s.count)
                        return numericColumn[i] ? pad + s : s + pad
                    }
                    out.append(cells.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
                }
            }
            out.append("")
        }
        return out.joined(separator: "\n")
    }

    /// Long format: one line per group.
    func renderCSV() -> String {
        var allAxes: [String] = []
        for exp in experiments { for a in axes[exp] ?? [] where !allAxes.contains(a) { allAxes.append(a) } }
        let head = ["experiment", "policy"] + allAxes + ["params", "tenant", "metric", "n", "mean", "stddev", "ci95_halfwidth", "ci95_low", "ci95_high"]
        var lines = [head.map(ResultsExport.csvField).joined(separator: ",")]
        for g in groups {
            var f = [g.experiment, g.policy]
            f += allAxes.map { g.params[$0]?.displayText ?? "" }
            f += [g.paramsText, g.tenant, g.metric, String(g.n), g.mean.description, g.stddev.description]
            if let ci = g.ci95 { f += [ci.description, (g.mean - ci).description, (g.mean + ci).description] } else { f += ["", "", ""] }
            lines.append(f.map(ResultsExport.csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func renderJSON() -> String {
        let items: [CanonicalJSON] = groups.map { g in
            var o: [String: CanonicalJSON] = [
                "experiment": .string(g.experiment), "policy": .string(g.policy), "params": g.params, "tenant": .string(g.tenant),
                "metric": .string(g.metric), "n": .int(g.n), "mean": .double(g.mean) ?? .null, "stddev": .double(g.stddev) ?? .null,
                "values": .array(g.values.map { .double($0) ?? .null }),
            ]
            if let ci = g.ci95 {
                o["ci95_halfwidth"] = .double(ci) ?? .null
                o["ci95_low"] = .double(g.mean - ci) ?? .null
                o["ci95_high"] = .double(g.mean + ci) ?? .null
            } else {
                o["ci95_halfwidth"] = .null
            }
            return .object(o)
        }
        return "[\n" + items.map(\.text).joined(separator: ",\n") + (items.isEmpty ? "]\n" : "\n]\n")
    }
}
