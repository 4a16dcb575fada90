import ArgumentParser
import Experiments
import Foundation
import Results

/// `gpusim timeline RUN -o run.json`: Chrome/Perfetto trace of one simulated run.
struct TimelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "Write the simulated GPU's timeline of one run as Chrome/Perfetto trace-event JSON.",
        discussion: """
        RUN is a run id (or a unique prefix of one, at least 4 characters) of an experiment, found \
        through --config (the experiment file) or --db (a results database, whose recorded config \
        file is read). The run is simulated again — runs are deterministic — with every kernel and \
        copy recorded: kernels per tenant and SM partition (one row per stream), copies per link \
        direction. Open the file in https://ui.perfetto.dev or chrome://tracing.
        """
    )

    @Argument(help: "Run id or unique prefix (see gpusim sweep --dry-run, or gpusim export --table runs).")
    var runID: String

    @Option(name: .long, help: "The experiment file the run belongs to.")
    var config: String?

    @Option(name: .long, help: "A results database holding the run (its experiment's config file is read again).")
    var db: String?

    @Option(name: [.short, .customLong("output")], help: "The trace file to write (.json).")
    var output: String

    func validate() throws {
        if config == nil && db == nil { throw ValidationError("give --config FILE or --db DATABASE to find the run") }
        if runID.count < 4 { throw ValidationError("RUN must be a run id or a prefix of at least 4 characters, got '\(runID)'") }
    }

    func run() throws {
        try ExperimentCLI.reportingErrors {
            var stored: RunRecord? = nil
            var storedMetrics: [MetricRow] = []
            var configPaths: [String] = []
            if let config { configPaths = [config] }
            if let db {
                let store = try ResultsStore(path: db, mode: .readOnly)
                defer { try? store.close() }
                let ids = try store.runIDs(withPrefix: runID)
                guard ids.count == 1 else {
                    throw SweepError(message: ids.isEmpty ? "\(db): no run with id \(runID)..." : "\(db): '\(runID)' matches \(ids.count) runs (\(ids.prefix(5).joined(separator: ", "))...); give more characters")
                }
                stored = try store.run(id: ids[0])
                storedMetrics = try store.metrics(run: ids[0])
                if config == nil {
                    configPaths = try store.experiments().filter { $0.name == stored!.experiment }.map(\.configPath)
                }
            }
            var lastError: Error? = nil
            for path in configPaths {
                let e: Experiment
                do { e = try ExperimentCLI.loadExperiment(path) } catch { lastError = error; continue }
                let matches = e.runs.filter { $0.id.hasPrefix(stored?.id ?? runID) }
                if matches.count > 1 {
                    throw SweepError(message: "'\(runID)' matches \(matches.count) runs of \(path); give more characters")
                }
                guard let p = matches.first else { continue }
                let (f, events) = Sweep.execute(e, p, codeVersion: GPUSimVersion.string, timeline: true)
                guard f.run.status == .ok else { throw SweepError(message: "run \(p.id) \(f.run.status.rawValue): \(f.run.error ?? "")") }
                guard !events.isEmpty else {
                    throw SweepError(message: "run \(p.id) produced no timeline events: the \(e.kind.name) kind does not record them yet (the replay kind does); nothing written")
                }
                if stored != nil, f.metrics != storedMetrics {
                    ExperimentCLI.stderr("warning: the run's metrics now differ from the stored ones (the simulator changed since the database was written)")
                }
                let meta: [String: CanonicalJSON] = [
                    "run": .string(p.id), "experiment": .string(e.name), "kind": .string(e.kind.name), "policy": .string(p.policy),
                    "params": p.params, "seed": .int(p.seed), "gpusim": .string(GPUSimVersion.string),
                ]
                try ExperimentCLI.write(TimelineWriter.json(events, metadata: meta), to: output)
                let tracks = Set(events.map(\.track)).count
                ExperimentCLI.stderr("\(output): \(events.count) event(s) on \(tracks) track(s) of run \(p.id) (\(e.name), policy \(p.policy), params \(p.params.text), seed \(p.seed)); open it in https://ui.perfetto.dev")
                return
            }
            if let lastError, configPaths.count == 1 { throw lastError }
            throw SweepError(message: "no run with id \(runID)... in \(configPaths.isEmpty ? "the database's recorded configs (none found)" : configPaths.joined(separator: ", "))"
                             + (db != nil && config == nil ? "; the recorded config may have moved or changed: pass --config FILE" : ""))
        }
    }
}
