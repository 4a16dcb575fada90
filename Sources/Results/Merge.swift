// Joining shard databases: every run once, by id. A run found in several inputs must agree in
// everything but wall time and code version (its config, params, seed, status, metrics and
// requests); a disagreement is an error naming the run and both files, and nothing is written.

import Foundation
import GRDB

public struct MergeSummary: Sendable, Equatable {
    /// Distinct runs in the output.
    public var runs: Int
    /// Runs found again in a later input and identical (skipped).
    public var duplicates: Int
    /// Failed runs replaced by a successful copy from another input.
    public var replacedFailures: Int
    /// Runs whose copies were written by different gpusim versions (identical results; the first kept).
    public var codeVersionMismatches: Int
}

extension ResultsStore {
    /// Merges `inputs` into a new database at `output`. The output is built in a temporary file
    /// beside it and renamed into place only when complete: an error leaves no output behind.
    /// `output` must not exist unless `replace` is true; it may not be one of the inputs.
    public static func merge(inputs: [String], output: String, replace: Bool = false) throws -> MergeSummary {
        guard !inputs.isEmpty else { throw ResultsError(file: output, message: "nothing to merge: no input databases given") }
        let fm = FileManager.default
        let outURL = URL(fileURLWithPath: output).standardizedFileURL
        for i in inputs where URL(fileURLWithPath: i).standardizedFileURL.path == outURL.path {
            throw ResultsError(file: output, message: "the output is also an input; write the merge to a new file")
        }
        if fm.fileExists(atPath: output) && !replace {
            throw ResultsError(file: output, message: "exists; pass --force to replace it")
        }
        // Open every input first, so that a bad one fails before anything is written.
        var stores: [ResultsStore] = []
        defer { for s in stores { try? s.close() } }
        for i in inputs { stores.append(try ResultsStore(path: i, mode: .readOnly)) }

        let dir = outURL.deletingLastPathComponent().path
        if !fm.fileExists(atPath: dir) {
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw ResultsError(file: output, message: "cannot create the directory \(dir): \(error.localizedDescription)")
            }
        }
        let temp = outURL.deletingLastPathComponent()
            .appendingPathComponent(".\(outURL.lastPathComponent).merge-\(ProcessInfo.processInfo.processIdentifier).tmp").path
        removeDatabaseFiles(temp)
        var summary = MergeSummary(runs: 0, duplicates: 0, replacedFailures: 0, codeVersionMismatches: 0)
        do {
            let out = try ResultsStore(path: temp, mode: .create)
            do {
                try out.write { db in
                    var seen: [String: (run: RunRecord, file: String)] = [:]
                    for store in stores {
                        for e in try store.experiments() {
                            try db.execute(sql: """
                                INSERT OR IGNORE INTO experiments (name, file_hash, kind, description, config_path, config_text)
                                VALUES (?, ?, ?, ?, ?, ?)
                                """, arguments: [e.name, e.fileHash, e.kind, e.description, e.configPath, e.configText])
                        }
                        for run in try store.runs() {
                            let metrics = try store.metrics(run: run.id)
                            let requests = try store.requests(run: run.id)
                            guard let prior = seen[run.id] else {
                                try ResultsStore.insert(FinishedRun(run: run, metrics: metrics, requests: requests), into: db, replacing: false)
                                seen[run.id] = (run, store.path)
                                continue
                            }
                            let a = prior.run
                            if a.status == .failed && run.status == .ok {
                                try ResultsStore.insert(FinishedRun(run: run, metrics: metrics, requests: requests), into: db, replacing: true)
                                seen[run.id] = (run, store.path)
                                summary.replacedFailures += 1
                                continue
                            }
                            if a.status == .ok && run.status == .failed { summary.duplicates += 1; continue }
                            if let difference = try difference(a, in: db, run, metrics, requests) {
                                throw ResultsError(file: store.path, message:
                                    "run \(run.id) conflicts with the copy in \(prior.file): \(difference)")
                            }
                            if a.codeVersion != run.codeVersion { summary.codeVersionMismatches += 1 }
                            summary.duplicates += 1
                        }
                    }
                    summary.runs = seen.count
                }
                try out.close()
            } catch {
                try? out.close()
                throw error
            }
            removeDatabaseFiles(output)
            guard rename(temp, output) == 0 else {
                throw ResultsError(file: output, message: "cannot move the merged database into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            removeDatabaseFiles(temp)
            throw error
        }
        return summary
    }

    /// What differs between a stored run (in `db`) and another copy, or nil when they agree.
    static func difference(_ a: RunRecord, in db: Database, _ b: RunRecord, _ bMetrics: [MetricRow],
                           _ bRequests: [RequestRow]) throws -> String? {
        let fields: [(String, String, String)] = [
            ("experiment", a.experiment, b.experiment), ("kind", a.kind, b.kind), ("policy", a.policy, b.policy),
            ("params", a.params, b.params), ("seed", String(a.seed), String(b.seed)), ("config", a.config, b.config),
            ("config_hash", a.configHash, b.configHash), ("status", a.status.rawValue, b.status.rawValue),
        ]
        for (name, x, y) in fields where x != y {
            return "\(name) differs: \(x.prefix(120)) vs \(y.prefix(120))"
        }
        let aMetrics = try Row.fetchAll(db, sql: "SELECT tenant, name, value FROM metrics WHERE run = ? ORDER BY tenant, name",
                                        arguments: [a.id]).map { MetricRow(tenant: $0["tenant"], name: $0["name"], value: $0["value"]) }
        if aMetrics != bMetrics {
            let am = Dictionary(aMetrics.map { ("\($0.tenant)/\($0.name)", $0.value) }, uniquingKeysWith: { x, _ in x })
            let bm = Dictionary(bMetrics.map { ("\($0.tenant)/\($0.name)", $0.value) }, uniquingKeysWith: { x, _ in x })
            for k in Set(am.keys).union(bm.keys).sorted() where am[k] != bm[k] {
                return "metric \(k) differs: \(am[k].map { "\($0)" } ?? "absent") vs \(bm[k].map { "\($0)" } ?? "absent")"
            }
        }
        let aRequests = try Row.fetchAll(db, sql: "SELECT * FROM requests WHERE run = ? ORDER BY tenant, request",
                                         arguments: [a.id]).map(requestRow)
        if aRequests != bRequests {
            if aRequests.count != bRequests.count { return "request rows differ: \(aRequests.count) vs \(bRequests.count)" }
            for (x, y) in zip(aRequests, bRequests) where x != y {
                return "request \(x.tenant)/\(x.request) differs"
            }
        }
        return nil
    }

    /// Removes a database file with its WAL and shared-memory files.
    public static func removeDatabaseFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }
}
