// The mechanics of one GPU shared by tenants: the fluid system and GPU model, every tenant's
// streams and their operations in flight, memory domains, and the counters metrics are made of.
// Policies act through it (pause, preempt, resize, kick); the engine drives it.

import Hardware
import SimCore

/// How tenants' memory footprints are handled.
public enum MemoryMode: Sendable, Equatable {
    /// Every footprint must fit in its memory domain at once; checked before the run.
    case fixed
    /// A tenant runs on the GPU only once its footprint fits in its domain; tenants wait in FIFO
    /// order and are admitted as others finish and release memory.
    case admission
    /// Unified-memory oversubscription: every tenant runs; pages not resident are migrated in over
    /// PCIe (host to device) before a kernel that touches them starts, evicting other tenants'
    /// pages (least recently used tenant first), written back over PCIe (device to host).
    case unified(UnifiedMemoryModel)

    public var name: String {
        switch self {
        case .fixed: return "fixed"
        case .admission: return "admission"
        case .unified: return "unified"
        }
    }
}

/// The unified-memory paging model.
///
/// A kernel touches its DRAM bytes when known, else `touchFraction` of its tenant's footprint; of
/// what it touches, the fraction not resident (`1 − resident / footprint`) faults in before it
/// starts, as one migration over the host-to-device link at the pinned streaming rate for
/// `chunkBytes` transfers (UM migrates in chunks of up to 2 MB).
public struct UnifiedMemoryModel: Sendable, Equatable {
    public var touchFraction: Double
    public var chunkBytes: Int
    public init(touchFraction: Double, chunkBytes: Int = 2 << 20) {
        precondition(touchFraction > 0 && touchFraction <= 1, "touch fraction must be in (0, 1]")
        precondition(chunkBytes > 0, "chunk must be positive")
        self.touchFraction = touchFraction
        self.chunkBytes = chunkBytes
    }
}

/// Memory that footprints are admitted to: the whole GPU, or one MIG instance.
public struct MemoryDomain: Sendable {
    public var name: String
    public var capacityBytes: Int
    /// Footprints admitted and not yet released (admission mode).
    public internal(set) var admittedBytes: Int = 0
    /// Tenants waiting for admission, in arrival order.
    public internal(set) var waiting: [Int] = []
    /// Bytes resident (unified mode).
    public internal(set) var residentBytes: Double = 0

    public init(name: String, capacityBytes: Int) {
        self.name = name
        self.capacityBytes = capacityBytes
    }
}

/// Errors of the shared-GPU engine.
public enum TenancyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One tenant's footprint exceeds its memory domain (it could never run).
    case footprintExceedsCapacity(tenant: Int, name: String, footprintBytes: Int, domain: String, capacityBytes: Int)
    /// With fixed memory, the footprints of one domain do not fit together.
    case footprintsExceedCapacity(tenants: [String], totalBytes: Int, domain: String, capacityBytes: Int)
    /// The run stopped with tenants unfinished and nothing left to happen.
    case stalled(atNanoseconds: Int64, tenants: [String], detail: String)
    /// A policy's setup cannot be honoured on this GPU.
    case policySetup(String)

    public var description: String {
        func gb(_ b: Int) -> String { String(format: "%.2f GiB", Double(b) / Double(1 << 30)) }
        switch self {
        case .footprintExceedsCapacity(_, let name, let f, let d, let c):
            return "tenant '\(name)' needs \(gb(f)) but its memory (\(d)) holds \(gb(c)); it could never run"
        case .footprintsExceedCapacity(let names, let total, let d, let c):
            return "tenants \(names.joined(separator: ", ")) need \(gb(total)) together but \(d) holds \(gb(c)); "
                + "use memory mode 'admission' (wait until it fits) or 'unified' (oversubscribe)"
        case .stalled(let t, let names, let detail):
            return "the run stalled at \(SimTime(nanoseconds: t)) with tenants unfinished: \(names.joined(separator: ", ")) (\(detail))"
        case .policySetup(let m):
            return m
        }
    }
}

