// Building a GPU's partitions from a validated MIG layout.

import SimCore

extension GPUModel {
    /// Adds one partition per GPU instance of `layout`, in layout order, and returns their
    /// indices. Each instance gets its profile's SMs and its own HBM constraint carrying its share
    /// of the GPU's bandwidth, `memorySlices / spec.mig.memorySlices` (MIG divides the memory
    /// system by memory slices), so instances never contend for SMs or bandwidth.
    ///
    /// Precondition: `layout` was validated for this GPU (`MIGLayout(spec:profiles:)` or
    /// `MIGLayout(spec:placements:)` on the same spec).
    public mutating func addMIGPartitions(_ layout: MIGLayout, fluid: inout FluidSystem) -> [Int] {
        guard let mig = spec.mig else { preconditionFailure("\(spec.name) does not support MIG") }
        precondition(layout.gpu == spec.name, "layout for \(layout.gpu) applied to \(spec.name)")
        return layout.instances.enumerated().map { (i, instance) in
            addPartition(name: "mig\(i)-\(instance.profile.name)", sms: instance.smCount,
                         isolatedHBMFraction: Double(instance.profile.memorySlices) / Double(mig.memorySlices),
                         fluid: &fluid)
        }
    }
}
