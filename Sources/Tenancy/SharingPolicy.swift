// The one protocol every sharing policy implements (Multitask: exclusive, timeslice, streams,
// mps, mig, priority, dynamic). A policy decides *whether* a ready operation may start now and
// *where* (which SM partition, what extra constraint, what weight); the engine does the mechanics.

import SimCore

/// Where a kernel runs: an SM partition of the GPU model; optionally a cap group whose SM limit
/// all its kernels share (an MPS client's active-thread percentage); and whether it is dispatched
/// ahead of ordinary kernels (a latency-critical kernel under the priority policy).
///
/// Within a partition SMs go to running kernels in dispatch order (Hardware's ``SMDispatch``,
/// measured on an H100: the kernel launched first runs as if alone, a later one takes what is
/// left or waits); a running kernel never loses SMs unless a policy pauses or resets it.
public struct Placement: Sendable, Equatable {
    /// Index into ``SharedGPU/model``'s partitions (0 = the whole GPU).
    public var partition: Int
    /// A cap group from ``SharedGPU/addCapGroup(sms:)``, or nil.
    public var capGroup: Int?
    /// Dispatched before every kernel placed without it (among themselves, in launch order).
    public var priority: Bool

    public init(partition: Int, capGroup: Int? = nil, priority: Bool = false) {
        self.partition = partition
        self.capGroup = capGroup
        self.priority = priority
    }

    /// All SMs of the GPU, launch order.
    public static let wholeGPU = Placement(partition: 0)
}

/// A sharing policy: consulted when an operation is ready to start, told when operations finish,
/// when tenants gain or lose work, are admitted or finish, and when its own timers fire.
///
/// Every hook gets the GPU's mechanics (``SharedGPU``: partitions, fluid constraints, pausing,
/// preempting, kicking tenants) and the scheduler (to set timers: `.policyTimer(token:)`). A policy
/// that holds an operation (returns nil from ``place(_:tenant:stream:_:_:)``) must later call
/// ``SharedGPU/kick(_:)`` for that tenant, or the operation waits forever.
///
/// Conformers are small structs, one per file, chosen by name from configs; they never refer to
/// each other. Hooks have empty defaults.
public protocol SharingPolicy {
    /// The name configs use for this policy.
    static var name: String { get }

    /// Creates partitions and memory domains and sets initial timers. Called once, at time zero,
    /// before any tenant starts. Throws for a setup the GPU cannot honour.
    mutating func setup(_ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>) throws

    /// Where `op`, the head of global stream `stream` of `tenant`, runs now; nil holds it.
    mutating func place(_ op: TenantOp, tenant: Int, stream: Int,
                        _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>) -> Placement?

    /// `op` finished (it ran at `placement`).
    mutating func finished(_ op: TenantOp, tenant: Int, stream: Int, placement: Placement,
                           _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>)

    /// The tenant's footprint was admitted to its memory domain; its operations may start.
    mutating func tenantAdmitted(_ tenant: Int, _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>)
    /// The tenant went from no operations to some (queued or running).
    mutating func tenantBusy(_ tenant: Int, _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>)
    /// The tenant has no operation queued or running any more.
    mutating func tenantIdle(_ tenant: Int, _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>)
    /// The tenant is done; its memory has been released.
    mutating func tenantFinished(_ tenant: Int, _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>)
    /// A timer the policy set fired.
    mutating func timer(token: Int64, _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>)

    /// Tenants that fail together: a fault in one brings down every tenant with the same domain
    /// id (one MPS server, one process of streams). Default: each tenant alone.
    func failureDomain(of tenant: Int, _ gpu: SharedGPU) -> Int
}

extension SharingPolicy {
    @inlinable public mutating func setup(_ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>) throws {}
    @inlinable public mutating func finished(_ op: TenantOp, tenant: Int, stream: Int, placement: Placement,
                                  _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>) {}
    @inlinable public mutating func tenantAdmitted(_ tenant: Int, _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>) {}
    @inlinable public mutating func tenantBusy(_ tenant: Int, _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>) {}
    @inlinable public mutating func tenantIdle(_ tenant: Int, _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>) {}
    @inlinable public mutating func tenantFinished(_ tenant: Int, _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>) {}
    @inlinable public mutating func timer(token: Int64, _ gpu: inout SharedGPU, _ scheduler: inout Scheduler<EngineEvent>) {}
    @inlinable public func failureDomain(of tenant: Int, _ gpu: SharedGPU) -> Int { tenant }
}

/// The engine's event kinds.
public enum EngineEvent: Sendable {
    /// Time zero: admit and start the tenants.
    case start
    /// The fluid system's next completion.
    case fluid
    /// A host copy's fixed latency is over: its flow starts.
    case copyStart(stream: Int32)
    /// A delay operation ends.
    case delayDone(stream: Int32)
    /// A tenant's timer.
    case tenantTimer(tenant: Int32, token: Int64)
    /// A policy's timer.
    case policyTimer(token: Int64)
}
