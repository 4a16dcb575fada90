// Operation times for the MoE serving loop.
//
// `MoECostModel` is the small interface the loop needs: the time of one operation (in Vidur's
// vocabulary, plus plain GEMMs for the router, the LM head and MLA's projections) at a token
// count on a GPU. `ProfileScaledCostModel` answers from Vidur's measured profiles: exactly where
// a profile has the shape on the GPU (a Mixtral expert is Llama-3-8B's MLP), and otherwise by
// scaling the nearest measured operation by the ratio of roofline times (FLOPs over peak
// tensor throughput, bytes over memory bandwidth) — across shapes and across GPUs (the RTX 3090
// has no profile: its times are the A100's, scaled; an estimate, reported as such).
// The attention score/softmax part has no profile at all: `attentionCoreSeconds` is a roofline
// estimate (FLOPs and KV-cache bytes over the GPU's peaks, at a fixed efficiency).

import Foundation
import Hardware
import Profiles
import Traces

/// An operation whose time the MoE loop needs.
public enum MoEOpKind: String, Sendable, Hashable, CaseIterable {
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
    /// A plain GEMM [tokens × k]·[k × n] (router, LM head, MLA projections): no profile column of
    /// its own; scaled from attn_pre_proj.
    case gemm
}

/// An operation's shape: the model dimensions its cost depends on.
public struct MoEOpShape: Sendable, Hashable, CustomStringConvertible {
    public var kind: MoEOpKind
    public var hidden: Int
    public var ffn: Int
    public var gated: Bool
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    /// For `.gemm`: output and inner dimensions.
    public var n: Int
    public var k: Int

    public init(kind: MoEOpKind, hidden: Int, ffn: Int = 0, gated: Bool = true, heads: Int = 0, kvHeads: Int = 0,
                headDim: Int = 0, n: Int = 0, k: Int = 0) {
        self.kind = kind; self.hidden = hidden; self.ffn = ffn; self.gated = gated
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim; self.n = n; self.k = k
    }

    public static func gemm(n: Int, k: Int) -> MoEOpShape { MoEOpShape(kind: .gemm, hidden: k, n: n, k: k) }

    public var description: String {
        switch kind {
        case .gemm: return "gemm n=\(n) k=\(k)"
        case .mlpUpProj, .mlpDownProj, .mlpAct: return "\(kind.rawValue) (hidden \(hidden), ffn \(ffn)\(gated ? ", gated" : ""))"
        case .attnPreProj, .attnPostProj, .attnRope:
            return "\(kind.rawValue) (hidden \(hidden), \(heads) heads, \(kvHeads) kv heads, head dim \(headDim))"
        default: return "\(kind.rawValue) (hidden \(hidden))"
        }
    }

    /// The GEMM [T × k]·[k × n] this operation is, if it is one.
    var gemmDims: (n: Int, k: Int)? {
        switch kind {
        case .attnPreProj: return ((heads + 2 * kvHeads) * headDim, hidden)
        case .attnPostProj: return (hidden, heads * headDim)
        case .mlpUpProj: return ((gated ? 2 : 1) * ffn, hidden)
        case .mlpDownProj: return (hidden, ffn)
        case .gemm: return (n, k)
        default: return nil
        }
    }

    /// FLOPs at `tokens`.
    public func flops(tokens t: Int) -> Double {
        guard let g = gemmDims else { return 0 }
        return 2 * Double(t) * Double(g.n) * Double(g.k)
    }

    /// Bytes moved at `tokens` (2-byte elements, each tensor once).
    public func bytes(tokens t: Int) -> Double {
        let T = Double(t), h = Double(hidden)
        if let g = gemmDims {
            let n = Double(g.n), k = Double(g.k)
            return 2 * (T * k + k * n + T * n)
        }
        switch kind {
        case .mlpAct: return 2 * T * Double(ffn) * (gated ? 3 : 2)
        case .inputLayernorm, .postAttentionLayernorm: return 2 * (2 * T * h + h)
        case .add: return 2 * 3 * T * h
        case .emb: return 2 * 2 * T * h
        case .attnRope: return 2 * 2 * T * Double((heads + kvHeads) * headDim)
        default: return 0
        }
    }
}

/// The time of one operation at a token count on a GPU.
public protocol MoECostModel: Sendable {
    /// Seconds for `shape` at `tokens` on `gpu`.
    func seconds(_ shape: MoEOpShape, tokens: Int, gpu: GPUSpec) throws -> Double
    /// How `seconds` gets its figure for this shape and GPU ("measured: ...", "scaled: ...").
    func provenance(_ shape: MoEOpShape, gpu: GPUSpec) throws -> String
    /// Roofline estimate of attention's score and value products for one query token against
    /// `context` keys, one layer (no profile has it).
    func attentionCoreSeconds(flops: Double, kvBytes: Double, gpu: GPUSpec) throws -> Double
}

