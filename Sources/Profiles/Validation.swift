// Leave-one-model-out cross-validation of the cost model over the shipped profiles.

/// The error of the cost model on measurements it was not fitted to.
public struct ValidationReport: Sendable {
    /// The acceptance target for mlp_up_proj and mlp_down_proj on every GPU.
    public static let targetMedian = 0.05
    public static let targetP95 = 0.15
    public static let targetOps: [Operation] = [.mlpUpProj, .mlpDownProj]

    public struct Entry: Sendable {
        public var gpu: String
        public var op: Operation
        /// Held-out rows predicted.
        public var count: Int
        /// Relative error |pred − meas| / meas.
        public var median: Double
        public var p95: Double
        public var max: Double
        /// Rows predicted from measurements of the same shape by another model (interpolation
        /// or extrapolation in tokens) rather than by the fitted model.
        public var fromMeasuredShape: Int
        /// Median and p95 over the rows predicted by the fitted model alone (nil: none were).
        public var fitMedian: Double?
        public var fitP95: Double?
        /// Whether this row is held to the target, and meets it.
        public var targeted: Bool { ValidationReport.targetOps.contains(op) }
        public var meetsTarget: Bool { median <= ValidationReport.targetMedian && p95 <= ValidationReport.targetP95 }
    }

    /// Per GPU: the sources (models) held out in turn.
    public var folds: [String: [String]]
    public var entries: [Entry]

    /// True when every targeted entry meets the target.
    public var passes: Bool { entries.filter(\.targeted).allSatisfy(\.meetsTarget) }

    /// Leave-one-model-out: for each GPU and each source (Vidur model folder) on it, fit the
    /// GPU's model to the other sources, predict every measured row of the held-out one exactly
    /// as `profile predict` would (a shape the others also measured is interpolated from their
    /// measurements; any other shape comes from the fit), and collect |pred − meas| / meas by
    /// operation. Quantiles interpolate between order statistics (numpy's default).
    public static func leaveOneModelOut(_ profiles: ProfileSet, gpus only: [String]? = nil) throws -> ValidationReport {
        var names = profiles.gpus
        if let only { names = try only.map { try profiles.registry.resolve($0).name } }
        var folds: [String: [String]] = [:]
        var entries: [Entry] = []
        for gpu in Set(names).sorted() {
            let device = try profiles.registry.resolve(gpu)
            let all = profiles.measurements[gpu] ?? []
            let sources = profiles.sources(gpu: gpu)
            guard sources.count >= 2 else {
                throw ProfileError(message: "GPU \(gpu) has \(sources.count) profiled model(s); leave-one-model-out needs at least 2")
            }
            folds[gpu] = sources
            // The fit to everything only serves as the folds' starting point.
            let full = GPUCostModel.fit(device: device, measurements: all)
            var errors: [Operation: [Double]] = [:]
            var measuredShape: [Operation: Int] = [:]
            var fitErrors: [Operation: [Double]] = [:]
            for held in sources {
                let train = all.filter { $0.source != held }
                let model = GPUCostModel.fit(device: device, measurements: train, start: full)
                for m in all where m.source == held {
                    let p = try model.predict(shape: m.shape, tokens: m.tokens)
                    let e = abs(p.ms - m.medianMs) / m.medianMs
                    errors[m.shape.op, default: []].append(e)
                    if p.method != .fitted { measuredShape[m.shape.op, default: 0] += 1 } else { fitErrors[m.shape.op, default: []].append(e) }
                }
            }
            for op in Operation.allCases {
                guard let e = errors[op], !e.isEmpty else { continue }
                let s = e.sorted()
                let f = (fitErrors[op] ?? []).sorted()
                entries.append(Entry(gpu: gpu, op: op, count: s.count, median: quantile(s, 0.5), p95: quantile(s, 0.95),
                                     max: s.last!, fromMeasuredShape: measuredShape[op] ?? 0,
                                     fitMedian: f.isEmpty ? nil : quantile(f, 0.5), fitP95: f.isEmpty ? nil : quantile(f, 0.95)))
            }
        }
        return ValidationReport(folds: folds, entries: entries)
    }

    // MARK: output

    func pct(_ x: Double) -> String { formatFixed(100 * x, decimals: 1) }

