// Config values as a tree that remembers where each value was written (file, key path, line),
// and a strict reader over it: every key is expected, every value checked, and every error names
// the file, the key path and what was expected. Multitask's run configs and model files are read
// through it; the experiment layer converts its own config tree into this one.

import Foundation
import Yams

/// A config or data file that does not validate.
/// Reads `colocation.yaml: workload.tenants[1].trace: no such file 'x.json.gz' (line 12)`.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    public var file: String
    public var keyPath: String
    public var message: String
    public var line: Int?

    public init(file: String, keyPath: String, message: String, line: Int? = nil) {
        self.file = file
        self.keyPath = keyPath
        self.message = message
        self.line = line
    }

    public var description: String {
        var s = file
        if !keyPath.isEmpty { s += (s.isEmpty ? "" : ": ") + keyPath }
        s += ": " + message
        if let line { s += " (line \(line))" }
        return s
    }

    public var errorDescription: String? { description }
}

/// A config value.
public indirect enum SettingsValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([SettingsNode])
    case map([(key: String, node: SettingsNode)])

    public static func == (a: SettingsValue, b: SettingsValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.list(let x), .list(let y)): return x == y
        case (.map(let x), .map(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.node == $1.node }
        default: return false
        }
    }
}

/// A value, the file it came from, its key path and its line.
public struct SettingsNode: Sendable, Equatable {
    public var value: SettingsValue
    public var file: String
    public var path: String
    public var line: Int?

    public init(_ value: SettingsValue, file: String, path: String, line: Int? = nil) {
        self.value = value
        self.file = file
        self.path = path
        self.line = line
    }

    /// An empty mapping at `path` (an omitted section).
    public static func emptyMap(file: String, path: String) -> SettingsNode {
        SettingsNode(.map([]), file: file, path: path)
    }

    public func error(_ message: String) -> SettingsError {
        SettingsError(file: file, keyPath: path, message: message, line: line)
    }

    /// "a number (3)", "a mapping"... for "expected X, got Y".
    public var typeDescription: String {
        switch value {
        case .null: return "nothing (null)"
        case .bool(let b): return "a boolean (\(b))"
        case .int(let i): return "a number (\(i))"
        case .double(let d): return "a number (\(d))"
        case .string(let s): return "a string ('\(s.prefix(60))')"
        case .list(let l): return "a list of \(l.count)"
        case .map: return "a mapping"
        }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// Parses YAML (or JSON) text; key paths start at `path`.
    public static func parse(yaml text: String, file: String, path: String = "") throws -> SettingsNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .duplicatedKeysInMapping(let duplicates, let context):
                let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
                throw SettingsError(file: file, keyPath: path, message: "duplicate key \(keys) in a mapping", line: context.mark.line)
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw SettingsError(file: file, keyPath: path, message: "not valid YAML: \(problem)", line: mark.line)
            default:
                throw SettingsError(file: file, keyPath: path, message: "not valid YAML: \(error)")
            }
        } catch {
            throw SettingsError(file: file, keyPath: path, message: "not valid YAML: \(error)")
        }
        guard let root else { throw SettingsError(file: file, keyPath: path, message: "the file is empty") }
        return try convert(root, file: file, path: path)
    }

    /// Reads and parses a file; `display` names it in errors.
    public static func load(path: String, display: String? = nil) throws -> SettingsNode {
        let name = display ?? path
        guard FileManager.default.fileExists(atPath: path) else {
            throw SettingsError(file: name, keyPath: "", message: "no such file")
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw SettingsError(file: name, keyPath: "", message: "cannot read the file (\(error.localizedDescription))")
        }
        return try parse(yaml: text, file: name)
    }

    static func convert(_ node: Node, file: String, path: String) throws -> SettingsNode {
        let line = node.mark.map { $0.line }
        switch node {
        case .scalar(let s):
            let v: SettingsValue
            if node.null != nil {
                v = .null
            } else if let b = node.bool {
                v = .bool(b)
            } else if let i = node.int {
                v = .int(i)
            } else if let d = node.float {
                guard d.isFinite else {
                    throw SettingsError(file: file, keyPath: path, message: "expected a finite number, got '\(s.string)'", line: line)
                }
                v = .double(d)
            } else {
                v = .string(s.string)
            }
            return SettingsNode(v, file: file, path: path, line: line)
        case .sequence(let seq):
            var items: [SettingsNode] = []
            for (i, n) in seq.enumerated() { items.append(try convert(n, file: file, path: "\(path)[\(i)]")) }
            return SettingsNode(.list(items), file: file, path: path, line: line)
        case .mapping(let m):
            var entries: [(key: String, node: SettingsNode)] = []
            for (k, v) in m {
                guard case .scalar(let ks) = k else {
                    throw SettingsError(file: file, keyPath: path, message: "keys must be plain strings", line: k.mark?.line)
                }
                if entries.contains(where: { $0.key == ks.string }) {
                    throw SettingsError(file: file, keyPath: join(path, ks.string), message: "duplicate key", line: k.mark?.line)
                }
                entries.append((ks.string, try convert(v, file: file, path: join(path, ks.string))))
            }
            return SettingsNode(.map(entries), file: file, path: path, line: line)
        case .alias:
            throw SettingsError(file: file, keyPath: path, message: "YAML aliases are not supported here", line: line)
        }
    }
}