/// Peak FP16 tensor throughput per GPU (Traces/moe/gpu-compute.yaml) and which Vidur profile
/// folder was measured on it.
public struct GPUComputeTable: Sendable {
    public struct Entry: Sendable { public var tflops: Double; public var vidurFolder: String?; public var source: String }
    public let entries: [(name: String, entry: Entry)]
    public let file: String

    public static func load(path: String) throws -> GPUComputeTable {
        let file = (path as NSString).lastPathComponent
        let r = try YAMLMap(try composeYAML(try readTextFile(path), file: file), path: "", file: file)
        let schema = try r.string("schema")
        guard schema == "gpusim-moe-gpu-compute/1" else { throw r.error("schema", "expected 'gpusim-moe-gpu-compute/1', got '\(schema)'") }
        let g = try r.map("gpus")
        var out: [(String, Entry)] = []
        for k in g.keys {
            let m = try g.map(k)
            out.append((k, Entry(tflops: try m.double("fp16_tensor_tflops", min: 0, minExclusive: true),
                                 vidurFolder: try m.optionalString("vidur_profiles"), source: try m.string("source"))))
            try m.finish(known: ["fp16_tensor_tflops", "vidur_profiles", "source"])
        }
        try r.finish(known: ["schema", "gpus"])
        return GPUComputeTable(entries: out, file: file)
    }

    init(entries: [(String, Entry)], file: String) { self.entries = entries.map { (name: $0.0, entry: $0.1) }; self.file = file }

    public func entry(for gpu: GPUSpec) throws -> Entry {
        let names = gpu.allNames.map(GPUCatalog.normalize)
        if let e = entries.first(where: { names.contains(GPUCatalog.normalize($0.name)) }) { return e.entry }
        throw MoEConfigError(file: file, keyPath: "gpus", message: "no peak FP16 throughput for GPU '\(gpu.name)' (known: \(entries.map(\.name).joined(separator: ", ")))")
    }
}

/// Vidur profiles, exact where the shape was measured on the GPU, scaled by roofline ratio otherwise.
public final class ProfileScaledCostModel: MoECostModel, @unchecked Sendable {
    /// One measured profile: its dims and, per operation, (tokens, ms) sorted by tokens.
    struct Table {
        var folder: String
        var gpuFolder: String
        var hidden: Int, ffn: Int, gated: Bool, heads: Int, kvHeads: Int
        var series: [MoEOpKind: [(tokens: Int, ms: Double)]]
    }

    let computeTable: GPUComputeTable
    let profileRoot: String
    /// The GPU whose profiles stand in for GPUs that have none.
    let referenceGPUName: String
    /// Profile folders (model names) to use as references, in order of preference.
    let referenceModels: [String]
    /// Efficiency assumed for the attention-core roofline (fraction of peak bandwidth / FLOPs).
    public let attentionEfficiency: Double
    private var tables: [String: [Table]] = [:]   // by vidur GPU folder
    private let lock = NSLock()

    /// - Parameters:
    ///   - profileRoot: folder holding `<gpu>/<ORG_MODEL>/mlp.csv[.zst]` (Traces/profiles/vidur).
    ///   - computeTable: peak FLOPs per GPU and each GPU's Vidur folder.
    ///   - referenceGPU: the GPU whose profiles are scaled for GPUs without any (A100-SXM4-80GB).
    public init(profileRoot: String, computeTable: GPUComputeTable, referenceGPU: String = "A100-SXM4-80GB",
                referenceModels: [String] = ["meta-llama_Meta-Llama-3-8B", "meta-llama_Llama-2-7b-hf"],
                attentionEfficiency: Double = 0.7) {
        self.profileRoot = profileRoot
        self.computeTable = computeTable
        self.referenceGPUName = referenceGPU
        self.referenceModels = referenceModels
        self.attentionEfficiency = attentionEfficiency
    }

    /// The default data: Traces/profiles/vidur and Traces/moe/gpu-compute.yaml under `dataRoot`.
    public convenience init(dataRoot: URL) throws {
        self.init(profileRoot: dataRoot.appendingPathComponent("profiles/vidur").path,
                  computeTable: try GPUComputeTable.load(path: dataRoot.appendingPathComponent("moe/gpu-compute.yaml").path))
    }

