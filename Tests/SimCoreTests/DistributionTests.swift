import XCTest
import SimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Statistical tests of the distributions. Expected moments are written out by hand from the
/// textbook formulas (not read back from the types under test); bounds are 5 standard errors
/// (for a sample mean: sqrt(var / n); for a sample variance: sqrt((mu4 - var^2) / n), with
/// the exact fourth central moment mu4), so with fixed seeds the tests are deterministic and
/// would still fail on a wrong formula (wrong scale, missing boost, wrong parameterisation).
final class DistributionTests: XCTestCase {

    private let n = 200_000

    private struct Moments { var mean: Double; var variance: Double }

    private func moments(_ xs: [Double]) -> Moments {
        let m = xs.reduce(0, +) / Double(xs.count)
        var v = 0.0
        for x in xs { v += (x - m) * (x - m) }
        return Moments(mean: m, variance: v / Double(xs.count - 1))
    }

    private func checkMoments(
        _ xs: [Double], mean: Double, variance: Double, mu4: Double,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let got = moments(xs)
        let nn = Double(xs.count)
        let seMean = (variance / nn).squareRoot()
        let seVar = ((mu4 - variance * variance) / nn).squareRoot()
        XCTAssertLessThan(abs(got.mean - mean), 5 * seMean,
                          "mean \(got.mean) vs \(mean)", file: file, line: line)
        XCTAssertLessThan(abs(got.variance - variance), 5 * seVar,
                          "variance \(got.variance) vs \(variance)", file: file, line: line)
    }

    /// The fraction of `xs` below `x` against the exact CDF value `p`, within 5 binomial sd.
    private func checkFractionBelow(
        _ xs: [Double], _ x: Double, _ p: Double, file: StaticString = #filePath, line: UInt = #line
    ) {
        let frac = Double(xs.lazy.filter { $0 < x }.count) / Double(xs.count)
        let sd = (p * (1 - p) / Double(xs.count)).squareRoot()
        XCTAssertLessThan(abs(frac - p), 5 * sd, "P(X < \(x)) = \(frac) vs \(p)", file: file, line: line)
    }

    private func draw<D: ContinuousDistribution>(_ d: D, seed: UInt64) -> [Double] {
        var g = Xoshiro256StarStar(seed: seed)
        return (0..<n).map { _ in d.sample(&g) }
    }

    // MARK: Continuous

    func testUniform() throws {
        let d = try Uniform(low: -1, high: 3)
        XCTAssertEqual(d.mean, 1)
        XCTAssertEqual(d.variance, 16.0 / 12.0, accuracy: 1e-15)
        let xs = draw(d, seed: 101)
        XCTAssertTrue(xs.allSatisfy { $0 >= -1 && $0 < 3 })
        // mu4 of U(a, b) = (b - a)^4 / 80.
        checkMoments(xs, mean: 1, variance: 16.0 / 12.0, mu4: 256.0 / 80.0)
        checkFractionBelow(xs, 0, 0.25)

        var g = Xoshiro256StarStar(seed: 1)
        XCTAssertEqual(try Uniform(low: 2.5, high: 2.5).sample(&g), 2.5)
    }

    func testExponential() throws {
        let d = try Exponential(rate: 2)
        XCTAssertEqual(d.mean, 0.5)
        XCTAssertEqual(d.variance, 0.25)
        let xs = draw(d, seed: 102)
        XCTAssertTrue(xs.allSatisfy { $0 >= 0 && $0.isFinite })
        // mu4 of Exp(rate) = 9 / rate^4.
        checkMoments(xs, mean: 0.5, variance: 0.25, mu4: 9.0 / 16.0)
        checkFractionBelow(xs, 0.5, 1 - exp(-1.0))

        XCTAssertEqual(try Exponential(mean: 4).rate, 0.25)
    }

