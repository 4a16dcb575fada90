import ArgumentParser
import Experiments
import Foundation
import Results

/// `gpusim sweep CONFIG`: a grid of runs, in parallel, resumable, optionally one shard of it.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run an experiment's grid in parallel into a results database; resumable, shardable.",
        discussion: """
        Every finished run is committed in its own transaction: a sweep stopped by Ctrl-C (or \
        SIGTERM) keeps what finished, and one killed outright loses only the runs in flight. \
        --resume skips runs already in the database (failed ones run again). --shard I/N runs the \
        runs whose position in the expansion is I-1 modulo N (a Slurm array task; see gpusim slurm), \
        to be joined with gpusim merge. Progress goes to stderr.
        """
    )

    @Argument(help: "The experiment file (YAML).")
    var config: String

    @Option(name: [.short, .customLong("output")], help: "Results database (default: out/<experiment>.sqlite, or out/<experiment>.shard-I-of-N.sqlite).")
    var output: String?

    @Option(name: .long, help: "Parallel runs (default: all cores).")
    var jobs: Int?

    @Flag(name: .long, help: "Continue a sweep: skip runs already finished in the database.")
    var resume = false

    @Option(name: .long, help: "Run only shard I of N (1-based), e.g. --shard 2/8.")
    var shard: String?

    @Option(name: .long, help: "Progress on stderr: auto (a bar on a terminal, log lines otherwise), bar, lines or none.")
    var progress: ProgressMode = .auto

    @Flag(name: .long, help: "Validate and list the runs (id, policy, params, seed) without running them.")
    var dryRun = false

    func validate() throws {
        try ExperimentCLI.validateJobs(jobs)
        if let shard { do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") } }
    }

    func run() throws {
        let summary: SweepSummary? = try ExperimentCLI.reportingErrors {
            let e = try ExperimentCLI.loadExperiment(config)
            let sh = try shard.map { try Shard(parsing: $0) }
            if dryRun {
                let runs = Sweep.select(e.runs, shard: sh)
                print("experiment \(e.name) (kind \(e.kind.name)): \(e.runs.count) run(s)" + (sh.map { ", \(runs.count) in shard \($0)" } ?? ""))
                for r in runs { print("\(r.id)  policy=\(r.policy)  params=\(r.params.text)  seed=\(r.seed)") }
                return nil
            }
            let db = output ?? ExperimentCLI.defaultDatabase(e, shard: sh)
            var o = SweepOptions()
            if let jobs { o.jobs = jobs }
            o.resume = resume
            o.shard = sh
            o.progress = progress
            o.codeVersion = GPUSimVersion.string
            o.handleSignals = true
            let store = try ResultsStore(path: db, mode: .create)
            defer { try? store.close() }
            let s = try Sweep.run(e, store: store, options: o)
            ExperimentCLI.stderr(ExperimentCLI.summaryLine(s, database: db))
            return s
        }
        guard let summary else { return }
        if summary.interrupted { throw ExitCode(130) }
        if summary.failed > 0 { throw ExitCode.failure }
    }
}
