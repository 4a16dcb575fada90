// What a tenant of a shared GPU is: the work it offers (kernels and copies on its streams), its
// memory footprint, priority class and SLOs; and what it is told (completions, timers, the time).
// Multitask (inference, training, replay) and MoE (an MoE serving loop) both implement `Tenant`;
// they meet only here.

import Hardware
import SimCore

/// How urgently a tenant's work must run. Policies that distinguish classes (priority, dynamic)
/// favour latency-critical tenants; the others ignore the class.
public enum PriorityClass: String, Sendable, CaseIterable {
    case latencyCritical = "latency-critical"
    case bestEffort = "best-effort"
}

/// A tenant's service-level objectives; a nil field is not set.
public struct TenantSLO: Sendable, Equatable {
    /// Time to first token of a request (arrival to the end of its prefill).
    public var ttft: SimTime?
    /// Time per output token after the first ((finish − first token) / (output tokens − 1)).
    public var tpot: SimTime?
    /// End-to-end latency of a request or an iteration.
    public var latency: SimTime?

    public init(ttft: SimTime? = nil, tpot: SimTime? = nil, latency: SimTime? = nil) {
        self.ttft = ttft
        self.tpot = tpot
        self.latency = latency
    }

    public static let none = TenantSLO()
}

/// The fixed facts about a tenant, read once when the engine is built.
public struct TenantDescriptor: Sendable, Equatable {
    /// Unique among the tenants of one run; metrics are reported under it.
    public var name: String
    /// What the tenant is ("inference", "training", "replay", "moe", ...), for reports.
    public var kind: String
    /// GPU memory the tenant needs resident (weights, activations, KV cache...), bytes.
    public var memoryFootprintBytes: Int
    public var priority: PriorityClass
    public var slo: TenantSLO
    /// Number of streams (in-order queues) the tenant submits to: 0..<streams.
    public var streams: Int

    public init(name: String, kind: String, memoryFootprintBytes: Int, priority: PriorityClass,
                slo: TenantSLO = .none, streams: Int = 1) {
        precondition(streams >= 1, "a tenant has at least one stream")
        precondition(memoryFootprintBytes >= 0, "a footprint is at least 0 bytes")
        self.name = name
        self.kind = kind
        self.memoryFootprintBytes = memoryFootprintBytes
        self.priority = priority
        self.slo = slo
        self.streams = streams
    }
}

/// One unit of work on a stream. Operations on one stream run one at a time, in submission
/// order (CUDA stream semantics); operations on different streams may overlap.
public enum TenantOp: Sendable, Equatable {
    /// A kernel: shape, isolated duration on the full GPU and DRAM bytes (Hardware's cost model).
    case kernel(KernelWork)
    /// A copy between host and device memory over the GPU's PCIe link.
    case hostCopy(bytes: Int, direction: CopyDirection, memory: HostMemory)
    /// A device-to-device copy (HBM read and write).
    case deviceCopy(bytes: Int)
    /// A memset (HBM writes).
    case memset(bytes: Int)
    /// Time the stream is occupied without using the GPU (a recorded host-side operation, a gap).
    case delay(SimTime)

    /// Whether the operation uses the GPU (everything but a delay).
    @inlinable public var usesGPU: Bool {
        if case .delay = self { return false }
        return true
    }
}

/// What a tenant can do when it is called: submit operations to its streams and set timers.
/// The engine owns one context and lends it to each call; its buffers are reused, so submitting
/// allocates nothing in steady state.
public struct TenantContext {
    /// The current simulated time.
    public internal(set) var now: SimTime = .zero

    @usableFromInline struct Submission {
        @usableFromInline var stream: Int32
        @usableFromInline var op: TenantOp
        @usableFromInline var token: Int64
        @inlinable init(stream: Int32, op: TenantOp, token: Int64) { self.stream = stream; self.op = op; self.token = token }
    }
    @usableFromInline var submissions: [Submission] = []
    @usableFromInline var timers: [(at: SimTime, token: Int64)] = []
    @usableFromInline var streamLimit: Int32 = 1

    public init() {}

