// Errors from the trace readers: every one names the file, where in it, and what was expected.

/// Where in a trace file an error was found.
public enum TraceLocation: Sendable, Equatable, CustomStringConvertible {
    /// The whole file (open/read failures, a missing array, ...).
    case file
    /// A 1-based line of the decompressed text.
    case line(Int)
    /// A 0-based element of the top-level `traceEvents` array, and the offset of its first
    /// byte in the decompressed JSON text.
    case traceEvent(index: Int, byteOffset: Int64)
    /// An offset in the decompressed bytes of the file.
    case byteOffset(Int64)
    /// An offset in the compressed bytes of the file (a corrupt or truncated zstd/gzip stream).
    case compressedByteOffset(Int64)

    public var description: String {
        switch self {
        case .file: return ""
        case .line(let n): return "line \(n)"
        case .traceEvent(let i, let off): return "record \(i) (traceEvents[\(i)], byte \(off))"
        case .byteOffset(let off): return "byte \(off)"
        case .compressedByteOffset(let off): return "compressed byte \(off)"
        }
    }
}

/// An error reading a trace. `description` reads like
/// `a100.json.gz: record 12 (traceEvents[12], byte 4567): expected a number for "dur", found "abc"`.
public struct TraceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The path the reader was given.
    public var file: String
    public var location: TraceLocation
    public var message: String

    public init(file: String, location: TraceLocation, message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    public var description: String {
        let loc = location.description
        return loc.isEmpty ? "\(file): \(message)" : "\(file): \(loc): \(message)"
    }
}

/// Quotes a value found in the input for an error message, cut to a readable length.
func quoteForError(_ s: String, limit: Int = 60) -> String {
    var out = "\""
    var n = 0
    for ch in s.unicodeScalars {
        if n >= limit { out += "..."; break }
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if ch.value < 0x20 { out += "\\u{\(String(ch.value, radix: 16))}" } else { out.unicodeScalars.append(ch) }
        }
        n += 1
    }
    return out + "\""
}

/// Quotes raw bytes found in the input for an error message.
func quoteForError(bytes: UnsafeBufferPointer<UInt8>, limit: Int = 60) -> String {
    let cut = bytes.count > limit * 4 ? UnsafeBufferPointer(rebasing: bytes[0..<(limit * 4)]) : bytes
    return quoteForError(String(decoding: cut, as: UTF8.self), limit: limit)
}
