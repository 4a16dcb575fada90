// A small JSON value (one trace event at a time is materialised as one) and its numbers,
// kept exact: integers as Int64, anything else as its decimal text.

/// A JSON number, exactly as written. Plain integers that fit in Int64 are stored as such;
/// every other number keeps its text, so that conversions (e.g. microseconds with a
/// fraction to integer nanoseconds) are exact and never go through Double.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    enum Storage: Sendable, Hashable {
        case int(Int64)
        case text(String)
    }
    let storage: Storage

    init(int: Int64) { storage = .int(int) }
    /// `text` must already be valid JSON number syntax.
    init(validatedText: String) { storage = .text(validatedText) }

    /// Makes a number from JSON number text; nil if the text is not JSON number syntax.
    public init?(_ text: String) {
        guard JSONNumber.isJSONSyntax(text) else { return nil }
        if text.utf8.count <= 18, !text.contains("."), !text.contains("e"), !text.contains("E"), let i = Int64(text) {
            storage = .int(i)
        } else {
            storage = .text(text)
        }
    }

    static func isJSONSyntax(_ s: String) -> Bool {
        let u = Array(s.utf8)
        var i = 0
        if i < u.count && u[i] == 45 { i += 1 }
        guard i < u.count, u[i] >= 48 && u[i] <= 57 else { return false }
        if u[i] == 48 { i += 1 } else { while i < u.count && u[i] >= 48 && u[i] <= 57 { i += 1 } }
        if i < u.count && u[i] == 46 {
            i += 1
            let s0 = i
            while i < u.count && u[i] >= 48 && u[i] <= 57 { i += 1 }
            if i == s0 { return false }
        }
        if i < u.count && (u[i] == 101 || u[i] == 69) {
            i += 1
            if i < u.count && (u[i] == 43 || u[i] == 45) { i += 1 }
            let s0 = i
            while i < u.count && u[i] >= 48 && u[i] <= 57 { i += 1 }
            if i == s0 { return false }
        }
        return i == u.count
    }

    public var description: String {
        switch storage {
        case .int(let i): return String(i)
        case .text(let t): return t
        }
    }

    /// The value as an Int64 if it is an integer that fits (`3`, `3.0` and `3e2` are integers;
    /// `3.5` is not).
    public var exactInt64: Int64? {
        switch storage {
        case .int(let i): return i
        case .text(var t):
            return t.withUTF8 { u -> Int64? in
                guard let r = try? DecimalText.scaledInt64Exactness(u, scale: 0), r.exact else { return nil }
                return r.value
            }
        }
    }

    /// The value times 10^`scale`, rounded half away from zero to an integer (e.g. scale 3
    /// turns microseconds into nanoseconds); nil if it does not fit in Int64.
    public func scaled(by scale: Int) -> Int64? {
        switch storage {
        case .int(let i):
            if scale < 0 {
                return String(i).utf8.withContiguousStorageIfAvailable { try? DecimalText.scaledInt64($0, scale: scale) } ?? nil
            }
            var v = i
            for _ in 0..<scale {
                let (m, o) = v.multipliedReportingOverflow(by: 10)
                if o { return nil }
                v = m
            }
            return v
        case .text(var t):
            return t.withUTF8 { u in try? DecimalText.scaledInt64(u, scale: scale) }
        }
    }

    /// The nearest Double (correctly rounded by the standard library's parser).
    public var double: Double {
        switch storage {
        case .int(let i): return Double(i)
        case .text(let t): return Double(t) ?? .nan
        }
    }
}

/// A member of a JSON object, in file order.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue
}

/// A JSON value. Objects keep their members in file order; `object[key]` returns the last
/// member with that key (as most JSON readers do).
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        var i = members.count - 1
        while i >= 0 {
            if members[i].key == key { return members[i].value }
            i -= 1
        }
        return nil
    }

    /// A short name of the value's type for error messages: "a string", "an object", ...
    public var typeDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return "the number \(n)"
        case .string(let s): return "the string \(quoteForError(s, limit: 40))"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
