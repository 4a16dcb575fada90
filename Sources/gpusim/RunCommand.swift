import ArgumentParser
import Experiments
import Foundation
import Results

extension ReportFormat: ExpressibleByArgument {}
extension ProgressMode: ExpressibleByArgument {}
extension ExportTable: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}

/// Shared plumbing of the experiment commands.
enum ExperimentCLI {
    /// Prints `error: ...` for library errors (they name the file, key path or run) and exits 1.
    static func reportingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as ExitCode {
            throw e
        } catch let e as ValidationError {
            throw e
        } catch {
            let text = String(describing: error)
            FileHandle.standardError.write(Data("error: \(text)\n".utf8))
            throw ExitCode.failure
        }
    }

    static func stderr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    static func loadExperiment(_ path: String) throws -> Experiment {
        try Experiment.load(path: path)
    }

    static func defaultDatabase(_ e: Experiment, shard: Shard? = nil) -> String {
        if let shard { return "out/\(e.name).shard-\(shard.index)-of-\(shard.count).sqlite" }
        return "out/\(e.name).sqlite"
    }

    static func validateJobs(_ jobs: Int?) throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
    }

    /// Writes text to a file atomically (temporary file, then rename), or to stdout for "-" / nil.
    static func write(_ text: String, to path: String?) throws {
        guard let path, path != "-" else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        let url = URL(fileURLWithPath: path)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw SweepError(message: "\(path): cannot write: \(error.localizedDescription)")
        }
    }

    static func summaryLine(_ s: SweepSummary, database: String) -> String {
        var t = "\(database): \(s.committed) run(s) committed"
        if s.skipped > 0 { t += ", \(s.skipped) already there" }
        if s.failed > 0 { t += ", \(s.failed) FAILED" }
        if s.infeasible > 0 { t += ", \(s.infeasible) infeasible (recorded, not run)" }
        t += " (\(s.selected) in this sweep\(s.selected != s.planned ? " of \(s.planned)" : ""), \(String(format: "%.1f", s.wallSeconds)) s)"
        return t
    }
}

/// `gpusim run CONFIG...`: every run of one or more experiments, their tables on stdout, one
/// database written.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run experiments (every policy × grid point × seed) and print their tables.",
        discussion: """
        Reads experiment files (see Docs/experiments.md), validates all of them before anything \
        runs, runs every run in parallel, writes one results database (replacing the previous one \
        of the same experiments, atomically: an interrupted run leaves the old file as it was) and \
        prints the report: mean and 95% confidence interval over seeds per policy and grid point. \
        For large grids, resumable runs and shards use `gpusim sweep`.
        """
    )

    @Argument(help: "Experiment files (YAML).")
    var configs: [String]

    @Option(name: [.short, .customLong("output")], help: "Results database (default: out/<experiment>.sqlite, or out/run.sqlite for several).")
    var output: String?

    @Option(name: .long, help: "Parallel runs (default: all cores).")
    var jobs: Int?

    @Option(name: .long, help: "Table format: text, markdown, csv or json.")
    var format: ReportFormat = .text

    @Option(name: .long, help: "Progress on stderr: auto (a bar on a terminal, log lines otherwise), bar, lines or none.")
    var progress: ProgressMode = .auto

    func validate() throws {
        try ExperimentCLI.validateJobs(jobs)
        if configs.isEmpty { throw ValidationError("give at least one experiment file") }
    }

    func run() throws {
        let (summaries, texts) = try ExperimentCLI.reportingErrors { () throws -> ([SweepSummary], [String]) in
            let experiments = try configs.map { try ExperimentCLI.loadExperiment($0) }
            let db = output ?? (experiments.count == 1 ? ExperimentCLI.defaultDatabase(experiments[0]) : "out/run.sqlite")
            var o = SweepOptions()
            if let jobs { o.jobs = jobs }
            o.progress = progress
            o.codeVersion = GPUSimVersion.string
            o.handleSignals = true
            let summaries = try Sweep.runFresh(experiments, output: db, options: o)
            if summaries.contains(where: \.interrupted) { return (summaries, []) }
            let store = try ResultsStore(path: db, mode: .readOnly)
            defer { try? store.close() }
            var texts: [String] = []
            for (e, s) in zip(experiments, summaries) {
                ExperimentCLI.stderr(ExperimentCLI.summaryLine(s, database: db) + " [\(e.name)]")
                texts.append(try Report.build(store, experiment: e.name).render(format))
            }
            return (summaries, texts)
        }
        if summaries.contains(where: \.interrupted) {
            ExperimentCLI.stderr("interrupted: nothing written (gpusim run writes its database only when every run has finished)")
            throw ExitCode(130)
        }
        for text in texts { print(text, terminator: text.hasSuffix("\n") ? "" : "\n") }
        if summaries.contains(where: { $0.failed > 0 }) { throw ExitCode.failure }
    }
}