/// One tenant as the engine tracks it (plain values only, so reading a field never copies
/// strings or arrays; the descriptor is in ``SharedGPU/descriptors``).
public struct TenantState: Sendable {
    /// Its streams are global streams `firstStream ..< firstStream + streamCount`.
    public let firstStream: Int
    public let streamCount: Int
    public let footprintBytes: Int
    public let priority: PriorityClass
    public internal(set) var admitted = false
    public internal(set) var admittedAt: SimTime = .max
    public internal(set) var finished = false
    public internal(set) var finishedAt: SimTime = .max
    /// Operations submitted and not started (including held and paused ones).
    public internal(set) var queuedOps = 0
    /// GPU operations in flight: kernels (holding SMs or waiting for them), copies, migrations.
    public internal(set) var runningOps = 0
    /// Delay operations in flight.
    public internal(set) var delayOps = 0
    /// Kernels in flight (holding SMs or waiting for them).
    public internal(set) var runningKernels = 0
    /// SMs its kernels hold now.
    public internal(set) var heldSMs = 0
    /// Index of the memory domain its footprint lives in.
    public internal(set) var memoryDomain = 0

    public internal(set) var kernelsCompleted = 0
    public internal(set) var opsCompleted = 0
    /// Kernels reset with their progress lost (priority preemption).
    public internal(set) var preemptions = 0
    /// Kernels paused with their progress kept (context switches, resizing).
    public internal(set) var pauses = 0
    /// Isolated kernel-seconds of progress lost to resets.
    public internal(set) var lostKernelSeconds = 0.0
    public internal(set) var bytesH2D = 0.0
    public internal(set) var bytesD2H = 0.0
    public internal(set) var faultBytes = 0.0
    public internal(set) var evictedBytes = 0.0
    /// Bytes resident (unified mode).
    public internal(set) var residentBytes = 0.0
    var lastUse: Int64 = 0
    var busy = false
    /// SMs its kernels hold, time-weighted.
    public internal(set) var smBusy = TimeWeightedAverage()
    /// HBM bytes/s its operations move, time-weighted.
    public internal(set) var hbmBusy = TimeWeightedAverage()

    /// Whether anything of it is queued or in flight.
    @inlinable public var hasWork: Bool { queuedOps + runningOps + delayOps > 0 }

    init(descriptor d: TenantDescriptor, firstStream: Int) {
        self.firstStream = firstStream
        streamCount = d.streams
        footprintBytes = d.memoryFootprintBytes
        priority = d.priority
    }
}

/// The GPU as tenants share it. See the file comment.
///
/// **Kernels and SMs.** A started kernel joins its partition's dispatch order (behind every
/// kernel already there; a `priority` placement goes behind the other priority kernels only).
/// After each event, each changed partition hands out its SMs in that order, each kernel taking
/// what its CTAs can fill (``KernelCostModel/usefulSMs``), within its cap group's limit, until
/// none are left (Hardware's ``SMDispatch`` rule). A kernel with SMs is a fluid flow capped at
/// its wave-quantised rate on them (``GPUModel/kernelFlow(_:holding:partition:)``) and sharing
/// its partition's HBM bandwidth; a kernel without waits. Running kernels keep their SMs and
/// gain more as others finish; they lose them only when a policy pauses or resets them.
public struct SharedGPU {
    public let spec: GPUSpec
    public var fluid: FluidSystem
    public var model: GPUModel
    public let memoryMode: MemoryMode
    public internal(set) var tenants: [TenantState]
    /// Each tenant's descriptor (name, kind, footprint, priority, SLOs).
    public let descriptors: [TenantDescriptor]
    public internal(set) var memoryDomains: [MemoryDomain]
    /// The latest SLO slack of each tenant, refreshed before every policy timer.
    public internal(set) var sloSlack: [Double?]
    /// Context switches (time slicing), counted by the policy.
    public internal(set) var contextSwitches = 0
    /// Kernels reset by preemption, all tenants.
    public internal(set) var preemptions = 0
    /// SMs held, all tenants, time-weighted.
    public internal(set) var smBusy = TimeWeightedAverage()
    /// HBM bytes/s, all tenants, time-weighted.
    public internal(set) var hbmBusy = TimeWeightedAverage()
    /// The most SMs held at once, all partitions together.
    public internal(set) var peakHeldSMs = 0
    /// Check the fluid solution and SM capacity after every event (tests; slow).
    public var checkInvariants = false
    /// The first invariant violation seen, if any.
    public internal(set) var invariantViolation: String? = nil

    // MARK: streams

