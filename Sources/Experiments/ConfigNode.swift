// A YAML document as a tree of values that remember where they came from (key path and line),
// so that every error can name the key path and what was expected. Built from Yams' composed
// nodes; mappings keep their order; duplicate keys, aliases and non-string keys are rejected.

import Foundation
import Results
import Yams

/// A config that does not validate: the file, the key path inside it, what was wrong, and the
/// line when known. Reads `quick.yaml: grid.cartesian.hardware.gpu[2]: unknown GPU 'X'; ... (line 14)`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
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
        if !keyPath.isEmpty { s += ": " + keyPath }
        s += ": " + message
        if let line { s += " (line \(line))" }
        return s
    }

    public var errorDescription: String? { description }
}

/// One key and its value in a mapping.
public struct ConfigEntry: Sendable, Equatable {
    public var key: String
    public var node: ConfigNode
    public init(key: String, node: ConfigNode) { self.key = key; self.node = node }
}

public indirect enum ConfigValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ConfigNode])
    case map([ConfigEntry])
}

/// A value with its origin: the key path where it was written (for a grid value, the grid entry)
/// and its line.
public struct ConfigNode: Sendable, Equatable {
    public var value: ConfigValue
    public var path: String
    public var line: Int?

    public init(_ value: ConfigValue, path: String, line: Int? = nil) {
        self.value = value
        self.path = path
        self.line = line
    }

    /// What kind of value this is, for "expected X, got Y" messages.
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

    /// The value as canonical JSON (params columns, resolved configs).
    public var json: CanonicalJSON {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d) ?? .string(d.description)
        case .string(let s): return .string(s)
        case .list(let l): return .array(l.map(\.json))
        case .map(let m):
            var o: [String: CanonicalJSON] = [:]
            for e in m { o[e.key] = e.node.json }
            return .object(o)
        }
    }

    public var mapEntries: [ConfigEntry]? { if case .map(let m) = value { return m }; return nil }
    public var listItems: [ConfigNode]? { if case .list(let l) = value { return l }; return nil }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }
}

// MARK: - From YAML

extension ConfigNode {
    /// Parses YAML text into a tree. `file` names the file in errors.
    public static func parse(yaml text: String, file: String) throws -> ConfigNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .duplicatedKeysInMapping(let duplicates, let context):
                let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
                throw ConfigError(file: file, keyPath: "", message: "duplicate key \(keys) in a mapping", line: context.mark.line)
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                 .composer(_, let problem, let mark, _):
                throw ConfigError(file: file, keyPath: "", message: "not valid YAML: \(problem)", line: mark.line)
            default:
                throw ConfigError(file: file, keyPath: "", message: "not valid YAML: \(error)")
            }
        } catch {
            throw ConfigError(file: file, keyPath: "", message: "not valid YAML: \(error)")
        }
        guard let root else {
            throw ConfigError(file: file, keyPath: "", message: "the file is empty; expected an experiment (a mapping with format, name, kind, policies, seeds, ...)")
        }
        return try convert(root, path: "", file: file)
    }

    static func convert(_ node: Node, path: String, file: String) throws -> ConfigNode {
        let line = node.mark?.line
        switch node {
        case .scalar(let s):
            switch node.tag.description {
            case Tag.Name.null.rawValue: return ConfigNode(.null, path: path, line: line)
            case Tag.Name.bool.rawValue:
                if let b = node.bool { return ConfigNode(.bool(b), path: path, line: line) }
            case Tag.Name.int.rawValue:
                if let i = node.int { return ConfigNode(.int(i), path: path, line: line) }
                throw ConfigError(file: file, keyPath: path, message: "the number '\(s.string)' does not fit in 64 bits", line: line)
            case Tag.Name.float.rawValue:
                if let d = node.float { return ConfigNode(.double(d), path: path, line: line) }
            default: break
            }
            return ConfigNode(.string(s.string), path: path, line: line)
        case .sequence(let seq):
            var items: [ConfigNode] = []
            for (i, n) in seq.enumerated() { items.append(try convert(n, path: "\(path)[\(i)]", file: file)) }
            return ConfigNode(.list(items), path: path, line: line)
        case .mapping(let m):
            var entries: [ConfigEntry] = []
            var seen = Set<String>()
            for (k, v) in m {
                guard case .scalar(let ks) = k else {
                    throw ConfigError(file: file, keyPath: path, message: "keys must be plain strings", line: k.mark?.line)
                }
                let key = ks.string
                guard seen.insert(key).inserted else {
                    throw ConfigError(file: file, keyPath: join(path, key), message: "duplicate key", line: k.mark?.line)
                }
                entries.append(ConfigEntry(key: key, node: try convert(v, path: join(path, key), file: file)))
            }
            return ConfigNode(.map(entries), path: path, line: line)
        case .alias:
            throw ConfigError(file: file, keyPath: path, message: "YAML aliases are not supported; write the value out", line: line)
        }
    }
}

// MARK: - Strict reading

