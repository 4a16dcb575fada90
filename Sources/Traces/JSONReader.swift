// A streaming JSON reader over decompressed byte chunks: it never holds more than one chunk
// of the file plus the value being materialised. Callers walk the outer structure themselves
// (`peek`, `consume`, `readString`) and materialise (`readValue`) or skip (`skipValue`)
// one element at a time.

/// Streaming JSON reader. Errors are `TraceError`s at the decompressed byte offset.
public final class JSONReader {
    public let path: String
    private let stream: ByteStream?
    private var buf: UnsafeBufferPointer<UInt8>
    private var pos = 0
    private var bufOffset: Int64 = 0          // decompressed offset of buf[0]
    private var atEnd = false
    private var scratch: [UInt8] = []
    /// Deepest nesting of arrays/objects accepted.
    public var maxDepth = 256
    /// Longest string accepted, in bytes (keeps memory bounded on malformed input).
    public var maxStringLength = 64 << 20
    /// Location reported in errors: by default the byte offset; a caller may set a line.
    public var errorLine: Int? = nil

    /// Reads the (decompressed) contents of `stream`.
    public init(stream: ByteStream) {
        self.path = stream.path
        self.stream = stream
        self.buf = UnsafeBufferPointer(start: nil, count: 0)
    }

    /// Reads JSON from bytes already in memory (e.g. one line of a JSONL file). The bytes must
    /// stay valid while the reader is used.
    public init(bytes: UnsafeBufferPointer<UInt8>, path: String, line: Int? = nil) {
        self.path = path
        self.stream = nil
        self.buf = bytes
        self.errorLine = line
    }

    /// Offset (in the decompressed text) of the next unread byte.
    public var offset: Int64 { bufOffset + Int64(pos) }

    public func error(_ message: String, at off: Int64? = nil) -> TraceError {
        if let l = errorLine { return TraceError(file: path, location: .line(l), message: message) }
        return TraceError(file: path, location: .byteOffset(off ?? offset), message: message)
    }

    @inline(__always) private func refill() throws -> Bool {
        if atEnd { return false }
        guard let s = stream, let next = try s.nextChunk() else {
            bufOffset += Int64(buf.count)
            buf = UnsafeBufferPointer(start: nil, count: 0)
            pos = 0
            atEnd = true
            return false
        }
        bufOffset += Int64(buf.count)
        buf = next
        pos = 0
        return true
    }

    /// The next byte that is not JSON whitespace, without consuming it; nil at end of input.
    @inline(__always) public func peek() throws -> UInt8? {
        while true {
            // Work on locals: one access to the stored properties per call, not per byte.
            let b = buf
            var p = pos
            let n = b.count
            while p < n {
                let c = b[p]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { p += 1; continue }
                pos = p
                return c
            }
            pos = p
            if try !refill() { return nil }
        }
    }

    /// Consumes the byte `peek()` returned.
    @inline(__always) public func consume() { pos += 1 }

    /// A byte as text for messages.
    static func show(_ c: UInt8?) -> String {
        guard let c else { return "the end of the input" }
        if c >= 0x20 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x\(String(c, radix: 16, uppercase: true))"
    }

    /// Consumes `c` (after whitespace) or throws "expected <what>".
    public func expect(_ c: UInt8, _ what: @autoclosure () -> String) throws {
        let p = try peek()
        guard p == c else { throw error("expected \(what()), found \(JSONReader.show(p))") }
        pos += 1
    }

    @inline(__always) private func nextRawByte() throws -> UInt8? {
        if pos >= buf.count { if try !refill() { return nil } }
        let c = buf[pos]
        pos += 1
        return c
    }

    // MARK: strings

