// Synthetic routing traces with the structure offloading policies exploit, from explicit
// parameters (a data file, Traces/moe/generators/*.yaml, schema "gpusim-moe-generator/1").
//
// The gate logit of expert e at MoE layer l for token t of request r is
//
//   z = pop[l][e]                                  per-layer popularity skew
//     + (1 − w_t)·topic[c1][l][e] + w_t·topic[c2][l][e]   topic clusters, drifting to a 2nd topic
//     + σ_req·(W[l][e] · n_r) + σ_free·f_r[l][e]   request-specific: partly a function of the
//                                                  prompt embedding's offset n_r from its topic centroid
//     + β·Σ_{s ∈ top-k at l−1} [e = π_l(s)]        cross-layer correlation
//     + u_t[l][e]                                  token noise, AR(1) across consecutive tokens (ρ)
//
// and the gate's probabilities are softmax(z / τ). The prompt embedding is
// normalise(centroid[c1] + ε·n_r/√D). Everything that is the "model" (pop, topic, W, π,
// centroids) comes from `structure_seed`, so every trace generated from one parameter file
// shares it; requests come from the run's seed.

import Foundation
import SimCore

/// Parameters of the routing generator.
public struct RoutingGeneratorParams: Sendable, Equatable {
    public var model: String
    public var structureSeed: UInt64
    public var embeddingDim: Int
    public var topics: Int
    public var topicZipf: Double
    public var embeddingNoise: Double
    public var temperature: Double
    public var popularitySigma: Double
    public var topicSigma: Double
    public var requestSigma: Double
    public var requestFreeSigma: Double
    public var crossLayer: Double
    public var tokenSigma: Double
    public var tokenRho: Double
    public var drift: Double
    public var inputMean: Double, inputCV: Double, inputMax: Int
    public var outputMean: Double, outputCV: Double, outputMax: Int
    /// Poisson arrival rate written into the trace (requests/s).
    public var arrivalRate: Double
    public var file: String

    public static let schemaIdentifier = "gpusim-moe-generator/1"

    public static func load(path: String) throws -> RoutingGeneratorParams {
        try parse(yaml: try readTextFile(path), file: (path as NSString).lastPathComponent)
    }

    public static func parse(yaml text: String, file: String) throws -> RoutingGeneratorParams {
        let r = try YAMLMap(try composeYAML(text, file: file), path: "", file: file)
        let schema = try r.string("schema")
        guard schema == schemaIdentifier else { throw r.error("schema", "expected '\(schemaIdentifier)', got '\(schema)'") }
        _ = try r.optionalString("description")
        _ = r.optionalValue("fit")   // free-form provenance notes: targets and their sources
        func tokens(_ key: String) throws -> (Double, Double, Int) {
            let m = try r.map(key)
            let v = (try m.double("mean", min: 1), try m.double("cv", min: 0), try m.int("max"))
            try m.finish(known: ["mean", "cv", "max"])
            return v
        }
        let inp = try tokens("input_tokens")
        let out = try tokens("output_tokens")
        let p = RoutingGeneratorParams(
            model: try r.string("model"),
            structureSeed: UInt64(try r.int("structure_seed", min: 0)),
            embeddingDim: try r.int("embedding_dim", min: 2, max: 4096),
            topics: try r.int("topics", min: 1, max: 100_000),
            topicZipf: try r.double("topic_zipf", min: 0),
            embeddingNoise: try r.double("embedding_noise", min: 0),
            temperature: try r.double("temperature", min: 0, minExclusive: true),
            popularitySigma: try r.double("popularity_sigma", min: 0),
            topicSigma: try r.double("topic_sigma", min: 0),
            requestSigma: try r.double("request_sigma", min: 0),
            requestFreeSigma: try r.double("request_free_sigma", min: 0),
            crossLayer: try r.double("cross_layer", min: 0),
            tokenSigma: try r.double("token_sigma", min: 0),
            tokenRho: try r.double("token_rho", min: 0, max: 0.999),
            drift: try r.double("drift", min: 0, max: 1),
            inputMean: inp.0, inputCV: inp.1, inputMax: inp.2,
            outputMean: out.0, outputCV: out.1, outputMax: out.2,
            arrivalRate: try r.double("arrival_rate", min: 0, minExclusive: true),
            file: file)
        try r.finish(known: ["schema", "description", "fit", "model", "structure_seed", "embedding_dim", "topics", "topic_zipf",
                             "embedding_noise", "temperature", "popularity_sigma", "topic_sigma", "request_sigma",
                             "request_free_sigma", "cross_layer", "token_sigma", "token_rho", "drift", "input_tokens",
                             "output_tokens", "arrival_rate"])
        return p
    }

