// Dense-operation times from the Profiles module's measured cost model (Vidur profiles and
// calibration files), for one model on one GPU.

import Foundation
import Profiles

/// Op times from the measured cost model: measured medians, interpolated between measured token
/// counts, extrapolated or fitted elsewhere (see `Profiles.GPUCostModel`).
public struct MeasuredOpTimes: DenseOpTimes {
    public let gpu: String
    let model: GPUCostModel
    let shapes: [DenseOp: OpShape]

    /// The cost model of `gpu` from the profile directory `directory`, for `llm`'s dimensions (TP 1).
    public init(profiles directory: String, gpu: String, llm: LLMModel) throws {
        let cost = try MeasuredOpTimes.costModel(directory: directory, gpu: gpu)
        model = try cost.model(gpu: gpu)
        self.gpu = gpu
        let dims = ModelDims(hidden: llm.hidden, ffn: llm.ffn, gated: llm.gatedMLP, heads: llm.heads, kvHeads: llm.kvHeads)
        var shapes: [DenseOp: OpShape] = [:]
        for op in DenseOp.allCases where op.isProfiled {
            guard let o = Operation(rawValue: op.rawValue) else { continue }
            shapes[op] = try OpShape(op: o, dims: dims, tp: 1)
        }
        self.shapes = shapes
    }

    public func seconds(_ op: DenseOp, tokens: Int) throws -> Double {
        guard let shape = shapes[op] else {
            throw ProfileError(message: "operation \(op.rawValue) has no measured profile")
        }
        return try model.predict(shape: shape, tokens: max(tokens, 1)).ms * 1e-3
    }

    public var source: String { "measured cost model (Profiles), \(model.device.name)" }

    // One fitted cost model per (directory, GPU) per process: fitting reads every profile.
    nonisolated(unsafe) static var cache: [String: CostModel] = [:]
    static let lock = NSLock()

    static func costModel(directory: String, gpu: String) throws -> CostModel {
        let key = directory + "\u{0}" + gpu.lowercased()
        lock.lock()
        defer { lock.unlock() }
        if let m = cache[key] { return m }
        let set = try ProfileSet.load(directory: directory)
        let m = try CostModel(profiles: set, only: [gpu])
        cache[key] = m
        return m
    }
}
