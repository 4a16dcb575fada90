import ArgumentParser
import Experiments
import Foundation

/// `gpusim slurm CONFIG --array N`: the sbatch script of a sharded sweep.
struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Write an sbatch script that runs an experiment as a Slurm job array of N shards.",
        discussion: """
        Array task I runs `gpusim sweep CONFIG --shard I/N --resume` into its own database in the \
        output directory; when all have finished, `gpusim merge` joins them (the script's header \
        gives the exact command). The config is validated first. Paths in the script are absolute, \
        so it can be submitted from anywhere on a shared file system.
        """
    )

    @Argument(help: "The experiment file (YAML).")
    var config: String

    @Option(name: .long, help: "Number of array tasks (shards).")
    var array: Int

    @Option(name: [.short, .customLong("output")], help: "Where to write the script (default: out/<experiment>.sbatch; - for stdout).")
    var output: String?

    @Option(name: .customLong("out-dir"), help: "Directory for the shard databases and task logs (default: out/<experiment>-shards).")
    var outDir: String?

    @Option(name: .customLong("cpus-per-task"), help: "CPUs (parallel runs) per array task.")
    var cpusPerTask: Int = 1

    @Option(name: .long, help: "Time limit per task, e.g. 01:00:00.")
    var time: String?

    @Option(name: .long, help: "Slurm partition.")
    var partition: String?

    @Option(name: .customLong("sbatch-option"), help: "An extra #SBATCH option, verbatim (repeatable), e.g. --mem=4G.")
    var sbatchOptions: [String] = []

    @Option(name: .long, help: "The gpusim executable the tasks run (default: this one).")
    var gpusim: String?

    func validate() throws {
        guard array >= 1 else { throw ValidationError("--array must be at least 1, got \(array)") }
        guard cpusPerTask >= 1 else { throw ValidationError("--cpus-per-task must be at least 1, got \(cpusPerTask)") }
        if let time, time.range(of: #"^[0-9:-]+$"#, options: .regularExpression) == nil {
            throw ValidationError("--time must look like Slurm's time format, e.g. 30, 01:00:00 or 1-00:00:00; got '\(time)'")
        }
        for o in sbatchOptions where !o.hasPrefix("-") || o.contains("\n") {
            throw ValidationError("--sbatch-option must be one option starting with '-', got '\(o)'")
        }
    }

    static func executablePath() -> String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        let arg0 = CommandLine.arguments[0]
        return URL(fileURLWithPath: arg0).standardizedFileURL.path
    }

    func run() throws {
        try ExperimentCLI.reportingErrors {
            let e = try ExperimentCLI.loadExperiment(config)
            let cwd = FileManager.default.currentDirectoryPath
            func absolute(_ p: String) -> String {
                p.hasPrefix("/") ? p : URL(fileURLWithPath: cwd).appendingPathComponent(p).standardizedFileURL.path
            }
            let exe = absolute(gpusim ?? Self.executablePath())
            guard FileManager.default.isExecutableFile(atPath: exe) else {
                throw SweepError(message: "--gpusim \(exe): not an executable file")
            }
            let dir = absolute(outDir ?? "out/\(e.name)-shards")
            let script = SlurmScript(experiment: e.name, runs: e.runs.count, array: array, cpusPerTask: cpusPerTask,
                                     time: time, partition: partition, gpusim: exe, config: absolute(config),
                                     workingDirectory: cwd, outputDirectory: dir, extra: sbatchOptions)
            if array > e.runs.count {
                ExperimentCLI.stderr("warning: \(array) tasks for \(e.runs.count) run(s): \(array - e.runs.count) task(s) will have nothing to run")
            }
            let path = output ?? "out/\(e.name).sbatch"
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try ExperimentCLI.write(script.text, to: path)
            if path != "-" {
                chmod(path, 0o755)
                ExperimentCLI.stderr("""
                \(path): job array of \(array) task(s) for \(e.runs.count) run(s) of \(e.name)
                submit:  sbatch \(path)
                then:    \(script.mergeCommand)
                """)
            }
        }
    }
}
