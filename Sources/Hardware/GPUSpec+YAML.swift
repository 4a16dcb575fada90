// Strict loading of a GPU data file (schema "gpusim-gpu/1", documented in
// Traces/hardware/README.md). Every mapping must hold exactly its known keys; every figure must
// be a positive plain number and carry a source; errors name the file and the key path.

import Foundation
import Yams

/// A data file that does not load: which file, where in it, and what was wrong.
public struct GPUSpecError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// The file's name (or the name given when parsing a string).
    public let file: String
    /// Key path inside the file, e.g. "pcie.h2d_pinned.points[3]"; empty for the whole file.
    public let keyPath: String
    public let message: String
    /// Line in the file, where known.
    public let line: Int?

    public init(file: String, keyPath: String, message: String, line: Int? = nil) {
        self.file = file
        self.keyPath = keyPath
        self.message = message
        self.line = line
    }

    public var description: String {
        var s = file
        if !keyPath.isEmpty { s += ": " + keyPath }
        s += ": " + message
        if let line { s += " (line \(line))" }
        return s
    }

    public var errorDescription: String? { description }
}

extension GPUSpec {
    /// The schema identifier every data file must declare.
    public static let schemaIdentifier = "gpusim-gpu/1"

    /// Loads one data file.
    public static func load(contentsOf url: URL) throws -> GPUSpec {
        let name = url.lastPathComponent
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw GPUSpecError(file: name, keyPath: "", message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: name)
    }

    /// Parses the text of a data file; `file` names it in errors.
    public static func parse(yaml text: String, file: String) throws -> GPUSpec {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .duplicatedKeysInMapping(let duplicates, let context):
                let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
                throw GPUSpecError(file: file, keyPath: "", message: "duplicate key \(keys) in a mapping",
                                   line: context.mark.line)
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                 .composer(_, let problem, let mark, _):
                throw GPUSpecError(file: file, keyPath: "", message: "not valid YAML: \(problem)", line: mark.line)
            default:
                throw GPUSpecError(file: file, keyPath: "", message: "not valid YAML: \(error)")
            }
        } catch {
            throw GPUSpecError(file: file, keyPath: "", message: "not valid YAML: \(error)")
        }
        guard let root else {
            throw GPUSpecError(file: file, keyPath: "", message: "the file is empty")
        }
        let context = DecodeContext(file: file)
        return try SpecDecoder(context: context).decode(root)
    }
}

// MARK: - Reader

/// Collects sources while a file is decoded.
final class DecodeContext {
    let file: String
    var sources: [String: String] = [:]
    init(file: String) { self.file = file }

    func error(_ path: String, _ message: String, _ node: Node?) -> GPUSpecError {
        GPUSpecError(file: file, keyPath: path, message: message, line: node?.mark?.line)
    }
}

/// A strict view of one YAML mapping: keys are read once, unknown keys are an error.
final class MappingReader {
    let context: DecodeContext
    let path: String
    let node: Node
    private var entries: [(key: String, value: Node)] = []
    private var used = Set<String>()

    init(_ node: Node, path: String, context: DecodeContext) throws {
        self.context = context
        self.path = path
        self.node = node
        guard case .mapping(let mapping) = node else {
            throw context.error(path, "expected a mapping of keys to values, got \(describe(node))", node)
        }
        var seen = Set<String>()
        for (k, v) in mapping {
            guard case .scalar(let s) = k else {
                throw context.error(path, "keys must be plain strings", k)
            }
            guard seen.insert(s.string).inserted else {
                throw context.error(join(path, s.string), "duplicate key", k)
            }
            entries.append((s.string, v))
        }
    }

    func childPath(_ key: String) -> String { join(path, key) }

    func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    /// The value of a required key.
    func value(_ key: String) throws -> Node {
        guard let v = optionalValue(key) else {
            throw context.error(path, "missing required key '\(key)'", node)
        }
        return v
    }

