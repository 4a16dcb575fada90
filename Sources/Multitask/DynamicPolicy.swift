// `dynamic`: an OS-like manager that periodically re-sizes each tenant's SM share (green-context
// partitions) from SLO slack and observed demand, and preempts to take SMs back.

import Hardware
import SimCore
import Tenancy

/// Every tenant gets its own SM partition (green-context style: own SMs, shared HBM). Every
/// `period` the manager re-sizes them:
///
/// 1. Demand: the most SMs each tenant's running and waiting kernels could fill at any of the
///    last `demandWindow` period boundaries (at least 1); a tenant with work now, or within the
///    window, is active.
/// 2. Each tenant with work gets `minSMs` (as far as SMs go); idle tenants keep one SM.
/// 3. Latency-critical tenants, tightest SLO slack first, get their demand when their slack is
///    below `slackTarget` (or unknown), else a share of it that shrinks as slack grows
///    (`demand · (1 − (slack − slackTarget))`, at least a quarter).
/// 4. Best-effort tenants share what is left max-min fairly by demand; SMs still left go to
///    latency-critical tenants first, then to anyone (nothing stays idle).
///
/// A tenant whose new share is smaller than what its kernels hold is preempted: its kernels are
/// stopped with their progress kept (counted as preemptions) and it runs again on its new share
/// after `preemptionCost`. Memory admission is the engine's (run it with memory mode admission).
public struct DynamicPolicy: SharingPolicy, Sendable {
    public static let name = "dynamic"
    public let period: SimTime
    public let minSMs: Int
    public let slackTarget: Double
    public let preemptionCost: SimTime
    /// Periods of demand history kept.
    public let demandWindow: Int

    var partitionOf: [Int] = []
    /// Demand observed at the last `demandWindow` boundaries, per tenant (ring buffers).
    var history: [[Int]] = []
    var tick = 0
    // Scratch of computeShares, kept between periods.
    var share: [Int] = [], demand: [Int] = [], active: [Bool] = []
    var critical: [Int] = [], open: [Int] = [], pool: [Int] = []
    var frozen: [Bool] = []
    var resizes = 0

    public init(period: SimTime, minSMs: Int, slackTarget: Double, preemptionCost: SimTime, demandWindow: Int = 4) {
        precondition(period > .zero && minSMs >= 1 && preemptionCost >= .zero && demandWindow >= 1)
        self.period = period
        self.minSMs = minSMs
        self.slackTarget = slackTarget
        self.preemptionCost = preemptionCost
        self.demandWindow = demandWindow
    }

    public mutating func setup(_ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) throws {
        let n = gpu.tenantCount, sms = gpu.smCount
        guard n <= sms else {
            throw TenancyError.policySetup("dynamic: \(n) tenants need at least one SM each, but \(gpu.spec.name) has \(sms)")
        }
        // Start with equal shares (the first tenants get the remainder).
        partitionOf = (0..<n).map { t in
            gpu.addPartition(name: "share-\(gpu.descriptors[t].name)", sms: sms / n + (t < sms % n ? 1 : 0))
        }
        frozen = [Bool](repeating: false, count: n)
        history = [[Int]](repeating: [Int](repeating: 0, count: demandWindow), count: n)
        s.schedule(.policyTimer(token: -1), after: period)
    }

    public mutating func place(_ op: TenantOp, tenant t: Int, stream: Int,
                               _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) -> Placement? {
        frozen[t] ? nil : Placement(partition: partitionOf[t])
    }

    public mutating func timer(token: Int64, _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) {
        if token >= 0 {
            let t = Int(token)
            frozen[t] = false
            gpu.kick(t)
            return
        }
        for t in 0..<gpu.tenantCount {
            let st = gpu.tenants[t]
            history[t][tick % demandWindow] = st.admitted && !st.finished && st.hasWork ? max(1, gpu.kernelDemand(of: t, sms: gpu.smCount)) : 0
        }
        tick += 1
        computeShares(gpu)
        // Shrink first (preempting where needed), then grow.
        for t in 0..<gpu.tenantCount where share[t] < gpu.model.partitions[partitionOf[t]].sms {
            if gpu.tenants[t].heldSMs > share[t] && !frozen[t] {
                gpu.pause(t, at: s.now, asPreemption: true)
                frozen[t] = true
                s.schedule(.policyTimer(token: Int64(t)), after: preemptionCost)
            }
            gpu.resizePartition(partitionOf[t], sms: share[t])
            resizes += 1
        }
        for t in 0..<gpu.tenantCount where share[t] > gpu.model.partitions[partitionOf[t]].sms {
            gpu.resizePartition(partitionOf[t], sms: share[t])
            resizes += 1
        }
        if gpu.tenants.contains(where: { !$0.finished }) {   // (a scan of plain values, no allocation)
            s.schedule(.policyTimer(token: -1), after: period)
        }
    }