    func testNormal() throws {
        let d = try Normal(mean: 5, stddev: 2)
        XCTAssertEqual(d.variance, 4)
        let xs = draw(d, seed: 103)
        checkMoments(xs, mean: 5, variance: 4, mu4: 3 * 16)
        checkFractionBelow(xs, 7, 0.841_344_746_068_542_9)  // Phi(1)
        checkFractionBelow(xs, 5, 0.5)

        // Deterministic given the generator: same state, same sample.
        var g1 = Xoshiro256StarStar(seed: 8), g2 = Xoshiro256StarStar(seed: 8)
        for _ in 0..<100 { XCTAssertEqual(d.sample(&g1), d.sample(&g2)) }
    }

    func testLogNormal() throws {
        // Specified by mean 10 and cv 0.5, so variance (0.5 * 10)^2 = 25.
        let d = try LogNormal(mean: 10, cv: 0.5)
        XCTAssertEqual(d.sigma * d.sigma, log(1.25), accuracy: 1e-15)
        XCTAssertEqual(d.mean, 10, accuracy: 1e-12)
        XCTAssertEqual(d.variance, 25, accuracy: 1e-10)
        let xs = draw(d, seed: 104)
        XCTAssertTrue(xs.allSatisfy { $0 > 0 })
        // Kurtosis of a log-normal: e^{4s2} + 2e^{3s2} + 3e^{2s2} - 3, with s2 = sigma^2.
        let s2 = log(1.25)
        let kurtosis = exp(4 * s2) + 2 * exp(3 * s2) + 3 * exp(2 * s2) - 3
        checkMoments(xs, mean: 10, variance: 25, mu4: kurtosis * 625)
        // Median of a log-normal is e^mu.
        checkFractionBelow(xs, exp(log(10) - s2 / 2), 0.5)

        // The (mu, sigma) form: log of samples is Normal(mu, sigma).
        let e = try LogNormal(mu: 1, sigma: 0.3)
        checkMoments(draw(e, seed: 105).map { log($0) }, mean: 1, variance: 0.09, mu4: 3 * 0.0081)
    }

    func testGammaShapeBelowOne() throws {
        // Gamma(0.5, scale 2) is chi-square with 1 degree of freedom.
        let d = try Gamma(shape: 0.5, scale: 2)
        XCTAssertEqual(d.mean, 1)
        XCTAssertEqual(d.variance, 2)
        let xs = draw(d, seed: 106)
        XCTAssertTrue(xs.allSatisfy { $0 >= 0 && $0.isFinite })
        // Excess kurtosis of Gamma(k) is 6/k, so mu4 = (3 + 6/k) * var^2.
        checkMoments(xs, mean: 1, variance: 2, mu4: (3 + 12) * 4)
        checkFractionBelow(xs, 1, 0.682_689_492_137_086)  // P(chi2_1 < 1) = erf(1/sqrt 2)
    }

    func testGammaShapeAboveOne() throws {
        let d = try Gamma(shape: 3, scale: 0.5)
        XCTAssertEqual(d.mean, 1.5)
        XCTAssertEqual(d.variance, 0.75)
        let xs = draw(d, seed: 107)
        checkMoments(xs, mean: 1.5, variance: 0.75, mu4: (3 + 2) * 0.5625)
        // P(Gamma(3, 1) < 3) = 1 - e^-3 (1 + 3 + 9/2).
        checkFractionBelow(xs, 1.5, 1 - 8.5 * exp(-3.0))
    }

    func testGammaShapeOneIsExponential() throws {
        let xs = draw(try Gamma(shape: 1, scale: 1), seed: 108)
        checkMoments(xs, mean: 1, variance: 1, mu4: 9)
        checkFractionBelow(xs, 1, 1 - exp(-1.0))
    }

    // MARK: Zipf

    private func checkFrequency(
        count: Int, total: Int, p: Double, _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let sd = (Double(total) * p * (1 - p)).squareRoot()
        XCTAssertLessThanOrEqual(abs(Double(count) - Double(total) * p), max(5 * sd, 0.5),
                                 "\(what): \(count) of \(total), p = \(p)", file: file, line: line)
    }

