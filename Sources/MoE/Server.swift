// The MoE serving loop: requests arrive, iterations run layer by layer (attention, gate,
// experts), every selected expert must be resident before it computes; misses load over the
// host link on demand (prefetches on that link pause meanwhile); the policy prefetches and
// evicts. Batch size 1 or continuous batching.
//
// The server does not own the fluid system or the scheduler: a host simulation passes them in,
// so that expert copies can share a GPU's PCIe link with other tenants (issue 8). The
// standalone host is `MoEStandaloneModel`.

import Hardware
import SimCore

/// The server's events. A host wraps them in its own event type (`MoEEventContainer`).
public enum MoEEvent: Sendable, Equatable {
    /// The next request of the trace arrives.
    case arrival
    /// The gate of the current MoE layer runs (its attention is done).
    case gate
    /// The current layer's computation is done.
    case layerDone
    /// The LM head is done: tokens are emitted.
    case iterationDone
    /// The fluid system's next completion (standalone host only).
    case fluid
}

/// A host event type that can carry MoE events.
public protocol MoEEventContainer { static func moe(_ e: MoEEvent) -> Self }
extension MoEEvent: MoEEventContainer { public static func moe(_ e: MoEEvent) -> MoEEvent { e } }

/// How request arrivals are timed.
public enum MoEArrivals: Sendable, Equatable {
    /// As written in the routing trace.
    case trace
    /// Closed loop: `concurrency` requests in the system; the next arrives when one finishes.
    case closed(concurrency: Int)
    /// Given arrival times (ns), one per request, in order (e.g. an Azure trace rescaled).
    case times([Int64])
}

/// One finished request.
public struct MoERequestRow: Sendable, Equatable {
    public var id: UInt64
    public var arrival: SimTime
    public var firstToken: SimTime
    public var finish: SimTime
    public var inputTokens: Int
    public var outputTokens: Int
}

/// Where the server reads its requests.
public enum MoERequestSource {
    case trace(RoutingTraceReader)
    case generator(RoutingGenerator, RoutingRequestBuilder)
    case list([RoutingRequest], Int)

    mutating func next() throws -> RoutingRequest? {
        switch self {
        case .trace(let r): return try r.next()
        case .generator(var g, var b):
            self = .list([], 0)   // drop this enum's references so that g's buffers stay unique
            let r = g.nextRequest(builder: &b)
            self = .generator(g, b)
            return r
        case .list(let a, let i):
            guard i < a.count else { return nil }
            self = .list(a, i + 1)
            return a[i]
        }
    }
}

public struct MoEServer<Policy: OffloadPolicy> {
    public var core: ServingCore
    public var policy: Policy
    public private(set) var costs: MoEStepCosts
    public let gpus: [GPUModel]
    public let hostMemory: HostMemory
    /// Tag of this server's flows in a shared fluid system (high 32 bits).
    public let tenantTag: UInt32
    public let maxBatch: Int
    public let arrivals: MoEArrivals
    /// Prefetch copies in flight per GPU link.
    public let maxPrefetchesInFlight: Int

    var source: MoERequestSource
    /// An expert copy: its flow's work (bytes, plus the fixed latency at the streaming rate), cap,
    /// and the constraints it uses on each GPU (that GPU's host-to-device link and HBM).
    let loadWork: Double
    let copyCap: Double
    let copyUses: [FlowUses]
    var requestsLeft: Int
    var arrivalsIssued = 0
    var nextArrival: RoutingRequest? = nil
    var waiting: [ActiveRequest] = []
    var waitingHead = 0
    var busy = false
    var modelLayer = 0
    var computeFree: Int64 = 0
    var pending = 0
    var waitingForLoads = false
    /// Token counts the cost tables cover.
    var maxTokens: Int
    var fusedLayerDone = false
    var needTokens: [Int32]
    var awaitOnly: [Bool]
    var pinnedList: [ExpertID] = []
    var loads: [ExpertLoad] = []
    var freeLoads: [Int32] = []
    var demandActive: [Int]
    var prefetchInFlight: [Int]
    var waitingDemand: [[ExpertID]]
    var finishedScratch: [Int] = []