    /// The parameters as one JSON object (carried in generated traces' headers).
    public var json: String {
        func d(_ x: Double) -> String { String(x) }
        return "{\"model\": \(jsonQuote(model)), \"structure_seed\": \(structureSeed), \"embedding_dim\": \(embeddingDim), "
            + "\"topics\": \(topics), \"topic_zipf\": \(d(topicZipf)), \"embedding_noise\": \(d(embeddingNoise)), "
            + "\"temperature\": \(d(temperature)), \"popularity_sigma\": \(d(popularitySigma)), \"topic_sigma\": \(d(topicSigma)), "
            + "\"request_sigma\": \(d(requestSigma)), \"request_free_sigma\": \(d(requestFreeSigma)), \"cross_layer\": \(d(crossLayer)), "
            + "\"token_sigma\": \(d(tokenSigma)), \"token_rho\": \(d(tokenRho)), \"drift\": \(d(drift)), "
            + "\"input_tokens\": {\"mean\": \(d(inputMean)), \"cv\": \(d(inputCV)), \"max\": \(inputMax)}, "
            + "\"output_tokens\": {\"mean\": \(d(outputMean)), \"cv\": \(d(outputCV)), \"max\": \(outputMax)}, "
            + "\"arrival_rate\": \(d(arrivalRate))}"
    }
}

/// Standard normal variates from a quantile table with linear interpolation: one 64-bit draw
/// per variate, no transcendental call. Tails beyond ±3.9σ are cut (probability 1e-4).
struct FastNormal {
    static let bits = 12
    let table: [Float]

    init() {
        let n = 1 << FastNormal.bits
        var t = [Float](repeating: 0, count: n + 1)
        for i in 0...n {
            let p = min(max(Double(i) / Double(n), 0.5 / Double(n)), 1 - 0.5 / Double(n))
            t[i] = Float(FastNormal.inverseCDF(p))
        }
        table = t
    }

    @inline(__always) func sample<G: RandomNumberGenerator>(_ g: inout G) -> Float {
        let x = g.next()
        let i = Int(x >> UInt64(64 - FastNormal.bits))
        let f = Float(x & 0xF_FFFF) * (1.0 / 1_048_576.0)
        return table.withUnsafeBufferPointer { t in t[i] + (t[i + 1] - t[i]) * f }
    }

    /// Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
    static func inverseCDF(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
                 -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
                 -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
                 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        if p > 1 - low {
            let q = (-2 * log(1 - p)).squareRoot()
            return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let q = p - 0.5
        let r = q * q
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }
}

/// Generates requests one at a time (constant memory in the number of requests).
public struct RoutingGenerator {
    public let params: RoutingGeneratorParams
    public let layers: Int
    public let experts: Int
    public let topK: Int
    let normal = FastNormal()
    // Model structure (from structure_seed).
    var pop: [Float]            // layers × experts
    var topic: [Float]          // topics × layers × experts
    var proj: [Float]           // layers × experts × dim
    var perm: [Int32]           // layers × experts: π_l (image at layer l of expert s at l−1)
    var centroids: [Float]      // topics × dim
    let topicDist: Categorical
    let inputDist: LogNormal
    let outputDist: LogNormal
    // Request randomness.
    var rng: Xoshiro256StarStar
    var nextID: UInt64 = 0
    var clock: Double = 0
    // Scratch.
    var noise: [Float]          // layers × experts (AR(1) state)
    var reqBias: [Float]        // layers × experts
    var logits: [Float]
    var sel: [Int]
    var prevSel: [Int]
    public private(set) var rows: [Float] = []
    var aggregateScratch: [Float] = []

