// Errors of the Profiles module: every one names the file and where in it (a CSV line and
// column, or a JSON key path such as `$.gemms[3].median_ms`) when there is a file.

import Traces

/// An error loading profiles, calibration files or queries, or answering a query.
/// `description` reads like `q.csv: line 7, column 3 (tokens): expected a positive integer, found "abc"`.
public struct ProfileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file, when the error is about one.
    public var file: String?
    /// Where in the file: "line 7, column 3 (tokens)", "$.gemms[2].median_ms", ...
    public var location: String?
    public var message: String

    public init(file: String? = nil, location: String? = nil, message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    /// A trace-reader error (open, decompress, line too long, bad UTF-8, CSV quoting) as a ProfileError.
    public init(_ e: TraceError) {
        let loc = e.location.description
        self.init(file: e.file, location: loc.isEmpty ? nil : loc, message: e.message)
    }

    /// The same error, placed in `file` at `location` unless it already names a file.
    func at(file: String, location: String?) -> ProfileError {
        if self.file != nil { return self }
        return ProfileError(file: file, location: location ?? self.location, message: message)
    }

    public var description: String {
        var parts: [String] = []
        if let f = file { parts.append(f) }
        if let l = location, !l.isEmpty { parts.append(l) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}

/// Runs `body`, turning TraceErrors into ProfileErrors.
@inline(__always)
func wrappingTraceErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as ProfileError {
        throw e
    } catch let e as TraceError {
        throw ProfileError(e)
    } catch {
        throw ProfileError(message: "\(error)")
    }
}
