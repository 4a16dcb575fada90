// Loading Vidur's measured operator profiles (`mlp.csv`, plain or compressed) and the set of
// all shipped profiles under Traces/profiles.

import Foundation
import Traces

/// One measured operation time: a median in milliseconds for an operation shape at a token count.
public struct Measurement: Sendable {
    /// Canonical GPU name (``GPUDevice/name``).
    public var gpu: String
    /// Where it comes from: the Vidur model folder (e.g. `meta-llama_Llama-2-7b-hf`) or
    /// `calibration:FILE`. Leave-one-model-out validation holds out one source at a time.
    public var source: String
    public var shape: OpShape
    public var tokens: Int
    public var medianMs: Double
    /// From a calibration file (these take precedence over Vidur's where both measured a shape).
    public var isCalibration: Bool

    public init(gpu: String, source: String, shape: OpShape, tokens: Int, medianMs: Double, isCalibration: Bool = false) {
        self.gpu = gpu
        self.source = source
        self.shape = shape
        self.tokens = tokens
        self.medianMs = medianMs
        self.isCalibration = isCalibration
    }
}

/// One line of a Vidur `mlp.csv`.
public struct VidurRow: Sendable {
    public var line: Int
    public var dims: ModelDims
    public var vocab: Int?
    public var tokens: Int
    public var tp: Int
    /// `time_stats.<op>.median` for each operation the file has a column for (ms).
    public var medians: [Operation: Double]
}

/// A Vidur `mlp.csv` profile file. Columns are found by name: `n_embd`, `n_expanded_embd`,
/// `n_head`, `n_kv_head`, `use_gated_mlp` (True/False), `num_tokens`,
/// `num_tensor_parallel_workers`, optional `vocab_size`, and `time_stats.<op>.median` for the
/// operations present (phi-2's files have no `post_attention_layernorm`). Other columns
/// (min, max, mean, std) are ignored. An empty median cell is "not measured".
public struct VidurFile: Sendable {
    public var path: String
    public var operations: [Operation]
    public var rows: [VidurRow]