    /// Appends `op` to stream `stream` (0..<descriptor.streams). `token` comes back with its
    /// completion (``Tenant/completed(stream:token:_:)``).
    @inlinable public mutating func submit(_ op: TenantOp, stream: Int = 0, token: Int64 = 0) {
        precondition(stream >= 0 && Int32(stream) < streamLimit, "stream \(stream) out of range 0..<\(streamLimit)")
        submissions.append(Submission(stream: Int32(stream), op: op, token: token))
    }

    /// Calls ``Tenant/timer(token:_:)`` at `time` (not before now).
    @inlinable public mutating func setTimer(at time: SimTime, token: Int64) {
        precondition(time >= now, "timer set in the past: \(time) < now \(now)")
        timers.append((time, token))
    }
}

/// A metric of one run: (tenant, name, value). GPU-wide metrics use the tenant name "gpu".
public struct MetricRow: Sendable, Equatable {
    public var tenant: String
    public var name: String
    public var value: Double
    public init(tenant: String, name: String, value: Double) {
        self.tenant = tenant
        self.name = name
        self.value = value
    }
}

/// One request of a serving tenant. Times are ns of simulated time; -1 where the event did not
/// happen (no first token yet, not finished).
public struct RequestRow: Sendable, Equatable {
    public var tenant: String
    public var request: Int
    public var arrivalNs: Int64
    public var firstTokenNs: Int64
    public var finishNs: Int64
    public var inputTokens: Int
    public var outputTokens: Int
    public init(tenant: String, request: Int, arrivalNs: Int64, firstTokenNs: Int64, finishNs: Int64,
                inputTokens: Int, outputTokens: Int) {
        self.tenant = tenant
        self.request = request
        self.arrivalNs = arrivalNs
        self.firstTokenNs = firstTokenNs
        self.finishNs = finishNs
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }
}

/// Where a tenant writes its metrics and request rows at the end of a run.
public struct TenantReport: Sendable {
    public let tenant: String
    public private(set) var metrics: [MetricRow] = []
    public var requests: [RequestRow] = []
    /// Whether per-request rows are wanted (a tenant may skip building them when not).
    public let wantsRequests: Bool

    public init(tenant: String, wantsRequests: Bool) {
        self.tenant = tenant
        self.wantsRequests = wantsRequests
    }

    public mutating func add(_ name: String, _ value: Double) {
        metrics.append(MetricRow(tenant: tenant, name: name, value: value))
    }
}

/// A tenant of a shared GPU: a source of operations that reacts to their completions.
///
/// The engine calls ``start(_:)`` once at time zero, ``completed(stream:token:_:)`` when an
/// operation it submitted finishes, and ``timer(token:_:)`` when a timer it set fires. In each
/// call the tenant may submit operations and set timers through the context. A tenant is done when
/// ``isFinished`` is true and none of its operations is left.
///
/// Conformers are value types; a composing layer puts several kinds together in a ``TenantSet``
/// (see ``TenantArray`` and ``TenantSetPair``) so that the engine dispatches statically.
public protocol Tenant {
    var descriptor: TenantDescriptor { get }
    mutating func start(_ context: inout TenantContext)
    mutating func completed(stream: Int, token: Int64, _ context: inout TenantContext)
    mutating func timer(token: Int64, _ context: inout TenantContext)
    /// No more operations will come (all requests served, all iterations run).
    var isFinished: Bool { get }
    /// How close the tenant is to missing its SLO, for the dynamic policy: 1 − observed/target
    /// (≤ 0: missing it; 1: far from it), nil when it has no SLO or nothing observed yet.
    func sloSlack(now: SimTime) -> Double?
    /// A figure of merit where higher is better (iterations per second, 1 / mean latency), used
    /// for normalised progress against the tenant's isolated run; nil when not defined.
    func performance(end: SimTime) -> Double?
    /// Writes the tenant's own metrics (latency percentiles, throughput, SLO attainment...).
    func report(end: SimTime, into report: inout TenantReport)
}

extension Tenant {
    @inlinable public func sloSlack(now: SimTime) -> Double? { nil }
    @inlinable public func performance(end: SimTime) -> Double? { nil }
}
