/// A shared resource with a capacity, in work units per second (bytes/s for a link or HBM,
/// SM-seconds per second for an SM pool).
@frozen
public struct ConstraintID: Hashable, Sendable {
    public let index: Int32
    @inlinable init(_ i: Int32) { index = i }
}

/// An activity that consumes one or more constraints until its work is done (a running
/// kernel, a copy). Carries a generation so that an id of a finished flow never names
/// the flow that later reuses its slot.
@frozen
public struct FlowID: Hashable, Sendable {
    public let index: Int32
    public let generation: UInt32
    @inlinable init(index: Int32, generation: UInt32) { self.index = index; self.generation = generation }
}

/// The constraints a flow consumes, each with a coefficient: a flow at rate `r` consumes
/// `coefficient · r` of that constraint's capacity. Up to four, stored inline (no allocation).
///
/// ```swift
/// // A kernel of 1 unit of work that moves 3 GB of DRAM traffic per unit:
/// let uses = FlowUses(smPool).adding(hbm, coefficient: 3e9)
/// ```
@frozen
public struct FlowUses: Sendable, Equatable {
    public static let maxCount = 4
    @usableFromInline var c0: Int32 = -1, c1: Int32 = -1, c2: Int32 = -1, c3: Int32 = -1
    @usableFromInline var k0 = 0.0, k1 = 0.0, k2 = 0.0, k3 = 0.0
    public private(set) var count: Int = 0

    /// No constraint: the flow's rate is its cap alone.
    public init() {}

    public init(_ c: ConstraintID, coefficient: Double = 1) {
        self = FlowUses().adding(c, coefficient: coefficient)
    }

    /// Adds a constraint. Precondition: fewer than four so far, the constraint not already
    /// used, and a positive finite coefficient.
    public func adding(_ c: ConstraintID, coefficient: Double = 1) -> FlowUses {
        precondition(count < FlowUses.maxCount, "a flow uses at most \(FlowUses.maxCount) constraints")
        precondition(coefficient > 0 && coefficient.isFinite, "coefficient must be positive and finite, got \(coefficient)")
        for i in 0..<count { precondition(constraint(i) != c, "constraint \(c.index) used twice by one flow") }
        var u = self
        switch count {
        case 0: u.c0 = c.index; u.k0 = coefficient
        case 1: u.c1 = c.index; u.k1 = coefficient
        case 2: u.c2 = c.index; u.k2 = coefficient
        default: u.c3 = c.index; u.k3 = coefficient
        }
        u.count += 1
        return u
    }

    @inlinable public func constraint(_ i: Int) -> ConstraintID {
        switch i { case 0: ConstraintID(c0); case 1: ConstraintID(c1); case 2: ConstraintID(c2); default: ConstraintID(c3) }
    }

    @inlinable public func coefficient(_ i: Int) -> Double {
        switch i { case 0: k0; case 1: k1; case 2: k2; default: k3 }
    }
}

/// Fluid sharing of capacitated resources by weighted max-min fairness.
///
/// Resources are *constraints* with a capacity; activities are *flows* with remaining
/// work, a weight, an optional rate cap, and the constraints they consume (SimGrid's LMM
/// model). Rates are the weighted max-min fair allocation computed by progressive
/// filling: every unfixed flow `f` runs at `wᶠ·λ` while the common level `λ` rises; a
/// flow is fixed when one of its constraints saturates or its cap is reached.
///
/// **Incremental.** Starting, finishing or changing a flow, or changing a capacity, marks
/// constraints modified; ``solve(at:)`` re-solves only the flows connected to modified
/// constraints (through shared constraints), so the cost of a change is proportional to
/// the flows that share its resources, not to all flows in the system.
///
/// **Time.** Remaining work is advanced lazily, only when a flow's rate changes. Each flow's
/// finish time (ns, rounded up) sits in an indexed heap; ``nextCompletion`` is its top and
/// ``scheduleNextCompletion(_:event:)`` keeps exactly one completion event in the
/// simulator's queue. Nothing is allocated per change once the internal arrays have grown.
///
/// Usage from an ``EventHandler``:
/// ```swift
/// let f = fluid.startFlow(work: 1e9, uses: FlowUses(pcie), at: scheduler.now, tag: copyID)
/// fluid.solve(at: scheduler.now)
/// fluid.scheduleNextCompletion(&scheduler, event: .fluidCompletion)
/// // on .fluidCompletion:
/// fluid.completeFlows(at: scheduler.now) { id, tag in ... }
/// fluid.solve(at: scheduler.now)
/// fluid.scheduleNextCompletion(&scheduler, event: .fluidCompletion)
/// ```
public struct FluidSystem {
    // MARK: storage

