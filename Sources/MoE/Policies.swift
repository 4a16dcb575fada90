// The offloading policies of DESIGN.md §6: resident, ondemand-layer (DeepSpeed-Inference),
// lru (Mixtral-Offloading), moe-infinity, promoe, fmoe and oracle. Each is a value type behind
// `OffloadPolicy`; configs choose them by name.

import SimCore

// MARK: - resident

/// Every routed expert in GPU memory from the start: the upper bound when it fits.
public struct ResidentPolicy: OffloadPolicy {
    public static let name = "resident"
    public static var allResident: Bool { true }
    public init() {}
}

// MARK: - ondemand-layer (DeepSpeed-Inference)

/// DeepSpeed-Inference style: when a layer is reached, every expert of it that is not resident
/// is loaded on demand (the loop does this for policies with `waitsForWholeLayer`), and the
/// layer computes once the whole layer is in; LRU cache, no prefetch.
public struct OnDemandLayerPolicy: OffloadPolicy {
    public static let name = "ondemand-layer"
    public static var waitsForWholeLayer: Bool { true }
    public init() {}
}

// MARK: - shared helpers

/// Predicts a layer's experts with a given per-expert accuracy: each truly selected expert
/// (the top `count` by tokens) is kept with probability `accuracy`, otherwise replaced by a
/// uniformly chosen expert that was not selected. Stands in for learned or hidden-state
/// predictors whose outputs the trace cannot replay.
func predictExperts(layer: Int, count: Int, accuracy: Double, core: inout ServingCore, into out: inout [Int]) {
    out.removeAll(keepingCapacity: true)
    let r = core.selectedRange(layer)
    // The selected experts, most tokens first (ties: lower id).
    var chosen: [(e: Int, t: Int)] = []
    chosen.reserveCapacity(r.count)
    for i in r { chosen.append((core.selectedExpert(i), core.selectedTokens(i))) }
    chosen.sort { $0.t > $1.t || ($0.t == $1.t && $0.e < $1.e) }
    let n = min(count, chosen.count)
    for j in 0..<n {
        if core.rng.nextUnitDouble() < accuracy {
            out.append(chosen[j].e)
        } else {
            // A wrong guess: an expert neither selected nor guessed yet.
            var tries = 0
            while tries < 64 {
                let e = core.rng.nextInt(below: core.experts)
                tries += 1
                if chosen.contains(where: { $0.e == e }) || out.contains(e) { continue }
                out.append(e)
                break
            }
        }
    }
}

// MARK: - learned predictors

/// How lru and promoe guess a later layer's experts.
public enum MoEPredictor: String, Sendable, Equatable {
    /// Learned from the routing itself: how often each expert at layer l was followed by each
    /// expert at layer l + stride (counted over the warm-up requests and online); the guess is
    /// the top-k of Σ over the experts chosen at l. Its accuracy is whatever the trace allows.
    case learned
    /// The true experts, each kept with a given probability and otherwise replaced by a random
    /// one: stands in for a hidden-state predictor of known accuracy (e.g. one reported in a paper).
    case noisyOracle = "noisy-oracle"
}

/// Expert-transition counts between layer l and layer l + stride.
struct TransitionPredictor {
    let L: Int, E: Int, stride: Int
    var counts: [Float]      // ((l · E) + i) · E + j
    var popularity: [Float]  // l · E + j
    var score: [Float]

    init(layers: Int, experts: Int, stride: Int) {
        L = layers; E = experts; self.stride = stride
        counts = [Float](repeating: 0, count: max(layers - stride, 0) * experts * experts)
        popularity = [Float](repeating: 0, count: layers * experts)
        score = [Float](repeating: 0, count: experts)
    }

    mutating func learn(from a: Range<Int>, _ expertsA: (Int) -> Int, layer l: Int, to b: Range<Int>, _ expertsB: (Int) -> Int) {
        for i in a {
            let base = (l * E + expertsA(i)) * E
            for j in b { counts[base + expertsB(j)] += 1 }
        }
    }

    mutating func warm(_ r: RoutingRequest) {
        for it in 0..<r.iterations {
            for l in 0..<L {
                for i in r.selectedRange(it, l) { popularity[l * E + Int(r.selExperts[i])] += 1 }
                if l + stride < L {
                    learn(from: r.selectedRange(it, l), { Int(r.selExperts[$0]) }, layer: l,
                          to: r.selectedRange(it, l + stride), { Int(r.selExperts[$0]) })
                }
            }
        }
    }

