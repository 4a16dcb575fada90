// The fitted parts of the cost model: a roofline-shaped GEMM model (per GPU, for the four
// projections) and a bytes-based model per memory-bound operation, both fitted by
// Levenberg–Marquardt least squares on log(time).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: the GEMM model

/// Time of a per-rank GEMM `[M × K] · [K × N]` (fp16/bf16) on one GPU:
///
///     t = c0 + (t_mem^S + t_comp^S)^(1/S)                       (a smooth roofline max)
///     t_mem  = bytes / BW · (1 + n0/N)                          bytes = 2(MK + KN + MN)
///     t_comp = FLOPs / P · (1 + (M0/Mp)^a) · (1 + k0/K) · pad^-b1 · u1^-b2 · u2^-b3
///                                                               FLOPs = 2·M·N·K
///
/// - c0: fixed cost per call (launch, prologue/epilogue)
/// - BW: the GPU's achieved memory bandwidth; `1 + n0/N`: a narrow output (few CTAs) reaches less of it
/// - P: the achieved peak tensor throughput; `1 + (M0/Mp)^a`: efficiency rises with the
///   (tile-padded) token count Mp = 128·ceil(M/128) as pipelines fill; `1 + k0/K`: fixed
///   per-tile cost over the K loop
/// - pad = M / Mp: the last 128-row tile's wasted work, charged in part (0 ≤ b1 ≤ 1: between
///   no padding cost and all of it)
/// - u1, u2: wave utilisation of 128×128 and 128×256 output tiles on the GPU's SMs,
///   `tiles / (SMs · ceil(tiles / SMs))` (a 24-tile GEMM on 108 SMs leaves most idle)
/// - S: how sharp the roofline corner is
///
/// Parameters θ = [ln c0, ln P, ln BW, ln(S−1), ln M0, ln a, ln k0, logit b1, b2, b3, ln n0], fitted to
/// minimise Σ w·(ln t − ln measured)² plus weak Gaussian priors on the shape parameters
/// (θ3…θ10), which only matter where the data cannot tell them apart.
public struct GEMMModel: Sendable, Equatable {
    public static let parameterNames = ["ln_c0_ms", "ln_P_flop_per_ms", "ln_BW_byte_per_ms", "ln_S_minus_1", "ln_M0", "ln_a",
                                        "ln_k0", "logit_b_pad", "b_wave128x128", "b_wave128x256", "ln_n0"]
    /// Prior means and standard deviations of θ3…θ10 (θ0…θ2 have none).
    static let priorMean: [Double] = [0, 0, 0, log(2), log(64), 0, log(256), 0, 0.2, 0.2, log(256)]
    static let priorSD: [Double] = [0, 0, 0, 2, 3, 2, 3, 1, 1, 1, 3]

    public var theta: [Double]
    public var sms: Int

    /// Per-row quantities that do not depend on θ.
    struct Features {
        var lF: Double, lB: Double, lMp: Double, invK: Double, invN: Double, lpad: Double, lu1: Double, lu2: Double
    }

    static func features(m: Int, n: Int, k: Int, sms: Int) -> Features {
        let M = Double(m), N = Double(n), K = Double(k)
        func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
        let mt = ceilDiv(m, 128)
        func wave(_ tm: Int, _ tn: Int) -> Double {
            let tiles = ceilDiv(m, tm) * ceilDiv(n, tn)
            return log(Double(tiles) / Double(ceilDiv(tiles, sms) * sms))
        }
        return Features(lF: log(2 * M * N * K), lB: log(2 * (M * K + K * N + M * N)), lMp: log(Double(mt * 128)),
                        invK: 1 / K, invN: 1 / N, lpad: log(M / Double(mt * 128)),
                        lu1: wave(128, 128), lu2: wave(128, 256))
    }

