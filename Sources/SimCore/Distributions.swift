// Probability distributions for workload generation (inter-arrival times, sizes, routing).
//
// Each distribution is a small immutable value type whose parameters are checked once, in a
// throwing initialiser; `sample(_:)` takes any `RandomNumberGenerator` by `inout`, is
// deterministic given the generator's state, and never allocates. Units are those of the
// parameters: an `Exponential(rate:)` in events per second samples seconds, and so on.
//
// Results are bit-identical for the same generator on the same platform. Samplers that use
// `log`/`exp`/`cos` rely on the platform's libm, which may differ in the last ulp between
// operating systems; uniform, categorical and Zipf samples do not.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(ucrt)
import ucrt
#endif

/// A rejected distribution parameter: which distribution, which parameter, the value given
/// and what was required. Its `description` reads e.g.
/// `Exponential: parameter 'rate' must be finite and > 0, got -1.0`.
public struct DistributionError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The distribution type, e.g. `"Gamma"`.
    public let distribution: String
    /// The offending parameter's name, e.g. `"shape"`.
    public let parameter: String
    /// The offending value, as text.
    public let value: String
    /// What the parameter must satisfy, e.g. `"finite and > 0"`.
    public let requirement: String

    public init(distribution: String, parameter: String, value: String, requirement: String) {
        self.distribution = distribution
        self.parameter = parameter
        self.value = value
        self.requirement = requirement
    }

    public var description: String {
        "\(distribution): parameter '\(parameter)' must be \(requirement), got \(value)"
    }
}

/// A real-valued distribution. `mean` and `variance` are the exact (analytic) moments, in
/// the sample's units and units squared.
public protocol ContinuousDistribution: Sendable {
    func sample<G: RandomNumberGenerator>(_ g: inout G) -> Double
    var mean: Double { get }
    var variance: Double { get }
}

/// An integer-valued distribution.
public protocol DiscreteDistribution: Sendable {
    func sample<G: RandomNumberGenerator>(_ g: inout G) -> Int
}

// MARK: - Parameter checks

@inline(__always)
private func require(
    _ ok: Bool, _ distribution: String, _ parameter: String, _ value: Double, _ requirement: String
) throws(DistributionError) {
    if !ok {
        throw DistributionError(
            distribution: distribution, parameter: parameter, value: "\(value)",
            requirement: requirement)
    }
}

// MARK: - Uniform

/// The continuous uniform distribution on [low, high), in the units of its bounds.
/// One 64-bit draw per sample. `low == high` is allowed and always yields `low`.
public struct Uniform: ContinuousDistribution, Equatable {
    public let low: Double
    public let high: Double

    /// - Throws: `DistributionError` unless both bounds are finite, `low <= high` and
    ///   `high - low` is finite.
    public init(low: Double, high: Double) throws(DistributionError) {
        try require(low.isFinite, "Uniform", "low", low, "finite")
        try require(high.isFinite, "Uniform", "high", high, "finite")
        try require(high >= low, "Uniform", "high", high, ">= low (\(low))")
        try require((high - low).isFinite, "Uniform", "high", high, "within finite range of low (\(low))")
        self.low = low
        self.high = high
    }

    @inlinable
    public func sample<G: RandomNumberGenerator>(_ g: inout G) -> Double {
        let x = low + (high - low) * g.nextUnitDouble()
        return x < high ? x : low  // guard against rounding up to `high`
    }

    public var mean: Double { (low + high) / 2 }
    public var variance: Double { (high - low) * (high - low) / 12 }
}

// MARK: - Exponential

/// The exponential distribution with `rate` λ (events per unit time); samples are waiting
/// times in the reciprocal unit (rate per second → seconds), with mean 1/λ. Sampled by
/// inversion, `-log(U) / λ` with U in (0, 1]: one 64-bit draw per sample.
public struct Exponential: ContinuousDistribution, Equatable {
    public let rate: Double