    private func loadTables(_ gpuFolder: String) throws -> [Table] {
        lock.lock(); defer { lock.unlock() }
        if let t = tables[gpuFolder] { return t }
        var out: [Table] = []
        for model in referenceModels {
            let dir = (profileRoot as NSString).appendingPathComponent("\(gpuFolder)/\(model)")
            let candidates = ["mlp.csv.zst", "mlp.csv.gz", "mlp.csv"].map { (dir as NSString).appendingPathComponent($0) }
            guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else { continue }
            let f = try VidurFile.load(path: path)
            var t: Table? = nil
            for row in f.rows where row.tp == 1 {
                if t == nil {
                    t = Table(folder: model, gpuFolder: gpuFolder, hidden: row.dims.hidden, ffn: row.dims.ffn, gated: row.dims.gated,
                              heads: row.dims.heads ?? 0, kvHeads: row.dims.kvHeads ?? row.dims.heads ?? 0, series: [:])
                }
                for (op, ms) in row.medians {
                    guard let kind = MoEOpKind(rawValue: op.rawValue) else { continue }
                    t!.series[kind, default: []].append((row.tokens, ms))
                }
            }
            if var t {
                for (k, s) in t.series {
                    // Sorted by tokens; repeated token counts averaged.
                    let sorted = s.sorted { $0.tokens < $1.tokens }
                    var merged: [(tokens: Int, ms: Double)] = []
                    var i = 0
                    while i < sorted.count {
                        var j = i, sum = 0.0
                        while j < sorted.count && sorted[j].tokens == sorted[i].tokens { sum += sorted[j].ms; j += 1 }
                        merged.append((sorted[i].tokens, sum / Double(j - i)))
                        i = j
                    }
                    t.series[k] = merged
                }
                out.append(t)
            }
        }
        tables[gpuFolder] = out
        return out
    }

    /// Piecewise-linear interpolation in tokens; beyond the last point, linear in tokens from the
    /// last two points (never below the last point).
    static func interpolate(_ s: [(tokens: Int, ms: Double)], _ t: Int) -> Double {
        if s.count == 1 { return s[0].ms }
        if t <= s[0].tokens { return s[0].ms }
        var lo = 0, hi = s.count - 1
        if t >= s[hi].tokens {
            let a = s[hi - 1], b = s[hi]
            let slope = (b.ms - a.ms) / Double(b.tokens - a.tokens)
            return max(b.ms, b.ms + slope * Double(t - b.tokens))
        }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if s[mid].tokens <= t { lo = mid } else { hi = mid }
        }
        let a = s[lo], b = s[hi]
        return a.ms + (b.ms - a.ms) * Double(t - a.tokens) / Double(b.tokens - a.tokens)
    }

    /// The same operation kind on a table's shape (for scaling).
    func referenceShape(_ shape: MoEOpShape, table t: Table) -> (MoEOpKind, MoEOpShape) {
        let kind: MoEOpKind = shape.kind == .gemm ? .attnPreProj : shape.kind
        let headDim = t.heads > 0 ? t.hidden / t.heads : 128
        return (kind, MoEOpShape(kind: kind, hidden: t.hidden, ffn: t.ffn, gated: t.gated, heads: t.heads, kvHeads: t.kvHeads, headDim: headDim))
    }

    func isExact(_ shape: MoEOpShape, _ t: Table) -> Bool {
        let headDim = t.heads > 0 ? t.hidden / t.heads : 0
        switch shape.kind {
        case .gemm: return false
        case .mlpUpProj, .mlpDownProj, .mlpAct: return shape.hidden == t.hidden && shape.ffn == t.ffn && shape.gated == t.gated
        case .attnPreProj, .attnPostProj, .attnRope:
            return shape.hidden == t.hidden && shape.heads == t.heads && shape.kvHeads == t.kvHeads && shape.headDim == headDim
        default: return shape.hidden == t.hidden
        }
    }

    func roofline(_ shape: MoEOpShape, tokens: Int, gpu: GPUSpec) throws -> Double {
        let peak = try computeTable.entry(for: gpu).tflops * 1e12
        return max(shape.flops(tokens: tokens) / peak, shape.bytes(tokens: tokens) / gpu.memory.bandwidthBytesPerSecond)
    }

    /// The table to use for `gpu`: its own profiles, or the reference GPU's (scaled).
    private func tablesFor(_ gpu: GPUSpec) throws -> (tables: [Table], own: Bool) {
        if let folder = try computeTable.entry(for: gpu).vidurFolder {
            let t = try loadTables(folder)
            if !t.isEmpty { return (t, true) }
        }
        guard let ref = computeTable.entries.first(where: { GPUCatalog.normalize($0.name) == GPUCatalog.normalize(referenceGPUName) }),
              let folder = ref.entry.vidurFolder else {
            throw MoEConfigError(file: computeTable.file, keyPath: "gpus.\(referenceGPUName)", message: "the reference GPU has no vidur_profiles folder")
        }
        let t = try loadTables(folder)
        guard !t.isEmpty else {
            throw MoEConfigError(file: profileRoot, keyPath: "", message: "no Vidur profile of \(referenceModels.joined(separator: " or ")) under \(folder)/")
        }
        return (t, false)
    }

    private var referenceSpecCache: GPUSpec? = nil
    /// Set by the caller that resolves GPU names (the reference GPU's spec, for scaling).
    public var referenceSpec: GPUSpec? {
        get { lock.lock(); defer { lock.unlock() }; return referenceSpecCache }
        set { lock.lock(); referenceSpecCache = newValue; lock.unlock() }
    }

    public func seconds(_ shape: MoEOpShape, tokens: Int, gpu: GPUSpec) throws -> Double {
        let (ts, own) = try tablesFor(gpu)
        if own, let t = ts.first(where: { isExact(shape, $0) }), let s = t.series[shape.kind] {
            return ProfileScaledCostModel.interpolate(s, tokens) * 1e-3
        }
        let t = ts[0]
        let (kind, refShape) = referenceShape(shape, table: t)
        guard let s = t.series[kind] else {
            throw MoEConfigError(file: profileRoot, keyPath: "", message: "profile \(t.gpuFolder)/\(t.folder) has no \(kind.rawValue) column")
        }
        let refGPU: GPUSpec
        if own { refGPU = gpu } else {
            guard let r = referenceSpec else {
                throw MoEConfigError(file: profileRoot, keyPath: "", message: "no reference GPU spec set for scaling profiles to \(gpu.name)")
            }
            refGPU = r
        }
        let measured = ProfileScaledCostModel.interpolate(s, tokens) * 1e-3
        let ratio = try roofline(shape, tokens: tokens, gpu: gpu) / roofline(refShape, tokens: tokens, gpu: refGPU)
        // No scaled kernel is faster than the fastest kernel the profile measured (launch floor).
        let floor = t.series.values.compactMap { $0.first?.ms }.min() ?? 0
        return max(measured * ratio, floor * 1e-3)
    }

    public func provenance(_ shape: MoEOpShape, gpu: GPUSpec) throws -> String {
        let (ts, own) = try tablesFor(gpu)
        if own, let t = ts.first(where: { isExact(shape, $0) }), t.series[shape.kind] != nil {
            return "measured: Vidur \(t.gpuFolder)/\(t.folder) \(shape.kind.rawValue), interpolated in tokens"
        }
        let t = ts[0]
        let (kind, _) = referenceShape(shape, table: t)
        let across = own ? "" : " and from \(referenceGPUName) to \(gpu.name) (estimate: no profile for this GPU)"
        return "scaled: Vidur \(t.gpuFolder)/\(t.folder) \(kind.rawValue) × roofline ratio (FLOPs/peak, bytes/bandwidth) to \(shape)\(across), at least the profile's fastest kernel"
    }

    public func attentionCoreSeconds(flops: Double, kvBytes: Double, gpu: GPUSpec) throws -> Double {
        let peak = try computeTable.entry(for: gpu).tflops * 1e12
        return max(flops / peak, kvBytes / gpu.memory.bandwidthBytesPerSecond) / attentionEfficiency
    }
}

