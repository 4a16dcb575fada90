import XCTest
@testable import Traces

final class LineReaderTests: XCTestCase {
    func lines(_ text: String, chunkSize: Int) throws -> [String] {
        let t = try TempDir()
        let p = try t.write("l.txt", text)
        let r = LineReader(stream: try ByteStream(path: p, chunkSize: chunkSize))
        var out: [String] = []
        while let l = try r.nextLineString() {
            out.append(l)
            XCTAssertEqual(r.lineNumber, out.count)
        }
        return out
    }

    func testEndings() throws {
        for cs in [16, 17, 1 << 16] {   // 16 is the smallest chunk: lines straddle chunks
            XCTAssertEqual(try lines("a\nbb\r\nccc", chunkSize: cs), ["a", "bb", "ccc"])
            XCTAssertEqual(try lines("a\n\nb\n", chunkSize: cs), ["a", "", "b"])
            XCTAssertEqual(try lines("", chunkSize: cs), [])
            XCTAssertEqual(try lines("\n", chunkSize: cs), [""])
            XCTAssertEqual(try lines("x\r", chunkSize: cs), ["x"])
            XCTAssertEqual(try lines("in\rside\n", chunkSize: cs), ["in\rside"])
            let long = String(repeating: "0123456789", count: 10)
            XCTAssertEqual(try lines("\(long)\r\n\(long)\n\(long)", chunkSize: cs), [long, long, long])
        }
    }

    func testLineTooLong() throws {
        let t = try TempDir()
        let p = try t.write("long.txt", "ok\n" + String(repeating: "x", count: 100) + "\n")
        let r = LineReader(stream: try ByteStream(path: p, chunkSize: 16), maxLineLength: 50)
        XCTAssertEqual(try r.nextLineString(), "ok")
        assertTraceError({ _ = try r.nextLine() }, fileName: "long.txt", location: "line 2", "longer than 50 bytes")
    }

    func testInvalidUTF8() throws {
        let t = try TempDir()
        let p = try t.write("bad.txt", bytes: [0x61, 0x0A, 0xFF, 0xFE, 0x0A])
        let r = try LineReader(path: p)
        XCTAssertEqual(try r.nextLineString(), "a")
        assertTraceError({ _ = try r.nextLineString() }, fileName: "bad.txt", location: "line 2", "invalid UTF-8")
    }
}

final class CSVTests: XCTestCase {
    func split(_ s: String) throws -> [String] {
        var b = Array(s.utf8)
        return try b.withUnsafeMutableBufferPointer { try CSV.fields(UnsafeBufferPointer($0), file: "t.csv", lineNumber: 7) }
    }

    func testFields() throws {
        XCTAssertEqual(try split("a,b,c"), ["a", "b", "c"])
        XCTAssertEqual(try split(""), [""])
        XCTAssertEqual(try split(",,"), ["", "", ""])
        XCTAssertEqual(try split("\"a,b\",c"), ["a,b", "c"])
        XCTAssertEqual(try split("\"say \"\"hi\"\"\",x"), ["say \"hi\"", "x"])
        XCTAssertEqual(try split("x,\"\""), ["x", ""])
        XCTAssertEqual(try split("é,ü"), ["é", "ü"])
    }

    func testBadQuotes() {
        assertTraceError({ _ = try self.split("a,\"bc") }, fileName: "t.csv", location: "line 7", "unterminated quoted field 2")
        assertTraceError({ _ = try self.split("\"a\"b,c") }, fileName: "t.csv", location: "line 7", "after the closing quote of field 1")
        assertTraceError({ _ = try self.split("a\"b") }, fileName: "t.csv", location: "line 7", "unquoted field 1")
    }
}

final class DecimalTests: XCTestCase {
    func scaled(_ s: String, _ k: Int) -> Int64? { try? DecimalText.scaledInt64(Array(s.utf8), scale: k) }

