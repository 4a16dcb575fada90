// What a calibration run measures and how often.

/// The parts of a calibration run.
public enum CalibrationSection: String, Sendable, CaseIterable, Codable {
    case copies, launch
    case smScaling = "sm-scaling"
    case coRun = "co-run"
    case gemm
}

public struct CalibrationOptions: Sendable {
    /// CUDA device ordinal.
    public var device = 0
    /// Fewer sizes, SM counts and token counts, fewer repetitions: a run of about a minute.
    public var quick = false
    /// Copy sizes in bytes (default: 4 KiB × 4ⁱ up to 1 GiB; quick: × 16ⁱ up to 256 MiB).
    public var copySizes: [Int]?
    /// SM counts for the scaling series (default: 8, 16, 24, 32, 48, 64, 96, 128 below the device's count,
    /// plus all of them; quick: 8, 32, all).
    public var smCounts: [Int]?
    /// Token counts for the expert GEMMs (default 1, 2, 4, ..., 4096; quick 1, 16, 256, 4096).
    public var tokenCounts: [Int]?
    public var shapes: [ExpertShape] = ExpertShape.defaults
    public var sections: Set<CalibrationSection> = Set(CalibrationSection.allCases)
    /// Driver library (nil: $GPUSIM_LIBCUDA, else libcuda.so.1).
    public var libcuda: String?
    /// cuBLAS library (nil: $GPUSIM_LIBCUBLAS, else the usual names and folders; "none": do without).
    public var libcublas: String?
    /// NVRTC library (nil: $GPUSIM_LIBNVRTC, else the usual names and folders; "none": do without).
    public var libnvrtc: String?
    /// Overrides every series' repetition count (tests use small ones).
    public var repeats: Int?
    /// Overrides every series' warm-up count.
    public var warmup: Int?
    /// FMA loop iterations per tile of the compute kernel (16 FMAs each).
    public var computeIterations = 2048
    /// Waves of the compute kernel on the full GPU.
    public var computeWaves = 4
    /// Bytes of each of the memory kernel's two buffers (nil: total memory / 32, within 64 MiB ... 2 GiB).
    public var memoryBufferBytes: Int?
    /// Tokens of the Mixtral-8x7B up-projection used as the GEMM kernel in SM scaling and co-runs.
    public var gemmKernelTokens = 2048
    /// Empty-kernel launches per burst.
    public var launchesPerBurst = 200
    /// Progress lines (to stderr in the tool).
    public var log: @Sendable (String) -> Void = { _ in }

    public init() {}

    static let mib = 1 << 20

    var resolvedCopySizes: [Int] {
        if let copySizes { return copySizes }
        let factor = quick ? 16 : 4
        let top = quick ? 256 * CalibrationOptions.mib : 1024 * CalibrationOptions.mib
        return Array(sequence(first: 4096, next: { $0 * factor <= top ? $0 * factor : nil }))
    }

    var resolvedTokenCounts: [Int] {
        if let tokenCounts { return tokenCounts }
        return quick ? [1, 16, 256, 4096] : (0...12).map { 1 << $0 }
    }

    func resolvedSMCounts(total: Int) -> [Int] {
        let base = smCounts ?? (quick ? [8, 32] : [8, 16, 24, 32, 48, 64, 96, 128])
        var out = base.filter { $0 >= 1 && $0 < total }
        out.append(total)
        return Array(Set(out)).sorted()
    }

    /// (warm-up, repeats) for one copy of `bytes`.
    func copyRepeats(bytes: Int) -> (Int, Int) {
        let (w, r): (Int, Int)
        if bytes <= 16 * CalibrationOptions.mib { (w, r) = (3, 20) }
        else if bytes <= 256 * CalibrationOptions.mib { (w, r) = (2, 10) }
        else { (w, r) = (1, 5) }
        return (warmup ?? w, repeats ?? (quick ? max(3, r / 2) : r))
    }

    /// (warm-up, repeats) for a kernel series.
    var kernelRepeats: (Int, Int) { (warmup ?? 2, repeats ?? (quick ? 5 : 10)) }
}
