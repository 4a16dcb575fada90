// fMoE (Yu et al., "fMoE: Fine-Grained Expert Offloading for Large Mixture-of-Experts Serving",
// 2025), as DESIGN.md §6 specifies it:
//
// - Expert maps: per iteration, the gate's probabilities at every MoE layer (layers × experts),
//   stored with the request's prompt embedding in a map store of capacity C.
// - At an iteration's start, the first d layers are predicted from the *semantic* match: the
//   stored map whose embedding is most similar (cosine) to the request's; ties (maps of the same
//   stored request) go to the map whose iteration index is nearest the current one.
// - After the gate of layer l, layer l + d is predicted from the *trajectory* match: the stored
//   map whose prefix [P_1..P_l] has the highest cosine with the observed prefix. Dot products
//   accumulate layer by layer (no recomputation).
// - Prefetch, for each predicted layer, the smallest set of experts whose probability mass in
//   the matched map reaches δ = clip(1 − score, 0, 1), at least top-k; priority p / (l − l_now);
//   one speculative copy at a time (the loop's one prefetch per link).
// - Evict the lowest p · frequency (p: the expert's predicted probability, frequency: its
//   accesses + 1); a prefetch does not evict an expert scoring at least as high as itself.
// - When the store is full, a new map replaces the stored map most similar to it by
//   (d/L)·(embedding cosine) + (1 − d/L)·(cosine of the flattened maps).
// - Maps of the request being served (its earlier iterations) take part in matching like any
//   other: the semantic match of a decode iteration is then usually the request's own previous
//   iteration (same embedding, nearest iteration index).

import SimCore

public struct FMoEPolicy: OffloadPolicy {
    public static let name = "fmoe"
    public let distance: Int
    public let capacity: Int
    let L: Int, E: Int, D: Int
    let blocks: Int
    @inline(__always) func mi(_ l: Int, _ e: Int, _ c: Int) -> Int { ((l * blocks + (c >> 3)) * E + e) * 8 + (c & 7) }
    // The store. Maps are kept in blocks of eight slots: value (l, e) of slot c at
    // ((l·B + c/8)·E + e)·8 + c%8 (B = blocks), so that scoring one layer reads each block's
    // experts × 8 values contiguously.
    public private(set) var count = 0
    var maps: [Float]
    var prefixNorm2: [Float]   // slot c, layer l: Σ_{j ≤ l} |M_j|², at c·L + l
    var embeddings: [Float]    // slot c: D values (unit length)
    var owner: [UInt64]
    var iterationOf: [Int32]
    // Per batch: embedding cosines to every slot.
    var semantic: [Float]
    var semanticFor: [UInt64] = []
    var queryEmbedding: [Float]
    // Per iteration.
    var dots: [Float]
    var observedNorm2: Float = 0
    var row: [Float]
    var row2: [Float]
    var nonzero: [Int] = []
    var mapScratch: [Float]
    var semBest = -1
    var semScore: Float = 0
    var trajBest = -1
    var trajScore: Float = 0
    /// Predicted probability per expert (for eviction), from the latest plan.
    var predicted: [Float]
    var queue: PrefetchQueue

    public init(layers: Int, experts: Int, gpus: Int, embeddingDim: Int, distance: Int, capacity: Int) {
        L = layers; E = experts; D = embeddingDim
        self.distance = distance
        self.capacity = capacity
        blocks = (capacity + 7) / 8
        maps = [Float](repeating: 0, count: layers * experts * blocks * 8)
        prefixNorm2 = [Float](repeating: 0, count: capacity * layers)
        embeddings = [Float](repeating: 0, count: capacity * embeddingDim)
        owner = [UInt64](repeating: .max, count: capacity)
        iterationOf = [Int32](repeating: 0, count: capacity)
        semantic = [Float](repeating: 0, count: capacity)
        queryEmbedding = [Float](repeating: 0, count: embeddingDim)
        dots = [Float](repeating: 0, count: capacity)
        row = [Float](repeating: 0, count: experts)
        row2 = [Float](repeating: 0, count: experts)
        mapScratch = [Float](repeating: 0, count: layers * experts)
        predicted = [Float](repeating: 0, count: layers * experts)
        queue = PrefetchQueue(gpus: gpus, experts: layers * experts)
    }

    // MARK: store

    /// Sets the query embedding (unit length) and every slot's cosine to it.
    mutating func setQuery(_ emb: [Float]) {
        var n: Float = 0
        for i in 0..<D { let v = i < emb.count ? emb[i] : 0; queryEmbedding[i] = v; n += v * v }
        n = max(n.squareRoot(), 1e-30)
        for i in 0..<D { queryEmbedding[i] /= n }
        for c in 0..<count { semantic[c] = cosineToQuery(c) }
    }

