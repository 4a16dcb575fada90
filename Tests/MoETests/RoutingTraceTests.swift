import XCTest
import Traces
@testable import MoE

final class RoutingTraceTests: XCTestCase {
    let header4 = "{\"format\": \"gpusim-routing\", \"version\": 1, \"model\": \"t\", \"layers\": 2, \"experts\": 4, \"top_k\": 2, \"embedding_dim\": 2, \"row\": \"topk\", \"dtype\": \"f32\"}"

    func testHalfPrecisionKnownValues() {
        XCTAssertEqual(halfToFloat(0x3C00), 1.0)
        XCTAssertEqual(halfToFloat(0x3800), 0.5)
        XCTAssertEqual(halfToFloat(0x0000), 0.0)
        XCTAssertEqual(halfToFloat(0x7BFF), 65504.0)
        XCTAssertEqual(halfToFloat(0x0001), Float(0x1p-24))
        XCTAssertEqual(floatToHalf(1.0), 0x3C00)
        XCTAssertEqual(floatToHalf(0.25), 0x3400)
        XCTAssertEqual(floatToHalf(0.1), 0x2E66)   // 0.0999755859375, nearest half to 0.1
        for h: UInt16 in [0x0001, 0x03FF, 0x0400, 0x2E66, 0x3555, 0x3BFF, 0x3C00, 0x7BFF] {
            XCTAssertEqual(floatToHalf(halfToFloat(h)), h)
        }
    }

    /// A hand-written top-k trace: one request, 3 input tokens, 2 output tokens, 2 layers of 4 experts.
    func handTrace() -> TraceBytes {
        var t = TraceBytes(header: header4)
        t.request(id: 7, arrival: 1000, input: 3, output: 2, embedding: [0.6, 0.8])
        // Prefill: layer 0 tokens (0,1), (0,2), (1,3); layer 1 tokens (2,3) ×3.
        for (a, b) in [(0, 1), (0, 2), (1, 3)] { t.u8(2); t.u16(UInt16(a)); t.f32(0.6); t.u16(UInt16(b)); t.f32(0.4) }
        for _ in 0..<3 { t.u8(2); t.u16(2); t.f32(0.5); t.u16(3); t.f32(0.5) }
        // Decode: layer 0 (3,0), layer 1 (1,2).
        t.u8(2); t.u16(3); t.f32(0.7); t.u16(0); t.f32(0.3)
        t.u8(2); t.u16(1); t.f32(0.9); t.u16(2); t.f32(0.1)
        t.end(1)
        return t
    }

    func testHandWrittenTraceAggregates() throws {
        let path = Fixture.tmp("hand.routing")
        try handTrace().write(path)
        let r = try RoutingTraceReader(path: path)
        let q = try XCTUnwrap(try r.next())
        XCTAssertNil(try r.next())
        XCTAssertEqual(q.id, 7)
        XCTAssertEqual(q.arrivalNs, 1000)
        XCTAssertEqual(q.embedding, [0.6, 0.8])
        func sel(_ it: Int, _ l: Int) -> [(Int, Int)] { q.selectedRange(it, l).map { (Int(q.selExperts[$0]), Int(q.selTokens[$0])) } }
        // Prefill layer 0: expert 0 by 2 tokens, 1 by 2, 2 by 1, 3 by 1.
        XCTAssertTrue(sel(0, 0).elementsEqual([(0, 2), (1, 2), (2, 1), (3, 1)], by: ==))
        XCTAssertTrue(sel(0, 1).elementsEqual([(2, 3), (3, 3)], by: ==))
        XCTAssertTrue(sel(1, 0).elementsEqual([(0, 1), (3, 1)], by: ==))
        XCTAssertTrue(sel(1, 1).elementsEqual([(1, 1), (2, 1)], by: ==))
        // Mean probabilities of prefill layer 0: expert 0 (0.6 + 0.6)/3, expert 1 (0.4 + 0.6)/3.
        XCTAssertEqual(q.probs[q.probOffset(0, 0) + 0], 1.2 / 3, accuracy: 1e-6)
        XCTAssertEqual(q.probs[q.probOffset(0, 0) + 1], 1.0 / 3, accuracy: 1e-6)
        XCTAssertEqual(q.probs[q.probOffset(1, 1) + 1], 0.9, accuracy: 1e-6)
    }

