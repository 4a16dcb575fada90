// Running an experiment's runs: a pool of worker threads simulates, one writer (the calling
// thread, holding the only database connection) commits each finished run in its own
// transaction. Rows are keyed by run id and read back in key order, so the database reads the
// same whatever the number of jobs or the order in which runs finish. A sweep stopped by SIGINT
// or SIGTERM commits what has finished and stops; one killed outright (kill -9) loses only the
// runs in flight, since an uncommitted transaction leaves nothing behind.

import Dispatch
import Foundation
import Results

/// One slice of a sweep: runs whose ordinal ≡ index − 1 (mod count). `index` is 1-based.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw SweepError(message: "--shard I/N: N must be at least 1, got \(count)") }
        guard (1...count).contains(index) else {
            throw SweepError(message: "--shard I/N: I must be in 1...\(count), got \(index)")
        }
        self.index = index
        self.count = count
    }

    /// Parses "I/N".
    public init(parsing s: String) throws {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw SweepError(message: "--shard: expected I/N with whole numbers, e.g. 2/8, got '\(s)'")
        }
        try self.init(index: i, count: n)
    }

    public func contains(ordinal: Int) -> Bool { ordinal % count == index - 1 }
    public var description: String { "\(index)/\(count)" }
}

public struct SweepError: Error, Sendable, CustomStringConvertible, LocalizedError {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}

public enum ProgressMode: String, Sendable, CaseIterable {
    /// A bar when stderr is a terminal, log lines otherwise.
    case auto
    case bar
    case lines
    case none
}

public struct SweepOptions: Sendable {
    /// Worker threads (default: all cores).
    public var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Skip runs already finished (ok or infeasible) in the database; run failed ones again.
    public var resume = false
    public var shard: Shard? = nil
    public var progress: ProgressMode = .auto
    /// Recorded with each run.
    public var codeVersion: String = "unknown"
    /// Stop cleanly on SIGINT/SIGTERM (commit what finished, then return `interrupted`).
    public var handleSignals = false
    public init() {}
}

public struct SweepSummary: Sendable, Equatable {
    /// Runs in the experiment.
    public var planned: Int
    /// Runs in this shard.
    public var selected: Int
    /// Runs already finished in the database (skipped).
    public var skipped: Int
    /// Runs committed by this sweep.
    public var committed: Int
    /// Of those, failed runs.
    public var failed: Int
    /// Of those, runs the kind found infeasible.
    public var infeasible: Int = 0
    /// Runs of this experiment in the database that the config no longer produces.
    public var stale: Int
    public var interrupted: Bool
    public var wallSeconds: Double
}

public enum Sweep {
    /// The runs of one shard (all runs without one).
    public static func select(_ runs: [PlannedRun], shard: Shard?) -> [PlannedRun] {
        guard let shard else { return runs }
        return runs.filter { shard.contains(ordinal: $0.ordinal) }
    }