    @usableFromInline enum Phase: UInt8 { case idle, held, kernel, copyLatency, copy, fault, delay }

    @usableFromInline struct QueuedOp {
        @usableFromInline var op: TenantOp
        @usableFromInline var token: Int64
        /// Work left: a fraction of the kernel (1 when fresh), or bytes of a copy.
        @usableFromInline var remaining: Double
    }

    @usableFromInline struct Stream {
        @usableFromInline var tenant: Int32
        @usableFromInline var local: Int32
        @usableFromInline var queue: [QueuedOp] = []
        @usableFromInline var head = 0
        @usableFromInline var phase: Phase = .idle
        @usableFromInline var flow: FlowID? = nil
        @usableFromInline var placement = Placement.wholeGPU
        /// SMs held (kernels).
        @usableFromInline var held = 0
        /// HBM bytes per unit of work of the current flow (for utilisation).
        @usableFromInline var hbmCoefficient = 0.0
        @usableFromInline var inReady = false
        @usableFromInline var pausedDuringFault = false
        @usableFromInline var activeSlot: Int32 = -1
        init(tenant: Int32, local: Int32) { self.tenant = tenant; self.local = local }
    }

    @usableFromInline var streams: [Stream] = []
    @usableFromInline var ready: [Int32] = []
    @usableFromInline var readyHead = 0
    /// Streams with a flow in the fluid system (kernels holding SMs, copies, migrations).
    @usableFromInline var active: [Int32] = []
    /// Per partition: kernel streams in dispatch order, and how many of them are priority ones.
    @usableFromInline var order: [[Int32]] = []
    @usableFromInline var priorityCount: [Int] = []
    @usableFromInline var dirtyPartition: [Bool] = []
    @usableFromInline var dirtyList: [Int] = []
    @usableFromInline var capGroupSMs: [Int] = []
    @usableFromInline var capLeft: [Int] = []
    @usableFromInline var heldTotal = 0
    @usableFromInline var usageDirty = true
    @usableFromInline var scratchHBM: [Double] = []

    /// Tag bit of flows that belong to no stream (page write-backs).
    @usableFromInline static let backgroundTag: UInt64 = 1 << 63

    @usableFromInline init(spec: GPUSpec, descriptors: [TenantDescriptor], memoryMode: MemoryMode) {
        self.spec = spec
        var f = FluidSystem()
        model = GPUModel(spec: spec, fluid: &f)
        fluid = f
        self.memoryMode = memoryMode
        var states: [TenantState] = []
        var base = 0
        for (t, d) in descriptors.enumerated() {
            states.append(TenantState(descriptor: d, firstStream: base))
            for l in 0..<d.streams { streams.append(Stream(tenant: Int32(t), local: Int32(l))) }
            base += d.streams
        }
        tenants = states
        self.descriptors = descriptors
        memoryDomains = [MemoryDomain(name: "\(spec.name) memory", capacityBytes: spec.memory.allocatableBytes)]
        sloSlack = [Double?](repeating: nil, count: descriptors.count)
        scratchHBM = [Double](repeating: 0, count: descriptors.count)
        ready.reserveCapacity(streams.count)
        syncPartitions()
    }

    // MARK: queries

    public var smCount: Int { spec.smCount }
    public var tenantCount: Int { tenants.count }
    public func streams(of tenant: Int) -> Range<Int> {
        let s = tenants[tenant].firstStream
        return s..<(s + tenants[tenant].streamCount)
    }
    /// The tenant that owns a global stream.
    public func tenant(ofStream s: Int) -> Int { Int(streams[s].tenant) }

    /// The operation at the head of a stream's queue (running or not), if any.
    public func headOp(_ s: Int) -> TenantOp? {
        let st = streams[s]
        return st.head < st.queue.count ? st.queue[st.head].op : nil
    }

    /// Whether a stream's head is a kernel in flight (holding SMs or waiting for them).
    public func isRunningKernel(_ s: Int) -> Bool { streams[s].phase == .kernel }
    /// SMs a stream's kernel holds.
    public func heldSMs(ofStream s: Int) -> Int { streams[s].held }
    /// The placement of a stream's running (or last started) operation.
    public func placement(ofStream s: Int) -> Placement { streams[s].placement }
    /// SMs held on a partition.
    public func heldSMs(onPartition p: Int) -> Int {
        order[p].reduce(0) { $0 + streams[Int($1)].held }
    }