    /// - Parameters: `layers`, `experts`, `topK` from the model; `seed` drives the requests.
    public init(params: RoutingGeneratorParams, layers: Int, experts: Int, topK: Int, seed: UInt64) throws {
        self.params = params
        self.layers = layers
        self.experts = experts
        self.topK = topK
        let D = params.embeddingDim, L = layers, E = experts, C = params.topics
        var s = RandomStreams(seed: params.structureSeed).stream("moe-routing-structure")
        let nrm = normal
        func gauss(_ sigma: Double) -> Float { nrm.sample(&s) * Float(sigma) }
        pop = (0..<(L * E)).map { _ in gauss(params.popularitySigma) }
        topic = (0..<(C * L * E)).map { _ in gauss(params.topicSigma) }
        let ps = 1 / Double(D).squareRoot()
        proj = (0..<(L * E * D)).map { _ in gauss(ps) }
        perm = []
        for _ in 0..<L {
            var p = Array(0..<Int32(E))
            for i in stride(from: E - 1, to: 0, by: -1) { p.swapAt(i, s.nextInt(below: i + 1)) }
            perm += p
        }
        centroids = []
        for _ in 0..<C {
            var v = (0..<D).map { _ in gauss(1) }
            let n = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            for i in 0..<D { v[i] /= n }
            centroids += v
        }
        do {
            topicDist = try Categorical(weights: (1...C).map { pow(Double($0), -params.topicZipf) })
            inputDist = try LogNormal(mean: params.inputMean, cv: params.inputCV)
            outputDist = try LogNormal(mean: params.outputMean, cv: params.outputCV)
        } catch {
            throw MoEConfigError(file: params.file, keyPath: "", message: "\(error)")
        }
        rng = RandomStreams(seed: seed).stream("moe-routing-requests")
        noise = [Float](repeating: 0, count: L * E)
        reqBias = [Float](repeating: 0, count: L * E)
        logits = [Float](repeating: 0, count: E)
        sel = [Int](repeating: 0, count: topK)
        prevSel = [Int](repeating: 0, count: topK)
    }

    public struct Generated {
        public var id: UInt64
        public var arrivalNs: Int64
        public var inputTokens: Int
        public var outputTokens: Int
        public var embedding: [Float]
        public var topic: Int
    }

    /// Generates the next request; its token rows are left in `rows` (iteration, layer, token
    /// order, as a routing trace stores them).
    public mutating func next() -> Generated {
        let g = prepare()
        var sink = RowsSink(rows: [], layers: layers, experts: experts)
        swap(&sink.rows, &rows)   // keeps the buffer unique while generating
        generate(inputTokens: g.inputTokens, outputTokens: g.outputTokens, topics: (g.topic, g.secondTopic), sink: &sink)
        swap(&sink.rows, &rows)
        return Generated(id: g.id, arrivalNs: g.arrivalNs, inputTokens: g.inputTokens, outputTokens: g.outputTokens,
                         embedding: g.embedding, topic: g.topic)
    }

    /// The next request, aggregated for simulation (no token rows kept).
    public mutating func nextRequest(builder: inout RoutingRequestBuilder) -> RoutingRequest {
        let g = prepare()
        var sink = AggregateSink(layers: layers, experts: experts, topK: topK, scratch: aggregateScratch)
        sink.request = RoutingRequest(id: g.id, arrivalNs: g.arrivalNs, inputTokens: g.inputTokens, outputTokens: g.outputTokens,
                                      embedding: g.embedding, layers: layers, experts: experts, probs: [], selOffsets: [0],
                                      selExperts: [], selTokens: [])
        generate(inputTokens: g.inputTokens, outputTokens: g.outputTokens, topics: (g.topic, g.secondTopic), sink: &sink)
        aggregateScratch = sink.scratch
        return sink.request
    }

    struct Prepared {
        var id: UInt64, arrivalNs: Int64, inputTokens: Int, outputTokens: Int
        var embedding: [Float], topic: Int, secondTopic: Int
    }

