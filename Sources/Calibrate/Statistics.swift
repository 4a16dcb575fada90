// Summaries of repeated measurements: median and spread.

/// A repeated measurement in milliseconds: median, 10th and 90th percentiles, extremes.
public struct Summary: Sendable, Equatable, Codable {
    public var medianMs: Double
    public var p10Ms: Double
    public var p90Ms: Double
    public var minMs: Double
    public var maxMs: Double
    /// Timed repetitions (warm-up runs excluded).
    public var repeats: Int
    /// Untimed warm-up runs before them.
    public var warmup: Int

    public init(samples: [Double], warmup: Int) {
        precondition(!samples.isEmpty, "a summary needs at least one sample")
        let s = samples.sorted()
        medianMs = Summary.quantile(s, 0.5)
        p10Ms = Summary.quantile(s, 0.1)
        p90Ms = Summary.quantile(s, 0.9)
        minMs = s.first!
        maxMs = s.last!
        repeats = s.count
        self.warmup = warmup
    }

    /// Linear interpolation between order statistics (Hyndman & Fan type 7, numpy's default).
    public static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard sorted.count > 1 else { return sorted[0] }
        let h = Double(sorted.count - 1) * q
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }
}

/// Runs `body` `warmup` times untimed, then `repeats` times, each returning milliseconds.
func measure(warmup: Int, repeats: Int, _ body: () throws -> Double) rethrows -> Summary {
    for _ in 0..<max(warmup, 0) { _ = try body() }
    var samples: [Double] = []
    samples.reserveCapacity(max(repeats, 1))
    for _ in 0..<max(repeats, 1) { samples.append(try body()) }
    return Summary(samples: samples, warmup: max(warmup, 0))
}
