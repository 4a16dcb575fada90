// Strict reading of the MoE data and config files (YAML): every mapping holds exactly its known
// keys, numbers are plain, and every error names the file, the key path and the line.

import Foundation
import Yams

/// A config or data file that does not load: which file, where in it, what was expected.
public struct MoEConfigError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    public let file: String
    /// Key path inside the file, e.g. "policy_params.store_capacity"; empty for the whole file.
    public let keyPath: String
    public let message: String
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

/// Parses YAML text into a node, turning Yams' errors into `MoEConfigError`s.
func composeYAML(_ text: String, file: String) throws -> Node {
    let root: Node?
    do {
        root = try Yams.compose(yaml: text)
    } catch let error as YamlError {
        switch error {
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw MoEConfigError(file: file, keyPath: "", message: "duplicate key \(keys) in a mapping",
                                 line: context.mark.line)
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            throw MoEConfigError(file: file, keyPath: "", message: "not valid YAML: \(problem)", line: mark.line)
        default:
            throw MoEConfigError(file: file, keyPath: "", message: "not valid YAML: \(error)")
        }
    } catch {
        throw MoEConfigError(file: file, keyPath: "", message: "not valid YAML: \(error)")
    }
    guard let root else { throw MoEConfigError(file: file, keyPath: "", message: "the file is empty") }
    return root
}

/// Reads a file as UTF-8 text; errors name the file.
func readTextFile(_ path: String) throws -> String {
    do {
        return try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw MoEConfigError(file: path, keyPath: "", message: "cannot read the file: \(error.localizedDescription)")
    }
}

/// A strict view of one YAML mapping: keys are read once; `finish()` rejects unread keys.
final class YAMLMap {
    let file: String
    let path: String
    let node: Node
    private var entries: [(key: String, value: Node)] = []
    private var used: [Bool] = []

    init(_ node: Node, path: String, file: String) throws {
        self.file = file
        self.path = path
        self.node = node
        guard case .mapping(let mapping) = node else {
            throw MoEConfigError(file: file, keyPath: path, message: "expected a mapping of keys to values, got \(yamlDescribe(node))",
                                 line: node.mark?.line)
        }
        for (k, v) in mapping {
            guard case .scalar(let s) = k else {
                throw MoEConfigError(file: file, keyPath: path, message: "keys must be plain strings", line: k.mark?.line)
            }
            if entries.contains(where: { $0.key == s.string }) {
                throw MoEConfigError(file: file, keyPath: yamlJoin(path, s.string), message: "duplicate key", line: k.mark?.line)
            }
            entries.append((s.string, v))
            used.append(false)
        }
    }

    func error(_ key: String?, _ message: String, _ node: Node? = nil) -> MoEConfigError {
        MoEConfigError(file: file, keyPath: key.map { yamlJoin(path, $0) } ?? path, message: message,
                       line: (node ?? self.node).mark?.line)
    }

    func childPath(_ key: String) -> String { yamlJoin(path, key) }

    var keys: [String] { entries.map(\.key) }

    func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    func optionalValue(_ key: String) -> Node? {
        guard let i = entries.firstIndex(where: { $0.key == key }) else { return nil }
        used[i] = true
        if yamlIsNull(entries[i].value) { return nil }
        return entries[i].value
    }

    func value(_ key: String) throws -> Node {
        guard let i = entries.firstIndex(where: { $0.key == key }) else {
            throw error(nil, "missing required key '\(key)'")
        }
        used[i] = true
        return entries[i].value
    }

    /// Rejects keys that were never read, listing the known ones.
    func finish(known: [String] = []) throws {
        for (i, e) in entries.enumerated() where !used[i] {
            let hint = known.isEmpty ? "" : " (expected one of: \(known.joined(separator: ", ")))"
            throw MoEConfigError(file: file, keyPath: childPath(e.key), message: "unknown key\(hint)", line: e.value.mark?.line)
        }
    }

    // MARK: typed values

