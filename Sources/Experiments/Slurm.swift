// The sbatch script of a sweep as a Slurm job array: task I of N runs `gpusim sweep CONFIG
// --shard I/N` into its own database; `gpusim merge` joins them afterwards.

import Foundation

public struct SlurmScript: Sendable {
    public var experiment: String
    public var runs: Int
    /// Array tasks (shards).
    public var array: Int
    public var cpusPerTask: Int
    public var time: String?
    public var partition: String?
    /// Absolute paths.
    public var gpusim: String
    public var config: String
    public var workingDirectory: String
    public var outputDirectory: String
    /// Extra `#SBATCH` options, verbatim (e.g. "--mem=4G").
    public var extra: [String] = []

    public init(experiment: String, runs: Int, array: Int, cpusPerTask: Int, time: String?, partition: String?,
                gpusim: String, config: String, workingDirectory: String, outputDirectory: String, extra: [String] = []) {
        self.experiment = experiment
        self.runs = runs
        self.array = array
        self.cpusPerTask = cpusPerTask
        self.time = time
        self.partition = partition
        self.gpusim = gpusim
        self.config = config
        self.workingDirectory = workingDirectory
        self.outputDirectory = outputDirectory
        self.extra = extra
    }

    /// Single-quoted for the shell.
    public static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// The database of shard `i` ("$I" in the script).
    public func shardDatabase(_ i: String) -> String {
        (outputDirectory as NSString).appendingPathComponent("\(experiment).shard-\(i)-of-\(array).sqlite")
    }

    public var mergeCommand: String {
        "\(Self.quote(gpusim)) merge \((outputDirectory as NSString).appendingPathComponent("\(experiment).shard-*-of-\(array).sqlite")) -o \(Self.quote((outputDirectory as NSString).appendingPathComponent("\(experiment).sqlite")))"
    }

    public var text: String {
        let q = Self.quote
        var lines = [
            "#!/bin/bash",
            "# Written by gpusim slurm: experiment \(experiment), \(runs) run(s) in \(array) array task(s).",
            "# Submit with: sbatch THIS_FILE",
            "# When every task has finished, join the shards:",
            "#   \(mergeCommand)",
            "#SBATCH --job-name=gpusim-\(experiment)",
            "#SBATCH --array=1-\(array)",
            "#SBATCH --ntasks=1",
            "#SBATCH --cpus-per-task=\(cpusPerTask)",
            "#SBATCH --output=\((outputDirectory as NSString).appendingPathComponent("slurm-%A_%a.out"))",
        ]
        if let time { lines.append("#SBATCH --time=\(time)") }
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        for e in extra { lines.append("#SBATCH \(e)") }
        let prefix = q((outputDirectory as NSString).appendingPathComponent("\(experiment).shard-"))
        let suffix = q("-of-\(array).sqlite")
        let jobs = "\"${SLURM_CPUS_PER_TASK:-\(cpusPerTask)}\""
        let shard = "\"$I/\(array)\""
        lines += [
            "set -euo pipefail",
            "cd \(q(workingDirectory))",
            "I=${SLURM_ARRAY_TASK_ID:?this script runs as a Slurm array task (sbatch), not directly}",
            "mkdir -p \(q(outputDirectory))",
            "# --resume: a requeued or restarted task keeps the runs it already committed.",
            "exec \(q(gpusim)) sweep \(q(config)) --shard \(shard) --jobs \(jobs) --resume --progress lines \\",
            "    -o \(prefix)\"$I\"\(suffix)",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