    /// SMs the CTAs of the tenant's kernels could fill on `sms` SMs: kernels in flight and
    /// kernels waiting at the head of a stream (not started, held or paused).
    public func kernelDemand(of tenant: Int, sms: Int) -> Int {
        var total = 0
        for s in streams(of: tenant) {
            let st = streams[s]
            guard st.head < st.queue.count, case .kernel(let k) = st.queue[st.head].op else { continue }
            total += KernelCostModel.usefulSMs(ctas: k.ctas, ctasPerSM: k.ctasPerSM, sms: sms)
        }
        return min(total, sms)
    }

    // MARK: control (for policies)

    /// Makes the tenant's held streams eligible to start again; the engine asks the policy for
    /// each of them after the current event.
    public mutating func kick(_ tenant: Int) {
        for s in streams(of: tenant) {
            if streams[s].phase == .held { streams[s].phase = .idle }
            if streams[s].phase == .idle && streams[s].head < streams[s].queue.count { pushReady(s) }
        }
    }

    /// Adds a partition to the GPU model (a green-context share); returns its index.
    public mutating func addPartition(name: String, sms: Int, isolatedHBMFraction: Double? = nil) -> Int {
        let p = model.addPartition(name: name, sms: sms, isolatedHBMFraction: isolatedHBMFraction, fluid: &fluid)
        syncPartitions()
        return p
    }

    /// Adds one partition per instance of a validated MIG layout; returns their indices.
    public mutating func addMIGPartitions(_ layout: MIGLayout) -> [Int] {
        let ps = model.addMIGPartitions(layout, fluid: &fluid)
        syncPartitions()
        return ps
    }

    /// Adds a cap group: the kernels placed in it hold at most `sms` SMs together.
    public mutating func addCapGroup(sms: Int) -> Int {
        precondition(sms >= 1, "a cap group allows at least one SM")
        capGroupSMs.append(sms)
        capLeft.append(sms)
        return capGroupSMs.count - 1
    }

    /// Stops the tenant's kernels, keeping their progress (a context switch, a checkpointing
    /// preemption). They start again, from where they were, once the policy places them again.
    /// Copies and delays continue. Counted as pauses, or as preemptions when `asPreemption`.
    /// Returns the number of kernels stopped.
    @discardableResult
    public mutating func pause(_ tenant: Int, at now: SimTime, asPreemption: Bool = false) -> Int {
        var n = 0
        for s in streams(of: tenant) {
            switch streams[s].phase {
            case .kernel:
                stopKernel(s, at: now, keepProgress: true)
                if asPreemption {
                    tenants[tenant].pauses -= 1
                    tenants[tenant].preemptions += 1
                    preemptions += 1
                }
                n += 1
            case .fault:
                streams[s].pausedDuringFault = true
            case .idle:
                if streams[s].head < streams[s].queue.count { streams[s].phase = .held }
            default:
                break
            }
        }
        return n
    }

    /// Stops a kernel in flight and loses its progress (REEF's reset-based preemption): it
    /// starts over when the policy places it again. Counts a preemption. No effect unless a
    /// kernel is in flight on the stream.
    public mutating func reset(stream s: Int, at now: SimTime) {
        guard streams[s].phase == .kernel else { return }
        stopKernel(s, at: now, keepProgress: false)
    }

    /// Resizes partition `p` (a dynamic SM share). Kernels keep the SMs they hold: pause them
    /// first when the partition shrinks below what they hold. Waiting kernels get the new SMs.
    public mutating func resizePartition(_ p: Int, sms: Int) {
        guard model.partitions[p].sms != sms else { return }
        model.resizePartition(p, sms: sms, fluid: &fluid)
        markDirty(p)
    }

    /// Counts one context switch.
    public mutating func countContextSwitch() { contextSwitches += 1 }

    /// Replaces the memory domains and assigns each tenant to one (`domainOf[t]`). For policies'
    /// setup (MIG instances); by default every tenant is in the one domain of the whole GPU.
    public mutating func setMemoryDomains(_ domains: [MemoryDomain], domainOf: [Int]) {
        precondition(domainOf.count == tenants.count && domainOf.allSatisfy { $0 >= 0 && $0 < domains.count })
        memoryDomains = domains
        for t in tenants.indices { tenants[t].memoryDomain = domainOf[t] }
    }

