// The library entry point: a validated config and a seed in, metrics and request rows out.

import Foundation
import Hardware
import SimCore
import Tenancy

/// What one run produced.
public struct MultitaskResult: Sendable {
    /// (tenant, name, value); GPU-wide metrics under tenant "gpu".
    public var metrics: [MetricRow]
    public var requests: [RequestRow]
    /// Simulator events handled (the shared run only, not the isolated baselines).
    public var events: Int
    public var end: SimTime

    public func metric(_ tenant: String, _ name: String) -> Double? {
        metrics.first { $0.tenant == tenant && $0.name == name }?.value
    }
}

/// Runs one multitask configuration.
///
/// ```swift
/// let config = try MultitaskConfig.parse(hardware: h, workload: w, parameters: p, policy: "mps", ...)
/// let result = try MultitaskSimulation(config).run(seed: 1)
/// result.metric("gpu", "sm_utilisation")
/// ```
///
/// Besides the engine's metrics (per GPU: makespan, SM and HBM utilisation, context switches,
/// preemptions, bytes per link; per tenant: its own figures, SM and HBM share, preemptions...), it
/// reports each tenant's `normalised_progress` — its figure of merit shared over the same tenant
/// run alone on the whole GPU (iterations per second; 1 / mean request latency) — and the GPU's
/// `jain_fairness` of those, (Σx)² / (n·Σx²). The isolated runs are cached per process.
public struct MultitaskSimulation: Sendable {
    public let config: MultitaskConfig
    public init(_ config: MultitaskConfig) { self.config = config }

    public func run(seed: UInt64) throws -> MultitaskResult {
        let tenants = try MultitaskSimulation.buildTenants(config, seed: seed)
        var options = EngineOptions(horizon: config.horizon, requests: config.requests)
        options.checkInvariants = false
        let outcome = try runEngine(tenants, policy: config.policy, options: options)
        var metrics = outcome.metrics
        if config.fairnessBaseline {
            var progress: [Double] = []
            for (i, t) in config.tenants.enumerated() {
                guard let shared = outcome.performance[i], let alone = try isolatedPerformance(i, seed: seed), alone > 0 else { continue }
                let x = shared / alone
                progress.append(x)
                metrics.append(MetricRow(tenant: t.name, name: "normalised_progress", value: x))
            }
            if !progress.isEmpty {
                let sum = progress.reduce(0, +), squares = progress.reduce(0) { $0 + $1 * $1 }
                metrics.append(MetricRow(tenant: "gpu", name: "jain_fairness", value: sum * sum / (Double(progress.count) * squares)))
            }
        }
        return MultitaskResult(metrics: metrics, requests: outcome.requests, events: outcome.events, end: outcome.end)
    }

    /// Runs the engine and turns tenant failures into errors.
    func runEngine(_ tenants: MultitaskTenants, policy: PolicyChoice, options: EngineOptions) throws -> EngineOutcome {
        let outcome: EngineOutcome
        do {
            outcome = try policy.run(spec: config.spec, tenants: tenants, memory: config.memory, options: options)
        } catch let e as TenancyError {
            throw SettingsError(file: config.file, keyPath: "", message: "\(policy.name) on \(config.spec.name): \(e)")
        }
        for row in outcome.metrics where row.name == "cost_failed" && row.value != 0 {
            throw SettingsError(file: config.file, keyPath: "", message: "tenant '\(row.tenant)': the cost model could not price an iteration")
        }
        return outcome
    }

    /// The figure of merit of tenant `i` alone on the whole GPU (cached per process).
    func isolatedPerformance(_ i: Int, seed: UInt64) throws -> Double? {
        var alone = config
        alone.tenants = [config.tenants[i]]
        alone.policy = .exclusive(ExclusivePolicy())
        let key = "\(MultitaskSimulation.identity(config.tenants[i]))|\(config.spec.name)|\(seed)|\(config.horizon?.nanoseconds ?? -1)|\(config.memory.name)"
        if let v = MultitaskSimulation.isolatedCache.get(key) { return v }
        let tenants = try MultitaskSimulation.buildTenants(alone, seed: seed)
        let outcome = try MultitaskSimulation(alone).runEngine(tenants, policy: alone.policy,
                                                               options: EngineOptions(horizon: config.horizon, requests: false))
        let v = outcome.performance[0]
        MultitaskSimulation.isolatedCache.set(key, v)
        return v
    }

    static func identity(_ t: TenantSettings) -> String { String(reflecting: t) }

    // MARK: building tenants