    /// After the gate of layer `t`: learn (t − stride → t) and popularity.
    mutating func observe(layer t: Int, core: borrowing ServingCore) {
        for i in core.selectedRange(t) { popularity[t * E + core.selectedExpert(i)] += 1 }
        if t - stride >= 0 {
            learn(from: core.selectedRange(t - stride), { core.selectedExpert($0) }, layer: t - stride,
                  to: core.selectedRange(t), { core.selectedExpert($0) })
        }
    }

    /// The top-k guess for layer `l + stride` from the experts selected at `l` (observed).
    mutating func predict(from l: Int, count k: Int, core: borrowing ServingCore, into out: inout [Int]) {
        out.removeAll(keepingCapacity: true)
        let t = l + stride
        guard t < L else { return }
        var total: Float = 0
        for j in 0..<E { total += popularity[t * E + j] }
        let tiny = total > 0 ? 1e-3 / total : 0
        for j in 0..<E { score[j] = tiny * popularity[t * E + j] }
        for i in core.selectedRange(l) {
            let base = (l * E + core.selectedExpert(i)) * E
            for j in 0..<E { score[j] += counts[base + j] }
        }
        for _ in 0..<min(k, E) {
            var best = -1
            var bs: Float = -1
            for j in 0..<E where score[j] > bs { bs = score[j]; best = j }
            if best < 0 || bs <= 0 { break }
            out.append(best)
            score[best] = -2
        }
    }
}

// MARK: - lru (Mixtral-Offloading)

/// Mixtral-Offloading (Eliseev & Mazur 2023): an LRU expert cache split evenly over the layers,
/// plus speculative prefetch of the next layer's experts (the paper applies the next gate to the
/// current hidden state; here a `learned` transition predictor, or a `noisy-oracle` of given
/// accuracy).
public struct LRUPolicy: OffloadPolicy {
    public static let name = "lru"
    public var predictor: MoEPredictor
    public var nextLayerAccuracy: Double
    var learned: TransitionPredictor
    var queue: PrefetchQueue
    var guess: [Int] = []
    var predicted: [Bool]

    public init(layers: Int, experts: Int, gpus: Int, predictor: MoEPredictor, nextLayerAccuracy: Double) {
        self.predictor = predictor
        self.nextLayerAccuracy = nextLayerAccuracy
        learned = TransitionPredictor(layers: layers, experts: experts, stride: 1)
        queue = PrefetchQueue(gpus: gpus, experts: layers * experts)
        predicted = [Bool](repeating: false, count: layers * experts)
    }

    public mutating func warm(_ request: RoutingRequest, core: inout ServingCore) {
        if predictor == .learned { learned.warm(request) }
    }

    public mutating func gate(_ layer: Int, core: inout ServingCore) {
        for x in 0..<predicted.count { predicted[x] = false }
        queue.removeAll()
        let t = layer + 1
        if predictor == .learned { learned.observe(layer: layer, core: core) }
        guard t < core.layers else { return }
        switch predictor {
        case .learned: learned.predict(from: layer, count: core.topK, core: core, into: &guess)
        case .noisyOracle: predictExperts(layer: t, count: core.topK, accuracy: nextLayerAccuracy, core: &core, into: &guess)
        }
        for e in guess {
            let x = core.id(layer: t, expert: e)
            predicted[Int(x)] = true
            queue.add(x, priority: 1, gpu: core.gpuOf(x))
        }
    }

    public mutating func nextPrefetch(gpu: Int, core: inout ServingCore) -> ExpertID? {
        queue.pop(gpu: gpu) { core.isAbsent($0) }
    }

    var cached: (version: UInt64, gpu: Int, layer: Int, demand: Bool, best: Int) = (.max, -1, -1, false, -1)

    public mutating func victim(gpu: Int, incoming: ExpertID, demand: Bool, core: inout ServingCore) -> ExpertID? {
        let li0 = core.layerOf(incoming)
        if cached.version == core.version && cached.gpu == gpu && cached.layer == li0 && cached.demand == demand {
            return cached.best >= 0 ? ExpertID(cached.best) : nil
        }
        let v = splitVictim(gpu: gpu, incoming: incoming, demand: demand, core: core)
        cached = (core.version, gpu, li0, demand, v.map { Int($0) } ?? -1)
        return v
    }

