import ArgumentParser
import Dispatch
import Foundation
import Multitask

/// `gpusim multitask`: GPU multitasking experiments (kind multitask) without a results database.
struct MultitaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "multitask",
        abstract: "Tenants sharing one GPU under the sharing policies (exclusive, timeslice, streams, mps, mig, priority, dynamic).",
        subcommands: [Run.self, Bench.self, Policies.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, markdown, json }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a multitask experiment file (format gpusim-experiment/1, kind multitask) and print the comparison table.",
            discussion: """
            Every grid point × policy × seed runs; the table has one row per (GPU, policy), the first seed's.
            Wall time and simulated events per second go to standard error.
            Example: gpusim multitask run Experiments/multitask-colocation.yaml --format markdown
            """
        )

        @Argument(help: "The experiment file.")
        var config: String

        @Option(name: .long, help: "Only this policy (variant name); repeatable.")
        var policy: [String] = []

        @Option(name: .long, help: "Runs in parallel.")
        var jobs: Int = 1

        @Option(name: .long, help: "Output format: text, markdown or json.")
        var format: Format = .text

        func validate() throws {
            guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
        }

        func run() throws {
            let experiment: MultitaskExperiment
            do { experiment = try MultitaskExperiment.load(path: config) } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode.failure
            }
            var runs = experiment.runs
            if !policy.isEmpty {
                let known = Set(runs.map(\.policyName))
                for p in policy where !known.contains(p) {
                    throw ValidationError("--policy \(p): the experiment has no policy '\(p)' (it has \(known.sorted().joined(separator: ", ")))")
                }
                runs = runs.filter { policy.contains($0.policyName) }
            }
            let planned = runs
            let results = Results(count: planned.count)
            let clock = ContinuousClock()
            let start = clock.now
            let next = Counter()
            DispatchQueue.concurrentPerform(iterations: min(jobs, max(planned.count, 1))) { _ in
                while let i = next.take(below: planned.count) {
                    results.set(i, Result { try MultitaskSimulation(planned[i].config).run(seed: planned[i].seed) })
                }
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            var done: [(MultitaskRun, MultitaskResult)] = []
            for (i, r) in runs.enumerated() {
                switch results.get(i)! {
                case .success(let m): done.append((r, m))
                case .failure(let e):
                    FileHandle.standardError.write(Data("error: \(r.policyName), seed \(r.seed): \(e)\n".utf8))
                    throw ExitCode.failure
                }
            }
            let events = done.reduce(0) { $0 + $1.1.events }
            FileHandle.standardError.write(Data(String(format: "%d runs, %d simulated events in %.2f s wall (%.0f events/s over %d job(s))\n",
                                                       done.count, events, seconds, Double(events) / max(seconds, 1e-9), jobs).utf8))
            switch format {
            case .json:
                var items: [String] = []
                for (r, m) in done {
                    var byTenant: [String: [String]] = [:]
                    var order: [String] = []
                    for row in m.metrics {
                        if byTenant[row.tenant] == nil { order.append(row.tenant) }
                        byTenant[row.tenant, default: []].append("\(json(row.name)): \(number(row.value))")
                    }
                    let metrics = order.map { "\(json($0)): {\(byTenant[$0]!.joined(separator: ", "))}" }.joined(separator: ", ")
                    let params = r.params.map { "\(json($0.axis)): \(json($0.value))" }.joined(separator: ", ")
                    items.append("{\"params\": {\(params)}, \"policy\": \(json(r.policyName)), \"seed\": \(r.seed), \"events\": \(m.events), \"metrics\": {\(metrics)}}")
                }
                print("{\"experiment\": \(json(experiment.name)), \"runs\": [\n  " + items.joined(separator: ",\n  ") + "\n]}")
            case .text, .markdown:
                let firstSeed = done.first?.0.seed
                let rows = done.filter { $0.0.seed == firstSeed }.map { (r, m) in
                    ComparisonTable.Row(group: r.params.map(\.value).joined(separator: " "), policy: r.policyName, result: m)
                }
                let tenants = done.first.map { d in d.0.config.tenants.map { t -> (String, String) in
                    switch t {
                    case .inference(let s): return (s.name, "inference")
                    case .kineto(let s): return (s.name, s.kind)
                    }
                } } ?? []
                let table = ComparisonTable(rows: rows, tenants: tenants)
                print(format == .markdown ? table.markdown() : table.text(), terminator: "")
            }
        }

        func json(_ s: String) -> String {
            var out = "\""
            for c in s.unicodeScalars {
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(c)
                }
            }
            return out + "\""
        }

        func number(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Simulated events per second on each run of a multitask experiment (use a release build).",
            discussion: """
            Each run is simulated twice on one thread: once to load its inputs (traces, profiles), then timed.
            Isolated baselines and per-request rows are off. Prints one line per run and the total
            (or a JSON object with --format json).
            """
        )

        @Argument(help: "The experiment file.")
        var config: String

        @Option(name: .long, help: "Only this policy (variant name); repeatable.")
        var policy: [String] = []

        @Option(name: .long, help: "Output format: text or json.")
        var format: Format = .text

        func run() throws {
            let experiment: MultitaskExperiment
            do { experiment = try MultitaskExperiment.load(path: config) } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode.failure
            }
            let clock = ContinuousClock()
            var lines: [String] = []
            var json: [String] = []
            var events = 0, seconds = 0.0
            for r in experiment.runs where policy.isEmpty || policy.contains(r.policyName) {
                var c = r.config
                c.fairnessBaseline = false
                c.requests = false
                do {
                    _ = try MultitaskSimulation(c).run(seed: r.seed)
                    let start = clock.now
                    let m = try MultitaskSimulation(c).run(seed: r.seed)
                    let d = clock.now - start
                    let s = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
                    events += m.events
                    seconds += s
                    let group = r.params.map(\.value).joined(separator: " ")
                    lines.append(String(format: "%@ %@: %d events in %.3f s, %.0f events/s", group, r.policyName, m.events, s, Double(m.events) / s))
                    json.append("{\"params\": \"\(group)\", \"policy\": \"\(r.policyName)\", \"events\": \(m.events), \"seconds\": \(s), \"events_per_second\": \(Double(m.events) / s)}")
                } catch {
                    FileHandle.standardError.write(Data("error: \(r.policyName): \(error)\n".utf8))
                    throw ExitCode.failure
                }
            }
            switch format {
            case .json:
                print("{\"runs\": [\(json.joined(separator: ", "))], \"events\": \(events), \"seconds\": \(seconds), \"events_per_second\": \(Double(events) / max(seconds, 1e-9))}")
            default:
                for l in lines { print(l) }
                print(String(format: "total: %d events in %.3f s, events_per_second: %.0f", events, seconds, Double(events) / max(seconds, 1e-9)))
            }
        }
    }

    struct Policies: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the sharing policies.")

        @Option(name: .long, help: "Output format: text or json.")
        var format: Format = .text

        func run() {
            if format == .json {
                let items = PolicyChoice.summaries.map { "{\"name\": \"\($0.name)\", \"summary\": \"\($0.summary)\"}" }
                print("[" + items.joined(separator: ", ") + "]")
            } else {
                for p in PolicyChoice.summaries { print("\(p.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(p.summary)") }
            }
        }
    }
}

/// A shared index for worker threads.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take(below n: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard value < n else { return nil }
        value += 1
        return value - 1
    }
}

/// Results filled in by worker threads.
private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<MultitaskResult, Error>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<MultitaskResult, Error>) { lock.lock(); values[i] = r; lock.unlock() }
    func get(_ i: Int) -> Result<MultitaskResult, Error>? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