    public static func load(path: String) throws -> VidurFile {
        var col: [String: Int] = [:]
        var opCols: [(Operation, Int)] = []
        var rows: [VidurRow] = []
        let required = ["n_embd", "n_expanded_embd", "n_head", "n_kv_head", "use_gated_mlp", "num_tokens", "num_tensor_parallel_workers"]
        try CSVFile.read(path: path, header: { h in
            for (i, name) in h.enumerated() {
                col[name] = i
                if name.hasPrefix("time_stats."), name.hasSuffix(".median") {
                    let opName = String(name.dropFirst("time_stats.".count).dropLast(".median".count))
                    if let op = Operation(rawValue: opName) { opCols.append((op, i)) }
                }
            }
            for r in required where col[r] == nil {
                throw ProfileError(message: "missing column \(quoted(r)) (a Vidur mlp.csv has \(required.joined(separator: ", ")) and time_stats.OP.median columns)")
            }
            if opCols.isEmpty {
                throw ProfileError(message: "no time_stats.OP.median column for a known operation (\(Operation.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }, row: { f, line in
            func loc(_ name: String) -> String { "line \(line), column \(col[name]! + 1) (\(name))" }
            func int(_ name: String) throws -> Int {
                let s = f[col[name]!].trimmingSpaces()
                guard let v = Int(s), v > 0 else {
                    throw ProfileError(file: path, location: loc(name), message: "expected a positive integer, found \(quoted(s))")
                }
                return v
            }
            let gatedText = f[col["use_gated_mlp"]!].trimmingSpaces()
            let gated: Bool
            switch gatedText.lowercased() {
            case "true", "1": gated = true
            case "false", "0": gated = false
            default:
                throw ProfileError(file: path, location: loc("use_gated_mlp"), message: "expected True or False, found \(quoted(gatedText))")
            }
            var vocab: Int? = nil
            if col["vocab_size"] != nil { vocab = try int("vocab_size") }
            let dims = ModelDims(hidden: try int("n_embd"), ffn: try int("n_expanded_embd"), gated: gated,
                                 heads: try int("n_head"), kvHeads: try int("n_kv_head"))
            var medians: [Operation: Double] = [:]
            for (op, i) in opCols {
                let s = f[i].trimmingSpaces()
                if s.isEmpty { continue }
                guard let v = Double(s), v.isFinite, v > 0 else {
                    throw ProfileError(file: path, location: "line \(line), column \(i + 1) (time_stats.\(op).median)",
                                       message: "expected a positive time in milliseconds, found \(quoted(s))")
                }
                medians[op] = v
            }
            rows.append(VidurRow(line: line, dims: dims, vocab: vocab, tokens: try int("num_tokens"),
                                 tp: try int("num_tensor_parallel_workers"), medians: medians))
        })
        return VidurFile(path: path, operations: opCols.map(\.0), rows: rows)
    }

    /// The file's rows as measurements (one per row and operation with a median).
    public func measurements(gpu: String, source: String) throws -> [Measurement] {
        var out: [Measurement] = []
        out.reserveCapacity(rows.count * operations.count)
        for r in rows {
            for op in operations {
                guard let ms = r.medians[op] else { continue }
                let shape: OpShape
                do { shape = try OpShape(op: op, dims: r.dims, tp: r.tp) } catch let e as ProfileError {
                    throw ProfileError(file: path, location: "line \(r.line)", message: e.message)
                }
                out.append(Measurement(gpu: gpu, source: source, shape: shape, tokens: r.tokens, medianMs: ms))
            }
        }
        return out
    }
}

/// All measurements the cost model is fitted to: the shipped Vidur profiles and any
/// calibration files, by GPU.
public struct ProfileSet: Sendable {
    public var registry: DeviceRegistry
    /// Measurements by canonical GPU name.
    public var measurements: [String: [Measurement]]
    /// The profile directory it was loaded from.
    public var directory: String

    public init(registry: DeviceRegistry, measurements: [String: [Measurement]] = [:], directory: String = "") {
        self.registry = registry
        self.measurements = measurements
        self.directory = directory
    }

    /// GPUs with measurements, sorted.
    public var gpus: [String] { measurements.keys.filter { !(measurements[$0]?.isEmpty ?? true) }.sorted() }

    /// The sources (Vidur model folders, calibration files) measured on `gpu`, sorted.
    public func sources(gpu: String) -> [String] {
        Array(Set((measurements[gpu] ?? []).map(\.source))).sorted()
    }

    /// Loads `DIR/devices.csv` and every `DIR/vidur/GPU/MODEL/mlp.csv[.zst|.gz]`.
    public static func load(directory: String) throws -> ProfileSet {
        let fm = FileManager.default
        let devicesPath = directory + "/devices.csv"
        guard fm.fileExists(atPath: devicesPath) else {
            throw ProfileError(file: devicesPath, message: "not found (a profile directory has devices.csv and vidur/GPU/MODEL/mlp.csv.zst)")
        }
        var set = ProfileSet(registry: try DeviceRegistry.load(path: devicesPath), directory: directory)
        let vidur = directory + "/vidur"
        let gpuDirs = ((try? fm.contentsOfDirectory(atPath: vidur)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        for gpuDir in gpuDirs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: vidur + "/" + gpuDir, isDirectory: &isDir), isDir.boolValue else { continue }
            guard let device = set.registry.find(gpuDir) else {
                throw ProfileError(file: vidur + "/" + gpuDir, message: "GPU folder \(quoted(gpuDir)) has no entry in \(devicesPath)")
            }
            let models = ((try? fm.contentsOfDirectory(atPath: vidur + "/" + gpuDir)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            for model in models {
                let base = vidur + "/" + gpuDir + "/" + model + "/"
                guard let file = ["mlp.csv.zst", "mlp.csv.gz", "mlp.csv"].map({ base + $0 }).first(where: { fm.fileExists(atPath: $0) }) else { continue }
                let f = try VidurFile.load(path: file)
                set.measurements[device.name, default: []].append(contentsOf: try f.measurements(gpu: device.name, source: model))
            }
        }
        if set.measurements.isEmpty {
            throw ProfileError(file: vidur, message: "no profiles found (expected vidur/GPU/MODEL/mlp.csv.zst)")
        }
        return set
    }

    /// Joins a calibration file's GEMM times. A device the registry does not know becomes a new
    /// GPU (named as in the file, with its SM count). Returns the GPU the rows joined.
    @discardableResult
    public mutating func add(_ cal: Calibration) throws -> String {
        let device = registry.add(GPUDevice(name: cal.device.name, sms: cal.device.sms, aliases: [],
                                            description: "from calibration file \(cal.path)"))
        for g in cal.gemms {
            measurements[device.name, default: []].append(
                Measurement(gpu: device.name, source: "calibration:\(cal.path)", shape: g.shape,
                            tokens: g.tokens, medianMs: g.medianMs, isCalibration: true))
        }
        return device.name
    }
}
