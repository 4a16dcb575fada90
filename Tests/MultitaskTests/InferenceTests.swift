import Hardware
import SimCore
import Tenancy
import XCTest
@testable import Multitask

/// The inference tenant and its cost model against hand-computed answers.
final class InferenceTests: XCTestCase {
    let ms = 1_000_000.0

    /// No batching: an iteration of T tokens takes 1 ms + 0.01 ms·T. Request 0 (100 in, 5 out) at
    /// 0: prefill 2 ms (first token at 2), then 4 decode steps of 1.01 ms: done at 6.04 ms, TPOT
    /// 1.01 ms. Request 1 (50 in, 2 out) arrives at 1 ms, waits: prefill 6.04 → 7.54, one decode
    /// step → 8.55 ms; TTFT 6.54 ms.
    func testNoBatchingTimesByHand() throws {
        let reqs = requestList([(0, 100, 5), (1, 50, 2)])
        let t = toyInference("llm", requests: reqs, fixedMs: 1, perTokenMs: 0.01, maxBatch: 1)
        let out = try SharingEngine.run(spec: a100, tenants: TenantArray([t]), policy: ExclusivePolicy(), memory: .fixed)
        let rows = out.requests.sorted { $0.request < $1.request }
        XCTAssertEqual(Double(rows[0].firstTokenNs), 2 * ms, accuracy: 2)
        XCTAssertEqual(Double(rows[0].finishNs), 6.04 * ms, accuracy: 5)
        XCTAssertEqual(Double(rows[1].firstTokenNs), 7.54 * ms, accuracy: 5)
        XCTAssertEqual(Double(rows[1].finishNs), 8.55 * ms, accuracy: 5)
        XCTAssertEqual(out.metric("llm", "requests_finished"), 2)
        XCTAssertEqual(out.metric("llm", "tpot_mean_s")!, (1.01e-3 + 1.01e-3) / 2, accuracy: 1e-5)
        XCTAssertEqual(out.metric("llm", "iterations"), 7)
    }

    /// Continuous batching: both requests (100 in, 5 out) arrive at 0 and share every iteration:
    /// prefill of 200 tokens 3 ms, then 4 steps of 2 tokens, 1.02 ms: both done at 7.08 ms.
    /// A third request arriving at 4 ms joins at the next iteration boundary (after 4.02 ms): its
    /// prefill runs with two decode steps (102 tokens, 2.02 ms).
    func testContinuousBatchingTimesByHand() throws {
        let reqs = requestList([(0, 100, 5), (0, 100, 5), (4, 100, 2)])
        let t = toyInference("llm", requests: reqs, fixedMs: 1, perTokenMs: 0.01, maxBatch: 8)
        let out = try SharingEngine.run(spec: a100, tenants: TenantArray([t]), policy: ExclusivePolicy(), memory: .fixed)
        let rows = out.requests.sorted { $0.request < $1.request }
        XCTAssertEqual(Double(rows[0].firstTokenNs), 3 * ms, accuracy: 2)
        XCTAssertEqual(Double(rows[1].firstTokenNs), 3 * ms, accuracy: 2)
        // Iterations: [0,3] prefill both; [3,4.02] step; [4.02, 6.04] step + prefill of r2 (102 tokens);
        // [6.04, 7.07] step (3 tokens): r2 done (2 tokens); [7.07, 8.09] step (2 tokens): r0, r1 done.
        XCTAssertEqual(Double(rows[2].firstTokenNs), 6.04 * ms, accuracy: 5)
        XCTAssertEqual(Double(rows[2].finishNs), 7.07 * ms, accuracy: 5)
        XCTAssertEqual(Double(rows[0].finishNs), 8.09 * ms, accuracy: 5)
        XCTAssertEqual(Double(rows[1].finishNs), 8.09 * ms, accuracy: 5)
    }

    /// The KV cache bounds the batch (prompt + output reserved at admission) and rejects what can
    /// never fit: capacity 250 tokens; requests of 100+20 fit two at a time; 300+1 is rejected.
    func testKVCacheLimitsTheBatchAndRejectsWhatCannotFit() throws {
        let reqs = requestList([(0, 100, 20), (0, 100, 20), (0, 100, 20), (0, 300, 1)])
        let t = toyInference("llm", requests: reqs, fixedMs: 1, perTokenMs: 0, maxBatch: 8, kvTokens: 250)
        let out = try SharingEngine.run(spec: a100, tenants: TenantArray([t]), policy: ExclusivePolicy(), memory: .fixed)
        XCTAssertEqual(out.metric("llm", "requests_rejected"), 1)
        XCTAssertEqual(out.metric("llm", "requests_finished"), 3)
        XCTAssertEqual(out.metric("llm", "mean_batch")!, (2.0 * 20 + 20) / 40, accuracy: 1e-12)
        let rows = out.requests.sorted { $0.request < $1.request }
        XCTAssertEqual(rows[3].finishNs, -1)
        // Two run together for 20 iterations (1 ms each); the third starts after them.
        XCTAssertEqual(Double(rows[2].firstTokenNs), 21 * ms, accuracy: 2)
    }

    /// SLO attainment counts requests meeting both TTFT and TPOT targets, over all arrivals.
    func testSLOAttainment() throws {
        let reqs = requestList([(0, 100, 5), (1, 50, 2)])
        // TTFTs 2 and 6.54 ms; TPOTs 1.01 ms and 1.01 ms: a 5 ms TTFT target is met by one of two.
        let t = toyInference("llm", requests: reqs, fixedMs: 1, perTokenMs: 0.01, maxBatch: 1,
                             slo: TenantSLO(ttft: .ms(5), tpot: .ms(2)))
        let out = try SharingEngine.run(spec: a100, tenants: TenantArray([t]), policy: ExclusivePolicy(), memory: .fixed)
        XCTAssertEqual(out.metric("llm", "slo_attainment"), 0.5)
    }

