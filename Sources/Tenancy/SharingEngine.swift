// The shared-GPU engine: an event handler over SimCore's generic simulator, generic over the
// tenant set and the policy, so dispatch is static. One screen of event handling, the rest is
// bookkeeping in SharedGPU.

import Hardware
import SimCore

/// Options of one engine run.
public struct EngineOptions: Sendable {
    /// Stop at this simulated time even if tenants are unfinished (their metrics cover what ran).
    public var horizon: SimTime? = nil
    /// Build per-request rows.
    public var requests = true
    /// Check the fluid solution and SM capacity after every change (tests; slow).
    public var checkInvariants = false
    public init(horizon: SimTime? = nil, requests: Bool = true, checkInvariants: Bool = false) {
        self.horizon = horizon
        self.requests = requests
        self.checkInvariants = checkInvariants
    }
}

/// What one run produced.
public struct EngineOutcome: Sendable {
    /// GPU-wide metrics (tenant "gpu") and each tenant's.
    public var metrics: [MetricRow]
    public var requests: [RequestRow]
    /// Each tenant's figure of merit (``Tenant/performance(end:)``), for normalised progress.
    public var performance: [Double?]
    /// When the last tenant finished (or the horizon).
    public var end: SimTime
    /// Simulator events handled.
    public var events: Int
    /// Tenants not finished at the end (only with a horizon).
    public var unfinished: [String]
    /// The first invariant violation seen (with `checkInvariants`).
    public var invariantViolation: String?
    /// Most SMs held at once.
    public var peakHeldSMs: Int

    public func metric(_ tenant: String, _ name: String) -> Double? {
        metrics.first { $0.tenant == tenant && $0.name == name }?.value
    }
}

/// The shared GPU as an ``EventHandler``: routes events between the tenants, the policy and
/// the mechanics (``SharedGPU``). Generic and `@inlinable`, so the module that chooses the tenant
/// set and the policy gets a specialised loop (static dispatch, no boxing).
public struct SharingEngine<Tenants: TenantSet, Policy: SharingPolicy>: EventHandler {
    public typealias Event = EngineEvent
    public var gpu: SharedGPU
    public var tenants: Tenants
    public var policy: Policy
    @usableFromInline var context = TenantContext()
    @usableFromInline var completedTags: [UInt64] = []
    /// The pending fluid-completion event (one at most) and its time.
    @usableFromInline var fluidEvent: EventHandle? = nil
    @usableFromInline var fluidEventTime: Int64 = .max

    public init(spec: GPUSpec, tenants: Tenants, policy: Policy, memory: MemoryMode) {
        let descriptors = (0..<tenants.count).map { tenants.descriptor($0) }
        gpu = SharedGPU(spec: spec, descriptors: descriptors, memoryMode: memory)
        self.tenants = tenants
        self.policy = policy
        context.submissions.reserveCapacity(64)
    }

    /// Policy setup and memory checks; schedules the start.
    @inlinable mutating func prepare(_ s: inout Scheduler<EngineEvent>) throws {
        try policy.setup(&gpu, &s)
        try gpu.checkFootprints()
        s.schedule(.start, at: .zero)
    }