    func string(_ key: String) throws -> String { try yamlString(try value(key), file: file, path: childPath(key)) }
    func optionalString(_ key: String) throws -> String? {
        guard let v = optionalValue(key) else { return nil }
        return try yamlString(v, file: file, path: childPath(key))
    }

    func int(_ key: String, min: Int = 1, max: Int = Int.max) throws -> Int {
        try yamlInt(try value(key), file: file, path: childPath(key), min: min, max: max)
    }
    func optionalInt(_ key: String, min: Int = 1, max: Int = Int.max) throws -> Int? {
        guard let v = optionalValue(key) else { return nil }
        return try yamlInt(v, file: file, path: childPath(key), min: min, max: max)
    }

    func double(_ key: String, min: Double = -Double.greatestFiniteMagnitude, max: Double = Double.greatestFiniteMagnitude,
                minExclusive: Bool = false) throws -> Double {
        try yamlDouble(try value(key), file: file, path: childPath(key), min: min, max: max, minExclusive: minExclusive)
    }
    func optionalDouble(_ key: String, min: Double = -Double.greatestFiniteMagnitude, max: Double = Double.greatestFiniteMagnitude,
                        minExclusive: Bool = false) throws -> Double? {
        guard let v = optionalValue(key) else { return nil }
        return try yamlDouble(v, file: file, path: childPath(key), min: min, max: max, minExclusive: minExclusive)
    }

    func bool(_ key: String) throws -> Bool { try yamlBool(try value(key), file: file, path: childPath(key)) }
    func optionalBool(_ key: String) throws -> Bool? {
        guard let v = optionalValue(key) else { return nil }
        return try yamlBool(v, file: file, path: childPath(key))
    }

    func map(_ key: String) throws -> YAMLMap { try YAMLMap(try value(key), path: childPath(key), file: file) }
    func optionalMap(_ key: String) throws -> YAMLMap? {
        guard let v = optionalValue(key) else { return nil }
        return try YAMLMap(v, path: childPath(key), file: file)
    }

    func list(_ key: String) throws -> [Node] { try yamlList(try value(key), file: file, path: childPath(key)) }
    func optionalList(_ key: String) throws -> [Node]? {
        guard let v = optionalValue(key) else { return nil }
        return try yamlList(v, file: file, path: childPath(key))
    }

    func stringList(_ key: String) throws -> [String] {
        try list(key).enumerated().map { try yamlString($0.element, file: file, path: "\(childPath(key))[\($0.offset)]") }
    }
    func doubleList(_ key: String, min: Double = -Double.greatestFiniteMagnitude, minExclusive: Bool = false) throws -> [Double] {
        try list(key).enumerated().map {
            try yamlDouble($0.element, file: file, path: "\(childPath(key))[\($0.offset)]", min: min, max: .greatestFiniteMagnitude,
                           minExclusive: minExclusive)
        }
    }
}