    // Metrics.
    public private(set) var rows: [MoERequestRow] = []
    public private(set) var ttft = LatencyDistribution()
    public private(set) var tpot = LatencyDistribution()
    public private(set) var e2e = LatencyDistribution()
    public private(set) var expertMemory = TimeWeightedAverage()
    public private(set) var tokens: Int64 = 0
    public private(set) var lastFinish: SimTime = .zero
    public private(set) var firstArrival: SimTime? = nil
    /// Whether every request has been served.
    public var isDone: Bool { requestsLeft == 0 && nextArrival == nil && !busy && waitingHead == waiting.count }

    public init(policy: Policy, core: ServingCore, costs: MoEStepCosts, gpus: [GPUModel], hostMemory: HostMemory = .pinned,
                source: MoERequestSource, requests: Int, maxBatch: Int, arrivals: MoEArrivals,
                tenantTag: UInt32 = 0, maxPrefetchesInFlight: Int = 1) {
        precondition(gpus.count == core.gpus, "one GPU model per GPU")
        self.policy = policy
        self.core = core
        self.costs = costs
        self.maxTokens = costs.maxTokens
        self.gpus = gpus
        self.hostMemory = hostMemory
        self.source = source
        let c = gpus[0].copyFlow(bytes: core.expertBytes, direction: .hostToDevice, hostMemory: hostMemory)
        copyCap = c.cap
        loadWork = Double(core.expertBytes) + c.latency.seconds * c.cap
        copyUses = gpus.map { $0.copyFlow(bytes: core.expertBytes, direction: .hostToDevice, hostMemory: hostMemory).uses }
        self.requestsLeft = requests
        self.maxBatch = maxBatch
        self.arrivals = arrivals
        self.tenantTag = tenantTag
        self.maxPrefetchesInFlight = maxPrefetchesInFlight
        let n = core.totalExperts
        needTokens = [Int32](repeating: 0, count: n)
        awaitOnly = [Bool](repeating: false, count: n)
        demandActive = [Int](repeating: 0, count: core.gpus)
        prefetchInFlight = [Int](repeating: 0, count: core.gpus)
        waitingDemand = Array(repeating: [], count: core.gpus)
        if Policy.allResident {
            for x in 0..<n { self.core.state[x] = .resident }
            for x in 0..<n {
                self.core.used[x % core.gpus] += 1
                self.core.held[(x % core.gpus) * core.layers + x / core.experts] += 1
            }
            for g in 0..<core.gpus { self.core.capacity[g] = self.core.used[g] }
        }
        expertMemory = TimeWeightedAverage(initial: Double(self.core.used.reduce(0, +) * core.expertBytes), at: .zero)
    }

    /// Feeds warm-up requests to the policy (no simulation).
    public mutating func warm(_ r: RoutingRequest) { policy.warm(r, core: &core) }

    /// Reads the first request and schedules its arrival.
    public mutating func start<E: MoEEventContainer>(scheduler: inout Scheduler<E>) throws {
        switch arrivals {
        case .closed(let c):
            for _ in 0..<max(c, 1) { try fetchAndSchedule(at: scheduler.now, scheduler: &scheduler) }
        default:
            try fetchAndSchedule(at: nil, scheduler: &scheduler)
        }
    }

    mutating func fetchAndSchedule<E: MoEEventContainer>(at time: SimTime?, scheduler: inout Scheduler<E>) throws {
        guard requestsLeft > 0, nextArrival == nil else { return }
        guard let r = try source.next() else { requestsLeft = 0; return }
        requestsLeft -= 1
        var t: SimTime
        switch arrivals {
        case .trace: t = .ns(r.arrivalNs)
        case .closed: t = time ?? scheduler.now
        case .times(let ts): t = .ns(ts[min(arrivalsIssued, ts.count - 1)])
        }
        if t < scheduler.now { t = scheduler.now }
        arrivalsIssued += 1
        nextArrival = r
        core.lookahead.append(r)
        scheduler.schedule(.moe(.arrival), at: t)
    }

    // MARK: events

