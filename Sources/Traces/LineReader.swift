// Lines of text over a ByteStream: "\n" and "\r\n" endings, a last line without a newline,
// 1-based line numbers, and a bound on the length of one line (so memory stays bounded).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public final class LineReader {
    public let stream: ByteStream
    public var path: String { stream.path }
    /// The number of the line last returned by `nextLine()` (1-based; 0 before the first).
    public private(set) var lineNumber = 0
    /// A line longer than this (in bytes, without its ending) is an error.
    public let maxLineLength: Int

    private var chunk = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    private var pos = 0
    private var carry: UnsafeMutablePointer<UInt8>
    private var carryCapacity: Int
    private var carryCount = 0
    private var ended = false

    public convenience init(path: String, maxLineLength: Int = 64 << 20) throws {
        try self.init(stream: ByteStream(path: path), maxLineLength: maxLineLength)
    }

    public init(stream: ByteStream, maxLineLength: Int = 64 << 20) {
        self.stream = stream
        self.maxLineLength = maxLineLength
        self.carryCapacity = 4096
        self.carry = .allocate(capacity: 4096)
    }

    deinit { carry.deallocate() }

    private func appendToCarry(_ p: UnsafePointer<UInt8>, _ n: Int) throws {
        if n == 0 { return }
        let need = carryCount + n
        if need > maxLineLength + 1 {   // +1: room for a '\r' before the '\n'
            throw TraceError(file: path, location: .line(lineNumber + 1),
                             message: "line longer than \(maxLineLength) bytes (expected one record per line)")
        }
        if need > carryCapacity {
            var cap = carryCapacity
            while cap < need { cap *= 2 }
            let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
            nb.update(from: carry, count: carryCount)
            carry.deallocate()
            carry = nb
            carryCapacity = cap
        }
        (carry + carryCount).update(from: p, count: n)
        carryCount = need
    }

    private func finish(_ start: UnsafePointer<UInt8>?, _ count: Int) throws -> UnsafeBufferPointer<UInt8> {
        var n = count
        if n > 0, let s = start, s[n - 1] == 13 { n -= 1 }   // "\r\n"
        if n > maxLineLength {
            throw TraceError(file: path, location: .line(lineNumber + 1),
                             message: "line longer than \(maxLineLength) bytes (expected one record per line)")
        }
        lineNumber += 1
        return UnsafeBufferPointer(start: start, count: n)
    }

    /// The next line without its ending, or nil at the end of the file. The bytes are valid
    /// only until the next call.
    public func nextLine() throws -> UnsafeBufferPointer<UInt8>? {
        carryCount = 0
        if ended { return nil }
        while true {
            if let base = chunk.baseAddress, pos < chunk.count {
                let start = base + pos
                let avail = chunk.count - pos
                if let nl = memchr(start, 10, avail) {
                    let len = UnsafePointer<UInt8>(nl.assumingMemoryBound(to: UInt8.self)) - start
                    pos += len + 1
                    if carryCount == 0 { return try finish(start, len) }
                    try appendToCarry(start, len)
                    return try finish(UnsafePointer(carry), carryCount)
                }
                try appendToCarry(start, avail)
                pos = chunk.count
            }
            guard let next = try stream.nextChunk() else {
                ended = true
                if carryCount > 0 { return try finish(UnsafePointer(carry), carryCount) }
                return nil
            }
            chunk = next
            pos = 0
        }
    }

    /// The next line as a String (invalid UTF-8 is an error), or nil at the end.
    public func nextLineString() throws -> String? {
        guard let l = try nextLine() else { return nil }
        guard let s = String(validating: l, as: UTF8.self) else {
            throw TraceError(file: path, location: .line(lineNumber), message: "invalid UTF-8 text")
        }
        return s
    }
}

/// A minimal CSV field splitter for one line (RFC 4180 quoting: `"a,b"`, `"say ""hi"""`).
/// Quoted fields that span lines are not supported: an unterminated quote is an error.
public enum CSV {
    /// Splits `line` into fields. Errors name `file` and `lineNumber`.
    public static func fields(_ line: UnsafeBufferPointer<UInt8>, file: String, lineNumber: Int) throws -> [String] {
        var fields: [String] = []
        var i = 0
        let n = line.count
        func err(_ m: String) -> TraceError { TraceError(file: file, location: .line(lineNumber), message: m) }
        func str(_ a: Int, _ b: Int) throws -> String {
            guard let s = String(validating: UnsafeBufferPointer(rebasing: line[a..<b]), as: UTF8.self) else {
                throw err("invalid UTF-8 in field \(fields.count + 1)")
            }
            return s
        }
        while true {
            if i < n && line[i] == 34 {   // quoted field
                var bytes: [UInt8] = []
                i += 1
                var closed = false
                while i < n {
                    let c = line[i]
                    if c == 34 {
                        if i + 1 < n && line[i + 1] == 34 { bytes.append(34); i += 2; continue }
                        closed = true; i += 1; break
                    }
                    bytes.append(c); i += 1
                }
                if !closed {
                    throw err("unterminated quoted field \(fields.count + 1) (expected a closing '\"' on the same line)")
                }
                guard let s = String(validating: bytes, as: UTF8.self) else { throw err("invalid UTF-8 in field \(fields.count + 1)") }
                fields.append(s)
                if i == n { return fields }
                if line[i] != 44 {
                    throw err("expected ',' or the end of the line after the closing quote of field \(fields.count), found \(quoteForError(String(decoding: [line[i]], as: UTF8.self)))")
                }
                i += 1
            } else {
                var j = i
                while j < n && line[j] != 44 {
                    if line[j] == 34 { throw err("unexpected '\"' inside unquoted field \(fields.count + 1)") }
                    j += 1
                }
                fields.append(try str(i, j))
                if j == n { return fields }
                i = j + 1
            }
        }
    }
}
