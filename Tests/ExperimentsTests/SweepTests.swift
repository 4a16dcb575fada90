import Foundation
import XCTest
@testable import Experiments
@testable import Results

/// A test kind: metric `x` = `value` parameter × seed; policy `fail` throws; `nan` reports a NaN.
enum ArithmeticKind: SimulationKind {
    static let name = "arithmetic"
    static let summary = "test kind"
    static let policies = [PolicyInfo("ok", ""), PolicyInfo("fail", ""), PolicyInfo("nan", ""), PolicyInfo("impossible", "")]
    static let metrics = [MetricInfo("x", unit: "", "value × seed", tolerance: Tolerance(abs: 0.5, rel: 0)),
                          MetricInfo("y", unit: "", "2", tolerance: .exact)]

    static func resolve(_ spec: RunSpec, context: KindContext) throws -> CanonicalJSON {
        let p = try ConfigMap(spec.parameters, file: spec.file)
        try p.expectKeys(["value"])
        let v = try p.double(try p.required("value", "a number"))
        return .object(["value": .double(v)!, "policy": .string(spec.policy)])
    }

    static func run(config: CanonicalJSON, seed: UInt64, options: RunOptions, context: KindContext) throws -> RunOutput {
        let v = config["value"]!.doubleValue!
        switch config["policy"]!.stringValue! {
        case "fail": throw KindRunError(message: "failing on purpose")
        case "impossible": throw RunInfeasible(reason: "cannot exist")
        case "nan": return RunOutput(metrics: [MetricRow(tenant: "all", name: "x", value: .nan)])
        default:
            return RunOutput(metrics: [MetricRow(tenant: "all", name: "x", value: v * Double(seed)),
                                       MetricRow(tenant: "all", name: "y", value: 2)],
                             requests: options.requests ? [RequestRow(tenant: "all", request: 0, finishNs: Int64(seed))] : [])
        }
    }

    static func yaml(policies: String = "[ok]", values: String = "[1, 2]", seeds: String = "[1, 2, 3, 4, 5]") -> String {
        """
        format: gpusim-experiment/1
        name: arith
        kind: arithmetic
        parameters: {value: 1}
        policies: \(policies)
        grid: {cartesian: {parameters.value: \(values)}}
        seeds: \(seeds)
        """
    }

    static func experiment(_ yaml: String) throws -> Experiment {
        try Experiment.parse(yaml: yaml, file: "arith.yaml", baseDirectory: Fixture.root, kinds: [ArithmeticKind.self])
    }
}