    /// Runs one planned run. Never throws: a failure becomes a run with status failed.
    public static func execute(_ e: Experiment, _ p: PlannedRun, codeVersion: String,
                               timeline: Bool = false) -> (FinishedRun, [TimelineEvent]) {
        let clock = ContinuousClock()
        let start = clock.now
        var status = RunStatus.ok
        var message: String? = nil
        var metrics: [MetricRow] = []
        var requests: [RequestRow] = []
        var events: [TimelineEvent] = []
        do {
            let out = try e.kind.run(config: p.kindConfig, seed: p.seed,
                                     options: RunOptions(requests: e.keepRequests, timeline: timeline), context: e.context)
            metrics = out.metrics
            if let keep = e.keepMetrics { metrics = metrics.filter { keep.contains($0.name) } }
            metrics.sort { ($0.tenant, $0.name) < ($1.tenant, $1.name) }
            for (a, b) in zip(metrics, metrics.dropFirst()) where a.tenant == b.tenant && a.name == b.name {
                throw KindRunError(message: "the \(e.kind.name) simulation reported metric \(a.tenant)/\(a.name) twice")
            }
            for m in metrics where !m.value.isFinite {
                throw KindRunError(message: "metric \(m.tenant)/\(m.name) is not finite (\(m.value))")
            }
            if e.keepRequests {
                requests = out.requests.sorted { ($0.tenant, $0.request) < ($1.tenant, $1.request) }
                for (a, b) in zip(requests, requests.dropFirst()) where a.tenant == b.tenant && a.request == b.request {
                    throw KindRunError(message: "the \(e.kind.name) simulation reported request \(a.tenant)/\(a.request) twice")
                }
            }
            events = out.timeline
        } catch let e as RunInfeasible {
            status = .infeasible
            message = e.reason
            metrics = []
            requests = []
        } catch {
            status = .failed
            message = "\(error)"
            metrics = []
            requests = []
        }
        let d = clock.now - start
        let wall = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        let record = RunRecord(id: p.id, experiment: e.name, kind: e.kind.name, policy: p.policy, params: p.params.text,
                               seed: Int64(p.seed), ordinal: Int64(p.ordinal), config: p.configText, configHash: p.configHash,
                               codeVersion: codeVersion, wallSeconds: wall, status: status, error: message)
        return (FinishedRun(run: record, metrics: metrics, requests: requests), events)
    }

