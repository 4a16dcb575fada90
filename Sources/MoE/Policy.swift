// The offloading policy interface: what to prefetch, when, and what to evict (DESIGN.md §6).
//
// A policy is a value type the serving loop is generic over (static dispatch, no boxing). The
// loop calls its hooks at fixed points of an iteration and pulls prefetch candidates from it one
// at a time whenever a GPU's host link is free of demand loads and prefetches; it asks it for a
// victim whenever a load needs a slot. Policies read the loop's state through `ServingCore`.

/// Global expert index: moeLayer × experts + expert.
public typealias ExpertID = Int32

public protocol OffloadPolicy {
    /// The name used in configs.
    static var name: String { get }
    /// Whether every routed expert is resident from the start and the cache budget is ignored.
    static var allResident: Bool { get }
    /// Whether a layer's expert computation waits for every load the policy started for that
    /// layer (DeepSpeed-Inference's whole-layer fetch), not only for the selected experts.
    static var waitsForWholeLayer: Bool { get }

    /// Called with each warm-up request before the measured run (history-based policies learn).
    mutating func warm(_ request: RoutingRequest, core: inout ServingCore)
    /// A new iteration starts (requests admitted; `core.currentLayer == -1`).
    mutating func iterationStarted(core: inout ServingCore)
    /// MoE layer `layer` is reached (before its attention).
    mutating func layerStarted(_ layer: Int, core: inout ServingCore)
    /// The gate of MoE layer `layer` has run: `core.probs(layer)` and `core.selected(layer)` are
    /// observed. Called before the loop serves the selected experts.
    mutating func gate(_ layer: Int, core: inout ServingCore)
    /// The iteration finished (its map is complete).
    mutating func iterationFinished(core: inout ServingCore)
    /// A request finished.
    mutating func requestFinished(_ request: RoutingRequest, core: inout ServingCore)
    /// The next expert to prefetch onto GPU `gpu`, or nil. Must be absent (neither resident nor
    /// loading) and live on `gpu`. The loop may drop it if no slot can be made.
    mutating func nextPrefetch(gpu: Int, core: inout ServingCore) -> ExpertID?
    /// The resident, unpinned expert on `gpu` to evict so that `incoming` can load, or nil to
    /// refuse (a prefetch is then dropped; a demand load falls back to LRU).
    mutating func victim(gpu: Int, incoming: ExpertID, demand: Bool, core: inout ServingCore) -> ExpertID?
    /// `expert` finished loading.
    mutating func loadCompleted(_ expert: ExpertID, core: inout ServingCore)
}

extension OffloadPolicy {
    public static var allResident: Bool { false }
    public static var waitsForWholeLayer: Bool { false }
    public mutating func warm(_ request: RoutingRequest, core: inout ServingCore) {}
    public mutating func iterationStarted(core: inout ServingCore) {}
    public mutating func layerStarted(_ layer: Int, core: inout ServingCore) {}
    public mutating func gate(_ layer: Int, core: inout ServingCore) {}
    public mutating func iterationFinished(core: inout ServingCore) {}
    public mutating func requestFinished(_ request: RoutingRequest, core: inout ServingCore) {}
    public mutating func nextPrefetch(gpu: Int, core: inout ServingCore) -> ExpertID? { nil }
    public mutating func victim(gpu: Int, incoming: ExpertID, demand: Bool, core: inout ServingCore) -> ExpertID? {
        core.lruVictim(gpu: gpu)
    }
    public mutating func loadCompleted(_ expert: ExpertID, core: inout ServingCore) {}
}

/// Prefetch candidates per GPU, highest priority first (ties: lower expert id). Adding is O(1)
/// (a candidate already queued keeps the higher priority); the list is sorted lazily on the
/// first pop after changes. No allocation in steady state.
public struct PrefetchQueue {
    var lists: [[ExpertID]]
    var sorted: [Bool]
    /// Priority of each queued expert (by global id); −1 when not queued.
    var priority: [Float]

    public init(gpus: Int, experts: Int) {
        lists = Array(repeating: [], count: gpus)
        sorted = Array(repeating: true, count: gpus)
        priority = [Float](repeating: -1, count: experts)
    }

    public mutating func removeAll() {
        for g in lists.indices {
            for x in lists[g] { priority[Int(x)] = -1 }
            lists[g].removeAll(keepingCapacity: true)
            sorted[g] = true
        }
    }

    /// Adds a candidate, or raises its priority.
    public mutating func add(_ x: ExpertID, priority p: Float, gpu: Int) {
        let i = Int(x)
        if priority[i] >= 0 {
            if priority[i] < p { priority[i] = p; sorted[gpu] = false }
            return
        }
        priority[i] = max(p, 0)
        lists[gpu].append(x)
        sorted[gpu] = false
    }

    /// Removes and returns the best candidate on `gpu` that `isAbsent` accepts.
    public mutating func pop(gpu: Int, isAbsent: (ExpertID) -> Bool) -> ExpertID? {
        if !sorted[gpu] {
            // Ascending, so that the best is last: lower priority first; ties: higher id first.
            // An in-place heap sort: no temporary buffer (the standard sort allocates one).
            priority.withUnsafeBufferPointer { pr in
                lists[gpu].withUnsafeMutableBufferPointer { a in
                    heapSort(a) { x, y in
                        let px = pr[Int(x)], py = pr[Int(y)]
                        return px < py || (px == py && x > y)
                    }
                }
            }
            sorted[gpu] = true
        }
        while let x = lists[gpu].popLast() {
            priority[Int(x)] = -1
            if isAbsent(x) { return x }
        }
        return nil
    }

    public func isEmpty(gpu: Int) -> Bool { lists[gpu].isEmpty }
    /// The priority of `x` if queued.
    public func priority(of x: ExpertID) -> Float? { priority[Int(x)] >= 0 ? priority[Int(x)] : nil }
}

/// Sorts in place by `less` (ascending), without allocating. Not stable; callers give a total
/// order, so the result is deterministic.
@inline(__always)
func heapSort<T>(_ a: UnsafeMutableBufferPointer<T>, _ less: (T, T) -> Bool) {
    let n = a.count
    if n < 2 { return }
    func siftDown(_ start: Int, _ end: Int) {
        var root = start
        while true {
            var child = 2 * root + 1
            if child >= end { return }
            if child + 1 < end && less(a[child], a[child + 1]) { child += 1 }
            if less(a[root], a[child]) { a.swapAt(root, child); root = child } else { return }
        }
    }
    var i = n / 2 - 1
    while i >= 0 { siftDown(i, n); i -= 1 }
    var end = n - 1
    while end > 0 { a.swapAt(0, end); siftDown(0, end); end -= 1 }
}