    @usableFromInline
    struct Constraint {
        var capacity: Double
        /// Indices of the active flows that use this constraint.
        var flows: [Int32] = []
        var dirty = false
        var mark: UInt32 = 0
        // progressive-filling scratch
        var remaining = 0.0
        var denominator = 0.0
        var unfixed = 0
    }

    @usableFromInline
    struct Flow {
        var generation: UInt32 = 0
        var active = false
        var weight = 1.0
        var cap = Double.infinity
        var rate = 0.0
        /// Work left as of `updatedAt`.
        var remaining = 0.0
        var updatedAt: Int64 = 0
        var finishAt: Int64 = .max
        var uses = FlowUses()
        /// Position of this flow in each used constraint's `flows` list.
        var pos0: Int32 = -1, pos1: Int32 = -1, pos2: Int32 = -1, pos3: Int32 = -1
        var heapPos: Int32 = -1
        var tag: UInt64 = 0
        var mark: UInt32 = 0
        var fixed = false
        var newRate = 0.0

        func pos(_ i: Int) -> Int32 {
            switch i { case 0: pos0; case 1: pos1; case 2: pos2; default: pos3 }
        }
        mutating func setPos(_ i: Int, _ p: Int32) {
            switch i { case 0: pos0 = p; case 1: pos1 = p; case 2: pos2 = p; default: pos3 = p }
        }
    }

    @usableFromInline var constraints: [Constraint] = []
    @usableFromInline var constraintNames: [String] = []
    @usableFromInline var flows: [Flow] = []
    @usableFromInline var freeFlows: [Int32] = []
    @usableFromInline var dirty: [Int32] = []
    /// Indexed min-heap of active flow indices by (finishAt, index).
    @usableFromInline var heap: [Int32] = []
    @usableFromInline var epoch: UInt32 = 0
    // scratch, reused across solves
    @usableFromInline var compConstraints: [Int32] = []
    @usableFromInline var compFlows: [Int32] = []
    @usableFromInline var capped: [(level: Double, flow: Int32)] = []
    @usableFromInline var scheduledHandle: EventHandle? = nil
    @usableFromInline var scheduledTime: Int64 = .max

    /// Number of flows whose rates were recomputed by the last ``solve(at:)`` (a cost measure).
    public private(set) var lastSolveFlowCount = 0
    /// Number of active flows.
    public private(set) var activeFlowCount = 0

    public init() {}

    // MARK: constraints

    /// Adds a resource of `capacity` work units per second (≥ 0, finite).
    public mutating func addConstraint(capacity: Double, name: String = "") -> ConstraintID {
        precondition(capacity >= 0 && capacity.isFinite, "capacity must be finite and ≥ 0, got \(capacity)")
        constraints.append(Constraint(capacity: capacity))
        constraintNames.append(name)
        return ConstraintID(Int32(constraints.count - 1))
    }

    public var constraintCount: Int { constraints.count }
    public func capacity(of c: ConstraintID) -> Double { constraints[Int(c.index)].capacity }
    public func name(of c: ConstraintID) -> String { constraintNames[Int(c.index)] }
    /// Active flows consuming `c`.
    public func flowCount(on c: ConstraintID) -> Int { constraints[Int(c.index)].flows.count }

    /// Capacity in use: Σ coefficient · rate over the flows on `c` (valid after a solve).
    public func usage(of c: ConstraintID) -> Double {
        var u = 0.0
        for fi in constraints[Int(c.index)].flows {
            let f = flows[Int(fi)]
            for k in 0..<f.uses.count where f.uses.constraint(k) == c { u += f.uses.coefficient(k) * f.rate }
        }
        return u
    }

