// Batches of queries from a CSV file (`profile predict --queries Q.csv`).

/// A query CSV: header with the columns `gpu,op,tokens,hidden,ffn,tp,gated` (any order;
/// `gated` is true/false), optionally `n_head` and `n_kv_head` (used by attn_pre_proj and
/// attn_rope; without them attention is taken as multi-head). Other columns are carried
/// through to the output unchanged.
public struct QueryFile: Sendable {
    public static let requiredColumns = ["gpu", "op", "tokens", "hidden", "ffn", "tp", "gated"]

    public var path: String
    public var header: [String]
    /// Each data row: its fields as read, its line number and the parsed query.
    public var rows: [(fields: [String], line: Int, query: ProfileQuery)]

    /// Reads and checks every row; an error names the file, line and column.
    public static func load(path: String) throws -> QueryFile {
        var col: [String: Int] = [:]
        var header: [String] = []
        var rows: [(fields: [String], line: Int, query: ProfileQuery)] = []
        try CSVFile.read(path: path, header: { h in
            header = h
            for (i, name) in h.enumerated() {
                if col[name] != nil { throw ProfileError(message: "duplicate column \(quoted(name))") }
                col[name] = i
            }
            let missing = requiredColumns.filter { col[$0] == nil }
            if !missing.isEmpty {
                throw ProfileError(message: "missing column(s) \(missing.joined(separator: ", ")) (expected a header with \(requiredColumns.joined(separator: ",")))")
            }
        }, row: { f, line in
            func loc(_ name: String) -> String { "line \(line), column \(col[name]! + 1) (\(name))" }
            func text(_ name: String) throws -> String {
                let s = f[col[name]!].trimmingSpaces()
                if s.isEmpty { throw ProfileError(file: path, location: loc(name), message: "missing value") }
                return s
            }
            func int(_ name: String) throws -> Int {
                let s = try text(name)
                guard let v = Int(s), v > 0 else {
                    throw ProfileError(file: path, location: loc(name), message: "expected a positive integer, found \(quoted(s))")
                }
                return v
            }
            func optionalInt(_ name: String) throws -> Int? {
                guard let i = col[name], !f[i].trimmingSpaces().isEmpty else { return nil }
                return try int(name)
            }
            let gpu = try text("gpu")
            let op: Operation
            do { op = try Operation.named(try text("op")) } catch let e as ProfileError where e.file == nil {
                throw ProfileError(file: path, location: loc("op"), message: e.message)
            }
            let gatedText = try text("gated")
            let gated: Bool
            switch gatedText.lowercased() {
            case "true": gated = true
            case "false": gated = false
            default: throw ProfileError(file: path, location: loc("gated"), message: "expected true or false, found \(quoted(gatedText))")
            }
            let dims = ModelDims(hidden: try int("hidden"), ffn: try int("ffn"), gated: gated,
                                 heads: try optionalInt("n_head"), kvHeads: try optionalInt("n_kv_head"))
            let q = ProfileQuery(gpu: gpu, op: op, tokens: try int("tokens"), dims: dims, tp: try int("tp"))
            do { _ = try OpShape(op: q.op, dims: q.dims, tp: q.tp) } catch let e as ProfileError {
                throw ProfileError(file: path, location: "line \(line)", message: e.message)
            }
            rows.append((f, line, q))
        })
        return QueryFile(path: path, header: header, rows: rows)
    }

    /// Predicts every row (all before any output, so an error leaves nothing half-written)
    /// and returns the CSV text: the input header and rows plus a `predicted_ms` column.
    public func predict(with model: CostModel) throws -> String {
        var predicted: [Double] = []
        predicted.reserveCapacity(rows.count)
        for r in rows {
            do {
                predicted.append(try model.predict(r.query).ms)
            } catch let e as ProfileError {
                throw ProfileError(file: path, location: "line \(r.line)", message: e.message)
            }
        }
        var out = (header + ["predicted_ms"]).map(CSVFile.escape).joined(separator: ",") + "\n"
        for (r, p) in zip(rows, predicted) {
            out += r.fields.map(CSVFile.escape).joined(separator: ",") + "," + formatSignificant(p, digits: 6) + "\n"
        }
        return out
    }
}

extension QueryFile {
    /// The canonical names of the GPUs the queries ask about; an unknown GPU is an error
    /// naming its line.
    public func resolveGPUs(_ registry: DeviceRegistry) throws -> [String] {
        var out = Set<String>()
        for r in rows {
            do { out.insert(try registry.resolve(r.query.gpu).name) } catch let e as ProfileError {
                throw ProfileError(file: path, location: "line \(r.line)", message: e.message)
            }
        }
        return out.sorted()
    }
}
