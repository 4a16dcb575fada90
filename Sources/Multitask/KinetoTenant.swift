// A training job (a Kineto trace's operations looped for N iterations) or a replayed trace (once,
// at its recorded pace), as a tenant. The trace is prepared by Hardware's KinetoReplay (occupancy,
// isolated kernel durations, stream order and release times); this file only drives it.

import Hardware
import SimCore
import Tenancy
import Traces

/// A Kineto trace prepared for looping: its operations per stream, with what each waits for.
public struct KinetoProgram: Sendable {
    public let file: String
    /// Operations, as tenant operations.
    public let ops: [TenantOp]
    /// Operation indices per (local) stream, in recorded order.
    public let streamOps: [[Int32]]
    /// Whether each operation was queued behind its stream predecessor in the recording.
    public let queued: [Bool]
    /// Earliest start of each operation after the start of its iteration, ns (the recorded
    /// offset: launch call plus launch latency for a queued operation, recorded start otherwise).
    public let releaseOffset: [Int64]
    /// Operations sorted by (recorded end, recorded start): the order completions are awaited in.
    public let endOrder: [Int32]
    /// For each operation: how many operations of `endOrder` must be done before it may start
    /// when dependencies are inferred from the recording (all that ended before it started).
    public let needPrefix: [Int32]
    public let kernels: Int
    /// Σ isolated kernel durations, seconds.
    public let kernelSeconds: Double
    /// Recorded span from the first release to the last end, seconds.
    public let recordedSpanSeconds: Double

    /// Prepares `path` for `spec` (device filter `device`, launch latency as in trace replay).
    public init(path: String, display: String, spec: GPUSpec, device: Int?) throws {
        var options = KinetoReplay.Options()
        options.device = device
        let w: KinetoWorkload
        do { w = try KinetoReplay(spec: spec, options: options).workload(path: path) } catch let e as TraceError {
            throw SettingsError(file: display, keyPath: "", message: e.description)
        }
        file = display
        var ops: [TenantOp] = []
        var queued: [Bool] = []
        var release: [Int64] = []
        var kernelSeconds = 0.0
        var streamOf = [Int32](repeating: 0, count: w.ops.count)
        for (s, list) in w.streams.enumerated() { for i in list { streamOf[i] = Int32(s) } }
        for op in w.ops {
            switch op.kind {
            case .kernel(let k):
                ops.append(.kernel(k))
                kernelSeconds += k.isolatedSeconds
            case .hostCopy(let b, let d, let m): ops.append(.hostCopy(bytes: b, direction: d, memory: m))
            case .deviceCopy(let b): ops.append(.deviceCopy(bytes: b))
            case .memset(let b): ops.append(.memset(bytes: b))
            case .fixed(let ns): ops.append(.delay(.ns(ns)))
            }
            queued.append(op.queued)
            release.append(op.release - w.origin)
        }
        self.ops = ops
        self.queued = queued
        releaseOffset = release
        streamOps = w.streams.map { $0.map { Int32($0) } }
        let order = w.ops.indices.sorted { a, b in
            let x = w.ops[a], y = w.ops[b]
            return (x.recordedEnd, x.recordedStart, a) < (y.recordedEnd, y.recordedStart, b)
        }
        endOrder = order.map { Int32($0) }
        // needPrefix[i] = number of ops with (end, start) < (start_i, start_i) lexicographically.
        var need = [Int32](repeating: 0, count: w.ops.count)
        let keys = order.map { (w.ops[$0].recordedEnd, w.ops[$0].recordedStart) }
        for i in w.ops.indices {
            let s = w.ops[i].recordedStart
            var lo = 0, hi = keys.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if keys[mid] < (s, s) { lo = mid + 1 } else { hi = mid }
            }
            need[i] = Int32(lo)
        }
        needPrefix = need
        kernels = w.kernelCount
        self.kernelSeconds = kernelSeconds
        let lastEnd = w.ops.map(\.recordedEnd).max() ?? w.origin
        recordedSpanSeconds = Double(lastEnd - w.origin) * 1e-9
    }
}

extension KinetoProgram {
    /// A generated iteration: `kernels` run one after another on one stream (each queued behind
    /// the previous), no copies.
    public init(generated kernels: [KernelWork], name: String) {
        precondition(!kernels.isEmpty)
        file = name
        ops = kernels.map { .kernel($0) }
        streamOps = [kernels.indices.map { Int32($0) }]
        queued = kernels.indices.map { $0 > 0 }
        releaseOffset = Array(repeating: 0, count: kernels.count)
        endOrder = kernels.indices.map { Int32($0) }
        needPrefix = kernels.indices.map { Int32($0) }
        self.kernels = kernels.count
        kernelSeconds = kernels.reduce(0) { $0 + $1.isolatedSeconds }
        recordedSpanSeconds = kernelSeconds
    }
}

