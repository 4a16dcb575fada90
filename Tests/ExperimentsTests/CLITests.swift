import Foundation
import XCTest
@testable import Experiments
@testable import Results

/// The experiment commands, run as a user runs them (the built gpusim executable).
final class ExperimentCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try Fixture.directory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func writeConfig(_ yaml: String, _ name: String = "exp.yaml") throws -> String {
        let p = path(name)
        try yaml.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func testRunPrintsItsTableAndWritesItsDatabase() throws {
        let cfg = try writeConfig(Fixture.replayYAML(name: "quick", gpus: ["A100-SXM4-40GB", "H100-SXM5-80GB"], latencies: [5]))
        let db = path("out/quick.sqlite")
        let r = try Fixture.gpusim(["run", cfg, "-o", db, "--jobs", "2", "--progress", "none"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertTrue(lines[0].hasPrefix("experiment quick: 4 run(s) ok, 0 failed"), r.stdout)
        XCTAssertTrue(lines[1].hasPrefix("gpu ") && lines[1].contains("policy") && lines[1].contains("busy_error_pct"), r.stdout)
        XCTAssertEqual(lines.filter { $0.hasPrefix("A100-SXM4-40GB") || $0.hasPrefix("H100-SXM5-80GB") }.count, 4, r.stdout)
        XCTAssertTrue(r.stderr.contains("4 run(s) committed"), r.stderr)
        // Run again: the database is replaced (not appended to, not refused).
        let again = try Fixture.gpusim(["run", cfg, "-o", db, "--format", "csv", "--progress", "none"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.hasPrefix("experiment,policy,hardware.gpu,parameters.launch_latency_us,params,tenant,metric,n,mean"), again.stdout)
        XCTAssertEqual(try ResultsStore(path: db, mode: .readOnly).counts().runs, 4)
        // It refuses to replace a database holding another experiment.
        let other = try writeConfig(Fixture.replayYAML(name: "other", gpus: ["H200"], latencies: [5], policies: ["queued"]), "other.yaml")
        let refused = try Fixture.gpusim(["run", other, "-o", db, "--progress", "none"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("other experiments (quick)"), refused.stderr)
    }

    /// Bad configs through the CLI: the error names the key path, and no database is created
    /// (or an existing one is left byte for byte as it was).
    func testBadConfigWritesNothing() throws {
        let good = try writeConfig(Fixture.replayYAML(gpus: ["A100-SXM4-40GB"], latencies: [5], policies: ["queued"]), "good.yaml")
        let existing = path("existing.sqlite")
        XCTAssertEqual(try Fixture.gpusim(["sweep", good, "-o", existing, "--progress", "none"]).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: existing))
        let yaml = Fixture.replayYAML(gpus: ["A100-SXM4-40GB"], latencies: [5], policies: ["queued"])
        let cases: [(String, String)] = [
            (yaml + "\nunknown_key: 1", "unknown_key: unknown key"),
            (yaml.replacingOccurrences(of: "seeds: [1]", with: "seeds: [x]"), "seeds[0]: expected a seed"),
            (yaml.replacingOccurrences(of: "[A100-SXM4-40GB]", with: "[]"), "grid.cartesian.hardware.gpu: empty grid axis"),
            (yaml.replacingOccurrences(of: "[queued]", with: "[sjf]"), "policies[0]: unknown policy 'sjf'"),
            (yaml.replacingOccurrences(of: Fixture.alexnet, with: path("missing.json.gz")), "workload.trace: unreadable trace"),
        ]
        for (i, (text, expected)) in cases.enumerated() {
            let cfg = try writeConfig(text, "bad\(i).yaml")
            for db in [path("new\(i).sqlite"), existing] {
                let r = try Fixture.gpusim(["sweep", cfg, "-o", db, "--resume", "--progress", "none"])
                XCTAssertEqual(r.status, 1, r.stderr)
                XCTAssertTrue(r.stderr.contains("error: \(cfg): \(expected)"), "expected '\(expected)' in: \(r.stderr)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("new\(i).sqlite")))
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: existing)), before)
        }
        let noFile = try Fixture.gpusim(["run", path("nope.yaml")])
        XCTAssertNotEqual(noFile.status, 0)
        XCTAssertTrue(noFile.stderr.contains("nope.yaml: no such file"), noFile.stderr)
    }

    /// kill -9 at random moments, resume each time, and compare with an uninterrupted sweep.
    func testKillNineAndResumeLosesAndDuplicatesNothing() throws {
        let cfg = try writeConfig(Fixture.replayYAML(name: "killed", gpus: ["A100-SXM4-40GB", "A100-SXM4-80GB", "H100-SXM5-80GB", "H200", "RTX-3090"],
                                                     latencies: (0..<20).map(Double.init), policies: ["queued", "anchored", "eager"], requests: true))
        let reference = path("reference.sqlite")
        let clock = ContinuousClock()
        let t0 = clock.now
        let r = try Fixture.gpusim(["sweep", cfg, "-o", reference, "--jobs", "2", "--progress", "none"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Kill moments scale with how long a whole sweep takes here (never asserted on).
        let whole = clock.now - t0
        let wholeMicroseconds = UInt64(whole.components.seconds) * 1_000_000 + UInt64(whole.components.attoseconds / 1_000_000_000_000)

        let db = path("killed.sqlite")
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15  // fixed seed: the same kill schedule every time
        func nextDelay() -> UInt32 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let span = max(wholeMicroseconds * 3 / 10, 1)
            return UInt32(clamping: wholeMicroseconds / 5 + (rng >> 33) % span)  // 20–50% of a whole sweep
        }
        var committedAtKill: [Int] = []
        var finishedOnItsOwn = false
        for _ in 0..<20 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Fixture.gpusimPath)
            p.arguments = ["sweep", cfg, "-o", db, "--resume", "--jobs", "2", "--progress", "none"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(nextDelay())
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                XCTAssertEqual(p.terminationReason, .uncaughtSignal)
            } else {
                p.waitUntilExit()
                XCTAssertEqual(p.terminationStatus, 0)
                finishedOnItsOwn = true
            }
            if FileManager.default.fileExists(atPath: db) {
                let s = try ResultsStore(path: db, mode: .readOnly)
                XCTAssertEqual(try s.integrityCheck(), "ok")
                // Whole runs only: every run has its 12 metrics and 79 kernel rows.
                let c = try s.counts()
                XCTAssertEqual(c.metrics, c.runs * 12)
                XCTAssertEqual(c.requests, c.runs * 79)
                committedAtKill.append(c.runs)
                try s.close()
            }
            if finishedOnItsOwn { break }
        }
        print("kill -9 test: runs committed after each kill: \(committedAtKill), finished on its own: \(finishedOnItsOwn)")
        let last = try Fixture.gpusim(["sweep", cfg, "-o", db, "--resume", "--jobs", "2", "--progress", "none"])
        XCTAssertEqual(last.status, 0, last.stderr)
        let s = try ResultsStore(path: db, mode: .readOnly)
        XCTAssertEqual(try s.integrityCheck(), "ok")
        XCTAssertEqual(try s.counts().runs, 300)
        try s.close()
        XCTAssertEqual(try Fixture.dump(db), try Fixture.dump(reference))
    }

    func testExportReportMergeRegressTimelineAndSlurm() throws {
        let cfg = try writeConfig(Fixture.replayYAML(name: "tools", gpus: ["A100-SXM4-40GB", "H200"], latencies: [5], policies: ["queued", "anchored"]))
        // Two shards, merged.
        for i in 1...2 {
            let r = try Fixture.gpusim(["sweep", cfg, "--shard", "\(i)/2", "-o", path("s\(i).sqlite"), "--progress", "lines"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("tools shard \(i)/2: 2/2 runs"), r.stderr)
        }
        let merged = path("all.sqlite")
        let m = try Fixture.gpusim(["merge", path("s1.sqlite"), path("s2.sqlite"), "-o", merged])
        XCTAssertEqual(m.status, 0, m.stderr)
        XCTAssertTrue(m.stderr.contains("4 run(s) from 2 database(s)"), m.stderr)

        let csv = try Fixture.gpusim(["export", merged, "--csv", "--no-wall", "--table", "runs"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        XCTAssertEqual(csv.stdout.split(separator: "\n").count, 5)
        XCTAssertFalse(csv.stdout.contains("wall_seconds"))
        let json = try Fixture.gpusim(["export", merged, "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        XCTAssertEqual(rows?.count, 4 * 12)
        let md = try Fixture.gpusim(["report", merged, "--format", "markdown", "--metrics", "busy_error_pct,kernels"])
        XCTAssertEqual(md.status, 0, md.stderr)
        XCTAssertTrue(md.stdout.contains("| gpu | launch_latency_us | policy | busy_error_pct | kernels |"), md.stdout)
        let unknown = try Fixture.gpusim(["report", merged, "--experiment", "nope"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("no runs of experiment 'nope'; it holds: tools"), unknown.stderr)

        // Regression: a written baseline passes; a perturbed one fails with a readable diff.
        let baseline = path("baseline.json")
        XCTAssertEqual(try Fixture.gpusim(["regress", merged, "--write-baseline", baseline]).status, 0)
        let pass = try Fixture.gpusim(["regress", merged, "--baseline", baseline])
        XCTAssertEqual(pass.status, 0, pass.stdout + pass.stderr)
        XCTAssertTrue(pass.stdout.contains("result: PASS"), pass.stdout)
        var text = try String(contentsOfFile: baseline, encoding: .utf8)
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("\"metric\":\"simulated_span_us\"") && $0.contains("H200") })
        let value = try XCTUnwrap(line.range(of: #""mean":[0-9.e+-]+"#, options: .regularExpression))
        let number = Double(line[value].dropFirst(7))!
        text = text.replacingOccurrences(of: String(line), with: line.replacingCharacters(in: value, with: "\"mean\":\(number * 1.01)"))
        try text.write(toFile: baseline, atomically: true, encoding: .utf8)
        let fail = try Fixture.gpusim(["regress", merged, "--baseline", baseline])
        XCTAssertEqual(fail.status, 1)
        XCTAssertTrue(fail.stdout.contains("REGRESSION  simulated_span_us") && fail.stdout.contains("gpu=H200"), fail.stdout)
        XCTAssertTrue(fail.stdout.contains("result: FAIL (1 regression(s))"), fail.stdout)

        // Timeline of one run, found through the database.
        let id = try XCTUnwrap(try ResultsStore(path: merged, mode: .readOnly).runs().first?.id)
        let tl = try Fixture.gpusim(["timeline", String(id.prefix(8)), "--db", merged, "-o", path("run.json")])
        XCTAssertEqual(tl.status, 0, tl.stderr)
        let trace = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("run.json")))) as? [String: Any]
        XCTAssertEqual((trace?["traceEvents"] as? [[String: Any]])?.filter { $0["ph"] as? String == "X" }.count, 79 + 19)
        XCTAssertEqual((trace?["otherData"] as? [String: Any])?["run"] as? String, id)

        // Slurm script.
        let sb = try Fixture.gpusim(["slurm", cfg, "--array", "3", "-o", path("job.sbatch"), "--out-dir", path("shards")])
        XCTAssertEqual(sb.status, 0, sb.stderr)
        let script = try String(contentsOfFile: path("job.sbatch"), encoding: .utf8)
        XCTAssertTrue(script.contains("#SBATCH --array=1-3") && script.contains("--shard \"$I/3\""), script)
        XCTAssertTrue(sb.stderr.contains("merge"), sb.stderr)
    }

    func testPlotSaysHowToInstallMatplotlib() throws {
        let cfg = try writeConfig(Fixture.replayYAML(gpus: ["H200"], latencies: [5], policies: ["queued"]))
        XCTAssertEqual(try Fixture.gpusim(["sweep", cfg, "-o", path("p.sqlite"), "--progress", "none"]).status, 0)
        // A Python without matplotlib.
        let fake = path("python-without-matplotlib")
        try "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'matplotlib'\" >&2\nexit 1\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let r = try Fixture.gpusim(["plot", path("p.sqlite"), "--python", fake, "--out-dir", path("fig")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("matplotlib is not installed") && r.stderr.contains("pip install matplotlib"), r.stderr)
        let badFormat = try Fixture.gpusim(["plot", path("p.sqlite"), "--format", "gif"])
        XCTAssertNotEqual(badFormat.status, 0)
        XCTAssertTrue(badFormat.stderr.contains("png, svg or pdf"), badFormat.stderr)
    }
}
