/// A kernel launch's shape: what the CUDA occupancy rules need.
public struct KernelLaunch: Sendable, Equatable {
    /// CTAs (thread blocks) in the grid: grid.x · grid.y · grid.z.
    public var ctas: Int
    /// Threads per CTA: block.x · block.y · block.z.
    public var threadsPerCTA: Int
    /// Registers per thread, as compiled.
    public var registersPerThread: Int
    /// Shared memory per CTA in bytes, static plus dynamic.
    public var sharedMemoryPerCTABytes: Int

    public init(ctas: Int, threadsPerCTA: Int, registersPerThread: Int, sharedMemoryPerCTABytes: Int) {
        self.ctas = ctas
        self.threadsPerCTA = threadsPerCTA
        self.registersPerThread = registersPerThread
        self.sharedMemoryPerCTABytes = sharedMemoryPerCTABytes
    }
}

/// Why a launch cannot run on a GPU at all.
public struct OccupancyError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Which per-SM resource limits a kernel's resident CTAs.
public enum OccupancyLimiter: String, Sendable, Equatable {
    case ctaSlots = "CTA slots"
    case warps
    case registers
    case sharedMemory = "shared memory"
}

/// CTAs resident per SM, by the CUDA occupancy rules (the CUDA Occupancy Calculator's
/// arithmetic): the least of the limits set by CTA slots, warps, registers (allocated per
/// warp in units of `registerAllocationUnit`, warps rounded to `warpAllocationGranularity`)
/// and shared memory (per CTA, plus the reserved part, rounded up to the allocation unit).
public enum Occupancy {
    public struct Result: Sendable, Equatable {
        public let ctasPerSM: Int
        public let limiter: OccupancyLimiter
        /// Resident warps over the SM's maximum warps.
        public let theoreticalOccupancy: Double
    }

    public static func ctasPerSM(_ launch: KernelLaunch, on spec: GPUSpec) throws -> Result {
        let sm = spec.perSM
        guard launch.ctas > 0 else { throw OccupancyError(message: "grid has \(launch.ctas) CTAs; expected at least 1") }
        guard launch.threadsPerCTA > 0 else {
            throw OccupancyError(message: "block has \(launch.threadsPerCTA) threads; expected at least 1")
        }
        guard launch.threadsPerCTA <= spec.perCTA.maxThreads else {
            throw OccupancyError(message: "block of \(launch.threadsPerCTA) threads exceeds \(spec.name)'s limit of \(spec.perCTA.maxThreads)")
        }
        guard launch.registersPerThread >= 0, launch.registersPerThread <= sm.maxRegistersPerThread else {
            throw OccupancyError(message: "\(launch.registersPerThread) registers per thread; \(spec.name) allows 0...\(sm.maxRegistersPerThread)")
        }
        guard launch.sharedMemoryPerCTABytes >= 0, launch.sharedMemoryPerCTABytes <= spec.perCTA.maxSharedMemoryOptInBytes else {
            throw OccupancyError(message: "\(launch.sharedMemoryPerCTABytes) bytes of shared memory per CTA; \(spec.name) allows at most \(spec.perCTA.maxSharedMemoryOptInBytes)")
        }
        let warpSize = 32
        let warpsPerCTA = ceilDiv(launch.threadsPerCTA, warpSize)

        var best = (sm.maxCTAs, OccupancyLimiter.ctaSlots)
        let byWarps = sm.maxWarps / warpsPerCTA
        if byWarps < best.0 { best = (byWarps, .warps) }

        if launch.registersPerThread > 0 {
            let regsPerWarp = roundUp(launch.registersPerThread * warpSize, sm.registerAllocationUnit)
            let warpsByRegs = roundDown(sm.registers / regsPerWarp, sm.warpAllocationGranularity)
            let byRegs = warpsByRegs / warpsPerCTA
            if byRegs < best.0 { best = (byRegs, .registers) }
        }
        if launch.sharedMemoryPerCTABytes > 0 {
            let perCTA = roundUp(launch.sharedMemoryPerCTABytes + sm.reservedSharedMemoryPerCTABytes,
                                 sm.sharedMemoryAllocationUnitBytes)
            let bySmem = sm.sharedMemoryBytes / perCTA
            if bySmem < best.0 { best = (bySmem, .sharedMemory) }
        }
        guard best.0 >= 1 else {
            throw OccupancyError(message: "no CTA fits on one SM of \(spec.name): limited by \(best.1.rawValue)")
        }
        let occupancy = Double(best.0 * warpsPerCTA) / Double(sm.maxWarps)
        return Result(ctasPerSM: best.0, limiter: best.1, theoreticalOccupancy: min(occupancy, 1))
    }

    @inline(__always) static func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
    @inline(__always) static func roundUp(_ a: Int, _ unit: Int) -> Int { unit > 1 ? ceilDiv(a, unit) * unit : a }
    @inline(__always) static func roundDown(_ a: Int, _ unit: Int) -> Int { unit > 1 ? a / unit * unit : a }
}