    /// A table: one line per GPU and operation, then the PASS/FAIL line.
    public func text() -> String {
        var lines: [String] = []
        lines.append("Leave-one-model-out cross-validation: relative error |pred - meas| / meas of every held-out row")
        for gpu in folds.keys.sorted() {
            lines.append("  \(gpu): \(folds[gpu]!.count) models (\(folds[gpu]!.joined(separator: ", ")))")
        }
        lines.append("")
        let header = ["gpu", "op", "rows", "median %", "p95 %", "max %", "measured-shape rows", "fit-only median %", "fit-only p95 %", "target"]
        var rows: [[String]] = []
        for e in entries {
            rows.append([e.gpu, e.op.rawValue, String(e.count), pct(e.median), pct(e.p95), pct(e.max),
                         String(e.fromMeasuredShape), e.fitMedian.map(pct) ?? "-", e.fitP95.map(pct) ?? "-",
                         e.targeted ? (e.meetsTarget ? "ok" : "MISSED") : ""])
        }
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = Swift.max(widths[i], c.count) } }
        func fmt(_ r: [String]) -> String {
            r.enumerated().map { i, c in
                i <= 1 ? c.padding(widths[i]) : String(repeating: " ", count: widths[i] - c.count) + c
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        lines.append(fmt(header))
        lines.append(fmt(widths.map { String(repeating: "-", count: $0) }))
        for r in rows { lines.append(fmt(r)) }
        lines.append("")
        let missed = entries.filter { $0.targeted && !$0.meetsTarget }.map { "\($0.gpu) \($0.op)" }
        lines.append("\(passes ? "PASS" : "FAIL"): target median <= \(pct(ValidationReport.targetMedian))% and p95 <= \(pct(ValidationReport.targetP95))% "
                     + "for \(ValidationReport.targetOps.map(\.rawValue).joined(separator: " and ")) on every GPU"
                     + (missed.isEmpty ? "" : " (missed: \(missed.joined(separator: ", ")))"))
        return lines.joined(separator: "\n")
    }

    public func csv() -> String {
        var out = "gpu,op,rows,median,p95,max,measured_shape_rows,fit_only_median,fit_only_p95,targeted,meets_target\n"
        for e in entries {
            out += "\(e.gpu),\(e.op),\(e.count),\(formatFixed(e.median, decimals: 6)),\(formatFixed(e.p95, decimals: 6)),\(formatFixed(e.max, decimals: 6)),\(e.fromMeasuredShape),"
            out += "\(e.fitMedian.map { formatFixed($0, decimals: 6) } ?? ""),\(e.fitP95.map { formatFixed($0, decimals: 6) } ?? ""),\(e.targeted),\(e.targeted ? String(e.meetsTarget) : "")\n"
        }
        return out
    }

    public func json() -> String {
        var out = "{\n  \"target\": {\"ops\": [\(ValidationReport.targetOps.map { "\"\($0)\"" }.joined(separator: ", "))], \"median\": \(ValidationReport.targetMedian), \"p95\": \(ValidationReport.targetP95)},\n"
        out += "  \"pass\": \(passes),\n  \"folds\": {"
        out += folds.keys.sorted().map { g in "\"\(g)\": [\(folds[g]!.map { "\"\(jsonEscape($0))\"" }.joined(separator: ", "))]" }.joined(separator: ", ")
        out += "},\n  \"entries\": [\n"
        out += entries.map { e in
            "    {\"gpu\": \"\(jsonEscape(e.gpu))\", \"op\": \"\(e.op)\", \"rows\": \(e.count), \"median\": \(formatFixed(e.median, decimals: 6)), \"p95\": \(formatFixed(e.p95, decimals: 6)), \"max\": \(formatFixed(e.max, decimals: 6)), \"measured_shape_rows\": \(e.fromMeasuredShape), \"fit_only_median\": \(e.fitMedian.map { formatFixed($0, decimals: 6) } ?? "null"), \"fit_only_p95\": \(e.fitP95.map { formatFixed($0, decimals: 6) } ?? "null"), \"targeted\": \(e.targeted), \"meets_target\": \(e.meetsTarget)}"
        }.joined(separator: ",\n")
        out += "\n  ]\n}"
        return out
    }
}

/// `x` with exactly `decimals` digits after the point (no locale, no exponent).
public func formatFixed(_ x: Double, decimals: Int) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
    var p = 1.0
    for _ in 0..<decimals { p *= 10 }
    let neg = x < 0
    let r = (abs(x) * p).rounded()
    guard r < 9.0e18 else { return String(x) }
    let n = UInt64(r)
    let ip = n / UInt64(p), fp = n % UInt64(p)
    var s = String(ip)
    if decimals > 0 {
        let f = String(fp)
        s += "." + String(repeating: "0", count: decimals - f.count) + f
    }
    return neg && r != 0 ? "-" + s : s
}

/// `x` with `digits` significant digits, in plain decimal notation.
public func formatSignificant(_ x: Double, digits: Int = 6) -> String {
    guard x.isFinite, x != 0 else { return formatFixed(x, decimals: 0) }
    var mag = 0
    var a = abs(x)
    while a >= 10 { a /= 10; mag += 1 }
    while a < 1 { a *= 10; mag -= 1 }
    let decimals = Swift.max(0, digits - 1 - mag)
    var s = formatFixed(x, decimals: decimals)
    if s.contains(".") {
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
    }
    return s
}

func jsonEscape(_ s: String) -> String {
    var out = ""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if ch.value < 0x20 {
                let h = String(ch.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else { out.unicodeScalars.append(ch) }
        }
    }
    return out
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
