import XCTest
@testable import Traces

final class ByteStreamTests: XCTestCase {
    /// Reads a whole file through ByteStream; returns (compression, byte count, FNV-1a 64, chunk sizes ok).
    func digest(_ path: String, chunkSize: Int = 1 << 18) throws -> (TraceCompression, Int, UInt64) {
        let s = try ByteStream(path: path, chunkSize: chunkSize)
        var n = 0
        var f = FNV1a()
        var sawShort = false
        try s.forEachChunk { c in
            // Every chunk but the last is exactly chunkSize bytes.
            XCTAssertFalse(sawShort, "a short chunk before the last one")
            if c.count != chunkSize { sawShort = true }
            XCTAssertGreaterThan(c.count, 0)
            n += c.count
            f.add(c)
        }
        XCTAssertNil(try s.nextChunk(), "reads after the end return nil")
        return (s.compression, n, f.h)
    }

    // Expected sizes and FNV-1a 64 digests computed independently in python:
    //   b = subprocess.run(['zcat' or 'zstdcat', f], capture_output=True).stdout
    //   h = 0xcbf29ce484222325; for x in b: h = ((h ^ x) * 0x100000001b3) & (2**64 - 1)
    func testGzipRealTrace() throws {
        let (c, n, h) = try digest(Paths.alexnet)
        XCTAssertEqual(c, .gzip)
        XCTAssertEqual(n, 319_512)
        XCTAssertEqual(h, 0x23a7_5d76_bb98_3e8e)
    }

    func testGzipSmallChunks() throws {
        // Odd chunk size: chunk boundaries fall everywhere.
        let (_, n, h) = try digest(Paths.alexnet, chunkSize: 4093)
        XCTAssertEqual(n, 319_512)
        XCTAssertEqual(h, 0x23a7_5d76_bb98_3e8e)
    }

    func testZstdRealTrace() throws {
        // Same bytes as the original AzureLLMInferenceTrace_code.csv (320117 bytes, `ls -l`).
        let (c, n, h) = try digest(Paths.azureCode, chunkSize: 10_000)
        XCTAssertEqual(c, .zstd)
        XCTAssertEqual(n, 320_117)
        XCTAssertEqual(h, 0x8bc5_85ca_2403_0182)
    }

    func testMultiMemberGzipAndMultiFrameZstd() throws {
        // Both fixtures hold the same 37212 bytes (header + first 1000 rows of the Azure conv
        // trace), split in two gzip members / two zstd frames (made with python gzip.compress
        // and `zstd` + `cat`).
        let (c1, n1, h1) = try digest(Paths.fixture("azure-two-members.csv.gz"), chunkSize: 1000)
        XCTAssertEqual(c1, .gzip)
        XCTAssertEqual(n1, 37_212)
        XCTAssertEqual(h1, 0xed1f_7635_eed0_57d1)
        let (c2, n2, h2) = try digest(Paths.fixture("azure-two-frames.csv.zst"), chunkSize: 1000)
        XCTAssertEqual(c2, .zstd)
        XCTAssertEqual(n2, 37_212)
        XCTAssertEqual(h2, 0xed1f_7635_eed0_57d1)
    }

    func testPlainAndTinyFiles() throws {
        let t = try TempDir()
        let empty = try t.write("empty.txt", "")
        let (c0, n0, _) = try digest(empty)
        XCTAssertEqual(c0, .none)
        XCTAssertEqual(n0, 0)
        // One byte that starts like gzip magic but is too short to be gzip: plain.
        let one = try t.write("one.bin", bytes: [0x1F])
        let (c1, n1, _) = try digest(one)
        XCTAssertEqual(c1, .none)
        XCTAssertEqual(n1, 1)
        let text = try t.write("plain.txt", "hello\nworld")
        let s = try ByteStream(path: text, chunkSize: 4)
        var all: [UInt8] = []
        try s.forEachChunk { all.append(contentsOf: $0) }
        XCTAssertEqual(String(decoding: all, as: UTF8.self), "hello\nworld")
        XCTAssertEqual(s.decompressedOffset, 11)
    }

    func testTruncatedZstd() {
        // The alexnet trace recompressed with `zstd -19` and cut with `head -c 12000`.
        assertTraceError({ _ = try self.digest(Paths.fixture("truncated.json.zst")) },
                         fileName: "truncated.json.zst", location: "compressed byte 12000", "truncated zstd")
    }

    func testTruncatedGzip() {
        // `head -c 12000 a100-alexnet.json.gz`.
        assertTraceError({ _ = try self.digest(Paths.fixture("truncated.json.gz")) },
                         fileName: "truncated.json.gz", location: "compressed byte 12000", "truncated gzip")
    }

    func testCorruptGzip() {
        // a100-alexnet.json.gz with bytes 5000..5039 XORed with 0x5A.
        assertTraceError({ _ = try self.digest(Paths.fixture("corrupt.json.gz")) },
                         fileName: "corrupt.json.gz", location: "compressed byte", "corrupt gzip data")
    }

    func testTrailingGarbageAfterGzipMember() throws {
        let t = try TempDir()
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("azure-two-members.csv.gz"))))
        bytes.append(contentsOf: Array("garbage!".utf8))
        let p = try t.write("garbage.csv.gz", bytes: bytes)
        assertTraceError({ _ = try self.digest(p) }, fileName: "garbage.csv.gz", location: "compressed byte",
                         "after member 2")
    }

    func testMissingFile() {
        assertTraceError({ _ = try ByteStream(path: "/nonexistent/dir/x.json.gz") },
                         fileName: "/nonexistent/dir/x.json.gz", location: "", "cannot open")
    }
}
