// `streams`: the tenants' kernels go to one process's concurrent streams, no isolation.

import SimCore
import Tenancy

/// Every operation starts at once on the whole GPU; kernels get SMs in launch order as the block
/// scheduler frees them. One process: a fault in any tenant takes all of them down.
public struct StreamsPolicy: SharingPolicy, Sendable {
    public static let name = "streams"
    public init() {}

    public mutating func place(_ op: TenantOp, tenant t: Int, stream: Int,
                               _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) -> Placement? {
        .wholeGPU
    }

    public func failureDomain(of tenant: Int, _ gpu: SharedGPU) -> Int { 0 }
}

extension StreamsPolicy {
    /// `parameters.streams`: no settings.
    public init(settings node: SettingsNode?, context: PolicyContext) throws {
        if let node { try SettingsMap(node, "an empty mapping (streams has no settings)").finish(known: []) }
        self.init()
    }
}
