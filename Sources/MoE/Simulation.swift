// The library entry point: `MoESimulation(config:).run(seed:) -> MoERunResult`.

import Foundation
import Hardware
import SimCore
import Traces

/// The data a run needs (model configs, GPU specs, the cost model), loaded once and shared.
public final class MoEEnvironment: @unchecked Sendable {
    public let dataRoot: URL
    public let models: MoEModelCatalog
    public let gpus: GPUCatalog
    public let costModel: any MoECostModel
    private var warmCache: [String: Any] = [:]
    private var costsCache: [String: MoEStepCosts] = [:]
    private let lock = NSLock()

    public init(dataRoot: URL, costModel: (any MoECostModel)? = nil) throws {
        self.dataRoot = dataRoot
        models = try MoEModelCatalog(dataRoot: dataRoot)
        gpus = try GPUCatalog(directory: dataRoot.appendingPathComponent("hardware"))
        if let costModel {
            self.costModel = costModel
        } else {
            let m = try ProfileScaledCostModel(dataRoot: dataRoot)
            m.referenceSpec = try gpus.spec(named: m.referenceGPUName)
            self.costModel = m
        }
    }

    /// The environment of the data root found from the current directory (or GPUSIM_DATA).
    public convenience init() throws {
        try self.init(dataRoot: try MoEData.defaultRoot())
    }

    func stepCosts(model: MoEModelConfig, gpu: GPUSpec) throws -> MoEStepCosts {
        let key = model.name + "|" + gpu.name
        lock.lock()
        if let c = costsCache[key] { lock.unlock(); return c }
        lock.unlock()
        let c = try MoEStepCosts(model: model, gpu: gpu, costModel: costModel)
        lock.lock(); costsCache[key] = c; lock.unlock()
        return c
    }

    func cachedWarm<P>(_ key: String, _ make: () throws -> P) rethrows -> P {
        lock.lock()
        if let p = warmCache[key] as? P { lock.unlock(); return p }
        lock.unlock()
        let p = try make()
        lock.lock(); warmCache[key] = p; lock.unlock()
        return p
    }
}

/// One metric of a run: (tenant, name, value), as the results store keeps them.
public struct MoEMetric: Sendable, Equatable {
    public var tenant: String
    public var name: String
    public var value: Double
}

public struct MoERunResult: Sendable {
    public var metrics: [MoEMetric]
    public var requests: [MoERequestRow]
    public var counters: MoECounters
    /// Events the simulator handled.
    public var events: Int

    public func metric(_ name: String) -> Double? { metrics.first { $0.name == name }?.value }
}

/// A configured MoE serving run.
public struct MoESimulation {
    public let config: MoERunConfig
    public let environment: MoEEnvironment
    public let model: MoEModelConfig
    public let gpu: GPUSpec
    public let tenant: String

    public init(config: MoERunConfig, environment: MoEEnvironment? = nil, tenant: String = "moe") throws {
        try config.validate()
        self.config = config
        self.environment = try environment ?? MoEEnvironment()
        self.tenant = tenant
        do { model = try self.environment.models.model(named: config.model) } catch let e as MoEConfigError {
            throw MoEConfigError(file: config.file, keyPath: "model", message: e.message)
        }
        do { gpu = try self.environment.gpus.spec(named: config.gpu) } catch {
            throw MoEConfigError(file: config.file, keyPath: "gpu", message: "\(error)")
        }
    }