    /// Computes the SM share of every tenant for the next period into `share` (they sum to the
    /// GPU's SMs). Scratch arrays are kept between periods: nothing is allocated per period.
    mutating func computeShares(_ gpu: SharedGPU) {
        let n = gpu.tenantCount, sms = gpu.smCount
        if share.count != n {
            share = [Int](repeating: 1, count: n)
            demand = [Int](repeating: 0, count: n)
            active = [Bool](repeating: false, count: n)
            critical.reserveCapacity(n)
            open.reserveCapacity(n)
            pool.reserveCapacity(n)
        }
        for t in 0..<n {
            share[t] = 1
            demand[t] = 0
            active[t] = false
            if gpu.tenants[t].admitted && !gpu.tenants[t].finished {
                let d = history[t].max() ?? 0
                if d > 0 { active[t] = true; demand[t] = d }
            }
        }
        var left = sms - n
        // Minimum for active tenants.
        for t in 0..<n where active[t] {
            let extra = min(max(0, minSMs - 1), left)
            share[t] += extra
            left -= extra
        }
        // Latency-critical tenants by slack, tightest first.
        critical.removeAll(keepingCapacity: true)
        for t in 0..<n where active[t] && gpu.tenants[t].priority == .latencyCritical { critical.append(t) }
        critical.sort { (gpu.sloSlack[$0] ?? -1, $0) < (gpu.sloSlack[$1] ?? -1, $1) }
        for t in critical {
            var want = demand[t]
            if let slack = gpu.sloSlack[t], slack >= slackTarget {
                let f = max(0.25, 1 - (slack - slackTarget))
                want = max(1, Int((Double(demand[t]) * f).rounded(.up)))
            }
            let extra = min(max(0, want - share[t]), left)
            share[t] += extra
            left -= extra
        }
        // Best effort: max-min fair by demand (one SM at a time to the smallest share).
        open.removeAll(keepingCapacity: true)
        for t in 0..<n where active[t] && gpu.tenants[t].priority != .latencyCritical && share[t] < demand[t] { open.append(t) }
        while left > 0 && !open.isEmpty {
            var best = 0
            for k in 1..<open.count where (share[open[k]], open[k]) < (share[open[best]], open[best]) { best = k }
            let t = open[best]
            share[t] += 1
            left -= 1
            if share[t] >= demand[t] { open.remove(at: best) }
        }
        // Leftovers: latency-critical tenants up to their full demand, then the active tenants in
        // turn (every tenant when none is active): no SM stays unassigned.
        for t in critical {
            let extra = min(max(0, demand[t] - share[t]), left)
            share[t] += extra
            left -= extra
        }
        pool.removeAll(keepingCapacity: true)
        pool.append(contentsOf: critical)
        for t in 0..<n where active[t] && gpu.tenants[t].priority != .latencyCritical { pool.append(t) }
        if pool.isEmpty { for t in 0..<n { pool.append(t) } }
        var k = 0
        while left > 0 {
            share[pool[k % pool.count]] += 1
            left -= 1
            k += 1
        }
    }
}

extension DynamicPolicy {
    /// `parameters.dynamic`: `period_ms` (default 5), `min_sms` (default 2), `slack_target`
    /// (default 0.2), `preemption_cost_us` (default 50), `demand_window` (periods, default 4).
    public init(settings node: SettingsNode?, context: PolicyContext) throws {
        var period = SimTime.ms(5), minSMs = 2, slack = 0.2, cost = SimTime.us(50), window = 4
        if let node {
            var m = try SettingsMap(node, "dynamic settings {period_ms, min_sms, slack_target, preemption_cost_us, demand_window}")
            if let p = try m.optionalDouble("period_ms", "the re-sizing period in ms", 0.01...100_000) { period = .ms(p) }
            if let n = try m.optionalInt("min_sms", "the SMs every busy tenant keeps", 1...context.spec.smCount) { minSMs = n }
            if let s = try m.optionalDouble("slack_target", "the SLO slack below which a tenant gets its full demand", 0...1) { slack = s }
            if let c = try m.optionalDouble("preemption_cost_us", "the preemption cost in µs", 0...1_000_000) { cost = .us(c) }
            if let w = try m.optionalInt("demand_window", "periods of demand history", 1...10_000) { window = w }
            try m.finish(known: ["period_ms", "min_sms", "slack_target", "preemption_cost_us", "demand_window"])
        }
        self.init(period: period, minSMs: minSMs, slackTarget: slack, preemptionCost: cost, demandWindow: window)
    }
}