    /// Reads a string; the next non-whitespace byte must be '"'.
    public func readString() throws -> String {
        let start = offset
        guard try peek() == 0x22 else { throw error("expected a string, found \(JSONReader.show(try peek()))") }
        pos += 1
        // Fast path: the whole string is in this chunk and has no escapes.
        if let base = buf.baseAddress {
            let p0 = pos
            var i = p0
            let n = buf.count
            var high: UInt8 = 0
            while i < n {
                let c = base[i]
                if c == 0x22 || c == 0x5C || c < 0x20 { break }
                high |= c
                i += 1
            }
            if i < n && base[i] == 0x22 {
                let bytes = UnsafeBufferPointer(start: base + p0, count: i - p0)
                let s: String
                if high < 0x80 {
                    s = String(decoding: bytes, as: UTF8.self)   // ASCII: nothing to validate
                } else {
                    guard let v = String(validating: bytes, as: UTF8.self) else {
                        throw error("invalid UTF-8 in a string", at: start)
                    }
                    s = v
                }
                pos = i + 1
                return s
            }
        }
        return try readStringSlow(start: start)
    }

    private func readStringSlow(start: Int64) throws -> String {
        scratch.removeAll(keepingCapacity: true)
        while true {
            guard let c = try nextRawByte() else { throw error("unterminated string (the input ends inside it)", at: start) }
            if c == 0x22 { break }
            if c < 0x20 { throw error("control character 0x\(String(c, radix: 16)) inside a string (expected it escaped)", at: offset - 1) }
            if c == 0x5C {
                guard let e = try nextRawByte() else { throw error("unterminated string (the input ends inside it)", at: start) }
                switch e {
                case 0x22: scratch.append(0x22)
                case 0x5C: scratch.append(0x5C)
                case 0x2F: scratch.append(0x2F)
                case 0x62: scratch.append(0x08)
                case 0x66: scratch.append(0x0C)
                case 0x6E: scratch.append(0x0A)
                case 0x72: scratch.append(0x0D)
                case 0x74: scratch.append(0x09)
                case 0x75:
                    var u = try readHex4()
                    if u >= 0xD800 && u < 0xDC00 {
                        guard try nextRawByte() == 0x5C, try nextRawByte() == 0x75 else {
                            throw error("unpaired UTF-16 surrogate \\u\(String(u, radix: 16)) in a string", at: offset)
                        }
                        let lo = try readHex4()
                        guard lo >= 0xDC00 && lo < 0xE000 else {
                            throw error("unpaired UTF-16 surrogate \\u\(String(u, radix: 16)) in a string", at: offset)
                        }
                        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                    } else if u >= 0xDC00 && u < 0xE000 {
                        throw error("unpaired UTF-16 surrogate \\u\(String(u, radix: 16)) in a string", at: offset)
                    }
                    guard let scalar = Unicode.Scalar(u) else { throw error("invalid \\u escape", at: offset) }
                    scratch.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string", at: offset - 2)
                }
            } else {
                scratch.append(c)
            }
            if scratch.count > maxStringLength {
                throw error("string longer than \(maxStringLength) bytes", at: start)
            }
        }
        guard let s = String(validating: scratch, as: UTF8.self) else { throw error("invalid UTF-8 in a string", at: start) }
        return s
    }