    /// Llama-2-7B's published parameter count is 6,738,415,616; its KV cache takes
    /// 2 · 32 layers · 4096 · 2 bytes = 512 KiB per token.
    func testLlama2Dimensions() throws {
        let m = try LLMModel.load(path: repositoryRoot + "/Traces/models/llama-2-7b.yaml")
        XCTAssertEqual(m.parameters, 6_738_415_616)
        XCTAssertEqual(m.kvBytesPerToken, 524_288)
        XCTAssertEqual(m.layerOps.count, 11)
    }

    /// Attention by roofline on an A100 (312 TFLOP/s at 60%, 2.039 TB/s at 80%):
    /// - prefill of 1,000 tokens: 2·1000²·4096 = 8.192e9 FLOPs → 43.76 µs; bytes
    ///   2·1000·(2·4096 + 4·4096) = 49.152 MB → 30.13 µs: compute-bound, 43.76 µs;
    /// - decode at context 1,000: 4·1000·4096 = 16.4 MFLOPs → 0.09 µs; bytes 2·(2·1000·4096 + 2·4096)
    ///   = 16.40 MB → 10.05 µs: memory-bound.
    func testAttentionRooflineByHand() throws {
        let m = try LLMModel.load(path: repositoryRoot + "/Traces/models/llama-2-7b.yaml")
        let compute = try GPUCompute.load(path: repositoryRoot + "/Traces/models/gpu-compute.yaml", gpu: a100)
        XCTAssertEqual(compute.flopsPerSecond, 312e12)
        let c = ServingCost(model: m, spec: a100, compute: compute, ops: LinearOpTimes(fixed: [:], perToken: [:]), granularity: .layer)
        XCTAssertEqual(c.prefillAttention(tokens: 1000).seconds, 8.192e9 / (312e12 * 0.6), accuracy: 1e-12)
        XCTAssertEqual(c.prefillAttention(tokens: 1000).seconds * 1e6, 43.76, accuracy: 0.01)
        XCTAssertEqual(c.decodeAttention(context: 1000).seconds, 16_400_384 / (2.039e12 * 0.8), accuracy: 1e-12)
        XCTAssertEqual(c.decodeAttention(context: 1000).seconds * 1e6, 10.05, accuracy: 0.01)
    }

    /// The measured profiles price Llama-2-7B's dense operations on the A100 (Vidur's medians):
    /// at 4,096 tokens the measured mlp_up_proj median is 3.3655 ms.
    func testMeasuredOpTimesComeFromTheProfiles() throws {
        let m = try LLMModel.load(path: repositoryRoot + "/Traces/models/llama-2-7b.yaml")
        let ops = try MeasuredOpTimes(profiles: repositoryRoot + "/Traces/profiles", gpu: "A100-SXM4-80GB", llm: m)
        let t = try ops.seconds(.mlpUpProj, tokens: 4096)
        XCTAssertEqual(t * 1e3, 3.3, accuracy: 0.2)
        XCTAssertThrowsError(try ops.seconds(.attention, tokens: 10))
    }

    /// Every admitted request finishes, next to a training-like tenant, under every policy.
    func testEveryAdmittedRequestFinishesUnderEveryPolicy() throws {
        var reqs = RequestList()
        var rng = Xoshiro256StarStar(seed: 3)
        for i in 0..<60 { reqs.append(arrivalNs: Int64(i) * 2_000_000, input: 20 + rng.nextInt(below: 300), output: 1 + rng.nextInt(below: 20)) }
        let layout = try MIGLayout(spec: a100, profiles: ["4g.40gb", "3g.40gb"])
        let policies: [PolicyChoice] = [
            .exclusive(ExclusivePolicy()), .timeslice(TimeslicePolicy(quantum: .ms(2), switchCost: .us(50))),
            .streams(StreamsPolicy()), .mps(MPSPolicy(activeThreadPercentage: ["llm": 60])),
            .mig(MIGPolicy(layout: layout, assignment: ["llm": 0, "train": 1])),
            .priority(PriorityPolicy(preemptionCost: .us(40))),
            .dynamic(DynamicPolicy(period: .ms(1), minSMs: 4, slackTarget: 0.2, preemptionCost: .us(30))),
        ]
        for p in policies {
            let llm = toyInference("llm", requests: reqs, fixedMs: 0.5, perTokenMs: 0.002, maxBatch: 16,
                                   slo: TenantSLO(ttft: .ms(50), tpot: .ms(5)))
            let train = ScriptTenant("train", repeating: fullKernel(0.7), count: 200)
            let tenants = TenantSetPair(TenantArray([llm]), TenantArray([train]))
            let out = try p.run(spec: a100, tenants: tenants, memory: .admission, options: EngineOptions(checkInvariants: true))
            XCTAssertNil(out.invariantViolation, p.name)
            XCTAssertEqual(out.metric("llm", "requests_finished"), 60, p.name)
            XCTAssertEqual(out.metric("llm", "requests_rejected"), 0, p.name)
            XCTAssertTrue(out.requests.allSatisfy { $0.finishNs >= $0.firstTokenNs && $0.firstTokenNs >= $0.arrivalNs }, p.name)
            XCTAssertEqual(out.metric("train", "finished"), 1, p.name)
        }
    }
}
