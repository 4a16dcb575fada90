import ArgumentParser

/// The `gpusim` command: a thin layer over the library modules.
@main
struct GPUSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpusim",
        abstract: "A trace-driven discrete-event simulator for GPU multitasking and MoE expert offloading.",
        discussion: """
        Examples:
          gpusim bench engine --events 10000000 --pending 100000
          gpusim trace inspect Traces/kineto/a100-alexnet.json.gz
        """,
        version: GPUSimVersion.string,
        subcommands: [BenchCommand.self, TraceCommand.self, ProfileCommand.self, MultitaskCommand.self, RunCommand.self, SweepCommand.self, MergeCommand.self, ReportCommand.self, ExportCommand.self, PlotCommand.self, RegressCommand.self, SlurmCommand.self, TimelineCommand.self, MoECommand.self]
    )
}

enum GPUSimVersion {
    static let string = "0.1.0"
}