    func testZipfFrequenciesMatchPMF() throws {
        let z = try Zipf(n: 100, exponent: 1.1)
        // Exact pmf, computed here: k^-1.1 / sum_{j=1..100} j^-1.1.
        var h = 0.0
        for j in 1...100 { h += pow(Double(j), -1.1) }
        let pmf = (1...3).map { pow(Double($0), -1.1) / h }
        XCTAssertEqual(pmf[0], 0.233_752_778_055_164_5, accuracy: 1e-12)  // cross-checked in Python
        for k in 1...3 { XCTAssertEqual(z.probability(ofRank: k), pmf[k - 1], accuracy: 1e-14) }
        XCTAssertEqual(z.probability(ofRank: 0), 0)
        XCTAssertEqual(z.probability(ofRank: 101), 0)

        var g = Xoshiro256StarStar(seed: 201)
        var counts = [Int](repeating: 0, count: 101)
        for _ in 0..<n {
            let k = z.sample(&g)
            XCTAssertTrue((1...100).contains(k))
            counts[k] += 1
        }
        for k in 1...3 { checkFrequency(count: counts[k], total: n, p: pmf[k - 1], "rank \(k)") }
        // The tail: P(rank > 50).
        var tail = 0.0
        for j in 51...100 { tail += pow(Double(j), -1.1) / h }
        checkFrequency(count: counts[51...].reduce(0, +), total: n, p: tail, "rank > 50")
    }

    func testZipfSteepExponentAllRanks() throws {
        let z = try Zipf(n: 5, exponent: 2)
        let h = 1 + 1.0 / 4 + 1.0 / 9 + 1.0 / 16 + 1.0 / 25
        var g = Xoshiro256StarStar(seed: 202)
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<n { counts[z.sample(&g)] += 1 }
        XCTAssertEqual(counts[0], 0)
        for k in 1...5 {
            checkFrequency(count: counts[k], total: n, p: 1 / (Double(k * k) * h), "rank \(k)")
        }
        XCTAssertEqual(z.mean, (1 + 0.5 + 1.0 / 3 + 0.25 + 0.2) / h, accuracy: 1e-12)
    }

    func testZipfExponentZeroIsUniform() throws {
        let z = try Zipf(n: 10, exponent: 0)
        var g = Xoshiro256StarStar(seed: 203)
        var counts = [Int](repeating: 0, count: 11)
        for _ in 0..<n { counts[z.sample(&g)] += 1 }
        XCTAssertEqual(counts[0], 0)
        for k in 1...10 { checkFrequency(count: counts[k], total: n, p: 0.1, "rank \(k)") }

        let one = try Zipf(n: 1, exponent: 1.5)
        for _ in 0..<100 { XCTAssertEqual(one.sample(&g), 1) }
    }

    // MARK: Categorical

    func testCategoricalFrequenciesMatchWeights() throws {
        let weights: [Double] = [1, 0, 3, 6, 0.5]
        let c = try Categorical(weights: weights)
        XCTAssertEqual(c.count, 5)
        XCTAssertEqual(c.probabilities.reduce(0, +), 1, accuracy: 1e-15)
        var g = Xoshiro256StarStar(seed: 301)
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<n { counts[c.sample(&g)] += 1 }
        XCTAssertEqual(counts[1], 0, "zero-weight category sampled")
        let total = weights.reduce(0, +)
        var chi2 = 0.0
        for i in weights.indices where weights[i] > 0 {
            let p = weights[i] / total
            checkFrequency(count: counts[i], total: n, p: p, "category \(i)")
            let e = Double(n) * p
            chi2 += (Double(counts[i]) - e) * (Double(counts[i]) - e) / e
        }
        // 3 degrees of freedom: P(chi2 > 30) < 2e-6.
        XCTAssertLessThan(chi2, 30)
    }

