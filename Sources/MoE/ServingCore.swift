// The state of an MoE serving loop that policies read: experts' residency, the current
// iteration's routing, the active requests, counters. The loop (MoEServer) mutates it.

import SimCore

/// Residency of one routed expert.
public enum ExpertState: UInt8, Sendable {
    case absent = 0, loading = 1, resident = 2
}

/// A request being served.
public struct ActiveRequest: Sendable {
    public var routing: RoutingRequest
    /// Iterations finished (0 before the prefill).
    public var iteration: Int
    public var arrival: SimTime
    public var firstToken: SimTime
    /// Tokens in context before the current iteration.
    public var context: Int { iteration == 0 ? 0 : routing.inputTokens + iteration - 1 }
}

/// One expert copy over a host link.
struct ExpertLoad {
    var expert: ExpertID = -1
    var gpu: Int = 0
    var isDemand = false
    var issuedAsPrefetch = false
    var paused = false
    var remaining: Double = 0
    var flow: FlowID? = nil
    var active = false
}

/// Counters of one run.
public struct MoECounters: Sendable, Equatable {
    public var accesses: Int64 = 0
    public var hits: Int64 = 0
    public var misses: Int64 = 0
    /// Misses on an expert whose prefetch had been issued but not finished.
    public var latePrefetchMisses: Int64 = 0
    public var demandLoads: Int64 = 0
    public var prefetches: Int64 = 0
    /// Prefetched experts accessed before eviction.
    public var usefulPrefetches: Int64 = 0
    public var evictions: Int64 = 0
    public var pcieBytes: Int64 = 0
    public var stallNs: Int64 = 0
    public var iterations: Int64 = 0
    public var layerSteps: Int64 = 0
}

public struct ServingCore {
    public let model: MoEModelConfig
    /// MoE layers, experts per layer, top-k, GPUs.
    public let layers: Int
    public let experts: Int
    public let topK: Int
    public let gpus: Int
    public let expertBytes: Int
    public var totalExperts: Int { layers * experts }

    // Experts, by global id.
    public internal(set) var state: [ExpertState]
    public internal(set) var pinned: [Bool]
    public internal(set) var lastUse: [Int64]
    public internal(set) var frequency: [Int32]
    /// Issued as a prefetch and not accessed since.
    public internal(set) var prefetchedUnused: [Bool]
    var loadOf: [Int32]
    var useClock: Int64 = 0
    /// Bumped whenever residency, pins or access counts change (policies may cache scans on it).
    public internal(set) var version: UInt64 = 0
    /// Slots per GPU and slots in use (resident + loading).
    public internal(set) var capacity: [Int]
    public internal(set) var used: [Int]
    /// Slots in use (resident + loading) per GPU and layer, at gpu · layers + layer.
    public internal(set) var held: [Int32]

    // The current iteration.
    public internal(set) var batch: [ActiveRequest] = []
    /// MoE layer whose gate ran last in this iteration (−1 before the first).
    public internal(set) var currentLayer: Int = -1
    /// Iterations started so far (a global clock of iterations).
    public internal(set) var iterationCounter: Int64 = 0
    /// Requests read ahead of the batch (waiting or not yet arrived), oldest first.
    public internal(set) var lookahead: [RoutingRequest] = []
    var iterProbs: [Float]
    var iterSelOffsets: [Int32]
    var iterSelExperts: [UInt16] = []
    var iterSelTokens: [Int32] = []
    /// Tokens processed in the current iteration.
    public internal(set) var iterationTokens: Int = 0

    public internal(set) var counters = MoECounters()
    /// The policies' own random stream (predictors of given accuracy).
    public var rng: Xoshiro256StarStar
    /// Scratch the policies may use.
    public var scratch: [Int32] = []

    init(model: MoEModelConfig, gpus: Int, capacity: [Int], rng: Xoshiro256StarStar) {
        self.model = model
        layers = model.moeLayers
        experts = model.experts
        topK = model.topK
        self.gpus = gpus
        expertBytes = model.expertBytes
        let n = model.moeLayers * model.experts
        state = [ExpertState](repeating: .absent, count: n)
        pinned = [Bool](repeating: false, count: n)
        lastUse = [Int64](repeating: 0, count: n)
        frequency = [Int32](repeating: 0, count: n)
        prefetchedUnused = [Bool](repeating: false, count: n)
        loadOf = [Int32](repeating: -1, count: n)
        self.capacity = capacity
        used = [Int](repeating: 0, count: gpus)
        held = [Int32](repeating: 0, count: gpus * model.moeLayers)
        iterProbs = [Float](repeating: 0, count: n)
        iterSelOffsets = [Int32](repeating: 0, count: model.moeLayers + 1)
        self.rng = rng
    }

    // MARK: queries