    /// - Throws: `DistributionError` unless `rate` is finite and > 0.
    public init(rate: Double) throws(DistributionError) {
        try require(rate.isFinite && rate > 0, "Exponential", "rate", rate, "finite and > 0")
        self.rate = rate
    }

    /// The exponential distribution with the given mean (= 1 / rate).
    /// - Throws: `DistributionError` unless `mean` is finite and > 0 (and 1/mean is finite).
    public init(mean: Double) throws(DistributionError) {
        try require(mean.isFinite && mean > 0 && (1 / mean).isFinite,
                    "Exponential", "mean", mean, "finite and > 0")
        self.rate = 1 / mean
    }

    @inlinable
    public func sample<G: RandomNumberGenerator>(_ g: inout G) -> Double {
        -log(g.nextUnitDoubleOpenClosed()) / rate
    }

    public var mean: Double { 1 / rate }
    public var variance: Double { 1 / (rate * rate) }
}

// MARK: - Normal

/// The normal (Gaussian) distribution with `mean` μ and standard deviation `stddev` σ, in
/// the units of μ. Sampled by the Box–Muller transform using exactly two 64-bit draws per
/// sample (the second variate of the pair is discarded, so the type stays stateless).
/// `stddev == 0` is allowed and always yields μ.
public struct Normal: ContinuousDistribution, Equatable {
    public let mean: Double
    public let stddev: Double

    /// - Throws: `DistributionError` unless `mean` is finite and `stddev` is finite and >= 0.
    public init(mean: Double, stddev: Double) throws(DistributionError) {
        try require(mean.isFinite, "Normal", "mean", mean, "finite")
        try require(stddev.isFinite && stddev >= 0, "Normal", "stddev", stddev, "finite and >= 0")
        self.mean = mean
        self.stddev = stddev
    }

    /// One standard normal variate (μ = 0, σ = 1) by Box–Muller: two 64-bit draws.
    @inlinable
    public static func standardSample<G: RandomNumberGenerator>(_ g: inout G) -> Double {
        let u1 = g.nextUnitDoubleOpenClosed()  // (0, 1]: log is finite
        let u2 = g.nextUnitDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    @inlinable
    public func sample<G: RandomNumberGenerator>(_ g: inout G) -> Double {
        mean + stddev * Normal.standardSample(&g)
    }

    public var variance: Double { stddev * stddev }
}

// MARK: - LogNormal

/// The log-normal distribution: `exp(X)` with X ~ Normal(μ = `mu`, σ = `sigma`); `mu` and
/// `sigma` are in log space, samples are positive and in the units whose log is X (e.g.
/// token counts, bytes, seconds). Use `init(mean:cv:)` to specify it by its own mean and
/// coefficient of variation instead. Two 64-bit draws per sample.
public struct LogNormal: ContinuousDistribution, Equatable {
    public let mu: Double
    public let sigma: Double

    /// - Throws: `DistributionError` unless `mu` is finite and `sigma` is finite and >= 0.
    public init(mu: Double, sigma: Double) throws(DistributionError) {
        try require(mu.isFinite, "LogNormal", "mu", mu, "finite")
        try require(sigma.isFinite && sigma >= 0, "LogNormal", "sigma", sigma, "finite and >= 0")
        self.mu = mu
        self.sigma = sigma
    }

    /// The log-normal distribution whose samples have mean `mean` and coefficient of
    /// variation `cv` (= stddev / mean): σ² = ln(1 + cv²), μ = ln(mean) − σ²/2.
    /// - Throws: `DistributionError` unless `mean` is finite and > 0 and `cv` is finite and >= 0.
    public init(mean: Double, cv: Double) throws(DistributionError) {
        try require(mean.isFinite && mean > 0, "LogNormal", "mean", mean, "finite and > 0")
        try require(cv.isFinite && cv >= 0, "LogNormal", "cv", cv, "finite and >= 0")
        let s2 = log1p(cv * cv)
        try self.init(mu: log(mean) - s2 / 2, sigma: s2.squareRoot())
    }

