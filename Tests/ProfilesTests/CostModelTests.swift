import XCTest
@testable import Profiles

final class CostModelTests: XCTestCase {
    // Llama-2-7B MLP at TP 2 and 512 tokens, computed by hand:
    // up_proj (gated: gate and up fused): [512 × 4096] · [4096 × 2·11008/2 = 11008]
    //   FLOPs = 2·512·11008·4096 = 46_170_898_432
    //   bytes = 2·(512·4096 + 4096·11008 + 512·11008) = 2·(2_097_152 + 45_088_768 + 5_636_096) = 105_644_032
    // down_proj: [512 × 11008/2 = 5504] · [5504 × 4096]
    //   FLOPs = 2·512·4096·5504 = 23_085_449_216
    //   bytes = 2·(512·5504 + 5504·4096 + 512·4096) = 2·(2_818_048 + 22_544_384 + 2_097_152) = 54_919_168
    // phi-2 (not gated) up_proj at TP 1: n = ffn = 10240.
    func testGEMMShapesFLOPsAndBytes() throws {
        let llama = ModelDims(hidden: 4096, ffn: 11008, gated: true, heads: 32, kvHeads: 32)
        let up = try OpShape(op: .mlpUpProj, dims: llama, tp: 2)
        XCTAssertEqual(up.gemm?.n, 11008)
        XCTAssertEqual(up.gemm?.k, 4096)
        XCTAssertEqual(up.flops(tokens: 512), 46_170_898_432)
        XCTAssertEqual(up.bytes(tokens: 512), 105_644_032)
        let down = try OpShape(op: .mlpDownProj, dims: llama, tp: 2)
        XCTAssertEqual(down.gemm?.n, 4096)
        XCTAssertEqual(down.gemm?.k, 5504)
        XCTAssertEqual(down.flops(tokens: 512), 23_085_449_216)
        XCTAssertEqual(down.bytes(tokens: 512), 54_919_168)
        let phi = try OpShape(op: .mlpUpProj, dims: ModelDims(hidden: 2560, ffn: 10240, gated: false), tp: 1)
        XCTAssertEqual(phi.gemm?.n, 10240)
        // Llama-2-70B attention (GQA: 64 heads, 8 KV heads, head dim 128) at TP 8:
        // QKV width (64 + 2·8)·128 = 10240, per rank 1280; output projection k = 8192/8 = 1024.
        let l70 = ModelDims(hidden: 8192, ffn: 28672, gated: true, heads: 64, kvHeads: 8)
        XCTAssertEqual(try OpShape(op: .attnPreProj, dims: l70, tp: 8).gemm?.n, 1280)
        XCTAssertEqual(try OpShape(op: .attnPostProj, dims: l70, tp: 8).gemm?.k, 1024)
        // Memory-bound: layernorm at 512 tokens, hidden 4096: 2·(2·512·4096 + 4096) = 8_396_800 bytes.
        XCTAssertEqual(try OpShape(op: .inputLayernorm, dims: llama, tp: 2).bytes(tokens: 512), 8_396_800)
        // Gated activation at TP 2: reads 512·2·5504, writes 512·5504: 2·3·512·5504 = 16_908_288 bytes.
        XCTAssertEqual(try OpShape(op: .mlpAct, dims: llama, tp: 2).bytes(tokens: 512), 16_908_288)
    }

    func testBadShapes() {
        let d = ModelDims(hidden: 4096, ffn: 14336, gated: true)
        XCTAssertThrowsError(try OpShape(op: .mlpUpProj, dims: d, tp: 3)) { XCTAssertEqual("\($0)", "tp 3 does not divide ffn 14336") }
        XCTAssertThrowsError(try OpShape(op: .mlpUpProj, dims: ModelDims(hidden: 0, ffn: 14336, gated: true), tp: 1))
        XCTAssertThrowsError(try Operation.named("mlp_up")) { XCTAssertTrue("\($0)".hasPrefix("unknown operation \"mlp_up\" (known: emb,"), "\($0)") }
        XCTAssertThrowsError(try Shipped.model.predict(ProfileQuery(gpu: "a100", op: .mlpUpProj, tokens: 0, dims: d)))
    }

    // The gated MLP fuses gate and up: at large token counts up_proj takes about twice
    // down_proj's time (same FLOPs per output column), and about the same for phi-2 (not gated).
    // python3: a100 Llama-2-7b tp1 4096 tokens: up 3.324-3.365 ms, down 1.585-1.604 ms; phi-2: up 0.867, down 0.79.
    func testFusedGateUpHypothesisHoldsInTheData() throws {
        for (model, gated) in [("meta-llama_Llama-2-7b-hf", true), ("microsoft_phi-2", false)] {
            let f = try VidurFile.load(path: Shipped.vidur("a100", model))
            let rows = f.rows.filter { $0.tp == 1 && $0.tokens >= 2048 }
            let ratio = median(rows.map { $0.medians[.mlpUpProj]! / $0.medians[.mlpDownProj]! })
            XCTAssertEqual(ratio, gated ? 2 : 1, accuracy: 0.2, model)
            // Time per FLOP at large token counts is about the same for up and down.
            let r = rows[0]
            let up = try OpShape(op: .mlpUpProj, dims: r.dims, tp: 1), down = try OpShape(op: .mlpDownProj, dims: r.dims, tp: 1)
            let perFlopUp = r.medians[.mlpUpProj]! / up.flops(tokens: r.tokens)
            let perFlopDown = r.medians[.mlpDownProj]! / down.flops(tokens: r.tokens)
            XCTAssertEqual(perFlopUp / perFlopDown, 1, accuracy: 0.2, model)
        }
    }