    /// The tenants of a config, with inputs (traces, profiles) loaded once per process.
    public static func buildTenants(_ config: MultitaskConfig, seed: UInt64) throws -> MultitaskTenants {
        let streams = RandomStreams(seed: seed)
        var out: [MultitaskTenant] = []
        for t in config.tenants {
            switch t {
            case .inference(let s):
                let requests: RequestList
                switch s.requests {
                case .trace(let path, let display, let limit, let scale):
                    requests = try inputs.value("requests|\(path)|\(limit ?? -1)|\(scale)") {
                        try RequestList.fromTrace(path: path, display: display, limit: limit, timeScale: scale)
                    }
                case .generator(let count, let rate, let cv, let input, let output):
                    requests = try RequestList.generated(count: count, rate: rate, cv: cv, input: input, output: output,
                                                         streams: streams, name: s.name)
                }
                let ops: MeasuredOpTimes = try inputs.value("ops|\(config.profilesDirectory)|\(config.spec.name)|\(s.modelPath)") {
                    do {
                        return try MeasuredOpTimes(profiles: config.profilesDirectory, gpu: config.spec.name, llm: s.model)
                    } catch {
                        throw SettingsError(file: config.file, keyPath: "parameters.profiles",
                                            message: "no measured profiles for \(s.model.name) on \(config.spec.name) in \(config.profilesDirectory): \(error)")
                    }
                }
                let compute: GPUCompute = try inputs.value("compute|\(config.gpuComputePath)|\(config.spec.name)") {
                    try GPUCompute.load(path: config.gpuComputePath, gpu: config.spec)
                }
                let cost = ServingCost(model: s.model, spec: config.spec, compute: compute, ops: ops, granularity: s.granularity)
                let d = TenantDescriptor(name: s.name, kind: "inference", memoryFootprintBytes: s.footprintBytes,
                                         priority: s.priority, slo: s.slo, streams: 1)
                out.append(.inference(InferenceTenant(descriptor: d, cost: cost, requests: requests, maxBatch: s.maxBatch,
                                                      maxTokens: s.maxTokens, kvCapacityTokens: s.kvCapacityTokens)))
            case .kineto(let s):
                let program: KinetoProgram
                if let g = s.generator {
                    program = KinetoProgram(generated: generateIteration(g, spec: config.spec, streams: streams, name: s.name), name: s.name)
                } else {
                    program = try inputs.value("kineto|\(s.path)|\(config.spec.name)|\(s.device ?? -1)") {
                        try KinetoProgram(path: s.path, display: s.display, spec: config.spec, device: s.device)
                    }
                }
                let d = TenantDescriptor(name: s.name, kind: s.kind, memoryFootprintBytes: s.memoryBytes, priority: s.priority,
                                         slo: .none, streams: program.streamOps.count)
                out.append(.kineto(KinetoTenant(descriptor: d, program: program, iterations: s.iterations,
                                                keepGaps: s.keepGaps, inferDependencies: s.inferDependencies)))
            }
        }
        return MultitaskTenants(out)
    }

    /// The kernels of a generated training iteration (stream "training/<name>" of the run's seed).
    static func generateIteration(_ g: GeneratedIteration, spec: GPUSpec, streams: RandomStreams, name: String) -> [KernelWork] {
        var rng = streams.stream("training/\(name)")
        return (0..<g.kernels).map { _ in
            let us = Double(g.kernelMicroseconds.sample(&rng))
            let ctas = g.ctas.sample(&rng)
            return KernelWork.withMemoryBoundFraction(g.memoryBoundFraction, ctas: ctas, ctasPerSM: g.ctasPerSM,
                                                      isolatedSeconds: us * 1e-6, hbmBytesPerSecond: spec.memory.bandwidthBytesPerSecond)
        }
    }

    /// Loaded inputs (traces, profiles), shared by the runs of one process.
    static let inputs = InputCache()
    static let isolatedCache = IsolatedCache()
}

/// A thread-safe memo of loaded inputs: each key computed once per process.
final class InputCache: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Any] = [:]

    func value<T>(_ key: String, _ make: () throws -> T) throws -> T {
        lock.lock()
        if let v = values[key] as? T { lock.unlock(); return v }
        lock.unlock()
        let v = try make()
        lock.lock()
        values[key] = v
        lock.unlock()
        return v
    }
}

final class IsolatedCache: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Double?] = [:]
    func get(_ key: String) -> Double?? {
        lock.lock(); defer { lock.unlock() }
        return values[key]
    }
    func set(_ key: String, _ v: Double?) {
        lock.lock(); defer { lock.unlock() }
        values[key] = v
    }
}
