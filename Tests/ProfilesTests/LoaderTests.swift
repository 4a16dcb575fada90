import XCTest
@testable import Profiles

final class LoaderTests: XCTestCase {
    // Expected values computed independently from the real files:
    // python3 -c "import csv,io,subprocess; f='Traces/profiles/vidur/a100/microsoft_phi-2/mlp.csv.zst'; rows=list(csv.DictReader(io.StringIO(subprocess.run(['zstd','-dc',f],capture_output=True,text=True).stdout))); print(len(rows), [c[11:-7] for c in rows[0] if c.startswith('time_stats.') and c.endswith('.median')], {k:rows[0][k] for k in ['n_embd','n_expanded_embd','n_head','n_kv_head','use_gated_mlp','num_tokens','num_tensor_parallel_workers','vocab_size','time_stats.mlp_up_proj.median','time_stats.mlp_down_proj.median']}, sum(float(r['time_stats.mlp_up_proj.median']) for r in rows), sum(float(r['time_stats.mlp_down_proj.median']) for r in rows), len(set(r['num_tokens'] for r in rows)))"
    // -> 261 ['emb', 'input_layernorm', 'attn_pre_proj', 'attn_rope', 'attn_post_proj', 'mlp_up_proj', 'mlp_act', 'mlp_down_proj', 'add']
    //    {'n_embd': '2560', 'n_expanded_embd': '10240', 'n_head': '32', 'n_kv_head': '32', 'use_gated_mlp': 'False', 'num_tokens': '4096',
    //     'num_tensor_parallel_workers': '1', 'vocab_size': '51200', 'time_stats.mlp_up_proj.median': '0.867', 'time_stats.mlp_down_proj.median': '0.79'}
    //    89.6985 88.4305 259
    func testPhi2OnA100MatchesPython() throws {
        let f = try VidurFile.load(path: Shipped.vidur("a100", "microsoft_phi-2"))
        XCTAssertEqual(f.rows.count, 261)
        XCTAssertEqual(f.operations, [.emb, .inputLayernorm, .attnPreProj, .attnRope, .attnPostProj, .mlpUpProj, .mlpAct, .mlpDownProj, .add])
        let r = f.rows[0]
        XCTAssertEqual(r.line, 2)
        XCTAssertEqual(r.dims, ModelDims(hidden: 2560, ffn: 10240, gated: false, heads: 32, kvHeads: 32))
        XCTAssertEqual(r.tokens, 4096)
        XCTAssertEqual(r.tp, 1)
        XCTAssertEqual(r.vocab, 51200)
        XCTAssertEqual(r.medians[.mlpUpProj], 0.867)
        XCTAssertEqual(r.medians[.mlpDownProj], 0.79)
        XCTAssertNil(r.medians[.postAttentionLayernorm])
        XCTAssertEqual(f.rows.reduce(0) { $0 + $1.medians[.mlpUpProj]! }, 89.6985, accuracy: 1e-9)
        XCTAssertEqual(f.rows.reduce(0) { $0 + $1.medians[.mlpDownProj]! }, 88.4305, accuracy: 1e-9)
        XCTAssertEqual(Set(f.rows.map(\.tokens)).count, 259)
        XCTAssertEqual(try f.measurements(gpu: "a100", source: "phi-2").count, 261 * 9)
    }

    // python3 -c "...same with f='Traces/profiles/vidur/h100/meta-llama_Llama-2-7b-hf/mlp.csv.zst'..."
    // -> 1044 rows, 10 operations, first row n_embd 4096, n_expanded_embd 11008, 32/32 heads, True, 4096 tokens, tp 1,
    //    vocab 32768, up 0.987, down 0.441; sum up 191.6545, sum down 95.418; 259 token counts; tp 1, 2, 4, 8
    func testLlama2On7bOnH100MatchesPython() throws {
        let f = try VidurFile.load(path: Shipped.vidur("h100", "meta-llama_Llama-2-7b-hf"))
        XCTAssertEqual(f.rows.count, 1044)
        XCTAssertEqual(f.operations.count, 10)
        let r = f.rows[0]
        XCTAssertEqual(r.dims, ModelDims(hidden: 4096, ffn: 11008, gated: true, heads: 32, kvHeads: 32))
        XCTAssertEqual(r.tokens, 4096)
        XCTAssertEqual(r.vocab, 32768)
        XCTAssertEqual(r.medians[.mlpUpProj], 0.987)
        XCTAssertEqual(r.medians[.mlpDownProj], 0.441)
        XCTAssertEqual(f.rows.reduce(0) { $0 + $1.medians[.mlpUpProj]! }, 191.6545, accuracy: 1e-9)
        XCTAssertEqual(f.rows.reduce(0) { $0 + $1.medians[.mlpDownProj]! }, 95.418, accuracy: 1e-9)
        XCTAssertEqual(Set(f.rows.map(\.tokens)).count, 259)
        XCTAssertEqual(Set(f.rows.map(\.tp)), [1, 2, 4, 8])
    }