    // a100 phi-2 mlp_up_proj (N 10240, K 2560: measured by no other a100 model), tp 1:
    // python3: tokens 512 -> ['0.126'], 520 -> ['0.135'], no row at 513..519.
    func testInterpolationAtAndBetweenMeasuredPoints() throws {
        let phi = ModelDims(hidden: 2560, ffn: 10240, gated: false, heads: 32, kvHeads: 32)
        let at = try Shipped.model.predict(ProfileQuery(gpu: "a100", op: .mlpUpProj, tokens: 512, dims: phi))
        XCTAssertEqual(at.ms, 0.126)
        XCTAssertEqual(at.method, .measured)
        let at2 = try Shipped.model.predict(ProfileQuery(gpu: "A100-SXM4-80GB", op: .mlpUpProj, tokens: 520, dims: phi))
        XCTAssertEqual(at2.ms, 0.135)
        for t in 513...519 {
            let p = try Shipped.model.predict(ProfileQuery(gpu: "a100", op: .mlpUpProj, tokens: t, dims: phi))
            XCTAssertEqual(p.method, .interpolated)
            XCTAssertGreaterThan(p.ms, 0.126)
            XCTAssertLessThan(p.ms, 0.135)
        }
        // Log-log interpolation at 516: exp(ln 0.126 + (ln 0.135 − ln 0.126)·(ln 516 − ln 512)/(ln 520 − ln 512)).
        let expected = exp(log(0.126) + (log(0.135) - log(0.126)) * (log(516.0) - log(512.0)) / (log(520.0) - log(512.0)))
        XCTAssertEqual(try Shipped.model.predict(ProfileQuery(gpu: "a100", op: .mlpUpProj, tokens: 516, dims: phi)).ms, expected, accuracy: 1e-12)
        // The same shape without head counts (mlp does not depend on them) is the same measurement.
        XCTAssertEqual(try Shipped.model.predict(ProfileQuery(gpu: "a100", op: .mlpUpProj, tokens: 512,
                                                              dims: ModelDims(hidden: 2560, ffn: 10240, gated: false))).ms, 0.126)
    }

    // Duplicated rows are averaged: h100 Llama-2-7b tp 1 at 4096 tokens has up_proj medians 0.987 and 0.999.
    func testDuplicateMeasurementsAreAveraged() throws {
        let d = ModelDims(hidden: 4096, ffn: 11008, gated: true)
        let p = try Shipped.model.predict(ProfileQuery(gpu: "h100", op: .mlpUpProj, tokens: 4096, dims: d))
        XCTAssertEqual(p.method, .measured)
        XCTAssertEqual(p.ms, (0.987 + 0.999) / 2, accuracy: 1e-12)
    }

    // Beyond the measured token range the fit continues from the measurements: Llama-2-70B is
    // measured on h100 up to 4096 tokens, so 8192 is extrapolated, about twice the 4096 time.
    func testExtrapolationBeyondMeasuredTokens() throws {
        let d = ModelDims(hidden: 8192, ffn: 28672, gated: true)
        let at = try Shipped.model.predict(ProfileQuery(gpu: "h100", op: .mlpUpProj, tokens: 4096, dims: d))
        let p = try Shipped.model.predict(ProfileQuery(gpu: "h100", op: .mlpUpProj, tokens: 8192, dims: d))
        XCTAssertEqual(p.method, .extrapolated)
        XCTAssertEqual(p.ms / at.ms, 2, accuracy: 0.25)
    }

    func testUnmeasuredShapeIsFittedAndMonotoneInTokens() throws {
        // Hidden sizes no shipped model has, on every GPU, for the GEMMs and a memory-bound op.
        for gpu in ["a100", "a40", "h100"] {
            let m = try Shipped.model.model(gpu: gpu)
            for (hidden, ffn) in [(3072, 8192), (6144, 16384), (7168, 18944)] {
                for tp in [1, 2, 4, 8] {
                    for op in [Operation.mlpUpProj, .mlpDownProj, .mlpAct] {
                        let shape = try OpShape(op: op, dims: ModelDims(hidden: hidden, ffn: ffn, gated: true), tp: tp)
                        XCTAssertFalse(m.isMeasured(shape))
                        var prev = 0.0
                        for t in 1...5000 {
                            let p = try m.predict(shape: shape, tokens: t)
                            XCTAssertEqual(p.method, .fitted)
                            if p.ms < prev {
                                XCTFail("\(gpu) \(shape): \(p.ms) ms at \(t) tokens < \(prev) ms at \(t - 1)")
                                break
                            }
                            prev = p.ms
                        }
                    }
                }
            }
        }
    }

    // Sanity of the fitted GEMM model against physics: at one token an up_proj moves its weights
    // once, so the time is about bytes / bandwidth; at 4096 tokens it is compute-bound.
    func testFitIsRooflineShaped() throws {
        let d = ModelDims(hidden: 6144, ffn: 16384, gated: true)
        let m = try Shipped.model.model(gpu: "a100")
        let up = try OpShape(op: .mlpUpProj, dims: d, tp: 1)
        let t1 = try m.fittedMs(shape: up, tokens: 1)
        let bw = up.bytes(tokens: 1) / (t1 * 1e-3)    // bytes/s
        XCTAssertGreaterThan(bw, 1.2e12)               // A100-80GB HBM: 2.0 TB/s peak
        XCTAssertLessThan(bw, 2.1e12)
        let t4k = try m.fittedMs(shape: up, tokens: 4096)
        let flops = up.flops(tokens: 4096) / (t4k * 1e-3)
        XCTAssertGreaterThan(flops, 180e12)            // A100 dense fp16 tensor peak: 312 TFLOP/s
        XCTAssertLessThan(flops, 312e12)
    }
}
