// Routing traces, format "gpusim-routing" version 1 (documented in Traces/moe/README.md):
// a JSON header line, then one binary record per request holding its prompt embedding and, per
// iteration (prefill, then each decode step) and MoE layer, the gate's row for every token of the
// iteration: probabilities over all experts, or the top-k experts with their weights. The file
// may be zstd- or gzip-compressed. Readers stream: one request in memory at a time.

import Traces

/// How one token's gate output is stored.
public enum RoutingRowEncoding: String, Sendable, Equatable {
    /// `experts` values: the softmax probabilities over all routed experts.
    case probs
    /// A count byte (= top_k), then top_k × (u16 expert id, weight).
    case topk
}

public enum RoutingValueType: String, Sendable, Equatable {
    case f16, f32
    var bytes: Int { self == .f16 ? 2 : 4 }
}

/// The header line of a routing trace.
public struct RoutingTraceHeader: Sendable, Equatable {
    public static let formatName = "gpusim-routing"
    public static let version = 1
    /// Model name (as in Traces/moe/models).
    public var model: String
    /// MoE layers (rows per token per iteration).
    public var layers: Int
    public var experts: Int
    public var topK: Int
    public var embeddingDim: Int
    public var row: RoutingRowEncoding
    public var dtype: RoutingValueType
    /// Number of requests, when the writer knew it (checked against the end record).
    public var requests: Int?
    /// Free-text provenance: "generator ...", "recorded with ... on ...".
    public var source: String
    /// The generator parameters as JSON text, when generated.
    public var generator: String?

    public init(model: String, layers: Int, experts: Int, topK: Int, embeddingDim: Int, row: RoutingRowEncoding = .probs,
                dtype: RoutingValueType = .f16, requests: Int? = nil, source: String, generator: String? = nil) {
        self.model = model; self.layers = layers; self.experts = experts; self.topK = topK
        self.embeddingDim = embeddingDim; self.row = row; self.dtype = dtype; self.requests = requests
        self.source = source; self.generator = generator
    }

    /// Bytes of one token row.
    var rowBytes: Int {
        switch row {
        case .probs: return experts * dtype.bytes
        case .topk: return 1 + topK * (2 + dtype.bytes)
        }
    }

    func jsonLine() -> String {
        var s = "{\"format\": \"\(Self.formatName)\", \"version\": \(Self.version), \"model\": \(jsonQuote(model)), "
        s += "\"layers\": \(layers), \"experts\": \(experts), \"top_k\": \(topK), \"embedding_dim\": \(embeddingDim), "
        s += "\"row\": \"\(row.rawValue)\", \"dtype\": \"\(dtype.rawValue)\""
        if let requests { s += ", \"requests\": \(requests)" }
        s += ", \"source\": \(jsonQuote(source))"
        if let generator { s += ", \"generator\": \(generator)" }
        return s + "}"
    }
}

func jsonQuote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) }
            else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

/// One request's routing, aggregated per iteration as the simulation uses it.
///
/// Iteration 0 is the prefill (`inputTokens` tokens); iterations 1..<outputTokens are decode
/// steps (one token each). Per iteration and layer: the mean gate probability over the
/// iteration's tokens (`probs`), and the experts selected by at least one token with the number
/// of tokens routed to each (`selected`).
public struct RoutingRequest: Sendable, Equatable {
    public var id: UInt64
    public var arrivalNs: Int64
    public var inputTokens: Int
    public var outputTokens: Int
    public var embedding: [Float]
    public let layers: Int
    public let experts: Int
    /// iterations × layers × experts.
    public var probs: [Float]
    /// Start of each (iteration, layer)'s entries in `selExperts`/`selTokens`; count iterations·layers + 1.
    public var selOffsets: [Int32]
    public var selExperts: [UInt16]
    public var selTokens: [Int32]

    public var iterations: Int { outputTokens }

