import Foundation
import GRDB
import XCTest
@testable import Results

final class CanonicalJSONTests: XCTestCase {
    func testCanonicalTextSortsKeysAndEscapes() {
        let v: CanonicalJSON = .object(["b": .int(2), "a": .array([.string("x\"y\n"), .null, .bool(true)]), "c": .double(0.5)!])
        XCTAssertEqual(v.text, #"{"a":["x\"y\n",null,true],"b":2,"c":0.5}"#)
        XCTAssertEqual(CanonicalJSON.string("\u{01}").text, #""\u0001""#)
        XCTAssertNil(CanonicalJSON.double(.nan))
        XCTAssertNil(CanonicalJSON.double(.infinity))
    }

    func testParseKeepsNumberTextAndRoundTrips() throws {
        let text = #"{ "z": [1, 2.50, -3e-7], "a": {"k": "v\u00e9\ud83d\ude00"}, "t": false }"#
        let v = try CanonicalJSON.parse(text)
        XCTAssertEqual(v["z"]?.arrayValue?.map(\.text), ["1", "2.50", "-3e-7"])
        XCTAssertEqual(v["a"]?["k"]?.stringValue, "vé😀")
        XCTAssertEqual(try CanonicalJSON.parse(v.text), v)
        XCTAssertEqual(v.text, #"{"a":{"k":"vé😀"},"t":false,"z":[1,2.50,-3e-7]}"#)
    }

    func testParseRejectsMalformedText() {
        for bad in ["", "{", "[1,]", #"{"a":1,"a":2}"#, "nan", "01x", #"{"a" 1}"#, "[1] 2"] {
            XCTAssertThrowsError(try CanonicalJSON.parse(bad), bad)
        }
    }
}

final class ResultsStoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("results-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static func run(_ id: String, experiment: String = "e", policy: String = "p", seed: Int64 = 1, ordinal: Int64 = 0,
                    status: RunStatus = .ok, wall: Double = 0.5, metrics: [(String, Double)] = [("m", 1)],
                    requests: Int = 0, params: String = "{}") -> FinishedRun {
        FinishedRun(
            run: RunRecord(id: id, experiment: experiment, kind: "replay", policy: policy, params: params, seed: seed,
                           ordinal: ordinal, config: #"{"x":1}"#, configHash: "h", codeVersion: "0.1.0", wallSeconds: wall,
                           status: status, error: status == .failed ? "boom" : nil),
            metrics: metrics.map { MetricRow(tenant: "all", name: $0.0, value: $0.1) },
            requests: (0..<requests).map { RequestRow(tenant: "all", request: Int64($0), startNs: Int64($0) * 10, finishNs: Int64($0) * 10 + 5) })
    }

    func testSchemaIsCreatedWithItsVersionAndWAL() throws {
        let s = try ResultsStore(path: path("a.sqlite"), mode: .create)
        try s.commit(Self.run("r1", requests: 2))
        let (version, journal, tables) = try s.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA user_version"), try String.fetchOne(db, sql: "PRAGMA journal_mode"),
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))
        }
        XCTAssertEqual(version, 1)
        XCTAssertEqual(journal, "wal")
        XCTAssertEqual(tables, ["experiments", "meta", "metrics", "requests", "runs"])
        XCTAssertEqual(try s.integrityCheck(), "ok")
        try s.close()
        let r = try ResultsStore(path: path("a.sqlite"), mode: .readOnly)
        XCTAssertEqual(try r.runs().map(\.id), ["r1"])
        XCTAssertEqual(try r.requests(run: "r1").map(\.finishNs), [5, 15])
        XCTAssertEqual(try r.metrics(run: "r1"), [MetricRow(tenant: "all", name: "m", value: 1)])
    }

    func testOpeningSomethingElseNamesTheFile() throws {
        let notDB = path("text.sqlite")
        try Data("hello, not a database, but long enough to look like a file header...".utf8).write(to: URL(fileURLWithPath: notDB))
        XCTAssertThrowsError(try ResultsStore(path: notDB, mode: .readOnly)) { e in
            XCTAssertTrue("\(e)".contains(notDB), "\(e)")
        }
        XCTAssertThrowsError(try ResultsStore(path: path("missing.sqlite"), mode: .readOnly)) { e in
            XCTAssertTrue("\(e)".contains("missing.sqlite") && "\(e)".contains("no such file"), "\(e)")
        }
        // Another application's SQLite database.
        let other = path("other.sqlite")
        let q = try DatabaseQueue(path: other)
        try q.write { try $0.execute(sql: "CREATE TABLE t (x)") }
        try q.close()
        XCTAssertThrowsError(try ResultsStore(path: other, mode: .create)) { e in
            XCTAssertTrue("\(e)".contains("not a gpusim results database"), "\(e)")
        }
        // A newer schema.
        let newer = path("newer.sqlite")
        try ResultsStore(path: newer, mode: .create).close()
        let q2 = try DatabaseQueue(path: newer)
        try q2.write { try $0.execute(sql: "PRAGMA user_version = 99") }
        try q2.close()
        XCTAssertThrowsError(try ResultsStore(path: newer, mode: .readOnly)) { e in
            XCTAssertTrue("\(e)".contains("version 99"), "\(e)")
        }
    }

    /// A run whose commit fails part-way (a non-finite metric after a good one) leaves nothing.
    func testACommitIsAllOrNothing() throws {
        let s = try ResultsStore(path: path("atomic.sqlite"), mode: .create)
        let bad = Self.run("bad", metrics: [("a", 1), ("b", .nan)], requests: 3)
        XCTAssertThrowsError(try s.commit(bad))
        XCTAssertEqual(try s.counts().runs, 0)
        XCTAssertEqual(try s.counts().metrics, 0)
        XCTAssertEqual(try s.counts().requests, 0)
        try s.commit(Self.run("good"))
        XCTAssertThrowsError(try s.commit(Self.run("good")), "a second run with the same id is refused")
        XCTAssertEqual(try s.counts().runs, 1)
        // Replacing (a failed run retried) swaps the rows in one transaction.
        try s.commit(Self.run("good", metrics: [("m", 2)]), replacing: true)
        XCTAssertEqual(try s.metrics(run: "good").map(\.value), [2])
    }

    /// Export order is key order, not insertion order; CSV fields are quoted where needed.
    func testExportIsIndependentOfInsertionOrder() throws {
        let runs = (0..<6).map { Self.run("id\($0)", policy: "p,\($0 % 2)", seed: Int64($0), ordinal: Int64(5 - $0),
                                          wall: Double($0), metrics: [("x", Double($0) / 3), ("a\"q", 1e-9)], requests: 2) }
        let a = try ResultsStore(path: path("a.sqlite"), mode: .create)
        let b = try ResultsStore(path: path("b.sqlite"), mode: .create)
        for r in runs { try a.commit(r) }
        for r in runs.reversed() { try b.commit(r) }
        for t in ExportTable.allCases {
            for f in ExportFormat.allCases {
                XCTAssertEqual(try ResultsExport.string(a, table: t, format: f, includeWall: false),
                               try ResultsExport.string(b, table: t, format: f, includeWall: false), "\(t) \(f)")
            }
        }
        let csv = try ResultsExport.string(a, table: .metrics, format: .csv, includeWall: false)
        let lines = csv.split(separator: "\n")
        XCTAssertEqual(lines[0], "run,experiment,policy,params,seed,tenant,name,value")
        XCTAssertEqual(lines.count, 1 + 12)
        XCTAssertEqual(lines[1], #"id5,e,"p,1",{},5,all,"a""q",1e-09"#, "ordinal order, quoted fields")
        XCTAssertEqual(lines[2], #"id5,e,"p,1",{},5,all,x,1.6666666666666667"#)
        let withWall = try ResultsExport.string(a, table: .runs, format: .csv, includeWall: true)
        XCTAssertTrue(withWall.hasPrefix("id,experiment,kind,policy,params,seed,ordinal,config_hash,code_version,status,error,config,wall_seconds\n"))
        let json = try ResultsExport.string(a, table: .metrics, format: .json, includeWall: false)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        XCTAssertEqual(parsed?.count, 12)
    }

    func testCSVFieldQuoting() {
        XCTAssertEqual(ResultsExport.csvField("plain"), "plain")
        XCTAssertEqual(ResultsExport.csvField("a,b"), "\"a,b\"")
        XCTAssertEqual(ResultsExport.csvField("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(ResultsExport.csvField("line\r\nbreak"), "\"line\r\nbreak\"")
    }

    // MARK: merge

    func testMergeJoinsShardsAndDropsIdenticalDuplicates() throws {
        let s1 = try ResultsStore(path: path("s1.sqlite"), mode: .create)
        let s2 = try ResultsStore(path: path("s2.sqlite"), mode: .create)
        try s1.commit(Self.run("a", wall: 1))
        try s1.commit(Self.run("b", wall: 1, requests: 3))
        try s2.commit(Self.run("b", wall: 7, requests: 3))   // same run, another wall time
        try s2.commit(Self.run("c"))
        try s1.close(); try s2.close()
        let out = path("merged/all.sqlite")
        let summary = try ResultsStore.merge(inputs: [path("s1.sqlite"), path("s2.sqlite")], output: out)
        XCTAssertEqual(summary.runs, 3)
        XCTAssertEqual(summary.duplicates, 1)
        let m = try ResultsStore(path: out, mode: .readOnly)
        XCTAssertEqual(try m.runs().map(\.id).sorted(), ["a", "b", "c"])
        XCTAssertEqual(try m.counts().requests, 3)
        XCTAssertEqual(try m.integrityCheck(), "ok")
        XCTAssertThrowsError(try ResultsStore.merge(inputs: [path("s1.sqlite")], output: out)) { e in
            XCTAssertTrue("\(e)".contains("exists"), "\(e)")
        }
    }

    func testMergeRefusesConflictingDuplicatesAndWritesNothing() throws {
        let s1 = try ResultsStore(path: path("s1.sqlite"), mode: .create)
        let s2 = try ResultsStore(path: path("s2.sqlite"), mode: .create)
        try s1.commit(Self.run("a"))
        try s1.commit(Self.run("x", metrics: [("m", 1)]))
        try s2.commit(Self.run("x", metrics: [("m", 2)]))
        try s1.close(); try s2.close()
        let out = path("all.sqlite")
        XCTAssertThrowsError(try ResultsStore.merge(inputs: [path("s1.sqlite"), path("s2.sqlite")], output: out)) { e in
            let t = "\(e)"
            XCTAssertTrue(t.contains("run x") && t.contains("s1.sqlite") && t.contains("s2.sqlite") && t.contains("metric all/m"), t)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testMergePrefersASuccessfulCopyOfAFailedRun() throws {
        let s1 = try ResultsStore(path: path("s1.sqlite"), mode: .create)
        let s2 = try ResultsStore(path: path("s2.sqlite"), mode: .create)
        try s1.commit(Self.run("x", status: .failed, metrics: []))
        try s2.commit(Self.run("x", metrics: [("m", 3)]))
        try s1.close(); try s2.close()
        let s = try ResultsStore.merge(inputs: [path("s1.sqlite"), path("s2.sqlite")], output: path("all.sqlite"))
        XCTAssertEqual(s.replacedFailures, 1)
        let m = try ResultsStore(path: path("all.sqlite"), mode: .readOnly)
        XCTAssertEqual(try m.run(id: "x")?.status, .ok)
        XCTAssertEqual(try m.metrics(run: "x").map(\.value), [3])
    }
}