    public mutating func handle<E: MoEEventContainer>(_ event: MoEEvent, fluid: inout FluidSystem,
                                                      scheduler: inout Scheduler<E>) throws {
        let now = scheduler.now
        switch event {
        case .arrival:
            guard let r = nextArrival else { return }
            nextArrival = nil
            if firstArrival == nil { firstArrival = now }
            waiting.append(ActiveRequest(routing: r, iteration: 0, arrival: now, firstToken: .zero))
            if case .closed = arrivals {} else { try fetchAndSchedule(at: nil, scheduler: &scheduler) }
            if !busy { try startIteration(now: now, fluid: &fluid, scheduler: &scheduler) }
        case .gate:
            gate(now: now, fluid: &fluid, scheduler: &scheduler)
        case .layerDone:
            layerDone(now: now, fluid: &fluid, scheduler: &scheduler)
        case .iterationDone:
            try iterationDone(now: now, fluid: &fluid, scheduler: &scheduler)
        case .fluid:
            break
        }
    }

    /// A flow of this server finished (the host dispatches by `tenantTag`).
    public mutating func flowCompleted<E: MoEEventContainer>(tag: UInt64, fluid: inout FluidSystem, scheduler: inout Scheduler<E>) {
        let i = Int(tag & 0xFFFF_FFFF)
        finishLoad(i, now: scheduler.now, fluid: &fluid, scheduler: &scheduler)
    }

    // MARK: iterations

    mutating func startIteration<E: MoEEventContainer>(now: SimTime, fluid: inout FluidSystem, scheduler: inout Scheduler<E>) throws {
        while core.batch.count < maxBatch && waitingHead < waiting.count {
            core.batch.append(waiting[waitingHead])
            waitingHead += 1
        }
        if waitingHead > 64 && waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
        guard !core.batch.isEmpty else { busy = false; return }
        busy = true
        var tokens = 0
        for b in core.batch { tokens += b.iteration == 0 ? b.routing.inputTokens : 1 }
        if tokens > maxTokens { try costs.ensure(tokens: tokens); maxTokens = costs.maxTokens }
        syncLookahead()
        core.aggregateIteration()
        core.iterationCounter += 1
        core.counters.iterations += 1
        core.currentLayer = -1
        core.version &+= 1
        policy.iterationStarted(core: &core)
        pump(now: now, fluid: &fluid, scheduler: &scheduler)
        modelLayer = 0
        let start = now + SimTime(seconds: costs.embedding[clampTokens(core.iterationTokens, maxTokens)])
        startLayer(at: start, now: now, fluid: &fluid, scheduler: &scheduler)
    }

    /// The lookahead list holds requests read but not yet in the batch (only the oracle looks).
    mutating func syncLookahead() {
        core.lookahead.removeAll(keepingCapacity: true)
        var i = waitingHead
        while i < waiting.count { core.lookahead.append(waiting[i].routing); i += 1 }
        if let r = nextArrival { core.lookahead.append(r) }
    }


    /// Starts model layer `modelLayer`, whose attention begins at `start` (≥ now).
    /// Attention (and everything of a layer but its experts) for the current batch, seconds.
    func attentionSeconds() -> Double {
        let T = clampTokens(core.iterationTokens, maxTokens)
        var attention = costs.layerFixed[T]
        for b in core.batch {
            if b.iteration == 0 { attention += costs.attentionPrefill(tokens: b.routing.inputTokens) }
            else { attention += Double(b.context) * costs.attentionPerContextToken }
        }
        return attention
    }

    mutating func startLayer<E: MoEEventContainer>(at start: SimTime, now: SimTime, fluid: inout FluidSystem,
                                                  scheduler: inout Scheduler<E>) {
        let T = clampTokens(core.iterationTokens, maxTokens)
        let attention = attentionSeconds()
        let dense = modelLayer < core.model.denseLayers
        if dense {
            scheduler.schedule(.moe(.layerDone), at: start + SimTime(seconds: attention + costs.denseMLP[T]))
            return
        }
        let m = modelLayer - core.model.denseLayers
        policy.layerStarted(m, core: &core)
        if Policy.waitsForWholeLayer {
            // The whole layer is fetched when reached: pin what is resident, load the rest.
            for e in 0..<core.experts {
                let x = core.id(layer: m, expert: e)
                if core.state[Int(x)] == .resident && !core.pinned[Int(x)] { core.pinned[Int(x)] = true; pinnedList.append(x) }
            }
            for e in 0..<core.experts {
                let x = core.id(layer: m, expert: e)
                if core.state[Int(x)] == .absent { demand(x, now: now, fluid: &fluid, scheduler: &scheduler) }
            }
        }
        pump(now: now, fluid: &fluid, scheduler: &scheduler)
        scheduler.schedule(.moe(.gate), at: start + SimTime(seconds: attention))
    }