    // MARK: internals: ready list, active flows

    mutating func syncPartitions() {
        while order.count < model.partitions.count {
            order.append([])
            priorityCount.append(0)
            dirtyPartition.append(false)
        }
    }

    @inlinable mutating func pushReady(_ s: Int) {
        if streams[s].inReady { return }
        streams[s].inReady = true
        ready.append(Int32(s))
    }

    @inlinable mutating func popReady() -> Int? {
        guard readyHead < ready.count else {
            if readyHead > 0 { ready.removeAll(keepingCapacity: true); readyHead = 0 }
            return nil
        }
        let s = Int(ready[readyHead])
        readyHead += 1
        streams[s].inReady = false
        return s
    }

    mutating func addActive(_ s: Int) {
        streams[s].activeSlot = Int32(active.count)
        active.append(Int32(s))
        usageDirty = true
    }

    @usableFromInline mutating func removeActive(_ s: Int) {
        let slot = Int(streams[s].activeSlot)
        guard slot >= 0 else { return }
        let last = active.removeLast()
        if slot < active.count {
            active[slot] = last
            streams[Int(last)].activeSlot = Int32(slot)
        }
        streams[s].activeSlot = -1
        usageDirty = true
    }

    // MARK: internals: kernels and dispatch

    @inlinable mutating func markDirty(_ p: Int) {
        if !dirtyPartition[p] { dirtyPartition[p] = true; dirtyList.append(p) }
    }

    /// A kernel joins its partition's dispatch order (it gets SMs at the end of the event).
    @usableFromInline mutating func enqueueKernel(_ s: Int) {
        let p = streams[s].placement.partition
        if streams[s].placement.priority {
            order[p].insert(Int32(s), at: priorityCount[p])
            priorityCount[p] += 1
        } else {
            order[p].append(Int32(s))
        }
        streams[s].phase = .kernel
        streams[s].held = 0
        tenants[Int(streams[s].tenant)].runningKernels += 1
        markDirty(p)
    }

    /// A kernel leaves its partition's dispatch order (finished, paused or reset).
    @usableFromInline mutating func dequeueKernel(_ s: Int) {
        let p = streams[s].placement.partition
        if let i = order[p].firstIndex(of: Int32(s)) {
            order[p].remove(at: i)
            if i < priorityCount[p] { priorityCount[p] -= 1 }
        }
        setHeld(s, 0)
        if streams[s].flow != nil { removeActive(s) }
        streams[s].flow = nil
        tenants[Int(streams[s].tenant)].runningKernels -= 1
        markDirty(p)
    }

    @inline(__always) mutating func setHeld(_ s: Int, _ n: Int) {
        let d = n - streams[s].held
        guard d != 0 else { return }
        streams[s].held = n
        tenants[Int(streams[s].tenant)].heldSMs += d
        heldTotal += d
        usageDirty = true
    }

    /// Hands out the SMs of every partition that changed in this event.
    @usableFromInline mutating func dispatchDirty(at now: SimTime) {
        guard !dirtyList.isEmpty else { return }
        for p in dirtyList {
            dirtyPartition[p] = false
            dispatch(partition: p, at: now)
        }
        dirtyList.removeAll(keepingCapacity: true)
        if heldTotal > peakHeldSMs { peakHeldSMs = heldTotal }
    }

    mutating func dispatch(partition p: Int, at now: SimTime) {
        let sms = model.partitions[p].sms
        var left = sms
        for g in capLeft.indices { capLeft[g] = capGroupSMs[g] }
        for s32 in order[p] {
            let s = Int(s32)
            guard case .kernel(let k) = streams[s].queue[streams[s].head].op else { continue }
            let held = streams[s].held
            var want = min(KernelCostModel.usefulSMs(ctas: k.ctas, ctasPerSM: k.ctasPerSM, sms: sms), max(left, 0))
            if let g = streams[s].placement.capGroup { want = min(want, max(capLeft[g], 0)) }
            want = max(want, held)   // a running kernel keeps its SMs
            left -= want
            if let g = streams[s].placement.capGroup { capLeft[g] -= want }
            guard want != held else { continue }
            let f = model.kernelFlow(k, holding: want, partition: p)
            if let id = streams[s].flow {
                fluid.setCap(id, f.cap, at: now)
            } else {
                streams[s].flow = fluid.startFlow(work: max(streams[s].queue[streams[s].head].remaining, 0), cap: f.cap,
                                                  uses: f.uses, at: now, tag: UInt64(s))
                streams[s].hbmCoefficient = f.uses.count > 0 ? f.uses.coefficient(0) : 0
                addActive(s)
            }
            setHeld(s, want)
        }
        if checkInvariants && invariantViolation == nil && left < 0 {
            invariantViolation = "at \(now): partition \(model.partitions[p].name) hands out \(sms - left) of its \(sms) SMs"
        }
    }

