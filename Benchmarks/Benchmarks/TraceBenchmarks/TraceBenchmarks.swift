import Benchmark
import Foundation
import Traces

/// Reading speed of the streaming Kineto reader on the shipped A100 training trace
/// (1.4 MB gzip, 25.8 MB of JSON): MB/s = 25.8 × iterations per second.
let benchmarks: @Sendable () -> Void = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let path = root.appendingPathComponent("Traces/kineto/a100-80gb-training-rank0.json.gz").path

    Benchmark("kineto read a100-80gb-training-rank0.json.gz (25.8 MB JSON)",
              configuration: .init(metrics: [.wallClock, .throughput, .peakMemoryResident, .mallocCountTotal],
                                   scalingFactor: .one, maxDuration: .seconds(10), maxIterations: 20)) { benchmark in
        var kernels = 0
        _ = try KinetoReader(path: path).read { record in
            if case .kernel = record { kernels += 1 }
        }
        blackHole(kernels)
    }

    Benchmark("kineto stats a100-80gb-training-rank0.json.gz (busy time, streams, copies)",
              configuration: .init(metrics: [.wallClock, .throughput, .peakMemoryResident],
                                   scalingFactor: .one, maxDuration: .seconds(10), maxIterations: 20)) { benchmark in
        var stats = KinetoStats()
        _ = try KinetoReader(path: path).read { stats.add($0) }
        blackHole(stats.gpuBusyNs())
    }
}