    @inlinable
    public func sample<G: RandomNumberGenerator>(_ g: inout G) -> Double {
        exp(mu + sigma * Normal.standardSample(&g))
    }

    public var mean: Double { exp(mu + sigma * sigma / 2) }
    public var variance: Double { expm1(sigma * sigma) * exp(2 * mu + sigma * sigma) }
}

// MARK: - Gamma

/// The gamma distribution with `shape` k and `scale` θ (mean kθ, variance kθ²), in the
/// units of θ. Sampled by Marsaglia & Tsang's squeeze-and-reject method (2000); for
/// k < 1 it samples Gamma(k + 1) and multiplies by U^(1/k) (the "boost" trick from the
/// same paper). The number of draws per sample varies (rejection), but is fixed by the
/// generator's state.
public struct Gamma: ContinuousDistribution, Equatable {
    public let shape: Double
    public let scale: Double
    /// Marsaglia–Tsang constants for the (possibly boosted) shape a: d = a − 1/3, c = 1/√(9d).
    @usableFromInline let d: Double
    @usableFromInline let c: Double

    /// - Throws: `DistributionError` unless `shape` and `scale` are finite and > 0.
    public init(shape: Double, scale: Double) throws(DistributionError) {
        try require(shape.isFinite && shape > 0, "Gamma", "shape", shape, "finite and > 0")
        try require(scale.isFinite && scale > 0, "Gamma", "scale", scale, "finite and > 0")
        self.shape = shape
        self.scale = scale
        let a = shape < 1 ? shape + 1 : shape
        d = a - 1.0 / 3.0
        c = 1 / (9 * d).squareRoot()
    }

    @inlinable
    public func sample<G: RandomNumberGenerator>(_ g: inout G) -> Double {
        var result: Double
        while true {
            var x: Double
            var v: Double
            repeat {
                x = Normal.standardSample(&g)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = g.nextUnitDoubleOpenClosed()
            let x2 = x * x
            if u < 1 - 0.0331 * x2 * x2 || log(u) < 0.5 * x2 + d * (1 - v + log(v)) {
                result = d * v
                break
            }
        }
        if shape < 1 {
            result *= exp(log(g.nextUnitDoubleOpenClosed()) / shape)
        }
        return result * scale
    }

    public var mean: Double { shape * scale }
    public var variance: Double { shape * scale * scale }
}

// MARK: - Zipf

/// The Zipf distribution over ranks 1...n with exponent s: P(k) = k^(−s) / H(n, s), where
/// H(n, s) = Σ_{j=1..n} j^(−s). s = 0 is the uniform distribution over 1...n. Samples are
/// ranks (dimensionless: e.g. the popularity rank of an expert or a prompt).
///
/// Sampled by inversion: the CDF is precomputed once (O(n) memory and time at init) and
/// each sample is one 64-bit draw plus a binary search (O(log n), no allocation).
public struct Zipf: DiscreteDistribution, Equatable {
    public let n: Int
    public let exponent: Double
    /// cdf[k − 1] = P(rank <= k); the last entry is exactly 1.
    @usableFromInline let cdf: [Double]
    /// The normaliser H(n, s).
    @usableFromInline let normalizer: Double

    /// - Throws: `DistributionError` unless `n >= 1` and `exponent` is finite and >= 0.
    public init(n: Int, exponent s: Double) throws(DistributionError) {
        if n < 1 {
            throw DistributionError(distribution: "Zipf", parameter: "n", value: "\(n)",
                                    requirement: ">= 1")
        }
        try require(s.isFinite && s >= 0, "Zipf", "exponent", s, "finite and >= 0")
        self.n = n
        self.exponent = s
        var cdf = [Double](repeating: 0, count: n)
        var sum = 0.0
        for k in 1...n {
            sum += pow(Double(k), -s)
            cdf[k - 1] = sum
        }
        for i in 0..<n { cdf[i] /= sum }
        cdf[n - 1] = 1
        self.cdf = cdf
        self.normalizer = sum
    }