/// A tenant that runs a ``KinetoProgram``.
///
/// Within an iteration each stream runs its operations in order, one at a time. An operation
/// that was *anchored* in the recording (it waited for something the trace does not show) waits,
/// with `inferDependencies`, until every operation that had ended before it started in the
/// recording is done — the happens-before the timing shows; with `keepGaps` no operation starts
/// before its recorded offset from the iteration's start (the recording's pace, host gaps
/// included). An iteration ends when all its operations are done; the next starts then.
///
/// - training job: `iterations` N, `inferDependencies`, gaps dropped (a GPU-bound job) or kept;
/// - replayed trace: 1 iteration, gaps kept, no inferred dependencies — the release rule of
///   `gpusim trace replay`.
public struct KinetoTenant: Tenant, Sendable {
    public let descriptor: TenantDescriptor
    public let program: KinetoProgram
    public let iterations: Int
    public let keepGaps: Bool
    public let inferDependencies: Bool

    var stamp: Int32 = 0
    var iterationsDone = 0
    var iterStart: Int64 = 0
    var nextIndex: [Int32]
    var busy: [Bool]
    var timerPending: [Bool]
    var doneStamp: [Int32]
    var donePrefix = 0
    var remaining = 0
    var iterationTimes = LatencyDistribution()

    public init(descriptor: TenantDescriptor, program: KinetoProgram, iterations: Int, keepGaps: Bool, inferDependencies: Bool) {
        precondition(iterations >= 1)
        precondition(descriptor.streams == program.streamOps.count, "one stream per recorded stream")
        self.descriptor = descriptor
        self.program = program
        self.iterations = iterations
        self.keepGaps = keepGaps
        self.inferDependencies = inferDependencies
        let n = program.streamOps.count
        nextIndex = [Int32](repeating: 0, count: n)
        busy = [Bool](repeating: false, count: n)
        timerPending = [Bool](repeating: false, count: n)
        doneStamp = [Int32](repeating: 0, count: program.ops.count)
    }

    public var isFinished: Bool { iterationsDone == iterations }

    public mutating func start(_ ctx: inout TenantContext) { beginIteration(&ctx) }

    mutating func beginIteration(_ ctx: inout TenantContext) {
        stamp += 1
        iterStart = ctx.now.nanoseconds
        for s in nextIndex.indices { nextIndex[s] = 0 }
        donePrefix = 0
        remaining = program.ops.count
        for s in nextIndex.indices { advance(s, &ctx) }
    }

    /// Submits stream `s`'s next operation if it may start now.
    mutating func advance(_ s: Int, _ ctx: inout TenantContext) {
        guard !busy[s], !timerPending[s] else { return }
        let list = program.streamOps[s]
        let i = Int(nextIndex[s])
        guard i < list.count else { return }
        let op = Int(list[i])
        if inferDependencies && !program.queued[op] && donePrefix < Int(program.needPrefix[op]) { return }
        if keepGaps {
            let release = iterStart + program.releaseOffset[op]
            if release > ctx.now.nanoseconds {
                timerPending[s] = true
                ctx.setTimer(at: .ns(release), token: Int64(s))
                return
            }
        }
        busy[s] = true
        nextIndex[s] += 1
        ctx.submit(program.ops[op], stream: s, token: Int64(op))
    }

    public mutating func timer(token: Int64, _ ctx: inout TenantContext) {
        let s = Int(token)
        timerPending[s] = false
        advance(s, &ctx)
    }

    public mutating func completed(stream s: Int, token: Int64, _ ctx: inout TenantContext) {
        busy[s] = false
        doneStamp[Int(token)] = stamp
        remaining -= 1
        if remaining == 0 {
            iterationTimes.record(.ns(ctx.now.nanoseconds - iterStart))
            iterationsDone += 1
            if iterationsDone < iterations { beginIteration(&ctx) }
            return
        }
        let before = donePrefix
        if inferDependencies {
            while donePrefix < program.endOrder.count && doneStamp[Int(program.endOrder[donePrefix])] == stamp { donePrefix += 1 }
        }
        advance(s, &ctx)
        if donePrefix > before { for t in nextIndex.indices where t != s { advance(t, &ctx) } }
    }

    public func performance(end: SimTime) -> Double? {
        end > .zero ? Double(iterationsDone) / end.seconds : nil
    }

    public func report(end: SimTime, into r: inout TenantReport) {
        r.add("iterations", Double(iterationsDone))
        r.add("throughput_iter_per_s", end > .zero ? Double(iterationsDone) / end.seconds : 0)
        r.add("iteration_mean_s", iterationTimes.mean.seconds)
        r.add("iteration_p50_s", iterationTimes.percentile(50).seconds)
        r.add("iteration_p95_s", iterationTimes.percentile(95).seconds)
        r.add("iteration_p99_s", iterationTimes.percentile(99).seconds)
        r.add("makespan_s", end.seconds)
        r.add("isolated_kernel_seconds_per_iteration", program.kernelSeconds)
    }
}
