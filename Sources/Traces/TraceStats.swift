// Summary statistics of traces, computed while streaming (what `gpusim trace inspect` prints).

/// a + b, clamped to Int64's range instead of trapping (sums over adversarial input).
@inline(__always) func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
    let (r, o) = a.addingReportingOverflow(b)
    if !o { return r }
    return b > 0 ? Int64.max : Int64.min
}

@inline(__always) func saturatingSub(_ a: Int64, _ b: Int64) -> Int64 {
    let (r, o) = a.subtractingReportingOverflow(b)
    if !o { return r }
    return b < 0 ? Int64.max : Int64.min
}

/// The length of the union of half-open intervals [start, end), accumulated in any order.
/// Memory grows with the number of disjoint intervals kept, which is compacted (sorted and
/// merged) whenever the buffer doubles.
public struct IntervalUnion: Sendable {
    private var intervals: [(Int64, Int64)] = []
    private var compactAt = 4096

    public init() {}

    public mutating func add(start: Int64, end: Int64) {
        guard end > start else { return }
        intervals.append((start, end))
        if intervals.count >= compactAt {
            compact()
            compactAt = max(4096, intervals.count * 2)
        }
    }

    private mutating func compact() {
        intervals.sort { $0.0 < $1.0 }
        var out: [(Int64, Int64)] = []
        out.reserveCapacity(intervals.count)
        for iv in intervals {
            if let last = out.last, iv.0 <= last.1 {
                if iv.1 > last.1 { out[out.count - 1].1 = iv.1 }
            } else {
                out.append(iv)
            }
        }
        intervals = out
    }

    /// Total length covered.
    public mutating func length() -> Int64 {
        compact()
        return intervals.reduce(0) { saturatingAdd($0, saturatingSub($1.1, $1.0)) }
    }
}

/// Counts and bytes of one kind of copy.
public struct CopyTally: Sendable, Equatable {
    public var count = 0
    public var bytes: Int64 = 0
    public var durNs: Int64 = 0
}

/// Statistics of a Kineto trace: feed every record to `add`, then read the properties.
public struct KinetoStats: Sendable {
    public var kernelCount = 0
    public var kernelDurationSumNs: Int64 = 0
    /// First kernel start / last kernel end (ns, trace clock); nil without kernels.
    public var firstKernelStartNs: Int64? = nil
    public var lastKernelEndNs: Int64? = nil
    /// Kernels per (device, stream).
    public var kernelsPerStream: [Int: Int] = [:]
    public var devices: Set<Int> = []
    public var copies: [KinetoCopyKind: CopyTally] = [:]
    public var runtimeCalls = 0
    public var driverCalls = 0
    /// Kernels per correlation id, and the correlation ids of cuda_runtime/cuda_driver calls:
    /// to find kernels whose launch call is not in the trace.
    public var kernelCorrelations: [Int: Int] = [:]
    public var launchCorrelations: Set<Int> = []
    private var busy = IntervalUnion()

    public init() {}

    public mutating func add(_ record: KinetoRecord) {
        switch record {
        case .kernel(let k):
            kernelCount += 1
            kernelDurationSumNs = saturatingAdd(kernelDurationSumNs, k.durNs)
            firstKernelStartNs = min(firstKernelStartNs ?? k.tsNs, k.tsNs)
            lastKernelEndNs = max(lastKernelEndNs ?? k.endNs, k.endNs)
            kernelsPerStream[k.stream, default: 0] += 1
            devices.insert(k.device)
            busy.add(start: k.tsNs, end: k.endNs)
            kernelCorrelations[k.correlation, default: 0] += 1
        case .copy(let c):
            var t = copies[c.kind] ?? CopyTally()
            t.count += 1
            t.bytes = saturatingAdd(t.bytes, c.bytes)
            t.durNs = saturatingAdd(t.durNs, c.durNs)
            copies[c.kind] = t
        case .runtime(let r):
            if r.api == .runtime { runtimeCalls += 1 } else { driverCalls += 1 }
            launchCorrelations.insert(r.correlation)
        }
    }

