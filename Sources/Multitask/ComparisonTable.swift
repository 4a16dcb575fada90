// The comparison table `gpusim multitask run` prints: one row per (grid point, policy), with the
// GPU's utilisation against exclusive and each tenant's headline figure.

import Foundation

/// Rows of (label, metrics) turned into a table.
public struct ComparisonTable: Sendable {
    public struct Row: Sendable {
        public var group: String
        public var policy: String
        public var result: MultitaskResult
        public init(group: String, policy: String, result: MultitaskResult) {
            self.group = group
            self.policy = policy
            self.result = result
        }
    }

    public var rows: [Row]
    /// Tenants and their kinds, in config order.
    public var tenants: [(name: String, kind: String)]

    public init(rows: [Row], tenants: [(name: String, kind: String)]) {
        self.rows = rows
        self.tenants = tenants
    }

    /// Column headers and cells.
    public func cells() -> (header: [String], rows: [[String]]) {
        var header = ["gpu", "policy", "SM util", "vs excl.", "HBM util", "makespan s"]
        for t in tenants {
            switch t.kind {
            case "inference": header += ["\(t.name) SLO", "\(t.name) TTFT p50 s", "\(t.name) TTFT p99 s", "\(t.name) TPOT p99 ms"]
            default: header += ["\(t.name) iter/s"]
            }
        }
        header += ["Jain", "ctx sw", "preempt"]
        var out: [[String]] = []
        for r in rows {
            let m = r.result
            let excl = rows.first { $0.group == r.group && $0.policy == "exclusive" }?.result.metric("gpu", "sm_utilisation")
            let util = m.metric("gpu", "sm_utilisation") ?? 0
            var cells = [r.group, r.policy, pct(util), excl.map { $0 > 0 ? String(format: "%.2fx", util / $0) : "-" } ?? "-",
                         pct(m.metric("gpu", "hbm_utilisation") ?? 0), num(m.metric("gpu", "makespan_s"), 1)]
            for t in tenants {
                switch t.kind {
                case "inference":
                    cells += [m.metric(t.name, "slo_attainment").map(pct) ?? "-", num(m.metric(t.name, "ttft_p50_s"), 3),
                              num(m.metric(t.name, "ttft_p99_s"), 3), num(m.metric(t.name, "tpot_p99_s").map { $0 * 1e3 }, 1)]
                default:
                    cells += [num(m.metric(t.name, "throughput_iter_per_s"), 3)]
                }
            }
            cells += [num(m.metric("gpu", "jain_fairness"), 3), num(m.metric("gpu", "context_switches"), 0),
                      num(m.metric("gpu", "preemptions"), 0)]
            out.append(cells)
        }
        return (header, out)
    }

    /// A Markdown table.
    public func markdown() -> String {
        let (h, rs) = cells()
        var s = "| " + h.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: h.count) + "\n"
        for r in rs { s += "| " + r.joined(separator: " | ") + " |\n" }
        return s
    }

    /// Aligned plain text.
    public func text() -> String {
        let (h, rs) = cells()
        var width = h.map(\.count)
        for r in rs { for (i, c) in r.enumerated() { width[i] = max(width[i], c.count) } }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, c in i < 2 ? c.padding(toLength: width[i], withPad: " ", startingAt: 0)
                                               : String(repeating: " ", count: width[i] - c.count) + c }.joined(separator: "  ")
        }
        return ([line(h)] + rs.map(line)).joined(separator: "\n") + "\n"
    }

    func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
    func num(_ x: Double?, _ digits: Int) -> String { x.map { String(format: "%.\(digits)f", $0) } ?? "-" }
}
