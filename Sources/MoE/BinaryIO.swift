// Little-endian binary reading over a (possibly compressed) ByteStream, and writing to a file,
// optionally through zstd. Used by the routing-trace format.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZstd
import Traces

/// IEEE 754 half precision to single, by bit manipulation (no platform Float16 needed).
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = Int32((h >> 10) & 0x1F)
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        // Subnormal: value = mant · 2^-24.
        let v = Float(mant) * 0x1p-24
        return sign != 0 ? -v : v
    }
    if exp == 31 {
        return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
    }
    return Float(bitPattern: sign | (UInt32(exp + 112) << 23) | (mant << 13))
}

/// Single to IEEE 754 half precision, rounding to nearest even.
func floatToHalf(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exp = Int32((bits >> 23) & 0xFF)
    var mant = bits & 0x7F_FFFF
    if exp == 255 { return sign | 0x7C00 | (mant != 0 ? 0x200 : 0) }
    var e = exp - 127 + 15
    if e >= 31 { return sign | 0x7C00 }
    if e <= 0 {
        if e < -10 { return sign }
        mant |= 0x80_0000
        let shift = UInt32(14 - e)
        var half = mant >> shift
        let rem = mant & ((1 << shift) - 1)
        let halfway = UInt32(1) << (shift - 1)
        if rem > halfway || (rem == halfway && (half & 1) == 1) { half += 1 }
        return sign | UInt16(half)
    }
    var half = UInt32(e) << 10 | (mant >> 13)
    let rem = mant & 0x1FFF
    if rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1) { half += 1 }
    if half >= 0x7C00 { e = 31; return sign | 0x7C00 }
    return sign | UInt16(half)
}

/// Sequential little-endian reads from a ByteStream. Reading past the end throws `TraceError`
/// with the decompressed byte offset; callers add the record they were reading.
final class BinaryReader {
    let stream: ByteStream
    var path: String { stream.path }
    private var chunk = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    private var pos = 0
    private var chunkStart: Int64 = 0
    private(set) var atEnd = false

    init(stream: ByteStream) { self.stream = stream }

    /// Decompressed offset of the next byte.
    var offset: Int64 { chunkStart + Int64(pos) }

    @inline(__always) private func refill() throws -> Bool {
        if atEnd { return false }
        chunkStart += Int64(chunk.count)
        pos = 0
        guard let next = try stream.nextChunk() else {
            chunk = UnsafeBufferPointer(start: nil, count: 0)
            atEnd = true
            return false
        }
        chunk = next
        return true
    }

    /// True when no byte is left.
    func isAtEnd() throws -> Bool {
        if pos < chunk.count { return false }
        return try !refill()
    }

    struct EndOfData: Error { let offset: Int64 }

    /// Copies `count` bytes into `dst`.
    func read(into dst: UnsafeMutableRawPointer, count: Int) throws {
        var done = 0
        while done < count {
            if pos >= chunk.count {
                guard try refill() else { throw EndOfData(offset: offset) }
            }
            let k = min(count - done, chunk.count - pos)
            memcpy(dst + done, chunk.baseAddress! + pos, k)
            pos += k
            done += k
        }
    }

    @inline(__always) func readU8() throws -> UInt8 {
        if pos >= chunk.count { guard try refill() else { throw EndOfData(offset: offset) } }
        let b = chunk[pos]
        pos += 1
        return b
    }

    func readU16() throws -> UInt16 { var v: UInt16 = 0; try read(into: &v, count: 2); return UInt16(littleEndian: v) }
    func readU32() throws -> UInt32 { var v: UInt32 = 0; try read(into: &v, count: 4); return UInt32(littleEndian: v) }
    func readU64() throws -> UInt64 { var v: UInt64 = 0; try read(into: &v, count: 8); return UInt64(littleEndian: v) }
    func readI64() throws -> Int64 { Int64(bitPattern: try readU64()) }
    func readF32() throws -> Float { Float(bitPattern: try readU32()) }

