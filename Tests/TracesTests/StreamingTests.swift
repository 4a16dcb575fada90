import CZstd
import Foundation
import XCTest
@testable import Traces

/// Reads a large synthetic trace generated on the fly (zstd-compressed with libzstd, written
/// in frames of ~4 MB, never held whole in memory) and checks the record count and sums,
/// which are known by construction. No time or memory is asserted here: speed is measured
/// by hand in release builds (see Traces/README.md).
final class StreamingTests: XCTestCase {
    func testLargeCompressedAzureCSV() throws {
        let t = try TempDir()
        let path = t.path("big.csv.zst")
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let out = FileHandle(forWritingAtPath: path) else { return XCTFail("cannot create \(path)") }
        let rows = 1_400_000                        // ~50 MB of CSV text
        var block: [UInt8] = Array("TIMESTAMP,ContextTokens,GeneratedTokens\r\n".utf8)
        block.reserveCapacity(4 << 20 + 100)
        var rawBytes = block.count
        var dst = [UInt8](repeating: 0, count: ZSTD_compressBound(4 << 20 + 100))
        func flush() throws {
            let n = block.withUnsafeBytes { src in
                dst.withUnsafeMutableBytes { d in ZSTD_compress(d.baseAddress, d.count, src.baseAddress, src.count, 1) }
            }
            XCTAssertEqual(ZSTD_isError(n), 0)
            out.write(Data(dst[0..<n]))
            block.removeAll(keepingCapacity: true)
        }
        // Row i: second i/1000 of 2023-11-16 from 00:00:00, i ms steps; input i % 5000, output 1 + i % 7.
        // "2023-11-16 HH:MM:SS.fffffff,IN,OUT\r\n"
        let prefix = Array("2023-11-16 ".utf8)
        func appendNumber(_ v: Int, width: Int) {
            var digits = [UInt8](repeating: 48, count: width)
            var x = v
            var k = width - 1
            while k >= 0 { digits[k] = UInt8(48 + x % 10); x /= 10; k -= 1 }
            block.append(contentsOf: digits)
        }
        var expectedIn = 0, expectedOut = 0
        for i in 0..<rows {
            let ms = i
            let s = ms / 1000
            block.append(contentsOf: prefix)
            appendNumber(s / 3600, width: 2); block.append(58)
            appendNumber(s / 60 % 60, width: 2); block.append(58)
            appendNumber(s % 60, width: 2); block.append(46)
            appendNumber(ms % 1000, width: 3); block.append(contentsOf: [48, 48, 48, 48, 44])
            let inTok = i % 5000, outTok = 1 + i % 7
            expectedIn += inTok; expectedOut += outTok
            block.append(contentsOf: Array(String(inTok).utf8)); block.append(44)
            block.append(contentsOf: Array(String(outTok).utf8)); block.append(contentsOf: [13, 10])
            if block.count >= 4 << 20 { rawBytes += block.count; try flush() }
        }
        rawBytes += block.count
        try flush()
        try out.close()
        XCTAssertGreaterThan(rawBytes, 45_000_000)

        var n = 0, inSum = 0, outSum = 0
        var last: Int64 = -1
        var offGrid = 0
        try RequestTraceReader(path: path).forEach { r in
            if r.arrivalNs != Int64(n) * 1_000_000 { offGrid += 1 }   // 1 ms apart, exactly
            n += 1; inSum += r.inputTokens; outSum += r.outputTokens; last = r.arrivalNs
        }
        XCTAssertEqual(n, rows)
        XCTAssertEqual(offGrid, 0)
        XCTAssertEqual(inSum, expectedIn)
        XCTAssertEqual(outSum, expectedOut)
        XCTAssertEqual(last, Int64(rows - 1) * 1_000_000)
    }
}
