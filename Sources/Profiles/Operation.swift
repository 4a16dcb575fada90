// Vidur's operation vocabulary, and what each operation computes and moves for a shape:
// the GEMM dimensions of the projections, their FLOPs, and the bytes every operation moves.

/// One operation of a dense transformer layer, named as in Vidur's `mlp.csv` profiles
/// (`time_stats.<name>.median`).
public enum Operation: String, CaseIterable, Sendable, Hashable, Comparable, CustomStringConvertible {
    case emb
    case inputLayernorm = "input_layernorm"
    case attnPreProj = "attn_pre_proj"
    case attnRope = "attn_rope"
    case attnPostProj = "attn_post_proj"
    case postAttentionLayernorm = "post_attention_layernorm"
    case mlpUpProj = "mlp_up_proj"
    case mlpAct = "mlp_act"
    case mlpDownProj = "mlp_down_proj"
    case add

    public var description: String { rawValue }

    /// The four projections are GEMMs and share one fitted cost model per GPU; the other
    /// operations are memory-bound element-wise kernels with one bytes-based fit each.
    public var isGEMM: Bool {
        switch self {
        case .attnPreProj, .attnPostProj, .mlpUpProj, .mlpDownProj: return true
        default: return false
        }
    }

    /// The operation with this Vidur name; the error lists the known names.
    public static func named(_ name: String) throws -> Operation {
        if let op = Operation(rawValue: name) { return op }
        if let op = Operation(rawValue: name.lowercased()) { return op }
        throw ProfileError(message: "unknown operation \(quoted(name)) (known: \(Operation.allCases.map(\.rawValue).joined(separator: ", ")))")
    }

    public static func < (a: Operation, b: Operation) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The dimensions of a model that the cost of its layer operations depends on.
public struct ModelDims: Hashable, Sendable, CustomStringConvertible {
    /// d_model (Vidur's `n_embd`).
    public var hidden: Int
    /// MLP inner size (Vidur's `n_expanded_embd`); a gated MLP has gate and up of this width.
    public var ffn: Int
    /// Gated MLP (SwiGLU: gate and up projections fused into one GEMM of width 2·ffn).
    public var gated: Bool
    /// Attention heads; nil: not known (the QKV projection is then taken as 3·hidden wide,
    /// i.e. multi-head attention).
    public var heads: Int?
    /// Key/value heads (grouped-query attention); nil: as many as `heads`.
    public var kvHeads: Int?

    public init(hidden: Int, ffn: Int, gated: Bool, heads: Int? = nil, kvHeads: Int? = nil) {
        self.hidden = hidden
        self.ffn = ffn
        self.gated = gated
        self.heads = heads
        self.kvHeads = kvHeads
    }

    public var description: String {
        var s = "hidden \(hidden), ffn \(ffn), \(gated ? "gated" : "not gated")"
        if let h = heads { s += ", \(h) heads" }
        if let kv = kvHeads { s += ", \(kv) kv heads" }
        return s
    }
}

/// An operation on a model's dimensions at a tensor-parallel degree: everything but the token
/// count. Per-rank shapes: with TP `t`, column-parallel projections (QKV, gate+up) keep
/// `1/t` of their output columns and row-parallel ones (attention output, down) `1/t` of
/// their input rows; norms, residual add and the embedding lookup are replicated.
public struct OpShape: Hashable, Sendable, CustomStringConvertible {
    public let op: Operation
    public let dims: ModelDims
    public let tp: Int

    /// Checks the dimensions (positive, TP dividing the split dimensions) and makes the shape.
    public init(op: Operation, dims: ModelDims, tp: Int) throws {
        func bad(_ m: String) -> ProfileError { ProfileError(message: m) }
        guard dims.hidden > 0 else { throw bad("hidden must be a positive integer, found \(dims.hidden)") }
        guard dims.ffn > 0 else { throw bad("ffn must be a positive integer, found \(dims.ffn)") }
        guard tp > 0 else { throw bad("tp must be a positive integer, found \(tp)") }
        guard dims.ffn % tp == 0 else { throw bad("tp \(tp) does not divide ffn \(dims.ffn)") }
        guard dims.hidden % tp == 0 else { throw bad("tp \(tp) does not divide hidden \(dims.hidden)") }
        if let h = dims.heads {
            guard h > 0, dims.hidden % h == 0 else { throw bad("heads \(h) must be positive and divide hidden \(dims.hidden)") }
            let kv = dims.kvHeads ?? h
            guard kv > 0, h % kv == 0 else { throw bad("kv heads \(kv) must be positive and divide heads \(h)") }
            guard ((h + 2 * kv) * (dims.hidden / h)) % tp == 0 else {
                throw bad("tp \(tp) does not divide the QKV width \((h + 2 * kv) * (dims.hidden / h))")
            }
        } else if dims.kvHeads != nil {
            throw bad("kv heads given without heads")
        }
        self.op = op
        self.dims = dims
        self.tp = tp
    }

