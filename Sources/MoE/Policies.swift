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

// MARK: - lru (Mixtral-Offloading)

/// Mixtral-Offloading (Eliseev & Mazur 2023): an LRU expert cache, plus speculative prefetch
/// of the next layer's experts guessed by applying the next gate to the current hidden state,
/// modelled as a predictor of accuracy `nextLayerAccuracy` per expert.
public struct LRUPolicy: OffloadPolicy {
    public static let name = "lru"
    public var nextLayerAccuracy: Double
    var queue: PrefetchQueue
    var guess: [Int] = []
    var predicted: [Bool]

    public init(gpus: Int, experts: Int, nextLayerAccuracy: Double) {
        self.nextLayerAccuracy = nextLayerAccuracy
        queue = PrefetchQueue(gpus: gpus, experts: experts)
        predicted = [Bool](repeating: false, count: experts)
    }

    public mutating func gate(_ layer: Int, core: inout ServingCore) {
        for x in 0..<predicted.count { predicted[x] = false }
        queue.removeAll()
        let t = layer + 1
        guard t < core.layers else { return }
        predictExperts(layer: t, count: core.topK, accuracy: nextLayerAccuracy, core: &core, into: &guess)
        for e in guess {
            let x = core.id(layer: t, expert: e)
            predicted[Int(x)] = true
            queue.add(x, priority: 1, gpu: core.gpuOf(x))
        }
    }

    public mutating func nextPrefetch(gpu: Int, core: inout ServingCore) -> ExpertID? {
        queue.pop(gpu: gpu) { core.isAbsent($0) }
    }

    public mutating func victim(gpu: Int, incoming: ExpertID, demand: Bool, core: inout ServingCore) -> ExpertID? {
        // Mixtral-Offloading keeps an LRU cache per layer: the budget is split evenly over the
        // layers (by their experts on this GPU). The incoming expert's layer evicts its own least
        // recently used expert when it holds its share; otherwise a layer over its share gives one up.
        // A prefetch never evicts another guessed expert.
        let L = core.layers
        if held.count != L { held = [Int](repeating: 0, count: L); onGPU = [Int](repeating: 0, count: L) }
        for l in 0..<L { held[l] = 0; onGPU[l] = 0 }
        var total = 0
        core.forEachExpert(onGPU: gpu) { x in
            let l = core.layerOf(x)
            onGPU[l] += 1
            total += 1
            if !core.isAbsent(x) { held[l] += 1 }
        }
        let cap = Double(core.capacity[gpu])
        func share(_ l: Int) -> Double { cap * Double(onGPU[l]) / Double(max(total, 1)) }
        let li = core.layerOf(incoming)
        let own = Double(held[li] + 1) > share(li)
        var best = -1
        var bestT = Int64.max
        core.forEachExpert(onGPU: gpu) { x in
            let i = Int(x)
            guard core.isEvictable(x), demand || !predicted[i] else { return }
            let l = core.layerOf(x)
            let eligible = own ? l == li : Double(held[l]) > share(l)
            if eligible && core.lastUse[i] < bestT { bestT = core.lastUse[i]; best = i }
        }
        if best < 0 {
            // No eligible victim under the split: plain LRU.
            core.forEachExpert(onGPU: gpu) { x in
                let i = Int(x)
                if core.isEvictable(x) && (demand || !predicted[i]) && core.lastUse[i] < bestT { bestT = core.lastUse[i]; best = i }
            }
        }
        return best >= 0 ? ExpertID(best) : nil
    }
    var held: [Int] = []
    var onGPU: [Int] = []
}

// MARK: - promoe

/// ProMoE (Song et al. 2024): stride-based speculative prefetch. At layer l, a predictor
/// guesses the experts of layer l + stride (accuracy `accuracy` per expert); at an iteration's
/// start it guesses layers 0..<stride. LRU cache that keeps guessed experts.
public struct ProMoEPolicy: OffloadPolicy {
    public static let name = "promoe"
    public var stride: Int
    public var accuracy: Double
    var queue: PrefetchQueue
    var guess: [Int] = []
    var predictedLayer: [Int32]

    public init(gpus: Int, experts: Int, stride: Int, accuracy: Double) {
        self.stride = stride
        self.accuracy = accuracy
        queue = PrefetchQueue(gpus: gpus, experts: experts)
        predictedLayer = [Int32](repeating: -1, count: experts)
    }

    mutating func predict(_ t: Int, from layer: Int, core: inout ServingCore) {
        guard t >= 0 && t < core.layers else { return }
        predictExperts(layer: t, count: core.topK, accuracy: accuracy, core: &core, into: &guess)
        for e in guess {
            let x = core.id(layer: t, expert: e)
            predictedLayer[Int(x)] = Int32(t)
            queue.add(x, priority: 1 / Float(t - layer), gpu: core.gpuOf(x))
        }
    }

    public mutating func iterationStarted(core: inout ServingCore) {
        queue.removeAll()
        for x in 0..<predictedLayer.count { predictedLayer[x] = -1 }
        for t in 0..<min(stride, core.layers) { predict(t, from: -1, core: &core) }
    }

    public mutating func gate(_ layer: Int, core: inout ServingCore) {
        predict(layer + stride, from: layer, core: &core)
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
            let c = core
            core.forEachExpert(onGPU: gpu) { x in
                let i = Int(x)
                guard c.isEvictable(x) else { return }
                let s = score(i)
                if s < bestS || (s == bestS && c.lastUse[i] < bestT) { bestS = s; bestT = c.lastUse[i]; best = i }
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

    @inline(__always) func position(core: ServingCore) -> Int64 {
        (core.iterationCounter - 1) * Int64(core.layers) + Int64(max(core.currentLayer, 0))
    }

    /// Rebuilds the future-use lists from the batch and the lookahead.
    mutating func rebuild(core: ServingCore) {
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
    mutating func drop(core: ServingCore) {
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
        let c = core
        core.forEachExpert(onGPU: gpu) { x in
            let i = Int(x)
            if c.isAbsent(x) { let u = nextUse(i); if u < bestU { bestU = u; best = i } }
        }
        guard best >= 0, bestU != Int64.max else { return nil }
        // Only worth it if a slot is free or the Belady victim is needed later than this one.
        if c.freeSlots(gpu: gpu) > 0 { return ExpertID(best) }
        var victimU = Int64.min
        core.forEachExpert(onGPU: gpu) { x in if c.isEvictable(x) { victimU = max(victimU, nextUse(Int(x))) } }
        return victimU > bestU ? ExpertID(best) : nil
    }

    public mutating func victim(gpu: Int, incoming: ExpertID, demand: Bool, core: inout ServingCore) -> ExpertID? {
        var best = -1
        var bestU = Int64.min
        let c = core
        core.forEachExpert(onGPU: gpu) { x in
            let i = Int(x)
            if c.isEvictable(x) { let u = nextUse(i); if u > bestU || (u == bestU && i < best) { bestU = u; best = i } }
        }
        if best < 0 { return nil }
        if !demand && bestU <= nextUse(Int(incoming)) { return nil }
        return ExpertID(best)
    }
}