    mutating func splitVictim(gpu: Int, incoming: ExpertID, demand: Bool, core: borrowing ServingCore) -> ExpertID? {
        // Mixtral-Offloading keeps an LRU cache per layer: the budget is split evenly over the
        // layers (by their experts on this GPU). The incoming expert's layer evicts its own least
        // recently used expert when it holds its share; otherwise a layer over its share gives one up.
        // A prefetch never evicts another guessed expert.
        let L = core.layers, G = core.gpus
        if onGPU.count != L * G {
            onGPU = [Int](repeating: 0, count: L * G)
            totalOnGPU = [Int](repeating: 0, count: G)
            for x in 0..<core.totalExperts { onGPU[(x % G) * L + x / core.experts] += 1; totalOnGPU[x % G] += 1 }
        }
        let cap = Double(core.capacity[gpu])
        let total = Double(max(totalOnGPU[gpu], 1))
        let li = core.layerOf(incoming)
        let own = Double(core.held[gpu * L + li] + 1) > cap * Double(onGPU[gpu * L + li]) / total
        var best = -1
        var bestT = Int64.max
        let pred = predicted
        func consider(_ x: ExpertID) {
            let i = Int(x)
            if core.isEvictable(x) && (demand || !pred[i]) && core.lastUse[i] < bestT { bestT = core.lastUse[i]; best = i }
        }
        if own {
            core.forEachExpert(layer: li, onGPU: gpu, consider)
        } else {
            for l in 0..<L where Double(core.held[gpu * L + l]) > cap * Double(onGPU[gpu * L + l]) / total {
                core.forEachExpert(layer: l, onGPU: gpu, consider)
            }
        }
        if best < 0 {
            // No eligible victim under the split: plain LRU.
            core.forEachExpert(onGPU: gpu, consider)
        }
        return best >= 0 ? ExpertID(best) : nil
    }
    var totalOnGPU: [Int] = []
    var onGPU: [Int] = []
}

// MARK: - promoe

/// ProMoE (Song et al. 2024): stride-based speculative prefetch. After the gate of layer l, a
/// predictor guesses the experts of layer l + stride (`learned` transitions over `stride` layers,
/// or a `noisy-oracle` of given accuracy); at an iteration's start, layers 0..<stride are guessed
/// as the previous token's. LRU cache that keeps guessed experts.
public struct ProMoEPolicy: OffloadPolicy {
    public static let name = "promoe"
    public var stride: Int
    public var predictor: MoEPredictor
    public var accuracy: Double
    var learned: TransitionPredictor
    var queue: PrefetchQueue
    var guess: [Int] = []
    var predictedLayer: [Int32]
    /// The previous iteration's experts at layers 0..<stride.
    var previousFirst: [[Int]]

    public init(layers: Int, experts: Int, gpus: Int, stride: Int, predictor: MoEPredictor, accuracy: Double) {
        self.stride = stride
        self.predictor = predictor
        self.accuracy = accuracy
        learned = TransitionPredictor(layers: layers, experts: experts, stride: stride)
        queue = PrefetchQueue(gpus: gpus, experts: layers * experts)
        predictedLayer = [Int32](repeating: -1, count: layers * experts)
        previousFirst = Array(repeating: [], count: stride)
    }

    public mutating func warm(_ request: RoutingRequest, core: inout ServingCore) {
        if predictor == .learned { learned.warm(request) }
    }

    mutating func enqueue(_ t: Int, from layer: Int, core: inout ServingCore) {
        for e in guess {
            let x = core.id(layer: t, expert: e)
            predictedLayer[Int(x)] = Int32(t)
            queue.add(x, priority: 1 / Float(t - layer), gpu: core.gpuOf(x))
        }
    }

    public mutating func iterationStarted(core: inout ServingCore) {
        queue.removeAll()
        for x in 0..<predictedLayer.count { predictedLayer[x] = -1 }
        for t in 0..<min(stride, core.layers) {
            switch predictor {
            case .learned: guess.removeAll(keepingCapacity: true); guess.append(contentsOf: previousFirst[t])
            case .noisyOracle: predictExperts(layer: t, count: core.topK, accuracy: accuracy, core: &core, into: &guess)
            }
            enqueue(t, from: -1, core: &core)
        }
    }

