// Per-iteration operation times for one model on one GPU, precomputed from a cost model into
// arrays indexed by token count, so that the serving loop only looks them up.

import Hardware

/// Operation times (seconds) for one (model, GPU), memoised by token count.
public struct MoEStepCosts: Sendable {
    public let model: MoEModelConfig
    public let gpu: GPUSpec
    /// Expert FFN (up + act + down) at n tokens: expert[n], n ≥ 1 (index 0 unused).
    public private(set) var expert: [Double] = [0]
    /// Shared expert(s) FFN at n tokens (0 when the model has none).
    public private(set) var shared: [Double] = [0]
    /// Dense MLP block at n tokens (DeepSeek-V2-Lite's first block).
    public private(set) var denseMLP: [Double] = [0]
    /// Per layer, everything but the attention core and the experts: norms, QKV, RoPE, output
    /// projection, router, residual adds.
    public private(set) var layerFixed: [Double] = [0]
    /// Per iteration: embedding lookup of n tokens + final norm.
    public private(set) var embedding: [Double] = [0]
    /// LM head for r sequences (one logit row each).
    public private(set) var lmHead: [Double] = [0]
    /// Attention core, decode: seconds per cached token per layer (roofline).
    public let attentionPerContextToken: Double
    /// Attention core, prefill of n tokens: seconds per layer = prefillQuadratic·n(n+1)/2 or the
    /// KV-bytes bound, whichever is larger (see `attentionPrefill`).
    let prefillFLOPsPerPair: Double
    let kvBytesPerToken: Double
    let secondsPerFLOP: Double
    let secondsPerKVByte: Double
    let costModel: any MoECostModel
    public let provenance: [(what: String, source: String)]

    let expertShapes: [MoEOpShape]
    let sharedShapes: [MoEOpShape]
    let denseShapes: [MoEOpShape]
    let fixedShapes: [MoEOpShape]

    public init(model m: MoEModelConfig, gpu: GPUSpec, costModel: any MoECostModel) throws {
        self.model = m
        self.gpu = gpu
        self.costModel = costModel
        let h = m.hidden
        func mlp(_ ffn: Int) -> [MoEOpShape] {
            [MoEOpShape(kind: .mlpUpProj, hidden: h, ffn: ffn, gated: m.gated),
             MoEOpShape(kind: .mlpAct, hidden: h, ffn: ffn, gated: m.gated),
             MoEOpShape(kind: .mlpDownProj, hidden: h, ffn: ffn, gated: m.gated)]
        }
        expertShapes = mlp(m.expertFFN)
        sharedShapes = m.sharedFFN > 0 ? mlp(m.sharedFFN) : []
        denseShapes = m.denseFFN > 0 ? mlp(m.denseFFN) : []
        var fixed: [MoEOpShape] = [MoEOpShape(kind: .inputLayernorm, hidden: h), MoEOpShape(kind: .postAttentionLayernorm, hidden: h),
                                   MoEOpShape(kind: .add, hidden: h), MoEOpShape(kind: .add, hidden: h)]
        switch m.attention {
        case .gqa(let heads, let kv, let d, _, _, _):
            fixed += [MoEOpShape(kind: .attnPreProj, hidden: h, heads: heads, kvHeads: kv, headDim: d),
                      MoEOpShape(kind: .attnRope, hidden: h, heads: heads, kvHeads: kv, headDim: d),
                      MoEOpShape(kind: .attnPostProj, hidden: h, heads: heads, kvHeads: kv, headDim: d)]
        case .mla(let heads, let qLora, let kvLora, let nope, let rope, let v):
            if qLora > 0 {
                fixed += [.gemm(n: qLora, k: h), .gemm(n: heads * (nope + rope), k: qLora)]
            } else {
                fixed.append(.gemm(n: heads * (nope + rope), k: h))
            }
            fixed += [.gemm(n: kvLora + rope, k: h), .gemm(n: heads * (nope + v), k: kvLora), .gemm(n: h, k: heads * v),
                      MoEOpShape(kind: .attnRope, hidden: h, heads: heads, kvHeads: 1, headDim: rope)]
        }
        fixed.append(.gemm(n: m.experts, k: h))   // router
        fixedShapes = fixed
        // Attention core (roofline): decode per cached token; prefill by FLOPs over pairs.
        attentionPerContextToken = try costModel.attentionCoreSeconds(flops: m.attentionCoreFLOPs(context: 1),
                                                                      kvBytes: Double(m.kvBytesPerTokenPerLayer), gpu: gpu)
        prefillFLOPsPerPair = m.attentionCoreFLOPs(context: 1)
        kvBytesPerToken = Double(m.kvBytesPerTokenPerLayer)
        secondsPerFLOP = try costModel.attentionCoreSeconds(flops: 1e12, kvBytes: 0, gpu: gpu) / 1e12
        secondsPerKVByte = try costModel.attentionCoreSeconds(flops: 0, kvBytes: 1e12, gpu: gpu) / 1e12
        var prov: [(String, String)] = []
        prov.append(("expert FFN (\(expertShapes[0]))", try costModel.provenance(expertShapes[0], gpu: gpu)))
        if let s = sharedShapes.first { prov.append(("shared expert (\(s))", try costModel.provenance(s, gpu: gpu))) }
        for s in fixed { prov.append(("\(s)", try costModel.provenance(s, gpu: gpu))) }
        prov.append(("attention core (scores, softmax, values)", "estimate: roofline (FLOPs and KV-cache bytes over the GPU's peaks); no profile measures it"))
        provenance = prov
        try ensure(tokens: 64)
    }

    private func sum(_ shapes: [MoEOpShape], _ t: Int) throws -> Double {
        var s = 0.0
        for x in shapes { s += try costModel.seconds(x, tokens: t, gpu: gpu) }
        return s
    }

    /// Makes the tables cover `tokens` (called before a run with the largest iteration size).
    public mutating func ensure(tokens: Int) throws {
        while expert.count <= tokens {
            let t = expert.count
            expert.append(try sum(expertShapes, t))
            shared.append(sharedShapes.isEmpty ? 0 : try sum(sharedShapes, t))
            denseMLP.append(denseShapes.isEmpty ? 0 : try sum(denseShapes, t))
            layerFixed.append(try sum(fixedShapes, t))
            embedding.append(try costModel.seconds(MoEOpShape(kind: .emb, hidden: model.hidden), tokens: t, gpu: gpu)
                             + costModel.seconds(MoEOpShape(kind: .inputLayernorm, hidden: model.hidden), tokens: t, gpu: gpu))
            lmHead.append(try costModel.seconds(.gemm(n: model.vocab, k: model.hidden), tokens: t, gpu: gpu))
        }
    }

    public var maxTokens: Int { expert.count - 1 }

    /// Attention core for the prefill of `n` tokens (causal: n(n+1)/2 query-key pairs), one layer:
    /// the roofline of their FLOPs against reading n tokens of KV cache once.
    public func attentionPrefill(tokens n: Int) -> Double {
        let pairs = Double(n) * Double(n + 1) / 2
        return max(pairs * prefillFLOPsPerPair * secondsPerFLOP, Double(n) * kvBytesPerToken * secondsPerKVByte)
    }
}