func yamlJoin(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

func yamlIsNull(_ node: Node) -> Bool {
    guard case .scalar(let s) = node, s.style == .plain else { return false }
    return ["null", "Null", "NULL", "~", ""].contains(s.string)
}

func yamlDescribe(_ node: Node) -> String {
    switch node {
    case .scalar(let s): return yamlIsNull(node) ? "null" : "'\(s.string)'"
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
}

/// A plain (unquoted) scalar read as a number; underscores are allowed as digit separators.
func yamlNumber(_ node: Node) -> Double? {
    guard case .scalar(let s) = node, s.style == .plain else { return nil }
    let t = s.string.replacingOccurrences(of: "_", with: "")
    guard let first = t.first, first.isNumber || first == "-" || first == "+" || first == "." else { return nil }
    guard let d = Double(t), d.isFinite else { return nil }
    return d
}

func yamlString(_ v: Node, file: String, path: String) throws -> String {
    guard case .scalar(let s) = v, !yamlIsNull(v) else {
        throw MoEConfigError(file: file, keyPath: path, message: "expected a string, got \(yamlDescribe(v))", line: v.mark?.line)
    }
    let t = s.string.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !t.isEmpty else { throw MoEConfigError(file: file, keyPath: path, message: "must not be empty", line: v.mark?.line) }
    return t
}

func yamlInt(_ v: Node, file: String, path: String, min: Int, max: Int) throws -> Int {
    guard let d = yamlNumber(v) else {
        throw MoEConfigError(file: file, keyPath: path, message: "expected a whole number, got \(yamlDescribe(v))", line: v.mark?.line)
    }
    guard d == d.rounded(), abs(d) < 9.0e18 else {
        throw MoEConfigError(file: file, keyPath: path, message: "expected a whole number, got \(d)", line: v.mark?.line)
    }
    let i = Int(d)
    guard i >= min && i <= max else {
        let range = max == Int.max ? "≥ \(min)" : "in \(min)...\(max)"
        throw MoEConfigError(file: file, keyPath: path, message: "expected a whole number \(range), got \(i)", line: v.mark?.line)
    }
    return i
}

func yamlDouble(_ v: Node, file: String, path: String, min: Double, max: Double, minExclusive: Bool) throws -> Double {
    guard let d = yamlNumber(v) else {
        throw MoEConfigError(file: file, keyPath: path, message: "expected a number, got \(yamlDescribe(v))", line: v.mark?.line)
    }
    let okLow = minExclusive ? d > min : d >= min
    guard okLow && d <= max else {
        var parts: [String] = []
        if min > -Double.greatestFiniteMagnitude { parts.append(minExclusive ? "> \(min)" : "≥ \(min)") }
        if max < Double.greatestFiniteMagnitude { parts.append("≤ \(max)") }
        throw MoEConfigError(file: file, keyPath: path, message: "expected a number \(parts.joined(separator: " and ")), got \(d)",
                             line: v.mark?.line)
    }
    return d
}

func yamlBool(_ v: Node, file: String, path: String) throws -> Bool {
    if case .scalar(let s) = v, s.style == .plain {
        switch s.string { case "true", "True", "TRUE": return true; case "false", "False", "FALSE": return false; default: break }
    }
    throw MoEConfigError(file: file, keyPath: path, message: "expected true or false, got \(yamlDescribe(v))", line: v.mark?.line)
}

func yamlList(_ v: Node, file: String, path: String) throws -> [Node] {
    guard case .sequence(let seq) = v else {
        throw MoEConfigError(file: file, keyPath: path, message: "expected a list, got \(yamlDescribe(v))", line: v.mark?.line)
    }
    return Array(seq)
}

/// Finds the data root: `$GPUSIM_DATA` when set, else the first `Traces` folder holding `moe/`
/// in the current directory or one of its parents.
public enum MoEData {
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment,
                                   currentDirectory: String = FileManager.default.currentDirectoryPath) throws -> URL {
        let fm = FileManager.default
        func isDir(_ url: URL) -> Bool {
            var d: ObjCBool = false
            return fm.fileExists(atPath: url.path, isDirectory: &d) && d.boolValue
        }
        if let root = environment["GPUSIM_DATA"], !root.isEmpty {
            let url = URL(fileURLWithPath: root, isDirectory: true)
            guard isDir(url.appendingPathComponent("moe")) else {
                throw MoEConfigError(file: url.appendingPathComponent("moe").path, keyPath: "",
                                     message: "MoE data folder not found (from GPUSIM_DATA=\(root))")
            }
            return url
        }
        var searched: [String] = []
        var dir = URL(fileURLWithPath: currentDirectory, isDirectory: true).standardizedFileURL
        while true {
            let candidate = dir.appendingPathComponent("Traces")
            searched.append(candidate.appendingPathComponent("moe").path)
            if isDir(candidate.appendingPathComponent("moe")) { return candidate }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        throw MoEConfigError(file: "Traces/moe", keyPath: "",
                             message: "MoE data not found: set GPUSIM_DATA to the folder holding moe/ and hardware/; looked in \(searched.joined(separator: ", "))")
    }
}
