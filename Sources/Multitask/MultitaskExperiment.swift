// An experiment file (format gpusim-experiment/1, kind multitask) read without the Experiments
// layer, for `gpusim multitask run`: sections, policies (names or variants with parameter
// overrides), a cartesian grid and seeds, expanded into runs. `gpusim run` reads the same file
// through the Experiments layer once the multitask kind is registered there.

import Foundation

/// One planned run of a multitask experiment file.
public struct MultitaskRun: Sendable {
    /// Grid point: (axis, value as text).
    public var params: [(axis: String, value: String)]
    /// The policy variant's name (the policy's, or a named variant).
    public var policyName: String
    public var seed: UInt64
    public var config: MultitaskConfig
}

public struct MultitaskExperiment: Sendable {
    public static let formatIdentifier = "gpusim-experiment/1"
    public static let kindName = "multitask"
    public var name: String
    public var description: String
    public var runs: [MultitaskRun]

    /// Reads and validates the whole file; every run's config is validated before returning.
    public static func load(path: String) throws -> MultitaskExperiment {
        let root = try SettingsNode.load(path: path)
        let base = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
        var top = try SettingsMap(root, "an experiment (format, name, kind, hardware, workload, parameters, policies, grid, seeds)")
        let format = try top.string("format", "the format identifier, \(formatIdentifier)")
        guard format == formatIdentifier else { throw root.error("unsupported format '\(format)'; expected \(formatIdentifier)") }
        let name = try top.string("name", "the experiment's name")
        let kindNode = try top.required("kind", "the simulation kind, \(kindName)")
        guard try SettingsMap.string(kindNode, "a kind") == kindName else {
            throw kindNode.error("this command runs kind \(kindName) experiments; use gpusim run for others")
        }
        let description = try top.optionalString("description", "a description") ?? ""
        func section(_ key: String) -> SettingsNode {
            top.optional(key) ?? SettingsNode.emptyMap(file: path, path: key)
        }
        let hardware = section("hardware"), workload = section("workload"), parameters = section("parameters")
        // Policies.
        struct Variant { var name: String; var base: String; var node: SettingsNode; var overrides: [(key: String, node: SettingsNode)] }
        var variants: [Variant] = []
        for p in try SettingsMap.list(try top.required("policies", "the policies to compare: \(PolicyChoice.names.joined(separator: ", "))"), "policies") {
            var v: Variant
            if case .string(let s) = p.value {
                v = Variant(name: s, base: s, node: p, overrides: [])
            } else {
                var m = try SettingsMap(p, "a policy name or {name, policy, parameters}")
                let n = try m.string("name", "the variant's name")
                let baseNode = try m.required("policy", "one of: \(PolicyChoice.names.joined(separator: ", "))")
                let b = try SettingsMap.string(baseNode, "a policy name")
                var overrides: [(key: String, node: SettingsNode)] = []
                if let o = m.optional("parameters") { overrides = try SettingsMap(o, "parameter overrides").entries }
                try m.finish(known: ["name", "policy", "parameters"])
                v = Variant(name: n, base: b, node: baseNode, overrides: overrides)
            }
            guard PolicyChoice.names.contains(v.base) else {
                throw v.node.error("unknown policy '\(v.base)'; known policies: \(PolicyChoice.names.joined(separator: ", "))")
            }
            if variants.contains(where: { $0.name == v.name }) { throw p.error("policy '\(v.name)' is listed twice") }
            variants.append(v)
        }
        // Grid: cartesian axes only.
        var axes: [(key: String, values: [SettingsNode])] = []
        if let g = top.optional("grid") {
            var gm = try SettingsMap(g, "a grid block {cartesian: {axis: [values]}}")
            if let c = gm.optional("cartesian") {
                for e in try SettingsMap(c, "a mapping of axes to lists of values").entries {
                    let parts = e.key.split(separator: ".").map(String.init)
                    guard parts.count >= 2, ["hardware", "workload", "parameters"].contains(parts[0]) else {
                        throw e.node.error("axis '\(e.key)' must be a key path under hardware, workload or parameters")
                    }
                    let values = try SettingsMap.list(e.node, "values of axis '\(e.key)'")
                    guard !values.isEmpty else { throw e.node.error("empty grid axis '\(e.key)'") }
                    axes.append((e.key, values))
                }
            }
            if gm.has("zip") {
                throw g.error("zip grids are not supported by gpusim multitask run; use cartesian (or gpusim run)")
            }
            try gm.finish(known: ["cartesian", "zip"])
        }
        // Seeds.
        let seedsNode = try top.required("seeds", "a list of seeds or {first, count}")
        var seeds: [UInt64] = []
        if case .map = seedsNode.value {
            var sm = try SettingsMap(seedsNode, "{first, count}")
            let first = try sm.int("first", "the first seed", 0...Int.max / 2)
            let count = try sm.int("count", "how many seeds", 1...1_000_000)
            try sm.finish(known: ["first", "count"])
            seeds = (0..<count).map { UInt64(first + $0) }
        } else {
            for s in try SettingsMap.list(seedsNode, "seeds") {
                let v = UInt64(try SettingsMap.int(s, "a seed", 0...Int.max))
                if seeds.contains(v) { throw s.error("seed \(v) is listed twice") }
                seeds.append(v)
            }
        }
        _ = top.optional("metrics")
        let keepRequests = try top.optionalBool("requests", "true or false") ?? false
        try top.finish(known: ["format", "name", "kind", "description", "hardware", "workload", "parameters", "policies", "grid",
                               "seeds", "metrics", "requests"])

        // Expansion: grid points × policies × seeds.
        var points: [[(String, SettingsNode)]] = [[]]
        for a in axes { points = points.flatMap { p in a.values.map { p + [(a.key, $0)] } } }
        var runs: [MultitaskRun] = []
        for point in points {
            var sections = ["hardware": hardware, "workload": workload, "parameters": parameters]
            for (axis, value) in point {
                let parts = axis.split(separator: ".").map(String.init)
                sections[parts[0]] = set(sections[parts[0]]!, at: Array(parts.dropFirst()), to: value)
            }
            for v in variants {
                var params = sections["parameters"]!
                for o in v.overrides { params = set(params, at: [o.key], to: o.node) }
                var config = try MultitaskConfig.parse(hardware: sections["hardware"]!, workload: sections["workload"]!, parameters: params,
                                                       policy: v.base, policyNode: v.node, baseDirectory: base, file: path)
                config.requests = keepRequests
                for seed in seeds {
                    runs.append(MultitaskRun(params: point.map { ($0.0, describe($0.1)) }, policyName: v.name, seed: seed, config: config))
                }
            }
        }
        return MultitaskExperiment(name: name, description: description, runs: runs)
    }

    static func describe(_ n: SettingsNode) -> String {
        switch n.value {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        default: return n.typeDescription
        }
    }

    /// `node` with the value at `path` replaced by `value` (missing mappings are created).
    static func set(_ node: SettingsNode, at path: [String], to value: SettingsNode) -> SettingsNode {
        guard let key = path.first else { return value }
        var entries: [(key: String, node: SettingsNode)] = []
        if case .map(let m) = node.value { entries = m }
        if let i = entries.firstIndex(where: { $0.key == key }) {
            entries[i].node = set(entries[i].node, at: Array(path.dropFirst()), to: value)
        } else {
            let child = SettingsNode(.map([]), file: node.file, path: SettingsNode.join(node.path, key), line: value.line)
            entries.append((key, set(child, at: Array(path.dropFirst()), to: value)))
        }
        return SettingsNode(.map(entries), file: node.file, path: node.path, line: node.line)
    }
}
