// The mechanics the generic engine (SharingEngine) drives: admission, submissions, launching,
// completions. Non-generic, so the engine's generic code — specialised in the module that picks
// the tenant set and the policy — stays a thin router between tenants, policy and this.

import Hardware
import SimCore

extension SharedGPU {
    /// A footprint larger than its memory domain can never run (except by oversubscription);
    /// with fixed memory the footprints of a domain must fit together.
    @usableFromInline func checkFootprints() throws {
        if case .unified = memoryMode { return }
        for (t, st) in tenants.enumerated() {
            let d = memoryDomains[st.memoryDomain]
            let f = st.footprintBytes
            if f > d.capacityBytes {
                throw TenancyError.footprintExceedsCapacity(tenant: t, name: descriptors[t].name, footprintBytes: f,
                                                             domain: d.name, capacityBytes: d.capacityBytes)
            }
        }
        if memoryMode == .fixed {
            for (d, domain) in memoryDomains.enumerated() {
                let members = tenants.indices.filter { tenants[$0].memoryDomain == d }
                let total = members.reduce(0) { $0 + tenants[$1].footprintBytes }
                if total > domain.capacityBytes {
                    throw TenancyError.footprintsExceedCapacity(tenants: members.map { descriptors[$0].name }, totalBytes: total,
                                                                 domain: domain.name, capacityBytes: domain.capacityBytes)
                }
            }
        }
    }

    /// Time zero: the tenants admitted at once, in index order (the rest wait for memory).
    @usableFromInline mutating func initialAdmission() -> [Int] {
        var admitted: [Int] = []
        for t in tenants.indices {
            let d = tenants[t].memoryDomain
            switch memoryMode {
            case .fixed:
                admitted.append(t)
            case .unified:
                let f = Double(tenants[t].footprintBytes)
                let free = Double(memoryDomains[d].capacityBytes) - memoryDomains[d].residentBytes
                let r = max(0, min(f, free))
                tenants[t].residentBytes = r
                memoryDomains[d].residentBytes += r
                admitted.append(t)
            case .admission:
                let f = tenants[t].footprintBytes
                if memoryDomains[d].waiting.isEmpty && memoryDomains[d].admittedBytes + f <= memoryDomains[d].capacityBytes {
                    memoryDomains[d].admittedBytes += f
                    admitted.append(t)
                } else {
                    memoryDomains[d].waiting.append(t)
                }
            }
        }
        return admitted
    }

    @usableFromInline mutating func setSLOSlack(_ t: Int, _ v: Double?) { sloSlack[t] = v }

    @usableFromInline mutating func markAdmitted(_ t: Int, at now: SimTime) {
        tenants[t].admitted = true
        tenants[t].admittedAt = now
    }

    /// Marks the tenant finished, releases its memory and returns the tenants now admitted in
    /// its place (admission mode, FIFO while the first waiting one fits).
    @usableFromInline mutating func markFinished(_ t: Int, at now: SimTime) -> [Int] {
        tenants[t].finished = true
        tenants[t].finishedAt = now
        let d = tenants[t].memoryDomain
        var next: [Int] = []
        switch memoryMode {
        case .admission:
            if tenants[t].admitted {
                memoryDomains[d].admittedBytes -= tenants[t].footprintBytes
            } else if let i = memoryDomains[d].waiting.firstIndex(of: t) {
                memoryDomains[d].waiting.remove(at: i)
            }
            while let w = memoryDomains[d].waiting.first {
                let f = tenants[w].footprintBytes
                guard memoryDomains[d].admittedBytes + f <= memoryDomains[d].capacityBytes else { break }
                memoryDomains[d].waiting.removeFirst()
                memoryDomains[d].admittedBytes += f
                next.append(w)
            }
        case .unified:
            memoryDomains[d].residentBytes -= tenants[t].residentBytes
            tenants[t].residentBytes = 0
        case .fixed:
            break
        }
        return next
    }

    /// Readies the context for a call of tenant `t`.
    @usableFromInline @inline(__always)
    func lend(_ context: inout TenantContext, tenant t: Int, at now: SimTime) {
        context.now = now
        context.streamLimit = Int32(tenants[t].streamCount)
    }