    func cosineToQuery(_ c: Int) -> Float {
        var d: Float = 0
        let base = c * D
        for i in 0..<D { d += queryEmbedding[i] * embeddings[base + i] }
        return d
    }

    /// Accumulates the observed row `row` of layer `l` into the slot dot products: for each slot
    /// c, dots[c] += Σ_e row[e]·M[l][e][c], summed in expert order (eight slots at a time, each
    /// slot's sum in the same order as a scalar loop).
    mutating func accumulate(layer l: Int) {
        let n = count
        nonzero.removeAll(keepingCapacity: true)
        for e in 0..<E where row[e] != 0 { nonzero.append(e) }
        maps.withUnsafeBufferPointer { m in
            dots.withUnsafeMutableBufferPointer { d in
                nonzero.withUnsafeBufferPointer { nz in
                    row.withUnsafeBufferPointer { rw in
                        let mr = UnsafeRawPointer(m.baseAddress!)
                        let dr = UnsafeMutableRawPointer(d.baseAddress!)
                        let B = blocks
                        var c = 0
                        while c + 8 <= n {
                            var acc = dr.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
                            let base = (l * B + (c >> 3)) * E
                            for e in nz {
                                let v = mr.loadUnaligned(fromByteOffset: (base + e) * 32, as: SIMD8<Float>.self)
                                acc += SIMD8<Float>(repeating: rw[e]) * v
                            }
                            dr.storeBytes(of: acc, toByteOffset: c * 4, as: SIMD8<Float>.self)
                            c += 8
                        }
                        while c < n {
                            var a = d[c]
                            for e in nz { a += rw[e] * m[((l * B + (c >> 3)) * E + e) * 8 + (c & 7)] }
                            d[c] = a
                            c += 1
                        }
                    }
                }
            }
        }
        var s: Float = 0
        for e in 0..<E { s += row[e] * row[e] }
        observedNorm2 += s
    }

    /// Inserts the map in `mapScratch` (embedding `queryEmbedding`, owner, iteration), using
    /// `dots`/`observedNorm2` (accumulated over all layers of this map) for the redundancy score.
    mutating func insert(owner id: UInt64, iteration: Int) {
        var slot = count
        if count == capacity {
            let w = Float(distance) / Float(L)
            var best = 0
            var bestR = -Float.infinity
            let on = observedNorm2.squareRoot()
            for c in 0..<capacity {
                let mn = prefixNorm2[c * L + L - 1].squareRoot()
                let mapCos = on > 0 && mn > 0 ? dots[c] / (on * mn) : 0
                let r = w * semantic[c] + (1 - w) * mapCos
                if r > bestR { bestR = r; best = c }
            }
            slot = best
        } else {
            count += 1
        }
        var acc: Float = 0
        for l in 0..<L {
            for e in 0..<E {
                let v = mapScratch[l * E + e]
                maps[mi(l, e, slot)] = v
                acc += v * v
            }
            prefixNorm2[slot * L + l] = acc
        }
        for i in 0..<D { embeddings[slot * D + i] = queryEmbedding[i] }
        owner[slot] = id
        iterationOf[slot] = Int32(iteration)
        semantic[slot] = 1
    }

    /// Learns a whole request (warm-up): every iteration's map enters the store.
    public mutating func warm(_ r: RoutingRequest, core: inout ServingCore) {
        setQuery(r.embedding)
        for it in 0..<r.iterations {
            for c in 0..<count { dots[c] = 0 }
            observedNorm2 = 0
            let base = r.probOffset(it, 0)
            for l in 0..<L {
                for e in 0..<E { row[e] = r.probs[base + l * E + e]; mapScratch[l * E + e] = row[e] }
                accumulate(layer: l)
            }
            insert(owner: r.id, iteration: it)
        }
    }

    // MARK: serving

    var ownIDs: [UInt64] = []

    @inline(__always) func isOwn(_ c: Int) -> Bool {
        let o = owner[c]
        for id in ownIDs where id == o { return true }
        return false
    }

    public mutating func iterationStarted(core: inout ServingCore) {
        // The batch's query embedding (the mean for a batch) and the semantic scores.
        ownIDs.removeAll(keepingCapacity: true)
        for b in core.batch { ownIDs.append(b.routing.id) }
        if ownIDs != semanticFor {
            var q = [Float](repeating: 0, count: D)
            for b in core.batch { for i in 0..<min(D, b.routing.embedding.count) { q[i] += b.routing.embedding[i] } }
            setQuery(q)
            semanticFor = ownIDs
        }
        for c in 0..<count { dots[c] = 0 }
        observedNorm2 = 0
        // Semantic match: best embedding cosine, ties to the nearest iteration index.
        let it = Int32(core.batch.first?.iteration ?? 0)
        semBest = -1
        semScore = -Float.infinity
        var bestGap = Int32.max
        for c in 0..<count {
            let s = semantic[c]
            let gap = abs(iterationOf[c] - it)
            if s > semScore + 1e-6 || (abs(s - semScore) <= 1e-6 && gap < bestGap) {
                semScore = s; semBest = c; bestGap = gap
            }
        }
        trajBest = -1
        queue.removeAll()
        for t in 0..<min(distance, L) { plan(layer: t, from: -1, slot: semBest, score: semScore, core: &core) }
    }

