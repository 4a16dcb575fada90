import XCTest
@testable import Traces

/// Every bad fixture gives a TraceError naming the file, the line or record, and what was expected.
final class BadInputTests: XCTestCase {
    func kineto(_ name: String) -> () throws -> Void {
        { _ = try KinetoReader(path: Paths.fixture(name)).read { _ in } }
    }

    func requests(_ name: String) -> () throws -> Void {
        { try RequestTraceReader(path: Paths.fixture(name)).forEach { _ in } }
    }

    func testKinetoFixtures() {
        assertTraceError(kineto("not-json.json"), fileName: "not-json.json", location: "byte 0", "not JSON", "expected '{'")
        assertTraceError(kineto("no-trace-events.json"), fileName: "no-trace-events.json", location: "",
                         "not a Kineto trace: no traceEvents array")
        assertTraceError(kineto("array-top-level.json"), fileName: "array-top-level.json", location: "byte 0",
                         "not a Kineto trace", "array")
        assertTraceError(kineto("kernel-missing-dur.json"), fileName: "kernel-missing-dur.json", location: "record 1",
                         "missing \"dur\"")
        assertTraceError(kineto("negative-dur.json"), fileName: "negative-dur.json", location: "record 1",
                         "negative \"dur\" -3")
        assertTraceError(kineto("wrong-type.json"), fileName: "wrong-type.json", location: "record 1",
                         "expected a number for \"dur\", found the string \"abc\"")
        assertTraceError(kineto("malformed.json"), fileName: "malformed.json", location: "byte 57",
                         "in record 0 (traceEvents[0], from byte 17)", "expected ',' or '}'")
        assertTraceError(kineto("trailing-data.json"), fileName: "trailing-data.json", location: "byte 20",
                         "expected the end of the input")
        assertTraceError(kineto("truncated.json.zst"), fileName: "truncated.json.zst", location: "compressed byte 12000",
                         "truncated zstd stream")
        assertTraceError(kineto("truncated.json.gz"), fileName: "truncated.json.gz", location: "compressed byte 12000",
                         "truncated gzip stream")
    }

