// The rows of a results database (schema: ResultsStore.swift).

/// How a run ended. Only finished runs are ever written: a run in flight leaves no row.
public enum RunStatus: String, Sendable, Equatable, CaseIterable {
    case ok
    /// The simulation threw; `RunRecord.error` says why. `sweep --resume` runs it again.
    case failed
    /// The simulation kind found that the run cannot exist (e.g. an expert cache too small to
    /// hold one layer's experts); `RunRecord.error` says why. Deterministic: never run again.
    case infeasible
}

/// One finished run.
public struct RunRecord: Sendable, Equatable {
    /// Stable id: a hash of the resolved run config and the seed (16 hex digits).
    public var id: String
    public var experiment: String
    /// The simulation kind (`replay`, `moe`, `multitask`, ...).
    public var kind: String
    /// The policy's name as the experiment names it.
    public var policy: String
    /// The grid point: canonical JSON object of axis → value (`{}` without a grid).
    public var params: String
    public var seed: Int64
    /// Position of the run in the experiment's expansion (deterministic; orders reports).
    public var ordinal: Int64
    /// The resolved run config, canonical JSON (everything that determines the run but the seed).
    public var config: String
    /// Hash of `config` (16 hex digits).
    public var configHash: String
    /// The gpusim version that ran it.
    public var codeVersion: String
    /// Wall-clock seconds the run took. Not a result: excluded from every comparison.
    public var wallSeconds: Double
    public var status: RunStatus
    /// Why a failed run failed.
    public var error: String?

    public init(id: String, experiment: String, kind: String, policy: String, params: String, seed: Int64,
                ordinal: Int64, config: String, configHash: String, codeVersion: String, wallSeconds: Double,
                status: RunStatus, error: String?) {
        self.id = id
        self.experiment = experiment
        self.kind = kind
        self.policy = policy
        self.params = params
        self.seed = seed
        self.ordinal = ordinal
        self.config = config
        self.configHash = configHash
        self.codeVersion = codeVersion
        self.wallSeconds = wallSeconds
        self.status = status
        self.error = error
    }
}

/// One metric of a run: per tenant, or overall with tenant "all".
public struct MetricRow: Sendable, Equatable, Hashable {
    public var tenant: String
    public var name: String
    /// Finite (SQLite cannot hold NaN; runs producing one are recorded as failed).
    public var value: Double

    public init(tenant: String, name: String, value: Double) {
        self.tenant = tenant
        self.name = name
        self.value = value
    }
}

/// One request (or, for trace replay, one kernel) of a run. Times are simulated nanoseconds.
public struct RequestRow: Sendable, Equatable, Hashable {
    public var tenant: String
    public var request: Int64
    public var arrivalNs: Int64?
    public var startNs: Int64?
    public var firstTokenNs: Int64?
    public var finishNs: Int64?
    public var inputTokens: Int64?
    public var outputTokens: Int64?
    /// Anything else, as canonical JSON.
    public var attributes: String?

    public init(tenant: String, request: Int64, arrivalNs: Int64? = nil, startNs: Int64? = nil,
                firstTokenNs: Int64? = nil, finishNs: Int64? = nil, inputTokens: Int64? = nil,
                outputTokens: Int64? = nil, attributes: String? = nil) {
        self.tenant = tenant
        self.request = request
        self.arrivalNs = arrivalNs
        self.startNs = startNs
        self.firstTokenNs = firstTokenNs
        self.finishNs = finishNs
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.attributes = attributes
    }
}

/// The experiment config a database's runs came from (one row per distinct config text).
public struct ExperimentRecord: Sendable, Equatable {
    public var name: String
    /// Hash of `configText`.
    public var fileHash: String
    public var kind: String
    public var description: String
    /// Absolute path the config was read from (informative: machine-specific).
    public var configPath: String
    public var configText: String

    public init(name: String, fileHash: String, kind: String, description: String, configPath: String, configText: String) {
        self.name = name
        self.fileHash = fileHash
        self.kind = kind
        self.description = description
        self.configPath = configPath
        self.configText = configText
    }
}

/// A finished run with its rows, as the writer commits it (in one transaction).
public struct FinishedRun: Sendable, Equatable {
    public var run: RunRecord
    public var metrics: [MetricRow]
    public var requests: [RequestRow]

    public init(run: RunRecord, metrics: [MetricRow], requests: [RequestRow]) {
        self.run = run
        self.metrics = metrics
        self.requests = requests
    }
}