    /// Changes a capacity (e.g. an SM partition resized); takes effect at the next solve.
    public mutating func setCapacity(_ c: ConstraintID, _ capacity: Double) {
        precondition(capacity >= 0 && capacity.isFinite, "capacity must be finite and ≥ 0, got \(capacity)")
        constraints[Int(c.index)].capacity = capacity
        markDirty(c.index)
    }

    // MARK: flows

    /// Starts a flow of `work` units at `now`. `cap` bounds its rate (work units/s); a flow
    /// with no constraint must have a finite cap. Takes effect at the next solve.
    @discardableResult
    public mutating func startFlow(work: Double, weight: Double = 1, cap: Double = .infinity,
                                   uses: FlowUses, at now: SimTime, tag: UInt64 = 0) -> FlowID {
        precondition(work >= 0 && work.isFinite, "work must be finite and ≥ 0, got \(work)")
        precondition(weight > 0 && weight.isFinite, "weight must be positive and finite, got \(weight)")
        precondition(cap > 0, "cap must be positive, got \(cap)")
        precondition(uses.count > 0 || cap.isFinite, "a flow with no constraint needs a finite cap")
        let i: Int32
        if let free = freeFlows.popLast() { i = free } else {
            flows.append(Flow())
            i = Int32(flows.count - 1)
        }
        var f = flows[Int(i)]
        f.active = true
        f.weight = weight
        f.cap = cap
        f.rate = 0
        f.remaining = work
        f.updatedAt = now.nanoseconds
        f.finishAt = .max
        f.uses = uses
        f.tag = tag
        f.fixed = false
        for k in 0..<uses.count {
            let c = Int(uses.constraint(k).index)
            f.setPos(k, Int32(constraints[c].flows.count))
            constraints[c].flows.append(i)
            markDirty(Int32(c))
        }
        flows[Int(i)] = f
        activeFlowCount += 1
        heapInsert(i)
        if uses.count == 0 { setRate(i, cap, now: now.nanoseconds) }
        return FlowID(index: i, generation: f.generation)
    }

    /// Whether `id` names a running flow.
    public func isActive(_ id: FlowID) -> Bool {
        let i = Int(id.index)
        return i >= 0 && i < flows.count && flows[i].active && flows[i].generation == id.generation
    }

    /// Current rate (work units/s) of an active flow.
    public func rate(of id: FlowID) -> Double { checked(id).rate }
    public func tag(of id: FlowID) -> UInt64 { checked(id).tag }
    /// Predicted completion time under current rates (``SimTime/max`` if starved).
    public func finishTime(of id: FlowID) -> SimTime { SimTime(nanoseconds: checked(id).finishAt) }

    /// Work left at `now` under the current rate.
    public func remainingWork(of id: FlowID, at now: SimTime) -> Double {
        let f = checked(id)
        return Swift.max(0, f.remaining - f.rate * Double(now.nanoseconds - f.updatedAt) * 1e-9)
    }

    /// Stops a flow before it finishes (preemption, abort) and returns its remaining work.
    @discardableResult
    public mutating func removeFlow(_ id: FlowID, at now: SimTime) -> Double {
        let left = remainingWork(of: id, at: now)
        retire(id.index)
        return left
    }

    /// Changes an active flow's weight; takes effect at the next solve.
    public mutating func setWeight(_ id: FlowID, _ weight: Double) {
        precondition(weight > 0 && weight.isFinite, "weight must be positive and finite, got \(weight)")
        _ = checked(id)
        flows[Int(id.index)].weight = weight
        markFlowConstraints(id.index)
    }

    /// Changes an active flow's rate cap; takes effect at the next solve.
    public mutating func setCap(_ id: FlowID, _ cap: Double, at now: SimTime) {
        precondition(cap > 0, "cap must be positive, got \(cap)")
        let f = checked(id)
        precondition(f.uses.count > 0 || cap.isFinite, "a flow with no constraint needs a finite cap")
        flows[Int(id.index)].cap = cap
        if f.uses.count == 0 { setRate(id.index, cap, now: now.nanoseconds) } else { markFlowConstraints(id.index) }
    }

    // MARK: completion

