// What one calibration run measured, before it is written in the calibration format.

/// Device properties read from the driver.
public struct DeviceInfo: Sendable, Equatable, Codable {
    public var ordinal: Int
    public var name: String
    public var computeCapability: String
    public var smCount: Int
    public var clockKHz: Int
    public var memoryClockKHz: Int
    public var memoryBusWidthBits: Int
    public var totalMemoryBytes: Int
    public var l2Bytes: Int
    public var asyncEngines: Int
    public var maxThreadsPerSM: Int
    public var maxBlocksPerSM: Int
    public var registersPerSM: Int
    public var sharedMemoryPerSMBytes: Int
    public var sharedMemoryPerBlockOptinBytes: Int
    public var pciBusID: String
    /// cuDriverGetVersion, e.g. 12040 for 12.4.
    public var driverVersion: Int
    public var greenContexts: Bool
    /// cuBLAS version (cublasGetVersion) or nil without cuBLAS.
    public var cublasVersion: Int?
    /// NVRTC "major.minor" or nil without NVRTC.
    public var nvrtcVersion: String?
}

public enum CopyDirection: String, Sendable, Codable, CaseIterable {
    case h2d, d2h, d2d
    /// One H2D and one D2H copy of the same size at once, on two streams.
    case bidirectional = "h2d+d2h"
}

/// One copy series point: `bytes` per copy (per direction for ``CopyDirection/bidirectional``).
public struct CopyMeasurement: Sendable, Equatable, Codable {
    public var direction: CopyDirection
    /// Host memory pinned (cuMemAllocHost) or pageable (malloc, pre-touched); true for D2D.
    public var pinned: Bool
    public var bytes: Int
    /// Time from the first copy's start to the last copy's end.
    public var time: Summary
    /// For bidirectional: each direction's own time.
    public var h2dTime: Summary?
    public var d2hTime: Summary?

    /// Bytes moved per second at the median (both directions' bytes for bidirectional).
    public var bytesPerSecond: Double {
        let moved = direction == .bidirectional ? 2 * Double(bytes) : Double(bytes)
        return moved / (time.medianMs * 1e-3)
    }
}

/// Launch latency of an empty kernel.
public struct LaunchMeasurement: Sendable, Equatable, Codable {
    /// Device time per launch over a burst of back-to-back launches (events around the burst).
    public var backToBackUs: Summary
    /// Host time of one cuLaunchKernel call, in the same bursts.
    public var hostEnqueueUs: Summary
    /// Events around one launch on an idle stream (launch overhead plus event overhead).
    public var singleUs: Summary
    public var launchesPerBurst: Int
}

public enum KernelKind: String, Sendable, Codable, CaseIterable {
    case compute, memory, gemm
}

/// How SM counts were imposed.
public enum SMLimitMethod: String, Sendable, Codable {
    /// Green contexts with an SM resource of the given count (cuDevSmResourceSplitByCount).
    case greenContext = "green-context"
    /// No green contexts: the grid limited to N CTAs that each occupy one whole SM.
    case gridLimited = "grid-limited"
}

/// The shape of one calibration kernel.
public struct KernelShape: Sendable, Equatable, Codable {
    public var kind: KernelKind
    /// Grid size (CTAs) at full SM count.
    public var ctas: Int
    public var threadsPerCTA: Int
    /// CTAs resident per SM (occupancy), from cuOccupancyMaxActiveBlocksPerMultiprocessor (nil for cuBLAS).
    public var ctasPerSM: Int?
    /// DRAM bytes read plus written (nominal), where known.
    public var dramBytes: Double?
    /// Floating-point operations (nominal), where known.
    public var flops: Double?
    /// What it is, in words (e.g. "cuBLAS bf16 GEMM 512×28672×4096").
    public var detail: String
}

public struct SMScalingPoint: Sendable, Equatable, Codable {
    /// SMs the kernel ran on (as granted: a split may round the request up).
    public var sms: Int
    public var requestedSMs: Int
    public var time: Summary
}

public struct SMScalingSeries: Sendable, Equatable, Codable {
    public var kernel: KernelShape
    public var method: SMLimitMethod
    public var points: [SMScalingPoint]
}

/// Two kernels started together on two streams, against each one alone. `first` is enqueued
/// first (on its own stream), `second` right after it (on the other), both behind one start event.
public struct CoRunMeasurement: Sendable, Equatable, Codable {
    public var first: KernelKind
    public var second: KernelKind
    public var firstAlone: Summary
    public var secondAlone: Summary
    /// Each kernel's time from the common start to its own end, when co-running.
    public var firstTogether: Summary
    public var secondTogether: Summary
    /// Common start to the later end.
    public var makespan: Summary

    public var firstSlowdown: Double { firstTogether.medianMs / firstAlone.medianMs }
    public var secondSlowdown: Double { secondTogether.medianMs / secondAlone.medianMs }
}

/// One expert-FFN GEMM: `[tokens × k] · [k × n]` in bf16.
public struct GEMMMeasurement: Sendable, Equatable, Codable {
    /// Vidur's operation name: mlp_up_proj (gate and up fused when gated) or mlp_down_proj.
    public var op: String
    public var model: String
    public var tokens: Int
    public var hidden: Int
    public var ffn: Int
    public var tp: Int
    public var gated: Bool
    public var m: Int
    public var n: Int
    public var k: Int
    public var time: Summary
}

/// An expert-FFN shape to time.
public struct ExpertShape: Sendable, Equatable, Codable {
    public var model: String
    public var hidden: Int
    public var ffn: Int
    public var gated: Bool
    public init(model: String, hidden: Int, ffn: Int, gated: Bool = true) {
        self.model = model; self.hidden = hidden; self.ffn = ffn; self.gated = gated
    }

    /// Mixtral-8x7B, Qwen1.5-MoE-A2.7B (routed and shared expert), Phi-3.5-MoE.
    public static let defaults: [ExpertShape] = [
        ExpertShape(model: "Mixtral-8x7B", hidden: 4096, ffn: 14336),
        ExpertShape(model: "Qwen1.5-MoE-A2.7B", hidden: 2048, ffn: 1408),
        ExpertShape(model: "Qwen1.5-MoE-A2.7B-shared-expert", hidden: 2048, ffn: 5632),
        ExpertShape(model: "Phi-3.5-MoE", hidden: 4096, ffn: 6400),
    ]
}

/// Everything one run measured.
public struct CalibrationResults: Sendable, Equatable, Codable {
    public var tool: String
    public var createdAt: String
    public var host: String
    public var device: DeviceInfo
    public var copies: [CopyMeasurement] = []
    public var launch: LaunchMeasurement?
    public var smScaling: [SMScalingSeries] = []
    public var coRuns: [CoRunMeasurement] = []
    public var gemms: [GEMMMeasurement] = []
    /// "cublas" (cublasGemmEx, bf16 in and out, fp32 accumulation) or "ptx-naive".
    public var gemmBackend: String = ""
    /// What was approximated or skipped, in words.
    public var notes: [String] = []
}
