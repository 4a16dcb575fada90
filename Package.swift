// swift-tools-version: 6.1
// gpusim: a trace-driven discrete-event simulator for GPU multitasking and MoE expert offloading.
// Layout and module rules: see README.md ("Layout"); dependencies point down the module list only.
import PackageDescription

let package = Package(
    name: "gpusim",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "gpusim", targets: ["gpusim"]),
        .executable(name: "gpusim-calibrate", targets: ["gpusim-calibrate"]),
        .library(name: "SimCore", targets: ["SimCore"]),
        .library(name: "Traces", targets: ["Traces"]),
        .library(name: "Tenancy", targets: ["Tenancy"]),
        .library(name: "Multitask", targets: ["Multitask"]),
        .library(name: "MoE", targets: ["MoE"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // System libraries (Debian: libsqlite3-dev, libzstd-dev).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // Simulation core: time, events, randomness, fluid sharing, statistics. No GPU words here.
        .target(
            name: "SimCore",
            dependencies: [.product(name: "Histogram", package: "hdrhistogram-swift")]
        ),

        // Trace formats: streaming readers (plain, zstd, gzip), Kineto import, request traces.
        .target(name: "Traces", dependencies: ["CZstd", "CZlib"]),

        // GPUs, links, copy engines, MIG geometry and the kernel cost model, on SimCore's fluid solver.
        .target(name: "Hardware", dependencies: ["SimCore", "Traces", .product(name: "Yams", package: "Yams")]),

        // Measured cost tables (Vidur profiles, calibration files): load, interpolate, fit, validate.
        .target(name: "Profiles", dependencies: ["Traces"]),

        // Tenants of a shared GPU: the tenant protocol and the shared-GPU engine both Multitask and MoE build on.
        .target(name: "Tenancy", dependencies: ["SimCore", "Hardware"]),

        // GPU multitasking: tenants (inference, training, replay) and the sharing policies.
        .target(name: "Multitask", dependencies: ["SimCore", "Traces", "Hardware", "Profiles", "Tenancy",
                                                  .product(name: "Yams", package: "Yams")]),

        // MoE expert offloading: model configs, routing traces, serving loop, offload policies.
        .target(name: "MoE", dependencies: ["SimCore", "Traces", "Hardware", "Profiles", .product(name: "Yams", package: "Yams")]),

        // SQLite results store (GRDB).
        .target(name: "Results", dependencies: [.product(name: "GRDB", package: "GRDB.swift")]),

        // Experiment configs, sweep expansion, parallel resumable runner, reports, regression.
        .target(name: "Experiments", dependencies: ["SimCore", "Traces", "Hardware", "Profiles", "Tenancy", "Multitask", "MoE", "Results",
                                                    .product(name: "Yams", package: "Yams")]),

        // The CUDA driver API, NVRTC and cuBLAS, loaded with dlopen at run time (no link-time CUDA).
        .target(name: "CUDADriver", path: "Sources/CUDADriver", linkerSettings: [.linkedLibrary("dl")]),

        // Real-GPU calibration: measurements through CUDADriver, written in the calibration format.
        .target(name: "Calibrate", dependencies: ["CUDADriver", "Profiles"]),
        .executableTarget(
            name: "gpusim-calibrate",
            dependencies: ["Calibrate", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // The command-line tool: a thin layer over the library modules.
        .executableTarget(
            name: "gpusim",
            dependencies: [
                "SimCore", "Traces", "Hardware", "Profiles", "Tenancy", "Multitask", "MoE", "Results", "Experiments",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "SimCoreTests", dependencies: ["SimCore"]),
        .testTarget(name: "TracesTests", dependencies: ["Traces"], resources: [.copy("Fixtures")]),
        .testTarget(name: "HardwareTests", dependencies: ["Hardware"]),
        .testTarget(name: "ProfilesTests", dependencies: ["Profiles"]),
        .testTarget(name: "CalibrateTests", dependencies: ["Calibrate"]),
        .testTarget(name: "MultitaskTests", dependencies: ["Multitask", "Tenancy", "Hardware", "SimCore"]),
        .testTarget(name: "MoETests", dependencies: ["MoE"]),
        .testTarget(name: "ResultsTests", dependencies: ["Results"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments"]),
        .testTarget(name: "gpusimTests", dependencies: ["gpusim"]),
    ]
)