    func testKinetoEventOffsets() throws {
        // The byte offset in "record N (traceEvents[N], byte B)" is where the event starts.
        do {
            _ = try KinetoReader(path: Paths.fixture("negative-dur.json")).read { _ in }
            XCTFail("no error")
        } catch let e as TraceError {
            let text = try String(contentsOfFile: Paths.fixture("negative-dur.json"), encoding: .utf8)
            guard let r = text.range(of: #"{"ph": "X", "cat": "gpu_memcpy""#) else { return XCTFail("fixture changed") }
            let start = text.utf8.distance(from: text.startIndex, to: r.lowerBound)
            XCTAssertEqual(e.location, .traceEvent(index: 1, byteOffset: Int64(start)))
        }
    }

    func testKinetoTypeErrors() throws {
        let t = try TempDir()
        let base = #""ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 2"#
        let args = #""device": 0, "stream": 7, "correlation": 1, "registers per thread": 8, "shared memory": 0"#
        let cases: [(String, String)] = [
            (#"{\#(base), "args": {\#(args), "grid": [1, 1], "block": [1, 1, 1]}}"#, "args[\"grid\"] to be an array of 3 integers"),
            (#"{\#(base), "args": {\#(args), "grid": [1, 1, 1]}}"#, "missing args[\"block\"]"),
            (#"{\#(base), "args": {\#(args), "grid": [1, 1, 1], "block": [1, 1, 1], "blocks per SM": "x"}}"#, "expected a number for args[\"blocks per SM\"]"),
            (#"{\#(base), "args": {"device": 0, "stream": 7.5, "correlation": 1, "registers per thread": 8, "shared memory": 0, "grid": [1, 1, 1], "block": [1, 1, 1]}}"#, "expected an integer for args[\"stream\"], found 7.5"),
            (#"{\#(base), "args": [1]}"#, "expected an object for \"args\""),
            (#"{"ph": "i", "cat": "kernel", "name": "k", "ts": 1}"#, "expected \"ph\": \"X\""),
            (#"{\#(base.replacingOccurrences(of: "\"ts\": 1", with: "\"ts\": 1e30")), "args": {\#(args), "grid": [1, 1, 1], "block": [1, 1, 1]}}"#, "\"ts\" = 1e30 µs is out of range"),
            ("17", "expected an object, found the number 17"),
            (#"{\#(base.replacingOccurrences(of: "\"ts\": 1", with: "\"ts\": 9223372036854775")), "args": {\#(args), "grid": [1, 1, 1], "block": [1, 1, 1]}}"#, "\"ts\" + \"dur\" is out of range"),
        ]
        for (i, (event, msg)) in cases.enumerated() {
            let p = try t.write("t\(i).json", #"{"traceEvents": [{"cat": "cpu_op"}, \#(event)]}"#)
            assertTraceError({ _ = try KinetoReader(path: p).read { _ in } }, fileName: "t\(i).json", location: "record 1", msg)
        }
        let dp = try t.write("dp.json", #"{"traceEvents": [], "deviceProperties": [{"id": 0, "name": "x", "totalGlobalMem": 1, "computeMajor": 8, "computeMinor": 0}]}"#)
        assertTraceError({ _ = try KinetoReader(path: dp).read { _ in } }, fileName: "dp.json", location: "byte", "deviceProperties[0]", "missing \"numSms\"")
        let empty = try t.write("empty.json", "")
        assertTraceError({ _ = try KinetoReader(path: empty).read { _ in } }, fileName: "empty.json", location: "", "empty file")
    }

    func testRequestFixtures() {
        assertTraceError(requests("azure-missing-column.csv"), fileName: "azure-missing-column.csv", location: "line 1",
                         "missing column \"GeneratedTokens\"")
        assertTraceError(requests("azure-non-numeric.csv"), fileName: "azure-non-numeric.csv", location: "line 3",
                         "expected a non-negative integer for \"ContextTokens\", found \"abc\"")
        assertTraceError(requests("azure-negative.csv"), fileName: "azure-negative.csv", location: "line 4",
                         "expected a non-negative integer for \"GeneratedTokens\", found \"-55\"")
        assertTraceError(requests("azure-missing-field.csv"), fileName: "azure-missing-field.csv", location: "line 3",
                         "expected 3 fields", "found 2")
        assertTraceError(requests("azure-backwards.csv"), fileName: "azure-backwards.csv", location: "line 4",
                         "timestamp goes backwards")
        assertTraceError(requests("azure-bad-timestamp.csv"), fileName: "azure-bad-timestamp.csv", location: "line 2",
                         "TIMESTAMP", "no such date or time")
        assertTraceError(requests("mooncake-missing-field.jsonl"), fileName: "mooncake-missing-field.jsonl", location: "line 2",
                         "missing \"input_length\"")
        assertTraceError(requests("mooncake-backwards.jsonl"), fileName: "mooncake-backwards.jsonl", location: "line 2",
                         "timestamp goes backwards")
        assertTraceError(requests("mooncake-blank-line.jsonl"), fileName: "mooncake-blank-line.jsonl", location: "line 2",
                         "blank line")
        assertTraceError(requests("mooncake-bad-hash.jsonl"), fileName: "mooncake-bad-hash.jsonl", location: "line 1",
                         "\"hash_ids\"[1] to be an integer")
    }

    func testRequestLinesOfOtherKinds() throws {
        let t = try TempDir()
        let cases: [(String, String, String, String)] = [
            ("a.jsonl", "line 2", "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": []}\n[1, 2]\n", "expected a JSON object"),
            ("b.jsonl", "line 2", "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": []}\n{\"timestamp\": 1, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": []} x\n", "expected the end of the line"),
            ("c.jsonl", "line 2", "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": []}\n{\"timestamp\": \"0\", \"input_length\": 1}\n", "expected a number for \"timestamp\""),
            ("d.jsonl", "line 2", "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": []}\n{\"timestamp\": 1, \"input_length\": -4, \"output_length\": 1, \"hash_ids\": []}\n", "\"input_length\" >= 0"),
            ("e.csv", "line 3", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,1,1\n2023-11-16 18:15:47,99999999999999999999,1\n", "non-negative integer"),
            ("f.csv", "line 3", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,1,1\n\"2023-11-16 18:15:47,1,1\n", "unterminated quoted field 1"),
        ]
        for (name, loc, text, msg) in cases {
            let p = try t.write(name, text)
            assertTraceError({ try RequestTraceReader(path: p).forEach { _ in } }, fileName: name, location: loc, msg)
        }
        let empty = try t.write("empty.csv", "")
        assertTraceError({ _ = try RequestTraceReader(path: empty) }, fileName: "empty.csv", location: "", "empty file")
        let unknown = try t.write("what.txt", "hello\n")
        assertTraceError({ _ = try RequestTraceReader(path: unknown) }, fileName: "what.txt", location: "line 1", "cannot tell the request-trace format")
    }
}

/// Mutated inputs (deterministic pseudo-random byte changes, cuts and insertions of a valid
/// trace) must give a result or a TraceError, never a crash or another error type.
final class MutationTests: XCTestCase {
    struct LCG {
        var s: UInt64
        mutating func next(_ n: Int) -> Int {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Int((s >> 33) % UInt64(n))
        }
    }

    func testMutatedKinetoAndRequests() throws {
        let t = try TempDir()
        let sources: [(String, String)] = [
            ("handmade.json", "json"), ("azure-two-members.csv.gz", "csv.gz"), ("negative-dur.json", "json"),
        ]
        var rng = LCG(s: 42)
        let specials: [UInt8] = Array("{}[]\",:\\-.eE0\n\r \u{1}".utf8) + [0xFF, 0xC3]
        var outcomes = (ok: 0, traceError: 0)
        for (name, ext) in sources {
            let original = Array(try Data(contentsOf: URL(fileURLWithPath: Paths.fixture(name))))
            for i in 0..<150 {
                var b = original
                switch rng.next(4) {
                case 0: b = Array(b[0..<rng.next(b.count)])                              // cut
                case 1: for _ in 0..<(1 + rng.next(4)) { b[rng.next(b.count)] = specials[rng.next(specials.count)] }
                case 2: b.insert(specials[rng.next(specials.count)], at: rng.next(b.count))
                default: b[rng.next(b.count)] ^= UInt8(1 << rng.next(8))                 // bit flip
                }
                let p = try t.write("m\(i).\(ext)", bytes: b)
                do {
                    if ext == "json" {
                        _ = try KinetoReader(path: p).read { _ in }
                    } else {
                        try RequestTraceReader(path: p).forEach { _ in }
                    }
                    outcomes.ok += 1
                } catch let e as TraceError {
                    XCTAssertTrue(e.description.hasPrefix(p), "error does not start with the file: \(e)")
                    outcomes.traceError += 1
                } catch {
                    XCTFail("\(name) mutation \(i): not a TraceError: \(error)")
                }
            }
        }
        XCTAssertEqual(outcomes.ok + outcomes.traceError, 450)
        XCTAssertGreaterThan(outcomes.traceError, 100)   // most mutations break something
    }
}