    /// Index of (iteration, layer) in `selOffsets`.
    @inline(__always) public func slot(_ iteration: Int, _ layer: Int) -> Int { iteration * layers + layer }

    /// Selected experts of (iteration, layer), as a range into `selExperts`/`selTokens`.
    @inline(__always) public func selectedRange(_ iteration: Int, _ layer: Int) -> Range<Int> {
        let s = slot(iteration, layer)
        return Int(selOffsets[s])..<Int(selOffsets[s + 1])
    }

    /// Offset of (iteration, layer)'s probability row in `probs`.
    @inline(__always) public func probOffset(_ iteration: Int, _ layer: Int) -> Int { slot(iteration, layer) * experts }
}

/// Accumulates token rows into a `RoutingRequest`. Rows must come iteration by iteration,
/// layer by layer (all of an iteration's tokens for one layer together).
public struct RoutingRequestBuilder {
    public let layers: Int
    public let experts: Int
    public let topK: Int
    var request: RoutingRequest
    var acc: [Float]
    var counts: [Int32]
    var tokensInSlot = 0
    var currentSlot = -1
    var topIdx: [Int]

    public init(layers: Int, experts: Int, topK: Int) {
        self.layers = layers
        self.experts = experts
        self.topK = topK
        request = RoutingRequest(id: 0, arrivalNs: 0, inputTokens: 1, outputTokens: 1, embedding: [], layers: layers,
                                 experts: experts, probs: [], selOffsets: [0], selExperts: [], selTokens: [])
        acc = [Float](repeating: 0, count: experts)
        counts = [Int32](repeating: 0, count: experts)
        topIdx = [Int](repeating: 0, count: topK)
    }

    public mutating func begin(id: UInt64, arrivalNs: Int64, inputTokens: Int, outputTokens: Int, embedding: [Float]) {
        request = RoutingRequest(id: id, arrivalNs: arrivalNs, inputTokens: inputTokens, outputTokens: outputTokens,
                                 embedding: embedding, layers: layers, experts: experts, probs: [], selOffsets: [0],
                                 selExperts: [], selTokens: [])
        request.probs.reserveCapacity(outputTokens * layers * experts)
        request.selOffsets.reserveCapacity(outputTokens * layers + 1)
        request.selExperts.reserveCapacity(outputTokens * layers * topK)
        request.selTokens.reserveCapacity(outputTokens * layers * topK)
        currentSlot = -1
        tokensInSlot = 0
    }

    /// Starts (iteration, layer); the previous slot must have been ended.
    public mutating func beginSlot() {
        currentSlot += 1
        tokensInSlot = 0
        for e in 0..<experts { acc[e] = 0; counts[e] = 0 }
    }

    /// One token's full probability row.
    public mutating func addProbs(_ p: UnsafeBufferPointer<Float>) {
        tokensInSlot += 1
        for e in 0..<experts { acc[e] += p[e] }
        // top-k by value, ties to the lower index.
        let k = topK
        var n = 0
        for e in 0..<experts {
            let v = p[e]
            var pos = n
            while pos > 0 && p[topIdx[pos - 1]] < v { pos -= 1 }
            if pos < k {
                var j = Swift.min(n, k - 1)
                while j > pos { topIdx[j] = topIdx[j - 1]; j -= 1 }
                topIdx[pos] = e
                if n < k { n += 1 }
            }
        }
        for j in 0..<n { counts[topIdx[j]] += 1 }
    }

    /// One token's top-k row (expert ids distinct, already validated).
    public mutating func addTopK(ids: UnsafeBufferPointer<UInt16>, weights: UnsafeBufferPointer<Float>) {
        tokensInSlot += 1
        for j in 0..<ids.count {
            acc[Int(ids[j])] += weights[j]
            counts[Int(ids[j])] += 1
        }
    }

