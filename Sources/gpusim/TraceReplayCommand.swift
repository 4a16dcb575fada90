import ArgumentParser
import Foundation
import Hardware
import Profiles
import Traces

/// `gpusim trace replay FILE`: a Kineto trace's kernels and copies on the simulated GPU.
struct TraceReplay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a Kineto trace's kernels and copies on the simulated GPU and compare with the measurement.",
        discussion: """
        Kernels and copies run in their recorded stream order, released at their CPU launch calls' \
        times (plus --launch-latency-us); concurrent kernels on different streams share SMs and HBM \
        through the fluid model, with recorded durations deflated for the overlap they already met \
        (see README, "Trace replay"). Prints the simulated busy time (union of kernel intervals) and \
        span (first kernel start to last kernel end) next to the measured ones.
        """
    )

    @Argument(help: "A Kineto / PyTorch-profiler trace (.json, .json.gz, .json.zst).")
    var file: String

    @Option(name: .long, help: "GPU to simulate: a name from Traces/hardware (e.g. A100-SXM4-80GB), or auto (from the trace's deviceProperties).")
    var gpu: String = "auto"

    @Option(name: .long, help: "Directory of GPU data files (default: Traces/hardware found from the current directory, or $GPUSIM_DATA/hardware).")
    var hardware: String?

    @Option(name: .long, help: "Only this device's kernels and copies (default: all).")
    var device: Int?

    @Option(name: .long, help: "Launch call start to earliest kernel start, microseconds (default 5, or the --profile's measured single-launch latency).")
    var launchLatencyUs: Double?

    @Option(name: .long, help: "A calibration file (gpusim-calibration/1, from gpusim-calibrate): its measured copy curves and launch latency replace the GPU data file's.")
    var profile: String?

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if let l = launchLatencyUs, !(l >= 0 && l.isFinite) {
            throw ValidationError("--launch-latency-us must be a non-negative number, got \(l)")
        }
    }

    func run() throws {
        do {
            let catalog = try GPUCatalog(path: hardware)
            let spec: GPUSpec
            var chosenBy = "--gpu"
            if gpu.lowercased() == "auto" {
                let summary = try KinetoReader(path: file).read(maxEvents: nil) { (_: KinetoRecord) in }
                let props = summary.deviceProperties.first { device == nil || $0.id == device! } ?? summary.deviceProperties.first
                guard let props else {
                    throw ValidationError("\(file): the trace has no deviceProperties; pass --gpu NAME (known: \(catalog.names.joined(separator: ", ")))")
                }
                let m = try Self.match(props, in: catalog)
                spec = m.0
                chosenBy = m.1
            } else {
                spec = try catalog.spec(named: gpu)
            }
            var replaySpec = spec
            var latency = launchLatencyUs ?? 5
            if let profile {
                let overrides = try CalibrationOverrides(path: profile)
                guard overrides.matches(replaySpec) else {
                    throw ValidationError("\(profile): calibrated on '\(overrides.calibration.device.name)' (\(overrides.calibration.device.sms) SMs), but the trace is replayed on \(replaySpec.name) (\(replaySpec.smCount) SMs); pass --gpu with the calibrated GPU")
                }
                replaySpec = try overrides.apply(to: replaySpec)
                if launchLatencyUs == nil, let l = overrides.launchLatencyMicroseconds { latency = l }
                chosenBy += ", copies and launch latency from \(profile)"
            }
            var options = KinetoReplay.Options()
            options.launchLatency = .us(latency)
            options.device = device
            let r = try KinetoReplay(spec: replaySpec, options: options).replay(path: file)
            print(Self.render(r, file: file, gpu: replaySpec.name, chosenBy: chosenBy, format: format))
        } catch let e as TraceError {
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
            throw ExitCode.failure
        } catch let e as GPUCatalogError {
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
            throw ExitCode.failure
        } catch let e as ProfileError {
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
            throw ExitCode.failure
        } catch let e as GPUSpecError {
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// The catalog GPU for a trace's device: by name or alias, else the one with the same SM count
    /// and the closest memory size.
    static func match(_ p: KinetoDeviceProperties, in catalog: GPUCatalog) throws -> (GPUSpec, String) {
        if let s = try? catalog.spec(named: p.name) { return (s, "deviceProperties name '\(p.name)'") }
        let sameSMs = catalog.specs.filter { $0.smCount == p.numSms }
        guard let best = sameSMs.min(by: {
            abs(Double($0.memory.allocatableBytes - Int(p.totalGlobalMem))) < abs(Double($1.memory.allocatableBytes - Int(p.totalGlobalMem)))
        }) else {
            throw ValidationError("no GPU in the catalog matches '\(p.name)' (\(p.numSms) SMs); pass --gpu NAME (known: \(catalog.names.joined(separator: ", ")))")
        }
        return (best, "\(p.numSms) SMs and \(p.totalGlobalMem) bytes of '\(p.name)'")
    }

    static func render(_ r: KinetoReplay.Result, file: String, gpu: String, chosenBy: String, format: OutputFormat) -> String {
        func pct(_ sim: Double, _ meas: Double) -> Double { meas > 0 ? (sim - meas) / meas * 100 : 0 }
        switch format {
        case .json:
            let obj: [String: Any] = [
                "file": file, "gpu": gpu, "kernels": r.kernels, "copies": r.copies,
                "measured_busy_us": r.measuredBusyMicroseconds, "simulated_busy_us": r.simulatedBusyMicroseconds,
                "measured_span_us": r.measuredSpanMicroseconds, "simulated_span_us": r.simulatedSpanMicroseconds,
                "busy_error_pct": pct(r.simulatedBusyMicroseconds, r.measuredBusyMicroseconds),
                "span_error_pct": pct(r.simulatedSpanMicroseconds, r.measuredSpanMicroseconds),
                "deflated_kernels": r.deflatedKernels, "kernels_without_launch": r.kernelsWithoutLaunch,
                "anchored_operations": r.anchoredOperations,
            ]
            let data = try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted])
            return String(decoding: data, as: UTF8.self)
        case .text:
            func f(_ x: Double) -> String { String(format: "%.1f", x) }
            func e(_ x: Double) -> String { String(format: "%+.2f%%", x) }
            return """
            trace:     \(file)
            gpu:       \(gpu) (chosen by \(chosenBy))
            kernels:   \(r.kernels) (\(r.deflatedKernels) deflated for overlap, \(r.kernelsWithoutLaunch) without a launch record)
            copies:    \(r.copies)
            released at recorded start (waited for a dependency the trace does not show): \(r.anchoredOperations) of \(r.kernels + r.copies) operations
                       measured      simulated     error
            busy (us)  \(f(r.measuredBusyMicroseconds).padding(toLength: 13, withPad: " ", startingAt: 0)) \(f(r.simulatedBusyMicroseconds).padding(toLength: 13, withPad: " ", startingAt: 0)) \(e(pct(r.simulatedBusyMicroseconds, r.measuredBusyMicroseconds)))
            span (us)  \(f(r.measuredSpanMicroseconds).padding(toLength: 13, withPad: " ", startingAt: 0)) \(f(r.simulatedSpanMicroseconds).padding(toLength: 13, withPad: " ", startingAt: 0)) \(e(pct(r.simulatedSpanMicroseconds, r.measuredSpanMicroseconds)))
            """
        }
    }
}
