// What one iteration of an LLM serving loop costs on a GPU: the profiled dense operations at the
// batch's token count, plus attention and the LM head by roofline; and the kernels that carry it.

import Hardware
import Tenancy

/// Times of the profiled dense operations of one model on one GPU (Vidur's vocabulary).
/// `MeasuredOpTimes` answers from the Profiles module's measured cost model; tests use tables.
public protocol DenseOpTimes: Sendable {
    /// Seconds of one `op` (a profiled one: ``DenseOp/isProfiled``) over `tokens` tokens.
    func seconds(_ op: DenseOp, tokens: Int) throws -> Double
    /// Where the figures come from, for reports.
    var source: String { get }
}

/// Op times as `fixed + perToken · tokens` seconds (for tests and what-if studies).
public struct LinearOpTimes: DenseOpTimes {
    public var fixed: [DenseOp: Double]
    public var perToken: [DenseOp: Double]
    public init(fixed: [DenseOp: Double], perToken: [DenseOp: Double]) {
        self.fixed = fixed
        self.perToken = perToken
    }
    public func seconds(_ op: DenseOp, tokens: Int) throws -> Double {
        guard let a = fixed[op], let b = perToken[op] else {
            throw SettingsError(file: "", keyPath: "", message: "no time for operation \(op.rawValue)")
        }
        return a + b * Double(tokens)
    }
    public var source: String { "linear table" }
}

/// How finely an iteration is cut into kernels.
public enum KernelGranularity: String, Sendable, CaseIterable {
    /// One kernel per operation (layers × ops + iteration ops).
    case op
    /// One kernel per layer (the iteration ops folded into the first).
    case layer
    /// One kernel per iteration.
    case iteration
}

/// The cost of serving iterations of one model on one GPU.
///
/// Per iteration of `T` tokens (prefill tokens plus one per decoding request) and `B` sequences:
/// - every profiled operation of ``LLMModel/layerOps`` (per layer) and
///   ``LLMModel/iterationOps`` at `T` tokens, from ``DenseOpTimes``;
/// - `attention` per layer and request, by roofline: `max(FLOPs / (peak · e_c), bytes / (BW · e_m))`
///   with, for a prefill of `n` tokens, FLOPs `2·n²·hidden` (causal QKᵀ and PV) and bytes
///   `2·n·(2·hidden + 4·kvWidth)` (Q, K, V read, O written, K and V stored); for a decode step at
///   context `c`, FLOPs `4·c·hidden` and bytes `2·(2·c·kvWidth + 2·hidden)` (the KV cache read);
/// - `lm_head` by roofline: FLOPs `2·B·hidden·vocab`, bytes `2·(hidden·vocab + B·(hidden + vocab))`.
///
/// DRAM bytes (for HBM contention) are each operation's weights and activations (fp16).
/// Kernels are assumed to spread evenly over the SMs they get: 16 CTAs per SM of the full GPU,
/// 2 resident per SM, so their time scales with the SMs they hold.
public struct ServingCost: Sendable {
    public let model: LLMModel
    public let spec: GPUSpec
    public let compute: GPUCompute
    public let ops: any DenseOpTimes
    public let granularity: KernelGranularity
    /// Per token count: seconds and bytes of one layer's profiled operations and of the
    /// iteration's profiled operations (NaN when not computed yet).
    var layerCache: [(seconds: Double, bytes: Double)] = []
    var iterationCache: [(seconds: Double, bytes: Double)] = []

    public init(model: LLMModel, spec: GPUSpec, compute: GPUCompute, ops: any DenseOpTimes, granularity: KernelGranularity) {
        self.model = model
        self.spec = spec
        self.compute = compute
        self.ops = ops
        self.granularity = granularity
    }

    var flops: Double { compute.flopsPerSecond * compute.computeEfficiency }
    var bandwidth: Double { spec.memory.bandwidthBytesPerSecond * compute.memoryEfficiency }

    /// Bytes one profiled operation moves at `tokens` (fp16 weights and activations).
    public func bytes(_ op: DenseOp, tokens: Int) -> Double {
        let m = Double(tokens), h = Double(model.hidden), f = Double(model.ffn), kv = Double(model.kvWidth)
        let e = Double(model.bytesPerParameter)
        func gemm(_ k: Double, _ n: Double) -> Double { e * (m * k + k * n + m * n) }
        switch op {
        case .attnPreProj: return gemm(h, h + 2 * kv)
        case .attnPostProj: return gemm(h, h)
        case .mlpUpProj: return gemm(h, (model.gatedMLP ? 2 : 1) * f)
        case .mlpDownProj: return gemm(f, h)
        case .inputLayernorm, .postAttentionLayernorm: return e * (2 * m * h + h)
        case .add: return e * 3 * m * h
        case .emb: return e * 2 * m * h
        case .attnRope: return e * 2 * m * (h + kv)
        case .mlpAct: return e * (model.gatedMLP ? 3 : 2) * m * f
        case .attention, .lmHead: return 0
        }
    }

    func roofline(flops f: Double, bytes b: Double) -> Double { max(f / flops, b / bandwidth) }

    /// One layer's attention for a prefill of `n` tokens: (seconds, bytes).
    public func prefillAttention(tokens n: Int) -> (seconds: Double, bytes: Double) {
        let nn = Double(n), h = Double(model.hidden), kv = Double(model.kvWidth), e = Double(model.bytesPerParameter)
        let b = e * nn * (2 * h + 4 * kv)
        return (roofline(flops: 2 * nn * nn * h, bytes: b), b)
    }

