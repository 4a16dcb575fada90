// `exclusive`: one tenant at a time, run to completion, in admission order (the single-tasking
// baseline every other policy is compared with).

import SimCore
import Tenancy

/// The GPU belongs to the earliest admitted unfinished tenant until it finishes; the others
/// wait. Tenants admitted at the same time keep config order.
public struct ExclusivePolicy: SharingPolicy, Sendable {
    public static let name = "exclusive"
    /// Admitted, unfinished tenants; the first holds the GPU.
    var queue: [Int] = []

    public init() {}

    public mutating func tenantAdmitted(_ t: Int, _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) {
        queue.append(t)
    }

    public mutating func place(_ op: TenantOp, tenant t: Int, stream: Int,
                               _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) -> Placement? {
        queue.first == t ? .wholeGPU : nil
    }

    public mutating func tenantFinished(_ t: Int, _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) {
        guard let i = queue.firstIndex(of: t) else { return }
        queue.remove(at: i)
        if i == 0, let next = queue.first { gpu.kick(next) }
    }
}

extension ExclusivePolicy {
    /// `parameters.exclusive`: no settings.
    public init(settings node: SettingsNode?, context: PolicyContext) throws {
        if let node { try SettingsMap(node, "an empty mapping (exclusive has no settings)").finish(known: []) }
        self.init()
    }
}
