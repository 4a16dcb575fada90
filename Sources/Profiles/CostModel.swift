// The measured cost model: predicts an operation's time on a GPU from the profiles, by
// interpolation where the shape was measured and by the fitted models elsewhere.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A question to the cost model: one operation of a model layer on a GPU.
public struct ProfileQuery: Sendable, Hashable {
    /// A GPU name or alias (`a100`, `A100-SXM4-80GB`, ...).
    public var gpu: String
    public var op: Operation
    public var tokens: Int
    public var dims: ModelDims
    public var tp: Int

    public init(gpu: String, op: Operation, tokens: Int, dims: ModelDims, tp: Int = 1) {
        self.gpu = gpu
        self.op = op
        self.tokens = tokens
        self.dims = dims
        self.tp = tp
    }
}

/// A predicted time and how it was obtained.
public struct Prediction: Sendable, Equatable {
    public enum Method: String, Sendable {
        /// The shape was measured at this token count: the measured median (the mean of the
        /// medians where it was measured more than once).
        case measured
        /// The shape was measured at token counts around this one: piecewise-linear
        /// interpolation in log(tokens)–log(time).
        case interpolated
        /// The shape was measured, but not this far out: the fitted model scaled to the
        /// measurements at the nearest end of the measured range.
        case extrapolated
        /// The shape was not measured on this GPU: the fitted FLOPs/bytes model.
        case fitted = "fit"
    }

    public var ms: Double
    public var method: Method
}

/// Measured medians of one shape at its token counts (sorted, duplicates averaged).
struct Series: Sendable {
    var tokens: [Int]
    var ms: [Double]

    init(_ points: [(Int, Double)]) {
        var byTokens: [Int: (Double, Int)] = [:]
        for (t, v) in points { let e = byTokens[t] ?? (0, 0); byTokens[t] = (e.0 + v, e.1 + 1) }
        tokens = byTokens.keys.sorted()
        ms = tokens.map { byTokens[$0]!.0 / Double(byTokens[$0]!.1) }
    }
}

/// The cost model of one GPU.
///
/// **Where the shape was measured** (same GPU, same operation, same per-rank shape: for a
/// projection its GEMM N and K, which follow from hidden, ffn, gated, heads and TP; for the
/// other operations the dimensions their bytes depend on), the prediction comes from the
/// measurements: the median itself at a measured token count, piecewise-linear interpolation in
/// log(tokens)–log(time) between measured token counts, and beyond the measured range the fitted
/// model scaled to the measurements at that end (`fit(T) · gmean(meas/fit)` over the (up to) 8
/// measured token counts nearest the end, within a factor 1.5 of it), so the curve continues with the roofline's slope from where
/// the measurements stop. Calibration measurements of a shape replace Vidur's.
///
/// **Elsewhere**, the fitted models: ``GEMMModel`` (one per GPU, fitted to all four projections
/// of every measured model — mlp_up_proj/mlp_down_proj rows and calibration rows at weight 1,
/// attention projections at weight 0.3 — using every 4th measured token count of each series)
/// and a ``MemoryModel`` per memory-bound operation (fitted the same way to that operation).
/// Fitting is deterministic.
public struct GPUCostModel: Sendable {
    public let device: GPUDevice
    public let gemm: GEMMModel?
    public let memory: [Operation: MemoryModel]
    let series: [ShapeKey: Series]

    /// Weight of the attention projections in the GEMM fit (the MLP projections have 1).
    public static let attentionWeight = 0.3
    /// Every how many measured token counts of a series the fit uses.
    public static let fitStride = 4
    /// How many measured token counts at the end of a series (at most; within a factor 1.5 of
    /// the end) anchor an extrapolation beyond it.
    public static let anchorPoints = 8

    /// Fits the model of `device` to `measurements` (all of that GPU). `start` — a model of the
    /// same GPU fitted to more data — only speeds up the fit.
    public static func fit(device: GPUDevice, measurements: [Measurement], start: GPUCostModel? = nil) -> GPUCostModel {
        // Measured series by shape; calibration rows of a shape replace Vidur's.
        var points: [ShapeKey: [(Int, Double)]] = [:]
        var calibrated = Set<ShapeKey>()
        for m in measurements where m.isCalibration { calibrated.insert(m.shape.key) }
        for m in measurements where m.isCalibration || !calibrated.contains(m.shape.key) {
            points[m.shape.key, default: []].append((m.tokens, m.medianMs))
        }

        // Training rows: every fitStride-th token count of each (source, shape) series.
        var bySeries: [SeriesID: [Int]] = [:]
        for (i, m) in measurements.enumerated() {
            bySeries[SeriesID(source: m.source, key: m.shape.key), default: []].append(i)
        }
        var keep = [Bool](repeating: false, count: measurements.count)
        for (_, idx) in bySeries {
            let ts = Array(Set(idx.map { measurements[$0].tokens })).sorted()
            var kept = Set<Int>()
            for (j, t) in ts.enumerated() where j % fitStride == 0 { kept.insert(t) }
            for i in idx where measurements[i].isCalibration || kept.contains(measurements[i].tokens) { keep[i] = true }
        }

        var samples: [GEMMModel.Sample] = []
        var memBytes: [Operation: [Double]] = [:]
        var memMs: [Operation: [Double]] = [:]
        // Iterate in a fixed order so that the fit is deterministic.
        for i in measurements.indices where keep[i] {
            let m = measurements[i]
            if let g = m.shape.gemm {
                let w = (m.shape.op == .attnPreProj || m.shape.op == .attnPostProj) && !m.isCalibration ? attentionWeight : 1
                samples.append(.init(m: m.tokens, n: g.n, k: g.k, ms: m.medianMs, weight: w))
            } else {
                memBytes[m.shape.op, default: []].append(m.shape.bytes(tokens: m.tokens))
                memMs[m.shape.op, default: []].append(m.medianMs)
            }
        }
        let gemm = samples.isEmpty ? nil : GEMMModel.fit(samples, sms: device.sms, start: start?.gemm?.theta)
        var memory: [Operation: MemoryModel] = [:]
        for op in Operation.allCases where !op.isGEMM {
            guard let b = memBytes[op], !b.isEmpty else { continue }
            memory[op] = MemoryModel.fit(bytes: b, ms: memMs[op]!, start: start?.memory[op]?.theta)
        }
        return GPUCostModel(device: device, gemm: gemm, memory: memory, series: points.mapValues { Series($0) })
    }