    public var description: String { "\(op) (\(dims), tp \(tp))" }

    /// Width of the fused QKV projection output (all heads, before the TP split).
    var qkvWidth: Int {
        guard let h = dims.heads else { return 3 * dims.hidden }
        let kv = dims.kvHeads ?? h
        return (h + 2 * kv) * (dims.hidden / h)
    }

    /// Width of rotary-embedded Q and K (all heads, before the TP split).
    var ropeWidth: Int {
        guard let h = dims.heads else { return 2 * dims.hidden }
        let kv = dims.kvHeads ?? h
        return (h + kv) * (dims.hidden / h)
    }

    /// For a projection, the per-rank GEMM `[tokens × k] · [k × n]`; nil otherwise.
    /// - attn_pre_proj: n = QKV width / t, k = hidden
    /// - attn_post_proj: n = hidden, k = hidden / t
    /// - mlp_up_proj: n = (gated ? 2·ffn : ffn) / t, k = hidden (gate and up fused: checked
    ///   against Vidur's data, where up_proj takes twice down_proj's time at large token counts
    ///   for gated models and the same time for phi-2)
    /// - mlp_down_proj: n = hidden, k = ffn / t
    public var gemm: (n: Int, k: Int)? {
        let h = dims.hidden, f = dims.ffn, t = tp
        switch op {
        case .attnPreProj: return (qkvWidth / t, h)
        case .attnPostProj: return (h, h / t)
        case .mlpUpProj: return ((dims.gated ? 2 * f : f) / t, h)
        case .mlpDownProj: return (h, f / t)
        default: return nil
        }
    }

    /// Floating-point operations at `tokens` (2·M·N·K for a GEMM, 0 otherwise).
    public func flops(tokens: Int) -> Double {
        guard let g = gemm else { return 0 }
        return 2 * Double(tokens) * Double(g.n) * Double(g.k)
    }

    /// Bytes read and written at `tokens`, 2 bytes per element (fp16/bf16), each tensor once:
    /// - GEMM: A (M×K) + B (K×N) + C (M×N)
    /// - input/post-attention layernorm: read and write M×hidden, plus the weight (hidden)
    /// - add: two M×hidden inputs and one output
    /// - emb: gather M rows of hidden and write them
    /// - attn_rope: read and write Q and K (M × (heads + kv)·head_dim / t)
    /// - mlp_act: gated reads M×2·ffn/t and writes M×ffn/t; not gated reads and writes M×ffn/t
    public func bytes(tokens: Int) -> Double {
        let m = Double(tokens), h = Double(dims.hidden), t = Double(tp)
        let f = Double(dims.ffn)
        switch op {
        case .attnPreProj, .attnPostProj, .mlpUpProj, .mlpDownProj:
            let g = gemm!
            let n = Double(g.n), k = Double(g.k)
            return 2 * (m * k + k * n + m * n)
        case .inputLayernorm, .postAttentionLayernorm: return 2 * (2 * m * h + h)
        case .add: return 2 * 3 * m * h
        case .emb: return 2 * 2 * m * h
        case .attnRope: return 2 * 2 * m * Double(ropeWidth) / t
        case .mlpAct: return 2 * (dims.gated ? 3 : 2) * m * f / t
        }
    }

    /// What the operation's cost depends on besides the token count: two shapes with the same
    /// key run the same kernels on the same data sizes, so their measurements are
    /// interchangeable (e.g. every model with hidden 4096 has the same layernorm).
    public var key: ShapeKey {
        switch op {
        case .attnPreProj, .attnPostProj, .mlpUpProj, .mlpDownProj:
            let g = gemm!
            return ShapeKey(op: op, a: g.n, b: g.k, c: 0)
        case .inputLayernorm, .postAttentionLayernorm, .add: return ShapeKey(op: op, a: dims.hidden, b: 0, c: 0)
        case .emb: return ShapeKey(op: op, a: dims.hidden, b: tp, c: 0)
        case .attnRope: return ShapeKey(op: op, a: ropeWidth / tp, b: 0, c: 0)
        case .mlpAct: return ShapeKey(op: op, a: dims.ffn / tp, b: dims.gated ? 1 : 0, c: 0)
        }
    }
}

/// See ``OpShape/key``.
public struct ShapeKey: Hashable, Sendable, Comparable {
    public var op: Operation
    public var a: Int
    public var b: Int
    public var c: Int

    public static func < (x: ShapeKey, y: ShapeKey) -> Bool {
        (x.op, x.a, x.b, x.c) < (y.op, y.a, y.b, y.c)
    }
}

func quoted(_ s: String, limit: Int = 60) -> String {
    var out = "\""
    var n = 0
    for ch in s.unicodeScalars {
        if n >= limit { out += "..."; break }
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if ch.value < 0x20 { out += "\\u{\(String(ch.value, radix: 16))}" } else { out.unicodeScalars.append(ch) }
        }
        n += 1
    }
    return out + "\""
}