/// Reads one mapping strictly: each key once, unknown keys rejected by `finish()` with the
/// list of known ones. Typed accessors say what was expected.
public final class ConfigMap {
    public let file: String
    public let node: ConfigNode
    public let entries: [ConfigEntry]
    private var used = Set<String>()
    /// Keys this reader accepts (for "unknown key" messages); filled by the accessors and `allow`.
    private var known: [String] = []

    /// - Parameter what: the mapping's role, for the "expected a mapping" message.
    public init(_ node: ConfigNode, file: String, what: String = "a mapping") throws {
        self.file = file
        self.node = node
        guard let m = node.mapEntries else {
            throw ConfigError(file: file, keyPath: node.path, message: "expected \(what), got \(node.typeDescription)", line: node.line)
        }
        entries = m
    }

    public var path: String { node.path }

    public func error(_ path: String, _ message: String, line: Int?) -> ConfigError {
        ConfigError(file: file, keyPath: path, message: message, line: line)
    }

    public func error(at node: ConfigNode, _ message: String) -> ConfigError {
        ConfigError(file: file, keyPath: node.path, message: message, line: node.line)
    }

    /// Declares keys as known without reading them.
    public func allow(_ keys: String...) { known.append(contentsOf: keys) }

    public func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    public func optional(_ key: String) -> ConfigNode? {
        if !known.contains(key) { known.append(key) }
        guard let e = entries.first(where: { $0.key == key }) else { return nil }
        used.insert(key)
        return e.node
    }

    public func required(_ key: String, _ what: String) throws -> ConfigNode {
        guard let v = optional(key) else {
            throw error(node.path, "missing required key '\(key)' (\(what))", line: node.line)
        }
        return v
    }

    /// Rejects keys that were not read.
    public func finish() throws {
        for e in entries where !used.contains(e.key) { throw unknown(e) }
    }

    /// Rejects at once any key not in `keys` (call first, so that a misspelt key is reported as
    /// such rather than as the required key it was meant to be).
    public func expectKeys(_ keys: [String]) throws {
        for k in keys where !known.contains(k) { known.append(k) }
        for e in entries where !keys.contains(e.key) { throw unknown(e) }
    }

    private func unknown(_ e: ConfigEntry) -> ConfigError {
        var m = "unknown key '\(e.key)'"
        if let near = known.min(by: { Self.distance($0, e.key) < Self.distance($1, e.key) }), Self.distance(near, e.key) <= 2 {
            m += "; did you mean '\(near)'?"
        }
        if !known.isEmpty { m += " (known keys: \(known.joined(separator: ", ")))" }
        return ConfigError(file: file, keyPath: e.node.path, message: m, line: e.node.line)
    }

    /// Levenshtein distance (short keys only).
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var row = Array(0...y.count)
        for i in 1...x.count {
            var prev = row[0]
            row[0] = i
            for j in 1...y.count {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (x[i - 1] == y[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[y.count]
    }

    // MARK: typed values

    public func string(_ n: ConfigNode, _ what: String = "a string") throws -> String {
        guard case .string(let s) = n.value else { throw error(at: n, "expected \(what), got \(n.typeDescription)") }
        let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else { throw error(at: n, "expected \(what), got an empty string") }
        return t
    }

    public func int(_ n: ConfigNode, _ what: String = "a whole number", range: ClosedRange<Int>? = nil) throws -> Int {
        var v: Int
        switch n.value {
        case .int(let i): v = i
        case .double(let d) where d == d.rounded() && abs(d) < 9e18: v = Int(d)
        default: throw error(at: n, "expected \(what), got \(n.typeDescription)")
        }
        if let range, !range.contains(v) {
            throw error(at: n, "expected \(what) in \(range.lowerBound)...\(range.upperBound), got \(v)")
        }
        return v
    }

    public func double(_ n: ConfigNode, _ what: String = "a number", min: Double? = nil, max: Double? = nil) throws -> Double {
        let d: Double
        switch n.value {
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        default: throw error(at: n, "expected \(what), got \(n.typeDescription)")
        }
        guard d.isFinite else { throw error(at: n, "expected \(what), got \(d)") }
        if let min, d < min { throw error(at: n, "expected \(what) >= \(min), got \(d)") }
        if let max, d > max { throw error(at: n, "expected \(what) <= \(max), got \(d)") }
        return d
    }

    public func bool(_ n: ConfigNode, _ what: String = "true or false") throws -> Bool {
        guard case .bool(let b) = n.value else { throw error(at: n, "expected \(what), got \(n.typeDescription)") }
        return b
    }

    public func list(_ n: ConfigNode, _ what: String, allowEmpty: Bool = false) throws -> [ConfigNode] {
        guard case .list(let l) = n.value else { throw error(at: n, "expected \(what) (a list), got \(n.typeDescription)") }
        if l.isEmpty && !allowEmpty { throw error(at: n, "expected \(what), got an empty list") }
        return l
    }
}
