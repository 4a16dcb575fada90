import ArgumentParser
import Foundation
import Results

/// `gpusim export DB --csv`: raw rows.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a results table as CSV or JSON (raw rows, in key order).",
        discussion: """
        Tables: metrics (default; with each run's experiment, policy, params and seed), runs, \
        requests, experiments. --no-wall leaves out wall_seconds, the only column that differs \
        between two sweeps of the same config (so their exports compare byte for byte).
        """
    )

    @Argument(help: "The results database.")
    var database: String

    @Flag(name: .customLong("csv"), help: "CSV (the default).")
    var csv = false

    @Flag(name: .customLong("json"), help: "JSON: an array of objects.")
    var json = false

    @Option(name: .long, help: "Output format: csv or json (same as --csv / --json).")
    var format: ExportFormat?

    @Option(name: .long, help: "Table: metrics, runs, requests or experiments.")
    var table: ExportTable = .metrics

    @Option(name: .long, help: "Only this experiment's rows.")
    var experiment: String?

    @Flag(name: .customLong("no-wall"), help: "Leave out wall-clock columns.")
    var noWall = false

    @Option(name: [.short, .customLong("output")], help: "Write to this file instead of stdout.")
    var output: String?

    func validate() throws {
        let chosen = [csv ? ExportFormat.csv : nil, json ? .json : nil, format].compactMap { $0 }
        if Set(chosen).count > 1 { throw ValidationError("choose one format: --csv, --json or --format") }
    }

    func run() throws {
        let f = format ?? (json ? .json : .csv)
        try ExperimentCLI.reportingErrors {
            let store = try ResultsStore(path: database, mode: .readOnly)
            defer { try? store.close() }
            if let output, output != "-" {
                let url = URL(fileURLWithPath: output)
                let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
                FileManager.default.createFile(atPath: temp.path, contents: nil)
                guard let h = FileHandle(forWritingAtPath: temp.path) else {
                    throw ResultsError(file: output, message: "cannot write")
                }
                do {
                    try ResultsExport.write(store, table: table, format: f, includeWall: !noWall, experiment: experiment) {
                        h.write(Data($0.utf8))
                    }
                    try h.close()
                    _ = try FileManager.default.replaceItemAt(url, withItemAt: temp)
                } catch {
                    try? FileManager.default.removeItem(at: temp)
                    throw error
                }
            } else {
                var buffer = ""
                try ResultsExport.write(store, table: table, format: f, includeWall: !noWall, experiment: experiment) {
                    buffer += $0
                    if buffer.utf8.count > 1 << 16 { FileHandle.standardOutput.write(Data(buffer.utf8)); buffer = "" }
                }
                FileHandle.standardOutput.write(Data(buffer.utf8))
            }
        }
    }
}