    /// Queues the experts of `layer` predicted by `slot`'s map: the smallest set (highest
    /// probabilities first, ties to the lower id) whose mass reaches δ, at least top-k.
    mutating func plan(layer t: Int, from now: Int, slot: Int, score: Float, core: inout ServingCore) {
        guard slot >= 0 else { return }
        planVersion &+= 1
        let delta = min(max(1 - score, 0), 1)
        for e in 0..<E {
            let p = maps[mi(t, e, slot)]
            row2[e] = p
            predicted[t * E + e] = p
        }
        var mass: Float = 0
        var taken = 0
        while taken < E && (taken < core.topK || mass < delta) {
            var best = -1
            var bp: Float = -1
            for e in 0..<E where row2[e] > bp { bp = row2[e]; best = e }
            guard best >= 0 else { break }
            row2[best] = -2   // taken
            mass += bp
            taken += 1
            let x = core.id(layer: t, expert: best)
            if core.isAbsent(x) { queue.add(x, priority: bp / Float(t - now), gpu: core.gpuOf(x)) }
        }
    }

    public mutating func gate(_ layer: Int, core: inout ServingCore) {
        core.copyProbs(layer, into: &row)
        accumulate(layer: layer)
        // Trajectory match on the observed prefix.
        var best = -1
        var bestS = -Float.infinity
        let on = observedNorm2
        if on > 0 {
            for c in 0..<count {
                let d = dots[c]
                let mn = prefixNorm2[c * L + layer]
                guard mn > 0 else { continue }
                let s = d / (on * mn).squareRoot()
                if s > bestS { bestS = s; best = c }
            }
        }
        trajBest = best
        trajScore = bestS
        queue.removeAll()
        let last = min(layer + distance, L - 1)
        if layer + 1 <= last {
            for t in (layer + 1)...last {
                if t < distance { plan(layer: t, from: layer, slot: semBest, score: semScore, core: &core) }
                else { plan(layer: t, from: layer, slot: trajBest, score: trajScore, core: &core) }
            }
        }
    }

    public mutating func iterationFinished(core: inout ServingCore) {
        // Layers never gated (none, normally) contribute nothing; the map is the observed one.
        for i in 0..<(L * E) { mapScratch[i] = core.iterationMap[i] }
        insert(owner: core.batch.first?.routing.id ?? .max, iteration: core.batch.first?.iteration ?? 0)
    }

    public mutating func nextPrefetch(gpu: Int, core: inout ServingCore) -> ExpertID? {
        queue.pop(gpu: gpu) { core.isAbsent($0) }
    }

    @inline(__always) func evictionScore(_ x: Int, core: borrowing ServingCore) -> Float {
        predicted[x] * Float(core.frequency[x] + 1)
    }

    var cached: (version: UInt64, gpu: Int, best: Int, score: Float, plan: UInt64) = (.max, -1, -1, 0, 0)
    /// Bumped whenever `predicted` changes.
    var planVersion: UInt64 = 0

    public mutating func victim(gpu: Int, incoming: ExpertID, demand: Bool, core: inout ServingCore) -> ExpertID? {
        var best = -1
        var bestS = Float.infinity
        if cached.version == core.version && cached.gpu == gpu && cached.plan == planVersion {
            best = cached.best; bestS = cached.score
        } else {
            var bestT = Int64.max
            core.forEachExpert(onGPU: gpu) { x in
                let i = Int(x)
                guard core.isEvictable(x) else { return }
                let s = evictionScore(i, core: core)
                if s < bestS || (s == bestS && core.lastUse[i] < bestT) { bestS = s; bestT = core.lastUse[i]; best = i }
            }
            cached = (core.version, gpu, best, bestS, planVersion)
        }
        if best < 0 { return nil }
        if !demand && bestS >= evictionScore(Int(incoming), core: core) { return nil }
        return ExpertID(best)
    }
}

/// y[i] += a · x[i] for i in 0..<n, eight lanes at a time (elementwise, so the result is the
/// same as the scalar loop's).
@inline(__always)
func saxpy(_ n: Int, _ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var i = 0
    let av = SIMD8<Float>(repeating: a)
    let xr = UnsafeRawPointer(x), yr = UnsafeMutableRawPointer(y)
    while i + 8 <= n {
        let xv = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let yv = yr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        yr.storeBytes(of: yv + av * xv, toByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { y[i] += a * x[i]; i += 1 }
}
