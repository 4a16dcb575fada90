// GPUSpec: one GPU's figures, loaded from a data file (Traces/hardware/*.yaml), never from
// constants in code. The file format is documented in Traces/hardware/README.md; the strict
// loader is in GPUSpec+YAML.swift. Units are in the property names (bytes, bytes per second,
// seconds, MHz).

import Foundation

/// The figures of one GPU model, as loaded from its data file. Every figure in the file names
/// its source; `source(for:)` returns it.
public struct GPUSpec: Sendable, Equatable {
    /// Canonical name, e.g. "A100-SXM4-80GB".
    public let name: String
    /// Other names that resolve to this GPU (as CUDA's device name or a Kineto trace reports it).
    public let aliases: [String]
    public let computeCapability: ComputeCapability
    /// Streaming multiprocessors on the full (non-MIG) GPU.
    public let smCount: Int
    public let boostClockMHz: Double
    public let perSM: SMLimits
    public let perCTA: CTALimits
    public let memory: DeviceMemory
    public let l2Bytes: Int
    public let pcie: PCIeLink
    /// GPU-to-GPU NVLink; nil where the GPU has none.
    public let nvlink: NVLink?
    /// Copy engines CUDA can drive concurrently (cudaDeviceProp.asyncEngineCount).
    public let copyEngines: Int
    /// MIG geometry; nil where the GPU does not support MIG.
    public let mig: MIGSpec?
    /// Source of every figure or group of figures, by key path in the data file
    /// ("sms", "per_sm", "pcie.h2d_pinned", "mig.profiles[2]", ...).
    public let sources: [String: String]
    /// The file this spec was loaded from (a display name; empty when parsed from a string).
    public let file: String

    public init(name: String, aliases: [String], computeCapability: ComputeCapability, smCount: Int,
                boostClockMHz: Double, perSM: SMLimits, perCTA: CTALimits, memory: DeviceMemory,
                l2Bytes: Int, pcie: PCIeLink, nvlink: NVLink?, copyEngines: Int, mig: MIGSpec?,
                sources: [String: String], file: String) {
        self.name = name
        self.aliases = aliases
        self.computeCapability = computeCapability
        self.smCount = smCount
        self.boostClockMHz = boostClockMHz
        self.perSM = perSM
        self.perCTA = perCTA
        self.memory = memory
        self.l2Bytes = l2Bytes
        self.pcie = pcie
        self.nvlink = nvlink
        self.copyEngines = copyEngines
        self.mig = mig
        self.sources = sources
        self.file = file
    }

    /// The source recorded for a key path, or for the nearest enclosing group that has one
    /// ("per_sm.max_ctas" falls back to "per_sm").
    public func source(for keyPath: String) -> String? {
        var path = Substring(keyPath)
        while true {
            if let s = sources[String(path)] { return s }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            path = path[..<cut]
        }
    }

    /// Key paths whose source is an estimate (the source text begins with "estimate").
    public var estimatedKeyPaths: [String] {
        sources.filter { $0.value.lowercased().hasPrefix("estimate") }.map(\.key).sorted()
    }

    /// All names this GPU answers to: the canonical name first, then the aliases.
    public var allNames: [String] { [name] + aliases }

    /// The host-device transfer curve for one direction and kind of host memory.
    public func transferCurve(_ direction: CopyDirection, _ hostMemory: HostMemory) -> TransferCurve {
        pcie.curve(direction, hostMemory)
    }
}

/// CUDA compute capability, e.g. 8.0 or 9.0.
public struct ComputeCapability: Sendable, Equatable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }
    public var description: String { "\(major).\(minor)" }
    public static func < (a: Self, b: Self) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
}

/// Per-SM residency limits and allocation granularities (CUDA C Programming Guide, "Technical
/// Specifications per Compute Capability"; granularities from cuda_occupancy.h).
public struct SMLimits: Sendable, Equatable {
    public let maxThreads: Int
    public let maxWarps: Int
    public let maxCTAs: Int
    /// 32-bit registers in the SM's register file.
    public let registers: Int
    public let maxRegistersPerThread: Int
    /// Registers are allocated per warp in units of this many registers.
    public let registerAllocationUnit: Int
    /// Warps are allocated to the SM's sub-partitions in groups of this many.
    public let warpAllocationGranularity: Int
    /// Largest shared-memory carve-out per SM.
    public let sharedMemoryBytes: Int
    public let sharedMemoryAllocationUnitBytes: Int
    /// Shared memory the driver reserves for each resident CTA.
    public let reservedSharedMemoryPerCTABytes: Int

