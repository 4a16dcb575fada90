// An LLM inference service: requests arrive (trace or generator), each is a prefill then decode
// steps; iterations batch them (continuous batching with a maximum batch, or one at a time).

import Hardware
import SimCore
import Tenancy

/// An LLM serving tenant.
///
/// **Iterations.** An iteration runs the prefill of the requests it admits and one decode step
/// of every request already running (Orca/vLLM-style continuous batching, prefills whole). At an
/// iteration boundary waiting requests are admitted first come first served while the batch has
/// fewer than `maxBatch` requests, the iteration stays within `maxTokens` tokens (a prompt longer
/// than that runs alone) and their KV cache — prompt plus output, reserved at admission — fits in
/// the KV capacity. With `maxBatch` 1 there is no batching: one request at a time, prefill then
/// its decode steps. A request whose prompt and output could never fit the KV cache is rejected.
///
/// **Timing.** A request's first token comes at the end of the iteration that ran its prefill
/// (TTFT = that time − arrival); each later iteration adds a token; it finishes with its last
/// token. TPOT = (finish − first token) / (output tokens − 1).
public struct InferenceTenant: Tenant, Sendable {
    public let descriptor: TenantDescriptor
    public var cost: ServingCost
    public let requests: RequestList
    public let maxBatch: Int
    public let maxTokens: Int
    public let kvCapacityTokens: Int

    // State.
    var nextArrival = 0
    var waiting: [Int32] = []
    var waitingHead = 0
    var running: [Int32] = []           // decoding requests
    var batchPrefill: [Int32] = []      // prefills of the iteration in flight
    var batchDecode: [Int32] = []       // decode steps of the iteration in flight
    var scratchTokens: [Int32] = []
    var scratchContexts: [Int32] = []
    var inFlight = false
    var iteration: Int64 = 0
    var kvUsed = 0
    var generated: [Int32]
    var firstTokenNs: [Int64]
    var finishNs: [Int64]
    var rejected = 0
    var finished = 0
    var sloMet = 0
    var tokensOut = 0
    var ttft = LatencyDistribution()
    var tpot = LatencyDistribution()
    var e2e = LatencyDistribution()
    var queueDelay = LatencyDistribution()
    var iterations = 0
    var batchSizeSum = 0
    /// Exponentially weighted recent SLO ratio (observed / target), for the dynamic policy.
    var recentRatio: Double? = nil
    /// Set when a cost lookup failed (the run reports it).
    public private(set) var failure: String? = nil

    public init(descriptor: TenantDescriptor, cost: ServingCost, requests: RequestList, maxBatch: Int, maxTokens: Int,
                kvCapacityTokens: Int) {
        precondition(maxBatch >= 1 && maxTokens >= 1 && kvCapacityTokens >= 1)
        self.descriptor = descriptor
        self.cost = cost
        self.requests = requests
        self.maxBatch = maxBatch
        self.maxTokens = maxTokens
        self.kvCapacityTokens = kvCapacityTokens
        generated = [Int32](repeating: 0, count: requests.count)
        firstTokenNs = [Int64](repeating: -1, count: requests.count)
        finishNs = [Int64](repeating: -1, count: requests.count)
        waiting.reserveCapacity(1024)
        running.reserveCapacity(maxBatch)
    }

    public var isFinished: Bool {
        nextArrival == requests.count && waitingHead == waiting.count && running.isEmpty && !inFlight
    }

    public mutating func start(_ ctx: inout TenantContext) {
        scheduleArrival(&ctx)
    }

    mutating func scheduleArrival(_ ctx: inout TenantContext) {
        guard nextArrival < requests.count else { return }
        let t = max(requests.arrivalNs[nextArrival], ctx.now.nanoseconds)
        ctx.setTimer(at: .ns(t), token: Int64(nextArrival))
    }

    public mutating func timer(token: Int64, _ ctx: inout TenantContext) {
        // Arrivals: every request due now joins the queue.
        while nextArrival < requests.count && requests.arrivalNs[nextArrival] <= ctx.now.nanoseconds {
            waiting.append(Int32(nextArrival))
            nextArrival += 1
        }
        scheduleArrival(&ctx)
        if !inFlight { startIteration(&ctx) }
    }

    public mutating func completed(stream: Int, token: Int64, _ ctx: inout TenantContext) {
        guard token >= 0 else { return }
        inFlight = false
        let now = ctx.now.nanoseconds
        for r32 in batchDecode {
            let r = Int(r32)
            generated[r] += 1
            tokensOut += 1
        }
        for r32 in batchPrefill {
            let r = Int(r32)
            firstTokenNs[r] = now
            generated[r] = 1
            tokensOut += 1
            ttft.record(.ns(now - requests.arrivalNs[r]))
            running.append(r32)
        }
        // Retire finished requests (keep order of the others).
        var w = 0
        for i in running.indices {
            let r = Int(running[i])
            if generated[r] >= requests.outputTokens[r] { finish(r, at: now) } else { running[w] = running[i]; w += 1 }
        }
        running.removeLast(running.count - w)
        startIteration(&ctx)
    }

