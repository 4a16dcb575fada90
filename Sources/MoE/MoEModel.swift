// MoE model configurations, loaded from data files (Traces/moe/models/*.yaml, schema
// "gpusim-moe-model/1", documented in Traces/moe/README.md). Parameter counts and byte sizes are
// derived from the architecture; a test holds them against the published totals.

import Foundation
import Yams

/// The attention block of a model, as far as weights, KV-cache and FLOPs go.
public enum MoEAttention: Sendable, Equatable {
    /// Multi-head / grouped-query attention: q, k, v, o projections.
    case gqa(heads: Int, kvHeads: Int, headDim: Int, qkvBias: Bool, oBias: Bool, qkNorm: Bool)
    /// DeepSeek's multi-head latent attention (compressed KV cache).
    case mla(heads: Int, qLoraRank: Int, kvLoraRank: Int, qkNopeHeadDim: Int, qkRopeHeadDim: Int, vHeadDim: Int)

    public var heads: Int {
        switch self { case .gqa(let h, _, _, _, _, _): return h; case .mla(let h, _, _, _, _, _): return h }
    }
}

/// One MoE model: layer counts, sizes and the byte figures the offloading simulation needs.
public struct MoEModelConfig: Sendable, Equatable {
    public let name: String
    public let aliases: [String]
    public let source: String
    public let file: String
    /// Transformer blocks.
    public let layers: Int
    public let hidden: Int
    public let vocab: Int
    public let dtypeBytes: Int
    public let tiedEmbeddings: Bool
    public let lmHeadBias: Bool
    /// Norm parameters per norm: hidden (RMSNorm) or 2·hidden (LayerNorm with bias).
    public let layerNormWithBias: Bool
    public let attention: MoEAttention
    /// Routed experts per MoE layer.
    public let experts: Int
    public let topK: Int
    public let expertFFN: Int
    public let gated: Bool
    /// Shared experts (always resident, part of the dense bytes) and their total FFN width.
    public let sharedExperts: Int
    public let sharedFFN: Int
    public let sharedGate: Bool
    /// Leading blocks with a dense MLP instead of an MoE layer (DeepSeek-V2-Lite: 1).
    public let denseLayers: Int
    public let denseFFN: Int
    /// Whether top-k weights are renormalised to sum to 1.
    public let normTopKProb: Bool
    /// fMoE's prefetch distance d for this model (DESIGN.md §6: 3 Mixtral, 4 Phi, 6 Qwen).
    public let fmoePrefetchDistance: Int
    /// Published total parameters (for the cross-check), with its source.
    public let publishedTotalParams: Double
    public let publishedTotalParamsSource: String
    /// Vidur profile (ORG_MODEL folder name) whose MLP shape equals an expert's, if any.
    public let expertProfile: String?
    /// Vidur profile whose attention shapes equal this model's, if any.
    public let attentionProfile: String?

    /// MoE layers (blocks after the dense ones); the routing trace has one row set per MoE layer.
    public var moeLayers: Int { layers - denseLayers }

    // MARK: derived sizes

    /// Parameters of one routed expert.
    public var expertParams: Int { (gated ? 3 : 2) * hidden * expertFFN }
    /// Bytes of one routed expert (the unit of offloading).
    public var expertBytes: Int { expertParams * dtypeBytes }
    /// All routed experts.
    public var totalExperts: Int { moeLayers * experts }
    public var allExpertBytes: Int { totalExperts * expertBytes }

    public var attentionParamsPerLayer: Int {
        switch attention {
        case .gqa(let h, let kv, let d, let qkvBias, let oBias, let qkNorm):
            var p = hidden * h * d + 2 * hidden * kv * d + h * d * hidden
            if qkvBias { p += h * d + 2 * kv * d }
            if oBias { p += hidden }
            if qkNorm { p += h * d + kv * d }
            return p
        case .mla(let h, let qLora, let kvLora, let nope, let rope, let v):
            var p = 0
            if qLora > 0 { p += hidden * qLora + qLora + qLora * h * (nope + rope) } else { p += hidden * h * (nope + rope) }
            p += hidden * (kvLora + rope) + kvLora + kvLora * h * (nope + v) + h * v * hidden
            return p
        }
    }

    var normParams: Int { layerNormWithBias ? 2 * hidden : hidden }