    public mutating func gate(_ layer: Int, core: inout ServingCore) {
        if layer < stride {
            previousFirst[layer].removeAll(keepingCapacity: true)
            // The most-routed experts of this layer (top-k by tokens; ties to the lower id) stand
            // for the next token's guess.
            let r = core.selectedRange(layer)
            for _ in 0..<min(core.topK, r.count) {
                var best = -1, bestT = -1
                for i in r {
                    let e = core.selectedExpert(i), t = core.selectedTokens(i)
                    if t > bestT && !previousFirst[layer].contains(e) { best = e; bestT = t }
                }
                if best < 0 { break }
                previousFirst[layer].append(best)
            }
        }
        let t = layer + stride
        if predictor == .learned { learned.observe(layer: layer, core: core) }
        guard t < core.layers else { return }
        switch predictor {
        case .learned: learned.predict(from: layer, count: core.topK, core: core, into: &guess)
        case .noisyOracle: predictExperts(layer: t, count: core.topK, accuracy: accuracy, core: &core, into: &guess)
        }
        enqueue(t, from: layer, core: &core)
    }

    public mutating func nextPrefetch(gpu: Int, core: inout ServingCore) -> ExpertID? {
        queue.pop(gpu: gpu) { core.isAbsent($0) }
    }

    public mutating func victim(gpu: Int, incoming: ExpertID, demand: Bool, core: inout ServingCore) -> ExpertID? {
        var best = -1
        var bestT = Int64.max
        let now = core.currentLayer
        core.forEachExpert(onGPU: gpu) { x in
            let i = Int(x)
            let keep = !demand && Int(predictedLayer[i]) > now
            if core.isEvictable(x) && !keep && core.lastUse[i] < bestT { bestT = core.lastUse[i]; best = i }
        }
        return best >= 0 ? ExpertID(best) : nil
    }
}

// MARK: - moe-infinity

/// MoE-Infinity (Xue et al. 2024): a request-level expert activation matrix (EAM: how often each
/// expert was activated so far in the request), matched by cosine against a collection of past
/// requests' EAMs at every iteration; the best match's activation ratios drive prefetching
/// (per layer, the experts covering `coverage` of the layer's ratio, priority ratio / layer
/// distance) and caching (evict the lowest matched ratio plus own activation share).
public struct MoEInfinityPolicy: OffloadPolicy {
    public static let name = "moe-infinity"
    public let capacity: Int
    public let coverage: Double
    let n: Int          // layers × experts
    let E: Int
    var store: [Float]  // capacity × n, each layer row normalised to sum 1
    var storeNorm: [Float]
    var count = 0
    var current: [Float]
    var currentLayerSum: [Float]
    var matched: [Float]
    var prior: [Float]  // sum of stored EAMs (the match before the request has activated anything)
    var queue: PrefetchQueue
    /// Per layer, the matched experts covering `coverage`, best first (planned once per iteration).
    var candidates: [[Int]]
    var order: [Int] = []

    public init(layers: Int, experts: Int, gpus: Int, capacity: Int, coverage: Double) {
        self.capacity = capacity
        self.coverage = coverage
        n = layers * experts
        E = experts
        store = [Float](repeating: 0, count: capacity * n)
        storeNorm = [Float](repeating: 0, count: capacity)
        current = [Float](repeating: 0, count: n)
        currentLayerSum = [Float](repeating: 0, count: layers)
        matched = [Float](repeating: 0, count: n)
        prior = [Float](repeating: 0, count: n)
        queue = PrefetchQueue(gpus: gpus, experts: layers * experts)
        candidates = Array(repeating: [], count: layers)
    }

    /// The request's EAM, each layer normalised to sum 1.
    static func eam(_ r: RoutingRequest) -> [Float] {
        var m = [Float](repeating: 0, count: r.layers * r.experts)
        for it in 0..<r.iterations {
            for l in 0..<r.layers {
                for i in r.selectedRange(it, l) { m[l * r.experts + Int(r.selExperts[i])] += Float(r.selTokens[i]) }
            }
        }
        normaliseRows(&m, layers: r.layers, experts: r.experts)
        return m
    }

    static func normaliseRows(_ m: inout [Float], layers: Int, experts: Int) {
        for l in 0..<layers {
            var s: Float = 0
            for e in 0..<experts { s += m[l * experts + e] }
            if s > 0 { for e in 0..<experts { m[l * experts + e] /= s } }
        }
    }

    /// Index of the stored EAM with the highest cosine to `v` (norm `vn`), and the cosine.
    func best(_ v: [Float], norm vn: Float) -> (Int, Float) {
        var best = 0
        var bestS = -Float.infinity
        store.withUnsafeBufferPointer { st in
            v.withUnsafeBufferPointer { x in
                for c in 0..<count {
                    let d = dot(n, x.baseAddress!, st.baseAddress! + c * n)
                    let s = d / max(vn * storeNorm[c], 1e-30)
                    if s > bestS { bestS = s; best = c }
                }
            }
        }
        return (best, bestS)
    }