    /// Draws a request's length, topics and embedding, and sets its bias and initial token noise.
    mutating func prepare() -> Prepared {
        let L = layers, E = experts, D = params.embeddingDim
        clock += Exponential.sampleUnit(&rng) / params.arrivalRate
        let arrival = Int64((clock * 1e9).rounded())
        let inTok = min(max(Int(inputDist.sample(&rng).rounded()), 1), params.inputMax)
        let outTok = min(max(Int(outputDist.sample(&rng).rounded()), 1), params.outputMax)
        let c1 = topicDist.sample(&rng)
        var c2 = topicDist.sample(&rng)
        if params.topics > 1 && c2 == c1 { c2 = (c1 + 1) % params.topics }
        // Embedding: centroid + noise.
        var n = [Float](repeating: 0, count: D)
        for i in 0..<D { n[i] = normal.sample(&rng) }
        var emb = [Float](repeating: 0, count: D)
        let eps = Float(params.embeddingNoise) / Float(D).squareRoot()
        var norm: Float = 0
        for i in 0..<D { emb[i] = centroids[c1 * D + i] + eps * n[i]; norm += emb[i] * emb[i] }
        norm = max(norm.squareRoot(), 1e-12)
        for i in 0..<D { emb[i] /= norm }
        // Request bias: a linear function of the embedding offset, plus a free part.
        let rs = Float(params.requestSigma), fs = Float(params.requestFreeSigma)
        for le in 0..<(L * E) {
            var dot: Float = 0
            let base = le * D
            for i in 0..<D { dot += proj[base + i] * n[i] }
            reqBias[le] = pop[le] + (rs * dot + fs * normal.sample(&rng))
        }
        // Token noise starts from its stationary distribution.
        let ts = Float(params.tokenSigma)
        for i in 0..<(L * E) { noise[i] = ts * normal.sample(&rng) }
        let id = nextID
        nextID += 1
        return Prepared(id: id, arrivalNs: arrival, inputTokens: inTok, outputTokens: outTok, embedding: emb, topic: c1, secondTopic: c2)
    }

