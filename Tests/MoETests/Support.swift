import Foundation
import XCTest
import Hardware
@testable import MoE

enum Fixture {
    /// The repository root (two levels above this file's folder).
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let data: URL = root.appendingPathComponent("Traces")

    nonisolated(unsafe) static var envStorage: MoEEnvironment? = nil
    static let lock = NSLock()
    static func environment() throws -> MoEEnvironment {
        lock.lock(); defer { lock.unlock() }
        if let e = envStorage { return e }
        let e = try MoEEnvironment(dataRoot: data)
        envStorage = e
        return e
    }

    static func tmp(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("moe-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    static func generator(_ model: String) -> String {
        data.appendingPathComponent("moe/generators/\(model).yaml").path
    }

    /// A generator parameter file for `model` with short requests (tests stay fast).
    static func smallGenerator(model: String, name: String, rho: Double = 0.1, seed: Int = 7) throws -> String {
        let text = """
        schema: gpusim-moe-generator/1
        model: \(model)
        structure_seed: \(seed)
        embedding_dim: 8
        topics: 4
        topic_zipf: 0.5
        embedding_noise: 0.5
        temperature: 1.0
        popularity_sigma: 0.3
        topic_sigma: 0.6
        request_sigma: 0.4
        request_free_sigma: 0.2
        cross_layer: 1.0
        token_sigma: 1.2
        token_rho: \(rho)
        drift: 0.3
        input_tokens: {mean: 6, cv: 0.5, max: 12}
        output_tokens: {mean: 6, cv: 0.5, max: 12}
        arrival_rate: 2.0
        """
        let path = tmp(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func config(model: String = "Mixtral-8x7B", generator: String, policy: String, budgetGB: Double = 6,
                       gpu: String = "A100-SXM4-80GB", gpus: Int = 1, warm: Int = 0, test: Int = 4) -> MoERunConfig {
        var c = MoERunConfig(model: model, gpu: gpu, expertCacheGB: budgetGB, policy: policy,
                             workload: .generator(path: generator), testRequests: test)
        c.gpus = gpus
        c.warmRequests = warm
        return c
    }
}

/// Builds a routing trace byte by byte (independently of RoutingTraceWriter), for bad-input tests.
struct TraceBytes {
    var bytes: [UInt8] = []
    init(header: String) { bytes = Array((header + "\n").utf8) }
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes.append(UInt8(v & 0xFF)); bytes.append(UInt8(v >> 8)) }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
    mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8((v >> (8 * UInt64(i))) & 0xFF)) } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func request(id: UInt64, arrival: Int64, input: UInt32, output: UInt32, embedding: [Float]) {
        u8(0x52); u64(id); u64(UInt64(bitPattern: arrival)); u32(input); u32(output)
        for x in embedding { f32(x) }
    }
    mutating func end(_ n: UInt64) { u8(0x45); u64(n) }
    func write(_ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
}

/// A cost model with fixed times: each expert FFN op, each other op, the attention core.
struct FixedCostModel: MoECostModel {
    var expertUpSeconds = 100e-6
    var otherSeconds = 0.0
    func seconds(_ shape: MoEOpShape, tokens: Int, gpu: GPUSpec) throws -> Double {
        switch shape.kind {
        case .mlpUpProj: return expertUpSeconds
        case .mlpAct, .mlpDownProj: return 0
        default: return otherSeconds
        }
    }
    func provenance(_ shape: MoEOpShape, gpu: GPUSpec) throws -> String { "fixed (test)" }
    func attentionCoreSeconds(flops: Double, kvBytes: Double, gpu: GPUSpec) throws -> Double { 0 }
}
