import Foundation
import Profiles

/// The shipped profiles (Traces/profiles in this repository), loaded once for all tests.
enum Shipped {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = repoRoot.appendingPathComponent("Traces/profiles").path

    static let profiles: ProfileSet = {
        do { return try ProfileSet.load(directory: directory) } catch { fatalError("cannot load \(directory): \(error)") }
    }()

    static let model: CostModel = {
        do { return try CostModel(profiles: profiles) } catch { fatalError("cannot fit: \(error)") }
    }()

    static func vidur(_ gpu: String, _ model: String) -> String {
        "\(directory)/vidur/\(gpu)/\(model)/mlp.csv.zst"
    }
}

/// A scratch directory for files a test writes, removed when the process ends.
enum Scratch {
    static let directory: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-profiles-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    static func write(_ name: String, _ text: String) -> String {
        let url = directory.appendingPathComponent(name)
        try! Data(text.utf8).write(to: url)
        return url.path
    }
}
