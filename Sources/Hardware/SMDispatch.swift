import SimCore

/// How concurrent kernels get SMs: in launch order, as the hardware block scheduler hands
/// out CTAs.
///
/// Measured on an H100 (Traces/profiles/calibration/h100-sxm5-80gb.json, `co_run`): of two
/// kernels that each fill every SM, started together on two streams, the one enqueued first
/// runs as if alone (1.00–1.04× its isolated time) and the second waits for SMs to free. A
/// fair split of SM time would give both 2×. So within a partition, SMs go to running kernels
/// in launch order, each taking what its CTAs can fill (``KernelCostModel/usefulSMs``) until
/// none are left; a kernel that gets no SM waits, and when a kernel ends its SMs go to the
/// next ones in order. HBM bandwidth is still shared fairly by the fluid model among the kernels
/// that run.
public enum SMDispatch {
    /// SMs for each kernel, in launch order: `needs[i]` SMs wanted (its useful SMs), capped by
    /// `limits[i]` when given (an MPS client's active-thread percentage), out of `sms`.
    /// A result of 0 means the kernel waits.
    public static func allocate(needs: [Int], limits: [Int]? = nil, sms: Int) -> [Int] {
        var left = max(sms, 0)
        var out = [Int](repeating: 0, count: needs.count)
        for i in needs.indices {
            let want = min(max(needs[i], 0), limits.map { max($0[i], 0) } ?? Int.max)
            let got = min(want, left)
            out[i] = got
            left -= got
        }
        return out
    }

    /// In-place variant for hot paths: fills `allocation` (same count as `needs`).
    public static func allocate(needs: UnsafeBufferPointer<Int>, sms: Int, into allocation: UnsafeMutableBufferPointer<Int>) {
        var left = max(sms, 0)
        for i in needs.indices {
            let got = min(max(needs[i], 0), left)
            allocation[i] = got
            left -= got
        }
    }
}

extension GPUModel {
    /// The flow of kernel `k` holding `sms` SMs of a partition (launch-order dispatch): one unit
    /// of work capped at its compute rate on those SMs (wave quantisation), consuming the
    /// partition's HBM (`dramBytes` per unit) fairly with other kernels. `sms` must be ≥ 1.
    public func kernelFlow(_ k: KernelWork, holding sms: Int, partition index: Int = 0)
        -> (cap: Double, uses: FlowUses) {
        precondition(sms >= 1, "a running kernel holds at least one SM")
        let p = partitions[index]
        let compute = KernelCostModel.computeSeconds(k, sms: min(sms, p.sms), fullSMs: spec.smCount)
        let bytes = KernelCostModel.effectiveDRAMBytes(k, fullBandwidth: spec.memory.bandwidthBytesPerSecond)
        return (1 / compute, bytes > 0 ? FlowUses(p.hbm, coefficient: bytes) : FlowUses())
    }
}