    /// Earliest predicted completion among active flows, or nil when there is none.
    /// Valid after ``solve(at:)``.
    public var nextCompletion: SimTime? {
        guard let top = heap.first else { return nil }
        let t = flows[Int(top)].finishAt
        return t == .max ? nil : SimTime(nanoseconds: t)
    }

    /// Retires every flow predicted to finish at or before `now`, in (finish time, index)
    /// order, calling `body` with its id and tag. Call ``solve(at:)`` afterwards.
    public mutating func completeFlows(at now: SimTime, _ body: (FlowID, UInt64) throws -> Void) rethrows {
        while let top = heap.first, flows[Int(top)].finishAt <= now.nanoseconds {
            let f = flows[Int(top)]
            let id = FlowID(index: top, generation: f.generation)
            retire(top)
            try body(id, f.tag)
        }
    }

    /// Keeps exactly one event in `scheduler`'s queue for ``nextCompletion``: cancels the
    /// previous one if the time moved, schedules `event` at the new time. Call after a solve.
    public mutating func scheduleNextCompletion<E>(_ scheduler: inout Scheduler<E>, event: E) {
        let t = nextCompletion?.nanoseconds ?? .max
        if let h = scheduledHandle, scheduler.isPending(h) {
            if t == scheduledTime { return }
            scheduler.cancel(h)
        }
        scheduledHandle = nil
        scheduledTime = .max
        if t != .max {
            scheduledHandle = scheduler.schedule(event, at: SimTime(nanoseconds: Swift.max(t, scheduler.now.nanoseconds)))
            scheduledTime = t
        }
    }

    // MARK: solving

    /// Recomputes the rates of every flow connected to a modified constraint, as of `now`.
    public mutating func solve(at now: SimTime) {
        lastSolveFlowCount = 0
        if dirty.isEmpty { return }
        epoch &+= 1
        if epoch == 0 { resetMarks() }
        let e = epoch
        compConstraints.removeAll(keepingCapacity: true)
        compFlows.removeAll(keepingCapacity: true)
        // Component of the modified constraints: breadth-first over shared flows.
        for c in dirty where constraints[Int(c)].mark != e {
            constraints[Int(c)].mark = e
            compConstraints.append(c)
        }
        for c in dirty { constraints[Int(c)].dirty = false }
        dirty.removeAll(keepingCapacity: true)
        var head = 0
        while head < compConstraints.count {
            let c = Int(compConstraints[head]); head += 1
            for fi in constraints[c].flows where flows[Int(fi)].mark != e {
                flows[Int(fi)].mark = e
                compFlows.append(fi)
                let u = flows[Int(fi)].uses
                for k in 0..<u.count {
                    let c2 = u.constraint(k).index
                    if constraints[Int(c2)].mark != e {
                        constraints[Int(c2)].mark = e
                        compConstraints.append(c2)
                    }
                }
            }
        }
        lastSolveFlowCount = compFlows.count
        progressiveFilling()
        let t = now.nanoseconds
        for fi in compFlows { setRate(fi, flows[Int(fi)].newRate, now: t) }
    }

    /// Weighted max-min fair rates for the flows in `compFlows` (results in `newRate`).
    mutating func progressiveFilling() {
        for c in compConstraints {
            let ci = Int(c)
            constraints[ci].remaining = constraints[ci].capacity
            constraints[ci].denominator = 0
            constraints[ci].unfixed = 0
        }
        capped.removeAll(keepingCapacity: true)
        for fi in compFlows {
            let f = flows[Int(fi)]
            flows[Int(fi)].fixed = false
            for k in 0..<f.uses.count {
                let ci = Int(f.uses.constraint(k).index)
                constraints[ci].denominator += f.uses.coefficient(k) * f.weight
                constraints[ci].unfixed += 1
            }
            if f.cap.isFinite { capped.append((f.cap / f.weight, fi)) }
        }
        capped.sort { $0.level < $1.level || ($0.level == $1.level && $0.flow < $1.flow) }
        var nextCapped = 0
        var unfixedFlows = compFlows.count
        while unfixedFlows > 0 {
            // The constraint that saturates first as the level rises.
            var bestLevel = Double.infinity
            var bestC: Int32 = -1
            for c in compConstraints {
                let con = constraints[Int(c)]
                if con.unfixed == 0 { continue }
                let level = con.denominator > 0 ? Swift.max(0, con.remaining) / con.denominator : Double.infinity
                if level < bestLevel { bestLevel = level; bestC = c }
            }
            while nextCapped < capped.count && flows[Int(capped[nextCapped].flow)].fixed { nextCapped += 1 }
            if nextCapped < capped.count && capped[nextCapped].level <= bestLevel {
                let fi = capped[nextCapped].flow
                nextCapped += 1
                fix(fi, rate: flows[Int(fi)].cap)
                unfixedFlows -= 1
                continue
            }
            guard bestC >= 0 else {
                // Only uncapped flows on constraints with no denominator: cannot happen with
                // positive weights and coefficients; fix the rest at zero defensively.
                for fi in compFlows where !flows[Int(fi)].fixed { fix(fi, rate: 0); unfixedFlows -= 1 }
                break
            }
            // Fix every unfixed flow on the saturated constraint at weight · level.
            let members = constraints[Int(bestC)].flows
            for fi in members where !flows[Int(fi)].fixed {
                fix(fi, rate: flows[Int(fi)].weight * bestLevel)
                unfixedFlows -= 1
            }
        }
    }