final class SweepTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try Fixture.directory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }
    func db(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func sweep(_ e: Experiment, _ path: String, jobs: Int, resume: Bool = false, shard: Shard? = nil) throws -> SweepSummary {
        let store = try ResultsStore(path: path, mode: .create)
        defer { try? store.close() }
        var o = SweepOptions()
        o.jobs = jobs
        o.resume = resume
        o.shard = shard
        o.progress = .none
        o.codeVersion = "test"
        return try Sweep.run(e, store: store, options: o, log: { _ in })
    }

    /// 20 replay runs of the AlexNet trace, with per-kernel rows: the same database content
    /// (wall-clock column aside) with 1 and with 2 jobs.
    func testOneAndTwoJobsGiveIdenticalResults() throws {
        let e = try Fixture.experiment(Fixture.replayYAML(gpus: ["A100-SXM4-40GB", "A100-SXM4-80GB", "H100-SXM5-80GB", "H200", "RTX-3090"],
                                                          latencies: [0, 20], policies: ["queued", "eager"], requests: true))
        XCTAssertEqual(e.runs.count, 20)
        let s1 = try sweep(e, db("j1.sqlite"), jobs: 1)
        let s2 = try sweep(e, db("j2.sqlite"), jobs: 2)
        XCTAssertEqual(s1.committed, 20)
        XCTAssertEqual(s2.committed, 20)
        XCTAssertEqual(s1.failed + s2.failed, 0)
        let a = try Fixture.dump(db("j1.sqlite")), b = try Fixture.dump(db("j2.sqlite"))
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.split(separator: "\n").count, (1 + 20) + (1 + 20 * 12) + (1 + 20 * 79), "runs, metrics and 79 kernel rows per run, with headers")
        // The replay matches the measurement on the recording's GPU class (a sanity check of the wiring).
        let store = try ResultsStore(path: db("j2.sqlite"), mode: .readOnly)
        let report = try Report.build(store, metrics: ["kernels", "busy_error_pct"])
        XCTAssertEqual(Set(report.groups.filter { $0.metric == "kernels" }.map(\.mean)), [79])
        for g in report.groups where g.metric == "busy_error_pct" { XCTAssertLessThan(abs(g.mean), 1.0, "\(g.params.text)") }
    }

    func testResumeSkipsFinishedRunsAndRefusesWithoutTheFlag() throws {
        let e = try ArithmeticKind.experiment(ArithmeticKind.yaml())
        let path = db("r.sqlite")
        let first = try sweep(e, path, jobs: 2, shard: try Shard(index: 1, count: 3))
        XCTAssertEqual(first.committed, 4, "ordinals 0, 3, 6, 9")
        XCTAssertThrowsError(try sweep(e, path, jobs: 2)) { err in
            XCTAssertTrue("\(err)".contains("--resume"), "\(err)")
        }
        let rest = try sweep(e, path, jobs: 2, resume: true)
        XCTAssertEqual(rest.skipped, 4)
        XCTAssertEqual(rest.committed, 6)
        let again = try sweep(e, path, jobs: 2, resume: true)
        XCTAssertEqual(again.committed, 0)
        XCTAssertEqual(try sweep(e, db("full.sqlite"), jobs: 1).committed, 10)
        XCTAssertEqual(try Fixture.dump(path), try Fixture.dump(db("full.sqlite")))
    }

    func testShardsMergeIntoTheFullSweep() throws {
        let e = try ArithmeticKind.experiment(ArithmeticKind.yaml(values: "[1, 2, 3]"))
        var shards: [String] = []
        for i in 1...4 {
            shards.append(db("s\(i).sqlite"))
            _ = try sweep(e, shards.last!, jobs: 1, shard: try Shard(index: i, count: 4))
        }
        _ = try sweep(e, db("full.sqlite"), jobs: 2)
        _ = try ResultsStore.merge(inputs: shards.reversed(), output: db("merged.sqlite"))
        XCTAssertEqual(try Fixture.dump(db("merged.sqlite")), try Fixture.dump(db("full.sqlite")))
    }

    func testFailedRunsAreRecordedAndRetriedOnResume() throws {
        let e = try ArithmeticKind.experiment(ArithmeticKind.yaml(policies: "[ok, fail, nan, impossible]", values: "[1]", seeds: "[1]"))
        let path = db("f.sqlite")
        let s = try sweep(e, path, jobs: 2)
        XCTAssertEqual(s.committed, 4)
        XCTAssertEqual(s.failed, 2)
        XCTAssertEqual(s.infeasible, 1)
        let store = try ResultsStore(path: path, mode: .readOnly)
        let runs = try store.runs()
        XCTAssertEqual(runs.map(\.status), [.ok, .failed, .failed, .infeasible])
        XCTAssertEqual(runs[3].error, "cannot exist")
        XCTAssertTrue(try Report.build(store).render(.text).contains("1 run(s) ok, 2 failed, 1 infeasible (not run)"))
        XCTAssertEqual(runs[1].error, "failing on purpose")
        XCTAssertTrue(runs[2].error?.contains("not finite") ?? false, runs[2].error ?? "")
        XCTAssertEqual(try store.metrics(run: runs[1].id), [])
        try store.close()
        let again = try sweep(e, path, jobs: 1, resume: true)
        XCTAssertEqual(again.skipped, 2, "ok and infeasible runs are final")
        XCTAssertEqual(again.committed, 2, "failed runs run again")
        XCTAssertEqual(try ResultsStore(path: path, mode: .readOnly).counts().runs, 4)
    }

    /// Mean and 95% interval over seeds: x = value × seed for seeds 1...5 → for value 1, mean 3,
    /// s = √2.5, half-width t(0.975, 4)·s/√5 = 2.7764 · 1.581139 / 2.236068 = 1.963211.
    func testReportMeanAndConfidenceInterval() throws {
        let e = try ArithmeticKind.experiment(ArithmeticKind.yaml())
        _ = try sweep(e, db("c.sqlite"), jobs: 2)
        let store = try ResultsStore(path: db("c.sqlite"), mode: .readOnly)
        let report = try Report.build(store)
        let x1 = try XCTUnwrap(report.groups.first { $0.metric == "x" && $0.params["parameters.value"]?.text == "1" })
        XCTAssertEqual(x1.n, 5)
        XCTAssertEqual(x1.mean, 3, accuracy: 1e-12)
        XCTAssertEqual(x1.stddev, 2.5.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(x1.ci95!, 1.963211, accuracy: 1e-6)
        let y = try XCTUnwrap(report.groups.first { $0.metric == "y" })
        XCTAssertEqual(y.ci95!, 0, accuracy: 0)
        let text = report.render(.text)
        XCTAssertTrue(text.contains("3.00000 ± 1.96321"), text)
        XCTAssertTrue(text.contains("6.00000 ± 3.92642"), text)
        let md = report.render(.markdown)
        XCTAssertTrue(md.contains("| value | policy | x | y |"), md)
        let csv = report.render(.csv).split(separator: "\n")
        XCTAssertEqual(csv[0], "experiment,policy,parameters.value,params,tenant,metric,n,mean,stddev,ci95_halfwidth,ci95_low,ci95_high")
        XCTAssertEqual(csv.count, 1 + 4)
        let json = try JSONSerialization.jsonObject(with: Data(report.render(.json).utf8)) as? [[String: Any]]
        XCTAssertEqual(json?.count, 4)
    }

    func testStudentTQuantiles() {
        // Standard table values of t(0.975, df).
        XCTAssertEqual(Statistics.t975(degreesOfFreedom: 1), 12.706, accuracy: 1e-3)
        XCTAssertEqual(Statistics.t975(degreesOfFreedom: 4), 2.776, accuracy: 1e-3)
        XCTAssertEqual(Statistics.t975(degreesOfFreedom: 30), 2.042, accuracy: 1e-3)
        XCTAssertEqual(Statistics.t975(degreesOfFreedom: 60), 2.000, accuracy: 1e-3)
        XCTAssertEqual(Statistics.t975(degreesOfFreedom: 45), 2.014, accuracy: 2e-3)
        XCTAssertEqual(Statistics.t975(degreesOfFreedom: 1_000_000), 1.960, accuracy: 1e-3)
    }

    // MARK: regression

    func testRegressCatchesAPerturbedBaselineAndPassesTheOriginal() throws {
        let e = try ArithmeticKind.experiment(ArithmeticKind.yaml())
        _ = try sweep(e, db("g.sqlite"), jobs: 2)
        let store = try ResultsStore(path: db("g.sqlite"), mode: .readOnly)
        let baseline = try Baseline.from(store, experiment: "arith", kinds: [ArithmeticKind.self])
        XCTAssertEqual(baseline.entries.count, 4)
        XCTAssertEqual(baseline.tolerance(for: "x"), Tolerance(abs: 0.5, rel: 0), "the kind's tolerance")
        // Through its file text, as CI reads it.
        let reread = try Baseline.parse(baseline.text, file: "b.json")
        XCTAssertEqual(reread, baseline)
        XCTAssertTrue(try Regression.compare(store, baseline: reread, file: "b.json").passed)

        // x for value 2 is 6 (mean of 2,4,6,8,10); moved by 0.4 it is within ±0.5, by 0.6 not.
        func perturbed(_ delta: Double) -> Baseline {
            var b = reread
            let i = b.entries.firstIndex { $0.metric == "x" && $0.params["parameters.value"]?.text == "2" }!
            XCTAssertEqual(b.entries[i].mean, 6)
            b.entries[i].mean += delta
            return b
        }
        XCTAssertTrue(try Regression.compare(store, baseline: perturbed(0.4), file: "b.json").passed)
        let r = try Regression.compare(store, baseline: perturbed(0.6), file: "b.json")
        XCTAssertFalse(r.passed)
        XCTAssertEqual(r.regressions.count, 1)
        XCTAssertTrue(r.text.contains("REGRESSION  x  [value=2 policy=ok]"), r.text)
        XCTAssertTrue(r.text.contains("baseline 6.6") && r.text.contains("now 6") && r.text.contains("result: FAIL"), r.text)

        // An entry the database lacks is a regression too.
        var missing = reread
        missing.entries.append(Baseline.Entry(policy: "ok", params: .object(["parameters.value": .int(9)]), tenant: "all", metric: "x", mean: 1, n: 5))
        let m = try Regression.compare(store, baseline: missing, file: "b.json")
        XCTAssertFalse(m.passed)
        XCTAssertTrue(m.text.contains("MISSING"), m.text)
    }

    func testBadBaselinesAreNamed() {
        let cases: [(String, String)] = [
            ("{", "not valid JSON"),
            (#"{"format":"gpusim-baseline/2","experiment":"a","tolerances":{},"entries":[]}"#, "format"),
            (#"{"format":"gpusim-baseline/1","experiment":"a","tolerances":{},"entries":[{"policy":"p"}]}"#, "entries[0].params"),
            (#"{"format":"gpusim-baseline/1","experiment":"a","tolerances":{"x":{"abs":-1}},"entries":[]}"#, "tolerances.x"),
            (#"{"format":"gpusim-baseline/1","experiment":"a","tolerances":{},"entries":[],"extra":1}"#, "extra: unknown key"),
        ]
        for (text, words) in cases {
            XCTAssertThrowsError(try Baseline.parse(text, file: "base.json")) { e in
                XCTAssertTrue("\(e)".hasPrefix("base.json") && "\(e)".contains(words), "\(e)")
            }
        }
    }

    // MARK: timeline

    func testTimelineHasEveryKernelAndCopyOnItsTrack() throws {
        let e = try Fixture.experiment(Fixture.replayYAML(gpus: ["A100-SXM4-40GB"], latencies: [5], policies: ["queued"], requests: true))
        let (f, events) = Sweep.execute(e, e.runs[0], codeVersion: "test", timeline: true)
        XCTAssertEqual(f.run.status, .ok)
        XCTAssertEqual(events.filter { $0.category == "kernel" }.count, 79)
        XCTAssertEqual(events.filter { $0.category != "kernel" }.count, 16 + 3, "16 HtoD copies and 3 memsets")
        // Kernel bars agree with the per-kernel rows of the same run.
        let kernels = events.filter { $0.category == "kernel" }.sorted { $0.args["trace_index"]!.intValue! < $1.args["trace_index"]!.intValue! }
        XCTAssertEqual(kernels.map(\.startNs), f.requests.map { $0.startNs! })
        XCTAssertEqual(kernels.map(\.endNs), f.requests.map { $0.finishNs! })
        XCTAssertEqual(Set(events.filter { $0.category == "kernel" }.map(\.track.thread)), ["stream 7", "stream 20"])
        XCTAssertEqual(Set(events.filter { $0.category == "copy" }.map(\.track.thread)), ["PCIe host→device"])

        let text = TimelineWriter.json(events, metadata: ["run": .string(f.run.id)])
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let trace = try XCTUnwrap(obj["traceEvents"] as? [[String: Any]])
        let complete = trace.filter { $0["ph"] as? String == "X" }
        XCTAssertEqual(complete.count, 98)
        for ev in complete {
            XCTAssertGreaterThanOrEqual(ev["dur"] as? Double ?? -1, 0)
            XCTAssertNotNil(ev["ts"] as? Double)
        }
        let names = trace.filter { $0["ph"] as? String == "M" && $0["name"] as? String == "thread_name" }
            .compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        XCTAssertEqual(Set(names), ["stream 7", "stream 20", "PCIe host→device", "HBM memset"])
        XCTAssertEqual(TimelineWriter.microseconds(1_234_567), "1234.567")
        XCTAssertEqual(TimelineWriter.microseconds(5), "0.005")
    }

    func testSlurmScriptRunsItsShard() throws {
        let s = SlurmScript(experiment: "exp", runs: 10, array: 4, cpusPerTask: 2, time: "00:10:00", partition: nil,
                            gpusim: "/opt/it's/gpusim", config: "/cfg/e.yaml", workingDirectory: "/work", outputDirectory: "/out",
                            extra: ["--mem=1G"])
        let t = s.text
        XCTAssertTrue(t.hasPrefix("#!/bin/bash\n"))
        for line in ["#SBATCH --array=1-4", "#SBATCH --cpus-per-task=2", "#SBATCH --time=00:10:00", "#SBATCH --mem=1G",
                     "#SBATCH --output=/out/slurm-%A_%a.out", "cd '/work'",
                     #"exec '/opt/it'\''s/gpusim' sweep '/cfg/e.yaml' --shard "$I/4" --jobs "${SLURM_CPUS_PER_TASK:-2}" --resume --progress lines \"#,
                     #"    -o '/out/exp.shard-'"$I"'-of-4.sqlite'"#] {
            XCTAssertTrue(t.contains(line + "\n"), "missing: \(line)\n\(t)")
        }
        XCTAssertFalse(t.contains("--partition"))
        // The script's command line, run by bash with a stand-in gpusim, passes the right arguments.
        let dir = try Fixture.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fake = dir.appendingPathComponent("gpusim")
        try "#!/bin/bash\nprintf '%s\\n' \"$@\" > \(dir.path)/args.txt\n".write(to: fake, atomically: true, encoding: .utf8)
        chmod(fake.path, 0o755)
        let local = SlurmScript(experiment: "exp", runs: 10, array: 4, cpusPerTask: 2, time: nil, partition: nil, gpusim: fake.path,
                                config: "/cfg/e.yaml", workingDirectory: dir.path, outputDirectory: dir.appendingPathComponent("o").path)
        let script = dir.appendingPathComponent("job.sbatch")
        try local.text.write(to: script, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script.path]
        p.environment = ["SLURM_ARRAY_TASK_ID": "3", "PATH": "/usr/bin:/bin"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let args = try String(contentsOf: dir.appendingPathComponent("args.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(args, ["sweep", "/cfg/e.yaml", "--shard", "3/4", "--jobs", "2", "--resume", "--progress", "lines",
                              "-o", dir.appendingPathComponent("o/exp.shard-3-of-4.sqlite").path])
    }
}