    @inlinable
    public mutating func handle(_ event: EngineEvent, scheduler s: inout Scheduler<EngineEvent>) {
        let now = s.now
        switch event {
        case .start:
            for t in gpu.initialAdmission() { admit(t, &s) }
            for t in 0..<gpu.tenantCount {
                gpu.lend(&context, tenant: t, at: now)
                tenants.start(t, &context)
                absorb(t, &s)
            }
            for t in 0..<gpu.tenantCount { checkTenant(t, &s) }
        case .fluid:
            fluidEvent = nil
            fluidEventTime = .max
            var done = completedTags
            completedTags = []                      // keep `done` unique: no reallocation
            done.removeAll(keepingCapacity: true)
            gpu.fluid.completeFlows(at: now) { _, tag in done.append(tag) }
            for tag in done where tag & SharedGPU.backgroundTag == 0 {
                if gpu.flowCompleted(Int(tag)) { operationFinished(Int(tag), &s) }
            }
            completedTags = done
        case .copyStart(let st):
            gpu.copyLatencyOver(Int(st), at: now)
        case .delayDone(let st):
            operationFinished(Int(st), &s)
        case .tenantTimer(let t32, let token):
            let t = Int(t32)
            gpu.lend(&context, tenant: t, at: now)
            tenants.timer(t, token: token, &context)
            absorb(t, &s)
            checkTenant(t, &s)
        case .policyTimer(let token):
            for t in 0..<gpu.tenantCount { gpu.setSLOSlack(t, tenants.sloSlack(t, now: now)) }
            policy.timer(token: token, &gpu, &s)
        }
        // Start what the policy lets start, hand out SMs, re-solve rates, keep one completion event.
        while let (st, t, op) = gpu.nextLaunchable(scheduler: &s) {
            if let p = policy.place(op, tenant: t, stream: st, &gpu, &s) {
                gpu.launch(st, placement: p, at: now, scheduler: &s)
            } else {
                gpu.hold(st)
            }
        }
        gpu.dispatchDirty(at: now)
        gpu.fluid.solve(at: now)
        gpu.updateUsage(at: now)
        let next = gpu.fluid.nextCompletion?.nanoseconds ?? .max
        if next != fluidEventTime {
            if let h = fluidEvent { s.cancel(h) }
            fluidEvent = next == .max ? nil : s.schedule(.fluid, at: .ns(max(next, now.nanoseconds)))
            fluidEventTime = next
        }
    }

    @inlinable mutating func admit(_ t: Int, _ s: inout Scheduler<EngineEvent>) {
        gpu.markAdmitted(t, at: s.now)
        policy.tenantAdmitted(t, &gpu, &s)
        gpu.kick(t)
    }

    @inlinable mutating func absorb(_ t: Int, _ s: inout Scheduler<EngineEvent>) {
        if gpu.absorb(&context, tenant: t, scheduler: &s) { policy.tenantBusy(t, &gpu, &s) }
    }

    /// Idle and finished transitions.
    @inlinable mutating func checkTenant(_ t: Int, _ s: inout Scheduler<EngineEvent>) {
        if gpu.becameIdle(t) { policy.tenantIdle(t, &gpu, &s) }
        if gpu.mayFinish(t) && tenants.isFinished(t) {
            let next = gpu.markFinished(t, at: s.now)
            policy.tenantFinished(t, &gpu, &s)
            for w in next { admit(w, &s) }
        }
    }

    /// The head operation of stream `st` is done.
    @inlinable mutating func operationFinished(_ st: Int, _ s: inout Scheduler<EngineEvent>) {
        let f = gpu.popFinished(st)
        policy.finished(f.op, tenant: f.tenant, stream: st, placement: f.placement, &gpu, &s)
        gpu.lend(&context, tenant: f.tenant, at: s.now)
        tenants.completed(f.tenant, stream: f.local, token: f.token, &context)
        absorb(f.tenant, &s)
        gpu.readyIfPending(st)
        checkTenant(f.tenant, &s)
    }

    // MARK: results

