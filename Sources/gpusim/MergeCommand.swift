import ArgumentParser
import Foundation
import Results

/// `gpusim merge A.sqlite B.sqlite ... -o all.sqlite`.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join results databases (e.g. the shards of a Slurm sweep) into one.",
        discussion: """
        Each run appears once in the output. A run present in several inputs must agree everywhere \
        but in wall time and code version; a conflicting duplicate is an error naming the run and \
        both files, and then nothing is written. A failed run is replaced by a successful copy.
        """
    )

    @Argument(help: "Input databases.")
    var inputs: [String]

    @Option(name: [.short, .customLong("output")], help: "The merged database (must not exist unless --force).")
    var output: String

    @Flag(name: .long, help: "Replace the output if it exists.")
    var force = false

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one input database") }
    }

    func run() throws {
        try ExperimentCLI.reportingErrors {
            let s = try ResultsStore.merge(inputs: inputs, output: output, replace: force)
            var t = "\(output): \(s.runs) run(s) from \(inputs.count) database(s)"
            if s.duplicates > 0 { t += ", \(s.duplicates) identical duplicate(s) skipped" }
            if s.replacedFailures > 0 { t += ", \(s.replacedFailures) failed run(s) replaced by a successful copy" }
            if s.codeVersionMismatches > 0 { t += ", \(s.codeVersionMismatches) run(s) written by different gpusim versions (identical results)" }
            ExperimentCLI.stderr(t)
        }
    }
}
