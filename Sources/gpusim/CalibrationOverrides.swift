import ArgumentParser
import Foundation
import Hardware
import Profiles

/// Applies a measured calibration file (`--profile FILE`, format gpusim-calibration/1) to a GPU
/// spec: the host-copy curves of the calibration replace the data file's, and its single-launch
/// latency becomes the replay's launch latency.
struct CalibrationOverrides {
    let calibration: Calibration

    init(path: String) throws {
        calibration = try Calibration.load(path: path)
    }

    /// The kernel launch latency measured for a single launch (else back-to-back), µs.
    var launchLatencyMicroseconds: Double? {
        guard let l = calibration.launch else { return nil }
        return l.singleUs ?? l.medianUs
    }

    /// Whether the calibration was taken on a GPU with this spec's SM count.
    func matches(_ spec: GPUSpec) -> Bool { calibration.device.sms == spec.smCount }

    /// `spec` with the calibration's measured copy curves, where it has at least two sizes of a series.
    func apply(to spec: GPUSpec) throws -> GPUSpec {
        func curve(_ direction: Calibration.CopyDirection, pinned: Bool, fallback: TransferCurve) throws -> TransferCurve {
            let points = calibration.copies
                .filter { $0.direction == direction && $0.pinned == pinned && $0.medianUs > 0 && $0.bytes > 0 }
                .sorted { $0.bytes < $1.bytes }
            guard points.count >= 2 else { return fallback }
            // The fixed latency: 90% of the smallest copy's time (the calibration starts at 4 KiB,
            // where a copy is almost all latency).
            let latency = points[0].medianUs * 0.9e-6
            do {
                return try TransferCurve(latencySeconds: latency, points: points.map {
                    TransferCurve.Point(bytes: Double($0.bytes), bytesPerSecond: Double($0.bytes) / ($0.medianUs * 1e-6))
                })
            } catch {
                throw ValidationError("\(calibration.path): copies \(direction.rawValue) \(pinned ? "pinned" : "pageable"): \(error)")
            }
        }
        let p = spec.pcie
        let pcie = PCIeLink(generation: p.generation, lanes: p.lanes,
                            h2dPinned: try curve(.h2d, pinned: true, fallback: p.h2dPinned),
                            d2hPinned: try curve(.d2h, pinned: true, fallback: p.d2hPinned),
                            h2dPageable: try curve(.h2d, pinned: false, fallback: p.h2dPageable),
                            d2hPageable: try curve(.d2h, pinned: false, fallback: p.d2hPageable),
                            bidirectionalPinnedBytesPerSecond: p.bidirectionalPinnedBytesPerSecond)
        var sources = spec.sources
        sources["pcie"] = "measurement: \(calibration.path) (\(calibration.device.name))"
        return GPUSpec(name: spec.name, aliases: spec.aliases, computeCapability: spec.computeCapability,
                       smCount: spec.smCount, boostClockMHz: spec.boostClockMHz, perSM: spec.perSM,
                       perCTA: spec.perCTA, memory: spec.memory, l2Bytes: spec.l2Bytes, pcie: pcie,
                       nvlink: spec.nvlink, copyEngines: spec.copyEngines, mig: spec.mig,
                       sources: sources, file: spec.file)
    }
}