    /// Generates every token's gate rows, in token order, into `sink`.
    mutating func generate<S: RoutingTokenSink>(inputTokens inTok: Int, outputTokens outTok: Int, topics: (Int, Int), sink: inout S) {
        let L = layers, E = experts, K = topK
        let (c1, c2) = topics
        let rho = Float(params.tokenRho)
        let innov = Float(params.tokenSigma) * (1 - rho * rho).squareRoot()
        let invT = Float(1 / params.temperature)
        let beta = Float(params.crossLayer)
        let drift = Float(params.drift)
        let totalTokens = inTok + outTok - 1
        sink.begin(inputTokens: inTok, outputTokens: outTok)
        let table = normal.table
        table.withUnsafeBufferPointer { nt in
        reqBias.withUnsafeBufferPointer { bias in
        topic.withUnsafeBufferPointer { topic in
        perm.withUnsafeBufferPointer { perm in
        noise.withUnsafeMutableBufferPointer { noise in
        logits.withUnsafeMutableBufferPointer { z in
        sel.withUnsafeMutableBufferPointer { sel in
        prevSel.withUnsafeMutableBufferPointer { prev in
            let shift = UInt64(64 - FastNormal.bits)
            for tok in 0..<totalTokens {
                let w: Float = tok < inTok ? 0 : drift * Float(tok - inTok + 1) / Float(outTok)
                for l in 0..<L {
                    let le = l * E
                    let t1 = (c1 * L + l) * E, t2 = (c2 * L + l) * E
                    var m = -Float.infinity
                    for e in 0..<E {
                        let x = rng.next()
                        let i = Int(x >> shift)
                        let f = Float(x & 0xF_FFFF) * (1.0 / 1_048_576.0)
                        let gauss = nt[i] + (nt[i + 1] - nt[i]) * f
                        let u = rho * noise[le + e] + innov * gauss
                        noise[le + e] = u
                        var v = bias[le + e] + u
                        v += (1 - w) * topic[t1 + e] + w * topic[t2 + e]
                        z[e] = v
                    }
                    if l > 0 && beta > 0 {
                        for j in 0..<K { z[Int(perm[le + prev[j]])] += beta }
                    }
                    for e in 0..<E { z[e] *= invT; if z[e] > m { m = z[e] } }
                    var sum: Float = 0
                    for e in 0..<E { let x = expf(z[e] - m); z[e] = x; sum += x }
                    let inv = 1 / sum
                    // Probabilities and top-k (best first; ties to the lower index).
                    var cnt = 0
                    for e in 0..<E {
                        let p = z[e] * inv
                        z[e] = p
                        var pos = cnt
                        while pos > 0 && z[sel[pos - 1]] < p { pos -= 1 }
                        if pos < K {
                            var j = Swift.min(cnt, K - 1)
                            while j > pos { sel[j] = sel[j - 1]; j -= 1 }
                            sel[pos] = e
                            if cnt < K { cnt += 1 }
                        }
                    }
                    for j in 0..<K { prev[j] = sel[j] }
                    sink.row(tok, l, UnsafePointer(z.baseAddress!), UnsafePointer(sel.baseAddress!))
                }
            }
        }}}}}}}}
        sink.end()
    }
}

/// Receives a request's gate rows token by token (token order; layers in order within a token).
protocol RoutingTokenSink {
    mutating func begin(inputTokens: Int, outputTokens: Int)
    /// Token `tok` (0..<input + output − 1) at MoE layer `l`: the probabilities (experts) and the
    /// top-k expert indices, best first.
    mutating func row(_ tok: Int, _ l: Int, _ probs: UnsafePointer<Float>, _ top: UnsafePointer<Int>)
    mutating func end()
}

/// Keeps the rows in file order (prefill layer-major, then one row per layer per decode token).
struct RowsSink: RoutingTokenSink {
    var rows: [Float]
    let L: Int, E: Int
    var inTok = 0
    init(rows: [Float], layers: Int, experts: Int) { self.rows = rows; L = layers; E = experts }
    mutating func begin(inputTokens: Int, outputTokens: Int) {
        inTok = inputTokens
        let need = (inputTokens + outputTokens - 1) * L * E
        if rows.count != need { rows = [Float](repeating: 0, count: need) }
    }
    mutating func row(_ tok: Int, _ l: Int, _ probs: UnsafePointer<Float>, _ top: UnsafePointer<Int>) {
        let offset = tok < inTok ? (l * inTok + tok) * E : (tok * L + l) * E
        rows.withUnsafeMutableBufferPointer { r in for e in 0..<E { r[offset + e] = probs[e] } }
    }
    mutating func end() {}
}

/// Builds the aggregated `RoutingRequest` directly (mean probabilities and token counts per
/// (iteration, layer)), as `RoutingRequestBuilder` would from the rows. Writes into buffers sized
/// up front (no per-row array growth), copied into the request's arrays once at the end.
struct AggregateSink: RoutingTokenSink {
    let L: Int, E: Int, K: Int
    var request: RoutingRequest
    var scratch: [Float]       // L × E prefill sums, then L × E prefill counts
    var inTok = 0
    var sorted: [Int]
    var probs = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    var offsets = UnsafeMutableBufferPointer<Int32>(start: nil, count: 0)
    var ids = UnsafeMutableBufferPointer<UInt16>(start: nil, count: 0)
    var counts = UnsafeMutableBufferPointer<Int32>(start: nil, count: 0)
    var np = 0, no = 0, ns = 0

    init(layers: Int, experts: Int, topK: Int, scratch: [Float]) {
        L = layers; E = experts; K = topK
        self.scratch = scratch.count == 2 * layers * experts ? scratch : [Float](repeating: 0, count: 2 * layers * experts)
        request = RoutingRequest(id: 0, arrivalNs: 0, inputTokens: 1, outputTokens: 1, embedding: [], layers: layers, experts: experts,
                                 probs: [], selOffsets: [0], selExperts: [], selTokens: [])
        sorted = [Int](repeating: 0, count: topK)
    }

