// Writing a calibration run in the calibration format (schema gpusim-calibration/1).

import Foundation

/// The calibration file as written: the Profiles module's format (`Calibration.load(path:)`,
/// documented in Traces/profiles/README.md): snake_case keys, µs for copies, launches and kernels,
/// ms for GEMMs. What that format has no key for (kernel shapes, copy engines, the GEMM backend)
/// goes into `notes` in words; the raw file (`--raw`) keeps all of it as data.
struct CalibrationDocument: Encodable {
    struct Device: Encodable {
        let name: String
        let sms, memory_bytes: Int
        let compute_capability: String
        let clock_khz, driver_version: Int
        let memory_clock_khz, memory_bus_width_bits, l2_bytes, cublas_version: Int?
    }
    struct Copy: Encodable {
        let direction: String
        let pinned: Bool
        let bytes: Int
        let median_us, p10_us, p90_us: Double
        let repeats: Int
        let h2d_median_us, d2h_median_us: Double?
    }
    struct Launch: Encodable {
        let median_us, p10_us, p90_us: Double
        let repeats: Int
        let host_enqueue_us, single_us: Double
    }
    struct SMPoint: Encodable {
        let kernel: String
        let sms: Int
        let median_us, p10_us, p90_us: Double
        let repeats: Int
        let ctas: Int?
        let method: String
    }
    struct CoRun: Encodable {
        let first, second: String
        let first_alone_us, second_alone_us, first_together_us, second_together_us, makespan_us: Double
    }
    struct GEMM: Encodable {
        let op: String
        let tokens, hidden, ffn, tp: Int
        let gated: Bool
        let median_ms, p10_ms, p90_ms: Double
        let repeats: Int
        let model: String
    }

    let schema = "gpusim-calibration/1"
    let source, tool, created_at, host: String
    let notes: [String]
    let device: Device
    let copies: [Copy]?
    let launch: Launch?
    let sm_scaling: [SMPoint]?
    let co_runs: [CoRun]?
    let gemms: [GEMM]?

