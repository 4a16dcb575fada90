// The sharing policies by name: parse one from a config, and run any tenant set under it.

import Hardware
import SimCore
import Tenancy

/// What a policy's settings are checked against.
public struct PolicyContext {
    public var spec: GPUSpec
    public var tenantNames: [String]
    /// The `parameters` section (for errors about a missing block).
    public var sectionNode: SettingsNode
    public init(spec: GPUSpec, tenantNames: [String], sectionNode: SettingsNode) {
        self.spec = spec
        self.tenantNames = tenantNames
        self.sectionNode = sectionNode
    }
}

/// One of the sharing policies, configured.
public enum PolicyChoice: Sendable {
    case exclusive(ExclusivePolicy)
    case timeslice(TimeslicePolicy)
    case streams(StreamsPolicy)
    case mps(MPSPolicy)
    case mig(MIGPolicy)
    case priority(PriorityPolicy)
    case dynamic(DynamicPolicy)

    /// Every policy, in the order reports list them.
    public static let names = [ExclusivePolicy.name, TimeslicePolicy.name, StreamsPolicy.name, MPSPolicy.name,
                               MIGPolicy.name, PriorityPolicy.name, DynamicPolicy.name]

    public static let summaries: [(name: String, summary: String)] = [
        (ExclusivePolicy.name, "one tenant at a time, run to completion, FIFO (the single-tasking baseline)"),
        (TimeslicePolicy.name, "contexts take turns on the whole GPU for a quantum; switches cost time; idle contexts yield"),
        (StreamsPolicy.name, "one process, concurrent streams: SMs in launch order, no isolation"),
        (MPSPolicy.name, "MPS clients: concurrent kernels, optional active-thread percentage caps SMs per client"),
        (MIGPolicy.name, "static MIG instances: SMs, memory and HBM bandwidth divided, no interference"),
        (PriorityPolicy.name, "REEF-like: latency-critical kernels reset best-effort ones at a cost; best effort fills idle SMs"),
        (DynamicPolicy.name, "an OS-like manager re-sizes SM shares from SLO slack and demand, preempting to shrink"),
    ]

    public var name: String {
        switch self {
        case .exclusive: return ExclusivePolicy.name
        case .timeslice: return TimeslicePolicy.name
        case .streams: return StreamsPolicy.name
        case .mps: return MPSPolicy.name
        case .mig: return MIGPolicy.name
        case .priority: return PriorityPolicy.name
        case .dynamic: return DynamicPolicy.name
        }
    }

    /// The policy `name` with its settings from `parameters.<name>`; the settings blocks of the
    /// other policies present in `parameters` are checked too (a typo fails every run).
    /// `nameNode` is where the name was written (for the unknown-policy error).
    public static func parse(name: String, nameNode: SettingsNode, blocks: [String: SettingsNode],
                             context: PolicyContext) throws -> PolicyChoice {
        guard names.contains(name) else {
            throw nameNode.error("unknown policy '\(name)'; known policies: \(names.joined(separator: ", "))")
        }
        var chosen: PolicyChoice? = nil
        for n in names where n == name || blocks[n] != nil {
            let b = blocks[n]
            let p: PolicyChoice
            switch n {
            case ExclusivePolicy.name: p = .exclusive(try ExclusivePolicy(settings: b, context: context))
            case TimeslicePolicy.name: p = .timeslice(try TimeslicePolicy(settings: b, context: context))
            case StreamsPolicy.name: p = .streams(try StreamsPolicy(settings: b, context: context))
            case MPSPolicy.name: p = .mps(try MPSPolicy(settings: b, context: context))
            case MIGPolicy.name:
                // A MIG block is checked even when another policy runs; a missing one only matters for mig.
                guard b != nil || n == name else { continue }
                p = .mig(try MIGPolicy(settings: b, context: context))
            case PriorityPolicy.name: p = .priority(try PriorityPolicy(settings: b, context: context))
            default: p = .dynamic(try DynamicPolicy(settings: b, context: context))
            }
            if n == name { chosen = p }
        }
        return chosen!
    }

    /// Runs `tenants` on `spec` under this policy. Generic over the tenant set: a composing layer
    /// passes its own (e.g. `TenantSetPair<MultitaskTenants, MoETenants>`).
    @inlinable
    public func run<T: TenantSet>(spec: GPUSpec, tenants: T, memory: MemoryMode, options: EngineOptions) throws -> EngineOutcome {
        switch self {
        case .exclusive(let p): return try SharingEngine.run(spec: spec, tenants: tenants, policy: p, memory: memory, options: options)
        case .timeslice(let p): return try SharingEngine.run(spec: spec, tenants: tenants, policy: p, memory: memory, options: options)
        case .streams(let p): return try SharingEngine.run(spec: spec, tenants: tenants, policy: p, memory: memory, options: options)
        case .mps(let p): return try SharingEngine.run(spec: spec, tenants: tenants, policy: p, memory: memory, options: options)
        case .mig(let p): return try SharingEngine.run(spec: spec, tenants: tenants, policy: p, memory: memory, options: options)
        case .priority(let p): return try SharingEngine.run(spec: spec, tenants: tenants, policy: p, memory: memory, options: options)
        case .dynamic(let p): return try SharingEngine.run(spec: spec, tenants: tenants, policy: p, memory: memory, options: options)
        }
    }
}