    mutating func finish(_ r: Int, at now: Int64) {
        finishNs[r] = now
        finished += 1
        kvUsed -= Int(requests.inputTokens[r]) + Int(requests.outputTokens[r])
        let arrival = requests.arrivalNs[r]
        e2e.record(.ns(now - arrival))
        let first = firstTokenNs[r]
        let out = Int(requests.outputTokens[r])
        var met = true
        var ratio = 0.0
        if let s = descriptor.slo.ttft {
            met = met && first - arrival <= s.nanoseconds
            ratio = max(ratio, Double(first - arrival) / Double(s.nanoseconds))
        }
        if out > 1 {
            let perToken = (now - first) / Int64(out - 1)
            tpot.record(.ns(perToken))
            if let s = descriptor.slo.tpot {
                met = met && perToken <= s.nanoseconds
                ratio = max(ratio, Double(perToken) / Double(s.nanoseconds))
            }
        }
        if let s = descriptor.slo.latency {
            met = met && now - arrival <= s.nanoseconds
            ratio = max(ratio, Double(now - arrival) / Double(s.nanoseconds))
        }
        if met { sloMet += 1 }
        recentRatio = recentRatio.map { 0.8 * $0 + 0.2 * ratio } ?? ratio
    }

    mutating func startIteration(_ ctx: inout TenantContext) {
        guard !inFlight else { return }
        batchPrefill.removeAll(keepingCapacity: true)
        batchDecode.removeAll(keepingCapacity: true)
        var tokens = running.count
        while waitingHead < waiting.count && running.count + batchPrefill.count < maxBatch {
            let r = Int(waiting[waitingHead])
            let need = Int(requests.inputTokens[r]) + Int(requests.outputTokens[r])
            if need > kvCapacityTokens {
                rejected += 1
                waitingHead += 1
                continue
            }
            if kvUsed + need > kvCapacityTokens { break }
            let n = Int(requests.inputTokens[r])
            if tokens > 0 && tokens + n > maxTokens { break }
            kvUsed += need
            tokens += n
            batchPrefill.append(Int32(r))
            queueDelay.record(.ns(ctx.now.nanoseconds - requests.arrivalNs[r]))
            waitingHead += 1
        }
        if waitingHead > 4096 && waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
        guard !batchPrefill.isEmpty || !running.isEmpty else { return }
        batchDecode.append(contentsOf: running)
        scratchTokens.removeAll(keepingCapacity: true)
        scratchContexts.removeAll(keepingCapacity: true)
        for r in batchPrefill { scratchTokens.append(requests.inputTokens[Int(r)]) }
        for r in batchDecode { scratchContexts.append(requests.inputTokens[Int(r)] + generated[Int(r)] + 1) }
        do {
            try cost.submitIteration(prefills: scratchTokens[...], contexts: scratchContexts[...], token: iteration, into: &ctx)
        } catch {
            // A cost the profiles cannot give: stop serving; the run reports the failure.
            failure = "\(error)"
            nextArrival = requests.count
            waitingHead = waiting.count
            running.removeAll()
            return
        }
        iteration += 1
        iterations += 1
        batchSizeSum += batchPrefill.count + batchDecode.count
        inFlight = true
    }

    public func sloSlack(now: SimTime) -> Double? {
        guard let target = descriptor.slo.ttft ?? descriptor.slo.latency ?? descriptor.slo.tpot else { return nil }
        var ratio = recentRatio ?? 0
        if waitingHead < waiting.count {
            // The oldest waiting request's wait so far against the first-token target.
            let waited = now.nanoseconds - requests.arrivalNs[Int(waiting[waitingHead])]
            ratio = max(ratio, Double(waited) / Double(target.nanoseconds))
        }
        if recentRatio == nil && waitingHead == waiting.count { return nil }
        return 1 - ratio
    }

    public func performance(end: SimTime) -> Double? {
        e2e.isEmpty ? nil : 1 / e2e.mean.seconds
    }

    public func report(end: SimTime, into r: inout TenantReport) {
        let arrived = nextArrival
        let span = end.seconds
        r.add("requests", Double(arrived))
        r.add("requests_finished", Double(finished))
        r.add("requests_rejected", Double(rejected))
        r.add("throughput_rps", span > 0 ? Double(finished) / span : 0)
        r.add("throughput_tokens_per_s", span > 0 ? Double(tokensOut) / span : 0)
        if descriptor.slo != .none {
            r.add("slo_attainment", arrived > 0 ? Double(sloMet) / Double(arrived) : 1)
        }
        for (name, d) in [("ttft", ttft), ("tpot", tpot), ("latency", e2e), ("queue_delay", queueDelay)] {
            r.add("\(name)_mean_s", d.mean.seconds)
            r.add("\(name)_p50_s", d.percentile(50).seconds)
            r.add("\(name)_p95_s", d.percentile(95).seconds)
            r.add("\(name)_p99_s", d.percentile(99).seconds)
        }
        r.add("cost_failed", failure == nil ? 0 : 1)
        r.add("iterations", Double(iterations))
        r.add("mean_batch", iterations > 0 ? Double(batchSizeSum) / Double(iterations) : 0)
        if r.wantsRequests {
            for i in 0..<requests.count {
                r.requests.append(RequestRow(tenant: descriptor.name, request: i, arrivalNs: requests.arrivalNs[i],
                                             firstTokenNs: firstTokenNs[i], finishNs: finishNs[i],
                                             inputTokens: Int(requests.inputTokens[i]), outputTokens: Int(requests.outputTokens[i])))
            }
        }
    }
}
