import XCTest
import Hardware
@testable import MoE

final class ServingTests: XCTestCase {
    static let offloading = ["ondemand-layer", "lru", "promoe", "moe-infinity", "fmoe", "oracle"]

    func run(_ c: MoERunConfig, seed: UInt64 = 1, env: MoEEnvironment? = nil) throws -> MoERunResult {
        try MoESimulation(config: c, environment: env ?? Fixture.environment()).run(seed: seed)
    }

    func testResidentHitsEverything() throws {
        let gen = try Fixture.smallGenerator(model: "Phi-3.5-MoE", name: "res.yaml")
        var c = Fixture.config(model: "Phi-3.5-MoE", generator: gen, policy: "resident", test: 3)
        c.gpu = "H100-SXM5-80GB"
        let r = try run(c)
        XCTAssertEqual(r.metric("hit_rate"), 1)
        XCTAssertEqual(r.metric("misses"), 0)
        XCTAssertEqual(r.metric("pcie_bytes"), 0)
        XCTAssertEqual(r.metric("stall_s"), 0)
        XCTAssertGreaterThan(r.metric("accesses") ?? 0, 0)
    }

    func testOracleHitRateIsAtLeastEveryPolicys() throws {
        let env = try Fixture.environment()
        for (model, gen, budget, gpus, test) in [("Mixtral-8x7B", "mix", 8.0, 1, 3), ("Qwen1.5-MoE-A2.7B", "qwen", 3.0, 2, 2)] {
            let g = try Fixture.smallGenerator(model: model, name: "\(gen)-oracle.yaml")
            var rates: [String: Double] = [:]
            for p in ServingTests.offloading {
                var c = Fixture.config(model: model, generator: g, policy: p, budgetGB: budget, gpus: gpus, warm: 3, test: test)
                c.gpu = gpus > 1 ? "RTX-3090" : "A100-SXM4-80GB"
                rates[p] = try XCTUnwrap(try run(c, env: env).metric("hit_rate"))
            }
            for (p, h) in rates where p != "oracle" {
                XCTAssertGreaterThanOrEqual(rates["oracle"]!, h, "\(model): oracle \(rates["oracle"]!) < \(p) \(h)")
            }
        }
    }

    func testPCIeBytesAreLoadsTimesExpertSize() throws {
        let env = try Fixture.environment()
        let g = try Fixture.smallGenerator(model: "Mixtral-8x7B", name: "bytes.yaml")
        let size = Double(try env.models.model(named: "Mixtral-8x7B").expertBytes)
        for p in ServingTests.offloading {
            let r = try run(Fixture.config(generator: g, policy: p, budgetGB: 6, warm: 3, test: 3), env: env)
            let demand = try XCTUnwrap(r.metric("demand_loads")), pre = try XCTUnwrap(r.metric("prefetches"))
            XCTAssertEqual(r.metric("pcie_bytes"), (demand + pre) * size, p)
            XCTAssertEqual(r.metric("accesses"), (r.metric("hits") ?? -1) + (r.metric("misses") ?? -1), p)
            if p == "ondemand-layer" {
                XCTAssertEqual(pre, 0)
                XCTAssertEqual(r.metric("pcie_bytes"), demand * size)
                XCTAssertGreaterThan(demand, 0)
            }
        }
    }

    func testSameSeedSameResults() throws {
        let env = try Fixture.environment()
        let g = try Fixture.smallGenerator(model: "Mixtral-8x7B", name: "det.yaml")
        for p in ["lru", "fmoe", "promoe"] {
            var c = Fixture.config(generator: g, policy: p, budgetGB: 6, gpu: "RTX-3090", gpus: 3, warm: 3, test: 4)
            c.maxBatch = 2
            c.arrivals = .poisson(rate: 3)
            let a = try run(c, seed: 9, env: env), b = try run(c, seed: 9, env: env), d = try run(c, seed: 10, env: env)
            XCTAssertEqual(a.metrics, b.metrics, p)
            XCTAssertEqual(a.requests, b.requests, p)
            XCTAssertEqual(MoEReport.json(a, includeRequests: true), MoEReport.json(b, includeRequests: true))
            XCTAssertNotEqual(a.requests, d.requests, p)
        }
    }

    func testEveryRequestFinishesInOrderOfItsTimes() throws {
        let g = try Fixture.smallGenerator(model: "Qwen1.5-MoE-A2.7B", name: "fin.yaml")
        var c = Fixture.config(model: "Qwen1.5-MoE-A2.7B", generator: g, policy: "fmoe", budgetGB: 2, gpu: "RTX-3090", test: 6)
        c.maxBatch = 3
        c.arrivals = .trace
        let r = try run(c)
        XCTAssertEqual(r.requests.count, 6)
        XCTAssertEqual(Set(r.requests.map(\.id)).count, 6)
        for q in r.requests {
            XCTAssertLessThan(q.arrival, q.firstToken)
            XCTAssertLessThanOrEqual(q.firstToken, q.finish)
        }
        XCTAssertEqual(r.metric("tokens"), Double(r.requests.reduce(0) { $0 + $1.outputTokens }))
    }