    public mutating func endSlot() {
        let inv = tokensInSlot > 0 ? 1 / Float(tokensInSlot) : 0
        for e in 0..<experts {
            request.probs.append(acc[e] * inv)
            if counts[e] > 0 {
                request.selExperts.append(UInt16(e))
                request.selTokens.append(counts[e])
            }
        }
        request.selOffsets.append(Int32(request.selExperts.count))
    }

    public mutating func finish() -> RoutingRequest { request }
}

/// Streams the requests of a routing trace, validating every record.
///
/// Errors are `TraceError`s naming the file and the record: `record 3 (request id 2), iteration 5,
/// layer 7, token 0: expert id 9 out of range (expected 0...7)`.
public final class RoutingTraceReader {
    public let path: String
    public let header: RoutingTraceHeader
    /// Probability rows must sum to 1 within this.
    public static let sumTolerance: Float = 0.01
    private let input: BinaryReader
    private var builder: RoutingRequestBuilder
    private var recordIndex = 0
    private var lastArrival: Int64 = .min
    private var finished = false
    private var block: [UInt8] = []
    private var rowBuf: [Float]
    private var idBuf: [UInt16]
    private var wBuf: [Float]

    public init(path: String) throws {
        self.path = path
        let stream = try ByteStream(path: path)
        input = BinaryReader(stream: stream)
        guard let line = try input.readLine(limit: 1 << 20) else {
            throw TraceError(file: path, location: .file, message: "empty file: expected a gpusim-routing header line")
        }
        header = try RoutingTraceReader.parseHeader(line, path: path)
        builder = RoutingRequestBuilder(layers: header.layers, experts: header.experts, topK: header.topK)
        rowBuf = [Float](repeating: 0, count: header.experts)
        idBuf = [UInt16](repeating: 0, count: header.topK)
        wBuf = [Float](repeating: 0, count: header.topK)
    }

    static func parseHeader(_ line: [UInt8], path: String) throws -> RoutingTraceHeader {
        func bad(_ m: String) -> TraceError { TraceError(file: path, location: .line(1), message: m) }
        if line.count > 1 << 20 { throw bad("header line longer than 1 MiB (expected a JSON object on the first line)") }
        let v: JSONValue = try line.withUnsafeBufferPointer { b in
            let r = JSONReader(bytes: b, path: path, line: 1)
            let v = try r.readValue()
            try r.expectEnd("the end of the header line")
            return v
        }
        guard case .object = v else { throw bad("expected the header to be a JSON object, found \(v.typeDescription)") }
        func string(_ k: String) throws -> String {
            guard let x = v[k] else { throw bad("missing \"\(k)\" in the header") }
            guard case .string(let s) = x else { throw bad("expected a string for \"\(k)\", found \(x.typeDescription)") }
            return s
        }
        func int(_ k: String, min: Int, max: Int = Int.max) throws -> Int {
            guard let x = v[k] else { throw bad("missing \"\(k)\" in the header") }
            guard case .number(let n) = x, let i = n.exactInt64, i >= min, i <= max else {
                let range = max == Int.max ? ">= \(min)" : "in \(min)...\(max)"
                throw bad("expected an integer \(range) for \"\(k)\", found \(x.typeDescription)")
            }
            return Int(i)
        }
        let format = try string("format")
        guard format == RoutingTraceHeader.formatName else {
            throw bad("expected \"format\": \"\(RoutingTraceHeader.formatName)\", found \(jsonQuote(format)) (is this a routing trace?)")
        }
        let version = try int("version", min: 0)
        guard version == RoutingTraceHeader.version else {
            throw bad("unsupported version \(version) (this reader reads version \(RoutingTraceHeader.version))")
        }
        let experts = try int("experts", min: 2, max: 65535)
        let rowName = try string("row")
        guard let row = RoutingRowEncoding(rawValue: rowName) else {
            throw bad("expected \"row\" to be \"probs\" or \"topk\", found \(jsonQuote(rowName))")
        }
        let dtypeName = try string("dtype")
        guard let dtype = RoutingValueType(rawValue: dtypeName) else {
            throw bad("expected \"dtype\" to be \"f16\" or \"f32\", found \(jsonQuote(dtypeName))")
        }
        var requests: Int? = nil
        if v["requests"] != nil { requests = try int("requests", min: 0) }
        var generator: String? = nil
        if let g = v["generator"] { generator = renderJSON(g) }
        return RoutingTraceHeader(model: try string("model"), layers: try int("layers", min: 1, max: 10_000), experts: experts,
                                  topK: try int("top_k", min: 1, max: experts), embeddingDim: try int("embedding_dim", min: 1, max: 1 << 16),
                                  row: row, dtype: dtype, requests: requests, source: (try? string("source")) ?? "", generator: generator)
    }

