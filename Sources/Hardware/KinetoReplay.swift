import Foundation
import SimCore
import Traces

/// Replays a PyTorch-profiler (Kineto) trace's kernels and copies on a simulated GPU.
///
/// **What is replayed.** Every kernel, memcpy and memset, on its recorded stream, in recorded
/// order within the stream. What the trace shows drives the timing: an operation that was
/// *queued* — it started within ``Options/queueTolerance`` of its stream predecessor's end —
/// starts in the replay as soon as its simulated predecessor ends and its CPU launch call (the
/// `cuda_runtime`/`cuda_driver` event with the same correlation id) plus the launch latency has
/// passed. An operation that waited for something the trace does not show — an event recorded
/// on another stream, a dependency inside a CUDA graph, a collective waiting for its peers — is
/// released at its recorded start, the only time the trace gives for that dependency.
///
/// **Kernels** get SMs in launch order (``SMDispatch``, as measured on an H100: the kernel
/// enqueued first runs as if alone, a later one takes the SMs left over or waits), each at most
/// the SMs its CTAs can fill (occupancy from registers, shared memory and threads per block by
/// the CUDA rules); with its SMs a kernel is a fluid flow capped at its wave-quantised rate.
///
/// **No double counting.** A recorded duration already includes the slowdown the kernel met
/// from kernels overlapping it in the real run. Before replay each kernel's duration is
/// *deflated*: the recorded intervals are swept, and in each stretch where kernels overlapped,
/// the SMs each would hold under the simulator's own rule (launch order, recorded start as the
/// order; a kernel that was running holds at least one SM) are computed; a kernel's isolated
/// time is the sum over its lifetime of stretch length × its speed on those SMs relative to the
/// whole GPU (`waves(S) / waves(s)`). Replayed with the same overlap, the fluid
/// model then gives back the recorded duration instead of slowing the kernel a second time.
/// Kernels that never overlapped keep their recorded durations.
///
/// **Copies** take their time from the GPU's measured transfer curves (pinned or pageable as
/// the event name says; pageable when it does not), sharing the link direction with concurrent
/// copies; device-to-device copies and memsets run on HBM; host-to-host copies keep their
/// recorded duration.
public struct KinetoReplay {
    public struct Options: Sendable {
        /// Delay between a launch call's start and the earliest start of its operation.
        public var launchLatency: SimTime = .us(5)
        /// Only operations on this device (Kineto's `device`), or all when nil.
        public var device: Int? = nil
        /// An operation that started within this time of its stream predecessor's recorded end
        /// was queued behind it; one that started later waited for something else.
        public var queueTolerance: SimTime = .us(5)
        public init() {}
    }

    /// Measured and simulated figures for one trace (microseconds).
    public struct Result: Sendable, Equatable {
        public var kernels: Int
        public var copies: Int
        public var measuredBusyMicroseconds: Double
        public var simulatedBusyMicroseconds: Double
        public var measuredSpanMicroseconds: Double
        public var simulatedSpanMicroseconds: Double
        /// Kernels whose recorded durations were deflated for overlap.
        public var deflatedKernels: Int
        /// Kernels with no launch record (library-internal launches).
        public var kernelsWithoutLaunch: Int
        /// Operations released at their recorded start (they waited for a dependency the trace
        /// does not show), out of all kernels and copies.
        public var anchoredOperations: Int
        /// Simulated start and end of every kernel, in trace order (ns from the first release).
        public var simulatedKernelIntervals: [(start: Int64, end: Int64)]
        /// Simulated start and end of every copy and memset, in the order of the `copies` given to
        /// `replay` (ns from the first release). A host copy's interval includes its fixed latency.
        public var simulatedCopyIntervals: [(start: Int64, end: Int64)] = []

        public static func == (a: Result, b: Result) -> Bool {
            a.kernels == b.kernels && a.copies == b.copies
                && a.measuredBusyMicroseconds == b.measuredBusyMicroseconds
                && a.simulatedBusyMicroseconds == b.simulatedBusyMicroseconds
                && a.measuredSpanMicroseconds == b.measuredSpanMicroseconds
                && a.simulatedSpanMicroseconds == b.simulatedSpanMicroseconds
                && a.deflatedKernels == b.deflatedKernels
                && a.simulatedKernelIntervals.elementsEqual(b.simulatedKernelIntervals, by: { $0 == $1 })
                && a.simulatedCopyIntervals.elementsEqual(b.simulatedCopyIntervals, by: { $0 == $1 })
        }
    }