    /// Expert slots per GPU for the budget.
    public func cacheSlots() throws -> [Int] {
        let G = config.gpus
        let total = Int((config.expertCacheGB * 1e9) / Double(model.expertBytes))
        var slots = (0..<G).map { total / G + ($0 < total % G ? 1 : 0) }
        // Each GPU must hold one layer's experts placed on it, or a layer could never run.
        var need = [Int](repeating: 0, count: G)
        for l in 0..<model.moeLayers {
            var c = [Int](repeating: 0, count: G)
            for e in 0..<model.experts { c[(l * model.experts + e) % G] += 1 }
            for g in 0..<G { need[g] = max(need[g], c[g]) }
        }
        if config.policy != "resident" {
            for g in 0..<G where slots[g] < need[g] {
                let minGB = Double(need.max()! * G) * Double(model.expertBytes) / 1e9
                throw MoEConfigError(file: config.file, keyPath: "expert_cache_gb",
                                     message: "\(config.expertCacheGB) GB holds \(total) expert(s) of \(String(format: "%.1f", Double(model.expertBytes) / 1e6)) MB over \(G) GPU(s); GPU \(g) needs room for \(need[g]) (one layer's experts on it): give at least \(String(format: "%.2f", minGB)) GB")
            }
        }
        let all = model.totalExperts
        for g in 0..<G { slots[g] = min(slots[g], (all - g + G - 1) / G) }
        // The budget must fit in GPU memory next to the dense weights (on GPU 0).
        let memory = gpu.memory.allocatableBytes
        for g in 0..<G {
            let bytes = (config.policy == "resident" ? (all - g + G - 1) / G : slots[g]) * model.expertBytes + (g == 0 ? model.denseBytes : 0)
            if bytes > memory {
                throw MoEConfigError(file: config.file, keyPath: config.policy == "resident" ? "policy" : "expert_cache_gb",
                                     message: "GPU \(g) would hold \(String(format: "%.1f", Double(bytes) / 1e9)) GB of weights (\(config.policy == "resident" ? "all its experts" : "its share of the expert cache")\(g == 0 ? " and the dense weights, \(String(format: "%.1f", Double(model.denseBytes) / 1e9)) GB" : "")) but a \(gpu.name) has \(String(format: "%.1f", Double(memory) / 1e9)) GB")
            }
        }
        return slots
    }

    func makeSource(seed: UInt64) throws -> (MoERequestSource, String) {
        switch config.workload {
        case .trace(let path):
            let r = try RoutingTraceReader(path: path)
            let h = r.header
            guard h.layers == model.moeLayers, h.experts == model.experts, h.topK == model.topK else {
                throw TraceError(file: path, location: .line(1),
                                 message: "the trace's model (\(h.layers) layers, \(h.experts) experts, top-\(h.topK)) does not match \(model.name) (\(model.moeLayers) MoE layers, \(model.experts) experts, top-\(model.topK))")
            }
            return (.trace(r), "trace:" + path)
        case .generator(let path):
            let p = try RoutingGeneratorParams.load(path: path)
            guard (try? environment.models.model(named: p.model))?.name == model.name else {
                throw MoEConfigError(file: path, keyPath: "model", message: "generator parameters are for '\(p.model)', the run is for \(model.name)")
            }
            let g = try RoutingGenerator(params: p, layers: model.moeLayers, experts: model.experts, topK: model.topK, seed: seed)
            return (.generator(g, RoutingRequestBuilder(layers: model.moeLayers, experts: model.experts, topK: model.topK)),
                    "generator:\(path):\(seed)")
        }
    }

    func arrivalTimes(seed: UInt64) throws -> MoEArrivals {
        switch config.arrivals {
        case .closed: return .closed(concurrency: config.maxBatch)
        case .trace: return .trace
        case .poisson(let rate):
            var rng = RandomStreams(seed: seed).stream("moe-arrivals")
            var t = 0.0
            var out: [Int64] = []
            for _ in 0..<config.testRequests {
                out.append(Int64((t * 1e9).rounded()))
                t += -log(rng.nextUnitDoubleOpenClosed()) / rate
            }
            return .times(out)
        case .requestTrace(let path, let rate):
            let r = try RequestTraceReader(path: path)
            var ts: [Int64] = []
            while ts.count < config.testRequests, let q = try r.next() { ts.append(q.arrivalNs) }
            guard ts.count == config.testRequests else {
                throw TraceError(file: path, location: .file, message: "holds \(ts.count) requests; the run needs \(config.testRequests)")
            }
            let span = Double(ts.last! - ts.first!)
            // Scale so that n requests span (n − 1)/rate seconds.
            let scale = ts.count > 1 && span > 0 ? Double(ts.count - 1) / rate * 1e9 / span : 1
            return .times(ts.map { Int64((Double($0 - ts[0]) * scale).rounded()) })
        }
    }

