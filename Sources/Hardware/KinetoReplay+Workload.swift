// The operations of a Kineto trace prepared for simulation: occupancy, isolated (deflated)
// kernel durations, per-stream order and release times. `KinetoReplay.replay` runs them on an
// otherwise idle GPU; other models (a training job looping the trace, a replayed tenant sharing a
// GPU) reuse the same preparation instead of repeating it.

import SimCore
import Traces

/// A Kineto trace's kernels, copies and memsets as operations on streams, ready to simulate.
///
/// Kernel durations are *isolated* durations: the recorded ones, deflated where kernels overlapped
/// in the recording (see ``KinetoReplay``). An operation is *queued* when it started within the
/// replay's queue tolerance of its stream predecessor's recorded end (it waited for that
/// predecessor only); otherwise it is *anchored*: it waited for something the trace does not show,
/// and its ``Op/release`` is its recorded start.
public struct KinetoWorkload: Sendable {
    /// One operation on a stream.
    public struct Op: Sendable {
        public enum Kind: Sendable, Equatable {
            /// A kernel with its isolated duration and occupancy.
            case kernel(KernelWork)
            /// A host copy of `bytes` in one direction, from pinned or pageable host memory.
            case hostCopy(Int, CopyDirection, HostMemory)
            /// A device-to-device (or peer) copy of `bytes`.
            case deviceCopy(Int)
            /// A memset of `bytes`.
            case memset(Int)
            /// An operation kept at its recorded duration (ns): host-to-host copies and others.
            case fixed(Int64)
        }
        public var kind: Kind
        /// Earliest start, ns of absolute trace time: the launch call plus the launch latency for a
        /// queued operation (never later than its recorded start), the recorded start otherwise.
        public var release: Int64
        public var recordedStart: Int64
        public var recordedEnd: Int64
        /// The recorded stream id.
        public var stream: Int
        /// Index among the trace's kernels, or -1 for a copy or memset.
        public var kernelIndex: Int
        /// Whether the operation was queued behind its stream predecessor in the recording.
        public var queued: Bool

        public init(kind: Kind, release: Int64, recordedStart: Int64, recordedEnd: Int64, stream: Int,
                    kernelIndex: Int, queued: Bool = false) {
            self.kind = kind
            self.release = release
            self.recordedStart = recordedStart
            self.recordedEnd = recordedEnd
            self.stream = stream
            self.kernelIndex = kernelIndex
            self.queued = queued
        }
    }

    /// Every operation: kernels first (in trace order), then copies and memsets.
    public var ops: [Op]
    /// Operation indices per stream, in recorded order; streams ordered by recorded id.
    public var streams: [[Int]]
    /// The earliest release, ns of absolute trace time.
    public var origin: Int64
    public var kernelCount: Int
    public var copyCount: Int
    /// Kernels whose recorded durations were deflated for overlap.
    public var deflatedKernels: Int
    /// Kernels with no launch record.
    public var kernelsWithoutLaunch: Int
    /// Operations that are not queued (released at their recorded start).
    public var anchoredOperations: Int
}

extension KinetoReplay {
    /// Reads `path` (device filter from ``Options/device``) and prepares its operations.
    /// Throws `TraceError` for unreadable or malformed traces, or a trace without kernels.
    public func workload(path: String) throws -> KinetoWorkload {
        let r = try readRecords(path: path)
        return try workload(kernels: r.kernels, copies: r.copies, launches: r.launches, file: path)
    }

