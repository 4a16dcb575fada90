// How a simulator plugs into experiments: a *simulation kind*, selected by `kind:` in the YAML.
//
// A kind validates one run's resolved config sections (hardware, workload, parameters and the
// policy) into a canonical JSON config — everything that determines the run except the seed —
// and runs such a config with a seed. The runner, database, reports, regression, Slurm and
// timeline tooling are shared by every kind. To add one: write a type conforming to
// `SimulationKind` and list it in `SimulationKinds.all`.

import Foundation
import Results

/// A policy a kind offers.
public struct PolicyInfo: Sendable {
    public var name: String
    public var summary: String
    public init(_ name: String, _ summary: String) { self.name = name; self.summary = summary }
}

/// How far a metric may move before `regress` calls it a regression: |new − base| ≤ abs + rel·|base|.
public struct Tolerance: Sendable, Equatable {
    public var abs: Double
    public var rel: Double
    public init(abs: Double, rel: Double) { self.abs = abs; self.rel = rel }
    public static let exact = Tolerance(abs: 0, rel: 0)

    public func accepts(_ value: Double, baseline: Double) -> Bool {
        Swift.abs(value - baseline) <= abs + rel * Swift.abs(baseline)
    }

    public func width(around baseline: Double) -> Double { abs + rel * Swift.abs(baseline) }
}

/// A metric a kind reports.
public struct MetricInfo: Sendable {
    public var name: String
    public var unit: String
    public var summary: String
    /// The tolerance written into new baselines.
    public var tolerance: Tolerance
    public init(_ name: String, unit: String, _ summary: String, tolerance: Tolerance) {
        self.name = name
        self.unit = unit
        self.summary = summary
        self.tolerance = tolerance
    }
}

/// One run's config sections after the grid point and the policy's overrides are applied.
/// Each node remembers where its value was written, so errors name that key path.
public struct RunSpec: Sendable {
    public var hardware: ConfigNode
    public var workload: ConfigNode
    public var parameters: ConfigNode
    /// The kind's policy (the `policy:` of a named variant, or the name itself).
    public var policy: String
    /// Where the policy was named.
    public var policyPath: String
    /// The config file's name, for errors.
    public var file: String
}

/// What a run asks of the kind beyond metrics.
public struct RunOptions: Sendable {
    /// Produce per-request rows.
    public var requests: Bool
    /// Produce timeline events (for `gpusim timeline`).
    public var timeline: Bool
    public init(requests: Bool = false, timeline: Bool = false) {
        self.requests = requests
        self.timeline = timeline
    }
}

/// A bar on the simulated GPU's timeline: a kernel on a tenant's SM partition, a copy on a link
/// direction. `track` groups bars into processes and threads of the Chrome/Perfetto view.
public struct TimelineEvent: Sendable, Equatable {
    public struct Track: Sendable, Hashable {
        /// E.g. "tenant all · SMs 0-107 (full GPU)" or "links".
        public var process: String
        /// E.g. "stream 7" or "PCIe H2D".
        public var thread: String
        public init(process: String, thread: String) { self.process = process; self.thread = thread }
    }
    public var track: Track
    public var name: String
    /// "kernel", "copy", "memset", ...
    public var category: String
    public var startNs: Int64
    public var endNs: Int64
    public var args: [String: CanonicalJSON]
    public init(track: Track, name: String, category: String, startNs: Int64, endNs: Int64, args: [String: CanonicalJSON] = [:]) {
        self.track = track
        self.name = name
        self.category = category
        self.startNs = startNs
        self.endNs = endNs
        self.args = args
    }
}

/// What one run produced.
public struct RunOutput: Sendable {
    public var metrics: [MetricRow]
    public var requests: [RequestRow]
    public var timeline: [TimelineEvent]
    public init(metrics: [MetricRow], requests: [RequestRow] = [], timeline: [TimelineEvent] = []) {
        self.metrics = metrics
        self.requests = requests
        self.timeline = timeline
    }
}

public protocol SimulationKind: Sendable {
    /// The `kind:` value.
    static var name: String { get }
    static var summary: String { get }
    static var policies: [PolicyInfo] { get }
    static var metrics: [MetricInfo] { get }
    /// Validates one run's sections; returns the canonical config (JSON object) that, with a seed,
    /// determines the run. Throws `ConfigError` naming the key path of the offending value.
    /// Called for every run before anything runs; expensive checks belong in `context`'s cache.
    static func resolve(_ spec: RunSpec, context: KindContext) throws -> CanonicalJSON
    /// Runs a config returned by `resolve`. Must be a pure function of (config, seed, inputs):
    /// it runs on worker threads, in any order.
    static func run(config: CanonicalJSON, seed: UInt64, options: RunOptions, context: KindContext) throws -> RunOutput
    /// Optional: loads expensive inputs of all runs at once (in parallel) before `resolve` is
    /// called for each; errors are left for `resolve` to report with their key path.
    static func prepare(_ specs: [RunSpec], context: KindContext)
}

extension SimulationKind {
    public static func prepare(_ specs: [RunSpec], context: KindContext) {}
}

/// Thrown by `run` for a run that cannot exist (recorded with status `infeasible` and this
/// reason, not as a failure, and never run again).
public struct RunInfeasible: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The registered kinds.
public enum SimulationKinds {
    /// Every kind, by name. Add new simulators here.
    public static let all: [any SimulationKind.Type] = [ReplayKind.self, MoEKind.self, MultitaskKind.self]

    public static func named(_ name: String) -> (any SimulationKind.Type)? {
        all.first { $0.name == name }
    }

    public static var names: [String] { all.map { $0.name } }
}

/// Shared, thread-safe state for one experiment's kind: where relative paths start, and a cache
/// of expensive inputs (parsed traces, GPU catalogs, file digests) computed once per key even
/// when several workers ask at the same time.
public final class KindContext: @unchecked Sendable {
    /// The config file's directory: relative paths in the config start here.
    public let baseDirectory: URL
    /// The config file's name, for errors.
    public let file: String
    private let condition = NSCondition()
    private var values: [String: Any] = [:]
    private var failures: [String: Error] = [:]
    private var pending = Set<String>()

    public init(baseDirectory: URL, file: String) {
        self.baseDirectory = baseDirectory
        self.file = file
    }

    /// An absolute path for a path written in the config.
    public func resolvePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return baseDirectory.appendingPathComponent(path).standardizedFileURL.path
    }

    /// The value for `key`, computing it with `make` the first time (once, even under
    /// concurrency); a failure is remembered and rethrown to later callers.
    public func cached<T>(_ key: String, _ make: () throws -> T) throws -> T {
        condition.lock()
        while pending.contains(key) { condition.wait() }
        if let v = values[key] as? T { condition.unlock(); return v }
        if let e = failures[key] { condition.unlock(); throw e }
        pending.insert(key)
        condition.unlock()
        let result: Result<T, Error> = Result { try make() }
        condition.lock()
        pending.remove(key)
        switch result {
        case .success(let v): values[key] = v
        case .failure(let e): failures[key] = e
        }
        condition.broadcast()
        condition.unlock()
        return try result.get()
    }
}
