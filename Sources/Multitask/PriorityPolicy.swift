// `priority`: REEF-like — a latency-critical kernel preempts best-effort kernels by resetting
// them (their progress is lost) at a cost; best-effort kernels fill the SMs it leaves idle.

import Hardware
import SimCore
import Tenancy

/// REEF-style priority scheduling (Han et al., OSDI'22), on the whole GPU.
///
/// Latency-critical kernels are dispatched ahead of best-effort ones. When a latency-critical
/// kernel arrives and the SMs it needs (with those of latency-critical kernels already waiting)
/// are held by best-effort kernels, every best-effort kernel holding SMs is reset — killed, its
/// progress lost, to start over later — and nothing starts for `preemptionCost` (the time to
/// kill and drain them). Then the latency-critical kernels start, and best-effort kernels come
/// back behind them, filling the SMs they leave free (REEF's dynamic kernel padding). Memory
/// bandwidth is not partitioned (REEF does not control it).
public struct PriorityPolicy: SharingPolicy, Sendable {
    public static let name = "priority"
    public let preemptionCost: SimTime
    var windowOpen = false
    var epoch: Int64 = 0

    public init(preemptionCost: SimTime) {
        precondition(preemptionCost >= .zero)
        self.preemptionCost = preemptionCost
    }

    public mutating func place(_ op: TenantOp, tenant t: Int, stream: Int,
                               _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) -> Placement? {
        if windowOpen { return nil }
        let critical = gpu.tenants[t].priority == .latencyCritical
        guard critical else { return .wholeGPU }
        guard case .kernel(let k) = op else { return Placement(partition: 0, priority: true) }
        // SMs the latency-critical kernels want beyond what they hold, this one included.
        let sms = gpu.smCount
        var want = KernelCostModel.usefulSMs(ctas: k.ctas, ctasPerSM: k.ctasPerSM, sms: sms)
        var bestEffortHeld = 0
        for q in 0..<gpu.tenantCount {
            let lc = gpu.tenants[q].priority == .latencyCritical
            for st in gpu.streams(of: q) where gpu.isRunningKernel(st) {
                if lc {
                    if case .kernel(let kk)? = gpu.headOp(st) {
                        want += max(0, KernelCostModel.usefulSMs(ctas: kk.ctas, ctasPerSM: kk.ctasPerSM, sms: sms) - gpu.heldSMs(ofStream: st))
                    }
                } else {
                    bestEffortHeld += gpu.heldSMs(ofStream: st)
                }
            }
        }
        let free = sms - gpu.heldSMs(onPartition: 0)
        if want <= free || bestEffortHeld == 0 { return Placement(partition: 0, priority: true) }
        // Reset every best-effort kernel holding SMs; start after the preemption cost.
        for q in 0..<gpu.tenantCount where gpu.tenants[q].priority != .latencyCritical {
            for st in gpu.streams(of: q) where gpu.isRunningKernel(st) && gpu.heldSMs(ofStream: st) > 0 {
                gpu.reset(stream: st, at: s.now)
            }
        }
        windowOpen = true
        epoch += 1
        s.schedule(.policyTimer(token: epoch), after: preemptionCost)
        return nil
    }

    public mutating func timer(token: Int64, _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) {
        guard token == epoch, windowOpen else { return }
        windowOpen = false
        // Latency-critical tenants first: their kernels are placed (and dispatched) ahead.
        for t in 0..<gpu.tenantCount where gpu.tenants[t].priority == .latencyCritical { gpu.kick(t) }
        for t in 0..<gpu.tenantCount where gpu.tenants[t].priority != .latencyCritical { gpu.kick(t) }
    }
}

extension PriorityPolicy {
    /// `parameters.priority`: `preemption_cost_us` (default 50; REEF reports resetting
    /// best-effort kernels in tens of microseconds).
    public init(settings node: SettingsNode?, context: PolicyContext) throws {
        var cost = SimTime.us(50)
        if let node {
            var m = try SettingsMap(node, "priority settings {preemption_cost_us}")
            if let c = try m.optionalDouble("preemption_cost_us", "the preemption cost in µs", 0...1_000_000) { cost = .us(c) }
            try m.finish(known: ["preemption_cost_us"])
        }
        self.init(preemptionCost: cost)
    }
}
