// An LLM's dimensions (Traces/models/*.yaml, schema gpusim-llm/1) and a GPU's peak tensor
// throughput (Traces/models/gpu-compute.yaml), as the inference tenant needs them.

import Foundation
import Hardware

/// One operation of the model's forward pass, in Vidur's vocabulary plus the two that have no
/// measured profile here.
public enum DenseOp: String, Sendable, CaseIterable {
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
    /// Scores, softmax and weighted sum over the KV cache (per request): roofline estimate.
    case attention
    /// Vocabulary projection of each sequence's last token: roofline estimate.
    case lmHead = "lm_head"

    /// Measured in the profiles (the others are estimated by roofline).
    public var isProfiled: Bool { self != .attention && self != .lmHead }
}

/// A dense decoder-only LLM.
public struct LLMModel: Sendable, Equatable {
    public static let schemaIdentifier = "gpusim-llm/1"
    public var name: String
    public var hidden: Int
    public var ffn: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var vocab: Int
    public var gatedMLP: Bool
    public var bytesPerParameter: Int
    public var layerOps: [DenseOp]
    public var iterationOps: [DenseOp]
    public var file: String

    public init(name: String, hidden: Int, ffn: Int, layers: Int, heads: Int, kvHeads: Int, vocab: Int,
                gatedMLP: Bool, bytesPerParameter: Int, layerOps: [DenseOp], iterationOps: [DenseOp], file: String = "") {
        self.name = name
        self.hidden = hidden
        self.ffn = ffn
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads
        self.vocab = vocab
        self.gatedMLP = gatedMLP
        self.bytesPerParameter = bytesPerParameter
        self.layerOps = layerOps
        self.iterationOps = iterationOps
        self.file = file
    }

    public var headDim: Int { hidden / heads }
    /// Width of K (or V) over all KV heads.
    public var kvWidth: Int { kvHeads * headDim }
    /// Bytes of KV cache one token takes: K and V in every layer.
    public var kvBytesPerToken: Int { 2 * layers * kvWidth * bytesPerParameter }

    /// Parameters: per layer the QKV and output projections, the MLP (gate, up, down when gated)
    /// and two norms; the embedding, the LM head (untied) and the final norm.
    public var parameters: Int {
        let attn = hidden * (hidden + 2 * kvWidth) + hidden * hidden
        let mlp = (gatedMLP ? 3 : 2) * hidden * ffn
        return layers * (attn + mlp + 2 * hidden) + 2 * vocab * hidden + hidden
    }

    public var weightBytes: Int { parameters * bytesPerParameter }

