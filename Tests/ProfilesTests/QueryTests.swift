import XCTest
@testable import Profiles

final class QueryTests: XCTestCase {
    let header = "gpu,op,tokens,hidden,ffn,tp,gated\n"

    func testGoodFileGetsPredictedColumnAndKeepsFields() throws {
        let path = Scratch.write("good.csv", """
            op,gpu,tokens,hidden,ffn,tp,gated,note
            mlp_up_proj,a100,512,2560,10240,1,false,"phi-2, measured"
            mlp_down_proj,H100-SXM5-80GB,300,6144,16384,2,true,unmeasured
            add,a40,64,4096,11008,1,TRUE,

            """)
        let q = try QueryFile.load(path: path)
        XCTAssertEqual(q.rows.count, 3)
        XCTAssertEqual(q.rows[1].line, 3)
        let out = try q.predict(with: Shipped.model)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines[0], "op,gpu,tokens,hidden,ffn,tp,gated,note,predicted_ms")
        XCTAssertEqual(lines[1], "mlp_up_proj,a100,512,2560,10240,1,false,\"phi-2, measured\",0.126")
        XCTAssertTrue(lines[2].hasPrefix("mlp_down_proj,H100-SXM5-80GB,300,6144,16384,2,true,unmeasured,"), lines[2])
        let v = Double(lines[2].split(separator: ",").last!)!
        let direct = try Shipped.model.predict(ProfileQuery(gpu: "h100", op: .mlpDownProj, tokens: 300,
                                                            dims: ModelDims(hidden: 6144, ffn: 16384, gated: true), tp: 2)).ms
        XCTAssertEqual(v, direct, accuracy: direct * 1e-5)
        XCTAssertTrue(lines[3].hasPrefix("add,a40,64,4096,11008,1,TRUE,,"), lines[3])
    }

    func expectError(_ body: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        let path = Scratch.write("bad-\(line).csv", body)
        do {
            let q = try QueryFile.load(path: path)
            _ = try q.resolveGPUs(Shipped.profiles.registry)
            _ = try q.predict(with: Shipped.model)
            XCTFail("no error for \(body)", file: file, line: line)
        } catch {
            XCTAssertEqual("\(error)", "\(path): \(expected)", file: file, line: line)
        }
    }

    func testBadRowsNameTheLine() {
        let ok = "a100,mlp_up_proj,1,4096,14336,1,true\n"
        expectError(header + ok + "a100,mlp_up_proj,abc,4096,14336,1,true\n",
                    "line 3, column 3 (tokens): expected a positive integer, found \"abc\"")
        expectError(header + ok + ok + "a100,mlp_up_proj,4,4096,14336\n",
                    "line 4: expected 7 fields (gpu,op,tokens,hidden,ffn,tp,gated), found 5 (missing tp,gated)")
        expectError(header + "a100,mlp_upproj,4,4096,14336,1,true\n",
                    "line 2, column 2 (op): unknown operation \"mlp_upproj\" (known: emb, input_layernorm, attn_pre_proj, attn_rope, attn_post_proj, post_attention_layernorm, mlp_up_proj, mlp_act, mlp_down_proj, add)")
        expectError(header + ok + "a100,mlp_up_proj,4,4096,14336,3,true\n", "line 3: tp 3 does not divide ffn 14336")
        expectError(header + "a100,mlp_up_proj,4,4096,14336,1,yes\n", "line 2, column 7 (gated): expected true or false, found \"yes\"")
        expectError(header + "a100,mlp_up_proj,4,,14336,1,true\n", "line 2, column 4 (hidden): missing value")
        expectError(header + ok + "b200,mlp_up_proj,4,4096,14336,1,true\n",
                    "line 3: unknown GPU \"b200\" (known: a100 (A100-SXM4-80GB, A100-80GB); a40 (A40); h100 (H100-SXM5-80GB, H100-80GB, H100 80GB HBM3))")
        expectError("gpu,op,tokens,hidden,ffn,gated\n" + "a100,mlp_up_proj,4,4096,14336,true\n",
                    "line 1 (header): missing column(s) tp (expected a header with gpu,op,tokens,hidden,ffn,tp,gated)")
        expectError("", "empty file (expected a CSV header line)")
    }

    func testMissingFile() {
        XCTAssertThrowsError(try QueryFile.load(path: "/nonexistent/q.csv")) { e in
            XCTAssertTrue("\(e)".hasPrefix("/nonexistent/q.csv: "), "\(e)")
        }
    }
}