    @inline(__always)
    mutating func fix(_ fi: Int32, rate: Double) {
        flows[Int(fi)].fixed = true
        flows[Int(fi)].newRate = rate
        let f = flows[Int(fi)]
        for k in 0..<f.uses.count {
            let ci = Int(f.uses.constraint(k).index)
            let coef = f.uses.coefficient(k)
            constraints[ci].remaining -= coef * rate
            constraints[ci].denominator -= coef * f.weight
            constraints[ci].unfixed -= 1
            if constraints[ci].unfixed == 0 { constraints[ci].denominator = 0 }
        }
    }

    // MARK: internals

    func checked(_ id: FlowID) -> Flow {
        precondition(isActive(id), "flow \(id.index) (generation \(id.generation)) is not active")
        return flows[Int(id.index)]
    }

    mutating func markDirty(_ c: Int32) {
        if !constraints[Int(c)].dirty {
            constraints[Int(c)].dirty = true
            dirty.append(c)
        }
    }

    mutating func markFlowConstraints(_ fi: Int32) {
        let u = flows[Int(fi)].uses
        for k in 0..<u.count { markDirty(u.constraint(k).index) }
    }

    mutating func resetMarks() {
        for i in constraints.indices { constraints[i].mark = 0 }
        for i in flows.indices { flows[i].mark = 0 }
        epoch = 1
    }

    /// Sets a flow's rate at time `now`, advancing its remaining work under the old rate first.
    mutating func setRate(_ fi: Int32, _ rate: Double, now: Int64) {
        var f = flows[Int(fi)]
        if f.rate == rate && f.finishAt != .max { return }
        if now > f.updatedAt {
            f.remaining = Swift.max(0, f.remaining - f.rate * Double(now - f.updatedAt) * 1e-9)
            f.updatedAt = now
        }
        f.rate = rate
        if f.remaining <= 0 {
            f.finishAt = now
        } else if rate > 0 {
            let dt = (f.remaining / rate * 1e9).rounded(.up)
            f.finishAt = dt >= 9e18 ? .max : now + Int64(dt)
        } else {
            f.finishAt = .max
        }
        flows[Int(fi)] = f
        heapUpdate(fi)
    }

    mutating func retire(_ fi: Int32) {
        let f = flows[Int(fi)]
        precondition(f.active, "flow \(fi) retired twice")
        for k in 0..<f.uses.count {
            let ci = Int(f.uses.constraint(k).index)
            let p = Int(f.pos(k))
            let last = constraints[ci].flows.removeLast()
            if p < constraints[ci].flows.count {
                constraints[ci].flows[p] = last
                // Update the moved flow's position for this constraint.
                let u = flows[Int(last)].uses
                for k2 in 0..<u.count where u.constraint(k2).index == Int32(ci) {
                    flows[Int(last)].setPos(k2, Int32(p))
                }
            }
            markDirty(Int32(ci))
        }
        heapRemove(fi)
        flows[Int(fi)].active = false
        flows[Int(fi)].generation &+= 1
        flows[Int(fi)].rate = 0
        freeFlows.append(fi)
        activeFlowCount -= 1
    }

