// Simulation kind `replay`: a real PyTorch-profiler (Kineto) trace replayed on a simulated GPU
// (Hardware.KinetoReplay), compared with its measurement.
//
//   hardware:   gpu: NAME               a GPU of the catalog (Traces/hardware), by name or alias
//               data: DIR               optional: the catalog directory (default: Traces/hardware
//                                       found from the config file's directory upward, or $GPUSIM_DATA/hardware)
//   workload:   trace: PATH             a Kineto trace (.json, .json.gz, .json.zst), relative to the config file
//               device: N               optional: only this device's operations (default: all)
//   parameters: launch_latency_us: X    launch call to earliest start, µs (default 5)
//               queue_tolerance_us: X   an operation that started within X µs of its stream predecessor's
//                                       end was queued behind it (default 5; policy `queued` only)
//   policies:   queued    queued operations follow their simulated predecessor; the others keep their recorded start
//               anchored  every operation keeps its recorded start (stream order still holds)
//               eager     every operation follows its predecessor (dependencies on other streams ignored)
//
// The trace's compute capability must not exceed the GPU's (its kernels would not run there).
// Replay is deterministic: the seed is recorded but changes nothing.

import Foundation
import Hardware
import Results
import SimCore
import Traces

public enum ReplayKind: SimulationKind {
    public static let name = "replay"
    public static let summary = "Kineto trace replay on a simulated GPU, against the measurement"

    public static let policies: [PolicyInfo] = [
        PolicyInfo("queued", "queued operations follow their simulated stream predecessor and launch call; others keep their recorded start"),
        PolicyInfo("anchored", "every operation is released at its recorded start (stream order still holds)"),
        PolicyInfo("eager", "every operation follows its stream predecessor as soon as its launch call allows"),
    ]

    static let count = Tolerance.exact
    static let time = Tolerance(abs: 1e-3, rel: 1e-6)
    static let percent = Tolerance(abs: 1e-3, rel: 0)

    public static let metrics: [MetricInfo] = [
        MetricInfo("kernels", unit: "", "kernels replayed", tolerance: count),
        MetricInfo("copies", unit: "", "memcpys and memsets replayed", tolerance: count),
        MetricInfo("measured_busy_us", unit: "us", "GPU busy time in the recording (union of kernel intervals)", tolerance: time),
        MetricInfo("simulated_busy_us", unit: "us", "GPU busy time in the replay (union of kernel intervals)", tolerance: time),
        MetricInfo("busy_error_pct", unit: "%", "(simulated - measured) / measured busy time", tolerance: percent),
        MetricInfo("measured_span_us", unit: "us", "first kernel start to last kernel end, recorded", tolerance: time),
        MetricInfo("simulated_span_us", unit: "us", "first kernel start to last kernel end, simulated", tolerance: time),
        MetricInfo("span_error_pct", unit: "%", "(simulated - measured) / measured span", tolerance: percent),
        MetricInfo("simulated_copy_busy_us", unit: "us", "union of simulated copy and memset intervals", tolerance: time),
        MetricInfo("deflated_kernels", unit: "", "kernels whose recorded durations were deflated for overlap", tolerance: count),
        MetricInfo("anchored_operations", unit: "", "operations released at their recorded start", tolerance: count),
        MetricInfo("kernels_without_launch", unit: "", "kernels with no launch call in the trace", tolerance: count),
    ]

    /// The resolved config of one replay run.
    struct Config: Equatable {
        var gpu: String
        var gpuFileSHA256: String
        /// Catalog directory as written, or nil for the default search.
        var data: String?
        var trace: String
        var traceSHA256: String
        var device: Int?
        var launchLatencyUs: Double
        var queueToleranceUs: Double
        var policy: String