    /// One operation on a stream (see ``KinetoWorkload/Op``).
    typealias Op = KinetoWorkload.Op

    public let spec: GPUSpec
    public let options: Options

    public init(spec: GPUSpec, options: Options = Options()) {
        self.spec = spec
        self.options = options
    }

    /// Reads `path` and replays it. Throws `TraceError` for unreadable or malformed traces.
    public func replay(path: String) throws -> Result {
        let r = try readRecords(path: path)
        return try replay(kernels: r.kernels, copies: r.copies, launches: r.launches, file: path)
    }

    /// The kernels and copies of `path` on ``Options/device`` (all devices when nil), and the start
    /// of the first runtime/driver call carrying each correlation id (the launch).
    func readRecords(path: String) throws -> (kernels: [KinetoKernel], copies: [KinetoCopy], launches: [Int: Int64]) {
        var kernels: [KinetoKernel] = []
        var copies: [KinetoCopy] = []
        var launches: [Int: Int64] = [:]
        _ = try KinetoReader(path: path).read { (record: KinetoRecord) in
            switch record {
            case .kernel(let k):
                if options.device == nil || options.device == k.device { kernels.append(k) }
            case .copy(let c):
                if options.device == nil || options.device == c.device { copies.append(c) }
            case .runtime(let r):
                if launches[r.correlation] == nil { launches[r.correlation] = r.tsNs }
            }
        }
        return (kernels, copies, launches)
    }

    /// Replays already-read records (`launches`: correlation id → launch call start, ns).
    public func replay(kernels: [KinetoKernel], copies: [KinetoCopy], launches: [Int: Int64],
                       file: String = "<records>") throws -> Result {
        let workload = try self.workload(kernels: kernels, copies: copies, launches: launches, file: file)
        let ops = workload.ops, streams = workload.streams, origin = workload.origin

        var model = ReplayModel(spec: spec, ops: ops, streams: streams, origin: origin, kernelCount: kernels.count)
        var sim = Simulator(handler: model)
        for s in streams.indices { sim.handler.scheduleHead(of: s, scheduler: &sim.scheduler) }
        sim.run()
        model = sim.handler
        if let unfinished = model.nextOp.indices.first(where: { model.nextOp[$0] < streams[$0].count }) {
            throw TraceError(file: file, location: .file,
                             message: "replay stalled on stream \(ops[streams[unfinished][0]].stream)")
        }

        let measured = kernels.map { ($0.tsNs, $0.endNs) }
        let simulated = model.kernelIntervals
        return Result(kernels: kernels.count, copies: copies.count,
                      measuredBusyMicroseconds: Double(Self.unionLength(measured)) / 1e3,
                      simulatedBusyMicroseconds: Double(Self.unionLength(simulated)) / 1e3,
                      measuredSpanMicroseconds: Double(Self.span(measured)) / 1e3,
                      simulatedSpanMicroseconds: Double(Self.span(simulated)) / 1e3,
                      deflatedKernels: workload.deflatedKernels, kernelsWithoutLaunch: workload.kernelsWithoutLaunch,
                      anchoredOperations: workload.anchoredOperations,
                      simulatedKernelIntervals: simulated.map { (start: $0.0, end: $0.1) },
                      simulatedCopyIntervals: model.copyIntervals.map { (start: $0.0, end: $0.1) })
    }

    // MARK: deflation

