// Raw rows out of a results database, as CSV (RFC 4180) or JSON, in key order. Numbers are
// written in Swift's shortest round-trip form, so the same database content gives the same bytes.

import Foundation
import GRDB

public enum ExportTable: String, Sendable, CaseIterable {
    case runs, metrics, requests, experiments
}

public enum ExportFormat: String, Sendable, CaseIterable {
    case csv, json
}

public enum ResultsExport {
    /// The columns of each table as exported. `metrics` carries its run's experiment, policy,
    /// params and seed so that the file stands on its own.
    public static func columns(_ table: ExportTable, includeWall: Bool) -> [String] {
        switch table {
        case .runs:
            return ["id", "experiment", "kind", "policy", "params", "seed", "ordinal", "config_hash", "code_version",
                    "status", "error", "config"] + (includeWall ? ["wall_seconds"] : [])
        case .metrics:
            return ["run", "experiment", "policy", "params", "seed", "tenant", "name", "value"]
        case .requests:
            return ["run", "tenant", "request", "arrival_ns", "start_ns", "first_token_ns", "finish_ns",
                    "input_tokens", "output_tokens", "attributes"]
        case .experiments:
            return ["name", "file_hash", "kind", "description", "config_path", "config_text"]
        }
    }

    static func query(_ table: ExportTable, includeWall: Bool, experiment: String?) -> (String, StatementArguments) {
        let cols = columns(table, includeWall: includeWall)
        let filter = experiment == nil ? "" : " WHERE experiment = ?"
        let args: StatementArguments = experiment.map { [$0] } ?? []
        switch table {
        case .runs:
            return ("SELECT \(cols.joined(separator: ", ")) FROM runs\(filter) ORDER BY experiment, ordinal, id", args)
        case .metrics:
            let f = experiment == nil ? "" : " WHERE r.experiment = ?"
            return ("""
                SELECT m.run, r.experiment, r.policy, r.params, r.seed, m.tenant, m.name, m.value
                FROM metrics m JOIN runs r ON r.id = m.run\(f) ORDER BY r.experiment, r.ordinal, m.run, m.tenant, m.name
                """, args)
        case .requests:
            let f = experiment == nil ? "" : " WHERE r.experiment = ?"
            return ("""
                SELECT q.run, q.tenant, q.request, q.arrival_ns, q.start_ns, q.first_token_ns, q.finish_ns,
                       q.input_tokens, q.output_tokens, q.attributes
                FROM requests q JOIN runs r ON r.id = q.run\(f) ORDER BY r.experiment, r.ordinal, q.run, q.tenant, q.request
                """, args)
        case .experiments:
            let f = experiment == nil ? "" : " WHERE name = ?"
            return ("SELECT \(cols.joined(separator: ", ")) FROM experiments\(f) ORDER BY name, file_hash", args)
        }
    }

    /// Streams the table to `sink` (one line per call, with its newline). `includeWall: false`
    /// leaves out wall-clock columns, so that exports of the same sweep compare byte for byte.
    public static func write(_ store: ResultsStore, table: ExportTable, format: ExportFormat, includeWall: Bool,
                             experiment: String? = nil, to sink: (String) throws -> Void) throws {
        let cols = columns(table, includeWall: includeWall)
        let (sql, args) = query(table, includeWall: includeWall, experiment: experiment)
        try store.read { db in
            let cursor = try Row.fetchCursor(db, sql: sql, arguments: args)
            switch format {
            case .csv:
                try sink(cols.map(csvField).joined(separator: ",") + "\n")
                while let row = try cursor.next() {
                    var fields: [String] = []
                    fields.reserveCapacity(cols.count)
                    for i in 0..<cols.count { fields.append(csvField(text(row[i] as DatabaseValue))) }
                    try sink(fields.joined(separator: ",") + "\n")
                }
            case .json:
                try sink("[\n")
                var first = true
                while let row = try cursor.next() {
                    var obj: [String: CanonicalJSON] = [:]
                    for (i, c) in cols.enumerated() { obj[c] = json(row[i] as DatabaseValue) }
                    try sink((first ? "" : ",\n") + CanonicalJSON.object(obj).text)
                    first = false
                }
                try sink(first ? "]\n" : "\n]\n")
            }
        }
    }

    /// A whole table as one string (small databases, tests).
    public static func string(_ store: ResultsStore, table: ExportTable, format: ExportFormat, includeWall: Bool,
                              experiment: String? = nil) throws -> String {
        var out = ""
        try write(store, table: table, format: format, includeWall: includeWall, experiment: experiment) { out += $0 }
        return out
    }

    static func text(_ v: DatabaseValue) -> String {
        switch v.storage {
        case .null: return ""
        case .int64(let i): return String(i)
        case .double(let d): return d.description
        case .string(let s): return s
        case .blob(let b): return b.base64EncodedString()
        }
    }

    static func json(_ v: DatabaseValue) -> CanonicalJSON {
        switch v.storage {
        case .null: return .null
        case .int64(let i): return .int(i)
        case .double(let d): return .double(d) ?? .null
        case .string(let s): return .string(s)
        case .blob(let b): return .string(b.base64EncodedString())
        }
    }

    /// RFC 4180: quote fields holding a comma, quote, CR or LF; double the quotes.
    public static func csvField(_ s: String) -> String {
        if s.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }
}
