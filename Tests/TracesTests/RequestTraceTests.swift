import XCTest
@testable import Traces

final class RequestTraceTests: XCTestCase {
    /// First 1000 requests of the Azure conv trace. Expected from python:
    ///   rows = [l.split(',') for l in open('AzureLLMInferenceTrace_conv.csv').read().splitlines()[1:]][:1000]
    ///   ns(t) = calendar.timegm(time.strptime(date, '%Y-%m-%d %H:%M:%S')) * 10**9 + int(frac.ljust(9, '0'))
    /// -> first absolute 1700158546680590000, second 4314579000 ns after it, last 216027393000 ns,
    ///    sum ContextTokens 1014189, sum GeneratedTokens 247262.
    func testAzureConvFirst1000() throws {
        let r = try RequestTraceReader(path: Paths.azureConv)
        XCTAssertEqual(r.format, .azureCSV)
        var recs: [RequestRecord] = []
        while recs.count < 1000, let x = try r.next() { recs.append(x) }
        XCTAssertEqual(recs.count, 1000)
        XCTAssertEqual(r.firstTimestampNs, 1_700_158_546_680_590_000)
        XCTAssertEqual(recs[0], RequestRecord(arrivalNs: 0, inputTokens: 374, outputTokens: 44))
        XCTAssertEqual(recs[1].arrivalNs, 4_314_579_000)
        XCTAssertEqual(recs[999].arrivalNs, 216_027_393_000)
        XCTAssertEqual(r.lineNumber, 1001)   // header on line 1
        XCTAssertEqual(recs.reduce(0) { $0 + $1.inputTokens }, 1_014_189)
        XCTAssertEqual(recs.reduce(0) { $0 + $1.outputTokens }, 247_262)
        XCTAssertTrue(recs.allSatisfy { $0.hashIDs.isEmpty })
    }

    /// Whole Azure code trace (CRLF endings, no newline after the last row). python as above:
    /// 8819 requests, last at 3435948056000 ns, token sums 18059974 / 245896.
    func testAzureCodeWhole() throws {
        var n = 0, inSum = 0, outSum = 0
        var last: Int64 = -1
        try RequestTraceReader(path: Paths.azureCode).forEach { x in
            XCTAssertGreaterThanOrEqual(x.arrivalNs, last)
            n += 1; inSum += x.inputTokens; outSum += x.outputTokens; last = x.arrivalNs
        }
        XCTAssertEqual(n, 8819)
        XCTAssertEqual(last, 3_435_948_056_000)
        XCTAssertEqual(inSum, 18_059_974)
        XCTAssertEqual(outSum, 245_896)
    }

    /// Mooncake conversation trace, first 100 records. python:
    ///   rs = [json.loads(l) for l in zstd -dc ...][:100]
    /// -> rs[0] = {timestamp 0, input 6758, output 500, hash_ids 0..13}; rs[99] = {timestamp 33000,
    ///    input 916, output 265, hash_ids [0, 2934]}; sums: input 1524742, output 36758,
    ///    len(hash_ids) 3034, sum(hash_ids) 4305645.
    func testMooncakeFirst100() throws {
        let r = try RequestTraceReader(path: Paths.mooncakeConversation)
        XCTAssertEqual(r.format, .mooncakeJSONL)
        var recs: [RequestRecord] = []
        while recs.count < 100, let x = try r.next() { recs.append(x) }
        XCTAssertEqual(recs[0], RequestRecord(arrivalNs: 0, inputTokens: 6758, outputTokens: 500, hashIDs: Array(0...13)))
        XCTAssertEqual(recs[99], RequestRecord(arrivalNs: 33_000_000_000, inputTokens: 916, outputTokens: 265, hashIDs: [0, 2934]))
        XCTAssertEqual(recs.reduce(0) { $0 + $1.inputTokens }, 1_524_742)
        XCTAssertEqual(recs.reduce(0) { $0 + $1.outputTokens }, 36_758)
        XCTAssertEqual(recs.reduce(0) { $0 + $1.hashIDs.count }, 3034)
        XCTAssertEqual(recs.reduce(0) { $0 + $1.hashIDs.reduce(0, +) }, 4_305_645)
    }