    /// Runs the configured requests. Same config, data and seed: byte-identical results.
    public func run(seed: UInt64) throws -> MoERunResult {
        let p = config.policyParams
        let L = model.moeLayers, E = model.experts, G = config.gpus
        switch config.policy {
        case "resident": return try run(ResidentPolicy(), seed: seed)
        case "ondemand-layer": return try run(OnDemandLayerPolicy(), seed: seed)
        case "lru":
            return try run(LRUPolicy(layers: L, experts: E, gpus: G, predictor: p.predictor, nextLayerAccuracy: p.nextLayerAccuracy),
                           seed: seed, warmKey: "lru|\(p.predictor.rawValue)|\(p.nextLayerAccuracy)")
        case "promoe":
            return try run(ProMoEPolicy(layers: L, experts: E, gpus: G, stride: p.stride, predictor: p.predictor, accuracy: p.strideAccuracy),
                           seed: seed, warmKey: "promoe|\(p.predictor.rawValue)|\(p.stride)|\(p.strideAccuracy)")
        case "moe-infinity":
            return try run(MoEInfinityPolicy(layers: L, experts: E, gpus: G, capacity: p.eamCapacity, coverage: p.coverage), seed: seed,
                           warmKey: "moe-infinity|\(p.eamCapacity)|\(p.coverage)")
        case "fmoe":
            let d = p.prefetchDistance ?? model.fmoePrefetchDistance
            let dim = try embeddingDim()
            return try run(FMoEPolicy(layers: L, experts: E, gpus: G, embeddingDim: dim, distance: d, capacity: p.storeCapacity),
                           seed: seed, warmKey: "fmoe|\(d)|\(p.storeCapacity)")
        case "oracle": return try run(OraclePolicy(totalExperts: L * E), seed: seed)
        default:
            throw MoEConfigError(file: config.file, keyPath: "policy", message: "unknown policy '\(config.policy)' (expected one of: \(MoERunConfig.policies.joined(separator: ", ")))")
        }
    }

    func embeddingDim() throws -> Int {
        switch config.workload {
        case .trace(let path): return try RoutingTraceReader(path: path).header.embeddingDim
        case .generator(let path): return try RoutingGeneratorParams.load(path: path).embeddingDim
        }
    }