    // MARK: indexed heap of finish times

    @inline(__always) func before(_ a: Int32, _ b: Int32) -> Bool {
        let fa = flows[Int(a)].finishAt, fb = flows[Int(b)].finishAt
        return fa < fb || (fa == fb && a < b)
    }

    mutating func heapInsert(_ fi: Int32) {
        heap.append(fi)
        flows[Int(fi)].heapPos = Int32(heap.count - 1)
        heapSiftUp(heap.count - 1)
    }

    mutating func heapRemove(_ fi: Int32) {
        let p = Int(flows[Int(fi)].heapPos)
        let last = heap.removeLast()
        flows[Int(fi)].heapPos = -1
        if p < heap.count {
            heap[p] = last
            flows[Int(last)].heapPos = Int32(p)
            heapSiftUp(p)
            heapSiftDown(Int(flows[Int(last)].heapPos))
        }
    }

    mutating func heapUpdate(_ fi: Int32) {
        let p = Int(flows[Int(fi)].heapPos)
        heapSiftUp(p)
        heapSiftDown(Int(flows[Int(fi)].heapPos))
    }

    mutating func heapSiftUp(_ start: Int) {
        var i = start
        let x = heap[i]
        while i > 0 {
            let parent = (i - 1) >> 1
            if before(x, heap[parent]) {
                heap[i] = heap[parent]
                flows[Int(heap[i])].heapPos = Int32(i)
                i = parent
            } else { break }
        }
        heap[i] = x
        flows[Int(x)].heapPos = Int32(i)
    }

    mutating func heapSiftDown(_ start: Int) {
        var i = start
        let x = heap[i]
        let n = heap.count
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && before(heap[l + 1], heap[l]) { c = l + 1 }
            if before(heap[c], x) {
                heap[i] = heap[c]
                flows[Int(heap[i])].heapPos = Int32(i)
                i = c
            } else { break }
        }
        heap[i] = x
        flows[Int(x)].heapPos = Int32(i)
    }
}

extension FluidSystem {
    /// Checks feasibility and max-min optimality of the current rates (tests, debug builds).
    /// Returns a description of the first violation, or nil. O(flows · constraints per flow).
    public func checkInvariants(relativeTolerance tol: Double = 1e-9) -> String? {
        var usage = [Double](repeating: 0, count: constraints.count)
        for f in flows where f.active {
            if f.rate < 0 || !f.rate.isFinite { return "flow rate \(f.rate) is negative or not finite" }
            if f.rate > f.cap * (1 + tol) { return "flow rate \(f.rate) above its cap \(f.cap)" }
            for k in 0..<f.uses.count { usage[Int(f.uses.constraint(k).index)] += f.uses.coefficient(k) * f.rate }
        }
        for (i, c) in constraints.enumerated() where usage[i] > c.capacity * (1 + tol) + 1e-12 {
            return "constraint \(i) '\(constraintNames[i])' over capacity: \(usage[i]) > \(c.capacity)"
        }
        // Bottleneck property: each flow is at its cap, or crosses a saturated constraint on
        // which no flow has a larger rate per unit weight.
        for (fi, f) in flows.enumerated() where f.active {
            if f.rate >= f.cap * (1 - tol) { continue }
            var bottlenecked = false
            for k in 0..<f.uses.count {
                let ci = Int(f.uses.constraint(k).index)
                guard usage[ci] >= constraints[ci].capacity * (1 - 1e-7) - 1e-12 else { continue }
                let level = f.rate / f.weight
                let maxLevel = constraints[ci].flows.map { flows[Int($0)].rate / flows[Int($0)].weight }.max() ?? 0
                if level >= maxLevel * (1 - 1e-7) { bottlenecked = true; break }
            }
            if !bottlenecked { return "flow \(fi) (rate \(f.rate)) has no bottleneck: allocation is not max-min fair" }
        }
        if activeFlowCount != flows.filter(\.active).count { return "active flow count mismatch" }
        for (p, fi) in heap.enumerated() where flows[Int(fi)].heapPos != Int32(p) { return "heap position of flow \(fi) stale" }
        return nil
    }
}