    /// Whole Mooncake synthetic trace. python: 3993 records, last timestamp 1022025 ms,
    /// input 61194628, output 595432, sum(len(hash_ids)) 121877.
    func testMooncakeSyntheticWhole() throws {
        var n = 0, inSum = 0, outSum = 0, h = 0
        var last: Int64 = 0
        try RequestTraceReader(path: Paths.mooncakeSynthetic).forEach { x in
            n += 1; inSum += x.inputTokens; outSum += x.outputTokens; h += x.hashIDs.count; last = x.arrivalNs
        }
        XCTAssertEqual(n, 3993)
        XCTAssertEqual(last, 1_022_025_000_000)
        XCTAssertEqual(inSum, 61_194_628)
        XCTAssertEqual(outSum, 595_432)
        XCTAssertEqual(h, 121_877)
    }

    func testFormatFromNameOrContent() throws {
        XCTAssertEqual(RequestTraceFormat.fromName("a/b/x.CSV.zst"), .azureCSV)
        XCTAssertEqual(RequestTraceFormat.fromName("x.jsonl.gz"), .mooncakeJSONL)
        XCTAssertNil(RequestTraceFormat.fromName("x.json"))
        let t = try TempDir()
        // No telling extension: sniffed from the first line. Columns in another order, BOM, blank lines at the end.
        let csv = try t.write("trace.txt", "\u{FEFF}GeneratedTokens,TIMESTAMP,ContextTokens\n5,2023-11-16 18:15:46.5,10\n6,2023-11-16 18:15:47,11\n\n\n")
        let r = try RequestTraceReader(path: csv)
        XCTAssertEqual(r.format, .azureCSV)
        XCTAssertEqual(try r.next(), RequestRecord(arrivalNs: 0, inputTokens: 10, outputTokens: 5))
        XCTAssertEqual(try r.next(), RequestRecord(arrivalNs: 500_000_000, inputTokens: 11, outputTokens: 6))
        XCTAssertNil(try r.next())
        let jl = try t.write("trace.log", "{\"timestamp\": 1.5, \"input_length\": 3, \"output_length\": 4, \"hash_ids\": []}\n{\"timestamp\": 2, \"input_length\": 1, \"output_length\": 2, \"hash_ids\": [9]}")
        let m = try RequestTraceReader(path: jl)
        XCTAssertEqual(m.format, .mooncakeJSONL)
        XCTAssertEqual(try m.next(), RequestRecord(arrivalNs: 0, inputTokens: 3, outputTokens: 4))
        XCTAssertEqual(try m.next(), RequestRecord(arrivalNs: 500_000, inputTokens: 1, outputTokens: 2, hashIDs: [9]))
        XCTAssertNil(try m.next())
        XCTAssertEqual(m.firstTimestampNs, 1_500_000)
    }

    /// RequestTraceStats over the whole Azure conv trace. python (nearest-rank percentiles,
    /// s = sorted(v); s[max(1, ceil(p/100*n)) - 1]): 19366 requests, mean input 1154.697..,
    /// mean output 211.1259.., p50/p99 input 1020/4142, output 129/601,
    /// rate (n-1)/3501.721937 s = 5.53013...
    func testRequestStats() throws {
        var st = RequestTraceStats()
        try RequestTraceReader(path: Paths.azureConv).forEach { st.add($0) }
        XCTAssertEqual(st.count, 19_366)
        XCTAssertEqual(st.durationNs, 3_501_721_937_000)
        XCTAssertEqual(st.meanInputTokens, 1154.6974078281523, accuracy: 1e-9)
        XCTAssertEqual(st.meanOutputTokens, 211.12594237323142, accuracy: 1e-9)
        XCTAssertEqual(st.inputTokensPercentile(50), 1020)
        XCTAssertEqual(st.inputTokensPercentile(99), 4142)
        XCTAssertEqual(st.outputTokensPercentile(50), 129)
        XCTAssertEqual(st.outputTokensPercentile(99), 601)
        XCTAssertEqual(st.arrivalRatePerSecond ?? 0, 5.5301364152832795, accuracy: 1e-9)
        XCTAssertNil(RequestTraceStats().inputTokensPercentile(50))
    }
}