        var json: CanonicalJSON {
            .object([
                "gpu": .string(gpu), "gpu_file_sha256": .string(gpuFileSHA256), "data": data.map { .string($0) } ?? .null,
                "trace": .string(trace), "trace_sha256": .string(traceSHA256), "device": device.map { .int($0) } ?? .null,
                "launch_latency_us": .double(launchLatencyUs)!, "queue_tolerance_us": .double(queueToleranceUs)!,
                "policy": .string(policy),
            ])
        }

        init(gpu: String, gpuFileSHA256: String, data: String?, trace: String, traceSHA256: String, device: Int?,
             launchLatencyUs: Double, queueToleranceUs: Double, policy: String) {
            self.gpu = gpu
            self.gpuFileSHA256 = gpuFileSHA256
            self.data = data
            self.trace = trace
            self.traceSHA256 = traceSHA256
            self.device = device
            self.launchLatencyUs = launchLatencyUs
            self.queueToleranceUs = queueToleranceUs
            self.policy = policy
        }

        init(json: CanonicalJSON) throws {
            func bad(_ k: String) -> Error { KindRunError(message: "replay config: missing or malformed '\(k)' in \(json.text.prefix(200))") }
            guard let gpu = json["gpu"]?.stringValue else { throw bad("gpu") }
            guard let gpuSHA = json["gpu_file_sha256"]?.stringValue else { throw bad("gpu_file_sha256") }
            guard let trace = json["trace"]?.stringValue else { throw bad("trace") }
            guard let traceSHA = json["trace_sha256"]?.stringValue else { throw bad("trace_sha256") }
            guard let lat = json["launch_latency_us"]?.doubleValue else { throw bad("launch_latency_us") }
            guard let tol = json["queue_tolerance_us"]?.doubleValue else { throw bad("queue_tolerance_us") }
            guard let policy = json["policy"]?.stringValue else { throw bad("policy") }
            self.init(gpu: gpu, gpuFileSHA256: gpuSHA, data: json["data"]?.stringValue, trace: trace, traceSHA256: traceSHA,
                      device: json["device"]?.intValue, launchLatencyUs: lat, queueToleranceUs: tol, policy: policy)
        }
    }

    /// A trace read once per experiment and shared by its runs.
    final class ParsedTrace: @unchecked Sendable {
        let kernels: [KinetoKernel]
        let copies: [KinetoCopy]
        /// The same records without their names: what the replay reads. Runs on several threads
        /// share these arrays; records without heap-allocated strings are read without touching
        /// shared reference counts (with names, every read retains and releases the same string
        /// objects from every thread, and the workers slow each other down).
        let bareKernels: [KinetoKernel]
        let bareCopies: [KinetoCopy]
        let launches: [Int: Int64]
        let devices: [KinetoDeviceProperties]
        let sha256: String

        init(path: String) throws {
            var kernels: [KinetoKernel] = []
            var copies: [KinetoCopy] = []
            var launches: [Int: Int64] = [:]
            let summary = try KinetoReader(path: path).read { (record: KinetoRecord) in
                switch record {
                case .kernel(let k): kernels.append(k)
                case .copy(let c): copies.append(c)
                case .runtime(let r): if launches[r.correlation] == nil { launches[r.correlation] = r.tsNs }
                }
            }
            self.kernels = kernels
            self.copies = copies
            self.bareKernels = kernels.map { var k = $0; k.name = ""; return k }
            self.bareCopies = copies.map { var c = $0; c.name = ""; return c }
            self.launches = launches
            self.devices = summary.deviceProperties
            self.sha256 = try SHA256.hex(fileAt: path)
        }
    }

    /// The GPU catalog. With `perThread`, each thread loads its own copy: a GPUSpec's arrays are
    /// read constantly during a replay, and specs shared by several worker threads would have
    /// them retain and release the same buffers, slowing each other down.
    static func catalog(_ data: String?, context: KindContext, perThread: Bool = false) throws -> GPUCatalog {
        let dir: String
        if let data {
            dir = context.resolvePath(data)
        } else {
            dir = try GPUCatalog.defaultDirectory(currentDirectory: context.baseDirectory.path).path
        }
        let key = "replay.catalog:" + dir + (perThread ? ":thread \(pthread_self())" : "")
        return try context.cached(key) { try GPUCatalog(directory: URL(fileURLWithPath: dir, isDirectory: true)) }
    }

