import ArgumentParser
import Foundation
import Experiments
import Results

/// `gpusim plot DB`: figures through the matplotlib scripts in Plots/.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw the figures of a results database with the scripts in Plots/ (Python 3 + matplotlib).",
        discussion: """
        Runs every Plots/*.py (or --script) as `python3 SCRIPT --db DB --out-dir DIR --format FMT`. \
        Each script draws the experiments it knows that the database holds and prints the files it \
        wrote. Needs matplotlib: python3 -m pip install matplotlib (or, on Debian, apt-get install \
        python3-matplotlib).
        """
    )

    @Argument(help: "The results database.")
    var database: String

    @Option(name: .customLong("out-dir"), help: "Where to write the figures.")
    var outDir: String = "out/figures"

    @Option(name: .long, help: "png, svg or pdf.")
    var format: String = "png"

    @Option(name: .long, help: "Directory of plot scripts (default: Plots/ found from the current directory upward).")
    var plots: String?

    @Option(name: .long, help: "Only this script (repeatable).")
    var script: [String] = []

    @Option(name: .long, help: "The Python interpreter.")
    var python: String = "python3"

    func validate() throws {
        guard ["png", "svg", "pdf"].contains(format) else {
            throw ValidationError("--format must be png, svg or pdf, got '\(format)'")
        }
    }

    static func findPlots() -> String? {
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL
        while true {
            let c = dir.appendingPathComponent("Plots")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: c.path, isDirectory: &isDir), isDir.boolValue { return c.path }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { return nil }
            dir = parent
        }
    }

    /// Runs a process, returning (status, stdout + stderr).
    static func execute(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func run() throws {
        try ExperimentCLI.reportingErrors {
            // The database must open as a results database before any script runs.
            let store = try ResultsStore(path: database, mode: .readOnly)
            try store.close()
            let check: (Int32, String)
            do { check = try Self.execute([python, "-c", "import matplotlib"]) } catch {
                throw SweepError(message: "cannot run \(python): \(error.localizedDescription); install Python 3 and matplotlib (python3 -m pip install matplotlib)")
            }
            guard check.0 == 0 else {
                let why = check.1.contains("No module named") ? "matplotlib is not installed for \(python)" : "\(python) cannot import matplotlib: \(check.1.suffix(300))"
                throw SweepError(message: "\(why). Install it with: \(python) -m pip install matplotlib   (Debian/Ubuntu: apt-get install python3-matplotlib)")
            }
            let scripts: [String]
            if !script.isEmpty {
                scripts = script
            } else {
                guard let dir = plots ?? Self.findPlots() else {
                    throw SweepError(message: "no Plots/ directory found from \(FileManager.default.currentDirectoryPath) upward; pass --plots DIR")
                }
                let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
                scripts = files.filter { $0.hasSuffix(".py") && !$0.hasPrefix("_") }.sorted().map { (dir as NSString).appendingPathComponent($0) }
                guard !scripts.isEmpty else { throw SweepError(message: "\(dir): no plot scripts (*.py)") }
            }
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            for s in scripts {
                let (status, out) = try Self.execute([python, s, "--db", database, "--out-dir", outDir, "--format", format])
                let text = out.trimmingCharacters(in: .whitespacesAndNewlines)
                if status != 0 { throw SweepError(message: "\(s) failed (exit \(status)):\n\(text.suffix(2000))") }
                if !text.isEmpty { print(text) }
            }
        }
    }
}