    mutating func insert(_ m: [Float]) {
        var norm: Float = 0
        for v in m { norm += v * v }
        norm = norm.squareRoot()
        guard norm > 0 else { return }
        var slot = count
        if count == capacity {
            // Replace the most similar stored EAM (keeps the collection diverse).
            slot = best(m, norm: norm).0
            for i in 0..<n { prior[i] -= store[slot * n + i] }
        } else {
            count += 1
        }
        for i in 0..<n { store[slot * n + i] = m[i]; prior[i] += m[i] }
        storeNorm[slot] = norm
    }

    public mutating func warm(_ request: RoutingRequest, core: inout ServingCore) {
        insert(MoEInfinityPolicy.eam(request))
    }

    public mutating func requestFinished(_ request: RoutingRequest, core: inout ServingCore) {
        insert(MoEInfinityPolicy.eam(request))
        for i in 0..<n { current[i] = 0 }
        for l in currentLayerSum.indices { currentLayerSum[l] = 0 }
    }

    public mutating func iterationStarted(core: inout ServingCore) {
        // Match the request's EAM so far against the collection.
        var cn: Float = 0
        for v in current { cn += v * v }
        if cn == 0 || count == 0 {
            for i in 0..<n { matched[i] = prior[i] }
        } else {
            let b = best(current, norm: cn.squareRoot()).0
            for i in 0..<n { matched[i] = store[b * n + i] }
        }
        MoEInfinityPolicy.normaliseRows(&matched, layers: core.layers, experts: E)
        for t in 0..<core.layers {
            order.removeAll(keepingCapacity: true)
            for e in 0..<E where matched[t * E + e] > 0 { order.append(e) }
            let m = matched
            order.sort { m[t * E + $0] > m[t * E + $1] || (m[t * E + $0] == m[t * E + $1] && $0 < $1) }
            candidates[t].removeAll(keepingCapacity: true)
            var mass: Float = 0
            for e in order {
                if mass >= Float(coverage) { break }
                mass += m[t * E + e]
                candidates[t].append(e)
            }
        }
        plan(from: -1, core: &core)
    }

    mutating func plan(from now: Int, core: inout ServingCore) {
        queue.removeAll()
        for t in (now + 1)..<core.layers {
            for e in candidates[t] {
                let x = core.id(layer: t, expert: e)
                if core.isAbsent(x) { queue.add(x, priority: matched[t * E + e] / Float(t - now), gpu: core.gpuOf(x)) }
            }
        }
    }

    public mutating func gate(_ layer: Int, core: inout ServingCore) {
        for i in core.selectedRange(layer) {
            current[layer * E + core.selectedExpert(i)] += Float(core.selectedTokens(i))
            currentLayerSum[layer] += Float(core.selectedTokens(i))
        }
        plan(from: layer, core: &core)
    }

    @inline(__always) func score(_ x: Int) -> Float {
        let s = currentLayerSum[x / E]
        return matched[x] + (s > 0 ? current[x] / s : 0)
    }

    public mutating func nextPrefetch(gpu: Int, core: inout ServingCore) -> ExpertID? {
        queue.pop(gpu: gpu) { core.isAbsent($0) }
    }

    var cached: (version: UInt64, gpu: Int, best: Int, score: Float) = (.max, -1, -1, 0)

    public mutating func victim(gpu: Int, incoming: ExpertID, demand: Bool, core: inout ServingCore) -> ExpertID? {
        var best = -1
        var bestS = Float.infinity
        if cached.version == core.version && cached.gpu == gpu {
            best = cached.best; bestS = cached.score
        } else {
            var bestT = Int64.max
            core.forEachExpert(onGPU: gpu) { x in
                let i = Int(x)
                guard core.isEvictable(x) else { return }
                let s = score(i)
                if s < bestS || (s == bestS && core.lastUse[i] < bestT) { bestS = s; bestT = core.lastUse[i]; best = i }
            }
            cached = (core.version, gpu, best, bestS)
        }
        if best < 0 { return nil }
        if !demand && bestS >= score(Int(incoming)) { return nil }
        return ExpertID(best)
    }
}

/// Σ x[i]·y[i], eight lanes at a time (a fixed summation order: deterministic).
@inline(__always)
func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    let xr = UnsafeRawPointer(x), yr = UnsafeRawPointer(y)
    while i + 8 <= n {
        acc += xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * yr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += x[i] * y[i]; i += 1 }
    return s
}

// MARK: - oracle