    /// Parameters that are not routed experts: embeddings, attention, norms, routers, shared
    /// experts, dense MLP blocks, the LM head.
    public var denseParams: Int {
        var p = vocab * hidden                                   // embeddings
        if !tiedEmbeddings { p += vocab * hidden }               // LM head
        if lmHeadBias { p += vocab }
        p += normParams                                          // final norm
        p += layers * (attentionParamsPerLayer + 2 * normParams)
        p += moeLayers * hidden * experts                        // routers
        p += moeLayers * ((gated ? 3 : 2) * hidden * sharedFFN + (sharedGate ? hidden : 0))
        p += denseLayers * 3 * hidden * denseFFN
        return p
    }
    public var denseBytes: Int { denseParams * dtypeBytes }
    public var totalParams: Int { denseParams + totalExperts * expertParams }

    /// KV-cache bytes per token per layer.
    public var kvBytesPerTokenPerLayer: Int {
        switch attention {
        case .gqa(_, let kv, let d, _, _, _): return 2 * kv * d * dtypeBytes
        case .mla(_, _, let kvLora, _, let rope, _): return (kvLora + rope) * dtypeBytes
        }
    }

    /// FLOPs of the attention score and value products for one query token against `context` keys
    /// (one layer): 2·heads·(qk dim)·context + 2·heads·(v dim)·context.
    public func attentionCoreFLOPs(context: Int) -> Double {
        switch attention {
        case .gqa(let h, _, let d, _, _, _): return 4.0 * Double(h * d) * Double(context)
        case .mla(let h, _, let kvLora, _, let rope, _):
            // Absorbed form: scores against the compressed latent (kvLora + rope), values from it.
            return 2.0 * Double(h) * Double(kvLora + rope) * Double(context) + 2.0 * Double(h) * Double(kvLora) * Double(context)
        }
    }

    public var allNames: [String] { [name] + aliases }
}

extension MoEModelConfig {
    public static let schemaIdentifier = "gpusim-moe-model/1"

    public static func load(path: String) throws -> MoEModelConfig {
        let text = try readTextFile(path)
        return try parse(yaml: text, file: (path as NSString).lastPathComponent)
    }

    public static func parse(yaml text: String, file: String) throws -> MoEModelConfig {
        let root = try YAMLMap(try composeYAML(text, file: file), path: "", file: file)
        let schema = try root.string("schema")
        guard schema == schemaIdentifier else {
            throw root.error("schema", "expected '\(schemaIdentifier)', got '\(schema)'")
        }
        let name = try root.string("name")
        let aliases = try root.stringList("aliases")
        let source = try root.string("source")
        let pub = try root.map("published_total_params")
        let pubValue = try pub.double("value", min: 0, minExclusive: true)
        let pubSource = try pub.string("source")
        try pub.finish(known: ["value", "source"])
        let dtypeBytes = try root.int("dtype_bytes", min: 1, max: 8)
        let layers = try root.int("layers")
        let hidden = try root.int("hidden")
        let vocab = try root.int("vocab")
        let tied = try root.bool("tied_embeddings")
        let lmHeadBias = try root.optionalBool("lm_head_bias") ?? false
        let norm = try root.string("norm")
        guard norm == "rms" || norm == "layer" else { throw root.error("norm", "expected 'rms' or 'layer', got '\(norm)'") }

        let a = try root.map("attention")
        let kind = try a.string("kind")
        let attention: MoEAttention
        switch kind {
        case "gqa":
            let heads = try a.int("heads")
            let kv = try a.int("kv_heads")
            guard heads % kv == 0 else { throw a.error("kv_heads", "must divide heads (\(heads)), got \(kv)") }
            attention = .gqa(heads: heads, kvHeads: kv, headDim: try a.int("head_dim"),
                             qkvBias: try a.bool("qkv_bias"), oBias: try a.bool("o_bias"), qkNorm: try a.bool("qk_norm"))
            try a.finish(known: ["kind", "heads", "kv_heads", "head_dim", "qkv_bias", "o_bias", "qk_norm"])
        case "mla":
            attention = .mla(heads: try a.int("heads"), qLoraRank: try a.int("q_lora_rank", min: 0),
                             kvLoraRank: try a.int("kv_lora_rank"), qkNopeHeadDim: try a.int("qk_nope_head_dim"),
                             qkRopeHeadDim: try a.int("qk_rope_head_dim"), vHeadDim: try a.int("v_head_dim"))
            try a.finish(known: ["kind", "heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"])
        default:
            throw a.error("kind", "expected 'gqa' or 'mla', got '\(kind)'")
        }

        let m = try root.map("moe")
        let experts = try m.int("experts", min: 2, max: 4096)
        let topK = try m.int("top_k", min: 1, max: experts)
        let expertFFN = try m.int("expert_ffn")
        let gated = try m.bool("gated")
        let shared = try m.int("shared_experts", min: 0)
        let sharedFFN = try m.int("shared_ffn", min: 0)
        if (shared == 0) != (sharedFFN == 0) {
            throw m.error("shared_ffn", "must be 0 exactly when shared_experts is 0 (got shared_experts \(shared), shared_ffn \(sharedFFN))")
        }
        let sharedGate = try m.bool("shared_gate")
        let denseLayers = try m.int("dense_layers", min: 0, max: layers - 1)
        let denseFFN = try m.int("dense_ffn", min: 0)
        if (denseLayers == 0) != (denseFFN == 0) {
            throw m.error("dense_ffn", "must be 0 exactly when dense_layers is 0 (got dense_layers \(denseLayers), dense_ffn \(denseFFN))")
        }
        let normTopK = try m.bool("norm_topk_prob")
        let stated = try m.optionalInt("expert_bytes")
        try m.finish(known: ["experts", "top_k", "expert_ffn", "gated", "shared_experts", "shared_ffn", "shared_gate",
                             "dense_layers", "dense_ffn", "norm_topk_prob", "expert_bytes"])

        let d = try root.int("fmoe_prefetch_distance", min: 1, max: layers)
        var expertProfile: String? = nil, attentionProfile: String? = nil
        if let p = try root.optionalMap("vidur_profile") {
            expertProfile = try p.optionalString("expert")
            attentionProfile = try p.optionalString("attention")
            try p.finish(known: ["expert", "attention"])
        }
        try root.finish(known: ["schema", "name", "aliases", "source", "published_total_params", "dtype_bytes", "layers", "hidden",
                                "vocab", "tied_embeddings", "lm_head_bias", "norm", "attention", "moe", "fmoe_prefetch_distance",
                                "vidur_profile"])
        let config = MoEModelConfig(
            name: name, aliases: aliases, source: source, file: file, layers: layers, hidden: hidden, vocab: vocab,
            dtypeBytes: dtypeBytes, tiedEmbeddings: tied, lmHeadBias: lmHeadBias, layerNormWithBias: norm == "layer",
            attention: attention, experts: experts, topK: topK, expertFFN: expertFFN, gated: gated, sharedExperts: shared,
            sharedFFN: sharedFFN, sharedGate: sharedGate, denseLayers: denseLayers, denseFFN: denseFFN, normTopKProb: normTopK,
            fmoePrefetchDistance: d, publishedTotalParams: pubValue, publishedTotalParamsSource: pubSource,
            expertProfile: expertProfile, attentionProfile: attentionProfile)
        if let stated, stated != config.expertBytes {
            throw MoEConfigError(file: file, keyPath: "moe.expert_bytes",
                                 message: "states \(stated) bytes but the shape gives \((gated ? 3 : 2)) × \(hidden) × \(expertFFN) × \(dtypeBytes) = \(config.expertBytes)")
        }
        return config
    }
}