    /// Moves the context's submissions into tenant `t`'s streams and its timers into the
    /// scheduler. Returns whether the tenant just became busy (it had no work before).
    @usableFromInline mutating func absorb(_ context: inout TenantContext, tenant t: Int,
                                           scheduler s: inout Scheduler<EngineEvent>) -> Bool {
        var becameBusy = false
        if !context.submissions.isEmpty {
            let base = tenants[t].firstStream
            for sub in context.submissions {
                let st = base + Int(sub.stream)
                let remaining: Double
                switch sub.op {
                case .kernel: remaining = 1
                case .hostCopy(let b, _, _), .deviceCopy(let b), .memset(let b): remaining = Double(max(b, 1))
                case .delay: remaining = 0
                }
                streams[st].queue.append(QueuedOp(op: sub.op, token: sub.token, remaining: remaining))
                tenants[t].queuedOps += 1
                if streams[st].phase == .idle { pushReady(st) }
            }
            context.submissions.removeAll(keepingCapacity: true)
            if !tenants[t].busy {
                tenants[t].busy = true
                becameBusy = true
            }
        }
        if !context.timers.isEmpty {
            for (at, token) in context.timers { s.schedule(.tenantTimer(tenant: Int32(t), token: token), at: at) }
            context.timers.removeAll(keepingCapacity: true)
        }
        return becameBusy
    }

    /// Whether tenant `t` just ran out of work (it was busy and has nothing queued or running).
    @usableFromInline mutating func becameIdle(_ t: Int) -> Bool {
        guard tenants[t].busy && !tenants[t].hasWork else { return false }
        tenants[t].busy = false
        return true
    }

    /// Whether tenant `t` is unfinished and has nothing queued or running.
    @usableFromInline func mayFinish(_ t: Int) -> Bool { !tenants[t].finished && !tenants[t].hasWork }

    /// The next ready stream whose head may be offered to the policy: (stream, tenant, op).
    /// Streams of tenants not yet admitted are held; delays start here without the policy.
    @usableFromInline mutating func nextLaunchable(scheduler s: inout Scheduler<EngineEvent>) -> (stream: Int, tenant: Int, op: TenantOp)? {
        while let st = popReady() {
            guard streams[st].phase == .idle, streams[st].head < streams[st].queue.count else { continue }
            let t = Int(streams[st].tenant)
            guard tenants[t].admitted else { streams[st].phase = .held; continue }
            let op = streams[st].queue[streams[st].head].op
            if case .delay(let d) = op {
                streams[st].phase = .delay
                tenants[t].queuedOps -= 1
                tenants[t].delayOps += 1
                s.schedule(.delayDone(stream: Int32(st)), after: d)
                continue
            }
            return (st, t, op)
        }
        return nil
    }

    /// The policy held stream `st`: it waits for a kick (unless the policy already kicked it).
    @usableFromInline mutating func hold(_ st: Int) {
        if streams[st].phase == .idle && !streams[st].inReady { streams[st].phase = .held }
    }

    /// A flow of stream `st` completed: true when that finished its operation (a kernel or a
    /// copy); a page migration instead starts its kernel (or parks it if the tenant was paused).
    @usableFromInline mutating func flowCompleted(_ st: Int) -> Bool {
        switch streams[st].phase {
        case .kernel, .copy:
            return true
        case .fault:
            removeActive(st)
            streams[st].flow = nil
            let t = Int(streams[st].tenant)
            if streams[st].pausedDuringFault {
                streams[st].pausedDuringFault = false
                streams[st].phase = .held
                tenants[t].runningOps -= 1
                tenants[t].queuedOps += 1
            } else {
                enqueueKernel(st)
            }
            return false
        default:
            return false
        }
    }

    /// Pops the finished head operation of stream `st` and does its bookkeeping.
    @usableFromInline mutating func popFinished(_ st: Int) -> (tenant: Int, local: Int, op: TenantOp, token: Int64, placement: Placement) {
        let t = Int(streams[st].tenant)
        let head = streams[st].head
        let q = streams[st].queue[head]
        if head + 1 == streams[st].queue.count {
            streams[st].queue.removeAll(keepingCapacity: true)
            streams[st].head = 0
        } else {
            streams[st].head = head + 1
        }
        let phase = streams[st].phase
        tenants[t].opsCompleted += 1
        switch q.op {
        case .kernel:
            dequeueKernel(st)
            tenants[t].kernelsCompleted += 1
        case .hostCopy(let bytes, let direction, _):
            if direction == .hostToDevice { tenants[t].bytesH2D += Double(bytes) } else { tenants[t].bytesD2H += Double(bytes) }
        default:
            break
        }
        streams[st].phase = .idle
        if phase == .delay {
            tenants[t].delayOps -= 1
        } else {
            tenants[t].runningOps -= 1
            if streams[st].activeSlot >= 0 { removeActive(st) }
        }
        streams[st].flow = nil
        return (t, Int(streams[st].local), q.op, q.token, streams[st].placement)
    }

    /// Queues stream `st` for launching when its next operation is waiting.
    @usableFromInline mutating func readyIfPending(_ st: Int) {
        if streams[st].phase == .idle && streams[st].head < streams[st].queue.count { pushReady(st) }
    }
}