    /// P(rank == k), exactly k^(−s) / H(n, s); 0 outside 1...n.
    public func probability(ofRank k: Int) -> Double {
        guard k >= 1 && k <= n else { return 0 }
        return pow(Double(k), -exponent) / normalizer
    }

    /// The mean rank (computed in O(n)).
    public var mean: Double {
        var m = 0.0
        for k in 1...n { m += Double(k) * pow(Double(k), -exponent) }
        return m / normalizer
    }

    /// A rank in 1...n.
    @inlinable
    public func sample<G: RandomNumberGenerator>(_ g: inout G) -> Int {
        let u = g.nextUnitDouble()
        // Smallest index i with cdf[i] > u; cdf[n - 1] == 1 > u, so it exists.
        var lo = 0
        var hi = n - 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if cdf[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo + 1
    }
}

// MARK: - Categorical

/// A categorical distribution over indices 0..<weights.count, with probabilities
/// proportional to the (non-negative, not all zero) weights: e.g. choosing a tenant, a
/// model or a request class. Samples are indices (dimensionless).
///
/// Uses Walker's alias method, built by Vose's O(n) algorithm: O(n) memory, and O(1) per
/// sample (one bounded integer draw and one unit draw, no allocation). Zero-weight
/// categories are never sampled.
public struct Categorical: DiscreteDistribution, Equatable {
    /// The normalised weights (summing to 1).
    public let probabilities: [Double]
    @usableFromInline let acceptance: [Double]
    @usableFromInline let alias: [Int]

    /// - Throws: `DistributionError` if `weights` is empty, any weight is negative, NaN or
    ///   infinite, or the weights sum to zero (or overflow).
    public init(weights: [Double]) throws(DistributionError) {
        if weights.isEmpty {
            throw DistributionError(distribution: "Categorical", parameter: "weights", value: "[]",
                                    requirement: "non-empty")
        }
        var total = 0.0
        for (i, w) in weights.enumerated() {
            try require(w.isFinite && w >= 0, "Categorical", "weights[\(i)]", w, "finite and >= 0")
            total += w
        }
        if !(total > 0 && total.isFinite) {
            throw DistributionError(distribution: "Categorical", parameter: "weights",
                                    value: "sum \(total)", requirement: "summing to a finite value > 0")
        }
        let n = weights.count
        let p = weights.map { $0 / total }
        var scaled = p.map { $0 * Double(n) }
        var acceptance = [Double](repeating: 0, count: n)
        var alias = Array(0..<n)
        var small: [Int] = []
        var large: [Int] = []
        for i in 0..<n {
            if scaled[i] < 1 { small.append(i) } else { large.append(i) }
        }
        while let s = small.last, let l = large.last {
            small.removeLast()
            large.removeLast()
            acceptance[s] = scaled[s]
            alias[s] = l
            scaled[l] = (scaled[l] + scaled[s]) - 1
            if scaled[l] < 1 { small.append(l) } else { large.append(l) }
        }
        // Leftovers have scaled weight 1 up to rounding: keep them outright, except a
        // zero-weight category (only possible through rounding), which defers to the heaviest.
        let heaviest = p.indices.max { p[$0] < p[$1] }!
        for l in large { acceptance[l] = 1 }
        for s in small {
            if p[s] > 0 { acceptance[s] = 1 } else { acceptance[s] = 0; alias[s] = heaviest }
        }
        self.probabilities = p
        self.acceptance = acceptance
        self.alias = alias
    }

    /// The number of categories.
    public var count: Int { probabilities.count }

    /// An index in 0..<count.
    @inlinable
    public func sample<G: RandomNumberGenerator>(_ g: inout G) -> Int {
        let i = g.nextInt(below: acceptance.count)
        return g.nextUnitDouble() < acceptance[i] ? i : alias[i]
    }
}