    func run<P: OffloadPolicy>(_ fresh: P, seed: UInt64, warmKey: String? = nil) throws -> MoERunResult {
        var costs = try environment.stepCosts(model: model, gpu: gpu)
        let slots = try cacheSlots()
        var (source, sourceKey) = try makeSource(seed: seed)
        let rng = RandomStreams(seed: seed).stream("moe-policy")
        var core = ServingCore(model: model, gpus: config.gpus, capacity: slots, rng: rng)
        // Warm-up requests: learned by history-based policies, never simulated.
        var policy = fresh
        var warmList: [RoutingRequest] = []
        for _ in 0..<config.warmRequests {
            guard let r = try source.next() else {
                throw MoEConfigError(file: config.file, keyPath: "workload.warm_requests",
                                     message: "the workload ends after \(warmList.count) requests; \(config.warmRequests) warm-up requests asked")
            }
            if warmKey != nil { warmList.append(r) }
        }
        if let key = warmKey, !warmList.isEmpty {
            let full = "\(key)|\(model.name)|\(sourceKey)|\(config.warmRequests)|\(config.gpus)"
            var scratchCore = core
            policy = try environment.cachedWarm(full) { () throws -> P in
                var w = fresh
                for r in warmList { w.warm(r, core: &scratchCore) }
                return w
            }
        }
        warmList = []
        // Token counts an iteration can reach.
        let maxTokens: Int
        switch config.workload {
        case .generator(let path): maxTokens = try RoutingGeneratorParams.load(path: path).inputMax * config.maxBatch + config.maxBatch
        case .trace: maxTokens = 4096
        }
        try costs.ensure(tokens: min(maxTokens, 16_384))
        var fluid = FluidSystem()
        var gpuModels: [GPUModel] = []
        for g in 0..<config.gpus { gpuModels.append(GPUModel(spec: gpu, fluid: &fluid, name: "gpu\(g)")) }
        let server = MoEServer(policy: policy, core: core, costs: costs, gpus: gpuModels,
                               hostMemory: config.hostMemory == "pageable" ? .pageable : .pinned,
                               source: source, requests: config.testRequests, maxBatch: config.maxBatch,
                               arrivals: try arrivalTimes(seed: seed))
        core = server.core
        var sim = Simulator(handler: MoEStandaloneModel(server: server, fluid: fluid), reservingCapacity: 1024)
        try sim.handler.server.start(scheduler: &sim.scheduler)
        sim.run()
        if let e = sim.handler.error { throw e }
        let s = sim.handler.server
        guard s.isDone else {
            throw MoEConfigError(file: config.file, keyPath: "", message: "the run stalled at \(sim.now) with \(s.rows.count) of \(config.testRequests) requests done (a bug: please report it with the config)")
        }
        guard s.rows.count == config.testRequests else {
            throw MoEConfigError(file: config.file, keyPath: "workload.test_requests",
                                 message: "the workload ran out after \(s.rows.count) test requests; \(config.testRequests) asked")
        }
        return result(s, events: sim.scheduler.eventsHandled, end: sim.now)
    }

    func result<P>(_ s: MoEServer<P>, events: Int, end: SimTime) -> MoERunResult {
        let c = s.core.counters
        var m: [MoEMetric] = []
        func add(_ n: String, _ v: Double) { m.append(MoEMetric(tenant: tenant, name: n, value: v)) }
        add("requests", Double(s.rows.count))
        add("tokens", Double(s.tokens))
        for (name, d) in [("ttft", s.ttft), ("tpot", s.tpot), ("e2e", s.e2e)] {
            add("\(name)_mean_s", d.mean.seconds)
            add("\(name)_p50_s", d.percentile(50).seconds)
            add("\(name)_p90_s", d.percentile(90).seconds)
            add("\(name)_p99_s", d.percentile(99).seconds)
        }
        add("accesses", Double(c.accesses))
        add("hits", Double(c.hits))
        add("misses", Double(c.misses))
        add("hit_rate", c.accesses > 0 ? Double(c.hits) / Double(c.accesses) : 1)
        add("late_prefetch_misses", Double(c.latePrefetchMisses))
        add("demand_loads", Double(c.demandLoads))
        add("prefetches", Double(c.prefetches))
        add("useful_prefetches", Double(c.usefulPrefetches))
        if c.prefetches > 0 { add("prefetch_precision", Double(c.usefulPrefetches) / Double(c.prefetches)) }
        if c.accesses > 0 { add("prefetch_recall", Double(c.usefulPrefetches) / Double(c.accesses)) }
        add("evictions", Double(c.evictions))
        add("pcie_bytes", Double(c.pcieBytes))
        add("expert_bytes", Double(model.expertBytes))
        add("expert_cache_slots", Double(s.core.capacity.reduce(0, +)))
        let start = s.firstArrival ?? .zero
        add("expert_memory_avg_bytes", s.expertMemory.average(upTo: max(end, s.expertMemory.lastChange)))
        add("expert_memory_peak_bytes", s.expertMemory.maximum)
        add("stall_s", Double(c.stallNs) * 1e-9)
        add("iterations", Double(c.iterations))
        add("makespan_s", (s.lastFinish - start).seconds)
        return MoERunResult(metrics: m, requests: s.rows, counters: c, events: events)
    }
}
