// An experiment file (YAML, format gpusim-experiment/1), validated up front and expanded into
// runs. Format (Docs/experiments.md has the full description):
//
//   format: gpusim-experiment/1
//   name: replay-fidelity            # [A-Za-z0-9._-]+
//   kind: replay                     # a registered simulation kind
//   description: free text           # optional
//   hardware:   {...}                # the kind's sections (optional mappings)
//   workload:   {...}
//   parameters: {...}
//   policies:                        # non-empty: a kind's policy, or a named variant
//     - queued
//     - {name: queued-20us, policy: queued, parameters: {launch_latency_us: 20}}
//   grid:                            # optional: one block, or a list of blocks (their union)
//     cartesian: {hardware.gpu: [A, B], parameters.launch_latency_us: [0, 5]}   # every combination
//     zip: [{workload.trace: [x, y], workload.device: [0, 1]}]                   # lists advanced together
//   seeds: [1, 2, 3]                 # or {first: 1, count: 3}
//   metrics: [name, ...]             # optional: metrics to keep (default: all of the kind's)
//   requests: false                  # optional: keep per-request rows
//
// Runs = grid points × policies × seeds, in that nesting (the last fastest). Each run's id is a
// hash of its experiment name, policy name, resolved config and seed.

import Foundation
import Results

/// One run of an experiment, resolved and validated.
public struct PlannedRun: Sendable, Equatable {
    public var id: String
    /// Position in the expansion.
    public var ordinal: Int
    public var policy: String
    /// Grid point: axis → value.
    public var params: CanonicalJSON
    public var seed: UInt64
    /// Canonical JSON of the resolved config (kind, kind policy, kind config, what is kept).
    public var configText: String
    public var configHash: String
    /// The kind's config (as returned by `resolve`).
    public var kindConfig: CanonicalJSON
}

public struct Experiment: Sendable {
    public static let formatIdentifier = "gpusim-experiment/1"

    /// The path as given.
    public let file: String
    /// Absolute path.
    public let configPath: String
    public let text: String
    /// SHA-256 of the file's text.
    public let fileHash: String
    public let name: String
    public let kind: any SimulationKind.Type
    public let description: String
    public let policies: [String]
    /// Every axis, in order of first appearance.
    public let axes: [String]
    public let seeds: [UInt64]
    /// Metrics kept (nil: all).
    public let keepMetrics: [String]?
    public let keepRequests: Bool
    public let runs: [PlannedRun]
    public let context: KindContext