    /// The value of an optional key, or nil when absent.
    func optionalValue(_ key: String) -> Node? {
        guard let e = entries.first(where: { $0.key == key }) else { return nil }
        used.insert(key)
        return e.value
    }

    /// Rejects keys that were never read.
    func finish() throws {
        for e in entries where !used.contains(e.key) {
            throw context.error(join(path, e.key), "unknown key", e.value)
        }
    }

    // Typed accessors.

    func string(_ key: String) throws -> String {
        let v = try value(key)
        return try stringValue(v, path: childPath(key))
    }

    func stringValue(_ v: Node, path: String) throws -> String {
        guard case .scalar(let s) = v, !isNull(v) else {
            throw context.error(path, "expected a string, got \(describe(v))", v)
        }
        let t = s.string.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else { throw context.error(path, "must not be empty", v) }
        return t
    }

    func int(_ key: String, allowZero: Bool = false) throws -> Int {
        try intValue(try value(key), path: childPath(key), allowZero: allowZero)
    }

    func intValue(_ v: Node, path: String, allowZero: Bool = false) throws -> Int {
        guard let d = number(v) else {
            throw context.error(path, "expected a number, got \(describe(v))", v)
        }
        guard d == d.rounded(), abs(d) < 9.0e18 else {
            throw context.error(path, "expected a whole number, got \(d)", v)
        }
        let i = Int(d)
        if allowZero {
            guard i >= 0 else { throw context.error(path, "must not be negative, got \(i)", v) }
        } else {
            guard i > 0 else { throw context.error(path, "must be positive, got \(i)", v) }
        }
        return i
    }

    func double(_ key: String) throws -> Double {
        try doubleValue(try value(key), path: childPath(key))
    }

    func doubleValue(_ v: Node, path: String) throws -> Double {
        guard let d = number(v) else {
            throw context.error(path, "expected a number, got \(describe(v))", v)
        }
        guard d > 0 else { throw context.error(path, "must be positive, got \(d)", v) }
        return d
    }

    /// The required `source` of this group, recorded under the group's path.
    func source() throws -> String {
        let s = try string("source")
        context.sources[path] = s
        return s
    }

    /// Runs `body` on the mapping under `key`, records its source if it has one, accepts an
    /// optional free-text `note`, and rejects unknown keys.
    func group<T>(_ key: String, requireSource: Bool = true, _ body: (MappingReader) throws -> T) throws -> T {
        try groupValue(try value(key), path: childPath(key), requireSource: requireSource, body)
    }

    func groupValue<T>(_ v: Node, path: String, requireSource: Bool = true,
                       _ body: (MappingReader) throws -> T) throws -> T {
        let r = try MappingReader(v, path: path, context: context)
        if requireSource {
            _ = try r.source()
        } else if r.has("source") {
            _ = try r.source()
        }
        if r.has("note") { _ = try r.string("note") }
        let result = try body(r)
        try r.finish()
        return result
    }

    /// A figure written as `{value: X, source: "..."}`.
    func figure<T>(_ key: String, _ parse: (Node, String) throws -> T) throws -> T {
        try group(key) { g in try parse(try g.value("value"), g.childPath("value")) }
    }

    /// An optional figure; nil when the key is absent.
    func optionalFigure<T>(_ key: String, _ parse: (Node, String) throws -> T) throws -> T? {
        guard has(key) else { return nil }
        return try figure(key, parse)
    }

    /// A sequence under a required key.
    func sequence(_ key: String) throws -> [Node] {
        let v = try value(key)
        return try sequenceValue(v, path: childPath(key))
    }

    func sequenceValue(_ v: Node, path: String) throws -> [Node] {
        guard case .sequence(let seq) = v else {
            throw context.error(path, "expected a list, got \(describe(v))", v)
        }
        return Array(seq)
    }
}

private func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

private func isNull(_ node: Node) -> Bool {
    guard case .scalar(let s) = node, s.style == .plain else { return false }
    return ["null", "Null", "NULL", "~", ""].contains(s.string)
}

