// Reading a CSV file with a header line through the Traces module's streaming LineReader
// (plain, gzip or zstd, detected from the first bytes).

import Traces

enum CSVFile {
    /// Calls `row` for every data line with its fields and 1-based line number, after checking
    /// that it has as many fields as the header. Blank lines are skipped, and so are lines
    /// starting with `#` when `comments` is set.
    static func read(path: String, comments: Bool = false,
                     header headerBody: ([String]) throws -> Void,
                     row: ([String], Int) throws -> Void) throws {
        let reader: LineReader
        do { reader = try LineReader(path: path) } catch { throw wrap(error, path) }
        var header: [String]? = nil
        while true {
            let line: UnsafeBufferPointer<UInt8>
            do {
                guard let l = try reader.nextLine() else { break }
                line = l
            } catch { throw wrap(error, path) }
            let n = reader.lineNumber
            if isBlank(line) { continue }
            if comments, line.first == UInt8(ascii: "#") { continue }
            let fields: [String]
            do { fields = try CSV.fields(line, file: path, lineNumber: n) } catch { throw wrap(error, path) }
            if let h = header {
                guard fields.count == h.count else {
                    let missing = fields.count < h.count
                        ? " (missing \(h[fields.count...].joined(separator: ",")))" : ""
                    throw ProfileError(file: path, location: "line \(n)",
                                       message: "expected \(h.count) fields (\(h.joined(separator: ","))), found \(fields.count)\(missing)")
                }
                try row(fields, n)
            } else {
                let h = fields.map { $0.trimmingSpaces() }
                header = h
                do {
                    try headerBody(h)
                } catch let e as ProfileError {
                    throw e.at(file: path, location: "line \(n) (header)")
                }
            }
        }
        if header == nil {
            throw ProfileError(file: path, message: "empty file (expected a CSV header line)")
        }
    }

    static func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        for c in line where c != 32 && c != 9 { return false }
        return true
    }

    static func wrap(_ e: any Error, _ path: String) -> ProfileError {
        if let t = e as? TraceError { return ProfileError(t) }
        if let p = e as? ProfileError { return p.at(file: path, location: nil) }
        return ProfileError(file: path, message: "\(e)")
    }

    /// Quotes a field for CSV output when it needs it (RFC 4180).
    static func escape(_ s: String) -> String {
        if s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r") {
            return "\"" + s.replacingAll("\"", with: "\"\"") + "\""
        }
        return s
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }

    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for ch in self { if ch == target { out += replacement } else { out.append(ch) } }
        return out
    }
}