/// A pure roofline model (no profile): FLOPs over peak and bytes over bandwidth at fixed
/// efficiencies, plus a fixed launch cost per operation. For tests and GPUs without profiles
/// when no profile can be scaled; every figure is an estimate.
public struct RooflineCostModel: MoECostModel {
    public var peakFLOPs: [String: Double]
    public var computeEfficiency: Double
    public var memoryEfficiency: Double
    public var launchSeconds: Double

    public init(peakFLOPs: [String: Double], computeEfficiency: Double = 0.7, memoryEfficiency: Double = 0.8,
                launchSeconds: Double = 5e-6) {
        self.peakFLOPs = peakFLOPs
        self.computeEfficiency = computeEfficiency
        self.memoryEfficiency = memoryEfficiency
        self.launchSeconds = launchSeconds
    }

    func peak(_ gpu: GPUSpec) throws -> Double {
        for n in gpu.allNames { if let p = peakFLOPs[n] { return p } }
        throw MoEConfigError(file: "roofline", keyPath: "", message: "no peak FLOPs for GPU '\(gpu.name)'")
    }

    public func seconds(_ shape: MoEOpShape, tokens: Int, gpu: GPUSpec) throws -> Double {
        let c = shape.flops(tokens: tokens) / (try peak(gpu) * computeEfficiency)
        let m = shape.bytes(tokens: tokens) / (gpu.memory.bandwidthBytesPerSecond * memoryEfficiency)
        return launchSeconds + max(c, m)
    }

    public func provenance(_ shape: MoEOpShape, gpu: GPUSpec) throws -> String {
        "estimate: roofline (compute efficiency \(computeEfficiency), memory efficiency \(memoryEfficiency), launch \(launchSeconds) s)"
    }

    public func attentionCoreSeconds(flops: Double, kvBytes: Double, gpu: GPUSpec) throws -> Double {
        max(flops / (try peak(gpu) * computeEfficiency), kvBytes / (gpu.memory.bandwidthBytesPerSecond * memoryEfficiency))
    }
}
