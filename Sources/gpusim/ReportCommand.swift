import ArgumentParser
import Experiments
import Foundation
import Results

/// `gpusim report DB`: tables by policy and parameters, mean ± 95% CI over seeds.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Tables of a results database: per experiment, grid point and policy, mean ± 95% CI over seeds.",
        discussion: """
        The interval is Student's t: mean ± t(0.975, n−1)·s/√n over the n seeds of each row (none \
        for one seed). Only successful runs count; the header gives the number of failed ones. \
        csv and json give one line per (experiment, policy, params, tenant, metric).
        """
    )

    @Argument(help: "The results database.")
    var database: String

    @Option(name: .long, help: "text, markdown, csv or json.")
    var format: ReportFormat = .text

    @Option(name: .long, help: "Only this experiment.")
    var experiment: String?

    @Option(name: .long, help: "Only these metrics, comma-separated, in this order.")
    var metrics: String?

    func run() throws {
        try ExperimentCLI.reportingErrors {
            let store = try ResultsStore(path: database, mode: .readOnly)
            defer { try? store.close() }
            let list = metrics.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            let report = try Report.build(store, experiment: experiment, metrics: list)
            if let experiment, report.runCounts[experiment] == nil {
                let names = Set(try store.runs().map(\.experiment)).sorted()
                throw SweepError(message: "\(database): no runs of experiment '\(experiment)'; it holds: \(names.isEmpty ? "none" : names.joined(separator: ", "))")
            }
            if let list, report.groups.isEmpty, !report.runCounts.isEmpty {
                throw SweepError(message: "\(database): none of the metrics \(list.joined(separator: ", ")) is in the database")
            }
            let text = report.render(format)
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
    }
}
