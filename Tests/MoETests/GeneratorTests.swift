import XCTest
@testable import MoE

final class GeneratorTests: XCTestCase {
    func testSameSeedSameRequestsDifferentSeedDifferent() throws {
        let params = try RoutingGeneratorParams.load(path: try Fixture.smallGenerator(model: "Qwen1.5-MoE-A2.7B", name: "g1.yaml"))
        func take(_ seed: UInt64) throws -> [RoutingRequest] {
            var g = try RoutingGenerator(params: params, layers: 24, experts: 60, topK: 4, seed: seed)
            var b = RoutingRequestBuilder(layers: 24, experts: 60, topK: 4)
            return (0..<3).map { _ in g.nextRequest(builder: &b) }
        }
        let a = try take(1), b = try take(1), c = try take(2)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        for r in a {
            // Every decode token selects exactly top_k experts per layer; rows sum to 1.
            for it in 1..<r.iterations {
                for l in 0..<24 {
                    XCTAssertEqual(r.selectedRange(it, l).count, 4)
                    let s = r.probs[r.probOffset(it, l)..<(r.probOffset(it, l) + 60)].reduce(0, +)
                    XCTAssertEqual(s, 1, accuracy: 1e-4)
                }
            }
            XCTAssertEqual(r.embedding.count, 8)
        }
    }

    func testTemporalLocalityFollowsTheTokenCorrelation() throws {
        // With token noise dominating, consecutive tokens repeat their top-1 expert more often
        // when the noise is correlated between tokens (ρ = 0.9) than when it is not (ρ = 0).
        let model = try Fixture.environment().models.model(named: "Mixtral-8x7B")
        func repeatRate(_ rho: Double) throws -> Double {
            let p = try RoutingGeneratorParams.load(path: try Fixture.smallGenerator(model: "Mixtral-8x7B", name: "rho\(rho).yaml", rho: rho))
            let path = Fixture.tmp("rho\(rho).routing")
            try RoutingGenerator.writeTrace(params: p, model: model, requests: 6, seed: 3, path: path)
            return try RoutingTraceStatistics.compute(path: path).mean.repeat1
        }
        let low = try repeatRate(0), high = try repeatRate(0.9)
        XCTAssertGreaterThan(high, low + 0.2, "repeat rate \(low) at ρ = 0, \(high) at ρ = 0.9")
    }

    func testBadParametersNameTheKey() throws {
        let good = try String(contentsOfFile: try Fixture.smallGenerator(model: "Mixtral-8x7B", name: "ok.yaml"), encoding: .utf8)
        XCTAssertNoThrow(try RoutingGeneratorParams.parse(yaml: good, file: "p.yaml"))
        for (yaml, key) in [(good.replacingOccurrences(of: "token_rho: 0.1", with: "token_rho: 1.5"), "token_rho"),
                            (good.replacingOccurrences(of: "temperature: 1.0", with: "temperature: 0"), "temperature"),
                            (good.replacingOccurrences(of: "topics: 4", with: "topics: 4\ntopic_count: 4"), "topic_count"),
                            (good.replacingOccurrences(of: "input_tokens: {mean: 6, cv: 0.5, max: 12}", with: "input_tokens: {mean: 6, cv: 0.5}"), "input_tokens")] {
            XCTAssertThrowsError(try RoutingGeneratorParams.parse(yaml: yaml, file: "p.yaml")) { e in
                guard let ce = e as? MoEConfigError else { return XCTFail("\(e)") }
                XCTAssertEqual(ce.keyPath, key, "\(ce)")
                XCTAssertEqual(ce.file, "p.yaml")
            }
        }
    }

    func testStatisticsOfAHandWrittenTrace() throws {
        // Two layers, four experts, top-1. Decode tokens always pick expert 2 at layer 0 and
        // expert 1 at layer 1: repeat rate 1, cross-layer predictability 1.
        let header = "{\"format\": \"gpusim-routing\", \"version\": 1, \"model\": \"t\", \"layers\": 2, \"experts\": 4, \"top_k\": 1, \"embedding_dim\": 1, \"row\": \"topk\", \"dtype\": \"f32\"}"
        var t = TraceBytes(header: header)
        t.request(id: 0, arrival: 0, input: 1, output: 4, embedding: [1])
        for _ in 0..<4 {
            t.u8(1); t.u16(2); t.f32(1)
            t.u8(1); t.u16(1); t.f32(1)
        }
        t.end(1)
        let path = Fixture.tmp("stats.routing")
        try t.write(path)
        let s = try RoutingTraceStatistics.compute(path: path)
        XCTAssertEqual(s.layers[0].top1RepeatRate, 1)
        XCTAssertEqual(s.layers[1].crossLayerAccuracy, 1)
        XCTAssertEqual(s.layers[0].gateEntropyBits, 0)
        // All selections on one expert of four: share 4× the uniform share, entropy 0.
        XCTAssertEqual(s.layers[0].topExpertShareRatio, 4)
        XCTAssertEqual(s.layers[0].popularityEntropyNorm, 0)
        XCTAssertEqual(s.randomTop1Repeat, 0.25)
    }
}