    struct SeriesID: Hashable { var source: String; var key: ShapeKey }

    /// The fitted model's time (ignoring measurements of the shape).
    public func fittedMs(shape: OpShape, tokens: Int) throws -> Double {
        if let g = shape.gemm {
            guard let gemm else {
                throw ProfileError(message: "no GEMM measurements on \(device.name) to fit \(shape.op) to")
            }
            return gemm.predictMs(m: tokens, n: g.n, k: g.k)
        }
        guard let mm = memory[shape.op] else {
            throw ProfileError(message: "no measurements of \(shape.op) on \(device.name)")
        }
        return mm.predictMs(bytes: shape.bytes(tokens: tokens))
    }

    /// Whether this shape was measured on this GPU.
    public func isMeasured(_ shape: OpShape) -> Bool { series[shape.key] != nil }

    /// Predicted milliseconds for `shape` at `tokens` (≥ 1).
    public func predict(shape: OpShape, tokens: Int) throws -> Prediction {
        guard tokens > 0 else { throw ProfileError(message: "tokens must be a positive integer, found \(tokens)") }
        guard let s = series[shape.key] else {
            return Prediction(ms: try fittedMs(shape: shape, tokens: tokens), method: .fitted)
        }
        let ts = s.tokens
        // Binary search for the first measured token count >= tokens.
        var lo = 0, hi = ts.count
        while lo < hi { let mid = (lo + hi) / 2; if ts[mid] < tokens { lo = mid + 1 } else { hi = mid } }
        if lo < ts.count && ts[lo] == tokens { return Prediction(ms: s.ms[lo], method: .measured) }
        if lo > 0 && lo < ts.count {
            let x0 = log(Double(ts[lo - 1])), x1 = log(Double(ts[lo])), x = log(Double(tokens))
            let y0 = log(s.ms[lo - 1]), y1 = log(s.ms[lo])
            let y = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            // Keep it between the neighbours despite rounding.
            let v = min(max(exp(y), min(s.ms[lo - 1], s.ms[lo])), max(s.ms[lo - 1], s.ms[lo]))
            return Prediction(ms: v, method: .interpolated)
        }
        // Outside the measured range: the fit, scaled to the measurements at that end (the
        // geometric mean of measured/fitted over the `anchorPoints` measured counts nearest the
        // end, within a factor 1.5 of it).
        var ends: [Int] = []
        if lo == 0 {
            for i in 0..<min(GPUCostModel.anchorPoints, ts.count) where Double(ts[i]) <= 1.5 * Double(ts[0]) { ends.append(i) }
        } else {
            for i in max(0, ts.count - GPUCostModel.anchorPoints)..<ts.count where 1.5 * Double(ts[i]) >= Double(ts[ts.count - 1]) { ends.append(i) }
        }
        var logRatio = 0.0
        for i in ends { logRatio += log(s.ms[i] / (try fittedMs(shape: shape, tokens: ts[i]))) }
        logRatio /= Double(ends.count)
        return Prediction(ms: try fittedMs(shape: shape, tokens: tokens) * exp(logRatio), method: .extrapolated)
    }
}

/// The cost model of every GPU in a profile set.
public struct CostModel: Sendable {
    public let registry: DeviceRegistry
    public let gpus: [String: GPUCostModel]

    /// Fits the models of `only` (GPU names or aliases; nil: every GPU with measurements).
    public init(profiles: ProfileSet, only: [String]? = nil) throws {
        registry = profiles.registry
        var names = profiles.gpus
        if let only {
            names = try only.map { try profiles.registry.resolve($0).name }
        }
        var out: [String: GPUCostModel] = [:]
        for name in Set(names).sorted() {
            let device = try profiles.registry.resolve(name)
            guard let ms = profiles.measurements[device.name], !ms.isEmpty else {
                throw ProfileError(message: "no profiles for GPU \(device.name) (GPUs with profiles: \(profiles.gpus.joined(separator: ", ")))")
            }
            out[device.name] = GPUCostModel.fit(device: device, measurements: ms)
        }
        gpus = out
    }

    /// The model of a GPU by name or alias.
    public func model(gpu: String) throws -> GPUCostModel {
        let d = try registry.resolve(gpu)
        guard let m = gpus[d.name] else {
            throw ProfileError(message: "no profiles for GPU \(d.name) (GPUs with profiles: \(gpus.keys.sorted().joined(separator: ", ")))")
        }
        return m
    }

    public func predict(_ q: ProfileQuery) throws -> Prediction {
        let m = try model(gpu: q.gpu)
        let shape = try OpShape(op: q.op, dims: q.dims, tp: q.tp)
        return try m.predict(shape: shape, tokens: q.tokens)
    }
}
