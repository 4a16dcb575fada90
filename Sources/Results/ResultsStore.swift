// The SQLite results store (GRDB, WAL journal). One writer commits each finished run in its own
// transaction, so a sweep killed at any moment leaves only whole runs behind.
//
// Schema (version 1; `PRAGMA user_version` and the `meta` table carry it):
//
//   meta(key PRIMARY KEY, value)                       schema = gpusim-results, schema_version = 1
//   experiments(name, file_hash, kind, description, config_path, config_text; PK (name, file_hash))
//   runs(id PRIMARY KEY, experiment, kind, policy, params JSON, seed, ordinal, config JSON,
//        config_hash, code_version, wall_seconds, status 'ok'|'failed'|'infeasible', error)
//   metrics(run → runs.id, tenant, name, value; PK (run, tenant, name))
//   requests(run → runs.id, tenant, request, arrival_ns, start_ns, first_token_ns, finish_ns,
//            input_tokens, output_tokens, attributes JSON; PK (run, tenant, request))
//
// Rows are read back in key order (runs by experiment, ordinal, id; metrics by run, tenant,
// name; requests by run, tenant, request), never in insertion order, so databases written with
// any number of parallel jobs read back the same.

import Foundation
import GRDB

/// A results database that cannot be opened, read or written: which file and what went wrong.
public struct ResultsError: Error, Sendable, CustomStringConvertible, LocalizedError, Equatable {
    public var file: String
    public var message: String
    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { "\(file): \(message)" }
    public var errorDescription: String? { description }
}

public final class ResultsStore: @unchecked Sendable {
    public static let schemaName = "gpusim-results"
    public static let schemaVersion = 1

    public enum OpenMode: Sendable {
        /// Open an existing database read-only.
        case readOnly
        /// Open an existing database for writing.
        case readWrite
        /// Open the database, creating it (and its schema) when the file does not exist.
        case create
    }

    public let path: String
    let queue: DatabaseQueue

    public init(path: String, mode: OpenMode) throws {
        self.path = path
        let fm = FileManager.default
        var isDir: ObjCBool = false
        let exists = fm.fileExists(atPath: path, isDirectory: &isDir)
        if exists && isDir.boolValue {
            throw ResultsError(file: path, message: "is a directory, expected a results database (.sqlite)")
        }
        if !exists && mode != .create {
            throw ResultsError(file: path, message: "no such file (expected a results database written by gpusim sweep/run/merge)")
        }
        if !exists {
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty && !fm.fileExists(atPath: dir) {
                do {
                    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                } catch {
                    throw ResultsError(file: path, message: "cannot create the directory \(dir): \(error.localizedDescription)")
                }
            }
        }
        var config = Configuration()
        // A database left with a WAL by a killed writer needs write access once, to recover the
        // WAL; a read-only open would fail. Readers then open it read-write (and write nothing).
        let hotWAL = mode == .readOnly && fm.fileExists(atPath: path + "-wal") && fm.isWritableFile(atPath: path)
        config.readonly = (mode == .readOnly) && !hotWAL
        config.busyMode = .timeout(30)
        config.foreignKeysEnabled = true
        if mode != .readOnly { config.journalMode = .wal }
        let readOnly = config.readonly
        config.prepareDatabase { db in
            if !db.configuration.readonly {
                // In WAL mode, NORMAL keeps every committed transaction across a crash or kill -9
                // of the process (not across a power loss of the machine).
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
        } catch {
            throw ResultsError(file: path, message: "cannot open: \(Self.describe(error))")
        }
        do {
            try checkOrCreateSchema(create: mode == .create && !readOnly)
        } catch let e as ResultsError {
            try? queue.close()
            throw e
        } catch {
            try? queue.close()
            throw ResultsError(file: path, message: "not a results database: \(Self.describe(error))")
        }
    }

    /// Closes the connection (checkpointing the WAL into the main file).
    public func close() throws {
        do { try queue.close() } catch { throw ResultsError(file: path, message: "cannot close: \(Self.describe(error))") }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? DatabaseError {
            return e.message ?? "\(e.resultCode)"
        }
        return "\(error)"
    }

    private func wrap<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ResultsError { throw e } catch {
            throw ResultsError(file: path, message: "\(what): \(Self.describe(error))")
        }
    }

    // MARK: schema

    static let schemaSQL = """
    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE experiments (
        name TEXT NOT NULL, file_hash TEXT NOT NULL, kind TEXT NOT NULL, description TEXT NOT NULL,
        config_path TEXT NOT NULL, config_text TEXT NOT NULL,
        PRIMARY KEY (name, file_hash)) WITHOUT ROWID;
    CREATE TABLE runs (
        id TEXT PRIMARY KEY NOT NULL,
        experiment TEXT NOT NULL, kind TEXT NOT NULL, policy TEXT NOT NULL, params TEXT NOT NULL,
        seed INTEGER NOT NULL, ordinal INTEGER NOT NULL, config TEXT NOT NULL, config_hash TEXT NOT NULL,
        code_version TEXT NOT NULL, wall_seconds REAL NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'infeasible')), error TEXT) WITHOUT ROWID;
    CREATE INDEX runs_by_experiment ON runs (experiment, ordinal);
    CREATE TABLE metrics (
        run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        tenant TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
        PRIMARY KEY (run, tenant, name)) WITHOUT ROWID;
    CREATE TABLE requests (
        run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        tenant TEXT NOT NULL, request INTEGER NOT NULL,
        arrival_ns INTEGER, start_ns INTEGER, first_token_ns INTEGER, finish_ns INTEGER,
        input_tokens INTEGER, output_tokens INTEGER, attributes TEXT,
        PRIMARY KEY (run, tenant, request)) WITHOUT ROWID;
    """