    init(_ r: CalibrationResults) {
        let d = r.device
        let us = 1e3
        source = "gpusim-calibrate on \(r.host.isEmpty ? "an unnamed host" : r.host): \(d.name), driver \(d.driverVersion)"
            + (d.cublasVersion.map { ", cuBLAS \($0)" } ?? "") + (r.createdAt.isEmpty ? "" : ", \(r.createdAt)")
        tool = r.tool; created_at = r.createdAt; host = r.host
        var notes = r.notes
        notes.append("device: PCI \(d.pciBusID), \(d.asyncEngines) copy engines, \(d.maxThreadsPerSM) threads / \(d.maxBlocksPerSM) CTAs / \(d.registersPerSM) registers / \(d.sharedMemoryPerSMBytes) B shared memory per SM, \(d.sharedMemoryPerBlockOptinBytes) B shared memory per CTA (opt-in), green contexts \(d.greenContexts ? "yes" : "no"), NVRTC \(d.nvrtcVersion ?? "absent")")
        if !r.gemms.isEmpty || r.smScaling.contains(where: { $0.kernel.kind == .gemm }) {
            notes.append(r.gemmBackend == "cublas"
                ? "gemm: cuBLAS cublasGemmEx, bf16 in and out, fp32 accumulation, X·Wᵀ (TN) as torch.nn.functional.linear"
                : "gemm: naive PTX kernel (no cuBLAS), bf16 in and out, fp32 accumulation")
        }
        for s in r.smScaling {
            let k = s.kernel
            var line = "kernel \(k.kind.rawValue): \(k.detail)"
            if let c = k.ctasPerSM { line += "; ctas_per_sm \(c)" }
            if let b = k.dramBytes { line += "; dram_bytes \(Int(b))" }
            if let f = k.flops, f > 0 { line += "; flops \(Int(f))" }
            let asked = s.points.filter { $0.requestedSMs != $0.sms }
            if !asked.isEmpty { line += "; SMs asked → granted: " + asked.map { "\($0.requestedSMs) → \($0.sms)" }.joined(separator: ", ") }
            notes.append(line)
        }
        self.notes = notes
        device = Device(name: d.name, sms: d.smCount, memory_bytes: d.totalMemoryBytes, compute_capability: d.computeCapability,
                        clock_khz: d.clockKHz, driver_version: d.driverVersion,
                        memory_clock_khz: d.memoryClockKHz > 0 ? d.memoryClockKHz : nil,
                        memory_bus_width_bits: d.memoryBusWidthBits > 0 ? d.memoryBusWidthBits : nil,
                        l2_bytes: d.l2Bytes > 0 ? d.l2Bytes : nil, cublas_version: d.cublasVersion)
        copies = r.copies.isEmpty ? nil : r.copies.map {
            Copy(direction: $0.direction.rawValue, pinned: $0.pinned, bytes: $0.bytes, median_us: $0.time.medianMs * us,
                 p10_us: $0.time.p10Ms * us, p90_us: $0.time.p90Ms * us, repeats: $0.time.repeats,
                 h2d_median_us: $0.h2dTime.map { $0.medianMs * us }, d2h_median_us: $0.d2hTime.map { $0.medianMs * us })
        }
        launch = r.launch.map {   // LaunchMeasurement holds µs already
            Launch(median_us: $0.backToBackUs.medianMs, p10_us: $0.backToBackUs.p10Ms, p90_us: $0.backToBackUs.p90Ms,
                   repeats: $0.backToBackUs.repeats, host_enqueue_us: $0.hostEnqueueUs.medianMs, single_us: $0.singleUs.medianMs)
        }
        let sm = r.smScaling.flatMap { s in
            s.points.map {
                SMPoint(kernel: s.kernel.kind.rawValue, sms: $0.sms, median_us: $0.time.medianMs * us, p10_us: $0.time.p10Ms * us,
                        p90_us: $0.time.p90Ms * us, repeats: $0.time.repeats, ctas: s.kernel.ctas > 0 ? s.kernel.ctas : nil,
                        method: s.method.rawValue)
            }
        }
        sm_scaling = sm.isEmpty ? nil : sm
        co_runs = r.coRuns.isEmpty ? nil : r.coRuns.map {
            CoRun(first: $0.first.rawValue, second: $0.second.rawValue, first_alone_us: $0.firstAlone.medianMs * us,
                  second_alone_us: $0.secondAlone.medianMs * us, first_together_us: $0.firstTogether.medianMs * us,
                  second_together_us: $0.secondTogether.medianMs * us, makespan_us: $0.makespan.medianMs * us)
        }
        gemms = r.gemms.isEmpty ? nil : r.gemms.map {
            GEMM(op: $0.op, tokens: $0.tokens, hidden: $0.hidden, ffn: $0.ffn, tp: $0.tp, gated: $0.gated,
                 median_ms: $0.time.medianMs, p10_ms: $0.time.p10Ms, p90_ms: $0.time.p90Ms, repeats: $0.time.repeats,
                 model: $0.model)
        }
    }
}

public enum CalibrationWriter {
    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// Writes `data` to `path` through a temporary file and a rename: never a half-written file.
    static func atomicWrite(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CalibrationError.other("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// The raw measurements, as measured (JSON): every field of ``CalibrationResults``.
    public static func writeRaw(_ r: CalibrationResults, to path: String) throws {
        try atomicWrite(try encoder().encode(r), to: path)
    }

    /// Reads a file written by ``writeRaw(_:to:)``.
    public static func readRaw(_ path: String) throws -> CalibrationResults {
        do {
            return try JSONDecoder().decode(CalibrationResults.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CalibrationError.other("cannot read raw calibration results \(path): \(error)")
        }
    }

    /// The calibration file's bytes (schema gpusim-calibration/1).
    public static func calibrationData(_ r: CalibrationResults) throws -> Data {
        try encoder().encode(CalibrationDocument(r))
    }

    /// Writes the calibration file (schema gpusim-calibration/1).
    public static func write(_ r: CalibrationResults, to path: String) throws {
        try atomicWrite(try calibrationData(r), to: path)
    }
}