    static func gpuFileSHA256(_ spec: GPUSpec, catalog: GPUCatalog, context: KindContext) throws -> String {
        let path = catalog.directory.appendingPathComponent(spec.file).path
        return try context.cached("replay.gpu-sha:" + path) { try SHA256.hex(fileAt: path) }
    }

    static func trace(_ absolutePath: String, context: KindContext) throws -> ParsedTrace {
        try context.cached("replay.trace:" + absolutePath) { try ParsedTrace(path: absolutePath) }
    }

    // MARK: resolve

    /// Reads the distinct traces of all runs in parallel (the slow part of validation).
    public static func prepare(_ specs: [RunSpec], context: KindContext) {
        var paths: [String] = []
        for s in specs {
            guard let entries = s.workload.mapEntries, let t = entries.first(where: { $0.key == "trace" }),
                  case .string(let p) = t.node.value else { continue }
            let absolute = context.resolvePath(p.trimmingCharacters(in: .whitespacesAndNewlines))
            if !paths.contains(absolute) { paths.append(absolute) }
        }
        guard paths.count > 1 else { return }
        let list = paths
        DispatchQueue.concurrentPerform(iterations: list.count) { i in
            _ = try? trace(list[i], context: context)
        }
    }

    public static func resolve(_ spec: RunSpec, context: KindContext) throws -> CanonicalJSON {
        let file = spec.file
        let hw = try ConfigMap(spec.hardware, file: file, what: "a mapping {gpu: NAME, data: DIR}")
        try hw.expectKeys(["gpu", "data"])
        let gpuNode = try hw.required("gpu", "the GPU to simulate, e.g. A100-SXM4-80GB")
        let gpuName = try hw.string(gpuNode, "a GPU name")
        var data: String? = nil
        var dataNode: ConfigNode? = nil
        if let d = hw.optional("data") { data = try hw.string(d, "a directory of GPU data files"); dataNode = d }
        try hw.finish()

        let wl = try ConfigMap(spec.workload, file: file, what: "a mapping {trace: PATH, device: N}")
        try wl.expectKeys(["trace", "device"])
        let traceNode = try wl.required("trace", "a Kineto trace file (.json, .json.gz, .json.zst)")
        let tracePath = try wl.string(traceNode, "a trace path")
        var device: Int? = nil
        var deviceNode: ConfigNode? = nil
        if let d = wl.optional("device"), d.value != .null { device = try wl.int(d, "a device id", range: 0...1_000_000); deviceNode = d }
        try wl.finish()

        let pm = try ConfigMap(spec.parameters, file: file, what: "a mapping of replay parameters")
        try pm.expectKeys(["launch_latency_us", "queue_tolerance_us"])
        var latency = 5.0
        if let n = pm.optional("launch_latency_us") { latency = try pm.double(n, "a launch latency in µs", min: 0, max: 1e6) }
        var tolerance = 5.0
        if let n = pm.optional("queue_tolerance_us") { tolerance = try pm.double(n, "a queue tolerance in µs", min: 0, max: 1e6) }
        try pm.finish()

        let catalog: GPUCatalog
        do {
            catalog = try Self.catalog(data, context: context)
        } catch {
            let at = dataNode ?? gpuNode
            throw ConfigError(file: file, keyPath: dataNode?.path ?? spec.hardware.path,
                              message: "cannot load the GPU catalog: \(error)", line: at.line)
        }
        let gpu: GPUSpec
        do {
            gpu = try catalog.spec(named: gpuName)
        } catch {
            throw ConfigError(file: file, keyPath: gpuNode.path, message: "\(error)", line: gpuNode.line)
        }
        let absolute = context.resolvePath(tracePath)
        let trace: ParsedTrace
        do {
            trace = try Self.trace(absolute, context: context)
        } catch {
            let reason: String
            if let e = error as? TraceError { reason = e.description } else { reason = "\(absolute): \(error)" }
            throw ConfigError(file: file, keyPath: traceNode.path, message: "unreadable trace: \(reason)", line: traceNode.line)
        }
        let kernelDevices = Set(trace.kernels.map(\.device))
        guard !kernelDevices.isEmpty else {
            throw ConfigError(file: file, keyPath: traceNode.path, message: "the trace \(tracePath) has no kernels to replay", line: traceNode.line)
        }
        if let device, !kernelDevices.contains(device) {
            throw ConfigError(file: file, keyPath: deviceNode!.path,
                              message: "the trace has no kernels on device \(device); its kernels ran on device(s) \(kernelDevices.sorted().map(String.init).joined(separator: ", "))",
                              line: deviceNode!.line)
        }
        let recordedDevice = device ?? kernelDevices.min()!
        if let props = trace.devices.first(where: { $0.id == recordedDevice }) {
            let recorded = ComputeCapability(major: props.computeMajor, minor: props.computeMinor)
            if gpu.computeCapability < recorded {
                throw ConfigError(file: file, keyPath: gpuNode.path,
                                  message: "\(gpu.name) has compute capability \(gpu.computeCapability), below the \(recorded) of the GPU the trace was recorded on (\(props.name)): its kernels cannot run there",
                                  line: gpuNode.line)
            }
        }
        let config = Config(gpu: gpu.name, gpuFileSHA256: try gpuFileSHA256(gpu, catalog: catalog, context: context),
                            data: data, trace: tracePath, traceSHA256: trace.sha256, device: device,
                            launchLatencyUs: latency, queueToleranceUs: spec.policy == "queued" ? tolerance : 0,
                            policy: spec.policy)
        return config.json
    }