    func testMicrosecondsToNanoseconds() {
        // Values by hand: µs × 1000, exactly.
        XCTAssertEqual(scaled("1712195495505582.988", 3), 1_712_195_495_505_582_988)   // a Double would give ...583000
        XCTAssertEqual(scaled("1695835573023613", 3), 1_695_835_573_023_613_000)
        XCTAssertEqual(scaled("4.928", 3), 4928)
        XCTAssertEqual(scaled("0.001", 3), 1)
        XCTAssertEqual(scaled("0", 3), 0)
        XCTAssertEqual(scaled("-0.5", 3), -500)
        XCTAssertEqual(scaled("1.5e3", 3), 1_500_000)
        XCTAssertEqual(scaled("15E-1", 3), 1500)
        XCTAssertEqual(scaled("0.0004", 3), 0)         // below 1 ns: rounded half away from zero
        XCTAssertEqual(scaled("0.0005", 3), 1)
        XCTAssertEqual(scaled("-0.0005", 3), -1)
        XCTAssertEqual(scaled("2.0000000000000000000001", 3), 2000)
        XCTAssertEqual(scaled("9223372036854775.807", 3), Int64.max)
        XCTAssertNil(scaled("9223372036854775.808", 3))           // overflow
        XCTAssertNil(scaled("1e400", 0))
        XCTAssertEqual(scaled("1e-400", 0), 0)
        XCTAssertNil(scaled("abc", 3))
        XCTAssertNil(scaled("1.", 3))
        XCTAssertNil(scaled("", 3))
        XCTAssertNil(scaled("1e", 3))
    }

    func testJSONNumber() {
        XCTAssertEqual(JSONNumber("42")?.exactInt64, 42)
        XCTAssertEqual(JSONNumber("42.0")?.exactInt64, 42)
        XCTAssertEqual(JSONNumber("4.2e1")?.exactInt64, 42)
        XCTAssertNil(JSONNumber("42.5")?.exactInt64)
        XCTAssertNil(JSONNumber("01"))
        XCTAssertNil(JSONNumber("+1"))
        XCTAssertNil(JSONNumber(".5"))
        XCTAssertEqual(JSONNumber("0.009259259")?.double, 0.009259259)
        XCTAssertEqual(JSONNumber("12")?.scaled(by: 3), 12000)
        XCTAssertNil(JSONNumber("9223372036854775807")?.scaled(by: 1))
    }
}

final class JSONReaderTests: XCTestCase {
    func parse(_ s: String) throws -> JSONValue {
        var b = Array(s.utf8)
        return try b.withUnsafeMutableBufferPointer { p in
            let r = JSONReader(bytes: UnsafeBufferPointer(p), path: "mem.json")
            let v = try r.readValue()
            try r.expectEnd()
            return v
        }
    }

    func testValues() throws {
        let v = try parse(#" {"a": [1, -2.5, true, false, null], "b": {"c": "x\"y\\z\/\n\u00e9\ud83d\ude00"}, "a": 3} "#)
        XCTAssertEqual(v["a"], .number(JSONNumber("3")!))   // last duplicate key wins
        XCTAssertEqual(v["b"]?["c"], .string("x\"y\\z/\né😀"))
        guard case .object(let members) = v else { return XCTFail() }
        XCTAssertEqual(members.count, 3)
        XCTAssertEqual(members[0].value, .array([.number(JSONNumber("1")!), .number(JSONNumber("-2.5")!), .bool(true), .bool(false), .null]))
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse("{}"), .object([]))
        XCTAssertEqual(try parse("\"é\""), .string("é"))
    }

    func testErrors() {
        let cases: [(String, String)] = [
            ("[1,]", "expected a JSON value"), ("[1 2]", "expected ',' or ']'"), ("{\"a\" 1}", "expected ':'"),
            ("{\"a\": 1,}", "expected a string key"), ("\"abc", "unterminated string"), ("tru", "invalid literal"),
            ("01", "invalid number \"01\""), ("[1] x", "expected the end of the input"), ("-", "invalid number"), ("\"\\x\"", "invalid escape"),
            ("\"\\ud800\"", "unpaired UTF-16 surrogate"), ("\"a\nb\"", "control character"), ("", "found the end of the input"),
            (String(repeating: "[", count: 300), "nesting deeper than 256"),
        ]
        for (text, msg) in cases {
            assertTraceError({ _ = try self.parse(text) }, fileName: "mem.json", location: "byte", msg)
        }
    }

