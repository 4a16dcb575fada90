// The structure of a routing trace: per layer, the gate's entropy, the popularity skew, the
// consecutive-token repeat rate and the cross-layer predictability; across requests, how well
// prompt-embedding similarity predicts expert-usage similarity (topic clusters).

import Foundation

public struct RoutingLayerStats: Sendable, Equatable {
    public var layer: Int
    /// Mean entropy (bits) of decode tokens' gate rows.
    public var gateEntropyBits: Double
    /// Entropy (bits) of the layer's selection frequencies over all tokens, relative to log2(E).
    public var popularityEntropyNorm: Double
    /// Share of all selections taken by the most popular expert, over the uniform share 1/E.
    public var topExpertShareRatio: Double
    /// Coefficient of variation of experts' selection counts.
    public var popularityCV: Double
    /// Decode tokens whose top-1 expert equals the previous token's top-1.
    public var top1RepeatRate: Double
    /// Decode tokens whose top-k set shares an expert with the previous token's.
    public var topKOverlapRate: Double
    /// Top-1 at this layer predicted from top-1 at the previous layer by the most frequent
    /// successor (nil for the first layer), and the same by popularity alone.
    public var crossLayerAccuracy: Double?
    public var crossLayerBaseline: Double?
}

public struct RoutingTraceStatistics: Sendable {
    public var file: String
    public var header: RoutingTraceHeader?
    public var requests: Int = 0
    public var inputTokensMean: Double = 0
    public var outputTokensMean: Double = 0
    public var layers: [RoutingLayerStats] = []
    /// Pearson correlation, over request pairs, between prompt-embedding cosine and the cosine
    /// of the requests' expert-usage vectors (first 256 requests).
    public var semanticCorrelation: Double?
    /// Random expectations for comparison: top-1 repeat 1/E, top-k overlap 1 − C(E−k,k)/C(E,k).
    public var randomTop1Repeat: Double = 0
    public var randomTopKOverlap: Double = 0
}

/// Accumulates statistics over requests.
public struct RoutingStatsAccumulator {
    let L: Int, E: Int, K: Int
    var counts: [Double]          // L × E selections
    var entropySum: [Double]      // L
    var entropyN: Double = 0
    var repeat1: [Double], overlap: [Double]
    var pairs: Double = 0
    var trans: [Double]           // L × E × E: top1 at l−1 → top1 at l
    var transN: [Double]
    var requests = 0
    var inSum = 0.0, outSum = 0.0
    var embeddings: [[Float]] = []
    var usage: [[Float]] = []
    let sampleLimit = 256
    var prevTop: [Int]            // L × K of the previous decode token
    var curTop: [Int]

    public init(layers: Int, experts: Int, topK: Int) {
        L = layers; E = experts; K = topK
        counts = [Double](repeating: 0, count: L * E)
        entropySum = [Double](repeating: 0, count: L)
        repeat1 = [Double](repeating: 0, count: L)
        overlap = [Double](repeating: 0, count: L)
        trans = [Double](repeating: 0, count: L * E * E)
        transN = [Double](repeating: 0, count: L)
        prevTop = [Int](repeating: 0, count: L * topK)
        curTop = [Int](repeating: 0, count: L * topK)
    }

    public mutating func add(_ r: RoutingRequest) {
        requests += 1
        inSum += Double(r.inputTokens)
        outSum += Double(r.outputTokens)
        var use = [Float](repeating: 0, count: L * E)
        for it in 0..<r.iterations {
            for l in 0..<L {
                for i in r.selectedRange(it, l) {
                    counts[l * E + Int(r.selExperts[i])] += Double(r.selTokens[i])
                    use[l * E + Int(r.selExperts[i])] += Float(r.selTokens[i])
                }
            }
            guard it >= 1 else { continue }
            // A decode token: its row is the token's own gate output.
            entropyN += 1
            for l in 0..<L {
                let base = r.probOffset(it, l)
                var h = 0.0
                for e in 0..<E { let p = Double(r.probs[base + e]); if p > 0 { h -= p * log2(p) } }
                entropySum[l] += h
                // Top-k of the row (ties to the lower index), best first.
                for j in 0..<K { curTop[l * K + j] = -1 }
                for e in 0..<E {
                    let v = r.probs[base + e]
                    var pos = K
                    while pos > 0 && (curTop[l * K + pos - 1] < 0 || r.probs[base + curTop[l * K + pos - 1]] < v) { pos -= 1 }
                    if pos < K {
                        var j = K - 1
                        while j > pos { curTop[l * K + j] = curTop[l * K + j - 1]; j -= 1 }
                        curTop[l * K + pos] = e
                    }
                }
                if l > 0 {
                    trans[(l * E + curTop[(l - 1) * K]) * E + curTop[l * K]] += 1
                    transN[l] += 1
                }
            }
            if it >= 2 {
                pairs += 1
                for l in 0..<L {
                    if curTop[l * K] == prevTop[l * K] { repeat1[l] += 1 }
                    var any = false
                    for a in 0..<K where !any { for b in 0..<K where curTop[l * K + a] == prevTop[l * K + b] { any = true; break } }
                    if any { overlap[l] += 1 }
                }
            }
            swap(&prevTop, &curTop)
        }
        if embeddings.count < sampleLimit {
            embeddings.append(r.embedding)
            usage.append(use)
        }
    }