    // MARK: run

    public static func run(config json: CanonicalJSON, seed: UInt64, options: RunOptions, context: KindContext) throws -> RunOutput {
        let config = try Config(json: json)
        let catalog = try Self.catalog(config.data, context: context, perThread: true)
        let gpu = try catalog.spec(named: config.gpu)
        let gpuSHA = try gpuFileSHA256(gpu, catalog: catalog, context: context)
        guard gpuSHA == config.gpuFileSHA256 else {
            throw KindRunError(message: "the GPU data file of \(config.gpu) changed since the run was planned (sha256 \(gpuSHA.prefix(12)), expected \(config.gpuFileSHA256.prefix(12)))")
        }
        let trace = try Self.trace(context.resolvePath(config.trace), context: context)
        guard trace.sha256 == config.traceSHA256 else {
            throw KindRunError(message: "the trace \(config.trace) changed since the run was planned")
        }
        var o = KinetoReplay.Options()
        o.launchLatency = .us(config.launchLatencyUs)
        o.device = config.device
        switch config.policy {
        case "queued": o.queueTolerance = .us(config.queueToleranceUs)
        case "anchored": o.queueTolerance = .ns(-(1 << 62))
        case "eager": o.queueTolerance = .ns(1 << 61)
        default: throw KindRunError(message: "unknown replay policy '\(config.policy)'")
        }
        var kernelIndex: [Int] = []
        var copyIndex: [Int] = []
        let kernels: [KinetoKernel]
        let copies: [KinetoCopy]
        if let d = config.device {
            kernelIndex = trace.bareKernels.indices.filter { trace.bareKernels[$0].device == d }
            copyIndex = trace.bareCopies.indices.filter { trace.bareCopies[$0].device == d }
            kernels = kernelIndex.map { trace.bareKernels[$0] }
            copies = copyIndex.map { trace.bareCopies[$0] }
        } else {
            kernelIndex = Array(trace.bareKernels.indices)
            copyIndex = Array(trace.bareCopies.indices)
            kernels = trace.bareKernels
            copies = trace.bareCopies
        }
        let r = try KinetoReplay(spec: gpu, options: o).replay(kernels: kernels, copies: copies, launches: trace.launches,
                                                               file: config.trace)
        func pct(_ sim: Double, _ meas: Double) -> Double { meas > 0 ? (sim - meas) / meas * 100 : 0 }
        let copyBusy = Double(KinetoReplay.unionLength(r.simulatedCopyIntervals.map { ($0.start, $0.end) })) / 1e3
        let values: [(String, Double)] = [
            ("kernels", Double(r.kernels)), ("copies", Double(r.copies)),
            ("measured_busy_us", r.measuredBusyMicroseconds), ("simulated_busy_us", r.simulatedBusyMicroseconds),
            ("busy_error_pct", pct(r.simulatedBusyMicroseconds, r.measuredBusyMicroseconds)),
            ("measured_span_us", r.measuredSpanMicroseconds), ("simulated_span_us", r.simulatedSpanMicroseconds),
            ("span_error_pct", pct(r.simulatedSpanMicroseconds, r.measuredSpanMicroseconds)),
            ("simulated_copy_busy_us", copyBusy),
            ("deflated_kernels", Double(r.deflatedKernels)), ("anchored_operations", Double(r.anchoredOperations)),
            ("kernels_without_launch", Double(r.kernelsWithoutLaunch)),
        ]
        var output = RunOutput(metrics: values.map { MetricRow(tenant: "all", name: $0.0, value: $0.1) })

        if options.requests {
            let first = kernels.map(\.tsNs).min() ?? 0
            output.requests = kernels.indices.map { i in
                let k = kernels[i]
                let iv = r.simulatedKernelIntervals[i]
                return RequestRow(tenant: "all", request: Int64(kernelIndex[i]), arrivalNs: k.tsNs - first, startNs: iv.start,
                                  finishNs: iv.end,
                                  attributes: CanonicalJSON.object(["stream": .int(k.stream), "measured_duration_ns": .int(k.durNs)]).text)
            }
        }
        if options.timeline {
            let partition = "tenant all · \(gpu.name) · SMs 0-\(gpu.smCount - 1) (full GPU)"
            let links = "\(gpu.name) · copy links"
            var events: [TimelineEvent] = []
            for (i, k) in kernels.enumerated() {
                let iv = r.simulatedKernelIntervals[i]
                events.append(TimelineEvent(track: .init(process: partition, thread: "stream \(k.stream)"), name: trace.kernels[kernelIndex[i]].name,
                                            category: "kernel", startNs: iv.start, endNs: iv.end,
                                            args: ["grid": .string("\(k.grid.x)x\(k.grid.y)x\(k.grid.z)"),
                                                   "block": .string("\(k.block.x)x\(k.block.y)x\(k.block.z)"),
                                                   "recorded_duration_us": .double(Double(k.durNs) / 1e3) ?? .null,
                                                   "trace_index": .int(kernelIndex[i])]))
            }
            for (i, c) in copies.enumerated() {
                let iv = r.simulatedCopyIntervals[i]
                let lane: String
                switch c.kind {
                case .htod: lane = "PCIe host→device"
                case .dtoh: lane = "PCIe device→host"
                case .dtod, .ptop: lane = "HBM device→device"
                case .memset: lane = "HBM memset"
                default: lane = "host (recorded duration)"
                }
                events.append(TimelineEvent(track: .init(process: links, thread: lane), name: trace.copies[copyIndex[i]].name,
                                            category: c.kind == .memset ? "memset" : "copy", startNs: iv.start, endNs: iv.end,
                                            args: ["bytes": .int(c.bytes), "stream": .int(c.stream), "trace_index": .int(copyIndex[i])]))
            }
            output.timeline = events
        }
        return output
    }
}

/// A run that cannot proceed (recorded as a failed run with this message).
public struct KindRunError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