    func testSkipValueAcrossChunks() throws {
        // Skip a deeply nested value and read what follows, with tiny chunks so that every
        // token straddles a chunk boundary.
        let t = try TempDir()
        let deep = String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000)
        let p = try t.write("s.json", #"{"skip": [\#(deep), {"k": "v\"\u0041", "n": [1e5, -0.25]}], "keep": "yes\u00e9"}"#)
        let r = JSONReader(stream: try ByteStream(path: p, chunkSize: 16))
        try r.expect(0x7B, "{")
        XCTAssertEqual(try r.readString(), "skip")
        try r.expect(0x3A, ":")
        try r.skipValue()
        try r.expect(0x2C, ",")
        XCTAssertEqual(try r.readString(), "keep")
        try r.expect(0x3A, ":")
        XCTAssertEqual(try r.readValue(), .string("yesé"))
        try r.expect(0x7D, "}")
        try r.expectEnd()
    }

    func testSkipValueErrors() throws {
        for (text, msg) in [("[1 2]", "expected ',' or ']'"), ("{\"a\" 1}", "expected ':'"), ("[\"abc", "unterminated string"), ("{\"a\": }", "expected a JSON value")] {
            var b = Array(text.utf8)
            b.withUnsafeMutableBufferPointer { p in
                let r = JSONReader(bytes: UnsafeBufferPointer(p), path: "skip.json")
                assertTraceError({ try r.skipValue() }, fileName: "skip.json", location: "byte", msg)
            }
        }
    }
}

final class CivilTimeTests: XCTestCase {
    func ns(_ s: String) -> Int64? {
        if case .success(let v) = CivilTime.parseNs(s) { return v }
        return nil
    }

    func testEpochNanoseconds() {
        // Expected: python3 -c "import calendar,time; print(calendar.timegm(time.strptime('2023-11-16 18:15:46','%Y-%m-%d %H:%M:%S')))"
        // -> 1700158546, then × 10^9 + fraction digits padded to 9.
        XCTAssertEqual(ns("2023-11-16 18:15:46.6805900"), 1_700_158_546_680_590_000)
        XCTAssertEqual(ns("2023-11-16T18:15:46"), 1_700_158_546_000_000_000)
        XCTAssertEqual(ns("1970-01-01 00:00:00"), 0)
        XCTAssertEqual(ns("1969-12-31 23:59:59.5"), -500_000_000)
        XCTAssertEqual(ns("2000-02-29 12:00:00.000000001"), 951_825_600_000_000_001)   // timegm -> 951825600
        XCTAssertEqual(ns("2024-03-01 00:00:00"), 1_709_251_200_000_000_000)            // timegm -> 1709251200
        XCTAssertEqual(ns("1900-03-01 00:00:00"), -2_203_891_200_000_000_000)           // timegm -> -2203891200
    }

    func testRejects() {
        XCTAssertNil(ns("2023-02-29 00:00:00"))      // not a leap year
        XCTAssertNil(ns("2023-13-01 00:00:00"))
        XCTAssertNil(ns("2023-11-16 24:00:00"))
        XCTAssertNil(ns("2023-11-16 18:15:46."))
        XCTAssertNil(ns("2023-11-16 18:15:46.1234567891"))   // finer than 1 ns
        XCTAssertNil(ns("2023/11/16 18:15:46"))
        XCTAssertNil(ns("2023-11-16 18:15:46 "))
        XCTAssertNil(ns(""))
        XCTAssertNil(ns("9999-12-31 23:59:59"))             // beyond Int64 ns (year 2262)
        XCTAssertNotNil(ns("2262-01-01 00:00:00"))
    }
}