    /// Loads a model file (`display` names it in errors).
    public static func load(path: String, display: String? = nil) throws -> LLMModel {
        let root = try SettingsNode.load(path: path, display: display)
        var m = try SettingsMap(root, "an LLM description (a mapping with schema, name, hidden, ffn, layers, ...)")
        let schema = try m.string("schema", "the schema identifier \(schemaIdentifier)")
        guard schema == schemaIdentifier else {
            throw m.node.error("unsupported schema '\(schema)'; expected \(schemaIdentifier)")
        }
        let name = try m.string("name", "the model's name")
        _ = try m.string("source", "where the dimensions come from")
        let hidden = try m.int("hidden", "the hidden size", 1...1 << 20)
        let ffn = try m.int("ffn", "the MLP inner size", 1...1 << 22)
        let layers = try m.int("layers", "the number of decoder layers", 1...10_000)
        let headsNode = try m.required("heads", "the number of attention heads")
        let heads = try SettingsMap.int(headsNode, "the number of attention heads", 1...hidden)
        guard hidden % heads == 0 else { throw headsNode.error("heads \(heads) must divide hidden \(hidden)") }
        let kvNode = try m.required("kv_heads", "the number of key/value heads")
        let kvHeads = try SettingsMap.int(kvNode, "the number of key/value heads", 1...heads)
        guard heads % kvHeads == 0 else { throw kvNode.error("kv_heads \(kvHeads) must divide heads \(heads)") }
        let vocab = try m.int("vocab", "the vocabulary size", 1...1 << 24)
        guard let gated = try m.optionalBool("gated_mlp", "whether the MLP is gated (SwiGLU)") else {
            throw SettingsError(file: root.file, keyPath: "gated_mlp", message: "missing: expected true or false")
        }
        let bpp = try m.int("bytes_per_parameter", "bytes per weight (2 for fp16/bf16)", 1...8)
        func ops(_ key: String, _ what: String) throws -> [DenseOp] {
            let list = try SettingsMap.list(try m.required(key, what), what)
            return try list.map { n in
                let s = try SettingsMap.string(n, "an operation name")
                guard let op = DenseOp(rawValue: s) else {
                    throw n.error("unknown operation '\(s)'; expected one of: \(DenseOp.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return op
            }
        }
        let layerOps = try ops("layer_ops", "the operations of one layer")
        guard !layerOps.isEmpty else { throw SettingsError(file: root.file, keyPath: "layer_ops", message: "expected at least one operation") }
        let iterationOps = try ops("iteration_ops", "the operations run once per iteration")
        try m.finish(known: ["schema", "name", "source", "hidden", "ffn", "layers", "heads", "kv_heads", "vocab", "gated_mlp",
                             "bytes_per_parameter", "layer_ops", "iteration_ops"])
        return LLMModel(name: name, hidden: hidden, ffn: ffn, layers: layers, heads: heads, kvHeads: kvHeads, vocab: vocab,
                        gatedMLP: gated, bytesPerParameter: bpp, layerOps: layerOps, iterationOps: iterationOps,
                        file: root.file)
    }
}

/// A GPU's peak dense FP16 tensor throughput and the roofline efficiencies.
public struct GPUCompute: Sendable, Equatable {
    public static let schemaIdentifier = "gpusim-gpu-compute/1"
    public var flopsPerSecond: Double
    public var computeEfficiency: Double
    public var memoryEfficiency: Double

    public init(flopsPerSecond: Double, computeEfficiency: Double, memoryEfficiency: Double) {
        self.flopsPerSecond = flopsPerSecond
        self.computeEfficiency = computeEfficiency
        self.memoryEfficiency = memoryEfficiency
    }

    /// Reads the file and picks `gpu`'s entry (by its name or aliases).
    public static func load(path: String, gpu: GPUSpec, display: String? = nil) throws -> GPUCompute {
        let root = try SettingsNode.load(path: path, display: display)
        var m = try SettingsMap(root, "a GPU compute table (schema, roofline_efficiency, gpus)")
        let schema = try m.string("schema", "the schema identifier \(schemaIdentifier)")
        guard schema == schemaIdentifier else { throw m.node.error("unsupported schema '\(schema)'; expected \(schemaIdentifier)") }
        var eff = try SettingsMap(try m.required("roofline_efficiency", "{compute, memory, source}"), "{compute, memory, source}")
        let ce = try eff.double("compute", "the fraction of peak FLOPs reached", 0.01...1)
        let me = try eff.double("memory", "the fraction of HBM bandwidth reached", 0.01...1)
        _ = try eff.string("source", "where the efficiencies come from")
        try eff.finish(known: ["compute", "memory", "source"])
        let list = try SettingsMap.list(try m.required("gpus", "a list of {name, dense_fp16_tensor_flops, source}"), "GPUs")
        try m.finish(known: ["schema", "roofline_efficiency", "gpus"])
        let wanted = Set(gpu.allNames.map(GPUCatalog.normalize))
        var known: [String] = []
        for item in list {
            var g = try SettingsMap(item, "{name, dense_fp16_tensor_flops, source}")
            let name = try g.string("name", "a GPU name")
            let flops = try g.double("dense_fp16_tensor_flops", "peak dense FP16 tensor FLOP/s", 1e9...1e18)
            _ = try g.string("source", "where the figure comes from")
            try g.finish(known: ["name", "dense_fp16_tensor_flops", "source"])
            known.append(name)
            if wanted.contains(GPUCatalog.normalize(name)) {
                return GPUCompute(flopsPerSecond: flops, computeEfficiency: ce, memoryEfficiency: me)
            }
        }
        throw SettingsError(file: root.file, keyPath: "gpus",
                            message: "no entry for \(gpu.name); the file lists: \(known.joined(separator: ", "))")
    }
}