    /// Reads bytes up to and including `terminator` (not returned), at most `limit` bytes.
    func readLine(limit: Int) throws -> [UInt8]? {
        var out: [UInt8] = []
        while true {
            if pos >= chunk.count { guard try refill() else { return out.isEmpty ? nil : out } }
            let b = chunk[pos]
            pos += 1
            if b == 10 { return out }
            out.append(b)
            if out.count > limit { return out }
        }
    }
}

/// Writes bytes to a file, through zstd when `compress` is set. Errors name the file.
public final class BinaryWriter {
    public let path: String
    private var file: UnsafeMutablePointer<FILE>?
    private var cstream: OpaquePointer?
    private var buffer: [UInt8] = []
    private let outCapacity: Int
    private var outBuf: UnsafeMutablePointer<UInt8>
    private var closed = false

    public init(path: String, compress: Bool, level: Int32 = 6) throws {
        self.path = path
        guard let f = fopen(path, "wb") else {
            throw MoEConfigError(file: path, keyPath: "", message: "cannot create the file: \(String(cString: strerror(errno)))")
        }
        file = f
        outCapacity = ZSTD_CStreamOutSize()
        outBuf = .allocate(capacity: outCapacity)
        buffer.reserveCapacity(1 << 17)
        if compress {
            guard let cs = ZSTD_createCStream() else {
                throw MoEConfigError(file: path, keyPath: "", message: "zstd: cannot allocate a compression stream")
            }
            cstream = cs
            ZSTD_initCStream(cs, level)
        }
    }

    deinit {
        if !closed { try? close() }
        outBuf.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes.bindMemory(to: UInt8.self))
        if buffer.count >= 1 << 17 { try flushBuffer(end: false) }
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
    public func writeU8(_ v: UInt8) throws { buffer.append(v); if buffer.count >= 1 << 17 { try flushBuffer(end: false) } }
    public func writeU16(_ v: UInt16) throws { var x = v.littleEndian; try withUnsafeBytes(of: &x) { try write($0) } }
    public func writeU32(_ v: UInt32) throws { var x = v.littleEndian; try withUnsafeBytes(of: &x) { try write($0) } }
    public func writeU64(_ v: UInt64) throws { var x = v.littleEndian; try withUnsafeBytes(of: &x) { try write($0) } }
    public func writeI64(_ v: Int64) throws { try writeU64(UInt64(bitPattern: v)) }
    public func writeF32(_ v: Float) throws { try writeU32(v.bitPattern) }

    private func rawWrite(_ p: UnsafeRawPointer, _ n: Int) throws {
        if n == 0 { return }
        if fwrite(p, 1, n, file) != n {
            throw MoEConfigError(file: path, keyPath: "", message: "write failed: \(String(cString: strerror(errno)))")
        }
    }

    private func flushBuffer(end: Bool) throws {
        if let cs = cstream {
            try buffer.withUnsafeBytes { raw in
                var input = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
                repeat {
                    var output = ZSTD_outBuffer(dst: UnsafeMutableRawPointer(outBuf), size: outCapacity, pos: 0)
                    let r = end ? ZSTD_compressStream2(cs, &output, &input, ZSTD_e_end)
                                : ZSTD_compressStream2(cs, &output, &input, ZSTD_e_continue)
                    if ZSTD_isError(r) != 0 {
                        throw MoEConfigError(file: path, keyPath: "", message: "zstd: \(String(cString: ZSTD_getErrorName(r)))")
                    }
                    try rawWrite(outBuf, output.pos)
                    if end && r == 0 && input.pos == input.size { break }
                    if !end && input.pos == input.size { break }
                } while true
            }
        } else {
            try buffer.withUnsafeBytes { try rawWrite($0.baseAddress!, $0.count) }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws {
        if closed { return }
        closed = true
        try flushBuffer(end: true)
        if let cs = cstream { ZSTD_freeCStream(cs); cstream = nil }
        if fclose(file) != 0 {
            throw MoEConfigError(file: path, keyPath: "", message: "close failed: \(String(cString: strerror(errno)))")
        }
        file = nil
    }
}
