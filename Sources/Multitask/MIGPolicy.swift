// `mig`: static MIG partitions — SMs, memory capacity and HBM bandwidth divided; no
// interference across instances.

import Hardware
import SimCore
import Tenancy

/// Each tenant runs in the GPU instance it is assigned to. An instance has its profile's SMs, its
/// own memory (its footprint must fit there) and its share of HBM bandwidth (memory slices /
/// all slices); kernels in different instances never share SMs or bandwidth. Tenants assigned to
/// the same instance share it as concurrent streams (launch order). Host copies share the PCIe
/// link. The layout is fixed for the run (reconfiguring needs an idle GPU).
public struct MIGPolicy: SharingPolicy, Sendable {
    public static let name = "mig"
    public let layout: MIGLayout
    /// Instance index per tenant name.
    public let assignment: [String: Int]
    var partitionOf: [Int] = []

    public init(layout: MIGLayout, assignment: [String: Int]) {
        self.layout = layout
        self.assignment = assignment
    }

    public mutating func setup(_ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) throws {
        guard layout.gpu == gpu.spec.name else {
            throw TenancyError.policySetup("mig: the layout was validated for \(layout.gpu), not \(gpu.spec.name)")
        }
        var instanceOf: [Int] = []
        for d in gpu.descriptors {
            guard let i = assignment[d.name] else {
                throw TenancyError.policySetup("mig: tenant '\(d.name)' is not assigned to an instance")
            }
            guard i >= 0 && i < layout.instances.count else {
                throw TenancyError.policySetup("mig: tenant '\(d.name)' is assigned to instance \(i), but the layout has \(layout.instances.count)")
            }
            instanceOf.append(i)
        }
        let parts = gpu.addMIGPartitions(layout)
        partitionOf = instanceOf.map { parts[$0] }
        let domains = layout.instances.enumerated().map { (i, inst) in
            MemoryDomain(name: "MIG instance \(i) (\(inst.profile.name))", capacityBytes: inst.profile.memoryBytes)
        }
        gpu.setMemoryDomains(domains, domainOf: instanceOf)
    }

    public mutating func place(_ op: TenantOp, tenant t: Int, stream: Int,
                               _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) -> Placement? {
        Placement(partition: partitionOf[t])
    }
}

extension MIGPolicy {
    /// `parameters.mig`: `layout: [profile, ...]` (validated against the GPU's MIG profiles,
    /// placed largest first) and `assign: {tenant: instance index}` for every tenant.
    public init(settings node: SettingsNode?, context: PolicyContext) throws {
        guard let node else {
            throw context.sectionNode.error("missing mig: expected {layout: [profiles], assign: {tenant: instance}}")
        }
        var m = try SettingsMap(node, "mig settings {layout: [profiles], assign: {tenant: instance}}")
        let layoutNode = try m.required("layout", "a list of MIG profiles, e.g. [3g.40gb, 4g.40gb]")
        let names = try SettingsMap.list(layoutNode, "MIG profiles").map { try SettingsMap.string($0, "a MIG profile name") }
        guard !names.isEmpty else { throw layoutNode.error("expected at least one MIG profile") }
        let layout: MIGLayout
        do { layout = try MIGLayout(spec: context.spec, profiles: names) } catch {
            throw layoutNode.error("the layout does not fit \(context.spec.name): \(error)")
        }
        let assignNode = try m.required("assign", "a mapping of every tenant to an instance index")
        let am = try SettingsMap(assignNode, "a mapping of tenant names to instance indices")
        var assignment: [String: Int] = [:]
        for e in am.entries {
            guard context.tenantNames.contains(e.key) else {
                throw e.node.error("'\(e.key)' is not a tenant; tenants: \(context.tenantNames.joined(separator: ", "))")
            }
            assignment[e.key] = try SettingsMap.int(e.node, "an instance index of the layout", 0...(layout.instances.count - 1))
        }
        for n in context.tenantNames where assignment[n] == nil {
            throw assignNode.error("tenant '\(n)' is not assigned to an instance")
        }
        try m.finish(known: ["layout", "assign"])
        self.init(layout: layout, assignment: assignment)
    }
}