    mutating func stopKernel(_ s: Int, at now: SimTime, keepProgress: Bool) {
        let t = Int(streams[s].tenant)
        let h = streams[s].head
        let before = streams[s].queue[h].remaining
        var left = before
        if let flow = streams[s].flow { left = fluid.removeFlow(flow, at: now) }
        streams[s].flow = nil
        if keepProgress {
            streams[s].queue[h].remaining = left
            tenants[t].pauses += 1
        } else {
            streams[s].queue[h].remaining = 1
            tenants[t].preemptions += 1
            preemptions += 1
            if case .kernel(let k) = streams[s].queue[h].op {
                tenants[t].lostKernelSeconds += max(0, 1 - left) * k.isolatedSeconds
            }
        }
        if streams[s].activeSlot >= 0 { removeActive(s) }
        dequeueKernel(s)
        streams[s].phase = .held
        tenants[t].runningOps -= 1
        tenants[t].queuedOps += 1
    }

    /// Starts the head operation of stream `s` at `placement` (the policy agreed).
    @usableFromInline mutating func launch(_ s: Int, placement: Placement, at now: SimTime, scheduler: inout Scheduler<EngineEvent>) {
        let t = Int(streams[s].tenant)
        tenants[t].queuedOps -= 1
        tenants[t].runningOps += 1
        tenants[t].lastUse = now.nanoseconds
        streams[s].placement = placement
        streams[s].pausedDuringFault = false
        let q = streams[s].queue[streams[s].head]
        switch q.op {
        case .kernel(let k):
            if case .unified(let um) = memoryMode, let need = faultBytes(tenant: t, kernel: k, model: um), need > 0 {
                startFault(s, tenant: t, bytes: need, model: um, at: now)
            } else {
                enqueueKernel(s)
            }
        case .hostCopy(_, let direction, let memory):
            let c = model.copyFlow(bytes: Int(q.remaining), direction: direction, hostMemory: memory)
            streams[s].phase = .copyLatency
            scheduler.schedule(.copyStart(stream: Int32(s)), after: c.latency)
        case .deviceCopy:
            let c = model.deviceCopyFlow(bytes: Int(q.remaining))
            startCopyFlow(s, work: q.remaining, cap: c.cap, uses: c.uses, hbmCoefficient: 2, at: now)
        case .memset:
            startCopyFlow(s, work: q.remaining, cap: spec.memory.bandwidthBytesPerSecond, uses: FlowUses(model.hbm),
                          hbmCoefficient: 1, at: now)
        case .delay:
            preconditionFailure("delays are not launched")
        }
    }

    /// The latency of a host copy is over: its flow starts.
    @usableFromInline mutating func copyLatencyOver(_ s: Int, at now: SimTime) {
        let q = streams[s].queue[streams[s].head]
        guard case .hostCopy(_, let direction, let memory) = q.op else { return }
        let c = model.copyFlow(bytes: Int(q.remaining), direction: direction, hostMemory: memory)
        startCopyFlow(s, work: q.remaining, cap: c.cap, uses: c.uses, hbmCoefficient: 1, at: now)
    }

    mutating func startCopyFlow(_ s: Int, work: Double, cap: Double, uses: FlowUses, hbmCoefficient: Double, at now: SimTime) {
        streams[s].flow = fluid.startFlow(work: work, cap: cap, uses: uses, at: now, tag: UInt64(s))
        streams[s].phase = .copy
        streams[s].hbmCoefficient = hbmCoefficient
        addActive(s)
    }

    // MARK: unified memory

