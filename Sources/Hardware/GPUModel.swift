import SimCore

/// A set of SMs that kernels are placed on: the whole GPU, a MIG instance, or a green-context
/// style share. Its SM time is a fluid constraint of capacity `sms` (SM-seconds per second).
public struct SMPartition: Sendable, Equatable {
    public let name: String
    /// SMs currently in the partition.
    public internal(set) var sms: Int
    /// SM-time constraint (capacity = `sms`).
    public let smTime: ConstraintID
    /// HBM bandwidth constraint this partition's kernels consume: the GPU's, or the partition's
    /// own when memory is isolated (MIG).
    public let hbm: ConstraintID
    /// Bandwidth of `hbm`, bytes/s.
    public let hbmBytesPerSecond: Double
}

/// One simulated GPU registered in a ``FluidSystem``: its SM partitions, its HBM bandwidth and
/// both directions of its host link, each a fluid constraint, plus the arithmetic that turns
/// kernels and copies into flows.
///
/// Several GPUs can share one fluid system (expert parallelism, multi-GPU runs).
public struct GPUModel: Sendable {
    public let spec: GPUSpec
    /// Whole-GPU HBM bandwidth (bytes/s of DRAM traffic).
    public let hbm: ConstraintID
    /// Host→device and device→host directions of the PCIe link (bytes/s).
    public let hostToDevice: ConstraintID
    public let deviceToHost: ConstraintID
    public private(set) var partitions: [SMPartition] = []

    /// Registers the GPU's constraints in `fluid`, with one partition holding every SM.
    public init(spec: GPUSpec, fluid: inout FluidSystem, name: String? = nil) {
        let n = name ?? spec.name
        self.spec = spec
        hbm = fluid.addConstraint(capacity: spec.memory.bandwidthBytesPerSecond, name: "\(n)/hbm")
        hostToDevice = fluid.addConstraint(capacity: spec.pcie.h2dPinned.peakBytesPerSecond, name: "\(n)/pcie-h2d")
        deviceToHost = fluid.addConstraint(capacity: spec.pcie.d2hPinned.peakBytesPerSecond, name: "\(n)/pcie-d2h")
        let whole = fluid.addConstraint(capacity: Double(spec.smCount), name: "\(n)/sms")
        partitions.append(SMPartition(name: "\(n)/all", sms: spec.smCount, smTime: whole, hbm: hbm,
                                      hbmBytesPerSecond: spec.memory.bandwidthBytesPerSecond))
    }

    /// Adds a partition of `sms` SMs. With `isolatedHBMFraction` (MIG) the partition gets its
    /// own HBM constraint of that fraction of the GPU's bandwidth; without, its kernels share the
    /// GPU's HBM with everyone. Returns the partition's index.
    public mutating func addPartition(name: String, sms: Int, isolatedHBMFraction: Double? = nil,
                                      fluid: inout FluidSystem) -> Int {
        precondition(sms >= 1 && sms <= spec.smCount, "partition of \(sms) SMs on a \(spec.smCount)-SM GPU")
        let smTime = fluid.addConstraint(capacity: Double(sms), name: "\(spec.name)/\(name)/sms")
        var bandwidth = spec.memory.bandwidthBytesPerSecond
        var memory = hbm
        if let f = isolatedHBMFraction {
            precondition(f > 0 && f <= 1, "HBM fraction must be in (0, 1], got \(f)")
            bandwidth *= f
            memory = fluid.addConstraint(capacity: bandwidth, name: "\(spec.name)/\(name)/hbm")
        }
        partitions.append(SMPartition(name: name, sms: sms, smTime: smTime, hbm: memory, hbmBytesPerSecond: bandwidth))
        return partitions.count - 1
    }

    /// Resizes a partition (a dynamic SM share). Running kernels' caps depend on the SM count:
    /// re-place them with ``kernelFlow(_:partition:)`` and `FluidSystem.setCap`.
    public mutating func resizePartition(_ index: Int, sms: Int, fluid: inout FluidSystem) {
        precondition(sms >= 1 && sms <= spec.smCount, "partition of \(sms) SMs on a \(spec.smCount)-SM GPU")
        partitions[index].sms = sms
        fluid.setCapacity(partitions[index].smTime, Double(sms))
    }

    /// The flow that runs kernel `k` on a partition: one unit of work, its cap (the compute
    /// rate on the partition's SMs, kernels/s), its weight and the constraints it consumes.
    ///
    /// The weight is `1 / (usefulSMs · T(s))`, the inverse of the SM-seconds one unit needs, so
    /// that co-running kernels get equal shares of SM time (max-min fair in SMs, each capped at
    /// the SMs its CTAs can fill) rather than equal kernel-completion rates. `priority` scales it
    /// (an MPS client's or a tenant's share).
    public func kernelFlow(_ k: KernelWork, partition index: Int = 0, priority: Double = 1)
        -> (weight: Double, cap: Double, uses: FlowUses) {
        let p = partitions[index]
        let compute = KernelCostModel.computeSeconds(k, sms: p.sms, fullSMs: spec.smCount)
        let useful = KernelCostModel.usefulSMs(ctas: k.ctas, ctasPerSM: k.ctasPerSM, sms: p.sms)
        let smSeconds = Double(useful) * compute
        var uses = FlowUses(p.smTime, coefficient: smSeconds)
        let bytes = KernelCostModel.effectiveDRAMBytes(k, fullBandwidth: spec.memory.bandwidthBytesPerSecond)
        if bytes > 0 { uses = uses.adding(p.hbm, coefficient: bytes) }
        return (priority / smSeconds, 1 / compute, uses)
    }

    /// Starts kernel `k` on a partition at `now`. Call `fluid.solve(at:)` after a batch of changes.
    @discardableResult
    public func startKernel(_ k: KernelWork, partition: Int = 0, priority: Double = 1, fluid: inout FluidSystem,
                            at now: SimTime, tag: UInt64) -> FlowID {
        let f = kernelFlow(k, partition: partition, priority: priority)
        return fluid.startFlow(work: 1, weight: f.weight, cap: f.cap, uses: f.uses, at: now, tag: tag)
    }

    /// How a host copy of `bytes` runs: a fixed latency (the curve's intercept), then a flow
    /// of `bytes` capped at the curve's streaming rate for that size, consuming the link
    /// direction and HBM.
    public func copyFlow(bytes: Int, direction: CopyDirection, hostMemory: HostMemory)
        -> (latency: SimTime, cap: Double, uses: FlowUses) {
        let curve = spec.pcie.curve(direction, hostMemory)
        let link = direction == .hostToDevice ? hostToDevice : deviceToHost
        return (SimTime(seconds: curve.latencySeconds), curve.streamingBytesPerSecond(bytes: bytes),
                FlowUses(link).adding(hbm))
    }

    /// A device-to-device copy: reads and writes HBM (2 bytes of traffic per byte copied).
    public func deviceCopyFlow(bytes: Int) -> (cap: Double, uses: FlowUses) {
        let rate = spec.memory.deviceCopyBytesPerSecond ?? spec.memory.bandwidthBytesPerSecond
        return (rate / 2, FlowUses(hbm, coefficient: 2))
    }
}