    /// The next request, or nil after the end record.
    public func next() throws -> RoutingRequest? {
        if finished { return nil }
        let recordStart = input.offset
        let tag: UInt8
        do { tag = try input.readU8() } catch is BinaryReader.EndOfData {
            throw TraceError(file: path, location: .byteOffset(recordStart),
                             message: "truncated file: it ends after \(recordIndex) request record(s) without the end record ('E')")
        }
        if tag == 0x45 { // 'E'
            let n: UInt64
            do { n = try input.readU64() } catch is BinaryReader.EndOfData {
                throw TraceError(file: path, location: .byteOffset(recordStart), message: "truncated file: the end record is cut short")
            }
            guard n == UInt64(recordIndex) else {
                throw TraceError(file: path, location: .byteOffset(recordStart),
                                 message: "the end record counts \(n) requests but the file holds \(recordIndex) (records lost or duplicated)")
            }
            if let r = header.requests, r != recordIndex {
                throw TraceError(file: path, location: .byteOffset(recordStart),
                                 message: "the header announces \(r) requests but the file holds \(recordIndex)")
            }
            guard try input.isAtEnd() else {
                throw TraceError(file: path, location: .byteOffset(input.offset), message: "unexpected data after the end record")
            }
            finished = true
            return nil
        }
        guard tag == 0x52 else { // 'R'
            throw TraceError(file: path, location: .byteOffset(recordStart),
                             message: "record \(recordIndex): expected a request record ('R') or the end record ('E'), found byte 0x\(String(tag, radix: 16, uppercase: true))")
        }
        var where_ = "header"
        var id: UInt64 = 0
        do {
            return try readRequest(recordStart: recordStart, id: &id, where_: &where_)
        } catch is BinaryReader.EndOfData {
            throw TraceError(file: path, location: .byteOffset(input.offset),
                             message: "truncated file: record \(recordIndex) (request id \(id)) ends in its \(where_)")
        }
    }

    private func fail(_ id: UInt64, _ msg: String, at off: Int64? = nil) -> TraceError {
        TraceError(file: path, location: .byteOffset(off ?? input.offset), message: "record \(recordIndex) (request id \(id)): \(msg)")
    }