/// The model configs of one folder, looked up by name or alias (case-insensitive).
public struct MoEModelCatalog: Sendable {
    public let directory: URL
    public let models: [MoEModelConfig]

    public init(directory: URL) throws {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory.path) else {
            throw MoEConfigError(file: directory.path, keyPath: "", message: "MoE model folder not found")
        }
        var models: [MoEModelConfig] = []
        for n in names.sorted() where n.hasSuffix(".yaml") || n.hasSuffix(".yml") {
            models.append(try MoEModelConfig.load(path: directory.appendingPathComponent(n).path))
        }
        guard !models.isEmpty else { throw MoEConfigError(file: directory.path, keyPath: "", message: "no model files (*.yaml)") }
        var seen: [String: String] = [:]
        for m in models {
            for n in m.allNames {
                let k = MoEModelCatalog.normalize(n)
                if let other = seen[k] {
                    throw MoEConfigError(file: m.file, keyPath: "name", message: "name '\(n)' is also used by \(other)")
                }
                seen[k] = m.file
            }
        }
        self.directory = directory
        self.models = models
    }

    /// The catalog in `<data root>/moe/models`.
    public init(dataRoot: URL) throws {
        try self.init(directory: dataRoot.appendingPathComponent("moe/models"))
    }

    public func model(named name: String) throws -> MoEModelConfig {
        let k = MoEModelCatalog.normalize(name)
        if let m = models.first(where: { $0.allNames.contains { MoEModelCatalog.normalize($0) == k } }) { return m }
        throw MoEConfigError(file: directory.path, keyPath: "",
                             message: "unknown MoE model '\(name)'; known: \(models.map(\.name).joined(separator: ", "))")
    }

    static func normalize(_ s: String) -> String {
        s.lowercased().replacingOccurrences(of: "_", with: "-").replacingOccurrences(of: " ", with: "-")
    }
}