    /// ln t and, when `grad` is given, d(ln t)/dθ.
    @inline(__always)
    static func logTime(_ f: Features, _ th: UnsafeBufferPointer<Double>, grad: UnsafeMutableBufferPointer<Double>?) -> Double {
        let a = exp(th[5])
        let z = a * (th[4] - f.lMp)
        let sp = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))
        let sg = 1 / (1 + exp(-z))
        let hk = exp(th[6]) * f.invK
        let hn = exp(th[10]) * f.invN
        let b1 = 1 / (1 + exp(-th[7]))
        let ltc = f.lF - th[1] + sp + log1p(hk) - b1 * f.lpad - th[8] * f.lu1 - th[9] * f.lu2
        let ltm = f.lB - th[2] + log1p(hn)
        let eS = exp(th[3])
        let S = 1 + eS
        let xm = S * ltm, xc = S * ltc
        let mx = max(xm, xc)
        let lse = mx + log(exp(xm - mx) + exp(xc - mx))
        let L = lse / S
        let sc = exp(xc - lse), sm = exp(xm - lse)
        let E = exp(L)
        let c0 = exp(th[0])
        let t = c0 + E
        if let g = grad {
            let dE = E / t
            g[0] = c0 / t
            g[1] = -dE * sc
            g[2] = -dE * sm
            g[3] = dE * ((sm * ltm + sc * ltc - L) / S) * eS
            g[4] = dE * sc * sg * a
            g[5] = dE * sc * sg * z
            g[6] = dE * sc * hk / (1 + hk)
            g[7] = -dE * sc * f.lpad * b1 * (1 - b1)
            g[8] = -dE * sc * f.lu1
            g[9] = -dE * sc * f.lu2
            g[10] = dE * sm * hn / (1 + hn)
        }
        return log(t)
    }

    /// The model's milliseconds at exactly this shape (not made monotone; see ``predictMs``).
    public func rawMs(m: Int, n: Int, k: Int) -> Double {
        let f = GEMMModel.features(m: m, n: n, k: k, sms: sms)
        return theta.withUnsafeBufferPointer { exp(GEMMModel.logTime(f, $0, grad: nil)) }
    }

    /// Predicted milliseconds, non-decreasing in M: the model grows with M inside each 128-row
    /// tile block (0 ≤ b1 ≤ 1), so it suffices to take the maximum with the last M of every
    /// earlier block, where a change of wave utilisation could otherwise make a larger batch
    /// look cheaper.
    public func predictMs(m: Int, n: Int, k: Int) -> Double {
        var v = rawMs(m: m, n: n, k: k)
        var b = 128 * ((m + 127) / 128 - 1)
        while b >= 128 {
            v = max(v, rawMs(m: b, n: n, k: k))
            b -= 128
        }
        return v
    }

    /// A training row: the GEMM, its measured median and a weight.
    struct Sample {
        var m: Int, n: Int, k: Int, ms: Double, weight: Double
    }

    /// Fits θ to `samples`. `start` (e.g. a fit to more data) speeds it up; without one the
    /// start is estimated from the data. With fewer than `minShapes` distinct (N, K) shapes,
    /// only c0, P and BW are fitted and the shape parameters stay at their prior means.
    static func fit(_ samples: [Sample], sms: Int, start: [Double]? = nil, minShapes: Int = 6) -> GEMMModel {
        precondition(!samples.isEmpty)
        let feats = samples.map { features(m: $0.m, n: $0.n, k: $0.k, sms: sms) }
        let ys = samples.map { log($0.ms) }
        let ws = samples.map { $0.weight.squareRoot() }
        var th = start ?? initialTheta(samples)
        let shapes = Set(samples.map { [$0.n, $0.k] }).count
        let free = shapes >= minShapes ? Array(0..<11) : [0, 1, 2]
        th = LevenbergMarquardt.minimize(
            theta: th, free: free, rows: samples.count,
            priorMean: priorMean, priorSD: priorSD,
            residual: { i, p, g in
                let r = logTime(feats[i], p, grad: g) - ys[i]
                if let g { for j in 0..<g.count { g[j] *= ws[i] } }
                return r * ws[i]
            })
        return GEMMModel(theta: th, sms: sms)
    }

    /// A start from the data: BW from the smallest token counts, P from the largest.
    static func initialTheta(_ samples: [Sample]) -> [Double] {
        var th = priorMean
        let minM = samples.map(\.m).min()!
        let maxM = samples.map(\.m).max()!
        let bw = median(samples.filter { $0.m <= max(minM, 8) }.map { 2 * Double($0.n) * Double($0.k) / $0.ms })
        let p = median(samples.filter { $0.m >= min(maxM, 1024) }.map { 2 * Double($0.m) * Double($0.n) * Double($0.k) / $0.ms })
        th[0] = log(0.004)
        th[1] = log(p)
        th[2] = log(bw)
        return th
    }
}

// MARK: the memory-bound model

/// Time of a memory-bound operation moving `bytes`: `t = c0 + (bytes / B1)^γ` ms, with B1 the
/// bytes moved per millisecond at γ = 1; γ bends the line (fitted 1.0–1.35 on the shipped
/// profiles: small tensors are partly served from L2, large ones stream from HBM).
/// θ = [ln c0, ln B1, ln γ], with a weak prior γ ≈ 1 (σ 0.5 on ln γ).
public struct MemoryModel: Sendable, Equatable {
    public static let parameterNames = ["ln_c0_ms", "ln_B1_byte_per_ms", "ln_gamma"]
    public var theta: [Double]

    @inline(__always)
    static func logTime(_ lB: Double, _ th: UnsafeBufferPointer<Double>, grad: UnsafeMutableBufferPointer<Double>?) -> Double {
        let c0 = exp(th[0])
        let gm = exp(th[2])
        let x = lB - th[1]
        let E = exp(gm * x)
        let t = c0 + E
        if let g = grad {
            g[0] = c0 / t
            g[1] = -E * gm / t
            g[2] = E * gm * x / t
        }
        return log(t)
    }

    public func predictMs(bytes: Double) -> Double {
        theta.withUnsafeBufferPointer { exp(MemoryModel.logTime(log(bytes), $0, grad: nil)) }
    }

