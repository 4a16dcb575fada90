// swift-tools-version: 6.1
// Performance benchmarks for gpusim (ordo-one/package-benchmark). Not tests: run in release
//   cd Benchmarks && swift package benchmark
// They live in their own package, as swift-collections keeps its benchmarks, so that the
// main package's build and tests do not pull the benchmark harness.
import PackageDescription

let package = Package(
    name: "gpusim-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "gpusim", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: [
                .product(name: "SimCore", package: "gpusim"),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/EngineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "TraceBenchmarks",
            dependencies: [
                .product(name: "Traces", package: "gpusim"),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/TraceBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "MultitaskBenchmarks",
            dependencies: [
                .product(name: "Multitask", package: "gpusim"),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/MultitaskBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "MoEBenchmarks",
            dependencies: [
                .product(name: "MoE", package: "gpusim"),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/MoEBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
