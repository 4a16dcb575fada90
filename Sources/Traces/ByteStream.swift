// Compressed byte streams: open a file, detect zstd/gzip by magic bytes, and yield the
// decompressed bytes in fixed-size chunks with constant memory.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import CZstd

/// The compression of a file, detected from its first bytes (not from its name).
public enum TraceCompression: String, Sendable, Equatable {
    /// Anything that does not start with a zstd or gzip magic number.
    case none
    /// Starts with 1F 8B. One or more concatenated gzip members.
    case gzip
    /// Starts with 28 B5 2F FD. One or more concatenated zstd frames (skippable frames allowed).
    case zstd
}

/// Reads a file and yields its decompressed bytes in chunks of at most `chunkSize` bytes
/// (every chunk but the last is exactly `chunkSize` long). Memory use is a fixed input buffer,
/// a fixed output buffer and the decompressor's own state, whatever the file's length.
///
/// A truncated or corrupt compressed stream is a `TraceError` (never a short read that looks
/// like a complete file).
public final class ByteStream {
    /// The path as given.
    public let path: String
    /// Detected from the magic bytes at the start of the file.
    public private(set) var compression: TraceCompression = .none
    /// Decompressed bytes handed out so far (the offset of the next chunk's first byte).
    public private(set) var decompressedOffset: Int64 = 0
    /// Compressed bytes read from the file so far.
    public private(set) var compressedOffset: Int64 = 0

    public let chunkSize: Int

    private var fd: Int32 = -1
    private let inCapacity: Int
    private let inBuf: UnsafeMutablePointer<UInt8>
    private var inStart = 0          // next unread byte of inBuf
    private var inEnd = 0            // end of valid bytes in inBuf
    private var fileEOF = false
    private let outBuf: UnsafeMutablePointer<UInt8>
    private var finished = false

    // zstd
    private var zstdStream: OpaquePointer? = nil
    private var zstdHint: Int = 0     // last return of ZSTD_decompressStream; 0 = at a frame boundary
    // gzip
    private var zs: UnsafeMutablePointer<z_stream>? = nil
    private var gzipInMember = false  // inside a member (its header seen, Z_STREAM_END not yet)
    private var gzipMembers = 0

