import SimCore

/// One kernel instance as the cost model sees it.
///
/// The measured quantity is ``isolatedSeconds``: the kernel's duration alone on the whole
/// GPU (all SMs, all HBM bandwidth), from a trace or a profile. Everything else is shape:
/// how many CTAs, how many fit on one SM, how many DRAM bytes move.
public struct KernelWork: Sendable, Equatable {
    /// CTAs in the grid.
    public var ctas: Int
    /// CTAs resident per SM (from ``Occupancy`` or the trace's "blocks per SM").
    public var ctasPerSM: Int
    /// Duration alone on the full GPU, seconds.
    public var isolatedSeconds: Double
    /// DRAM bytes read plus written. At most `isolatedSeconds ·` HBM bandwidth (clamped there).
    public var dramBytes: Double

    public init(ctas: Int, ctasPerSM: Int, isolatedSeconds: Double, dramBytes: Double = 0) {
        precondition(ctas >= 1 && ctasPerSM >= 1, "a kernel has at least one CTA and one CTA per SM")
        precondition(isolatedSeconds > 0 && isolatedSeconds.isFinite, "isolated duration must be positive")
        precondition(dramBytes >= 0 && dramBytes.isFinite, "DRAM bytes must be ≥ 0")
        self.ctas = ctas
        self.ctasPerSM = ctasPerSM
        self.isolatedSeconds = isolatedSeconds
        self.dramBytes = dramBytes
    }

    /// A kernel that uses `fraction` (0...1) of the GPU's HBM bandwidth when alone.
    public static func withMemoryBoundFraction(_ fraction: Double, ctas: Int, ctasPerSM: Int,
                                               isolatedSeconds: Double, hbmBytesPerSecond: Double) -> KernelWork {
        let f = min(max(fraction, 0), 1)
        return KernelWork(ctas: ctas, ctasPerSM: ctasPerSM, isolatedSeconds: isolatedSeconds,
                          dramBytes: f * isolatedSeconds * hbmBytesPerSecond)
    }
}

/// The kernel cost model of DESIGN.md §4.
///
/// With `s` SMs and `b` bytes/s of HBM bandwidth, a kernel's progress rate (kernels per
/// second) is the lesser of
/// - its **compute rate**, by wave quantisation: `waves(s) = ⌈ctas / (s · ctasPerSM)⌉`, and the
///   kernel takes `T · waves(s) / waves(S)` where `T` is its isolated time on all `S` SMs — so a
///   24-CTA kernel gains nothing past 24 SMs, and a two-wave kernel on half the SMs takes 2×;
/// - its **memory rate**, `b / dramBytes`.
///
/// In the fluid model a kernel is a flow of one unit of work capped at its compute rate on its
/// partition, consuming the partition's SM-time constraint (`usefulSMs · T(s)` SM-seconds per
/// unit, so co-running kernels split SM time) and HBM (`dramBytes` per unit, so co-running
/// kernels split bandwidth).
public enum KernelCostModel {
    /// Waves of CTAs on `sms` SMs.
    @inlinable public static func waves(ctas: Int, ctasPerSM: Int, sms: Int) -> Int {
        let slots = max(sms, 1) * ctasPerSM
        return (ctas + slots - 1) / slots
    }

    /// SMs a kernel keeps busy at once on `sms` SMs: no more than its CTAs need.
    @inlinable public static func usefulSMs(ctas: Int, ctasPerSM: Int, sms: Int) -> Int {
        min(max(sms, 1), (ctas + ctasPerSM - 1) / ctasPerSM)
    }

    /// Compute-bound time on `sms` of the GPU's `fullSMs` SMs (wave quantisation), seconds.
    public static func computeSeconds(_ k: KernelWork, sms: Int, fullSMs: Int) -> Double {
        let full = waves(ctas: k.ctas, ctasPerSM: k.ctasPerSM, sms: fullSMs)
        let here = waves(ctas: k.ctas, ctasPerSM: k.ctasPerSM, sms: sms)
        return k.isolatedSeconds * Double(here) / Double(full)
    }

    /// DRAM bytes, clamped so that the kernel is no faster than its measured isolated time
    /// would allow at full bandwidth.
    public static func effectiveDRAMBytes(_ k: KernelWork, fullBandwidth: Double) -> Double {
        min(k.dramBytes, k.isolatedSeconds * fullBandwidth)
    }

    /// Time alone on `sms` SMs with `bandwidth` bytes/s of HBM: the roofline of the two rates.
    public static func isolatedSeconds(_ k: KernelWork, sms: Int, bandwidth: Double,
                                       fullSMs: Int, fullBandwidth: Double) -> Double {
        let bytes = effectiveDRAMBytes(k, fullBandwidth: fullBandwidth)
        return max(computeSeconds(k, sms: sms, fullSMs: fullSMs), bandwidth > 0 ? bytes / bandwidth : .infinity)
    }
}