    func faultBytes(tenant t: Int, kernel k: KernelWork, model um: UnifiedMemoryModel) -> Double? {
        let footprint = Double(tenants[t].footprintBytes)
        let resident = tenants[t].residentBytes
        guard footprint > 0, resident < footprint else { return nil }
        let touched = k.dramBytes > 0 ? min(k.dramBytes, footprint) : um.touchFraction * footprint
        let need = (touched * (footprint - resident) / footprint).rounded(.up)
        return need >= 1 ? need : nil
    }

    mutating func startFault(_ s: Int, tenant t: Int, bytes: Double, model um: UnifiedMemoryModel, at now: SimTime) {
        let d = tenants[t].memoryDomain
        let capacity = Double(memoryDomains[d].capacityBytes)
        let free = capacity - memoryDomains[d].residentBytes
        let need = min(bytes, capacity)
        if need > free { evict(need - free, domain: d, sparing: t, at: now) }
        let added = min(need, Double(tenants[t].footprintBytes) - tenants[t].residentBytes)
        tenants[t].residentBytes += added
        memoryDomains[d].residentBytes += added
        tenants[t].faultBytes += need
        tenants[t].bytesH2D += need
        let curve = spec.pcie.curve(.hostToDevice, .pinned)
        streams[s].flow = fluid.startFlow(work: need, cap: curve.streamingBytesPerSecond(bytes: um.chunkBytes),
                                          uses: FlowUses(model.hostToDevice).adding(model.hbm), at: now, tag: UInt64(s))
        streams[s].phase = .fault
        streams[s].hbmCoefficient = 1
        addActive(s)
    }

    /// Frees `bytes` of a domain by evicting the least recently used tenants' pages (other than
    /// `spared` while others have pages; then `spared`'s own), written back over D2H.
    mutating func evict(_ bytes: Double, domain d: Int, sparing spared: Int, at now: SimTime) {
        var left = bytes
        while left > 0.5 {
            var victim = -1
            for t in tenants.indices where tenants[t].memoryDomain == d && t != spared && tenants[t].residentBytes > 0 {
                if victim < 0 || tenants[t].lastUse < tenants[victim].lastUse { victim = t }
            }
            if victim < 0 {
                if tenants[spared].residentBytes > 0 { victim = spared } else { break }
            }
            let x = min(left, tenants[victim].residentBytes)
            tenants[victim].residentBytes -= x
            memoryDomains[d].residentBytes -= x
            tenants[victim].evictedBytes += x
            tenants[victim].bytesD2H += x
            left -= x
            let curve = spec.pcie.curve(.deviceToHost, .pinned)
            fluid.startFlow(work: x, cap: curve.streamingBytesPerSecond(bytes: 2 << 20),
                            uses: FlowUses(model.deviceToHost).adding(model.hbm), at: now,
                            tag: SharedGPU.backgroundTag | UInt64(victim))
        }
    }

    // MARK: usage

    /// Re-integrates SM and HBM usage after rates or holdings changed.
    @usableFromInline mutating func updateUsage(at now: SimTime) {
        guard usageDirty || fluid.lastSolveFlowCount > 0 else { return }
        usageDirty = false
        for t in scratchHBM.indices { scratchHBM[t] = 0 }
        var hbm = 0.0
        for s32 in active {
            let s = Int(s32)
            guard let flow = streams[s].flow, streams[s].hbmCoefficient > 0 else { continue }
            let b = streams[s].hbmCoefficient * fluid.rate(of: flow)
            scratchHBM[Int(streams[s].tenant)] += b
            hbm += b
        }
        for t in tenants.indices {
            let sm = Double(tenants[t].heldSMs)
            if tenants[t].smBusy.value != sm { tenants[t].smBusy.set(sm, at: now) }
            if tenants[t].hbmBusy.value != scratchHBM[t] { tenants[t].hbmBusy.set(scratchHBM[t], at: now) }
        }
        if smBusy.value != Double(heldTotal) { smBusy.set(Double(heldTotal), at: now) }
        if hbmBusy.value != hbm { hbmBusy.set(hbm, at: now) }
        if checkInvariants && invariantViolation == nil {
            if let v = fluid.checkInvariants() {
                invariantViolation = "at \(now): \(v)"
            } else if heldTotal > spec.smCount {
                invariantViolation = "at \(now): \(heldTotal) SMs held on a \(spec.smCount)-SM GPU"
            }
        }
    }
}