    func expectError(_ t: TraceBytes, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let path = Fixture.tmp("bad-\(line).routing")
        try t.write(path)
        XCTAssertThrowsError(try { let r = try RoutingTraceReader(path: path); while try r.next() != nil {} }(), file: file, line: line) { e in
            guard let te = e as? TraceError else { return XCTFail("not a TraceError: \(e)", file: file, line: line) }
            XCTAssertEqual(te.file, path, file: file, line: line)
            for f in fragments { XCTAssertTrue(te.description.contains(f), "'\(f)' not in: \(te)", file: file, line: line) }
        }
    }

    func testExpertIdOutOfRange() throws {
        var t = TraceBytes(header: header4)
        t.request(id: 3, arrival: 0, input: 1, output: 1, embedding: [1, 0])
        t.u8(2); t.u16(0); t.f32(0.5); t.u16(9); t.f32(0.5)
        t.u8(2); t.u16(0); t.f32(0.5); t.u16(1); t.f32(0.5)
        t.end(1)
        try expectError(t, ["record 0 (request id 3)", "iteration 0, layer 0, token 0", "expert id 9 out of range (expected 0...3)"])
    }

    func testTopKMismatch() throws {
        var t = TraceBytes(header: header4)
        t.request(id: 0, arrival: 0, input: 1, output: 1, embedding: [1, 0])
        t.u8(2); t.u16(0); t.f32(0.5); t.u16(1); t.f32(0.5)
        t.u8(3); t.u16(0); t.f32(0.3); t.u16(1); t.f32(0.3); t.u16(2); t.f32(0.3)
        t.end(1)
        try expectError(t, ["record 0 (request id 0)", "layer 1", "lists 3 experts (expected top_k = 2"])
    }

    func testProbabilitiesMustSumToOne() throws {
        let header = "{\"format\": \"gpusim-routing\", \"version\": 1, \"model\": \"t\", \"layers\": 1, \"experts\": 4, \"top_k\": 2, \"embedding_dim\": 1, \"row\": \"probs\", \"dtype\": \"f32\"}"
        var t = TraceBytes(header: header)
        t.request(id: 0, arrival: 0, input: 1, output: 2, embedding: [1])
        for _ in 0..<2 { for p: Float in [0.25, 0.25, 0.25, 0.25] { t.f32(p) } }
        t.request(id: 1, arrival: 5, input: 1, output: 2, embedding: [1])
        for p: Float in [0.25, 0.25, 0.25, 0.25] { t.f32(p) }
        for p: Float in [0.5, 0.2, 0.1, 0.1] { t.f32(p) }   // sums to 0.9
        try expectError(t, ["record 1 (request id 1)", "iteration 1, layer 0, token 0", "probabilities sum to 0.9", "expected 1 ± 0.01"])
    }

    func testTruncatedFiles() throws {
        let full = handTrace()
        // Cut inside the request record.
        var cut = full
        cut.bytes.removeLast(30)
        try expectError(cut, ["truncated file", "record 0 (request id 7)", "iteration 1"])
        // Cut before the end record.
        var noEnd = full
        noEnd.bytes.removeLast(9)
        try expectError(noEnd, ["truncated file", "after 1 request record(s) without the end record"])
        // A zstd stream cut short.
        let path = Fixture.tmp("whole.routing")
        try full.write(path)
        let zpath = Fixture.tmp("whole.routing.zst")
        let w = try BinaryWriter(path: zpath, compress: true)
        try w.write(full.bytes)
        try w.close()
        XCTAssertEqual(try RoutingTraceReader(path: zpath).next()?.id, 7)
        var z = try Data(contentsOf: URL(fileURLWithPath: zpath))
        z.removeLast(8)
        let zcut = Fixture.tmp("cut.routing.zst")
        try z.write(to: URL(fileURLWithPath: zcut))
        XCTAssertThrowsError(try { let r = try RoutingTraceReader(path: zcut); while try r.next() != nil {} }()) { e in
            XCTAssertTrue("\(e)".contains(zcut) && "\(e)".contains("truncated"), "\(e)")
        }
    }