    /// Stream ids with kernels, ascending.
    public var streams: [Int] { kernelsPerStream.keys.sorted() }

    /// Length of the union of kernel intervals [ts, ts+dur), ns: time with at least one kernel running.
    public mutating func gpuBusyNs() -> Int64 { busy.length() }

    /// First kernel start to last kernel end, ns (0 without kernels).
    public var spanNs: Int64 {
        guard let a = firstKernelStartNs, let b = lastKernelEndNs else { return 0 }
        return saturatingSub(b, a)
    }

    /// Kernels whose correlation id has no runtime/driver call in the trace (launched
    /// before the profiling window, or events dropped by the profiler).
    public var kernelsWithoutLaunchCall: Int {
        kernelCorrelations.reduce(0) { $0 + (launchCorrelations.contains($1.key) ? 0 : $1.value) }
    }
}

/// Statistics of a request trace.
public struct RequestTraceStats: Sendable {
    public private(set) var count = 0
    public private(set) var lastArrivalNs: Int64 = 0
    public private(set) var inputTokenSum: Int64 = 0
    public private(set) var outputTokenSum: Int64 = 0
    // Exact distributions as value -> count (memory: distinct values, not requests).
    private var inputCounts: [Int: Int] = [:]
    private var outputCounts: [Int: Int] = [:]

    public init() {}

    public mutating func add(_ r: RequestRecord) {
        count += 1
        lastArrivalNs = max(lastArrivalNs, r.arrivalNs)
        inputTokenSum = saturatingAdd(inputTokenSum, Int64(r.inputTokens))
        outputTokenSum = saturatingAdd(outputTokenSum, Int64(r.outputTokens))
        inputCounts[r.inputTokens, default: 0] += 1
        outputCounts[r.outputTokens, default: 0] += 1
    }

    /// First to last arrival, ns.
    public var durationNs: Int64 { lastArrivalNs }

    public var meanInputTokens: Double { count == 0 ? 0 : Double(inputTokenSum) / Double(count) }
    public var meanOutputTokens: Double { count == 0 ? 0 : Double(outputTokenSum) / Double(count) }

    /// Requests per second between the first and the last arrival: (count - 1) / duration.
    /// nil with fewer than 2 requests or a zero duration.
    public var arrivalRatePerSecond: Double? {
        guard count >= 2, durationNs > 0 else { return nil }
        return Double(count - 1) / (Double(durationNs) / 1e9)
    }

    /// Nearest-rank percentile (the smallest value with at least p% of requests at or below
    /// it), p in (0, 100]. nil without requests.
    public func inputTokensPercentile(_ p: Double) -> Int? { Self.percentile(inputCounts, count, p) }
    public func outputTokensPercentile(_ p: Double) -> Int? { Self.percentile(outputCounts, count, p) }

    static func percentile(_ counts: [Int: Int], _ n: Int, _ p: Double) -> Int? {
        guard n > 0 else { return nil }
        var rank = Int((p / 100 * Double(n)).rounded(.up))
        rank = min(max(rank, 1), n)
        var seen = 0
        for v in counts.keys.sorted() {
            seen += counts[v] ?? 0
            if seen >= rank { return v }
        }
        return nil
    }
}

/// What kind of trace a file holds, from its name (`.json`, `.csv`, `.jsonl`, each with an
/// optional `.gz`/`.zst`).
public enum TraceFileKind: Sendable, Equatable {
    case kineto
    case requests(RequestTraceFormat)

    public static func fromName(_ path: String) -> TraceFileKind? {
        var name = Substring(path.split(separator: "/").last ?? Substring(path)).lowercased()
        for ext in [".zst", ".gz"] where name.hasSuffix(ext) { name.removeLast(ext.count) }
        if name.hasSuffix(".json") { return .kineto }
        if let f = RequestTraceFormat.fromName(name) { return .requests(f) }
        return nil
    }
}