    /// Metrics at the end of a run.
    @usableFromInline func outcome(end: SimTime, events: Int, requests: Bool) -> EngineOutcome {
        var rows: [MetricRow] = []
        var requestRows: [RequestRow] = []
        var performance: [Double?] = []
        let sms = Double(gpu.smCount)
        let bandwidth = gpu.spec.memory.bandwidthBytesPerSecond
        let span = max(end.seconds, 1e-12)
        func g(_ name: String, _ v: Double) { rows.append(MetricRow(tenant: "gpu", name: name, value: v)) }
        g("makespan_s", end.seconds)
        g("sm_utilisation", gpu.smBusy.integral(upTo: end) / (sms * span))
        g("hbm_utilisation", gpu.hbmBusy.integral(upTo: end) / (bandwidth * span))
        g("context_switches", Double(gpu.contextSwitches))
        g("preemptions", Double(gpu.preemptions))
        g("bytes_h2d", gpu.tenants.reduce(0) { $0 + $1.bytesH2D })
        g("bytes_d2h", gpu.tenants.reduce(0) { $0 + $1.bytesD2H })
        g("um_fault_bytes", gpu.tenants.reduce(0) { $0 + $1.faultBytes })
        g("events", Double(events))
        var unfinished: [String] = []
        var domainSize: [Int: Int] = [:]
        for t in gpu.tenants.indices { domainSize[policy.failureDomain(of: t, gpu), default: 0] += 1 }
        for (t, st) in gpu.tenants.enumerated() {
            let name = gpu.descriptors[t].name
            var r = TenantReport(tenant: name, wantsRequests: requests)
            r.add("sm_utilisation", st.smBusy.integral(upTo: end) / (sms * span))
            r.add("hbm_utilisation", st.hbmBusy.integral(upTo: end) / (bandwidth * span))
            r.add("kernels", Double(st.kernelsCompleted))
            r.add("preemptions", Double(st.preemptions))
            r.add("pauses", Double(st.pauses))
            r.add("lost_kernel_seconds", st.lostKernelSeconds)
            r.add("bytes_h2d", st.bytesH2D)
            r.add("bytes_d2h", st.bytesD2H)
            r.add("um_fault_bytes", st.faultBytes)
            r.add("admission_wait_s", st.admitted ? st.admittedAt.seconds : end.seconds)
            r.add("finished", st.finished ? 1 : 0)
            r.add("finish_s", st.finished ? st.finishedAt.seconds : end.seconds)
            r.add("blast_radius", Double(domainSize[policy.failureDomain(of: t, gpu)] ?? 1))
            let tenantEnd = st.finished ? st.finishedAt : end
            tenants.report(t, end: tenantEnd, into: &r)
            rows += r.metrics
            requestRows += r.requests
            performance.append(tenants.performance(t, end: tenantEnd))
            if !st.finished { unfinished.append(name) }
        }
        return EngineOutcome(metrics: rows, requests: requestRows, performance: performance, end: end, events: events,
                             unfinished: unfinished, invariantViolation: gpu.invariantViolation, peakHeldSMs: gpu.peakHeldSMs)
    }
}

extension SharingEngine {
    /// Runs tenants under a policy on one GPU until every tenant has finished (or the horizon).
    ///
    /// Throws ``TenancyError`` when a footprint can never fit, when the policy cannot be set up,
    /// or when the run stalls (tenants unfinished and nothing left to happen).
    @inlinable
    public static func run(spec: GPUSpec, tenants: Tenants, policy: Policy, memory: MemoryMode,
                           options: EngineOptions = EngineOptions()) throws -> EngineOutcome {
        var sim = Simulator(handler: SharingEngine(spec: spec, tenants: tenants, policy: policy, memory: memory),
                            reservingCapacity: 1024)
        sim.handler.gpu.checkInvariants = options.checkInvariants
        try sim.handler.prepare(&sim.scheduler)
        let reason = sim.run(until: options.horizon ?? .max)
        let g = sim.handler.gpu
        let unfinished = g.tenants.indices.filter { !g.tenants[$0].finished }
        let end: SimTime
        if reason == .reachedTime, let h = options.horizon {
            end = h
        } else {
            end = sim.handler.gpu.tenants.map(\.finishedAt).filter { $0 != .max }.max() ?? sim.now
            if !unfinished.isEmpty {
                let detail = unfinished.map { t in
                    let st = g.tenants[t]
                    return "\(g.descriptors[t].name): \(st.admitted ? "admitted" : "waiting for memory"), \(st.queuedOps) queued, \(st.runningOps) running"
                }.joined(separator: "; ")
                throw TenancyError.stalled(atNanoseconds: sim.now.nanoseconds, tenants: unfinished.map { g.descriptors[$0].name }, detail: detail)
            }
        }
        return sim.handler.outcome(end: end, events: sim.scheduler.eventsHandled, requests: options.requests)
    }
}