    public func finish(file: String, header: RoutingTraceHeader?) -> RoutingTraceStatistics {
        var s = RoutingTraceStatistics(file: file, header: header)
        s.requests = requests
        s.inputTokensMean = requests > 0 ? inSum / Double(requests) : 0
        s.outputTokensMean = requests > 0 ? outSum / Double(requests) : 0
        s.randomTop1Repeat = 1 / Double(E)
        var c = 1.0
        for j in 0..<K { c *= Double(E - K - j) / Double(E - j) }
        s.randomTopKOverlap = 1 - max(c, 0)
        for l in 0..<L {
            var total = 0.0, h = 0.0, mx = 0.0, sq = 0.0
            for e in 0..<E { total += counts[l * E + e] }
            for e in 0..<E {
                let n = counts[l * E + e]
                if total > 0 && n > 0 { let p = n / total; h -= p * log2(p) }
                mx = max(mx, n)
                sq += n * n
            }
            let mean = total / Double(E)
            let cv = mean > 0 ? (sq / Double(E) - mean * mean).squareRoot() / mean : 0
            var ls = RoutingLayerStats(layer: l, gateEntropyBits: entropyN > 0 ? entropySum[l] / entropyN : 0,
                                       popularityEntropyNorm: h / log2(Double(E)),
                                       topExpertShareRatio: total > 0 ? mx / total * Double(E) : 0, popularityCV: cv,
                                       top1RepeatRate: pairs > 0 ? repeat1[l] / pairs : 0,
                                       topKOverlapRate: pairs > 0 ? overlap[l] / pairs : 0,
                                       crossLayerAccuracy: nil, crossLayerBaseline: nil)
            if l > 0 && transN[l] > 0 {
                var hit = 0.0
                var col = [Double](repeating: 0, count: E)
                for i in 0..<E {
                    var best = 0.0
                    for j in 0..<E { let v = trans[(l * E + i) * E + j]; best = max(best, v); col[j] += v }
                    hit += best
                }
                ls.crossLayerAccuracy = hit / transN[l]
                ls.crossLayerBaseline = (col.max() ?? 0) / transN[l]
            }
            s.layers.append(ls)
        }
        // Semantic structure: correlation of embedding cosine and usage cosine over pairs.
        let n = embeddings.count
        if n >= 3 {
            func cos(_ a: [Float], _ b: [Float]) -> Double {
                var d = 0.0, na = 0.0, nb = 0.0
                for i in 0..<min(a.count, b.count) { d += Double(a[i] * b[i]); na += Double(a[i] * a[i]); nb += Double(b[i] * b[i]) }
                return na > 0 && nb > 0 ? d / (na * nb).squareRoot() : 0
            }
            var xs: [Double] = [], ys: [Double] = []
            for i in 0..<n { for j in (i + 1)..<n { xs.append(cos(embeddings[i], embeddings[j])); ys.append(cos(usage[i], usage[j])) } }
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            var sxy = 0.0, sxx = 0.0, syy = 0.0
            for k in xs.indices { sxy += (xs[k] - mx) * (ys[k] - my); sxx += (xs[k] - mx) * (xs[k] - mx); syy += (ys[k] - my) * (ys[k] - my) }
            s.semanticCorrelation = sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : nil
        }
        return s
    }
}

extension RoutingTraceStatistics {
    /// Reads a routing trace and computes its statistics (streaming).
    public static func compute(path: String) throws -> RoutingTraceStatistics {
        let r = try RoutingTraceReader(path: path)
        var acc = RoutingStatsAccumulator(layers: r.header.layers, experts: r.header.experts, topK: r.header.topK)
        try r.forEach { acc.add($0) }
        return acc.finish(file: path, header: r.header)
    }

