// Request-arrival traces: Azure LLM inference 2023 CSV and Mooncake JSONL, read line by line.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One request of a request-arrival trace.
public struct RequestRecord: Sendable, Equatable {
    /// Arrival time in ns after the trace's first request (the first is 0).
    public var arrivalNs: Int64
    public var inputTokens: Int
    public var outputTokens: Int
    /// Mooncake: ids of the prompt's 512-token prefix blocks (shared prefixes share ids).
    /// Empty for formats that have none (Azure).
    public var hashIDs: [Int]

    public init(arrivalNs: Int64, inputTokens: Int, outputTokens: Int, hashIDs: [Int] = []) {
        self.arrivalNs = arrivalNs
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.hashIDs = hashIDs
    }
}

public enum RequestTraceFormat: String, Sendable, Equatable {
    /// Azure LLM inference trace 2023: CSV with header `TIMESTAMP,ContextTokens,GeneratedTokens`,
    /// timestamps `2023-11-16 18:15:46.6805900` (no zone; read as UTC).
    case azureCSV = "azure-csv"
    /// Mooncake: JSON lines `{"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [...]}`.
    case mooncakeJSONL = "mooncake-jsonl"

    /// The format from the file name (`.csv`, `.jsonl`, with an optional `.gz`/`.zst`), or nil.
    public static func fromName(_ path: String) -> RequestTraceFormat? {
        var name = Substring(path.split(separator: "/").last ?? Substring(path)).lowercased()
        for ext in [".zst", ".gz"] where name.hasSuffix(ext) { name.removeLast(ext.count) }
        if name.hasSuffix(".csv") { return .azureCSV }
        if name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson") { return .mooncakeJSONL }
        return nil
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fraction]` (or with 'T') into ns since 1970-01-01 00:00:00,
/// as UTC, exactly (up to 9 fraction digits). Any date of the proleptic Gregorian calendar.
public enum CivilTime {
    /// Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil).
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Parses the timestamp, or says what is wrong with it.
    public static func parseNs(_ text: String) -> Result<Int64, TimestampError> {
        var t = text
        return t.withUTF8 { parseNs(bytes: $0) }
    }

    /// Parses the timestamp from UTF-8 bytes, or says what is wrong with it.
    public static func parseNs(bytes u: UnsafeBufferPointer<UInt8>) -> Result<Int64, TimestampError> {
        var i = 0
        let n = u.count
        var ok = true
        @inline(__always) func digits(_ k: Int) -> Int {
            guard ok, i + k <= n else { ok = false; return 0 }
            var v = 0
            for j in 0..<k {
                let c = u[i + j]
                guard c >= 48 && c <= 57 else { ok = false; return 0 }
                v = v * 10 + Int(c - 48)
            }
            i += k
            return v
        }
        @inline(__always) func sep(_ a: UInt8, _ b: UInt8 = 0) {
            guard ok, i < n, u[i] == a || (b != 0 && u[i] == b) else { ok = false; return }
            i += 1
        }
        let year = digits(4); sep(45)
        let month = digits(2); sep(45)
        let day = digits(2); sep(32, 84)
        let hour = digits(2); sep(58)
        let minute = digits(2); sep(58)
        let second = digits(2)
        func bad() -> TimestampError {
            TimestampError(message: "expected a timestamp like 2023-11-16 18:15:46.6805900, found \(quoteForError(bytes: u))")
        }
        guard ok else { return .failure(bad()) }
        var frac: Int64 = 0
        if i < n {
            guard u[i] == 46 else { return .failure(bad()) }
            i += 1
            var k = 0
            while i < n {
                let c = u[i]
                guard c >= 48 && c <= 57 else { return .failure(bad()) }
                k += 1
                if k > 9 {
                    return .failure(TimestampError(message: "more than 9 fraction digits in \(quoteForError(bytes: u)) (expected at most nanoseconds)"))
                }
                frac = frac * 10 + Int64(c - 48)
                i += 1
            }
            if k == 0 { return .failure(bad()) }
            for _ in k..<9 { frac *= 10 }
        }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
              hour < 24, minute < 60, second < 60 else {
            return .failure(TimestampError(message: "no such date or time: \(quoteForError(bytes: u))"))
        }
        let days = Int64(daysFromCivil(year: year, month: month, day: day))
        let secs = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        let (ns, o1) = secs.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, o2) = ns.addingReportingOverflow(frac)
        if o1 || o2 {
            return .failure(TimestampError(message: "\(quoteForError(bytes: u)) is out of range (expected a time between 1677 and 2262, which Int64 nanoseconds cover)"))
        }
        return .success(total)
    }

    public struct TimestampError: Error, Sendable { public var message: String }
}

/// Streams the requests of an Azure CSV or Mooncake JSONL trace (plain, `.gz` or `.zst`).
///
///     let r = try RequestTraceReader(path: p)
///     while let req = try r.next() { ... }      // or: try r.forEach { req in ... }
///
/// Errors name the file and the line: missing columns, non-numeric or negative fields,
/// timestamps that go backwards. Blank lines at the end of the file are ignored; a blank line
/// followed by more data is an error.
public final class RequestTraceReader {
    public let path: String
    public let format: RequestTraceFormat
    /// Absolute time of the first request, ns (Azure: since 1970-01-01 UTC; Mooncake: the
    /// trace's own ms clock × 10^6). nil before the first record.
    public private(set) var firstTimestampNs: Int64? = nil
    /// The line of the record last returned.
    public private(set) var lineNumber = 0

    private let lines: LineReader
    private var lastTimestampNs: Int64 = Int64.min
    private var columns: (ts: Int, input: Int, output: Int, count: Int) = (0, 0, 0, 0)
    private var pendingBlankLine: Int? = nil

    /// Opens the trace. The format comes from the name (`.csv` / `.jsonl`, before any
    /// `.gz`/`.zst`), or else from the first line (a `TIMESTAMP` header or a `{`).
    public init(path: String, format: RequestTraceFormat? = nil) throws {
        self.path = path
        self.lines = try LineReader(path: path, maxLineLength: 16 << 20)
        if let f = format ?? RequestTraceFormat.fromName(path) {
            self.format = f
            if f == .azureCSV { try readHeader(nil) }
        } else {
            // Sniff the first line.
            guard let first = try lines.nextLineString() else {
                throw TraceError(file: path, location: .file,
                                 message: "empty file: expected a request trace (Azure CSV header or Mooncake JSON lines)")
            }
            let t = first.drop(while: { $0 == "\u{FEFF}" || $0 == " " })
            if t.hasPrefix("{") {
                self.format = .mooncakeJSONL
                try readHeader(first)   // re-process as a record below
            } else if t.uppercased().hasPrefix("TIMESTAMP") || t.contains(",") {
                self.format = .azureCSV
                try readHeader(first)
            } else {
                throw TraceError(file: path, location: .line(1),
                                 message: "cannot tell the request-trace format: expected a CSV header (TIMESTAMP,ContextTokens,GeneratedTokens) or a JSON object, found \(quoteForError(first))")
            }
        }
    }

    private var sniffedFirstRecord: String? = nil

    private func readHeader(_ firstLine: String?) throws {
        if format == .mooncakeJSONL { sniffedFirstRecord = firstLine; return }
        let header: String
        if let firstLine { header = firstLine } else {
            guard let h = try lines.nextLineString() else {
                throw TraceError(file: path, location: .file,
                                 message: "empty file: expected a CSV header with TIMESTAMP, ContextTokens, GeneratedTokens")
            }
            header = h
        }
        var bytes = Array(header.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        let names = try bytes.withUnsafeBufferPointer { try CSV.fields($0, file: path, lineNumber: 1) }
            .map { $0.trimmingSpaces }
        func col(_ n: String) throws -> Int {
            guard let i = names.firstIndex(where: { $0.caseInsensitiveEquals(n) }) else {
                throw TraceError(file: path, location: .line(1),
                                 message: "missing column \"\(n)\" in the header (expected TIMESTAMP, ContextTokens, GeneratedTokens; found \(names.map { quoteForError($0, limit: 30) }.joined(separator: ", ")))")
            }
            return i
        }
        columns = (try col("TIMESTAMP"), try col("ContextTokens"), try col("GeneratedTokens"), names.count)
    }

    /// The next request, or nil at the end of the trace.
    public func next() throws -> RequestRecord? {
        while true {
            let lineNo: Int
            let rec: RequestRecord?
            if let s = sniffedFirstRecord {
                sniffedFirstRecord = nil
                var b = Array(s.utf8)
                lineNo = 1
                rec = try b.withUnsafeMutableBufferPointer { try parse(UnsafeBufferPointer($0), line: 1) }
            } else {
                guard let line = try lines.nextLine() else { return nil }
                lineNo = lines.lineNumber
                rec = try parse(line, line: lineNo)
            }
            guard let rec else { continue }   // blank line
            lineNumber = lineNo
            return rec
        }
    }

    /// Calls `body` with every remaining request.
    public func forEach(_ body: (RequestRecord) throws -> Void) throws {
        while let r = try next() { try body(r) }
    }

    private func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        for c in line where !(c == 32 || c == 9 || c == 13) { return false }
        return true
    }

    /// nil for a blank line (remembered, so that data after it is an error).
    private func parse(_ line: UnsafeBufferPointer<UInt8>, line n: Int) throws -> RequestRecord? {
        if isBlank(line) {
            if pendingBlankLine == nil { pendingBlankLine = n }
            return nil
        }
        if let b = pendingBlankLine {
            throw TraceError(file: path, location: .line(b),
                             message: "blank line in the middle of the trace (expected a request on every line)")
        }
        let tsNs: Int64, input: Int, output: Int
        var hashIDs: [Int] = []
        switch format {
        case .azureCSV:
            (tsNs, input, output) = try parseAzure(line, n)
        case .mooncakeJSONL:
            let json = JSONReader(bytes: line, path: path, line: n)
            let v = try json.readValue()
            try json.expectEnd("the end of the line after the JSON object")
            guard case .object = v else {
                throw TraceError(file: path, location: .line(n), message: "expected a JSON object, found \(v.typeDescription)")
            }
            let f = EventFields(value: v, file: path, location: .line(n))
            let tsNum = try f.number(v, "timestamp", what: "\"timestamp\" (ms)")
            guard let t = tsNum.scaled(by: 6) else {
                throw TraceError(file: path, location: .line(n), message: "\"timestamp\" \(tsNum) ms is out of range")
            }
            tsNs = t
            input = try f.int(v, "input_length", min: 0, what: "\"input_length\"")
            output = try f.int(v, "output_length", min: 0, what: "\"output_length\"")
            guard let h = v["hash_ids"] else {
                throw TraceError(file: path, location: .line(n), message: "missing \"hash_ids\" (expected an array of integers)")
            }
            guard case .array(let items) = h else {
                throw TraceError(file: path, location: .line(n), message: "expected an array for \"hash_ids\", found \(h.typeDescription)")
            }
            hashIDs.reserveCapacity(items.count)
            for (k, e) in items.enumerated() {
                guard case .number(let num) = e, let i = num.exactInt64, i >= 0 else {
                    throw TraceError(file: path, location: .line(n),
                                     message: "expected \"hash_ids\"[\(k)] to be an integer >= 0, found \(e.typeDescription)")
                }
                hashIDs.append(Int(i))
            }
        }
        if tsNs < lastTimestampNs {
            throw TraceError(file: path, location: .line(n),
                             message: "timestamp goes backwards (\(formatDelta(saturatingSub(lastTimestampNs, tsNs))) before the previous request); expected requests in arrival order")
        }
        lastTimestampNs = tsNs
        let first = firstTimestampNs ?? tsNs
        if firstTimestampNs == nil { firstTimestampNs = tsNs }
        let (rel, o) = tsNs.subtractingReportingOverflow(first)
        if o { throw TraceError(file: path, location: .line(n), message: "timestamp out of range") }
        return RequestRecord(arrivalNs: rel, inputTokens: input, outputTokens: output, hashIDs: hashIDs)
    }

    private func parseAzure(_ line: UnsafeBufferPointer<UInt8>, _ n: Int) throws -> (Int64, Int, Int) {
        func fieldCountError(_ found: Int) -> TraceError {
            TraceError(file: path, location: .line(n),
                       message: "expected \(columns.count) fields (TIMESTAMP, ContextTokens, GeneratedTokens), found \(found)")
        }
        if !(line.baseAddress.map { memchr($0, 34, line.count) != nil } ?? false) {
            // No quotes: split on commas in place.
            var starts = [Int](repeating: 0, count: columns.count)
            var ends = [Int](repeating: 0, count: columns.count)
            var k = 0, start = 0
            for i in 0...line.count where i == line.count || line[i] == 44 {
                if k < columns.count { starts[k] = start; ends[k] = i }
                k += 1
                start = i + 1
            }
            guard k == columns.count else { throw fieldCountError(k) }
            func field(_ c: Int) -> UnsafeBufferPointer<UInt8> {
                var a = starts[c], b = ends[c]
                while a < b && line[a] == 32 { a += 1 }
                while b > a && line[b - 1] == 32 { b -= 1 }
                return UnsafeBufferPointer(rebasing: line[a..<b])
            }
            return (try timestamp(field(columns.ts), n),
                    try count(field(columns.input), "ContextTokens", n),
                    try count(field(columns.output), "GeneratedTokens", n))
        }
        let f = try CSV.fields(line, file: path, lineNumber: n)
        guard f.count == columns.count else { throw fieldCountError(f.count) }
        func with<R>(_ c: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
            var s = f[c].trimmingSpaces
            return try s.withUTF8(body)
        }
        return (try with(columns.ts) { try timestamp($0, n) },
                try with(columns.input) { try count($0, "ContextTokens", n) },
                try with(columns.output) { try count($0, "GeneratedTokens", n) })
    }

    private func timestamp(_ b: UnsafeBufferPointer<UInt8>, _ n: Int) throws -> Int64 {
        switch CivilTime.parseNs(bytes: b) {
        case .success(let v): return v
        case .failure(let e): throw TraceError(file: path, location: .line(n), message: "TIMESTAMP: \(e.message)")
        }
    }

    private func count(_ b: UnsafeBufferPointer<UInt8>, _ name: String, _ n: Int) throws -> Int {
        var v = 0
        var ok = b.count > 0 && b.count <= 18
        if ok {
            for c in b {
                guard c >= 48 && c <= 57 else { ok = false; break }
                v = v * 10 + Int(c - 48)
            }
        }
        guard ok else {
            throw TraceError(file: path, location: .line(n),
                             message: "expected a non-negative integer for \"\(name)\", found \(quoteForError(bytes: b))")
        }
        return v
    }

    private func formatDelta(_ ns: Int64) -> String {
        if ns >= 1_000_000 { return "\(Double(ns) / 1e6) ms" }
        return "\(ns) ns"
    }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool { lowercased() == other.lowercased() }
}