    func testBadHeadersAndRecords() throws {
        try expectError(TraceBytes(header: "{\"format\": \"other\"}"), ["line 1", "expected \"format\": \"gpusim-routing\""])
        try expectError(TraceBytes(header: header4.replacingOccurrences(of: "\"version\": 1", with: "\"version\": 9")), ["unsupported version 9"])
        try expectError(TraceBytes(header: header4.replacingOccurrences(of: "\"top_k\": 2, ", with: "")), ["missing \"top_k\""])
        var t = TraceBytes(header: header4)
        t.u8(0x51)
        try expectError(t, ["record 0: expected a request record ('R') or the end record ('E'), found byte 0x51"])
        var dup = handTrace()
        dup.bytes.removeLast(9)
        dup.end(2)
        try expectError(dup, ["the end record counts 2 requests but the file holds 1"])
    }

    func testWriterRoundTripIsByteIdenticalAndReadable() throws {
        let model = try Fixture.environment().models.model(named: "Mixtral-8x7B")
        let params = try RoutingGeneratorParams.load(path: try Fixture.smallGenerator(model: "Mixtral-8x7B", name: "rt.yaml"))
        let a = Fixture.tmp("a.routing.zst"), b = Fixture.tmp("b.routing.zst")
        for p in [a, b] { try RoutingGenerator.writeTrace(params: params, model: model, requests: 3, seed: 5, path: p) }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
        // The file's requests equal the generator's own (f16 rounding aside).
        var g = try RoutingGenerator(params: params, layers: 32, experts: 8, topK: 2, seed: 5)
        var builder = RoutingRequestBuilder(layers: 32, experts: 8, topK: 2)
        let r = try RoutingTraceReader(path: a)
        XCTAssertEqual(r.header.model, "Mixtral-8x7B")
        for _ in 0..<3 {
            let direct = g.nextRequest(builder: &builder)
            let read = try XCTUnwrap(try r.next())
            XCTAssertEqual(read.id, direct.id)
            XCTAssertEqual(read.inputTokens, direct.inputTokens)
            XCTAssertEqual(read.outputTokens, direct.outputTokens)
            for i in direct.probs.indices { XCTAssertEqual(read.probs[i], direct.probs[i], accuracy: 1e-3) }
        }
        XCTAssertNil(try r.next())
        // The top-k encoding keeps the selections.
        let k = Fixture.tmp("k.routing")
        try RoutingGenerator.writeTrace(params: params, model: model, requests: 2, seed: 5, path: k, row: .topk, dtype: .f32)
        let rp = try RoutingTraceReader(path: a), rk = try RoutingTraceReader(path: k)
        for _ in 0..<2 {
            let p = try XCTUnwrap(try rp.next()), q = try XCTUnwrap(try rk.next())
            XCTAssertEqual(p.selOffsets, q.selOffsets)
            XCTAssertEqual(p.selExperts, q.selExperts)
            XCTAssertEqual(p.selTokens, q.selTokens)
        }
    }

    func testShippedTracesMatchTheirModels() throws {
        let env = try Fixture.environment()
        let dir = Fixture.data.appendingPathComponent("moe/traces")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".zst") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 5)
        var models = Set<String>()
        for f in files {
            let r = try RoutingTraceReader(path: dir.appendingPathComponent(f).path)
            let m = try env.models.model(named: r.header.model)
            models.insert(m.name)
            XCTAssertEqual(r.header.layers, m.moeLayers, f)
            XCTAssertEqual(r.header.experts, m.experts, f)
            XCTAssertEqual(r.header.topK, m.topK, f)
            var n = 0
            while try r.next() != nil { n += 1 }
            XCTAssertEqual(n, r.header.requests, f)
        }
        XCTAssertEqual(models.count, 5)
    }
}