    static func fit(bytes: [Double], ms: [Double], start: [Double]? = nil) -> MemoryModel {
        precondition(!bytes.isEmpty)
        let lB = bytes.map { log($0) }
        let ys = ms.map { log($0) }
        var th: [Double]
        if let s = start {
            th = s
        } else {
            let order = bytes.indices.sorted { bytes[$0] < bytes[$1] }
            let top = order.suffix(max(1, order.count / 4))
            th = [log(max(ms.min()! * 0.5, 1e-4)), log(median(top.map { bytes[$0] / ms[$0] })), 0]
        }
        th = LevenbergMarquardt.minimize(
            theta: th, free: [0, 1, 2], rows: bytes.count,
            priorMean: [0, 0, 0], priorSD: [0, 0, 0.5],
            residual: { i, p, g in logTime(lB[i], p, grad: g) - ys[i] })
        return MemoryModel(theta: th)
    }
}

// MARK: Levenberg–Marquardt

enum LevenbergMarquardt {
    /// Minimises Σ r_i(θ)² + Σ_j ((θ_j − μ_j)/σ_j)² (σ_j > 0 only) over the `free` parameters.
    /// `residual(i, θ, grad)` returns r_i and, when `grad` is non-nil, writes dr_i/dθ (all
    /// parameters) into it. Deterministic: same inputs, same result.
    static func minimize(theta start: [Double], free: [Int], rows: Int,
                         priorMean: [Double], priorSD: [Double], maxIterations: Int = 200,
                         residual: (Int, UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>?) -> Double) -> [Double] {
        let p = start.count
        let q = free.count
        var theta = start
        var grad = [Double](repeating: 0, count: p)

        func cost(_ th: [Double]) -> Double {
            var s = 0.0
            th.withUnsafeBufferPointer { tp in
                for i in 0..<rows { let r = residual(i, tp, nil); s += r * r }
            }
            for j in free where priorSD[j] > 0 { let d = (th[j] - priorMean[j]) / priorSD[j]; s += d * d }
            return s.isFinite ? s : .infinity
        }

        var current = cost(theta)
        var mu = 1e-3
        var jtj = [Double](repeating: 0, count: q * q)
        var jtr = [Double](repeating: 0, count: q)
        for _ in 0..<maxIterations {
            for i in 0..<(q * q) { jtj[i] = 0 }
            for i in 0..<q { jtr[i] = 0 }
            theta.withUnsafeBufferPointer { tp in
                grad.withUnsafeMutableBufferPointer { gp in
                    for i in 0..<rows {
                        let r = residual(i, tp, gp)
                        for a in 0..<q {
                            let ga = gp[free[a]]
                            jtr[a] += ga * r
                            for b in a..<q { jtj[a * q + b] += ga * gp[free[b]] }
                        }
                    }
                }
            }
            for (a, j) in free.enumerated() where priorSD[j] > 0 {
                let inv = 1 / priorSD[j]
                jtr[a] += inv * (theta[j] - priorMean[j]) * inv
                jtj[a * q + a] += inv * inv
            }
            for a in 0..<q { for b in 0..<a { jtj[a * q + b] = jtj[b * q + a] } }

            var improved = false
            while mu < 1e12 {
                var m = jtj
                for a in 0..<q { m[a * q + a] += mu * (jtj[a * q + a] + 1e-12) }
                guard let step = solve(m, jtr.map { -$0 }, q) else { mu *= 10; continue }
                var trial = theta
                for (a, j) in free.enumerated() { trial[j] += step[a] }
                let c = cost(trial)
                if c < current {
                    let gain = current - c
                    theta = trial
                    current = c
                    mu = max(mu / 3, 1e-12)
                    improved = true
                    if gain <= 1e-10 * max(current, 1e-300) { return theta }
                    break
                }
                mu *= 4
            }
            if !improved { break }
        }
        return theta
    }

    /// Solves the symmetric positive definite system A x = b by Cholesky; nil if not positive definite.
    static func solve(_ a: [Double], _ b: [Double], _ n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard s > 0, s.isFinite else { return nil }
                    l[i * n + i] = s.squareRoot()
                } else {
                    l[i * n + j] = s / l[j * n + j]
                }
            }
        }
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var s = b[i]
            for k in 0..<i { s -= l[i * n + k] * y[k] }
            y[i] = s / l[i * n + i]
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = y[i]
            for k in (i + 1)..<n { s -= l[k * n + i] * x[k] }
            x[i] = s / l[i * n + i]
        }
        return x
    }
}

/// The median (mean of the middle two for an even count); 0 for none.
func median(_ xs: [Double]) -> Double {
    guard !xs.isEmpty else { return 0 }
    let s = xs.sorted()
    let n = s.count
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

/// Quantile with linear interpolation between order statistics (numpy's default, type 7).
public func quantile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    guard sorted.count > 1 else { return sorted[0] }
    let h = Double(sorted.count - 1) * q
    let lo = Int(h.rounded(.down))
    let hi = min(lo + 1, sorted.count - 1)
    return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
}
