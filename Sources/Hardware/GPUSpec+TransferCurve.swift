// TransferCurve: how long one host-device copy of a given size takes on an otherwise idle link.

import Foundation

/// Host-device copy time by transfer size, for one direction and one kind of host memory.
///
/// A curve is either *measured* — points of (size, achieved bandwidth), where the bandwidth is
/// bytes over the whole copy's time, fixed latency included — or a *model*, `latency + bytes/peak`,
/// used where no measurement was published (the data file then says "estimate").
///
/// For a measured curve, `seconds(bytes:)`:
/// - between two points interpolates the bandwidth linearly in log(size) and divides, never
///   returning less than the time of any smaller point (so a larger copy never takes less time);
/// - below the smallest point, interpolates the time linearly from the fixed latency at 0 bytes
///   to the time of the smallest point;
/// - above the largest point, adds the remaining bytes at the largest point's bandwidth.
public struct TransferCurve: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        public let bytes: Double
        /// Achieved bandwidth: bytes over the copy's whole time.
        public let bytesPerSecond: Double
        public init(bytes: Double, bytesPerSecond: Double) {
            self.bytes = bytes
            self.bytesPerSecond = bytesPerSecond
        }
        /// The copy's time implied by this point.
        public var seconds: Double { bytes / bytesPerSecond }
    }

    public enum Shape: Sendable, Equatable {
        case measured([Point])
        case model(peakBytesPerSecond: Double)
    }

    /// Fixed cost of one copy: the time of a copy of (almost) nothing.
    public let latencySeconds: Double
    public let shape: Shape

    /// For a measured curve, the running maximum of the points' times (so time never falls with size).
    private let floorSeconds: [Double]

    /// A measured curve. Points must have increasing sizes and positive figures, the smallest
    /// point's time must exceed the latency, and the implied time may dip by at most 25% from one
    /// point to the next (noise in a measurement; the curve then holds the higher time).
    public init(latencySeconds: Double, points: [Point]) throws {
        if let problem = TransferCurve.problem(latencySeconds: latencySeconds, points: points) {
            throw TransferCurveError(message: problem.message, pointIndex: problem.index)
        }
        self.latencySeconds = latencySeconds
        self.shape = .measured(points)
        var floor: [Double] = []
        var m = 0.0
        for p in points { m = max(m, p.seconds); floor.append(m) }
        self.floorSeconds = floor
    }

    /// A model curve: `latency + bytes / peak`.
    public init(latencySeconds: Double, peakBytesPerSecond: Double) throws {
        guard latencySeconds.isFinite, latencySeconds > 0 else {
            throw TransferCurveError(message: "latency must be positive, got \(latencySeconds)", pointIndex: nil)
        }
        guard peakBytesPerSecond.isFinite, peakBytesPerSecond > 0 else {
            throw TransferCurveError(message: "peak bandwidth must be positive, got \(peakBytesPerSecond)", pointIndex: nil)
        }
        self.latencySeconds = latencySeconds
        self.shape = .model(peakBytesPerSecond: peakBytesPerSecond)
        self.floorSeconds = []
    }

    /// The measured points (empty for a model curve).
    public var points: [Point] {
        if case .measured(let p) = shape { return p }
        return []
    }

    public var isMeasured: Bool { if case .measured = shape { return true } else { return false } }

    /// The highest streaming rate of the curve: a model's peak; for a measured curve, the largest
    /// `bytes / (time - latency)` over the points whose time is at least twice the latency (below
    /// that, the moving part of the time is too small for the ratio to mean anything).
    /// `streamingBytesPerSecond(bytes:)` never exceeds it, so it can serve as the link's capacity.
    public var peakBytesPerSecond: Double { peakStreaming }

    private var peakStreaming: Double {
        switch shape {
        case .model(let peak):
            return peak
        case .measured(let p):
            var best = 0.0
            for (i, pt) in p.enumerated() where floorSeconds[i] >= 2 * latencySeconds {
                best = max(best, pt.bytes / (floorSeconds[i] - latencySeconds))
            }
            // No point long enough: the best achieved bandwidth (a lower bound).
            return best > 0 ? best : (p.map(\.bytesPerSecond).max() ?? 0)
        }
    }

    /// Time of one copy of `bytes` bytes on an idle link, the fixed latency included.
    /// A copy of zero bytes costs the latency.
    public func seconds(bytes: Double) -> Double {
        let b = max(bytes, 0)
        switch shape {
        case .model(let peak):
            return latencySeconds + b / peak
        case .measured(let p):
            let first = p[0], last = p[p.count - 1]
            if b <= first.bytes {
                return latencySeconds + (first.seconds - latencySeconds) * (b / first.bytes)
            }
            if b >= last.bytes {
                return floorSeconds[p.count - 1] + (b - last.bytes) / last.bytesPerSecond
            }
            // First point with bytes >= b; b lies in (p[i-1].bytes, p[i].bytes].
            var lo = 0, hi = p.count - 1
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if p[mid].bytes < b { lo = mid } else { hi = mid }
            }
            let a = p[lo], c = p[hi]
            let f = (log(b) - log(a.bytes)) / (log(c.bytes) - log(a.bytes))
            let bw = a.bytesPerSecond + f * (c.bytesPerSecond - a.bytesPerSecond)
            return max(b / bw, floorSeconds[lo])
        }
    }

    public func seconds(bytes: Int) -> Double { seconds(bytes: Double(bytes)) }

    /// Achieved bandwidth of one copy of `bytes` bytes: bytes over `seconds(bytes:)`.
    public func bandwidth(bytes: Double) -> Double {
        guard bytes > 0 else { return 0 }
        return bytes / seconds(bytes: bytes)
    }

    public func bandwidth(bytes: Int) -> Double { bandwidth(bytes: Double(bytes)) }

    /// The rate at which the bytes of a copy of this size move once the fixed latency is paid:
    /// `bytes / (seconds(bytes:) - latency)`, at most `peakBytesPerSecond`. A simulator can charge
    /// the latency as a delay and then run the copy as a flow capped at this rate; that reproduces
    /// `seconds(bytes:)` exactly except for copies so small that the cap applies (their time then
    /// exceeds the curve by less than bytes / peak).
    public func streamingBytesPerSecond(bytes: Double) -> Double {
        switch shape {
        case .model(let peak):
            return peak
        case .measured(let p):
            let b = max(bytes, p[0].bytes * 1e-9)
            let moving = seconds(bytes: b) - latencySeconds
            let raw = moving > 0 ? b / moving : .infinity
            return min(raw, peakStreaming)
        }
    }

    public func streamingBytesPerSecond(bytes: Int) -> Double { streamingBytesPerSecond(bytes: Double(bytes)) }

    /// How much the implied time may fall from one point to the next (noise), as a fraction.
    static let maxTimeDip = 0.25

    /// The first problem with a measured curve, if any (index of the offending point, or nil).
    static func problem(latencySeconds: Double, points: [Point]) -> (index: Int?, message: String)? {
        guard latencySeconds.isFinite, latencySeconds > 0 else {
            return (nil, "latency must be positive, got \(latencySeconds)")
        }
        guard points.count >= 2 else {
            return (nil, "a measured curve needs at least 2 points, got \(points.count)")
        }
        for (i, pt) in points.enumerated() {
            guard pt.bytes.isFinite, pt.bytes > 0 else {
                return (i, "transfer size must be positive, got \(pt.bytes)")
            }
            guard pt.bytesPerSecond.isFinite, pt.bytesPerSecond > 0 else {
                return (i, "bandwidth must be positive, got \(pt.bytesPerSecond)")
            }
            if i > 0 {
                let prev = points[i - 1]
                guard pt.bytes > prev.bytes else {
                    return (i, "transfer sizes must increase (\(Int(pt.bytes)) after \(Int(prev.bytes)))")
                }
                // Measurement noise may make a larger copy time a little faster; a large drop is a typo.
                guard pt.seconds >= prev.seconds * (1 - maxTimeDip) else {
                    return (i, "\(Int(pt.bytes)) bytes at this bandwidth take \(pt.seconds * 1e6) us, much less than "
                        + "the \(prev.seconds * 1e6) us of \(Int(prev.bytes)) bytes (a time may dip by at most "
                        + "\(Int(maxTimeDip * 100))% from one point to the next)")
                }
            }
        }
        guard points[0].seconds > latencySeconds else {
            return (0, "the smallest copy takes \(points[0].seconds * 1e6) us at this bandwidth, "
                + "not more than the latency (\(latencySeconds * 1e6) us)")
        }
        return nil
    }
}

/// A transfer curve that cannot be built.
public struct TransferCurveError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// The offending point, where the problem is one point.
    public let pointIndex: Int?
    public var description: String {
        pointIndex.map { "points[\($0)]: \(message)" } ?? message
    }
}