/// A strict reader of one mapping: keys are taken one by one; ``finish()`` rejects the rest.
public struct SettingsMap {
    public let node: SettingsNode
    public let entries: [(key: String, node: SettingsNode)]
    private var used = Set<String>()

    /// `what` describes the expected mapping for the error when `node` is not one.
    public init(_ node: SettingsNode, _ what: String) throws {
        guard case .map(let m) = node.value else {
            throw node.error("expected \(what), got \(node.typeDescription)")
        }
        self.node = node
        entries = m
    }

    public var keys: [String] { entries.map(\.key) }
    public func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    public mutating func optional(_ key: String) -> SettingsNode? {
        guard let e = entries.first(where: { $0.key == key }) else { return nil }
        used.insert(key)
        if case .null = e.node.value { return nil }
        return e.node
    }

    public mutating func required(_ key: String, _ what: String) throws -> SettingsNode {
        guard let n = optional(key) else {
            throw SettingsError(file: node.file, keyPath: SettingsNode.join(node.path, key), message: "missing: expected \(what)", line: node.line)
        }
        return n
    }

    /// Rejects keys not read; the message lists the known ones.
    public func finish(known: [String]) throws {
        for e in entries where !used.contains(e.key) {
            throw e.node.error("unknown key '\(e.key)'; expected one of: \(known.joined(separator: ", "))")
        }
    }

    // Typed access.

    public mutating func string(_ key: String, _ what: String) throws -> String { try Self.string(try required(key, what), what) }
    public mutating func optionalString(_ key: String, _ what: String) throws -> String? {
        try optional(key).map { try Self.string($0, what) }
    }
    public mutating func int(_ key: String, _ what: String, _ range: ClosedRange<Int>) throws -> Int {
        try Self.int(try required(key, what), what, range)
    }
    public mutating func optionalInt(_ key: String, _ what: String, _ range: ClosedRange<Int>) throws -> Int? {
        try optional(key).map { try Self.int($0, what, range) }
    }
    public mutating func double(_ key: String, _ what: String, _ range: ClosedRange<Double>) throws -> Double {
        try Self.double(try required(key, what), what, range)
    }
    public mutating func optionalDouble(_ key: String, _ what: String, _ range: ClosedRange<Double>) throws -> Double? {
        try optional(key).map { try Self.double($0, what, range) }
    }
    public mutating func optionalBool(_ key: String, _ what: String) throws -> Bool? {
        try optional(key).map { try Self.bool($0, what) }
    }

    public static func string(_ n: SettingsNode, _ what: String) throws -> String {
        guard case .string(let s) = n.value, !s.isEmpty else { throw n.error("expected \(what), got \(n.typeDescription)") }
        return s
    }
    public static func int(_ n: SettingsNode, _ what: String, _ range: ClosedRange<Int>) throws -> Int {
        let v: Int
        switch n.value {
        case .int(let i): v = i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: v = Int(d)
        default: throw n.error("expected \(what) (a whole number in \(range.lowerBound)...\(range.upperBound)), got \(n.typeDescription)")
        }
        guard range.contains(v) else {
            throw n.error("expected \(what) in \(range.lowerBound)...\(range.upperBound), got \(v)")
        }
        return v
    }
    public static func double(_ n: SettingsNode, _ what: String, _ range: ClosedRange<Double>) throws -> Double {
        let v: Double
        switch n.value {
        case .int(let i): v = Double(i)
        case .double(let d): v = d
        default: throw n.error("expected \(what) (a number), got \(n.typeDescription)")
        }
        guard range.contains(v) else {
            throw n.error("expected \(what) in \(format(range.lowerBound))...\(format(range.upperBound)), got \(format(v))")
        }
        return v
    }
    public static func bool(_ n: SettingsNode, _ what: String) throws -> Bool {
        guard case .bool(let b) = n.value else { throw n.error("expected \(what) (true or false), got \(n.typeDescription)") }
        return b
    }
    public static func list(_ n: SettingsNode, _ what: String) throws -> [SettingsNode] {
        guard case .list(let l) = n.value else { throw n.error("expected \(what) (a list), got \(n.typeDescription)") }
        return l
    }

    static func format(_ d: Double) -> String {
        if d == .infinity { return "∞" }
        if d.rounded() == d && abs(d) < 1e15 { return String(Int(d)) }
        return String(d)
    }
}