    /// One layer's attention for one decode step at context `c` (tokens in the KV cache, this one included).
    public func decodeAttention(context c: Int) -> (seconds: Double, bytes: Double) {
        let cc = Double(c), h = Double(model.hidden), kv = Double(model.kvWidth), e = Double(model.bytesPerParameter)
        let b = e * (2 * cc * kv + 2 * h)
        return (roofline(flops: 4 * cc * h, bytes: b), b)
    }

    /// The LM head for `sequences` sequences.
    public func lmHead(sequences: Int) -> (seconds: Double, bytes: Double) {
        let s = Double(sequences), h = Double(model.hidden), v = Double(model.vocab), e = Double(model.bytesPerParameter)
        let b = e * (h * v + s * (h + v))
        return (roofline(flops: 2 * s * h * v, bytes: b), b)
    }

    /// Seconds and bytes of the profiled operations of one layer (or of the iteration ops) at `tokens`.
    mutating func profiled(tokens: Int, iterationLevel: Bool) throws -> (seconds: Double, bytes: Double) {
        if iterationLevel {
            if tokens < iterationCache.count, !iterationCache[tokens].seconds.isNaN { return iterationCache[tokens] }
        } else {
            if tokens < layerCache.count, !layerCache[tokens].seconds.isNaN { return layerCache[tokens] }
        }
        var s = 0.0, b = 0.0
        for op in iterationLevel ? model.iterationOps : model.layerOps where op.isProfiled {
            s += try ops.seconds(op, tokens: tokens)
            b += bytes(op, tokens: tokens)
        }
        let v = (s, b)
        if tokens < 1 << 16 {
            if iterationLevel {
                if tokens >= iterationCache.count { iterationCache += Array(repeating: (.nan, .nan), count: tokens + 1 - iterationCache.count) }
                iterationCache[tokens] = v
            } else {
                if tokens >= layerCache.count { layerCache += Array(repeating: (.nan, .nan), count: tokens + 1 - layerCache.count) }
                layerCache[tokens] = v
            }
        }
        return v
    }

    /// Times of one op at `tokens`, for the `op` granularity (attention and lm_head excluded).
    func opCost(_ op: DenseOp, tokens: Int) throws -> (seconds: Double, bytes: Double) {
        (try ops.seconds(op, tokens: tokens), bytes(op, tokens: tokens))
    }

    /// A kernel of `seconds` on the full GPU moving `bytes`.
    public func kernel(seconds: Double, bytes: Double) -> KernelWork {
        KernelWork(ctas: 16 * spec.smCount, ctasPerSM: 2, isolatedSeconds: max(seconds, 1e-9), dramBytes: max(bytes, 0))
    }

    /// Submits the kernels of one iteration to stream 0 of `context`: the last carries `token`,
    /// the others -1. `prefills` are the prompt lengths of requests starting this iteration,
    /// `contexts` the context lengths of requests decoding one token. Returns the iteration's
    /// isolated seconds on the full GPU.
    @discardableResult
    mutating func submitIteration(prefills: ArraySlice<Int32>, contexts: ArraySlice<Int32>, token: Int64,
                                  into context: inout TenantContext) throws -> Double {
        var tokens = contexts.count
        for n in prefills { tokens += Int(n) }
        let sequences = prefills.count + contexts.count
        // Attention of one layer over the batch.
        var attnS = 0.0, attnB = 0.0
        for n in prefills { let a = prefillAttention(tokens: Int(n)); attnS += a.seconds; attnB += a.bytes }
        for c in contexts { let a = decodeAttention(context: Int(c)); attnS += a.seconds; attnB += a.bytes }
        let hasAttention = model.layerOps.contains(.attention)
        if !hasAttention { attnS = 0; attnB = 0 }
        let head = model.iterationOps.contains(.lmHead) ? lmHead(sequences: sequences) : (seconds: 0.0, bytes: 0.0)
        let layer = try profiled(tokens: tokens, iterationLevel: false)
        let iter = try profiled(tokens: tokens, iterationLevel: true)
        let layerS = layer.seconds + attnS, layerB = layer.bytes + attnB
        let totalS = Double(model.layers) * layerS + iter.seconds + head.seconds
        let totalB = Double(model.layers) * layerB + iter.bytes + head.bytes
        switch granularity {
        case .iteration:
            context.submit(.kernel(kernel(seconds: totalS, bytes: totalB)), token: token)
        case .layer:
            for l in 0..<model.layers {
                let extraS = l == 0 ? iter.seconds + head.seconds : 0, extraB = l == 0 ? iter.bytes + head.bytes : 0
                context.submit(.kernel(kernel(seconds: layerS + extraS, bytes: layerB + extraB)),
                               token: l == model.layers - 1 ? token : -1)
            }
        case .op:
            var pending: KernelWork? = nil
            func emit(_ k: KernelWork, _ ctx: inout TenantContext) {
                if let p = pending { ctx.submit(.kernel(p), token: -1) }
                pending = k
            }
            for op in model.iterationOps where op == .emb {
                let c = try opCost(op, tokens: tokens); emit(kernel(seconds: c.seconds, bytes: c.bytes), &context)
            }
            for _ in 0..<model.layers {
                for op in model.layerOps {
                    if op == .attention {
                        if attnS > 0 { emit(kernel(seconds: attnS, bytes: attnB), &context) }
                    } else {
                        let c = try opCost(op, tokens: tokens)
                        emit(kernel(seconds: c.seconds, bytes: c.bytes), &context)
                    }
                }
            }
            for op in model.iterationOps where op != .emb {
                if op == .lmHead { emit(kernel(seconds: head.seconds, bytes: head.bytes), &context) } else {
                    let c = try opCost(op, tokens: tokens); emit(kernel(seconds: c.seconds, bytes: c.bytes), &context)
                }
            }
            if let p = pending { context.submit(.kernel(p), token: token) }
        }
        return totalS
    }
}