    func testCategoricalManyUnevenWeights() throws {
        // 50 categories, weight i^2 (and a zero), exercises the alias pairing thoroughly.
        let weights = (0..<50).map { Double($0 * $0) }
        let c = try Categorical(weights: weights)
        var g = Xoshiro256StarStar(seed: 302)
        var counts = [Int](repeating: 0, count: 50)
        for _ in 0..<n { counts[c.sample(&g)] += 1 }
        XCTAssertEqual(counts[0], 0)
        let total = weights.reduce(0, +)
        for i in [1, 7, 25, 49] {
            checkFrequency(count: counts[i], total: n, p: weights[i] / total, "category \(i)")
        }

        let single = try Categorical(weights: [0.3])
        for _ in 0..<100 { XCTAssertEqual(single.sample(&g), 0) }
    }

    // MARK: Parameter validation

    private func expectRejected<T>(
        _ make: @autoclosure () throws -> T, parameter: String, value: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try make(), file: file, line: line) { error in
            guard let e = error as? DistributionError else {
                return XCTFail("not a DistributionError: \(error)", file: file, line: line)
            }
            XCTAssertEqual(e.parameter, parameter, file: file, line: line)
            XCTAssertTrue(e.description.contains("'\(parameter)'"), e.description, file: file, line: line)
            XCTAssertTrue(e.description.contains(value), e.description, file: file, line: line)
        }
    }

    func testInvalidParametersAreRejected() {
        expectRejected(try Uniform(low: 1, high: 0), parameter: "high", value: "0.0")
        expectRejected(try Uniform(low: .nan, high: 1), parameter: "low", value: "nan")
        expectRejected(try Uniform(low: 0, high: .infinity), parameter: "high", value: "inf")
        expectRejected(try Exponential(rate: 0), parameter: "rate", value: "0.0")
        expectRejected(try Exponential(rate: -1), parameter: "rate", value: "-1.0")
        expectRejected(try Exponential(rate: .infinity), parameter: "rate", value: "inf")
        expectRejected(try Exponential(mean: -2), parameter: "mean", value: "-2.0")
        expectRejected(try Normal(mean: 0, stddev: -1), parameter: "stddev", value: "-1.0")
        expectRejected(try Normal(mean: .nan, stddev: 1), parameter: "mean", value: "nan")
        expectRejected(try LogNormal(mu: 0, sigma: -0.1), parameter: "sigma", value: "-0.1")
        expectRejected(try LogNormal(mean: 0, cv: 1), parameter: "mean", value: "0.0")
        expectRejected(try LogNormal(mean: 1, cv: -1), parameter: "cv", value: "-1.0")
        expectRejected(try Gamma(shape: 0, scale: 1), parameter: "shape", value: "0.0")
        expectRejected(try Gamma(shape: .nan, scale: 1), parameter: "shape", value: "nan")
        expectRejected(try Gamma(shape: 1, scale: -3), parameter: "scale", value: "-3.0")
        expectRejected(try Zipf(n: 0, exponent: 1), parameter: "n", value: "0")
        expectRejected(try Zipf(n: 10, exponent: -0.5), parameter: "exponent", value: "-0.5")
        expectRejected(try Zipf(n: 10, exponent: .nan), parameter: "exponent", value: "nan")
        expectRejected(try Categorical(weights: []), parameter: "weights", value: "[]")
        expectRejected(try Categorical(weights: [1, -1]), parameter: "weights[1]", value: "-1.0")
        expectRejected(try Categorical(weights: [1, .nan]), parameter: "weights[1]", value: "nan")
        expectRejected(try Categorical(weights: [.infinity]), parameter: "weights[0]", value: "inf")
        expectRejected(try Categorical(weights: [0, 0]), parameter: "weights", value: "0.0")
        expectRejected(try Categorical(weights: [.greatestFiniteMagnitude, .greatestFiniteMagnitude]),
                       parameter: "weights", value: "inf")

        let e = DistributionError(distribution: "Exponential", parameter: "rate", value: "-1.0",
                                  requirement: "finite and > 0")
        XCTAssertEqual(e.description, "Exponential: parameter 'rate' must be finite and > 0, got -1.0")
    }
}