    mutating func begin(inputTokens: Int, outputTokens: Int) {
        inTok = inputTokens
        for i in scratch.indices { scratch[i] = 0 }
        probs = .allocate(capacity: outputTokens * L * E)
        offsets = .allocate(capacity: outputTokens * L + 1)
        let maxSel = L * E + (outputTokens - 1) * L * K
        ids = .allocate(capacity: maxSel)
        counts = .allocate(capacity: maxSel)
        offsets[0] = 0
        np = 0; no = 1; ns = 0
    }

    mutating func row(_ tok: Int, _ l: Int, _ p: UnsafePointer<Float>, _ top: UnsafePointer<Int>) {
        if tok < inTok {
            let base = l * E, cbase = L * E + l * E
            for e in 0..<E { scratch[base + e] += p[e] }
            for j in 0..<K { scratch[cbase + top[j]] += 1 }
            if tok == inTok - 1 && l == L - 1 { flushPrefill() }
            return
        }
        for e in 0..<E { probs[np + e] = p[e] }
        np += E
        // Selected experts in index order, one token each.
        for j in 0..<K { sorted[j] = top[j] }
        var i = 1
        while i < K { let v = sorted[i]; var j = i; while j > 0 && sorted[j - 1] > v { sorted[j] = sorted[j - 1]; j -= 1 }; sorted[j] = v; i += 1 }
        for j in 0..<K { ids[ns] = UInt16(sorted[j]); counts[ns] = 1; ns += 1 }
        offsets[no] = Int32(ns)
        no += 1
    }

    mutating func flushPrefill() {
        let inv = 1 / Float(inTok)
        for l in 0..<L {
            for e in 0..<E { probs[np] = scratch[l * E + e] * inv; np += 1 }
            for e in 0..<E {
                let n = scratch[L * E + l * E + e]
                if n > 0 { ids[ns] = UInt16(e); counts[ns] = Int32(n); ns += 1 }
            }
            offsets[no] = Int32(ns)
            no += 1
        }
    }

    mutating func end() {
        request.probs = Array(UnsafeBufferPointer(rebasing: probs[0..<np]))
        request.selOffsets = Array(UnsafeBufferPointer(rebasing: offsets[0..<no]))
        request.selExperts = Array(UnsafeBufferPointer(rebasing: ids[0..<ns]))
        request.selTokens = Array(UnsafeBufferPointer(rebasing: counts[0..<ns]))
        probs.deallocate(); offsets.deallocate(); ids.deallocate(); counts.deallocate()
        probs = .init(start: nil, count: 0); offsets = .init(start: nil, count: 0)
        ids = .init(start: nil, count: 0); counts = .init(start: nil, count: 0)
    }
}

extension Exponential {
    /// A unit-mean exponential variate.
    @inline(__always) static func sampleUnit<G: RandomNumberGenerator>(_ g: inout G) -> Double {
        -log(g.nextUnitDoubleOpenClosed())
    }
}

extension RoutingGenerator {
    /// Writes `requests` generated requests to a routing trace file (zstd when `path` ends in .zst).
    public static func writeTrace(params: RoutingGeneratorParams, model: MoEModelConfig, requests: Int, seed: UInt64,
                                  path: String, row: RoutingRowEncoding = .probs, dtype: RoutingValueType = .f16) throws {
        var g = try RoutingGenerator(params: params, layers: model.moeLayers, experts: model.experts, topK: model.topK, seed: seed)
        let header = RoutingTraceHeader(model: model.name, layers: model.moeLayers, experts: model.experts, topK: model.topK,
                                        embeddingDim: params.embeddingDim, row: row, dtype: dtype, requests: requests,
                                        source: "generated by gpusim's routing generator (\(params.file), seed \(seed))",
                                        generator: params.json)
        let w = try RoutingTraceWriter(path: path, header: header)
        for _ in 0..<requests {
            let r = g.next()
            try w.write(id: r.id, arrivalNs: r.arrivalNs, inputTokens: r.inputTokens, outputTokens: r.outputTokens,
                        embedding: r.embedding, rows: g.rows)
        }
        try w.close()
    }
}