    private func readHex4() throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let c = try nextRawByte() else { throw error("unterminated \\u escape") }
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: throw error("expected 4 hex digits after \\u, found \(JSONReader.show(c))", at: offset - 1)
            }
            v = v << 4 | d
        }
        return v
    }

    /// Skips a string (validating escapes but not materialising it).
    private func skipString() throws {
        let start = offset
        pos += 1   // the opening quote
        while true {
            if let base = buf.baseAddress {
                var i = pos
                let n = buf.count
                while i < n {
                    let c = base[i]
                    if c == 0x22 || c == 0x5C || c < 0x20 { break }
                    i += 1
                }
                pos = i
                if i < n {
                    let c = base[i]
                    if c == 0x22 { pos += 1; return }
                    if c < 0x20 { throw error("control character 0x\(String(c, radix: 16)) inside a string (expected it escaped)", at: offset) }
                    // Backslash: take the escape slowly.
                    pos += 1
                    guard let e = try nextRawByte() else { throw error("unterminated string (the input ends inside it)", at: start) }
                    switch e {
                    case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: break
                    case 0x75: _ = try readHex4()
                    default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string", at: offset - 2)
                    }
                    continue
                }
            }
            if try !refill() { throw error("unterminated string (the input ends inside it)", at: start) }
        }
    }

    // MARK: numbers and literals

    /// Reads a number token at the current position (validated against the JSON grammar).
    private func readNumber() throws -> JSONNumber {
        let start = offset
        // Fast path: the token ends inside this chunk; parse it in place.
        if let base = buf.baseAddress {
            let p0 = pos
            var i = p0
            let n = buf.count
            while i < n {
                let c = base[i]
                if (c >= 48 && c <= 57) || c == 45 || c == 43 || c == 46 || c == 101 || c == 69 { i += 1 } else { break }
            }
            if i < n {
                pos = i
                return try numberFrom(UnsafeBufferPointer(start: base + p0, count: i - p0), start: start)
            }
        }
        // Slow path: the token may straddle chunks.
        scratch.removeAll(keepingCapacity: true)
        while true {
            if pos >= buf.count { if try !refill() { break } }
            let c = buf[pos]
            if (c >= 48 && c <= 57) || c == 45 || c == 43 || c == 46 || c == 101 || c == 69 {
                scratch.append(c)
                pos += 1
                if scratch.count > 400 { throw error("number longer than 400 characters", at: start) }
            } else { break }
        }
        let sc = scratch
        return try sc.withUnsafeBufferPointer { try numberFrom($0, start: start) }
    }

    /// Validates number text against -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and makes the number.
    private func numberFrom(_ u: UnsafeBufferPointer<UInt8>, start: Int64) throws -> JSONNumber {
        let n = u.count
        if n > 400 { throw error("number longer than 400 characters", at: start) }
        var i = 0
        var plainInt = true
        if i < n && u[i] == 45 { i += 1 }
        var ok = i < n && u[i] >= 48 && u[i] <= 57
        if ok {
            if u[i] == 48 { i += 1 } else { while i < n && u[i] >= 48 && u[i] <= 57 { i += 1 } }
            if i < n && u[i] == 46 {
                plainInt = false
                i += 1
                let s0 = i
                while i < n && u[i] >= 48 && u[i] <= 57 { i += 1 }
                if i == s0 { ok = false }
            }
            if ok && i < n && (u[i] == 101 || u[i] == 69) {
                plainInt = false
                i += 1
                if i < n && (u[i] == 43 || u[i] == 45) { i += 1 }
                let s0 = i
                while i < n && u[i] >= 48 && u[i] <= 57 { i += 1 }
                if i == s0 { ok = false }
            }
            if i != n { ok = false }
        }
        if !ok {
            throw error("invalid number \(quoteForError(String(decoding: u, as: UTF8.self)))", at: start)
        }
        if plainInt && n <= 18 {
            // At most 18 characters: fits in Int64 whatever the digits.
            var v: Int64 = 0
            var j = 0
            let neg = u[0] == 45
            if neg { j = 1 }
            while j < n { v = v * 10 + Int64(u[j] - 48); j += 1 }
            return JSONNumber(int: neg ? -v : v)
        }
        return JSONNumber(validatedText: String(decoding: u, as: UTF8.self))
    }

    private func readLiteral(_ word: StaticString) throws {
        let start = offset
        let p = word.utf8Start
        for k in 0..<word.utf8CodeUnitCount {
            let c = try nextRawByte()
            if c != p[k] {
                throw error("invalid literal (expected \(word))", at: start)
            }
        }
    }

    // MARK: values

    /// Reads and materialises the next value.
    public func readValue() throws -> JSONValue {
        try readValue(depth: 0)
    }

    private func readValue(depth: Int) throws -> JSONValue {
        guard let c = try peek() else { throw error("expected a value, found the end of the input") }
        switch c {
        case 0x7B: // {
            if depth >= maxDepth { throw error("nesting deeper than \(maxDepth) levels") }
            pos += 1
            if try peek() == 0x7D { pos += 1; return .object([]) }
            var members: [JSONMember] = []
            while true {
                let p = try peek()
                guard p == 0x22 else { throw error("expected a string key or '}' in an object, found \(JSONReader.show(p))") }
                let key = try readString()
                try expect(0x3A, "':' after the key \(quoteForError(key, limit: 40))")
                let v = try readValue(depth: depth + 1)
                members.append(JSONMember(key: key, value: v))
                let q = try peek()
                if q == 0x2C { pos += 1; continue }
                if q == 0x7D { pos += 1; return .object(members) }
                throw error("expected ',' or '}' after the value of \(quoteForError(key, limit: 40)), found \(JSONReader.show(q))")
            }
        case 0x5B: // [
            if depth >= maxDepth { throw error("nesting deeper than \(maxDepth) levels") }
            pos += 1
            var items: [JSONValue] = []
            if try peek() == 0x5D { pos += 1; return .array(items) }
            while true {
                items.append(try readValue(depth: depth + 1))
                let q = try peek()
                if q == 0x2C { pos += 1; continue }
                if q == 0x5D { pos += 1; return .array(items) }
                throw error("expected ',' or ']' in an array, found \(JSONReader.show(q))")
            }
        case 0x22: return .string(try readString())
        case 0x74: try readLiteral("true"); return .bool(true)
        case 0x66: try readLiteral("false"); return .bool(false)
        case 0x6E: try readLiteral("null"); return .null
        case 0x2D, 48...57: return .number(try readNumber())
        default:
            throw error("expected a JSON value, found \(JSONReader.show(c))")
        }
    }

    /// Skips the next value, checking its syntax, without materialising it. Iterative, so
    /// deep nesting costs no stack.
    public func skipValue() throws {
        // Stack of open containers: true = object, false = array.
        var stack: [Bool] = []
        while true {
            // Expect a value.
            guard let c = try peek() else { throw error("expected a value, found the end of the input") }
            switch c {
            case 0x7B:
                pos += 1
                if try peek() == 0x7D { pos += 1; break }
                stack.append(true)
                let p = try peek()
                guard p == 0x22 else { throw error("expected a string key or '}' in an object, found \(JSONReader.show(p))") }
                try skipString()
                try expect(0x3A, "':' after an object key")
                continue
            case 0x5B:
                pos += 1
                if try peek() == 0x5D { pos += 1; break }
                stack.append(false)
                continue
            case 0x22: try skipString()
            case 0x74: try readLiteral("true")
            case 0x66: try readLiteral("false")
            case 0x6E: try readLiteral("null")
            case 0x2D, 48...57: _ = try readNumber()
            default: throw error("expected a JSON value, found \(JSONReader.show(c))")
            }
            // A value is complete: close containers as far as they end.
            while true {
                guard let top = stack.last else { return }
                let q = try peek()
                if q == 0x2C {
                    pos += 1
                    if top {
                        let p = try peek()
                        guard p == 0x22 else { throw error("expected a string key in an object, found \(JSONReader.show(p))") }
                        try skipString()
                        try expect(0x3A, "':' after an object key")
                    }
                    break
                }
                if top && q == 0x7D { pos += 1; stack.removeLast(); continue }
                if !top && q == 0x5D { pos += 1; stack.removeLast(); continue }
                throw error(top ? "expected ',' or '}' in an object, found \(JSONReader.show(q))"
                                : "expected ',' or ']' in an array, found \(JSONReader.show(q))")
            }
        }
    }

    /// Checks that only whitespace is left.
    public func expectEnd(_ what: String = "the end of the input after the top-level value") throws {
        if let c = try peek() { throw error("expected \(what), found \(JSONReader.show(c))") }
    }
}