    mutating func gate<E: MoEEventContainer>(now: SimTime, fluid: inout FluidSystem, scheduler: inout Scheduler<E>) {
        if fusedLayerDone {
            // The previous layer finished without waiting for a load and this layer's gate was
            // scheduled directly: its end-of-layer work (unpin, layer-start hook) happens now.
            fusedLayerDone = false
            for x in pinnedList { core.pinned[Int(x)] = false }
            pinnedList.removeAll(keepingCapacity: true)
            policy.layerStarted(modelLayer - core.model.denseLayers, core: &core)
        }
        let m = modelLayer - core.model.denseLayers
        core.currentLayer = m
        core.counters.layerSteps += 1
        core.version &+= 1
        policy.gate(m, core: &core)
        let T = clampTokens(core.iterationTokens, maxTokens)
        var free = now.nanoseconds
        var computeSeconds = costs.shared[T]
        pending = 0
        let range = core.selectedRange(m)
        // Pin the layer's selected experts first, so that no load of this layer evicts another.
        for i in range {
            let x = core.id(layer: m, expert: core.selectedExpert(i))
            if !core.pinned[Int(x)] { core.pinned[Int(x)] = true; pinnedList.append(x) }
        }
        for i in range {
            let x = core.id(layer: m, expert: core.selectedExpert(i))
            let xi = Int(x)
            core.counters.accesses += 1
            core.useClock += 1
            core.lastUse[xi] = core.useClock
            core.frequency[xi] &+= 1
            if core.prefetchedUnused[xi] {
                core.prefetchedUnused[xi] = false
                core.counters.usefulPrefetches += 1
            }
            if core.state[xi] == .resident {
                core.counters.hits += 1
                computeSeconds += costs.expert[clampTokens(core.selectedTokens(i), maxTokens)]
            } else {
                core.counters.misses += 1
                needTokens[xi] = Int32(core.selectedTokens(i))
                pending += 1
                demand(x, now: now, fluid: &fluid, scheduler: &scheduler)
            }
        }
        if Policy.waitsForWholeLayer {
            for e in 0..<core.experts {
                let x = core.id(layer: m, expert: e)
                if core.state[Int(x)] == .loading && needTokens[Int(x)] == 0 {
                    awaitOnly[Int(x)] = true
                    pending += 1
                }
            }
        }
        free += SimTime(seconds: computeSeconds).nanoseconds
        computeFree = free
        pump(now: now, fluid: &fluid, scheduler: &scheduler)
        if pending == 0 {
            waitingForLoads = false
            if !Policy.waitsForWholeLayer && modelLayer + 1 < core.model.layers {
                // Fast path: nothing to wait for, so the next layer's gate is scheduled now
                // (one event per layer instead of two).
                modelLayer += 1
                fusedLayerDone = true
                scheduler.schedule(.moe(.gate), at: .ns(computeFree) + SimTime(seconds: attentionSeconds()))
            } else {
                scheduler.schedule(.moe(.layerDone), at: .ns(computeFree))
            }
        } else {
            waitingForLoads = true
        }
    }

    mutating func layerDone<E: MoEEventContainer>(now: SimTime, fluid: inout FluidSystem, scheduler: inout Scheduler<E>) {
        for x in pinnedList { core.pinned[Int(x)] = false }
        pinnedList.removeAll(keepingCapacity: true)
        core.version &+= 1
        // Unpinned experts are victims again: prefetches refused for want of one may start now.
        modelLayer += 1
        if modelLayer < core.model.layers {
            pump(now: now, fluid: &fluid, scheduler: &scheduler)
            startLayer(at: now, now: now, fluid: &fluid, scheduler: &scheduler)
            return
        }
        scheduler.schedule(.moe(.iterationDone), at: now + SimTime(seconds: costs.lmHead[clampTokens(core.batch.count, maxTokens)]))
    }

