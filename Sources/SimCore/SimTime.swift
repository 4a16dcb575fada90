/// A point in, or a span of, simulated time: a signed count of **nanoseconds**.
///
/// Simulated time is an integer so that event order is exact and a run is a pure
/// function of its inputs. Durations measured in floating point (profiles, traces) are
/// rounded once, at the edge, with ``init(seconds:)`` and friends; nothing inside the
/// simulation reads the wall clock.
@frozen
public struct SimTime: Hashable, Comparable, Sendable, AdditiveArithmetic, CustomStringConvertible {
    /// Nanoseconds since the start of the simulation (or the length of a span).
    public var nanoseconds: Int64

    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// Rounds `seconds` to the nearest nanosecond. Values beyond ±292 years clamp to ``max``/``min``.
    @inlinable public init(seconds: Double) {
        let ns = (seconds * 1e9).rounded()
        if ns >= 9.2e18 { self = .max } else if ns <= -9.2e18 { self = .min } else { nanoseconds = Int64(ns) }
    }

    @inlinable public static func ns(_ v: Int64) -> SimTime { SimTime(nanoseconds: v) }
    @inlinable public static func us(_ v: Double) -> SimTime { SimTime(seconds: v * 1e-6) }
    @inlinable public static func ms(_ v: Double) -> SimTime { SimTime(seconds: v * 1e-3) }
    @inlinable public static func s(_ v: Double) -> SimTime { SimTime(seconds: v) }

    public static let zero = SimTime(nanoseconds: 0)
    /// Later than any event: "never".
    public static let max = SimTime(nanoseconds: .max)
    public static let min = SimTime(nanoseconds: .min)

    @inlinable public var seconds: Double { Double(nanoseconds) * 1e-9 }
    @inlinable public var milliseconds: Double { Double(nanoseconds) * 1e-6 }
    @inlinable public var microseconds: Double { Double(nanoseconds) * 1e-3 }

    @inlinable public static func < (a: SimTime, b: SimTime) -> Bool { a.nanoseconds < b.nanoseconds }
    @inlinable public static func + (a: SimTime, b: SimTime) -> SimTime { SimTime(nanoseconds: a.nanoseconds &+ b.nanoseconds) }
    @inlinable public static func - (a: SimTime, b: SimTime) -> SimTime { SimTime(nanoseconds: a.nanoseconds &- b.nanoseconds) }
    @inlinable public static func * (a: SimTime, k: Int64) -> SimTime { SimTime(nanoseconds: a.nanoseconds &* k) }

    /// `a + b`, saturating at ``max`` instead of wrapping (for "now + a very long time").
    @inlinable public static func saturatingAdd(_ a: SimTime, _ b: SimTime) -> SimTime {
        let (r, o) = a.nanoseconds.addingReportingOverflow(b.nanoseconds)
        return o ? (b.nanoseconds > 0 ? .max : .min) : SimTime(nanoseconds: r)
    }

    /// Human form with a unit chosen by magnitude: `0 ns`, `850 ns`, `12.5 µs`, `3.217 ms`, `1.500 s`.
    public var description: String { SimTime.format(nanoseconds: nanoseconds) }

    public static func format(nanoseconds ns: Int64) -> String {
        if ns == Int64.max { return "never" }
        let a = ns.magnitude
        func fixed(_ v: Double, _ digits: Int) -> String {
            // Locale-independent fixed-point formatting.
            let scale = pow10(digits)
            let r = (v * scale).rounded() / scale
            var s = String(r)
            if let dot = s.firstIndex(of: ".") {
                let frac = s[s.index(after: dot)...]
                if frac.count < digits { s += String(repeating: "0", count: digits - frac.count) }
                if frac.count > digits { s = String(s[..<s.index(dot, offsetBy: digits + 1)]) }
            } else if digits > 0 {
                s += "." + String(repeating: "0", count: digits)
            }
            return s
        }
        let v = Double(ns)
        if a < 1_000 { return "\(ns) ns" }
        if a < 1_000_000 { return fixed(v / 1e3, 3) + " µs" }
        if a < 1_000_000_000 { return fixed(v / 1e6, 3) + " ms" }
        return fixed(v / 1e9, 3) + " s"
    }

    private static func pow10(_ n: Int) -> Double {
        var r = 1.0
        for _ in 0..<n { r *= 10 }
        return r
    }
}
