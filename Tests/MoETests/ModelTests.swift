import XCTest
@testable import MoE

final class ModelTests: XCTestCase {
    func testShippedModelsLoadWithExpertSizesFromTheirShapes() throws {
        let cat = try Fixture.environment().models
        XCTAssertEqual(cat.models.count, 5)
        // Bytes per expert: (gate + up + down) = 3 · hidden · ffn parameters, bf16 (2 bytes).
        let expected: [String: (layers: Int, experts: Int, topK: Int, bytes: Int)] = [
            "Mixtral-8x7B": (32, 8, 2, 3 * 4096 * 14336 * 2),
            "Qwen1.5-MoE-A2.7B": (24, 60, 4, 3 * 2048 * 1408 * 2),
            "Phi-3.5-MoE": (32, 16, 2, 3 * 4096 * 6400 * 2),
            "DeepSeek-V2-Lite": (26, 64, 6, 3 * 2048 * 1408 * 2),
            "OLMoE-1B-7B": (16, 64, 8, 3 * 2048 * 1024 * 2),
        ]
        for (name, e) in expected {
            let m = try cat.model(named: name)
            XCTAssertEqual(m.moeLayers, e.layers, name)
            XCTAssertEqual(m.experts, e.experts, name)
            XCTAssertEqual(m.topK, e.topK, name)
            XCTAssertEqual(m.expertBytes, e.bytes, name)
        }
    }

    func testDerivedTotalsMatchThePublishedParameterCounts() throws {
        // Published totals (model cards / papers), independent of the derivation.
        let published: [String: Double] = ["Mixtral-8x7B": 46.7e9, "Qwen1.5-MoE-A2.7B": 14.3e9, "Phi-3.5-MoE": 42.0e9,
                                           "DeepSeek-V2-Lite": 15.7e9, "OLMoE-1B-7B": 6.9e9]
        let cat = try Fixture.environment().models
        for (name, total) in published {
            let m = try cat.model(named: name)
            XCTAssertEqual(Double(m.totalParams), total, accuracy: total * 0.01, name)
            XCTAssertGreaterThan(m.denseBytes, 0)
            XCTAssertEqual(m.totalParams, m.denseParams + m.totalExperts * m.expertParams)
        }
    }

    func testMixtralDenseBytesByHand() throws {
        let m = try Fixture.environment().models.model(named: "mixtral")
        // Per layer: q, o 4096² each; k, v 4096·1024 each; 2 RMSNorms; router 4096·8.
        let perLayer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 2 * 4096 + 4096 * 8
        let dense = 32 * perLayer + 2 * 32000 * 4096 + 4096
        XCTAssertEqual(m.denseParams, dense)
        XCTAssertEqual(m.denseBytes, 2 * dense)
    }

    func testLookupByAliasIsCaseInsensitive() throws {
        let cat = try Fixture.environment().models
        XCTAssertEqual(try cat.model(named: "mistralai/mixtral-8x7b-v0.1").name, "Mixtral-8x7B")
        XCTAssertThrowsError(try cat.model(named: "gpt-5")) { e in
            XCTAssertTrue("\(e)".contains("unknown MoE model 'gpt-5'"), "\(e)")
        }
    }

    let good = """
    schema: gpusim-moe-model/1
    name: Tiny
    aliases: []
    source: test
    published_total_params: {value: 1.0e6, source: test}
    dtype_bytes: 2
    layers: 2
    hidden: 64
    vocab: 100
    tied_embeddings: false
    norm: rms
    attention: {kind: gqa, heads: 4, kv_heads: 2, head_dim: 16, qkv_bias: false, o_bias: false, qk_norm: false}
    moe: {experts: 4, top_k: 2, expert_ffn: 128, gated: true, shared_experts: 0, shared_ffn: 0, shared_gate: false, dense_layers: 0, dense_ffn: 0, norm_topk_prob: true}
    fmoe_prefetch_distance: 1
    """

    func testBadModelFilesNameTheKey() throws {
        XCTAssertNoThrow(try MoEModelConfig.parse(yaml: good, file: "tiny.yaml"))
        let cases: [(String, String, String)] = [
            (good.replacingOccurrences(of: "layers: 2", with: "layers: 2\nlayerz: 3"), "layerz", "unknown key"),
            (good.replacingOccurrences(of: "hidden: 64\n", with: ""), "", "missing required key 'hidden'"),
            (good.replacingOccurrences(of: "top_k: 2", with: "top_k: 5"), "moe.top_k", "expected a whole number in 1...4"),
            (good.replacingOccurrences(of: "norm_topk_prob: true}", with: "norm_topk_prob: true, expert_bytes: 1000}"), "moe.expert_bytes", "the shape gives"),
            (good.replacingOccurrences(of: "kind: gqa", with: "kind: mqa"), "attention.kind", "expected 'gqa' or 'mla'"),
            (good.replacingOccurrences(of: "dtype_bytes: 2", with: "dtype_bytes: two"), "dtype_bytes", "expected a whole number"),
        ]
        for (yaml, key, message) in cases {
            XCTAssertThrowsError(try MoEModelConfig.parse(yaml: yaml, file: "tiny.yaml")) { e in
                guard let ce = e as? MoEConfigError else { return XCTFail("\(e)") }
                XCTAssertEqual(ce.file, "tiny.yaml")
                XCTAssertEqual(ce.keyPath, key, "\(ce)")
                XCTAssertTrue(ce.message.contains(message), "\(ce)")
            }
        }
    }
}
