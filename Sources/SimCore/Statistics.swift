import Histogram

/// A distribution of durations (latencies), kept in an HDR histogram of **nanoseconds**
/// with three significant digits: constant memory, O(1) recording, percentiles within 0.1%.
public struct LatencyDistribution: Sendable {
    @usableFromInline var histogram: Histogram<UInt64>
    /// Exact sum of recorded values (ns), for an exact mean.
    public private(set) var sumNanoseconds: Double = 0

    /// Tracks values from 1 ns up to `highest` (default one day); larger values are clamped
    /// to the highest trackable value and counted in ``clampedCount``.
    public init(highest: SimTime = .s(86_400)) {
        histogram = Histogram(lowestDiscernibleValue: 1,
                              highestTrackableValue: UInt64(Swift.max(highest.nanoseconds, 2)),
                              numberOfSignificantValueDigits: .three)
    }

    /// Values above the trackable range, recorded as the range's top.
    public private(set) var clampedCount: Int = 0

    /// Records one duration; negative durations are a programming error.
    public mutating func record(_ d: SimTime) {
        precondition(d.nanoseconds >= 0, "negative duration \(d)")
        var v = UInt64(d.nanoseconds)
        if v > histogram.highestTrackableValue { v = histogram.highestTrackableValue; clampedCount += 1 }
        _ = histogram.record(v)
        sumNanoseconds += Double(d.nanoseconds)
    }

    public var count: Int { Int(histogram.totalCount) }
    public var isEmpty: Bool { histogram.totalCount == 0 }

    /// Exact mean (from the running sum), or zero when empty.
    public var mean: SimTime { isEmpty ? .zero : SimTime(nanoseconds: Int64((sumNanoseconds / Double(count)).rounded())) }

    /// Value at percentile `p` in 0...100 (e.g. 99 for p99), or zero when empty.
    public func percentile(_ p: Double) -> SimTime {
        isEmpty ? .zero : SimTime(nanoseconds: Int64(histogram.valueAtPercentile(p)))
    }

    public var min: SimTime { isEmpty ? .zero : SimTime(nanoseconds: Int64(histogram.min)) }
    public var max: SimTime { isEmpty ? .zero : SimTime(nanoseconds: Int64(histogram.max)) }

    /// Adds another distribution's samples to this one.
    public mutating func merge(_ other: LatencyDistribution) {
        histogram.add(other.histogram)
        sumNanoseconds += other.sumNanoseconds
        clampedCount += other.clampedCount
    }
}

/// The time-weighted average of a piecewise-constant quantity (utilisation, queue length,
/// memory in use): ∫ value dt / elapsed. Values are held from one ``set(_:at:)`` to the next.
public struct TimeWeightedAverage: Sendable {
    public private(set) var start: SimTime
    public private(set) var lastChange: SimTime
    public private(set) var value: Double
    /// ∫ value dt up to `lastChange`, in value·seconds.
    public private(set) var integral: Double = 0
    public private(set) var maximum: Double

    public init(initial: Double = 0, at start: SimTime = .zero) {
        self.start = start
        self.lastChange = start
        self.value = initial
        self.maximum = initial
    }

    /// The quantity takes value `v` from time `t` on. Time must not run backwards.
    public mutating func set(_ v: Double, at t: SimTime) {
        precondition(t >= lastChange, "time ran backwards: \(t) < \(lastChange)")
        integral += value * (t - lastChange).seconds
        lastChange = t
        value = v
        if v > maximum { maximum = v }
    }

    /// Adds `delta` to the current value at time `t`.
    public mutating func add(_ delta: Double, at t: SimTime) { set(value + delta, at: t) }

    /// ∫ value dt from the start to `t` (value·seconds).
    public func integral(upTo t: SimTime) -> Double {
        precondition(t >= lastChange, "time ran backwards: \(t) < \(lastChange)")
        return integral + value * (t - lastChange).seconds
    }

    /// Average over [start, t]; the current value when no time has passed.
    public func average(upTo t: SimTime) -> Double {
        let span = (t - start).seconds
        return span > 0 ? integral(upTo: t) / span : value
    }
}

/// A named monotone count (events, bytes, context switches).
@frozen
public struct Counter: Sendable, Equatable {
    public private(set) var value: Int64 = 0
    public init() {}
    public mutating func add(_ n: Int64 = 1) {
        precondition(n >= 0, "a counter only grows")
        value += n
    }
}
