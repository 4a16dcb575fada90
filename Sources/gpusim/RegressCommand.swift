import ArgumentParser
import Experiments
import Foundation
import Results

/// `gpusim regress DB --baseline FILE`: CI regression against stored metrics.
struct RegressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "regress",
        abstract: "Compare a results database with a baseline; exit 1 on a regression.",
        discussion: """
        Each baseline entry is the mean of one metric for one (policy, params, tenant); it passes \
        when |now − baseline| ≤ abs + rel·|baseline| with the baseline file's tolerance for that \
        metric (or its "default"). A missing group or a failed run is a regression too. \
        --write-baseline FILE writes a baseline from the database instead (tolerances: the \
        simulation kind's defaults; edit them in the file).
        """
    )

    @Argument(help: "The results database.")
    var database: String

    @Option(name: .long, help: "Baseline file to compare with (JSON, gpusim-baseline/1).")
    var baseline: String?

    @Option(name: .customLong("write-baseline"), help: "Write a baseline of the database's experiment to this file.")
    var writeBaseline: String?

    @Option(name: .long, help: "The experiment (needed with --write-baseline when the database holds several).")
    var experiment: String?

    @Option(name: .long, help: "text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if (baseline == nil) == (writeBaseline == nil) {
            throw ValidationError("give exactly one of --baseline FILE (compare) and --write-baseline FILE (create)")
        }
    }

    func run() throws {
        let passed: Bool = try ExperimentCLI.reportingErrors {
            let store = try ResultsStore(path: database, mode: .readOnly)
            defer { try? store.close() }
            if let writeBaseline {
                let names = Set(try store.runs().map(\.experiment)).sorted()
                let name: String
                if let experiment { name = experiment } else {
                    guard names.count == 1 else {
                        throw SweepError(message: "\(database) holds \(names.count) experiments (\(names.joined(separator: ", "))); pass --experiment NAME")
                    }
                    name = names[0]
                }
                let b = try Baseline.from(store, experiment: name)
                try ExperimentCLI.write(b.text, to: writeBaseline)
                ExperimentCLI.stderr("\(writeBaseline): baseline of \(name), \(b.entries.count) metric value(s)")
                return true
            }
            let b = try Baseline.load(path: baseline!)
            let r = try Regression.compare(store, baseline: b, file: baseline!)
            print(format == .json ? r.json : r.text, terminator: format == .json ? "" : "\n")
            return r.passed
        }
        if !passed { throw ExitCode.failure }
    }
}