    /// Opens `path` and reads its first bytes to detect the compression.
    public init(path: String, chunkSize: Int = 1 << 18) throws {
        self.path = path
        self.chunkSize = max(16, chunkSize)
        self.inCapacity = max(ZSTD_DStreamInSize(), 1 << 17)
        self.inBuf = .allocate(capacity: inCapacity)
        self.outBuf = .allocate(capacity: self.chunkSize)
        fd = open(path, O_RDONLY)
        if fd < 0 {
            let e = errno
            throw TraceError(file: path, location: .file, message: "cannot open: \(String(cString: strerror(e)))")
        }
        // Read until we have 4 bytes or the file ends, to look at the magic number.
        while inEnd < 4 && !fileEOF { try fill() }
        let n = inEnd - inStart
        if n >= 4 && inBuf[0] == 0x28 && inBuf[1] == 0xB5 && inBuf[2] == 0x2F && inBuf[3] == 0xFD {
            compression = .zstd
            guard let s = ZSTD_createDStream() else {
                throw TraceError(file: path, location: .file, message: "zstd: cannot allocate a decompression stream")
            }
            zstdStream = s
            let r = ZSTD_initDStream(s)
            if ZSTD_isError(r) != 0 {
                throw TraceError(file: path, location: .file, message: "zstd: \(String(cString: ZSTD_getErrorName(r)))")
            }
        } else if n >= 2 && inBuf[0] == 0x1F && inBuf[1] == 0x8B {
            compression = .gzip
            let p = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            p.initialize(to: z_stream())
            // 16 + MAX_WBITS: expect a gzip header and trailer.
            let r = inflateInit2_(p, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            if r != Z_OK {
                p.deinitialize(count: 1); p.deallocate()
                throw TraceError(file: path, location: .file, message: "gzip: inflateInit2 failed (\(r))")
            }
            zs = p
        }
    }

    deinit {
        close()
        inBuf.deallocate()
        outBuf.deallocate()
    }

    /// Releases the file and the decompressor. Further reads return nil.
    public func close() {
        if fd >= 0 { _ = Glibc_close(fd); fd = -1 }
        if let s = zstdStream { ZSTD_freeDStream(s); zstdStream = nil }
        if let p = zs { inflateEnd(p); p.deinitialize(count: 1); p.deallocate(); zs = nil }
        finished = true
    }

    /// Reads more of the file into inBuf (compacting it first). Sets fileEOF at end of file.
    private func fill() throws {
        if inStart > 0 {
            let n = inEnd - inStart
            if n > 0 { memmove(inBuf, inBuf + inStart, n) }
            inStart = 0
            inEnd = n
        }
        while inEnd < inCapacity {
            let r = read(fd, inBuf + inEnd, inCapacity - inEnd)
            if r < 0 {
                if errno == EINTR { continue }
                let e = errno
                throw TraceError(file: path, location: .compressedByteOffset(compressedOffset),
                                 message: "read failed: \(String(cString: strerror(e)))")
            }
            if r == 0 { fileEOF = true; return }
            inEnd += r
            compressedOffset += Int64(r)
            return
        }
    }

    /// The next chunk of decompressed bytes, or nil at the end. The buffer is owned by the
    /// stream and valid only until the next call.
    public func nextChunk() throws -> UnsafeBufferPointer<UInt8>? {
        if finished { return nil }
        let n: Int
        switch compression {
        case .none: n = try readPlain()
        case .zstd: n = try readZstd()
        case .gzip: n = try readGzip()
        }
        if n == 0 { finished = true; return nil }
        decompressedOffset += Int64(n)
        return UnsafeBufferPointer(start: outBuf, count: n)
    }

    /// Calls `body` with every chunk until the end of the stream.
    public func forEachChunk(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        while let c = try nextChunk() { try body(c) }
    }

    private func readPlain() throws -> Int {
        var out = 0
        while out < chunkSize {
            if inStart == inEnd {
                if fileEOF { break }
                try fill()
                continue
            }
            let k = min(chunkSize - out, inEnd - inStart)
            memcpy(outBuf + out, inBuf + inStart, k)
            inStart += k
            out += k
        }
        return out
    }

    /// Offset in the file of the first compressed byte not yet consumed by the decoder.
    private var consumedCompressedOffset: Int64 { compressedOffset - Int64(inEnd - inStart) }

    private func readZstd() throws -> Int {
        guard let ds = zstdStream else { return 0 }
        var output = ZSTD_outBuffer(dst: UnsafeMutableRawPointer(outBuf), size: chunkSize, pos: 0)
        while output.pos < output.size {
            if inStart == inEnd && !fileEOF { try fill() }
            let atEOF = inStart == inEnd && fileEOF
            if atEOF && zstdHint == 0 { break }            // at a frame boundary: a clean end
            var input = ZSTD_inBuffer(src: UnsafeRawPointer(inBuf + inStart), size: inEnd - inStart, pos: 0)
            let before = output.pos
            let r = ZSTD_decompressStream(ds, &output, &input)
            inStart += input.pos
            if ZSTD_isError(r) != 0 {
                throw TraceError(file: path, location: .compressedByteOffset(consumedCompressedOffset),
                                 message: "corrupt zstd data: \(String(cString: ZSTD_getErrorName(r)))")
            }
            zstdHint = r
            if atEOF && output.pos == before && r != 0 {
                // No input left, no progress, and the decoder still expects more of the frame.
                throw TraceError(file: path, location: .compressedByteOffset(compressedOffset),
                                 message: "truncated zstd stream: the file ends in the middle of a frame")
            }
        }
        return output.pos
    }

    private func readGzip() throws -> Int {
        guard let z = zs else { return 0 }
        z.pointee.next_out = outBuf
        z.pointee.avail_out = UInt32(chunkSize)
        while z.pointee.avail_out > 0 {
            if inStart == inEnd && !fileEOF { try fill() }
            let atEOF = inStart == inEnd && fileEOF
            if atEOF && !gzipInMember { break }           // between members: a clean end
            let avail = inEnd - inStart
            z.pointee.next_in = inBuf + inStart
            z.pointee.avail_in = UInt32(avail)
            let outBefore = z.pointee.avail_out
            if avail > 0 { gzipInMember = true }
            let r = inflate(z, Z_NO_FLUSH)
            inStart += avail - Int(z.pointee.avail_in)
            switch r {
            case Z_OK:
                break
            case Z_STREAM_END:
                gzipInMember = false
                gzipMembers += 1
                // Another member may follow (multi-member gzip, e.g. `cat a.gz b.gz`).
                if inflateReset(z) != Z_OK {
                    throw TraceError(file: path, location: .compressedByteOffset(consumedCompressedOffset),
                                     message: "gzip: inflateReset failed")
                }
            case Z_BUF_ERROR:
                // No progress possible: either more input is needed, or the stream is cut short.
                if atEOF {
                    throw TraceError(file: path, location: .compressedByteOffset(compressedOffset),
                                     message: "truncated gzip stream: the file ends before the end of member \(gzipMembers + 1)")
                }
            default:
                let msg = z.pointee.msg.map { String(cString: $0) } ?? "error \(r)"
                let what = gzipMembers > 0 && r == Z_DATA_ERROR
                    ? "corrupt gzip data after member \(gzipMembers) (not another gzip member): \(msg)"
                    : "corrupt gzip data: \(msg)"
                throw TraceError(file: path, location: .compressedByteOffset(consumedCompressedOffset), message: what)
            }
            if atEOF && gzipInMember && z.pointee.avail_out == outBefore && r != Z_STREAM_END {
                throw TraceError(file: path, location: .compressedByteOffset(compressedOffset),
                                 message: "truncated gzip stream: the file ends before the end of member \(gzipMembers + 1)")
            }
        }
        return chunkSize - Int(z.pointee.avail_out)
    }
}

@inline(__always) private func Glibc_close(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #elseif canImport(Musl)
    return Musl.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}