/// Perfect future knowledge: Belady eviction (evict the expert used farthest in the future) and
/// perfect prefetch (always fetch the absent expert needed soonest, if a victim is needed later).
/// It sees the active requests and the requests read ahead (the next arrival).
public struct OraclePolicy: OffloadPolicy {
    public static let name = "oracle"
    /// Future uses of each expert, as positions (global iteration × layers + layer), soonest last.
    var uses: [[Int64]]
    var builtFor: [UInt64] = []

    public init(totalExperts: Int) {
        uses = Array(repeating: [], count: totalExperts)
    }

    @inline(__always) func position(core: borrowing ServingCore) -> Int64 {
        (core.iterationCounter - 1) * Int64(core.layers) + Int64(max(core.currentLayer, 0))
    }

    /// Rebuilds the future-use lists from the batch and the lookahead.
    mutating func rebuild(core: borrowing ServingCore) {
        for i in uses.indices { uses[i].removeAll(keepingCapacity: true) }
        let L = Int64(core.layers)
        var latestEnd = core.iterationCounter - 1
        var ids: [UInt64] = []
        func add(_ r: RoutingRequest, fromIteration i0: Int, atGlobal g0: Int64) {
            for it in i0..<r.iterations {
                let g = g0 + Int64(it - i0)
                for l in 0..<r.layers {
                    for i in r.selectedRange(it, l) {
                        uses[l * r.experts + Int(r.selExperts[i])].append(g * L + Int64(l))
                    }
                }
            }
        }
        for b in core.batch {
            ids.append(b.routing.id)
            add(b.routing, fromIteration: b.iteration, atGlobal: core.iterationCounter - 1)
            latestEnd = max(latestEnd, core.iterationCounter - 1 + Int64(b.routing.iterations - b.iteration))
        }
        for r in core.lookahead {
            ids.append(r.id)
            add(r, fromIteration: 0, atGlobal: latestEnd)
            latestEnd += Int64(r.iterations)
        }
        for i in uses.indices { uses[i].sort(by: >) }
        builtFor = ids
    }

    public mutating func iterationStarted(core: inout ServingCore) {
        var same = builtFor.count == core.batch.count + core.lookahead.count
        if same {
            var k = 0
            for b in core.batch { if builtFor[k] != b.routing.id { same = false; break }; k += 1 }
            if same { for r in core.lookahead { if builtFor[k] != r.id { same = false; break }; k += 1 } }
        }
        if !same { rebuild(core: core) }
        drop(core: core)
    }

    /// Drops uses that are in the past.
    mutating func drop(core: borrowing ServingCore) {
        let p = position(core: core)
        for i in uses.indices { while let last = uses[i].last, last < p { uses[i].removeLast() } }
    }

    public mutating func gate(_ layer: Int, core: inout ServingCore) {
        // Uses at this very position are being served now.
        let p = position(core: core)
        for i in core.selectedRange(layer) {
            let x = layer * core.experts + core.selectedExpert(i)
            while let last = uses[x].last, last <= p { uses[x].removeLast() }
        }
    }

    @inline(__always) func nextUse(_ x: Int) -> Int64 { uses[x].last ?? Int64.max }

    public mutating func nextPrefetch(gpu: Int, core: inout ServingCore) -> ExpertID? {
        var best = -1
        var bestU = Int64.max
        core.forEachExpert(onGPU: gpu) { x in
            let i = Int(x)
            if core.isAbsent(x) { let u = nextUse(i); if u < bestU { bestU = u; best = i } }
        }
        guard best >= 0, bestU != Int64.max else { return nil }
        // Only worth it if a slot is free or the Belady victim is needed later than this one.
        if core.freeSlots(gpu: gpu) > 0 { return ExpertID(best) }
        var victimU = Int64.min
        core.forEachExpert(onGPU: gpu) { x in if core.isEvictable(x) { victimU = max(victimU, nextUse(Int(x))) } }
        return victimU > bestU ? ExpertID(best) : nil
    }

    public mutating func victim(gpu: Int, incoming: ExpertID, demand: Bool, core: inout ServingCore) -> ExpertID? {
        var best = -1
        var bestU = Int64.min
        core.forEachExpert(onGPU: gpu) { x in
            let i = Int(x)
            if core.isEvictable(x) { let u = nextUse(i); if u > bestU || (u == bestU && i < best) { bestU = u; best = i } }
        }
        if best < 0 { return nil }
        if !demand && bestU <= nextUse(Int(incoming)) { return nil }
        return ExpertID(best)
    }
}