    /// Layers averaged (cross-layer terms over layers ≥ 1).
    public var mean: (entropy: Double, popEntropy: Double, topShare: Double, repeat1: Double, overlap: Double, cross: Double, crossBase: Double) {
        let n = Double(max(layers.count, 1))
        let cl = layers.compactMap(\.crossLayerAccuracy), cb = layers.compactMap(\.crossLayerBaseline)
        return (layers.map(\.gateEntropyBits).reduce(0, +) / n, layers.map(\.popularityEntropyNorm).reduce(0, +) / n,
                layers.map(\.topExpertShareRatio).reduce(0, +) / n, layers.map(\.top1RepeatRate).reduce(0, +) / n,
                layers.map(\.topKOverlapRate).reduce(0, +) / n, cl.reduce(0, +) / Double(max(cl.count, 1)),
                cb.reduce(0, +) / Double(max(cb.count, 1)))
    }

    public func text() -> String {
        var out = "file: \(file)\n"
        if let h = header {
            out += "model: \(h.model)  layers: \(h.layers)  experts: \(h.experts)  top_k: \(h.topK)  embedding_dim: \(h.embeddingDim)  row: \(h.row.rawValue)/\(h.dtype.rawValue)\n"
            out += "source: \(h.source)\n"
        }
        out += "requests: \(requests)  mean input tokens: \(fmt(inputTokensMean, 1))  mean output tokens: \(fmt(outputTokensMean, 1))\n"
        if let c = semanticCorrelation { out += "semantic correlation (embedding cosine vs expert-usage cosine, request pairs): \(fmt(c, 3))\n" }
        out += "random baselines: top-1 repeat \(fmt(randomTop1Repeat, 3)), top-k overlap \(fmt(randomTopKOverlap, 3))\n"
        out += "layer  gate_entropy_bits  popularity_entropy  top_share_x  popularity_cv  top1_repeat  topk_overlap  cross_layer_acc  cross_layer_base\n"
        for l in layers {
            out += pad("\(l.layer)", 5) + "  " + pad(fmt(l.gateEntropyBits, 3), 17) + "  " + pad(fmt(l.popularityEntropyNorm, 3), 18)
                + "  " + pad(fmt(l.topExpertShareRatio, 2), 11) + "  " + pad(fmt(l.popularityCV, 3), 13) + "  " + pad(fmt(l.top1RepeatRate, 3), 11)
                + "  " + pad(fmt(l.topKOverlapRate, 3), 12) + "  " + pad(l.crossLayerAccuracy.map { fmt($0, 3) } ?? "-", 15)
                + "  " + pad(l.crossLayerBaseline.map { fmt($0, 3) } ?? "-", 16) + "\n"
        }
        let m = mean
        out += "mean   " + pad(fmt(m.entropy, 3), 17) + "  " + pad(fmt(m.popEntropy, 3), 18) + "  " + pad(fmt(m.topShare, 2), 11)
            + "  " + pad("", 13) + "  " + pad(fmt(m.repeat1, 3), 11) + "  " + pad(fmt(m.overlap, 3), 12) + "  " + pad(fmt(m.cross, 3), 15)
            + "  " + pad(fmt(m.crossBase, 3), 16) + "\n"
        return out
    }

    public func json() -> String {
        func d(_ x: Double) -> String { x.isFinite ? String(x) : "null" }
        var s = "{\"file\": \(jsonQuote(file)), \"requests\": \(requests), \"input_tokens_mean\": \(d(inputTokensMean)), "
        s += "\"output_tokens_mean\": \(d(outputTokensMean)), "
        if let h = header { s += "\"model\": \(jsonQuote(h.model)), \"experts\": \(h.experts), \"top_k\": \(h.topK), " }
        s += "\"semantic_correlation\": \(semanticCorrelation.map(d) ?? "null"), "
        s += "\"random_top1_repeat\": \(d(randomTop1Repeat)), \"random_topk_overlap\": \(d(randomTopKOverlap)), \"layers\": ["
        s += layers.map { l in
            "{\"layer\": \(l.layer), \"gate_entropy_bits\": \(d(l.gateEntropyBits)), \"popularity_entropy_norm\": \(d(l.popularityEntropyNorm)), "
                + "\"top_expert_share_ratio\": \(d(l.topExpertShareRatio)), \"popularity_cv\": \(d(l.popularityCV)), "
                + "\"top1_repeat_rate\": \(d(l.top1RepeatRate)), \"topk_overlap_rate\": \(d(l.topKOverlapRate)), "
                + "\"cross_layer_accuracy\": \(l.crossLayerAccuracy.map(d) ?? "null"), \"cross_layer_baseline\": \(l.crossLayerBaseline.map(d) ?? "null")}"
        }.joined(separator: ", ")
        return s + "]}"
    }
}

func fmt(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "nan" }
    return String(format: "%.\(digits)f", x)
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