    /// With fixed operation times (expert 100 µs, everything else 0) and every expert resident,
    /// the latencies follow by hand from the trace's selections.
    func testResidentTimingByHand() throws {
        let data = Fixture.data
        let env = try MoEEnvironment(dataRoot: data, costModel: FixedCostModel())
        let model = try env.models.model(named: "Mixtral-8x7B")
        // One request: 2 prompt tokens, 3 output tokens, top-k rows.
        var t = TraceBytes(header: "{\"format\": \"gpusim-routing\", \"version\": 1, \"model\": \"Mixtral-8x7B\", \"layers\": 32, \"experts\": 8, \"top_k\": 2, \"embedding_dim\": 1, \"row\": \"topk\", \"dtype\": \"f32\"}")
        t.request(id: 0, arrival: 0, input: 2, output: 3, embedding: [1])
        // Prefill: at even layers both tokens pick (0, 1) (2 experts); at odd layers (0, 1) and (2, 3) (4 experts).
        for l in 0..<32 {
            t.u8(2); t.u16(0); t.f32(0.5); t.u16(1); t.f32(0.5)
            if l % 2 == 0 { t.u8(2); t.u16(0); t.f32(0.5); t.u16(1); t.f32(0.5) } else { t.u8(2); t.u16(2); t.f32(0.5); t.u16(3); t.f32(0.5) }
        }
        for _ in 0..<2 { for l in 0..<32 { t.u8(2); t.u16(UInt16(l % 8)); t.f32(0.5); t.u16(UInt16((l + 1) % 8)); t.f32(0.5) } }
        t.end(1)
        let path = Fixture.tmp("timing.routing")
        try t.write(path)
        var c = MoERunConfig(model: model.name, gpu: "H200", expertCacheGB: 0, policy: "resident", workload: .trace(path: path), testRequests: 1)
        c.arrivals = .trace
        let r = try MoESimulation(config: c, environment: env).run(seed: 1)
        let q = try XCTUnwrap(r.requests.first)
        // Prefill: 16 layers × 2 experts + 16 layers × 4 experts = 96 expert runs × 100 µs.
        XCTAssertEqual(q.firstToken.nanoseconds, 96 * 100_000)
        // Each decode: 32 layers × 2 experts × 100 µs.
        XCTAssertEqual((q.finish - q.firstToken).nanoseconds, 2 * 64 * 100_000)
        XCTAssertEqual(r.metric("tpot_mean_s")!, 64 * 100e-6, accuracy: 1e-9)
        XCTAssertEqual(r.metric("accesses"), 96 + 2 * 64)
    }

    /// DeepSpeed-style whole-layer loads with a cold cache: every layer of the prefill waits for
    /// its 8 experts, copied together over one PCIe link.
    func testOnDemandColdPrefillIsBoundByTheLink() throws {
        let env = try MoEEnvironment(dataRoot: Fixture.data, costModel: FixedCostModel(expertUpSeconds: 1e-6))
        let model = try env.models.model(named: "Mixtral-8x7B")
        let spec = try env.gpus.spec(named: "A100-SXM4-80GB")
        let g = try Fixture.smallGenerator(model: "Mixtral-8x7B", name: "cold.yaml")
        var c = Fixture.config(generator: g, policy: "ondemand-layer", budgetGB: 3.0, test: 1)
        c.arrivals = .trace
        let r = try MoESimulation(config: c, environment: env).run(seed: 1)
        let q = try XCTUnwrap(r.requests.first)
        // 8 slots = one layer: every layer reloads its 8 experts. Per layer: the copy latency, then
        // 8 × expert bytes at the curve's streaming rate (the link shared by the 8 copies).
        let curve = spec.pcie.h2dPinned
        let perLayer = curve.latencySeconds + 8 * Double(model.expertBytes) / curve.streamingBytesPerSecond(bytes: model.expertBytes)
        let ttft = (q.firstToken - q.arrival).seconds
        XCTAssertEqual(ttft, 32 * perLayer, accuracy: 32 * perLayer * 0.01)
        XCTAssertEqual(r.metric("hit_rate"), 0)
    }

    func testMultiGPUSpreadsLoadsOverLinks() throws {
        // Same trace and budget per GPU: with experts over 4 GPUs (4 links) the on-demand loads of
        // a layer run in parallel, so the time per output token falls.
        let g = try Fixture.smallGenerator(model: "Mixtral-8x7B", name: "mgpu.yaml")
        let one = try run(Fixture.config(generator: g, policy: "ondemand-layer", budgetGB: 3, gpu: "RTX-3090", gpus: 1, test: 2))
        let four = try run(Fixture.config(generator: g, policy: "ondemand-layer", budgetGB: 12, gpu: "RTX-3090", gpus: 4, test: 2))
        XCTAssertLessThan(four.metric("tpot_mean_s")!, one.metric("tpot_mean_s")! * 0.5)
    }
}