    public init(maxThreads: Int, maxWarps: Int, maxCTAs: Int, registers: Int, maxRegistersPerThread: Int,
                registerAllocationUnit: Int, warpAllocationGranularity: Int, sharedMemoryBytes: Int,
                sharedMemoryAllocationUnitBytes: Int, reservedSharedMemoryPerCTABytes: Int) {
        self.maxThreads = maxThreads
        self.maxWarps = maxWarps
        self.maxCTAs = maxCTAs
        self.registers = registers
        self.maxRegistersPerThread = maxRegistersPerThread
        self.registerAllocationUnit = registerAllocationUnit
        self.warpAllocationGranularity = warpAllocationGranularity
        self.sharedMemoryBytes = sharedMemoryBytes
        self.sharedMemoryAllocationUnitBytes = sharedMemoryAllocationUnitBytes
        self.reservedSharedMemoryPerCTABytes = reservedSharedMemoryPerCTABytes
    }
}

/// Per-CTA (thread block) limits.
public struct CTALimits: Sendable, Equatable {
    public let maxThreads: Int
    public let maxRegisters: Int
    /// Static shared memory a CTA may use without opting in.
    public let maxSharedMemoryBytes: Int
    /// Dynamic shared memory a CTA may use after opting in (cudaFuncSetAttribute).
    public let maxSharedMemoryOptInBytes: Int

    public init(maxThreads: Int, maxRegisters: Int, maxSharedMemoryBytes: Int, maxSharedMemoryOptInBytes: Int) {
        self.maxThreads = maxThreads
        self.maxRegisters = maxRegisters
        self.maxSharedMemoryBytes = maxSharedMemoryBytes
        self.maxSharedMemoryOptInBytes = maxSharedMemoryOptInBytes
    }
}

/// Device memory (HBM or GDDR).
public struct DeviceMemory: Sendable, Equatable {
    /// Capacity as the spec sheet states it (memory is sized in binary units: "80GB" is 80 GiB).
    public let capacityBytes: Int
    /// Memory CUDA reports as allocatable-total (cudaDeviceProp.totalGlobalMem), where measured.
    public let usableBytes: Int?
    /// Peak bandwidth from the spec sheet.
    public let bandwidthBytesPerSecond: Double
    /// Achieved device-to-device copy rate (bytes read plus bytes written per second), where measured.
    public let deviceCopyBytesPerSecond: Double?

    public init(capacityBytes: Int, usableBytes: Int?, bandwidthBytesPerSecond: Double,
                deviceCopyBytesPerSecond: Double?) {
        self.capacityBytes = capacityBytes
        self.usableBytes = usableBytes
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        self.deviceCopyBytesPerSecond = deviceCopyBytesPerSecond
    }

    /// What a simulation may allocate: the measured usable figure where there is one, else the capacity.
    public var allocatableBytes: Int { usableBytes ?? capacityBytes }
}

public enum CopyDirection: String, Sendable, CaseIterable {
    case hostToDevice = "h2d"
    case deviceToHost = "d2h"
}

public enum HostMemory: String, Sendable, CaseIterable {
    case pinned
    case pageable
}

/// The host link: PCIe generation and width, and measured (or estimated) copy curves.
public struct PCIeLink: Sendable, Equatable {
    public let generation: Int
    public let lanes: Int
    public let h2dPinned: TransferCurve
    public let d2hPinned: TransferCurve
    public let h2dPageable: TransferCurve
    public let d2hPageable: TransferCurve
    /// Aggregate rate of simultaneous pinned copies in both directions, where measured.
    public let bidirectionalPinnedBytesPerSecond: Double?

    public init(generation: Int, lanes: Int, h2dPinned: TransferCurve, d2hPinned: TransferCurve,
                h2dPageable: TransferCurve, d2hPageable: TransferCurve,
                bidirectionalPinnedBytesPerSecond: Double?) {
        self.generation = generation
        self.lanes = lanes
        self.h2dPinned = h2dPinned
        self.d2hPinned = d2hPinned
        self.h2dPageable = h2dPageable
        self.d2hPageable = d2hPageable
        self.bidirectionalPinnedBytesPerSecond = bidirectionalPinnedBytesPerSecond
    }

    public func curve(_ direction: CopyDirection, _ hostMemory: HostMemory) -> TransferCurve {
        switch (direction, hostMemory) {
        case (.hostToDevice, .pinned): return h2dPinned
        case (.deviceToHost, .pinned): return d2hPinned
        case (.hostToDevice, .pageable): return h2dPageable
        case (.deviceToHost, .pageable): return d2hPageable
        }
    }
}

/// GPU-to-GPU NVLink.
public struct NVLink: Sendable, Equatable {
    public let links: Int
    /// Both directions, all links together (the figure spec sheets quote).
    public let totalBandwidthBytesPerSecond: Double

    public init(links: Int, totalBandwidthBytesPerSecond: Double) {
        self.links = links
        self.totalBandwidthBytesPerSecond = totalBandwidthBytesPerSecond
    }

    /// One direction, all links together.
    public var perDirectionBytesPerSecond: Double { totalBandwidthBytesPerSecond / 2 }
}