    mutating func iterationDone<E: MoEEventContainer>(now: SimTime, fluid: inout FluidSystem, scheduler: inout Scheduler<E>) throws {
        policy.iterationFinished(core: &core)
        finishedScratch.removeAll(keepingCapacity: true)
        for i in core.batch.indices {
            if core.batch[i].iteration == 0 { core.batch[i].firstToken = now }
            core.batch[i].iteration += 1
            tokens += 1
            if core.batch[i].iteration >= core.batch[i].routing.outputTokens { finishedScratch.append(i) }
        }
        for i in finishedScratch.reversed() {
            let b = core.batch.remove(at: i)
            let row = MoERequestRow(id: b.routing.id, arrival: b.arrival, firstToken: b.firstToken, finish: now,
                                    inputTokens: b.routing.inputTokens, outputTokens: b.routing.outputTokens)
            rows.append(row)
            ttft.record(b.firstToken - b.arrival)
            e2e.record(now - b.arrival)
            if b.routing.outputTokens > 1 {
                tpot.record(SimTime(nanoseconds: (now - b.firstToken).nanoseconds / Int64(b.routing.outputTokens - 1)))
            }
            lastFinish = now
            policy.requestFinished(b.routing, core: &core)
            if case .closed = arrivals { try fetchAndSchedule(at: now, scheduler: &scheduler) }
        }
        try startIteration(now: now, fluid: &fluid, scheduler: &scheduler)
    }

    // MARK: loads

    mutating func setMemory(now: SimTime) {
        var u = 0
        for g in 0..<core.gpus { u += core.used[g] }
        expertMemory.set(Double(u * core.expertBytes), at: now)
    }

    mutating func evict(_ v: ExpertID, now: SimTime) {
        core.version &+= 1
        let vi = Int(v)
        precondition(core.state[vi] == .resident && !core.pinned[vi], "evicting a non-evictable expert")
        core.state[vi] = .absent
        core.prefetchedUnused[vi] = false
        core.used[core.gpuOf(v)] -= 1
        core.held[core.gpuOf(v) * core.layers + core.layerOf(v)] -= 1
        core.counters.evictions += 1
    }

    /// A selected expert is not resident: make it load as a demand load.
    mutating func demand<E: MoEEventContainer>(_ x: ExpertID, now: SimTime, fluid: inout FluidSystem, scheduler: inout Scheduler<E>) {
        let xi = Int(x)
        let g = core.gpuOf(x)
        if core.state[xi] == .loading {
            let li = Int(core.loadOf[xi])
            if !loads[li].isDemand {
                // A prefetch not finished yet: it becomes the demand load (a miss, as fMoE counts it).
                core.counters.latePrefetchMisses += 1
                loads[li].isDemand = true
                prefetchInFlight[g] -= 1
                addDemand(gpu: g, now: now, fluid: &fluid)
                if loads[li].paused { resume(li, now: now, fluid: &fluid) }
                loads[li].paused = false
            }
            return
        }
        if core.used[g] >= core.capacity[g] {
            var v = policy.victim(gpu: g, incoming: x, demand: true, core: &core)
            if let c = v, !(core.isEvictable(c) && core.gpuOf(c) == g) { v = nil }
            if v == nil { v = core.lruVictim(gpu: g) }
            guard let victim = v else {
                waitingDemand[g].append(x)
                return
            }
            evict(victim, now: now)
        }
        startLoad(x, demand: true, now: now, fluid: &fluid, scheduler: &scheduler)
    }

    mutating func addDemand(gpu g: Int, now: SimTime, fluid: inout FluidSystem) {
        demandActive[g] += 1
        if demandActive[g] == 1 {
            // Pause the link's prefetches.
            for li in loads.indices where loads[li].active && !loads[li].isDemand && loads[li].gpu == g && !loads[li].paused {
                loads[li].paused = true
                if let f = loads[li].flow {
                    loads[li].remaining = fluid.removeFlow(f, at: now)
                    loads[li].flow = nil
                }
            }
        }
    }