    /// Isolated duration (ns) of each kernel: its recorded duration with the overlap slowdown
    /// removed, under the simulator's launch-order SM dispatch. Returns the durations and how
    /// many changed.
    static func deflate(_ kernels: [KinetoKernel], need: [Int], ctasPerSM: [Int], sms: Int) -> ([Double], Int) {
        var isolated = kernels.map { Double(max($0.durNs, 0)) }
        // Boundaries: (time, +1 start / −1 end, kernel). Ends before starts at equal times.
        var points: [(t: Int64, delta: Int, k: Int)] = []
        points.reserveCapacity(kernels.count * 2)
        for (i, k) in kernels.enumerated() where k.durNs > 0 {
            points.append((k.tsNs, 1, i))
            points.append((k.endNs, -1, i))
        }
        points.sort { $0.t < $1.t || ($0.t == $1.t && ($0.delta < $1.delta || ($0.delta == $1.delta && $0.k < $1.k))) }
        var running: [Int] = []            // in launch (recorded start) order
        var work = [Double](repeating: 0, count: kernels.count)
        var overlapped = [Bool](repeating: false, count: kernels.count)
        var last: Int64 = points.first?.t ?? 0
        func speed(_ k: Int, holding s: Int) -> Double {
            let c = max(kernels[k].ctas, 1)
            return Double(KernelCostModel.waves(ctas: c, ctasPerSM: ctasPerSM[k], sms: sms))
                / Double(KernelCostModel.waves(ctas: c, ctasPerSM: ctasPerSM[k], sms: s))
        }
        for p in points {
            let dt = Double(p.t - last)
            if dt > 0 && !running.isEmpty {
                if running.count == 1 {
                    work[running[0]] += dt
                } else {
                    for k in running { overlapped[k] = true }
                    var left = sms
                    for k in running {
                        let held = max(1, min(need[k], left))
                        left = max(0, left - held)
                        work[k] += dt * speed(k, holding: held)
                    }
                }
            }
            last = p.t
            if p.delta > 0 {
                running.append(p.k)
            } else if let at = running.firstIndex(of: p.k) {
                running.remove(at: at)
            }
        }
        var changed = 0
        for i in kernels.indices where overlapped[i] && kernels[i].durNs > 0 {
            if work[i] < isolated[i] - 0.5 { changed += 1 }
            isolated[i] = min(work[i], isolated[i])
        }
        return (isolated, changed)
    }

    // MARK: figures

    /// Length of the union of intervals.
    public static func unionLength(_ intervals: [(Int64, Int64)]) -> Int64 {
        let sorted = intervals.sorted { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        var total: Int64 = 0
        var current: (Int64, Int64)? = nil
        for iv in sorted {
            if let c = current, iv.0 <= c.1 {
                current = (c.0, max(c.1, iv.1))
            } else {
                if let c = current { total += c.1 - c.0 }
                current = iv
            }
        }
        if let c = current { total += c.1 - c.0 }
        return total
    }

    /// First start to last end.
    public static func span(_ intervals: [(Int64, Int64)]) -> Int64 {
        guard let first = intervals.map(\.0).min(), let last = intervals.map(\.1).max() else { return 0 }
        return last - first
    }
}

/// The replay's event handler: streams release operations; kernels and copies are fluid flows.
struct ReplayModel: EventHandler {
    enum Event {
        /// The head operation of a stream may start (its release time has come).
        case release(stream: Int32)
        /// A host copy's fixed latency is over: start its flow.
        case copyFlow(op: Int32)
        /// A fixed-duration operation ends.
        case fixedDone(op: Int32)
        /// The fluid system's next completion.
        case fluid
    }

    let spec: GPUSpec
    let ops: [KinetoReplay.Op]
    let streams: [[Int]]
    let origin: Int64
    var fluid = FluidSystem()
    var gpu: GPUModel
    /// Next operation index (into `streams[s]`) for each stream.
    var nextOp: [Int]
    var busy: [Bool]
    var streamOfOp: [Int32]
    var kernelIntervals: [(Int64, Int64)]
    /// Copies and memsets: ops[kernelCount + i] is copy i.
    var copyIntervals: [(Int64, Int64)]
    let kernelCount: Int
    var startedAt: [Int64]
    var doneBuffer: [Int] = []
    /// Kernels released and not finished, in launch order: op index, SMs wanted, SMs held, flow.
    var running: [(op: Int, need: Int, held: Int, flow: FlowID?)] = []

    init(spec: GPUSpec, ops: [KinetoReplay.Op], streams: [[Int]], origin: Int64, kernelCount: Int) {
        self.spec = spec
        self.ops = ops
        self.streams = streams
        self.origin = origin
        var f = FluidSystem()
        gpu = GPUModel(spec: spec, fluid: &f)
        fluid = f
        nextOp = [Int](repeating: 0, count: streams.count)
        busy = [Bool](repeating: false, count: streams.count)
        streamOfOp = [Int32](repeating: -1, count: ops.count)
        for (s, list) in streams.enumerated() { for i in list { streamOfOp[i] = Int32(s) } }
        kernelIntervals = [(Int64, Int64)](repeating: (0, 0), count: kernelCount)
        copyIntervals = [(Int64, Int64)](repeating: (0, 0), count: ops.count - kernelCount)
        self.kernelCount = kernelCount
        startedAt = [Int64](repeating: 0, count: ops.count)
    }

