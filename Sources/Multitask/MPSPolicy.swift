// `mps`: CUDA MPS — concurrent kernels from several processes; an optional active-thread
// percentage caps each client's SMs; HBM shared; one server, so a fault kills every client.

import SimCore
import Tenancy

/// Every tenant is an MPS client. Kernels of all clients get the GPU's SMs in launch order
/// (they are funnelled into one hardware context); a client with an active-thread percentage
/// `p` holds at most `round(p/100 · SMs)` SMs at once (at least one).
public struct MPSPolicy: SharingPolicy, Sendable {
    public static let name = "mps"
    /// Clients one MPS server accepts (CUDA MPS documentation, Volta and later).
    public static let maxClients = 48

    /// Active-thread percentage per tenant name (1...100); tenants not listed are uncapped.
    public let activeThreadPercentage: [String: Double]
    var capGroup: [Int?] = []

    public init(activeThreadPercentage: [String: Double] = [:]) {
        self.activeThreadPercentage = activeThreadPercentage
    }

    /// SMs a client with percentage `p` may hold on a GPU of `sms` SMs.
    public static func smLimit(percentage p: Double, sms: Int) -> Int {
        max(1, min(sms, Int((p / 100 * Double(sms)).rounded())))
    }

    public mutating func setup(_ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) throws {
        guard gpu.tenantCount <= MPSPolicy.maxClients else {
            throw TenancyError.policySetup("mps: \(gpu.tenantCount) tenants, but one MPS server takes at most \(MPSPolicy.maxClients) clients")
        }
        let names = Set(gpu.descriptors.map(\.name))
        for n in activeThreadPercentage.keys.sorted() where !names.contains(n) {
            throw TenancyError.policySetup("mps: active_thread_percentage names '\(n)', which is not a tenant")
        }
        capGroup = gpu.descriptors.map { d in
            activeThreadPercentage[d.name].map { gpu.addCapGroup(sms: MPSPolicy.smLimit(percentage: $0, sms: gpu.smCount)) }
        }
    }

    public mutating func place(_ op: TenantOp, tenant t: Int, stream: Int,
                               _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) -> Placement? {
        Placement(partition: 0, capGroup: capGroup[t])
    }

    public func failureDomain(of tenant: Int, _ gpu: SharedGPU) -> Int { 0 }
}

extension MPSPolicy {
    /// `parameters.mps`: `active_thread_percentage: {tenant: percent}` (optional; 1...100).
    public init(settings node: SettingsNode?, context: PolicyContext) throws {
        var pct: [String: Double] = [:]
        if let node {
            var m = try SettingsMap(node, "mps settings {active_thread_percentage: {tenant: percent}}")
            if let a = m.optional("active_thread_percentage") {
                let am = try SettingsMap(a, "a mapping of tenant names to percentages")
                for e in am.entries {
                    guard context.tenantNames.contains(e.key) else {
                        throw e.node.error("'\(e.key)' is not a tenant; tenants: \(context.tenantNames.joined(separator: ", "))")
                    }
                    pct[e.key] = try SettingsMap.double(e.node, "an active-thread percentage", 1...100)
                }
            }
            try m.finish(known: ["active_thread_percentage"])
        }
        guard context.tenantNames.count <= MPSPolicy.maxClients else {
            throw (node ?? context.sectionNode).error("\(context.tenantNames.count) tenants, but one MPS server takes at most \(MPSPolicy.maxClients) clients")
        }
        self.init(activeThreadPercentage: pct)
    }
}