    mutating func removeDemand(gpu g: Int, now: SimTime, fluid: inout FluidSystem) {
        demandActive[g] -= 1
        if demandActive[g] == 0 {
            for li in loads.indices where loads[li].active && !loads[li].isDemand && loads[li].gpu == g && loads[li].paused {
                loads[li].paused = false
                resume(li, now: now, fluid: &fluid)
            }
        }
    }

    mutating func resume(_ li: Int, now: SimTime, fluid: inout FluidSystem) {
        let g = loads[li].gpu
        loads[li].flow = fluid.startFlow(work: max(loads[li].remaining, 1), cap: copyCap, uses: copyUses[g], at: now,
                                         tag: UInt64(tenantTag) << 32 | UInt64(li))
    }

    mutating func startLoad<E: MoEEventContainer>(_ x: ExpertID, demand: Bool, now: SimTime, fluid: inout FluidSystem,
                                                 scheduler: inout Scheduler<E>) {
        core.version &+= 1
        let xi = Int(x)
        let g = core.gpuOf(x)
        core.state[xi] = .loading
        core.used[g] += 1
        core.held[g * core.layers + core.layerOf(x)] += 1
        let li: Int
        if let f = freeLoads.popLast() { li = Int(f) } else { loads.append(ExpertLoad()); li = loads.count - 1 }
        loads[li] = ExpertLoad(expert: x, gpu: g, isDemand: demand, issuedAsPrefetch: !demand, paused: false,
                               remaining: loadWork, flow: nil, active: true)
        core.loadOf[xi] = Int32(li)
        core.counters.pcieBytes += Int64(core.expertBytes)
        if demand {
            core.counters.demandLoads += 1
            addDemand(gpu: g, now: now, fluid: &fluid)
        } else {
            core.counters.prefetches += 1
            core.prefetchedUnused[xi] = true
            prefetchInFlight[g] += 1
        }
        setMemory(now: now)
        // The copy's fixed latency (the curve's intercept) is folded into its work at the streaming
        // rate: alone on the link it takes latency + bytes / rate, with no extra event.
        if !demand && demandActive[g] > 0 {
            loads[li].paused = true
        } else {
            resume(li, now: now, fluid: &fluid)
        }
    }

    mutating func finishLoad<E: MoEEventContainer>(_ li: Int, now: SimTime, fluid: inout FluidSystem, scheduler: inout Scheduler<E>) {
        let x = loads[li].expert
        let xi = Int(x)
        let g = loads[li].gpu
        let wasDemand = loads[li].isDemand
        loads[li].active = false
        loads[li].flow = nil
        freeLoads.append(Int32(li))
        core.version &+= 1
        core.state[xi] = .resident
        core.loadOf[xi] = -1
        if Policy.waitsForWholeLayer && busy && core.layerOf(x) == modelLayer - core.model.denseLayers && !core.pinned[xi] {
            core.pinned[xi] = true
            pinnedList.append(x)
        }
        if wasDemand { removeDemand(gpu: g, now: now, fluid: &fluid) } else { prefetchInFlight[g] -= 1 }
        // Is the current layer waiting for it?
        if needTokens[xi] > 0 || awaitOnly[xi] {
            let ns = now.nanoseconds
            if ns > computeFree {
                core.counters.stallNs += ns - computeFree
                computeFree = ns
            }
            if needTokens[xi] > 0 {
                let d = SimTime(seconds: costs.expert[clampTokens(Int(needTokens[xi]), maxTokens)]).nanoseconds
                computeFree += d
                needTokens[xi] = 0
            }
            awaitOnly[xi] = false
            pending -= 1
            if pending == 0 && waitingForLoads {
                waitingForLoads = false
                scheduler.schedule(.moe(.layerDone), at: .ns(computeFree))
            }
        }
        policy.loadCompleted(x, core: &core)
        // Demand loads that found no slot: the finished copy may be evictable now.
        if !waitingDemand[g].isEmpty {
            var still: [ExpertID] = []
            for w in waitingDemand[g] {
                if core.state[Int(w)] != .absent { continue }
                if core.used[g] >= core.capacity[g] {
                    var v = policy.victim(gpu: g, incoming: w, demand: true, core: &core)
                    if let c = v, !(core.isEvictable(c) && core.gpuOf(c) == g) { v = nil }
                    if v == nil { v = core.lruVictim(gpu: g) }
                    guard let victim = v else { still.append(w); continue }
                    evict(victim, now: now)
                }
                startLoad(w, demand: true, now: now, fluid: &fluid, scheduler: &scheduler)
            }
            waitingDemand[g] = still
        }
        pump(now: now, fluid: &fluid, scheduler: &scheduler)
    }