    /// Reads, validates and expands an experiment file. Every run is resolved by its kind before
    /// this returns, so a bad value anywhere fails here, before anything runs or is written.
    public static func load(path: String, kinds: [any SimulationKind.Type] = SimulationKinds.all) throws -> Experiment {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? "cannot read the file (\(error.localizedDescription))" : "no such file"
            throw ConfigError(file: path, keyPath: "", message: reason)
        }
        return try parse(yaml: text, file: path, baseDirectory: url.deletingLastPathComponent(), configPath: url.path, kinds: kinds)
    }

    /// Parses experiment text; relative paths in it start at `baseDirectory`.
    /// `kinds`: the simulation kinds `kind:` may name (tests add their own).
    public static func parse(yaml text: String, file: String, baseDirectory: URL, configPath: String? = nil,
                             kinds: [any SimulationKind.Type] = SimulationKinds.all) throws -> Experiment {
        let root = try ConfigNode.parse(yaml: text, file: file)
        let top = try ConfigMap(root, file: file, what: "an experiment (a mapping with format, name, kind, policies, seeds, ...)")
        try top.expectKeys(["format", "name", "kind", "description", "hardware", "workload", "parameters", "policies", "grid",
                            "seeds", "metrics", "requests"])

        let format = try top.string(try top.required("format", "the format identifier, \(formatIdentifier)"))
        guard format == formatIdentifier else {
            throw top.error(at: top.optional("format")!, "unsupported format '\(format)'; expected \(formatIdentifier)")
        }
        let nameNode = try top.required("name", "the experiment's name")
        let name = try top.string(nameNode, "a name")
        guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]*$"#, options: .regularExpression) != nil else {
            throw top.error(at: nameNode, "expected a name of letters, digits, '.', '_' and '-', got '\(name)'")
        }
        let kindNames = kinds.map { $0.name }.joined(separator: ", ")
        let kindNode = try top.required("kind", "the simulation kind: \(kindNames)")
        let kindName = try top.string(kindNode, "a simulation kind")
        guard let kind = kinds.first(where: { $0.name == kindName }) else {
            throw top.error(at: kindNode, "unknown simulation kind '\(kindName)'; known kinds: \(kindNames)")
        }
        let description = try top.optional("description").map { try top.string($0, "a description") } ?? ""

        func section(_ key: String) throws -> ConfigNode {
            guard let n = top.optional(key) else { return ConfigNode(.map([]), path: key) }
            if case .null = n.value { return ConfigNode(.map([]), path: key, line: n.line) }
            _ = try ConfigMap(n, file: file, what: "a mapping of the \(kind.name) kind's \(key) settings")
            return n
        }
        let hardware = try section("hardware")
        let workload = try section("workload")
        let parameters = try section("parameters")

        // Policies.
        struct Policy { var name: String; var base: String; var path: String; var line: Int?; var overrides: [ConfigEntry] }
        let knownPolicies = kind.policies.map(\.name)
        let policyList = try top.list(try top.required("policies", "the policies to compare: \(knownPolicies.joined(separator: ", "))"),
                                      "at least one policy")
        var policies: [Policy] = []
        for p in policyList {
            var pol: Policy
            if case .string = p.value {
                let n = try top.string(p, "a policy name")
                pol = Policy(name: n, base: n, path: p.path, line: p.line, overrides: [])
            } else {
                let m = try ConfigMap(p, file: file, what: "a policy name or a mapping {name, policy, parameters}")
                try m.expectKeys(["name", "policy", "parameters"])
                let nameNode = try m.required("name", "the variant's name")
                let n = try m.string(nameNode, "a policy name")
                let baseNode = try m.required("policy", "one of the kind's policies: \(knownPolicies.joined(separator: ", "))")
                let base = try m.string(baseNode, "a policy name")
                var overrides: [ConfigEntry] = []
                if let o = m.optional("parameters") {
                    overrides = try ConfigMap(o, file: file, what: "a mapping of parameter overrides").entries
                }
                try m.finish()
                pol = Policy(name: n, base: base, path: baseNode.path, line: baseNode.line, overrides: overrides)
            }
            guard knownPolicies.contains(pol.base) else {
                throw ConfigError(file: file, keyPath: pol.path,
                                  message: "unknown policy '\(pol.base)' for kind \(kind.name); known policies: \(knownPolicies.joined(separator: ", "))",
                                  line: pol.line)
            }
            guard pol.name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._+-]*$"#, options: .regularExpression) != nil else {
                throw ConfigError(file: file, keyPath: p.path, message: "expected a policy name of letters, digits, '.', '_', '+' and '-', got '\(pol.name)'", line: p.line)
            }
            if policies.contains(where: { $0.name == pol.name }) {
                throw ConfigError(file: file, keyPath: p.path, message: "policy '\(pol.name)' is listed twice", line: p.line)
            }
            policies.append(pol)
        }

        // Grid.
        let blocks = try parseGrid(top.optional("grid"), file: file)

        // Seeds.
        let seedsNode = try top.required("seeds", "a list of seeds, or {first: N, count: M}")
        var seeds: [UInt64] = []
        if case .map = seedsNode.value {
            let m = try ConfigMap(seedsNode, file: file, what: "{first: N, count: M}")
            try m.expectKeys(["first", "count"])
            let first = try m.int(try m.required("first", "the first seed"), "a seed", range: 0...Int.max)
            let count = try m.int(try m.required("count", "how many seeds"), "a count of seeds", range: 1...1_000_000)
            try m.finish()
            guard first <= Int.max - count else { throw top.error(at: seedsNode, "seeds overflow 63 bits") }
            seeds = (0..<count).map { UInt64(first + $0) }
        } else {
            let items = try top.list(seedsNode, "at least one seed")
            for s in items {
                let v = try top.int(s, "a seed (a whole number >= 0)", range: 0...Int.max)
                if seeds.contains(UInt64(v)) { throw top.error(at: s, "seed \(v) is listed twice") }
                seeds.append(UInt64(v))
            }
        }

        // Metrics and requests.
        var keepMetrics: [String]? = nil
        if let mNode = top.optional("metrics") {
            let known = kind.metrics.map(\.name)
            var keep: [String] = []
            for item in try top.list(mNode, "at least one metric name") {
                let n = try top.string(item, "a metric name")
                guard known.contains(n) else {
                    throw top.error(at: item, "unknown metric '\(n)' for kind \(kind.name); known metrics: \(known.joined(separator: ", "))")
                }
                if keep.contains(n) { throw top.error(at: item, "metric '\(n)' is listed twice") }
                keep.append(n)
            }
            keepMetrics = keep
        }
        let keepRequests = try top.optional("requests").map { try top.bool($0, "true or false (keep per-request rows)") } ?? false
        try top.finish()

        // Policy overrides may not set what a grid axis sets (which would win would be a guess).
        for pol in policies {
            for o in pol.overrides {
                let axis = "parameters." + o.key
                for b in blocks where b.axes.contains(where: { $0.key == axis }) {
                    throw ConfigError(file: file, keyPath: o.node.path,
                                      message: "policy '\(pol.name)' sets \(axis), which the grid also varies (\(b.path)); set it in one place",
                                      line: o.node.line)
                }
            }
        }

        // Expansion and resolution.
        let context = KindContext(baseDirectory: baseDirectory, file: file)
        let keepJSON: CanonicalJSON = .object([
            "metrics": keepMetrics.map { .array($0.map { .string($0) }) } ?? .null,
            "requests": .bool(keepRequests),
        ])
        var runs: [PlannedRun] = []
        var byID: [String: String] = [:]
        var axes: [String] = []
        let points = blocks.isEmpty ? [GridPoint(values: [], path: "")] : blocks.flatMap { $0.points() }
        for b in blocks { for a in b.axes where !axes.contains(a.key) { axes.append(a.key) } }
        // Every (point, policy) spec first, so that the kind can load their inputs in parallel.
        var specs: [(point: GridPoint, params: CanonicalJSON, policy: Policy, spec: RunSpec)] = []
        for point in points {
            var sections = ["hardware": hardware, "workload": workload, "parameters": parameters]
            for (axis, value) in point.values {
                let parts = axis.split(separator: ".").map(String.init)
                sections[parts[0]] = set(sections[parts[0]]!, at: Array(parts.dropFirst()), to: value)
            }
            var params: [String: CanonicalJSON] = [:]
            for (axis, value) in point.values { params[axis] = value.json }
            for pol in policies {
                var parametersNode = sections["parameters"]!
                for o in pol.overrides { parametersNode = set(parametersNode, at: [o.key], to: o.node) }
                let spec = RunSpec(hardware: sections["hardware"]!, workload: sections["workload"]!, parameters: parametersNode,
                                   policy: pol.base, policyPath: pol.path, file: file)
                specs.append((point, .object(params), pol, spec))
            }
        }
        kind.prepare(specs.map(\.spec), context: context)
        // Resolve in parallel (kinds are thread-safe through their context); the first error in
        // expansion order is the one reported, whatever the number of cores.
        let resolved = ResolvedSlots(count: specs.count)
        let specList = specs.map(\.spec)
        let policyBases = specs.map(\.policy.base)
        let workers = max(1, min(specs.count, ProcessInfo.processInfo.activeProcessorCount * 4))
        DispatchQueue.concurrentPerform(iterations: workers) { chunk in
            var i = chunk
            while i < specList.count {
                let r = Result { () throws -> (CanonicalJSON, String, String) in
                    let kindConfig = try kind.resolve(specList[i], context: context)
                    let configText = CanonicalJSON.object([
                        "kind": .string(kind.name), "policy": .string(policyBases[i]), "config": kindConfig, "keep": keepJSON,
                    ]).text
                    return (kindConfig, configText, String(SHA256.hex(configText).prefix(16)))
                }
                resolved.set(i, r)
                i += workers
            }
        }
        for (index, (point, paramsJSON, pol, _)) in specs.enumerated() {
            let (kindConfig, configText, configHash) = try resolved.get(index)
            for seed in seeds {
                let id = String(SHA256.hex("gpusim-run/1\n\(name)\n\(pol.name)\n\(configText)\n\(seed)").prefix(16))
                let where_ = "policy \(pol.name), params \(paramsJSON.text), seed \(seed)"
                if let earlier = byID[id] {
                    throw ConfigError(file: file, keyPath: point.path.isEmpty ? "grid" : point.path,
                                      message: "the run (\(where_)) is the same run as (\(earlier)): the grid lists it twice")
                }
                byID[id] = where_
                runs.append(PlannedRun(id: id, ordinal: runs.count, policy: pol.name, params: paramsJSON, seed: seed,
                                       configText: configText, configHash: configHash, kindConfig: kindConfig))
            }
        }
        return Experiment(file: file, configPath: configPath ?? baseDirectory.appendingPathComponent(file).path, text: text,
                          fileHash: SHA256.hex(text), name: name, kind: kind, description: description,
                          policies: policies.map(\.name), axes: axes, seeds: seeds, keepMetrics: keepMetrics,
                          keepRequests: keepRequests, runs: runs, context: context)
    }

    /// `node` with the value at `path` (keys below it) replaced by `value`; missing maps are created.
    static func set(_ node: ConfigNode, at path: [String], to value: ConfigNode) -> ConfigNode {
        guard let key = path.first else { return value }
        var entries = node.mapEntries ?? []
        if let i = entries.firstIndex(where: { $0.key == key }) {
            entries[i].node = set(entries[i].node, at: Array(path.dropFirst()), to: value)
        } else {
            let child = ConfigNode(.map([]), path: ConfigNode.join(node.path, key), line: value.line)
            entries.append(ConfigEntry(key: key, node: set(child, at: Array(path.dropFirst()), to: value)))
        }
        return ConfigNode(.map(entries), path: node.path, line: node.line)
    }

    /// Results of parallel resolution, by index.
    final class ResolvedSlots: @unchecked Sendable {
        private var slots: [Result<(CanonicalJSON, String, String), Error>?]
        private let lock = NSLock()
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: Result<(CanonicalJSON, String, String), Error>) {
            lock.lock(); slots[i] = r; lock.unlock()
        }
        func get(_ i: Int) throws -> (CanonicalJSON, String, String) {
            lock.lock(); defer { lock.unlock() }
            return try slots[i]!.get()
        }
    }

    // MARK: grid

    struct Axis { var key: String; var values: [ConfigNode]; var path: String }
    struct GridPoint { var values: [(String, ConfigNode)]; var path: String }

    /// One block: cartesian axes (each a dimension) and zip groups (each one dimension).
    struct Block {
        var path: String
        var cartesian: [Axis]
        var zips: [[Axis]]
        var axes: [Axis] { cartesian + zips.flatMap { $0 } }

        func points() -> [GridPoint] {
            // Dimensions: each cartesian axis, then each zip group; the last varies fastest.
            var dims: [[[(String, ConfigNode)]]] = cartesian.map { a in a.values.map { [(a.key, $0)] } }
            for g in zips {
                let n = g[0].values.count
                dims.append((0..<n).map { i in g.map { ($0.key, $0.values[i]) } })
            }
            var out: [[(String, ConfigNode)]] = [[]]
            for d in dims {
                var next: [[(String, ConfigNode)]] = []
                next.reserveCapacity(out.count * d.count)
                for prefix in out { for v in d { next.append(prefix + v) } }
                out = next
            }
            return out.map { GridPoint(values: $0, path: path) }
        }
    }

    static let axisRoots = ["hardware", "workload", "parameters"]

    static func parseGrid(_ node: ConfigNode?, file: String) throws -> [Block] {
        guard let node else { return [] }
        let items: [ConfigNode]
        switch node.value {
        case .map: items = [node]
        case .list(let l):
            guard !l.isEmpty else {
                throw ConfigError(file: file, keyPath: node.path, message: "empty grid: expected a block {cartesian, zip} or a non-empty list of blocks", line: node.line)
            }
            items = l
        default:
            throw ConfigError(file: file, keyPath: node.path, message: "expected a grid block {cartesian: ..., zip: ...} or a list of blocks, got \(node.typeDescription)", line: node.line)
        }
        var blocks: [Block] = []
        for item in items {
            let m = try ConfigMap(item, file: file, what: "a grid block {cartesian: {axis: [values]}, zip: [{axis: [values], ...}]}")
            try m.expectKeys(["cartesian", "zip"])
            var block = Block(path: item.path, cartesian: [], zips: [])
            var seen = Set<String>()
            func axes(_ n: ConfigNode) throws -> [Axis] {
                let am = try ConfigMap(n, file: file, what: "a mapping of axes to lists of values, e.g. {hardware.gpu: [A100-SXM4-80GB, H100-SXM5-80GB]}")
                guard !am.entries.isEmpty else {
                    throw am.error(at: n, "empty grid: expected at least one axis (e.g. hardware.gpu: [A, B])")
                }
                var out: [Axis] = []
                for e in am.entries {
                    let parts = e.key.split(separator: ".", omittingEmptySubsequences: false)
                    guard parts.count >= 2, axisRoots.contains(String(parts[0])), !parts.contains(where: { $0.isEmpty }) else {
                        throw am.error(at: e.node, "axis '\(e.key)' must be a key path under \(axisRoots.joined(separator: ", ")), e.g. hardware.gpu or parameters.launch_latency_us")
                    }
                    guard seen.insert(e.key).inserted else {
                        throw am.error(at: e.node, "axis '\(e.key)' appears twice in this grid block")
                    }
                    guard let values = e.node.listItems else {
                        throw am.error(at: e.node, "expected a list of values for axis '\(e.key)', got \(e.node.typeDescription)")
                    }
                    guard !values.isEmpty else {
                        throw am.error(at: e.node, "empty grid axis '\(e.key)': expected at least one value")
                    }
                    out.append(Axis(key: e.key, values: values, path: e.node.path))
                }
                return out
            }
            if let c = m.optional("cartesian") { block.cartesian = try axes(c) }
            if let z = m.optional("zip") {
                let groups: [ConfigNode]
                switch z.value {
                case .map: groups = [z]
                case .list(let l):
                    guard !l.isEmpty else { throw m.error(at: z, "empty grid: expected at least one zip group") }
                    groups = l
                default: throw m.error(at: z, "expected a zip group {axis: [values], ...} or a list of them, got \(z.typeDescription)")
                }
                for g in groups {
                    let group = try axes(g)
                    let n = group[0].values.count
                    for a in group where a.values.count != n {
                        throw m.error(at: ConfigNode(.null, path: a.path, line: g.line),
                                      "zipped axes must have equal lengths: '\(group[0].key)' has \(n) values, '\(a.key)' has \(a.values.count)")
                    }
                    block.zips.append(group)
                }
            }
            try m.finish()
            guard !block.axes.isEmpty else {
                throw m.error(at: item, "empty grid block: expected cartesian and/or zip axes")
            }
            blocks.append(block)
        }
        return blocks
    }
}