    private func readRequest(recordStart: Int64, id: inout UInt64, where_: inout String) throws -> RoutingRequest {
        id = try input.readU64()
        let arrival = try input.readI64()
        let inTok = Int(try input.readU32())
        let outTok = Int(try input.readU32())
        guard inTok >= 1 else { throw fail(id, "input_tokens is 0 (expected at least 1)") }
        guard outTok >= 1 else { throw fail(id, "output_tokens is 0 (expected at least 1: the prefill produces the first token)") }
        guard arrival >= 0 else { throw fail(id, "arrival \(arrival) ns is negative") }
        guard arrival >= lastArrival else {
            throw fail(id, "arrival \(arrival) ns is before the previous request's (\(lastArrival) ns): expected requests in arrival order")
        }
        where_ = "embedding"
        var emb = [Float](repeating: 0, count: header.embeddingDim)
        try emb.withUnsafeMutableBytes { try input.read(into: $0.baseAddress!, count: $0.count) }
        for (i, x) in emb.enumerated() {
            var v = x
            v = Float(bitPattern: UInt32(littleEndian: v.bitPattern))
            guard v.isFinite else { throw fail(id, "embedding[\(i)] is not a finite number") }
            emb[i] = v
        }
        builder.begin(id: id, arrivalNs: arrival, inputTokens: inTok, outputTokens: outTok, embedding: emb)
        let L = header.layers, E = header.experts, K = header.topK
        let rowBytes = header.rowBytes
        for it in 0..<outTok {
            let T = it == 0 ? inTok : 1
            where_ = "iteration \(it)"
            let n = L * T * rowBytes
            if block.count < n { block = [UInt8](repeating: 0, count: n) }
            try block.withUnsafeMutableBytes { try input.read(into: $0.baseAddress!, count: n) }
            try block.withUnsafeBytes { raw in
                var p = 0
                for l in 0..<L {
                    builder.beginSlot()
                    for t in 0..<T {
                        let here = "iteration \(it), layer \(l), token \(t)"
                        switch header.row {
                        case .probs:
                            var sum: Float = 0
                            for e in 0..<E {
                                let v: Float
                                if header.dtype == .f16 {
                                    v = halfToFloat(UInt16(raw[p]) | UInt16(raw[p + 1]) << 8); p += 2
                                } else {
                                    v = Float(bitPattern: UInt32(raw[p]) | UInt32(raw[p + 1]) << 8 | UInt32(raw[p + 2]) << 16 | UInt32(raw[p + 3]) << 24); p += 4
                                }
                                guard v >= 0 && v <= 1.001 else {
                                    throw fail(id, "\(here): probability of expert \(e) is \(v) (expected a number in 0...1)")
                                }
                                rowBuf[e] = v
                                sum += v
                            }
                            guard abs(sum - 1) <= RoutingTraceReader.sumTolerance else {
                                throw fail(id, "\(here): probabilities sum to \(sum) (expected 1 ± \(RoutingTraceReader.sumTolerance))")
                            }
                            rowBuf.withUnsafeBufferPointer { builder.addProbs($0) }
                        case .topk:
                            let count = Int(raw[p]); p += 1
                            guard count == K else {
                                throw fail(id, "\(here): top-k row lists \(count) experts (expected top_k = \(K) from the header)")
                            }
                            var wsum: Float = 0
                            for j in 0..<K {
                                let e = UInt16(raw[p]) | UInt16(raw[p + 1]) << 8; p += 2
                                let w: Float
                                if header.dtype == .f16 {
                                    w = halfToFloat(UInt16(raw[p]) | UInt16(raw[p + 1]) << 8); p += 2
                                } else {
                                    w = Float(bitPattern: UInt32(raw[p]) | UInt32(raw[p + 1]) << 8 | UInt32(raw[p + 2]) << 16 | UInt32(raw[p + 3]) << 24); p += 4
                                }
                                guard Int(e) < E else {
                                    throw fail(id, "\(here): expert id \(e) out of range (expected 0...\(E - 1))")
                                }
                                for q in 0..<j where idBuf[q] == e {
                                    throw fail(id, "\(here): expert id \(e) listed twice in one top-k row")
                                }
                                guard w >= 0 && w <= 1.001 else {
                                    throw fail(id, "\(here): weight of expert \(e) is \(w) (expected a number in 0...1)")
                                }
                                idBuf[j] = e
                                wBuf[j] = w
                                wsum += w
                            }
                            guard wsum <= 1 + RoutingTraceReader.sumTolerance else {
                                throw fail(id, "\(here): top-k weights sum to \(wsum) (expected at most 1 + \(RoutingTraceReader.sumTolerance))")
                            }
                            idBuf.withUnsafeBufferPointer { ids in wBuf.withUnsafeBufferPointer { builder.addTopK(ids: ids, weights: $0) } }
                        }
                    }
                    builder.endSlot()
                }
            }
        }
        lastArrival = arrival
        recordIndex += 1
        return builder.finish()
    }