    /// Starts prefetches while links are free of demand loads.
    mutating func pump<E: MoEEventContainer>(now: SimTime, fluid: inout FluidSystem, scheduler: inout Scheduler<E>) {
        if Policy.allResident { return }
        for g in 0..<core.gpus {
            var guardCount = 0
            while demandActive[g] == 0 && prefetchInFlight[g] < maxPrefetchesInFlight && guardCount < 4 * core.totalExperts {
                guardCount += 1
                guard let x = policy.nextPrefetch(gpu: g, core: &core) else { break }
                guard core.isAbsent(x) && core.gpuOf(x) == g else { break }
                if core.used[g] >= core.capacity[g] {
                    guard let v = policy.victim(gpu: g, incoming: x, demand: false, core: &core),
                          core.isEvictable(v), core.gpuOf(v) == g else { continue }
                    evict(v, now: now)
                }
                startLoad(x, demand: false, now: now, fluid: &fluid, scheduler: &scheduler)
            }
        }
    }

    /// Shrinks or grows the expert cache at run time (a co-tenant takes memory): evicts
    /// unpinned experts, by the policy's choice, until each GPU fits its new slot count.
    public mutating func setCacheSlots(_ slots: [Int], now: SimTime) {
        precondition(slots.count == core.gpus)
        for g in 0..<core.gpus {
            core.capacity[g] = slots[g]
            while core.used[g] > core.capacity[g] {
                guard let v = core.lruVictim(gpu: g) else { break }
                evict(v, now: now)
            }
        }
        setMemory(now: now)
    }
}

@inline(__always) func clampTokens(_ t: Int, _ maxTokens: Int) -> Int { min(max(t, 1), maxTokens) }

/// The standalone host: one MoE server owning its fluid system (its GPUs' PCIe links).
public struct MoEStandaloneModel<Policy: OffloadPolicy>: EventHandler {
    public var server: MoEServer<Policy>
    public var fluid: FluidSystem
    public var error: Error? = nil
    var done: [UInt64] = []
    var fluidHandle: EventHandle? = nil
    var fluidTime: Int64 = .max

    public init(server: MoEServer<Policy>, fluid: FluidSystem) {
        self.server = server
        self.fluid = fluid
    }

    public mutating func handle(_ event: MoEEvent, scheduler: inout Scheduler<MoEEvent>) {
        do {
            if case .fluid = event {
                fluidHandle = nil
                fluidTime = .max
                var buffer: [UInt64] = []
                swap(&buffer, &done)   // unique, so clearing keeps its storage
                buffer.removeAll(keepingCapacity: true)
                fluid.completeFlows(at: scheduler.now) { _, tag in buffer.append(tag) }
                for t in buffer { server.flowCompleted(tag: t, fluid: &fluid, scheduler: &scheduler) }
                swap(&buffer, &done)
            } else {
                try server.handle(event, fluid: &fluid, scheduler: &scheduler)
            }
        } catch {
            self.error = error
            scheduler.stop()
        }
        fluid.solve(at: scheduler.now)
        // Keep exactly one completion event, at the fluid system's next completion.
        let t = fluid.nextCompletion?.nanoseconds ?? .max
        if t != fluidTime {
            if let h = fluidHandle { scheduler.cancel(h) }
            fluidHandle = t == .max ? nil : scheduler.schedule(.fluid, at: .ns(max(t, scheduler.now.nanoseconds)))
            fluidTime = t
        }
    }
}