    /// Prepares already-read records (`launches`: correlation id → launch call start, ns).
    public func workload(kernels: [KinetoKernel], copies: [KinetoCopy], launches: [Int: Int64],
                         file: String = "<records>") throws -> KinetoWorkload {
        guard !kernels.isEmpty else {
            throw TraceError(file: file, location: .file, message: "no kernels to replay")
        }
        let sms = spec.smCount
        // Occupancy of each kernel, then its SM need.
        var ctasPerSM = [Int](repeating: 1, count: kernels.count)
        var need = [Int](repeating: 1, count: kernels.count)
        for (i, k) in kernels.enumerated() {
            let launch = KernelLaunch(ctas: max(k.ctas, 1), threadsPerCTA: max(k.threadsPerBlock, 1),
                                      registersPerThread: k.registersPerThread,
                                      sharedMemoryPerCTABytes: k.sharedMemoryBytes)
            ctasPerSM[i] = (try? Occupancy.ctasPerSM(launch, on: spec).ctasPerSM) ?? 1
            need[i] = KernelCostModel.usefulSMs(ctas: max(k.ctas, 1), ctasPerSM: ctasPerSM[i], sms: sms)
        }
        let (isolated, deflated) = Self.deflate(kernels, need: need, ctasPerSM: ctasPerSM, sms: sms)

        // Operations per stream in recorded order.
        var ops: [KinetoWorkload.Op] = []
        ops.reserveCapacity(kernels.count + copies.count)
        var withoutLaunch = 0
        let latency = options.launchLatency.nanoseconds
        func release(_ correlation: Int, _ recordedStart: Int64) -> Int64 {
            // Never later than the operation really started: the launch latency is an estimate.
            if let t = launches[correlation] { return min(t + latency, recordedStart) }
            return recordedStart
        }
        // (Release times are refined per stream below: only queued operations keep these.)
        for (i, k) in kernels.enumerated() {
            if launches[k.correlation] == nil { withoutLaunch += 1 }
            let work = KernelWork(ctas: max(k.ctas, 1), ctasPerSM: ctasPerSM[i],
                                  isolatedSeconds: max(Double(isolated[i]), 1) * 1e-9)
            ops.append(KinetoWorkload.Op(kind: .kernel(work), release: release(k.correlation, k.tsNs),
                                         recordedStart: k.tsNs, recordedEnd: k.endNs, stream: k.stream, kernelIndex: i))
        }
        for c in copies {
            let kind: KinetoWorkload.Op.Kind
            let bytes = Int(clamping: max(c.bytes, 0))
            switch c.kind {
            case .htod: kind = .hostCopy(bytes, .hostToDevice, c.hostMemory == .pinned ? .pinned : .pageable)
            case .dtoh: kind = .hostCopy(bytes, .deviceToHost, c.hostMemory == .pinned ? .pinned : .pageable)
            case .dtod, .ptop: kind = .deviceCopy(bytes)
            case .memset: kind = .memset(bytes)
            default: kind = .fixed(max(c.durNs, 0))
            }
            ops.append(KinetoWorkload.Op(kind: kind, release: release(c.correlation, c.tsNs),
                                         recordedStart: c.tsNs, recordedEnd: c.endNs, stream: c.stream, kernelIndex: -1))
        }
        // Stream order: recorded start, then kernels before copies, then input order (stable).
        let order = ops.indices.sorted { a, b in
            let x = ops[a], y = ops[b]
            if x.stream != y.stream { return x.stream < y.stream }
            if x.recordedStart != y.recordedStart { return x.recordedStart < y.recordedStart }
            return a < b
        }
        var streams: [[Int]] = []
        var lastStream = Int.min
        for i in order {
            if ops[i].stream != lastStream { streams.append([]); lastStream = ops[i].stream }
            streams[streams.count - 1].append(i)
        }
        // Queued operations follow their predecessor; the others keep their recorded start.
        var anchored = 0
        let tolerance = options.queueTolerance.nanoseconds
        for list in streams {
            for (j, i) in list.enumerated() {
                let queued = j > 0 && ops[i].recordedStart <= ops[list[j - 1]].recordedEnd + tolerance
                ops[i].queued = queued
                if !queued {
                    ops[i].release = ops[i].recordedStart
                    anchored += 1
                }
            }
        }
        let origin = ops.map(\.release).min() ?? 0
        return KinetoWorkload(ops: ops, streams: streams, origin: origin, kernelCount: kernels.count,
                              copyCount: copies.count, deflatedKernels: deflated,
                              kernelsWithoutLaunch: withoutLaunch, anchoredOperations: anchored)
    }
}
