import Foundation
import Hardware
import SimCore
import Tenancy
import XCTest
@testable import Multitask

/// The repository root (this file is Tests/MultitaskTests/TestSupport.swift).
let repositoryRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

let catalog: GPUCatalog = try! GPUCatalog(path: repositoryRoot + "/Traces/hardware")
let a100 = try! catalog.spec(named: "A100-SXM4-80GB")

/// A kernel that needs every SM of `spec` for one wave and takes `ms` alone on the whole GPU.
func fullKernel(_ ms: Double, on spec: GPUSpec = a100, dramBytes: Double = 0) -> TenantOp {
    .kernel(KernelWork(ctas: spec.smCount, ctasPerSM: 1, isolatedSeconds: ms * 1e-3, dramBytes: dramBytes))
}

/// A tenant that submits a fixed script: item i goes to its stream at its time. Reports, per
/// item, `submitted_i` and `done_i` in ns.
struct ScriptTenant: Tenant {
    struct Item { var at: SimTime; var stream: Int; var op: TenantOp }
    let descriptor: TenantDescriptor
    let items: [Item]
    var submittedAt: [Int64]
    var doneAt: [Int64]
    var done = 0

    init(_ name: String, priority: PriorityClass = .bestEffort, streams: Int = 1, footprintGiB: Double = 1,
         items: [Item]) {
        descriptor = TenantDescriptor(name: name, kind: "script", memoryFootprintBytes: Int(footprintGiB * Double(1 << 30)),
                                      priority: priority, streams: streams)
        self.items = items
        submittedAt = Array(repeating: -1, count: items.count)
        doneAt = Array(repeating: -1, count: items.count)
    }

    /// `count` copies of `op` on stream 0, all submitted at `at`.
    init(_ name: String, priority: PriorityClass = .bestEffort, footprintGiB: Double = 1, repeating op: TenantOp,
         count: Int, at: SimTime = .zero) {
        self.init(name, priority: priority, footprintGiB: footprintGiB,
                  items: Array(repeating: Item(at: at, stream: 0, op: op), count: count))
    }

    mutating func start(_ c: inout TenantContext) {
        for (i, item) in items.enumerated() { c.setTimer(at: item.at, token: Int64(i)) }
    }
    mutating func timer(token: Int64, _ c: inout TenantContext) {
        let i = Int(token)
        submittedAt[i] = c.now.nanoseconds
        c.submit(items[i].op, stream: items[i].stream, token: token)
    }
    mutating func completed(stream: Int, token: Int64, _ c: inout TenantContext) {
        doneAt[Int(token)] = c.now.nanoseconds
        done += 1
    }
    var isFinished: Bool { done == items.count }
    func performance(end: SimTime) -> Double? { end > .zero ? Double(items.count) / end.seconds : nil }
    func report(end: SimTime, into r: inout TenantReport) {
        for i in items.indices {
            r.add("submitted_\(i)", Double(submittedAt[i]))
            r.add("done_\(i)", Double(doneAt[i]))
        }
    }
}

extension EngineOutcome {
    /// `done_i − submitted_i` of a script tenant, ns.
    func latency(_ tenant: String, _ i: Int) -> Int64 {
        Int64(metric(tenant, "done_\(i)")!) - Int64(metric(tenant, "submitted_\(i)")!)
    }
    func done(_ tenant: String, _ i: Int) -> Int64 { Int64(metric(tenant, "done_\(i)")!) }
}

func runScripts<P: SharingPolicy>(_ tenants: [ScriptTenant], _ policy: P, spec: GPUSpec = a100,
                                  memory: MemoryMode = .fixed) throws -> EngineOutcome {
    try SharingEngine.run(spec: spec, tenants: TenantArray(tenants), policy: policy, memory: memory,
                          options: EngineOptions(checkInvariants: true))
}

/// Parses config sections written as one YAML document {hardware, workload, parameters}, with
/// paths relative to the repository root.
func parseConfig(_ yaml: String, policy: String, file: String = "test.yaml") throws -> MultitaskConfig {
    let root = try SettingsNode.parse(yaml: yaml, file: file)
    var m = try SettingsMap(root, "sections")
    let hw = m.optional("hardware") ?? .emptyMap(file: file, path: "hardware")
    let wl = m.optional("workload") ?? .emptyMap(file: file, path: "workload")
    let pm = m.optional("parameters") ?? .emptyMap(file: file, path: "parameters")
    try m.finish(known: ["hardware", "workload", "parameters"])
    return try MultitaskConfig.parse(hardware: hw, workload: wl, parameters: pm, policy: policy,
                                     policyNode: SettingsNode(.string(policy), file: file, path: "policies[0]"),
                                     baseDirectory: repositoryRoot, file: file)
}

/// A one-layer model whose iteration time is easy to compute by hand with ``LinearOpTimes``.
func toyModel() -> LLMModel {
    LLMModel(name: "toy", hidden: 1024, ffn: 4096, layers: 1, heads: 8, kvHeads: 8, vocab: 1000, gatedMLP: false,
             bytesPerParameter: 2, layerOps: [.mlpUpProj], iterationOps: [])
}

/// An inference tenant of the toy model: each iteration takes `fixedMs + perTokenMs · tokens`.
func toyInference(_ name: String, requests: RequestList, fixedMs: Double, perTokenMs: Double, maxBatch: Int,
                  kvTokens: Int = 1_000_000, priority: PriorityClass = .latencyCritical, slo: TenantSLO = .none,
                  spec: GPUSpec = a100) -> InferenceTenant {
    let ops = LinearOpTimes(fixed: [.mlpUpProj: fixedMs * 1e-3], perToken: [.mlpUpProj: perTokenMs * 1e-3])
    let cost = ServingCost(model: toyModel(), spec: spec,
                           compute: GPUCompute(flopsPerSecond: 312e12, computeEfficiency: 1, memoryEfficiency: 1),
                           ops: ops, granularity: .iteration)
    let d = TenantDescriptor(name: name, kind: "inference", memoryFootprintBytes: 1 << 30, priority: priority, slo: slo)
    return InferenceTenant(descriptor: d, cost: cost, requests: requests, maxBatch: maxBatch, maxTokens: 1 << 20,
                           kvCapacityTokens: kvTokens)
}

func requestList(_ items: [(ms: Double, input: Int, output: Int)]) -> RequestList {
    var l = RequestList()
    for i in items { l.append(arrivalNs: Int64((i.ms * 1e6).rounded()), input: i.input, output: i.output) }
    return l
}