    /// Calls `body` with every remaining request.
    public func forEach(_ body: (RoutingRequest) throws -> Void) throws {
        while let r = try next() { try body(r) }
    }
}

/// Renders a JSON value compactly (for carrying the generator parameters through).
func renderJSON(_ v: JSONValue) -> String {
    switch v {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .number(let n): return n.description
    case .string(let s): return jsonQuote(s)
    case .array(let a): return "[" + a.map(renderJSON).joined(separator: ", ") + "]"
    case .object(let m): return "{" + m.map { jsonQuote($0.key) + ": " + renderJSON($0.value) }.joined(separator: ", ") + "}"
    }
}

/// Writes a routing trace: the header line, request records, the end record.
public final class RoutingTraceWriter {
    public let header: RoutingTraceHeader
    let out: BinaryWriter
    private var count = 0
    private var scratchIdx: [Int]

    /// Compresses with zstd when the path ends in `.zst`.
    public init(path: String, header: RoutingTraceHeader) throws {
        self.header = header
        out = try BinaryWriter(path: path, compress: path.hasSuffix(".zst"), level: 9)
        try out.write(Array((header.jsonLine() + "\n").utf8))
        scratchIdx = [Int](repeating: 0, count: header.topK)
    }

    /// Writes one request. `rows` holds, iteration by iteration and layer by layer, each token's
    /// full probability row (iteration 0 has `inputTokens` tokens, the others one).
    public func write(id: UInt64, arrivalNs: Int64, inputTokens: Int, outputTokens: Int, embedding: [Float], rows: [Float]) throws {
        let L = header.layers, E = header.experts, K = header.topK
        precondition(embedding.count == header.embeddingDim, "embedding has \(embedding.count) values, header says \(header.embeddingDim)")
        precondition(rows.count == (inputTokens + outputTokens - 1) * L * E, "row count does not match the token counts")
        try out.writeU8(0x52)
        try out.writeU64(id)
        try out.writeI64(arrivalNs)
        try out.writeU32(UInt32(inputTokens))
        try out.writeU32(UInt32(outputTokens))
        for x in embedding { try out.writeF32(x) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(inputTokens * L * header.rowBytes)
        func value(_ v: Float) {
            if header.dtype == .f16 {
                let h = floatToHalf(v); bytes.append(UInt8(h & 0xFF)); bytes.append(UInt8(h >> 8))
            } else {
                let b = v.bitPattern
                bytes.append(UInt8(b & 0xFF)); bytes.append(UInt8((b >> 8) & 0xFF))
                bytes.append(UInt8((b >> 16) & 0xFF)); bytes.append(UInt8(b >> 24))
            }
        }
        var base = 0
        for _ in 0..<(inputTokens + outputTokens - 1) * L {
            switch header.row {
            case .probs:
                for e in 0..<E { value(rows[base + e]) }
            case .topk:
                // top-k by value, ties to the lower index; weights renormalised as the model does.
                var n = 0
                for e in 0..<E {
                    let v = rows[base + e]
                    var pos = n
                    while pos > 0 && rows[base + scratchIdx[pos - 1]] < v { pos -= 1 }
                    if pos < K {
                        var j = Swift.min(n, K - 1)
                        while j > pos { scratchIdx[j] = scratchIdx[j - 1]; j -= 1 }
                        scratchIdx[pos] = e
                        if n < K { n += 1 }
                    }
                }
                bytes.append(UInt8(K))
                for j in 0..<K {
                    let e = scratchIdx[j]
                    bytes.append(UInt8(e & 0xFF)); bytes.append(UInt8(e >> 8))
                    value(rows[base + e])
                }
            }
            base += E
            if bytes.count >= 1 << 16 { try out.write(bytes); bytes.removeAll(keepingCapacity: true) }
        }
        try out.write(bytes)
        count += 1
    }

    public func close() throws {
        try out.writeU8(0x45)
        try out.writeU64(UInt64(count))
        try out.close()
    }
}