    func testShippedSetHasEveryGPUAndModel() {
        let p = Shipped.profiles
        XCTAssertEqual(p.gpus, ["a100", "a40", "h100"])
        XCTAssertEqual(p.sources(gpu: "a100").count, 8)
        XCTAssertEqual(p.sources(gpu: "a40").count, 6)
        XCTAssertEqual(p.sources(gpu: "h100"), ["meta-llama_Llama-2-70b-hf", "meta-llama_Llama-2-7b-hf", "microsoft_phi-2"])
    }

    func testBadProfileFileNamesLineAndColumn() {
        let header = "time_stats.mlp_up_proj.median,n_head,n_kv_head,n_embd,n_expanded_embd,use_gated_mlp,num_tokens,num_tensor_parallel_workers\n"
        let bad = Scratch.write("bad-mlp.csv", header + "0.1,32,32,4096,11008,True,1,1\n0.2,32,32,4096,11008,Maybe,2,1\n")
        XCTAssertThrowsError(try VidurFile.load(path: bad)) { e in
            XCTAssertEqual("\(e)", "\(bad): line 3, column 6 (use_gated_mlp): expected True or False, found \"Maybe\"")
        }
        let neg = Scratch.write("neg-mlp.csv", header + "-0.1,32,32,4096,11008,True,1,1\n")
        XCTAssertThrowsError(try VidurFile.load(path: neg)) { e in
            XCTAssertEqual("\(e)", "\(neg): line 2, column 1 (time_stats.mlp_up_proj.median): expected a positive time in milliseconds, found \"-0.1\"")
        }
        let noCol = Scratch.write("nocol-mlp.csv", "time_stats.mlp_up_proj.median,n_head\n0.1,32\n")
        XCTAssertThrowsError(try VidurFile.load(path: noCol)) { e in
            XCTAssertTrue("\(e)".hasPrefix("\(noCol): line 1 (header): missing column \"n_embd\""), "\(e)")
        }
    }

    func testGPUNames() throws {
        let r = Shipped.profiles.registry
        XCTAssertEqual(try r.resolve("a100").name, "a100")
        XCTAssertEqual(try r.resolve("A100-SXM4-80GB").name, "a100")
        XCTAssertEqual(try r.resolve("h100-sxm5-80gb").name, "h100")
        XCTAssertEqual(try r.resolve("NVIDIA H100 80GB HBM3").name, "h100")
        XCTAssertEqual(try r.resolve("A40").name, "a40")
        XCTAssertEqual(try r.resolve("H100").name, "h100")
        XCTAssertEqual(r.find("a100")?.sms, 108)
        XCTAssertEqual(r.find("h100")?.sms, 132)
        XCTAssertEqual(r.find("a40")?.sms, 84)
        XCTAssertThrowsError(try r.resolve("B200")) { e in
            let s = "\(e)"
            XCTAssertTrue(s.hasPrefix("unknown GPU \"B200\" (known: a100"), s)
            XCTAssertTrue(s.contains("a40") && s.contains("h100") && s.contains("A100-SXM4-80GB") && s.contains("H100-SXM5-80GB"), s)
        }
    }

    func testProfileDirectoryIsFound() throws {
        // Upward from a folder inside the repository.
        let inside = Shipped.repoRoot.appendingPathComponent("Sources/Profiles").path
        XCTAssertEqual(URL(fileURLWithPath: try ProfileData.locate(environment: [:], currentDirectory: inside)).standardizedFileURL.path,
                       URL(fileURLWithPath: Shipped.directory).standardizedFileURL.path)
        // GPUSIM_DATA names the Traces/ directory.
        let traces = Shipped.repoRoot.appendingPathComponent("Traces").path
        XCTAssertEqual(try ProfileData.locate(environment: ["GPUSIM_DATA": traces], currentDirectory: "/"), traces + "/profiles")
        // --profiles wins.
        XCTAssertEqual(try ProfileData.locate(explicit: Shipped.directory, environment: ["GPUSIM_DATA": "/nowhere"], currentDirectory: "/"),
                       Shipped.directory)
        XCTAssertThrowsError(try ProfileData.locate(environment: [:], currentDirectory: "/"))
        XCTAssertThrowsError(try ProfileData.locate(environment: ["GPUSIM_DATA": "/nowhere"], currentDirectory: inside))
    }
}