    private func checkOrCreateSchema(create: Bool) throws {
        let (version, tables) = try queue.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0,
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
        }
        if version == 0 && tables.isEmpty {
            guard create else {
                throw ResultsError(file: path, message: "empty database: no gpusim results schema")
            }
            try queue.write { db in
                try db.execute(sql: Self.schemaSQL)
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('schema', ?), ('schema_version', ?)",
                               arguments: [Self.schemaName, String(Self.schemaVersion)])
                try db.execute(sql: "PRAGMA user_version = \(Self.schemaVersion)")
            }
            return
        }
        guard tables.contains("meta"),
              let name = try queue.read({ try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'schema'") }),
              name == Self.schemaName else {
            throw ResultsError(file: path, message: "not a gpusim results database (no meta.schema = '\(Self.schemaName)')")
        }
        guard version == Self.schemaVersion else {
            throw ResultsError(file: path, message: "results schema version \(version); this gpusim reads version \(Self.schemaVersion)"
                               + (version > Self.schemaVersion ? " (written by a newer gpusim)" : ""))
        }
    }

    // MARK: writing

    /// Records the experiment config (ignored when the same name and file hash are present).
    public func record(_ e: ExperimentRecord) throws {
        try wrap("cannot record the experiment") {
            try queue.write { db in
                try db.execute(sql: """
                    INSERT OR IGNORE INTO experiments (name, file_hash, kind, description, config_path, config_text)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [e.name, e.fileHash, e.kind, e.description, e.configPath, e.configText])
            }
        }
    }

    /// Commits one finished run with its metrics and requests in a single transaction. With
    /// `replacing`, a stored run with the same id (a failed one being retried) is deleted first,
    /// in the same transaction.
    public func commit(_ f: FinishedRun, replacing: Bool = false) throws {
        try wrap("cannot commit run \(f.run.id)") {
            try queue.write { db in try Self.insert(f, into: db, replacing: replacing) }
        }
    }

    static func insert(_ f: FinishedRun, into db: Database, replacing: Bool) throws {
        let r = f.run
        if replacing {
            try db.execute(sql: "DELETE FROM runs WHERE id = ?", arguments: [r.id])
        }
        try db.execute(sql: """
            INSERT INTO runs (id, experiment, kind, policy, params, seed, ordinal, config, config_hash,
                              code_version, wall_seconds, status, error)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [r.id, r.experiment, r.kind, r.policy, r.params, r.seed, r.ordinal, r.config,
                             r.configHash, r.codeVersion, r.wallSeconds, r.status.rawValue, r.error])
        if !f.metrics.isEmpty {
            let st = try db.cachedStatement(sql: "INSERT INTO metrics (run, tenant, name, value) VALUES (?, ?, ?, ?)")
            for m in f.metrics {
                guard m.value.isFinite else {
                    throw ResultsError(file: "", message: "metric \(m.tenant)/\(m.name) of run \(r.id) is not finite (\(m.value))")
                }
                try st.execute(arguments: [r.id, m.tenant, m.name, m.value])
            }
        }
        if !f.requests.isEmpty {
            let st = try db.cachedStatement(sql: """
                INSERT INTO requests (run, tenant, request, arrival_ns, start_ns, first_token_ns, finish_ns,
                                      input_tokens, output_tokens, attributes)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for q in f.requests {
                try st.execute(arguments: [r.id, q.tenant, q.request, q.arrivalNs, q.startNs, q.firstTokenNs,
                                           q.finishNs, q.inputTokens, q.outputTokens, q.attributes])
            }
        }
    }

    // MARK: reading

    /// Status of every stored run of an experiment (all experiments when nil), by id.
    public func runStatuses(experiment: String? = nil) throws -> [String: RunStatus] {
        try wrap("cannot read runs") {
            try queue.read { db in
                let rows: [Row]
                if let experiment {
                    rows = try Row.fetchAll(db, sql: "SELECT id, status FROM runs WHERE experiment = ?", arguments: [experiment])
                } else {
                    rows = try Row.fetchAll(db, sql: "SELECT id, status FROM runs")
                }
                var out: [String: RunStatus] = [:]
                for row in rows {
                    let id: String = row["id"]
                    let s: String = row["status"]
                    out[id] = RunStatus(rawValue: s) ?? .failed
                }
                return out
            }
        }
    }

    static func runRecord(_ row: Row) -> RunRecord {
        RunRecord(id: row["id"], experiment: row["experiment"], kind: row["kind"], policy: row["policy"],
                  params: row["params"], seed: row["seed"], ordinal: row["ordinal"], config: row["config"],
                  configHash: row["config_hash"], codeVersion: row["code_version"], wallSeconds: row["wall_seconds"],
                  status: RunStatus(rawValue: row["status"]) ?? .failed, error: row["error"])
    }

    /// Runs, ordered by experiment, ordinal and id.
    public func runs(experiment: String? = nil) throws -> [RunRecord] {
        try wrap("cannot read runs") {
            try queue.read { db in
                let sql = "SELECT * FROM runs" + (experiment == nil ? "" : " WHERE experiment = ?")
                    + " ORDER BY experiment, ordinal, id"
                let args: StatementArguments = experiment.map { [$0] } ?? []
                return try Row.fetchAll(db, sql: sql, arguments: args).map(Self.runRecord)
            }
        }
    }

    /// One run by id, or nil.
    public func run(id: String) throws -> RunRecord? {
        try wrap("cannot read run \(id)") {
            try queue.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]).map(Self.runRecord)
            }
        }
    }

    /// Ids of runs starting with `prefix`, sorted.
    public func runIDs(withPrefix prefix: String) throws -> [String] {
        try wrap("cannot read runs") {
            try queue.read { db in
                try String.fetchAll(db, sql: "SELECT id FROM runs WHERE substr(id, 1, ?) = ? ORDER BY id",
                                    arguments: [prefix.count, prefix])
            }
        }
    }

    /// The metrics of one run, ordered by tenant and name.
    public func metrics(run: String) throws -> [MetricRow] {
        try wrap("cannot read metrics") {
            try queue.read { db in
                try Row.fetchAll(db, sql: "SELECT tenant, name, value FROM metrics WHERE run = ? ORDER BY tenant, name",
                                 arguments: [run]).map { MetricRow(tenant: $0["tenant"], name: $0["name"], value: $0["value"]) }
            }
        }
    }

    /// Every metric of an experiment's runs with status ok (all experiments when nil), keyed by run id.
    public func metricsByRun(experiment: String? = nil) throws -> [String: [MetricRow]] {
        try wrap("cannot read metrics") {
            try queue.read { db in
                var sql = "SELECT m.run, m.tenant, m.name, m.value FROM metrics m JOIN runs r ON r.id = m.run WHERE r.status = 'ok'"
                var args: StatementArguments = []
                if let experiment { sql += " AND r.experiment = ?"; args = [experiment] }
                sql += " ORDER BY m.run, m.tenant, m.name"
                var out: [String: [MetricRow]] = [:]
                for row in try Row.fetchAll(db, sql: sql, arguments: args) {
                    out[row["run"], default: []].append(MetricRow(tenant: row["tenant"], name: row["name"], value: row["value"]))
                }
                return out
            }
        }
    }

    /// The requests of one run, ordered by tenant and request.
    public func requests(run: String) throws -> [RequestRow] {
        try wrap("cannot read requests") {
            try queue.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM requests WHERE run = ? ORDER BY tenant, request",
                                 arguments: [run]).map(Self.requestRow)
            }
        }
    }

    static func requestRow(_ row: Row) -> RequestRow {
        RequestRow(tenant: row["tenant"], request: row["request"], arrivalNs: row["arrival_ns"], startNs: row["start_ns"],
                   firstTokenNs: row["first_token_ns"], finishNs: row["finish_ns"], inputTokens: row["input_tokens"],
                   outputTokens: row["output_tokens"], attributes: row["attributes"])
    }

    /// Experiment configs, ordered by name and file hash.
    public func experiments() throws -> [ExperimentRecord] {
        try wrap("cannot read experiments") {
            try queue.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM experiments ORDER BY name, file_hash").map {
                    ExperimentRecord(name: $0["name"], fileHash: $0["file_hash"], kind: $0["kind"], description: $0["description"],
                                     configPath: $0["config_path"], configText: $0["config_text"])
                }
            }
        }
    }

    /// Row counts: runs, metrics, requests.
    public func counts() throws -> (runs: Int, metrics: Int, requests: Int) {
        try wrap("cannot count rows") {
            try queue.read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM runs") ?? 0,
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM metrics") ?? 0,
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM requests") ?? 0)
            }
        }
    }

    /// `PRAGMA integrity_check` ("ok" when the file is sound) and `PRAGMA foreign_key_check` (no rows).
    public func integrityCheck() throws -> String {
        try wrap("integrity check failed to run") {
            try queue.read { db in
                let lines = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                let orphans = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
                var out = lines.joined(separator: "; ")
                if !orphans.isEmpty { out += "; \(orphans.count) rows without their run" }
                return out
            }
        }
    }

    /// Runs a read-only block on the connection (for exports and reports that stream rows).
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        try wrap("cannot read") { try queue.read(body) }
    }

    /// Runs a block in one write transaction.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        try wrap("cannot write") { try queue.write(body) }
    }
}
