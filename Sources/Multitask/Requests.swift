// Request arrivals for the inference tenant: a slice of a real trace (Azure CSV, Mooncake JSONL)
// or a Poisson / Gamma generator with token-length distributions.

import Foundation
import SimCore
import Traces

/// The requests one inference tenant serves: arrival time (ns after its start) and token counts.
public struct RequestList: Sendable, Equatable {
    public var arrivalNs: [Int64] = []
    public var inputTokens: [Int32] = []
    public var outputTokens: [Int32] = []
    public init() {}
    public var count: Int { arrivalNs.count }

    public mutating func append(arrivalNs: Int64, input: Int, output: Int) {
        self.arrivalNs.append(arrivalNs)
        inputTokens.append(Int32(clamping: input))
        outputTokens.append(Int32(clamping: output))
    }

    /// The first `limit` requests of a trace (plain, .gz or .zst), arrivals scaled by `timeScale`
    /// (2 = half the rate). Requests with no input token are given one (an empty prompt still
    /// runs a prefill step); no output token counts as one (the prefill produces the first).
    public static func fromTrace(path: String, display: String, limit: Int?, timeScale: Double) throws -> RequestList {
        var list = RequestList()
        let reader: RequestTraceReader
        do { reader = try RequestTraceReader(path: path) } catch let e as TraceError {
            throw SettingsError(file: display, keyPath: "", message: e.description)
        }
        do {
            while limit.map({ list.count < $0 }) ?? true, let r = try reader.next() {
                let t = (Double(r.arrivalNs) * timeScale).rounded()
                list.append(arrivalNs: Int64(t), input: max(r.inputTokens, 1), output: max(r.outputTokens, 1))
            }
        } catch let e as TraceError {
            throw SettingsError(file: display, keyPath: "", message: e.description)
        }
        return list
    }

    /// `count` requests with exponential (Poisson process) or gamma inter-arrival times of mean
    /// `1 / rate`, token counts drawn from `input` and `output` (rounded, at least 1).
    public static func generated(count: Int, rate: Double, cv: Double?, input: TokenDistribution,
                                 output: TokenDistribution, streams: RandomStreams, name: String) throws -> RequestList {
        var list = RequestList()
        var g = streams.stream("arrivals/\(name)")
        var tokensRNG = streams.stream("tokens/\(name)")
        let gap: any ContinuousDistribution
        if let cv {
            // Gamma with mean 1/rate and coefficient of variation cv: shape 1/cv², scale cv²/rate.
            gap = try Gamma(shape: 1 / (cv * cv), scale: cv * cv / rate)
        } else {
            gap = try Exponential(rate: rate)
        }
        var t = 0.0
        for i in 0..<count {
            if i > 0 { t += gap.sample(&g) }
            list.append(arrivalNs: Int64((t * 1e9).rounded()), input: input.sample(&tokensRNG), output: output.sample(&tokensRNG))
        }
        return list
    }
}

/// A distribution of token counts.
public enum TokenDistribution: Sendable, Equatable {
    case constant(Int)
    case uniform(Int, Int)
    /// Lognormal with the given mean and coefficient of variation, rounded, clamped to `max`.
    case lognormal(mean: Double, cv: Double, max: Int)

    func sample<G: RandomNumberGenerator>(_ g: inout G) -> Int {
        switch self {
        case .constant(let n): return n
        case .uniform(let a, let b): return a + g.nextInt(below: b - a + 1)
        case .lognormal(let mean, let cv, let mx):
            let d = try! LogNormal(mean: mean, cv: cv)
            return min(mx, max(1, Int(d.sample(&g).rounded())))
        }
    }
}