    /// Schedules the release of stream `s`'s next operation, if any.
    mutating func scheduleHead(of s: Int, scheduler: inout Scheduler<Event>) {
        guard nextOp[s] < streams[s].count else { return }
        let op = ops[streams[s][nextOp[s]]]
        let t = max(op.release - origin, scheduler.now.nanoseconds)
        scheduler.schedule(.release(stream: Int32(s)), at: .ns(t))
    }

    mutating func handle(_ event: Event, scheduler: inout Scheduler<Event>) {
        let now = scheduler.now
        switch event {
        case .release(let s):
            let s = Int(s)
            guard !busy[s], nextOp[s] < streams[s].count else { return }
            let i = streams[s][nextOp[s]]
            busy[s] = true
            startedAt[i] = now.nanoseconds
            let tag = UInt64(i)
            switch ops[i].kind {
            case .kernel(let k):
                let need = KernelCostModel.usefulSMs(ctas: k.ctas, ctasPerSM: k.ctasPerSM, sms: spec.smCount)
                running.append((i, need, 0, nil))
                dispatch(at: now)
            case .hostCopy(let bytes, let direction, let memory):
                let c = gpu.copyFlow(bytes: bytes, direction: direction, hostMemory: memory)
                scheduler.schedule(.copyFlow(op: Int32(i)), after: c.latency)
            case .deviceCopy(let bytes):
                let c = gpu.deviceCopyFlow(bytes: bytes)
                fluid.startFlow(work: Double(max(bytes, 1)), cap: c.cap, uses: c.uses, at: now, tag: tag)
            case .memset(let bytes):
                fluid.startFlow(work: Double(max(bytes, 1)), cap: spec.memory.bandwidthBytesPerSecond,
                                uses: FlowUses(gpu.hbm), at: now, tag: tag)
            case .fixed(let d):
                scheduler.schedule(.fixedDone(op: Int32(i)), after: .ns(d))
            }
        case .copyFlow(let op):
            let i = Int(op)
            if case .hostCopy(let bytes, let direction, let memory) = ops[i].kind {
                let c = gpu.copyFlow(bytes: bytes, direction: direction, hostMemory: memory)
                fluid.startFlow(work: Double(max(bytes, 1)), cap: c.cap, uses: c.uses, at: now, tag: UInt64(i))
            }
        case .fixedDone(let op):
            finish(Int(op), at: now, scheduler: &scheduler)
        case .fluid:
            var done = doneBuffer
            done.removeAll(keepingCapacity: true)
            fluid.completeFlows(at: now) { _, tag in done.append(Int(tag)) }
            for i in done { finish(i, at: now, scheduler: &scheduler) }
            doneBuffer = done
        }
        fluid.solve(at: now)
        fluid.scheduleNextCompletion(&scheduler, event: .fluid)
    }

    /// Hands SMs to running kernels in launch order; a kernel that gets its first SMs starts its
    /// flow (its start time), one that gets more SMs speeds up.
    mutating func dispatch(at now: SimTime) {
        var left = spec.smCount
        for j in running.indices {
            let want = min(running[j].need, left)
            left -= max(want, running[j].held)
            guard want > running[j].held else { continue }
            let op = running[j].op
            guard case .kernel(let k) = ops[op].kind else { continue }
            let f = gpu.kernelFlow(k, holding: want)
            if let id = running[j].flow {
                fluid.setCap(id, f.cap, at: now)
            } else {
                startedAt[op] = now.nanoseconds
                running[j].flow = fluid.startFlow(work: 1, cap: f.cap, uses: f.uses, at: now, tag: UInt64(op))
            }
            running[j].held = want
        }
    }

    mutating func finish(_ i: Int, at now: SimTime, scheduler: inout Scheduler<Event>) {
        let s = Int(streamOfOp[i])
        if ops[i].kernelIndex >= 0 {
            kernelIntervals[ops[i].kernelIndex] = (startedAt[i], now.nanoseconds)
            if let at = running.firstIndex(where: { $0.op == i }) { running.remove(at: at) }
            dispatch(at: now)
        } else {
            copyIntervals[i - kernelCount] = (startedAt[i], now.nanoseconds)
        }
        busy[s] = false
        nextOp[s] += 1
        scheduleHead(of: s, scheduler: &scheduler)
    }
}