/// A plain (unquoted) scalar read as a number; underscores are allowed as digit separators.
private func number(_ node: Node) -> Double? {
    guard case .scalar(let s) = node, s.style == .plain else { return nil }
    let t = s.string.replacingOccurrences(of: "_", with: "")
    guard let first = t.first, first.isNumber || first == "-" || first == "+" || first == "." else { return nil }
    guard let d = Double(t), d.isFinite else { return nil }
    return d
}

private func describe(_ node: Node) -> String {
    switch node {
    case .scalar(let s):
        if isNull(node) { return "null" }
        return s.style == .plain ? s.string : "\"\(s.string)\""
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
}

// MARK: - Decoder

struct SpecDecoder {
    let context: DecodeContext

    func decode(_ root: Node) throws -> GPUSpec {
        let r = try MappingReader(root, path: "", context: context)

        let schema = try r.string("schema")
        guard schema == GPUSpec.schemaIdentifier else {
            throw context.error("schema", "unsupported schema '\(schema)'; expected '\(GPUSpec.schemaIdentifier)'",
                                r.optionalValue("schema"))
        }
        let name = try r.string("name")
        let aliases = try r.sequence("aliases").enumerated().map { i, n in
            try r.stringValue(n, path: r.childPath("aliases") + "[\(i)]")
        }

        let cc = try r.figure("compute_capability") { v, path -> ComputeCapability in
            let text: String
            if case .scalar(let s) = v { text = s.string } else {
                throw context.error(path, "expected a version such as \"8.0\"", v)
            }
            let parts = text.split(separator: ".")
            guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]), major > 0, minor >= 0 else {
                throw context.error(path, "expected a version such as \"8.0\", got \(text)", v)
            }
            return ComputeCapability(major: major, minor: minor)
        }
        let sms = try r.figure("sms") { v, p in try r.intValue(v, path: p) }
        let boost = try r.figure("boost_clock_mhz") { v, p in try r.doubleValue(v, path: p) }

        let perSM = try r.group("per_sm") { g in
            SMLimits(
                maxThreads: try g.int("max_threads"),
                maxWarps: try g.int("max_warps"),
                maxCTAs: try g.int("max_ctas"),
                registers: try g.int("registers"),
                maxRegistersPerThread: try g.int("max_registers_per_thread"),
                registerAllocationUnit: try g.int("register_alloc_unit"),
                warpAllocationGranularity: try g.int("warp_alloc_granularity"),
                sharedMemoryBytes: try g.int("shared_memory_bytes"),
                sharedMemoryAllocationUnitBytes: try g.int("shared_memory_alloc_unit_bytes"),
                reservedSharedMemoryPerCTABytes: try g.int("reserved_shared_memory_per_cta_bytes", allowZero: true))
        }
        if perSM.maxThreads != perSM.maxWarps * 32 {
            throw context.error("per_sm.max_threads",
                                "max_threads (\(perSM.maxThreads)) must be max_warps (\(perSM.maxWarps)) x 32", nil)
        }
        let perCTA = try r.group("per_cta") { g in
            CTALimits(
                maxThreads: try g.int("max_threads"),
                maxRegisters: try g.int("max_registers"),
                maxSharedMemoryBytes: try g.int("max_shared_memory_bytes"),
                maxSharedMemoryOptInBytes: try g.int("max_shared_memory_optin_bytes"))
        }
        if perCTA.maxSharedMemoryOptInBytes > perSM.sharedMemoryBytes {
            throw context.error("per_cta.max_shared_memory_optin_bytes",
                                "exceeds per_sm.shared_memory_bytes (\(perSM.sharedMemoryBytes))", nil)
        }
        if perCTA.maxThreads > perSM.maxThreads {
            throw context.error("per_cta.max_threads", "exceeds per_sm.max_threads (\(perSM.maxThreads))", nil)
        }

        let memory = try r.group("memory", requireSource: false) { g in
            DeviceMemory(
                capacityBytes: try g.figure("capacity_bytes") { v, p in try g.intValue(v, path: p) },
                usableBytes: try g.optionalFigure("usable_bytes") { v, p in try g.intValue(v, path: p) },
                bandwidthBytesPerSecond: try g.figure("bandwidth_bytes_per_s") { v, p in try g.doubleValue(v, path: p) },
                deviceCopyBytesPerSecond: try g.optionalFigure("device_copy_bytes_per_s") { v, p in
                    try g.doubleValue(v, path: p)
                })
        }
        if let usable = memory.usableBytes, usable > memory.capacityBytes {
            throw context.error("memory.usable_bytes.value",
                                "usable memory (\(usable)) exceeds the capacity (\(memory.capacityBytes))", nil)
        }
        let l2 = try r.figure("l2_bytes") { v, p in try r.intValue(v, path: p) }
        let pcie = try r.group("pcie") { g in try decodePCIe(g) }
        let nvlink = try decodeNVLink(r)
        let copyEngines = try r.figure("copy_engines") { v, p in try r.intValue(v, path: p) }
        let mig = try decodeMIG(r, smCount: sms, capacityBytes: memory.capacityBytes)
        try r.finish()

        return GPUSpec(name: name, aliases: aliases, computeCapability: cc, smCount: sms, boostClockMHz: boost,
                       perSM: perSM, perCTA: perCTA, memory: memory, l2Bytes: l2, pcie: pcie, nvlink: nvlink,
                       copyEngines: copyEngines, mig: mig, sources: context.sources, file: context.file)
    }

    private func decodePCIe(_ g: MappingReader) throws -> PCIeLink {
        let generation = try g.int("generation")
        let lanes = try g.int("lanes")
        let curves = try ["h2d_pinned", "d2h_pinned", "h2d_pageable", "d2h_pageable"].map { key in
            try g.group(key) { c in try decodeCurve(c) }
        }
        let bidir = try g.optionalFigure("bidirectional_pinned_bytes_per_s") { v, p in try g.doubleValue(v, path: p) }
        return PCIeLink(generation: generation, lanes: lanes, h2dPinned: curves[0], d2hPinned: curves[1],
                        h2dPageable: curves[2], d2hPageable: curves[3], bidirectionalPinnedBytesPerSecond: bidir)
    }

    /// `{latency_us, points: [[bytes, GB/s], ...], source}` or `{latency_us, peak_gb_per_s, source}`.
    private func decodeCurve(_ c: MappingReader) throws -> TransferCurve {
        let latency = try c.double("latency_us") * 1e-6
        switch (c.has("points"), c.has("peak_gb_per_s")) {
        case (true, true):
            throw context.error(c.path, "give either 'points' or 'peak_gb_per_s', not both", c.node)
        case (false, false):
            throw context.error(c.path, "missing required key 'points' (or 'peak_gb_per_s' for a model curve)", c.node)
        case (false, true):
            let peak = try c.double("peak_gb_per_s") * 1e9
            return try TransferCurve(latencySeconds: latency, peakBytesPerSecond: peak)
        case (true, false):
            let list = try c.sequence("points")
            var points: [TransferCurve.Point] = []
            for (i, n) in list.enumerated() {
                let path = c.childPath("points") + "[\(i)]"
                guard case .sequence(let pair) = n, pair.count == 2 else {
                    throw context.error(path, "expected [bytes, GB/s], got \(describeNode(n))", n)
                }
                let items = Array(pair)
                let bytes = try c.doubleValue(items[0], path: path + "[0]")
                let gbps = try c.doubleValue(items[1], path: path + "[1]")
                points.append(.init(bytes: bytes, bytesPerSecond: gbps * 1e9))
            }
            if let problem = TransferCurve.problem(latencySeconds: latency, points: points) {
                let path = problem.index.map { c.childPath("points") + "[\($0)]" } ?? c.path
                throw context.error(path, problem.message, problem.index.map { list[$0] } ?? c.node)
            }
            return try TransferCurve(latencySeconds: latency, points: points)
        }
    }

    /// `nvlink` is required: a mapping, or null for a GPU without NVLink.
    private func decodeNVLink(_ r: MappingReader) throws -> NVLink? {
        let v = try r.value("nvlink")
        if isNull(v) { return nil }
        return try r.groupValue(v, path: "nvlink") { g in
            NVLink(links: try g.int("links"),
                   totalBandwidthBytesPerSecond: try g.double("total_bandwidth_bytes_per_s"))
        }
    }

    /// `mig` is required: a mapping, or null for a GPU without MIG.
    private func decodeMIG(_ r: MappingReader, smCount: Int, capacityBytes: Int) throws -> MIGSpec? {
        let v = try r.value("mig")
        if isNull(v) { return nil }
        return try r.groupValue(v, path: "mig") { g in
            let memorySlices = try g.int("memory_slices")
            let computeSlices = try g.int("compute_slices")
            let maxInstances = try g.int("max_instances")
            let list = try g.sequence("profiles")
            guard !list.isEmpty else {
                throw context.error(g.childPath("profiles"), "must list at least one profile", g.node)
            }
            var profiles: [MIGProfile] = []
            for (i, n) in list.enumerated() {
                let path = g.childPath("profiles") + "[\(i)]"
                let p = try g.groupValue(n, path: path, requireSource: false) { m in
                    MIGProfile(
                        name: try m.string("name"),
                        computeSlices: try m.int("compute_slices"),
                        memorySlices: try m.int("memory_slices"),
                        smCount: try m.int("sms"),
                        memoryBytes: try m.int("memory_bytes"),
                        copyEngines: try m.int("copy_engines"),
                        maxInstances: try m.int("max_instances"),
                        placements: try m.sequence("placements").enumerated().map { j, x in
                            try m.intValue(x, path: m.childPath("placements") + "[\(j)]", allowZero: true)
                        })
                }
                try check(p, path: path, node: n, memorySlices: memorySlices, computeSlices: computeSlices,
                          maxInstances: maxInstances, smCount: smCount, capacityBytes: capacityBytes)
                if profiles.contains(where: { $0.name.lowercased() == p.name.lowercased() }) {
                    throw context.error(path + ".name", "duplicate profile name '\(p.name)'", n)
                }
                profiles.append(p)
            }
            return MIGSpec(memorySlices: memorySlices, computeSlices: computeSlices,
                           maxInstances: maxInstances, profiles: profiles)
        }
    }

    private func check(_ p: MIGProfile, path: String, node: Node, memorySlices: Int, computeSlices: Int,
                       maxInstances: Int, smCount: Int, capacityBytes: Int) throws {
        func fail(_ key: String, _ message: String) -> GPUSpecError { context.error(path + "." + key, message, node) }
        if p.memorySlices > memorySlices { throw fail("memory_slices", "exceeds the GPU's \(memorySlices) memory slices") }
        if p.computeSlices > computeSlices { throw fail("compute_slices", "exceeds the GPU's \(computeSlices) compute slices") }
        if p.smCount > smCount { throw fail("sms", "exceeds the GPU's \(smCount) SMs") }
        if p.memoryBytes > capacityBytes { throw fail("memory_bytes", "exceeds the GPU's memory capacity") }
        if p.maxInstances > maxInstances { throw fail("max_instances", "exceeds mig.max_instances (\(maxInstances))") }
        if p.placements.isEmpty { throw fail("placements", "must list at least one start slice") }
        for (j, s) in p.placements.enumerated() {
            if j > 0 && s <= p.placements[j - 1] {
                throw fail("placements[\(j)]", "start slices must increase")
            }
            if s + p.memorySlices > memorySlices {
                throw fail("placements[\(j)]",
                           "an instance at slice \(s) would end past the GPU's \(memorySlices) memory slices")
            }
        }
        if p.maxInstances > p.placements.count {
            throw fail("max_instances", "exceeds the number of placements (\(p.placements.count))")
        }
    }

    private func describeNode(_ n: Node) -> String { describe(n) }
}