    /// Runs the experiment's runs (of the shard) into `store`. Throws before running anything when
    /// the database already holds runs of the experiment and `resume` is off.
    public static func run(_ e: Experiment, store: ResultsStore, options: SweepOptions,
                           log: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws -> SweepSummary {
        let clock = ContinuousClock()
        let start = clock.now
        let selected = select(e.runs, shard: options.shard)
        let statuses = try store.runStatuses(experiment: e.name)
        if !options.resume && !statuses.isEmpty {
            throw SweepError(message: "\(store.path) already holds \(statuses.count) run(s) of experiment '\(e.name)'; pass --resume to continue that sweep (finished runs are skipped), or write to another database with -o")
        }
        let planIDs = Set(e.runs.map(\.id))
        let stale = statuses.keys.filter { !planIDs.contains($0) }.count
        if stale > 0 {
            log("warning: \(store.path) holds \(stale) run(s) of experiment '\(e.name)' that this config no longer produces (the config or its inputs changed); reports will include them")
        }
        let todo = selected.filter { statuses[$0.id] == nil || statuses[$0.id] == .failed }
        let retry = Set(todo.filter { statuses[$0.id] == .failed }.map(\.id))
        let skipped = selected.count - todo.count
        try store.record(ExperimentRecord(name: e.name, fileHash: e.fileHash, kind: e.kind.name, description: e.description,
                                          configPath: e.configPath, configText: e.text))

        let jobs = max(1, min(options.jobs, max(todo.count, 1)))
        let progress = ProgressReporter(mode: options.progress, total: selected.count, alreadyDone: skipped,
                                        label: e.name + (options.shard.map { " shard \($0)" } ?? ""), log: log)
        if skipped > 0 { log("\(e.name): \(skipped) of \(selected.count) runs already in \(store.path), skipped") }
        let work = WorkQueue(runs: todo, maxPending: 2 * jobs + 2)

        if options.handleSignals { SignalFlag.install() }
        defer { if options.handleSignals { SignalFlag.uninstall() } }

        let group = DispatchGroup()
        for _ in 0..<(todo.isEmpty ? 0 : jobs) {
            group.enter()
            let t = Thread { [work] in
                while let p = work.take() {
                    let (f, _) = execute(e, p, codeVersion: options.codeVersion)
                    work.put(f)
                }
                group.leave()
            }
            t.stackSize = 16 << 20
            t.start()
        }

        var committed = 0
        var failed = 0
        var infeasible = 0
        var writeError: Error? = nil
        while committed < todo.count {
            let (batch, stopping) = work.drain()
            for f in batch {
                do {
                    try store.commit(f, replacing: retry.contains(f.run.id))
                } catch {
                    writeError = error
                    break
                }
                committed += 1
                if f.run.status == .infeasible { infeasible += 1 }
                if f.run.status == .failed {
                    failed += 1
                    log("run \(f.run.id) (policy \(f.run.policy), params \(f.run.params), seed \(f.run.seed)) failed: \(f.run.error ?? "")")
                }
                progress.update(done: committed, failed: failed)
            }
            if writeError != nil { _ = work.requestStop(); break }
            if stopping && batch.isEmpty { break }
        }
        let interrupted = work.stopped && committed < todo.count
        if !interrupted && writeError == nil { group.wait() }
        progress.finish(done: committed, failed: failed, interrupted: interrupted)
        if let writeError { throw writeError }
        let d = clock.now - start
        return SweepSummary(planned: e.runs.count, selected: selected.count, skipped: skipped, committed: committed,
                            failed: failed, infeasible: infeasible, stale: stale, interrupted: interrupted,
                            wallSeconds: Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }

    /// `gpusim run`: all runs of the experiments into a fresh database written beside `output`
    /// and renamed over it only when complete. An existing `output` is replaced only when it
    /// holds nothing but runs of these experiments.
    public static func runFresh(_ experiments: [Experiment], output: String, options: SweepOptions,
                                log: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws -> [SweepSummary] {
        let fm = FileManager.default
        let names = Set(experiments.map(\.name))
        guard names.count == experiments.count else {
            throw SweepError(message: "two of the experiment files have the same name; give each its own name")
        }
        if fm.fileExists(atPath: output) {
            let existing = try ResultsStore(path: output, mode: .readOnly)
            let others = try Set(existing.runs().map(\.experiment)).subtracting(names)
            try existing.close()
            if !others.isEmpty {
                throw SweepError(message: "\(output) holds runs of other experiments (\(others.sorted().joined(separator: ", "))); gpusim run replaces its output, so choose another -o")
            }
        }
        let url = URL(fileURLWithPath: output).standardizedFileURL
        let dir = url.deletingLastPathComponent()
        try? fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).run-\(ProcessInfo.processInfo.processIdentifier).tmp").path
        ResultsStore.removeDatabaseFiles(temp)
        var opts = options
        opts.resume = false
        do {
            let store = try ResultsStore(path: temp, mode: .create)
            var summaries: [SweepSummary] = []
            do {
                for e in experiments {
                    let s = try run(e, store: store, options: opts, log: log)
                    summaries.append(s)
                    if s.interrupted { break }
                }
                try store.close()
            } catch {
                try? store.close()
                throw error
            }
            if summaries.contains(where: \.interrupted) {
                ResultsStore.removeDatabaseFiles(temp)
                return summaries
            }
            ResultsStore.removeDatabaseFiles(output)
            guard rename(temp, output) == 0 else {
                throw SweepError(message: "cannot move the results into \(output): \(String(cString: strerror(errno)))")
            }
            return summaries
        } catch {
            ResultsStore.removeDatabaseFiles(temp)
            throw error
        }
    }
}

/// Hands runs to workers and finished runs to the writer; bounded, so a slow writer holds the
/// workers back instead of piling up results.
final class WorkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private let runs: [PlannedRun]
    private var next = 0
    private var finished: [FinishedRun] = []
    private let maxPending: Int
    private(set) var stopped = false

    init(runs: [PlannedRun], maxPending: Int) {
        self.runs = runs
        self.maxPending = maxPending
    }

    /// The next run to simulate, or nil when there is none or the sweep is stopping.
    func take() -> PlannedRun? {
        condition.lock()
        defer { condition.unlock() }
        if SignalFlag.raised { stopped = true; condition.broadcast() }
        while !stopped && finished.count >= maxPending { condition.wait() }
        guard !stopped, next < runs.count else { return nil }
        next += 1
        return runs[next - 1]
    }

    func put(_ f: FinishedRun) {
        condition.lock()
        finished.append(f)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for finished runs (or a stop, or SIGINT/SIGTERM) and takes them all.
    func drain() -> ([FinishedRun], Bool) {
        condition.lock()
        defer { condition.unlock() }
        while finished.isEmpty && !stopped {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.1))
            if SignalFlag.raised { stopped = true; condition.broadcast() }
        }
        let out = finished
        finished.removeAll()
        condition.broadcast()
        return (out, stopped)
    }