    @inline(__always) public func gpuOf(_ x: ExpertID) -> Int { Int(x) % gpus }
    @inline(__always) public func layerOf(_ x: ExpertID) -> Int { Int(x) / experts }
    @inline(__always) public func id(layer: Int, expert: Int) -> ExpertID { ExpertID(layer * experts + expert) }
    @inline(__always) public func isResident(_ x: ExpertID) -> Bool { state[Int(x)] == .resident }
    @inline(__always) public func isAbsent(_ x: ExpertID) -> Bool { state[Int(x)] == .absent }
    @inline(__always) public func isEvictable(_ x: ExpertID) -> Bool { state[Int(x)] == .resident && !pinned[Int(x)] }
    public func freeSlots(gpu: Int) -> Int { capacity[gpu] - used[gpu] }

    /// The current iteration's gate probability of `expert` at MoE layer `layer` (mean over the
    /// iteration's tokens). Policies may only rely on layers ≤ `currentLayer`; later layers are
    /// the future (for the oracle and for predictors of stated accuracy).
    @inline(__always) public func prob(_ layer: Int, _ expert: Int) -> Float { iterProbs[layer * experts + expert] }

    /// Copies MoE layer `layer`'s probabilities into `row` (resized to `experts`).
    public func copyProbs(_ layer: Int, into row: inout [Float]) {
        if row.count != experts { row = [Float](repeating: 0, count: experts) }
        let base = layer * experts
        for e in 0..<experts { row[e] = iterProbs[base + e] }
    }

    /// The current iteration's probabilities, all layers (layers × experts).
    public var iterationMap: [Float] { iterProbs }

    /// Experts selected at MoE layer `layer` in the current iteration, with their token counts.
    @inline(__always) public func selectedRange(_ layer: Int) -> Range<Int> {
        Int(iterSelOffsets[layer])..<Int(iterSelOffsets[layer + 1])
    }
    @inline(__always) public func selectedExpert(_ i: Int) -> Int { Int(iterSelExperts[i]) }
    @inline(__always) public func selectedTokens(_ i: Int) -> Int { Int(iterSelTokens[i]) }

    /// The least recently used evictable expert on `gpu` (ties: lower id), or nil.
    public func lruVictim(gpu: Int) -> ExpertID? {
        var best: Int = -1
        var bestT = Int64.max
        var x = gpu
        let n = state.count
        while x < n {
            if state[x] == .resident && !pinned[x] && lastUse[x] < bestT { bestT = lastUse[x]; best = x }
            x += gpus
        }
        return best >= 0 ? ExpertID(best) : nil
    }

    /// Calls `body` with every expert of MoE layer `layer` placed on `gpu`.
    @inline(__always) public func forEachExpert(layer: Int, onGPU gpu: Int, _ body: (ExpertID) -> Void) {
        let first = layer * experts, end = first + experts
        var x = first + ((gpu - first % gpus) % gpus + gpus) % gpus
        while x < end { body(ExpertID(x)); x += gpus }
    }

    /// Calls `body` with every expert placed on `gpu`.
    @inline(__always) public func forEachExpert(onGPU gpu: Int, _ body: (ExpertID) -> Void) {
        var x = gpu
        while x < state.count { body(ExpertID(x)); x += gpus }
    }

    // MARK: iteration aggregation

    /// Rebuilds the current iteration's probabilities and selections from the batch.
    mutating func aggregateIteration() {
        let L = layers, E = experts
        iterSelExperts.removeAll(keepingCapacity: true)
        iterSelTokens.removeAll(keepingCapacity: true)
        iterationTokens = 0
        if batch.count == 1 {
            let r = batch[0].routing
            let it = batch[0].iteration
            iterationTokens = it == 0 ? r.inputTokens : 1
            let base = r.probOffset(it, 0)
            r.probs.withUnsafeBufferPointer { src in
                iterProbs.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<(L * E) { dst[i] = src[base + i] }
                }
            }
            iterSelOffsets[0] = 0
            for l in 0..<L {
                for i in r.selectedRange(it, l) {
                    iterSelExperts.append(r.selExperts[i])
                    iterSelTokens.append(r.selTokens[i])
                }
                iterSelOffsets[l + 1] = Int32(iterSelExperts.count)
            }
            return
        }
        for i in 0..<(L * E) { iterProbs[i] = 0 }
        if scratch.count < E { scratch = [Int32](repeating: 0, count: E) }
        for b in batch { iterationTokens += b.iteration == 0 ? b.routing.inputTokens : 1 }
        iterSelOffsets[0] = 0
        for l in 0..<L {
            for e in 0..<E { scratch[e] = 0 }
            for b in batch {
                let r = b.routing, it = b.iteration
                let w = Float(it == 0 ? r.inputTokens : 1) / Float(max(iterationTokens, 1))
                let base = r.probOffset(it, l)
                for e in 0..<E { iterProbs[l * E + e] += w * r.probs[base + e] }
                for i in r.selectedRange(it, l) { scratch[Int(r.selExperts[i])] += r.selTokens[i] }
            }
            for e in 0..<E where scratch[e] > 0 {
                iterSelExperts.append(UInt16(e))
                iterSelTokens.append(scratch[e])
            }
            iterSelOffsets[l + 1] = Int32(iterSelExperts.count)
        }
    }
}
