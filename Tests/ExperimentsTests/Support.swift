import Foundation
import XCTest
@testable import Experiments
@testable import Results

/// Paths and helpers shared by the experiment tests.
enum Fixture {
    /// The repository root (three levels above this file).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let alexnet = root.appendingPathComponent("Traces/kineto/a100-alexnet.json.gz").path
    static let hardware = root.appendingPathComponent("Traces/hardware").path

    /// A fresh temporary directory.
    static func directory() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("exp-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// A replay experiment on the small AlexNet trace: `gpus` × `latencies` × policies × seeds.
    static func replayYAML(name: String = "small", gpus: [String] = ["A100-SXM4-40GB", "H100-SXM5-80GB"],
                           latencies: [Double] = [0, 5], policies: [String] = ["queued", "eager"], seeds: [Int] = [1],
                           requests: Bool = false, extra: String = "") -> String {
        """
        format: gpusim-experiment/1
        name: \(name)
        kind: replay
        hardware:
          data: \(hardware)
        workload:
          trace: \(alexnet)
        policies: [\(policies.joined(separator: ", "))]
        grid:
          cartesian:
            hardware.gpu: [\(gpus.joined(separator: ", "))]
            parameters.launch_latency_us: [\(latencies.map { String($0) }.joined(separator: ", "))]
        seeds: [\(seeds.map(String.init).joined(separator: ", "))]
        requests: \(requests)
        \(extra)
        """
    }

    static func experiment(_ yaml: String, file: String = "test.yaml") throws -> Experiment {
        try Experiment.parse(yaml: yaml, file: file, baseDirectory: root)
    }

    /// Every table of a database as text, wall-clock columns left out.
    static func dump(_ path: String) throws -> String {
        let s = try ResultsStore(path: path, mode: .readOnly)
        defer { try? s.close() }
        return try ExportTable.allCases.filter { $0 != .experiments }.map {
            try ResultsExport.string(s, table: $0, format: .csv, includeWall: false)
        }.joined(separator: "\n")
    }

    // MARK: the gpusim executable

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    static var gpusimPath: String {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("gpusim").path
        }
        return Bundle.main.bundleURL.appendingPathComponent("gpusim").path
    }

    static func gpusim(_ args: [String], cwd: URL? = nil) throws -> Output {
        guard FileManager.default.isExecutableFile(atPath: gpusimPath) else {
            XCTFail("the gpusim executable is not built at \(gpusimPath) (swift build builds it)")
            return Output(status: -1, stdout: "", stderr: "")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: gpusimPath)
        p.arguments = args
        p.currentDirectoryURL = cwd ?? root
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes concurrently so neither fills up.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}