    /// Stops handing out runs. Returns true when a stop had already been requested.
    func requestStop() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let already = stopped
        stopped = true
        condition.broadcast()
        return already
    }
}

/// SIGINT and SIGTERM during a sweep: the first stops handing out runs (what has finished is
/// committed), a second exits at once (committed runs are safe; an open transaction is rolled
/// back by SQLite). A SIGINT ignored when the process started (a background job of a
/// non-interactive shell) stays ignored.
enum SignalFlag {
    nonisolated(unsafe) static var count: Int32 = 0
    nonisolated(unsafe) static var keptIgnored = false
    static var raised: Bool { count > 0 }

    static func install() {
        count = 0
        let handler: @convention(c) (Int32) -> Void = { _ in
            SignalFlag.count &+= 1
            if SignalFlag.count > 1 { _exit(130) }
        }
        let previous = signal(SIGINT, handler)
        if let previous, unsafeBitCast(previous, to: Int.self) == 1 {  // SIG_IGN
            signal(SIGINT, previous)
            keptIgnored = true
        }
        signal(SIGTERM, handler)
    }

    static func uninstall() {
        if !keptIgnored { signal(SIGINT, SIG_DFL) }
        signal(SIGTERM, SIG_DFL)
    }
}

/// Progress on stderr: a redrawn bar on a terminal, throttled log lines otherwise.
final class ProgressReporter: @unchecked Sendable {
    let mode: ProgressMode
    let total: Int
    let alreadyDone: Int
    let label: String
    let log: @Sendable (String) -> Void
    let clock = ContinuousClock()
    let start: ContinuousClock.Instant
    var lastPrint: ContinuousClock.Instant

    init(mode: ProgressMode, total: Int, alreadyDone: Int, label: String, log: @escaping @Sendable (String) -> Void) {
        var m = mode
        if m == .auto { m = isatty(2) == 1 ? .bar : .lines }
        self.mode = m
        self.total = total
        self.alreadyDone = alreadyDone
        self.label = label
        self.log = log
        start = clock.now
        lastPrint = start
    }

    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

    func text(done: Int, failed: Int) -> String {
        let elapsed = seconds(clock.now - start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let all = alreadyDone + done
        let remaining = total - all
        let eta = rate > 0 ? Self.duration(Double(remaining) / rate) : "?"
        let failures = failed > 0 ? ", \(failed) failed" : ""
        return "\(all)/\(total) runs, \(String(format: "%.1f", rate)) runs/s, ETA \(eta)\(failures)"
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }

    func update(done: Int, failed: Int) {
        let now = clock.now
        switch mode {
        case .bar:
            guard seconds(now - lastPrint) >= 0.1 || alreadyDone + done == total else { return }
            lastPrint = now
            let width = 28
            let fraction = total > 0 ? Double(alreadyDone + done) / Double(total) : 1
            let filled = Int((fraction * Double(width)).rounded(.down))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[K\(label) [\(bar)] \(text(done: done, failed: failed))".utf8))
        case .lines:
            guard seconds(now - lastPrint) >= 1 || done == 1 else { return }
            lastPrint = now
            log("\(label): \(text(done: done, failed: failed))")
        case .none, .auto:
            break
        }
    }

    func finish(done: Int, failed: Int, interrupted: Bool) {
        let elapsed = seconds(clock.now - start)
        let end = interrupted ? "interrupted: \(done) run(s) committed; resume with --resume" : "done: \(done) run(s) in \(String(format: "%.1f", elapsed)) s"
        switch mode {
        case .bar:
            FileHandle.standardError.write(Data("\r\u{1B}[K\(label): \(text(done: done, failed: failed)) — \(end)\n".utf8))
        case .lines:
            log("\(label): \(text(done: done, failed: failed)) — \(end)")
        case .none, .auto:
            if interrupted { log("\(label): \(end)") }
        }
    }
}
