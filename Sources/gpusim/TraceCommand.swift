import ArgumentParser
import Foundation
import Traces

/// `gpusim trace ...`: real traces (Kineto JSON, request CSV/JSONL). The work is done by the
/// Traces module (readers, KinetoStats, RequestTraceStats); this only prints.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Look at real traces: Kineto/PyTorch-profiler JSON (.json, .json.gz, .json.zst), request CSV/JSONL.",
        subcommands: [Inspect.self, TraceReplay.self]
    )

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case kineto
        case azureCSV = "azure-csv"
        case mooncakeJSONL = "mooncake-jsonl"
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarise a trace.",
            discussion: """
            Kineto trace: device, kernel count, streams, GPU busy time (union of kernel intervals), \
            span (first kernel start to last kernel end), copies by kind with bytes, memsets.
            Request trace: request count, duration, mean/p50/p99 input and output tokens, arrival rate.
            The trace type comes from the file name (.json → Kineto, .csv → Azure, .jsonl → Mooncake, \
            each optionally .gz or .zst) unless --kind is given.
            """
        )

        @Argument(help: "The trace file.")
        var file: String

        @Option(name: .long, help: "Output format: text or json.")
        var format: OutputFormat = .text

        @Option(name: .long, help: "Trace type: kineto, azure-csv or mooncake-jsonl (default: from the file name).")
        var kind: Kind?

        func run() throws {
            let traceKind: TraceFileKind
            switch kind {
            case .kineto?: traceKind = .kineto
            case .azureCSV?: traceKind = .requests(.azureCSV)
            case .mooncakeJSONL?: traceKind = .requests(.mooncakeJSONL)
            case nil:
                guard let k = TraceFileKind.fromName(file) else {
                    throw ValidationError("\(file): cannot tell the trace type from the name (expected .json, .csv or .jsonl, optionally .gz/.zst); pass --kind")
                }
                traceKind = k
            }
            do {
                let out: String
                switch traceKind {
                case .kineto: out = try inspectKineto()
                case .requests(let f): out = try inspectRequests(f)
                }
                print(out)
            } catch let e as TraceError {
                FileHandle.standardError.write(Data("error: \(e)\n".utf8))
                throw ExitCode.failure
            }
        }

        func inspectKineto() throws -> String {
            var stats = KinetoStats()
            let summary = try KinetoReader(path: file).read { stats.add($0) }
            let compression = summary.compression
            let busy = stats.gpuBusyNs()
            let used = summary.deviceProperties.filter { stats.devices.contains($0.id) }
            let devices = used.isEmpty ? summary.deviceProperties : used
            let report = KinetoReport(
                file: file, type: "kineto", compression: compression.rawValue,
                devices: devices.map {
                    .init(id: $0.id, name: $0.name, sms: $0.numSms, memoryBytes: $0.totalGlobalMem,
                          computeCapability: "\($0.computeMajor).\($0.computeMinor)")
                },
                kernelDevices: stats.devices.sorted(),
                events: summary.eventCount, kernels: stats.kernelCount,
                streams: stats.streams, kernelsPerStream: stats.streams.map { stats.kernelsPerStream[$0] ?? 0 },
                gpuBusyUs: Double(busy) / 1000, spanUs: Double(stats.spanNs) / 1000,
                kernelTimeSumUs: Double(stats.kernelDurationSumNs) / 1000,
                copies: KinetoCopyKind.allCases.compactMap { k in
                    stats.copies[k].map { .init(kind: k.rawValue, count: $0.count, bytes: $0.bytes, timeUs: Double($0.durNs) / 1000) }
                },
                runtimeCalls: stats.runtimeCalls, driverCalls: stats.driverCalls,
                kernelsWithoutLaunchCall: stats.kernelsWithoutLaunchCall)
            if format == .json { return try encode(report) }

            var lines: [String] = []
            lines.append("file: \(file) (Kineto trace, compression: \(compression.rawValue))")
            if devices.isEmpty { lines.append("device: not given (no deviceProperties in the trace)") }
            for d in devices {
                let gib = Double(d.totalGlobalMem) / Double(1 << 30)
                lines.append("device \(d.id): \(d.name), \(d.numSms) SMs, \(fmt(gib, 1)) GiB (\(d.totalGlobalMem) B), compute \(d.computeMajor).\(d.computeMinor)")
            }
            lines.append("events: \(summary.eventCount) (\(summary.kernelCount) kernels, \(summary.memcpyCount) memcpy, \(summary.memsetCount) memset, \(summary.runtimeCount) runtime, \(summary.driverCount) driver, \(summary.otherCount) other)")
            lines.append("kernels: \(stats.kernelCount)")
            lines.append("streams: \(stats.streams.count) (" + stats.streams.map { "\($0): \(stats.kernelsPerStream[$0] ?? 0) kernels" }.joined(separator: ", ") + ")")
            let pct = stats.spanNs > 0 ? " (\(fmt(100 * Double(busy) / Double(stats.spanNs), 1))% of the span)" : ""
            lines.append("GPU busy: \(fmt(Double(busy) / 1000, 3)) µs\(pct)")
            lines.append("span: \(fmt(Double(stats.spanNs) / 1000, 3)) µs (first kernel start to last kernel end)")
            lines.append("kernel time (sum of durations): \(fmt(Double(stats.kernelDurationSumNs) / 1000, 3)) µs")
            if stats.copies.isEmpty { lines.append("copies: none") } else { lines.append("copies:") }
            for k in KinetoCopyKind.allCases {
                guard let t = stats.copies[k] else { continue }
                let name = k.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
                lines.append("  \(name) \(t.count) events, \(t.bytes) B, \(fmt(Double(t.durNs) / 1000, 3)) µs")
            }
            lines.append("CUDA calls: \(stats.runtimeCalls) runtime, \(stats.driverCalls) driver; kernels without a launch call in the trace: \(stats.kernelsWithoutLaunchCall)")
            return lines.joined(separator: "\n")
        }

        func inspectRequests(_ f: RequestTraceFormat) throws -> String {
            var stats = RequestTraceStats()
            let reader = try RequestTraceReader(path: file, format: f)
            try reader.forEach { stats.add($0) }
            let report = RequestReport(
                file: file, type: f.rawValue, requests: stats.count,
                durationSeconds: Double(stats.durationNs) / 1e9,
                arrivalRatePerSecond: stats.arrivalRatePerSecond,
                inputTokens: .init(mean: stats.meanInputTokens, p50: stats.inputTokensPercentile(50), p99: stats.inputTokensPercentile(99)),
                outputTokens: .init(mean: stats.meanOutputTokens, p50: stats.outputTokensPercentile(50), p99: stats.outputTokensPercentile(99)))
            if format == .json { return try encode(report) }
            func dist(_ d: RequestReport.Tokens) -> String {
                "mean \(fmt(d.mean, 1)), p50 \(d.p50.map(String.init) ?? "-"), p99 \(d.p99.map(String.init) ?? "-")"
            }
            return [
                "file: \(file) (request trace, \(f.rawValue))",
                "requests: \(stats.count)",
                "duration: \(fmt(Double(stats.durationNs) / 1e9, 3)) s (first to last arrival)",
                "arrival rate: " + (stats.arrivalRatePerSecond.map { "\(fmt($0, 3)) requests/s" } ?? "- (fewer than 2 requests or zero duration)"),
                "input tokens: \(dist(report.inputTokens))",
                "output tokens: \(dist(report.outputTokens))",
            ].joined(separator: "\n")
        }

        func encode<T: Encodable>(_ v: T) throws -> String {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try e.encode(v), as: UTF8.self)
        }

        func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
    }
}

struct KinetoReport: Encodable {
    struct Device: Encodable {
        var id: Int, name: String, sms: Int, memoryBytes: Int64, computeCapability: String
    }
    struct Copies: Encodable {
        var kind: String, count: Int, bytes: Int64, timeUs: Double
    }
    var file: String, type: String, compression: String
    var devices: [Device]
    var kernelDevices: [Int]
    var events: Int, kernels: Int
    var streams: [Int], kernelsPerStream: [Int]
    var gpuBusyUs: Double, spanUs: Double, kernelTimeSumUs: Double
    var copies: [Copies]
    var runtimeCalls: Int, driverCalls: Int, kernelsWithoutLaunchCall: Int
}

struct RequestReport: Encodable {
    struct Tokens: Encodable { var mean: Double, p50: Int?, p99: Int? }
    var file: String, type: String, requests: Int, durationSeconds: Double
    var arrivalRatePerSecond: Double?
    var inputTokens: Tokens, outputTokens: Tokens
}
