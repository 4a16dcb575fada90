// The calibration file format (`schema: "gpusim-calibration/1"`): what gpusim-calibrate
// measures on a real GPU, and its strict loader. The format is documented in
// Traces/profiles/README.md; Traces/profiles/calibration/example.json is an example.

import Traces

/// A calibration file: measurements on one real GPU.
///
/// Units: bytes, microseconds (`*_us`) for copies, launches and kernels, milliseconds
/// (`*_ms`) for the GEMM/MLP times (as Vidur's profiles). Every time must be positive. Keys
/// are snake_case; unknown keys are errors, so a typo never passes silently.
public struct Calibration: Sendable, Equatable {
    public static let schema = "gpusim-calibration/1"

    /// The file it was read from.
    public var path: String
    /// Where the numbers come from, in words (e.g. "gpusim-calibrate on host X", or
    /// "example — not measured").
    public var source: String
    public var tool: String?
    /// ISO 8601 time of the run.
    public var createdAt: String?
    public var host: String?
    public var notes: [String]
    public var device: Device
    public var copies: [Copy]
    public var launch: Launch?
    public var smScaling: [SMScalingPoint]
    public var coRuns: [CoRun]
    public var gemms: [GEMMTime]

    public struct Device: Sendable, Equatable {
        /// As the driver reports it, e.g. "NVIDIA H100 80GB HBM3"; matched against the known
        /// GPUs' names and aliases (without "NVIDIA ", case-insensitively).
        public var name: String
        public var sms: Int
        public var memoryBytes: Int
        /// "major.minor", e.g. "9.0".
        public var computeCapability: String
        /// SM clock, kHz.
        public var clockKHz: Int
        /// cuDriverGetVersion (e.g. 12040 for 12.4).
        public var driverVersion: Int
        public var memoryClockKHz: Int?
        public var memoryBusWidthBits: Int?
        public var l2Bytes: Int?
        /// cublasGetVersion, e.g. 130100.
        public var cublasVersion: Int?
    }

    public enum CopyDirection: String, Sendable, Equatable, CaseIterable {
        case h2d, d2h, d2d
        /// One H2D and one D2H copy of `bytes` each at the same time, on two streams.
        case both = "h2d+d2h"
    }

    /// A copy of `bytes` (per direction for `h2d+d2h`), timed from start to end.
    public struct Copy: Sendable, Equatable {
        public var direction: CopyDirection
        /// Host memory pinned (page-locked) or pageable; true for device-to-device.
        public var pinned: Bool
        public var bytes: Int
        public var medianUs: Double
        public var p10Us: Double
        public var p90Us: Double
        public var repeats: Int
        /// For `h2d+d2h`: each direction's own median time.
        public var h2dMedianUs: Double?
        public var d2hMedianUs: Double?
    }

    /// Kernel launch latency: device time per launch of an empty kernel, back to back.
    public struct Launch: Sendable, Equatable {
        public var medianUs: Double
        public var p10Us: Double
        public var p90Us: Double
        public var repeats: Int
        /// Host time of one launch call.
        public var hostEnqueueUs: Double?
        /// One launch on an idle stream, timed with events around it.
        public var singleUs: Double?
    }

    public enum KernelKind: String, Sendable, Equatable, CaseIterable {
        case compute, memory, gemm
    }

    /// A calibration kernel's time when it may use `sms` SMs.
    public struct SMScalingPoint: Sendable, Equatable {
        public var kernel: KernelKind
        public var sms: Int
        public var medianUs: Double
        public var p10Us: Double?
        public var p90Us: Double?
        public var repeats: Int?
        /// Grid size (CTAs) of the kernel.
        public var ctas: Int?
        /// "green-context" or "grid-limited".
        public var method: String?
    }

    /// Two kernels started together on two streams, and each alone.
    public struct CoRun: Sendable, Equatable {
        public var first: KernelKind
        public var second: KernelKind
        public var firstAloneUs: Double
        public var secondAloneUs: Double
        /// From the common start to each kernel's own end when co-running.
        public var firstTogetherUs: Double
        public var secondTogetherUs: Double
        public var makespanUs: Double?

        public var firstSlowdown: Double { firstTogetherUs / firstAloneUs }
        public var secondSlowdown: Double { secondTogetherUs / secondAloneUs }
    }

    /// A GEMM / MLP projection time, in Vidur's vocabulary (as a row of its `mlp.csv`).
    public struct GEMMTime: Sendable, Equatable {
        public var op: Operation
        public var tokens: Int
        public var hidden: Int
        public var ffn: Int
        public var tp: Int
        public var gated: Bool
        public var medianMs: Double
        public var p10Ms: Double?
        public var p90Ms: Double?
        public var repeats: Int?
        /// A label for the shape (e.g. "Mixtral-8x7B").
        public var model: String?
        public var heads: Int?
        public var kvHeads: Int?

        public var shape: OpShape {
            // Checked when the file was loaded.
            try! OpShape(op: op, dims: ModelDims(hidden: hidden, ffn: ffn, gated: gated, heads: heads, kvHeads: kvHeads), tp: tp)
        }
    }

    /// Reads and validates a calibration file (plain, .gz or .zst). Errors name the file and
    /// the JSON key path (`$.gemms[3].median_ms`), and reject unknown keys, missing keys,
    /// wrong types, non-positive times and p10 > median > p90.
    public static func load(path: String) throws -> Calibration {
        let root: JSONValue
        do {
            let r = JSONReader(stream: try ByteStream(path: path))
            root = try r.readValue()
            try r.expectEnd()
        } catch let e as TraceError {
            throw ProfileError(e)
        }
        return try parse(root, path: path)
    }

    /// Validates an already-parsed document (see ``load(path:)``).
    public static func parse(_ root: JSONValue, path: String) throws -> Calibration {
        let o = try Obj(root, "$", path)
        try o.keys(required: ["schema", "source", "device"],
                   optional: ["tool", "created_at", "host", "notes", "copies", "launch", "sm_scaling", "co_runs", "gemms"])
        let schema = try o.string("schema")
        guard schema == Calibration.schema else {
            throw o.error("schema", "expected \(quoted(Calibration.schema)), found \(quoted(schema))")
        }
        let source = try o.string("source")
        guard !source.trimmingSpaces().isEmpty else { throw o.error("source", "expected a non-empty description of where the numbers come from") }

        let d = try o.object("device")
        try d.keys(required: ["name", "sms", "memory_bytes", "compute_capability", "clock_khz", "driver_version"],
                   optional: ["memory_clock_khz", "memory_bus_width_bits", "l2_bytes", "cublas_version"])
        let cc = try d.string("compute_capability")
        let ccParts = cc.split(separator: ".", omittingEmptySubsequences: false)
        guard ccParts.count == 2, ccParts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else {
            throw d.error("compute_capability", "expected \"major.minor\" (e.g. \"9.0\"), found \(quoted(cc))")
        }
        let name = try d.string("name")
        guard !name.trimmingSpaces().isEmpty else { throw d.error("name", "expected a non-empty device name") }
        let device = Device(
            name: name, sms: try d.positiveInt("sms"), memoryBytes: try d.positiveInt("memory_bytes"),
            computeCapability: cc, clockKHz: try d.positiveInt("clock_khz"), driverVersion: try d.positiveInt("driver_version"),
            memoryClockKHz: try d.optional("memory_clock_khz") { try d.positiveInt($0) },
            memoryBusWidthBits: try d.optional("memory_bus_width_bits") { try d.positiveInt($0) },
            l2Bytes: try d.optional("l2_bytes") { try d.positiveInt($0) },
            cublasVersion: try d.optional("cublas_version") { try d.positiveInt($0) })

        let notes = try o.optional("notes") { k in try o.array(k).map { try $0.string() } } ?? []

        let copies = try (o.optional("copies") { try o.array($0) } ?? []).map { (c: Elem) throws -> Copy in
            let c = try c.object()
            try c.keys(required: ["direction", "pinned", "bytes", "median_us", "p10_us", "p90_us", "repeats"],
                       optional: ["h2d_median_us", "d2h_median_us"])
            let dirText = try c.string("direction")
            guard let dir = CopyDirection(rawValue: dirText) else {
                throw c.error("direction", "expected one of \(CopyDirection.allCases.map { quoted($0.rawValue) }.joined(separator: ", ")), found \(quoted(dirText))")
            }
            let spread = try c.spread("median_us", "p10_us", "p90_us")
            let both = dir == .both
            func bothOnly(_ k: String) throws -> Double? {
                let v = try c.optional(k) { try c.positive($0) }
                if v != nil && !both { throw c.error(k, "only an \"h2d+d2h\" copy has \(k)") }
                return v
            }
            return Copy(direction: dir, pinned: try c.bool("pinned"), bytes: try c.positiveInt("bytes"),
                        medianUs: spread.median, p10Us: spread.p10!, p90Us: spread.p90!, repeats: try c.positiveInt("repeats"),
                        h2dMedianUs: try bothOnly("h2d_median_us"), d2hMedianUs: try bothOnly("d2h_median_us"))
        }

        let launch = try o.optional("launch") { k -> Launch in
            let l = try o.object(k)
            try l.keys(required: ["median_us", "p10_us", "p90_us", "repeats"], optional: ["host_enqueue_us", "single_us"])
            let s = try l.spread("median_us", "p10_us", "p90_us")
            return Launch(medianUs: s.median, p10Us: s.p10!, p90Us: s.p90!, repeats: try l.positiveInt("repeats"),
                          hostEnqueueUs: try l.optional("host_enqueue_us") { try l.positive($0) },
                          singleUs: try l.optional("single_us") { try l.positive($0) })
        }

        let sm = try (o.optional("sm_scaling") { try o.array($0) } ?? []).map { (e: Elem) throws -> SMScalingPoint in
            let p = try e.object()
            try p.keys(required: ["kernel", "sms", "median_us"], optional: ["p10_us", "p90_us", "repeats", "ctas", "method"])
            let s = try p.spread("median_us", "p10_us", "p90_us", spreadOptional: true)
            let sms = try p.positiveInt("sms")
            guard sms <= device.sms else { throw p.error("sms", "expected at most the device's \(device.sms) SMs, found \(sms)") }
            var method: String? = nil
            if let m = try p.optional("method", { try p.string($0) }) {
                guard m == "green-context" || m == "grid-limited" else {
                    throw p.error("method", "expected \"green-context\" or \"grid-limited\", found \(quoted(m))")
                }
                method = m
            }
            return SMScalingPoint(kernel: try p.kind("kernel"), sms: sms, medianUs: s.median, p10Us: s.p10, p90Us: s.p90,
                                  repeats: try p.optional("repeats") { try p.positiveInt($0) },
                                  ctas: try p.optional("ctas") { try p.positiveInt($0) }, method: method)
        }

        let coRuns = try (o.optional("co_runs") { try o.array($0) } ?? []).map { (e: Elem) throws -> CoRun in
            let c = try e.object()
            try c.keys(required: ["first", "second", "first_alone_us", "second_alone_us", "first_together_us", "second_together_us"],
                       optional: ["makespan_us"])
            return CoRun(first: try c.kind("first"), second: try c.kind("second"),
                         firstAloneUs: try c.positive("first_alone_us"), secondAloneUs: try c.positive("second_alone_us"),
                         firstTogetherUs: try c.positive("first_together_us"), secondTogetherUs: try c.positive("second_together_us"),
                         makespanUs: try c.optional("makespan_us") { try c.positive($0) })
        }

        let gemms = try (o.optional("gemms") { try o.array($0) } ?? []).map { (e: Elem) throws -> GEMMTime in
            let g = try e.object()
            try g.keys(required: ["op", "tokens", "hidden", "ffn", "tp", "gated", "median_ms"],
                       optional: ["p10_ms", "p90_ms", "repeats", "model", "n_head", "n_kv_head"])
            let opName = try g.string("op")
            let op: Operation
            do { op = try Operation.named(opName) } catch let e as ProfileError { throw g.error("op", e.message) }
            guard op.isGEMM else {
                throw g.error("op", "expected a GEMM operation (\(Operation.allCases.filter(\.isGEMM).map(\.rawValue).joined(separator: ", "))), found \(quoted(opName))")
            }
            let s = try g.spread("median_ms", "p10_ms", "p90_ms", spreadOptional: true)
            let t = GEMMTime(op: op, tokens: try g.positiveInt("tokens"), hidden: try g.positiveInt("hidden"),
                             ffn: try g.positiveInt("ffn"), tp: try g.positiveInt("tp"), gated: try g.bool("gated"),
                             medianMs: s.median, p10Ms: s.p10, p90Ms: s.p90,
                             repeats: try g.optional("repeats") { try g.positiveInt($0) },
                             model: try g.optional("model") { try g.string($0) },
                             heads: try g.optional("n_head") { try g.positiveInt($0) },
                             kvHeads: try g.optional("n_kv_head") { try g.positiveInt($0) })
            do {
                _ = try OpShape(op: op, dims: ModelDims(hidden: t.hidden, ffn: t.ffn, gated: t.gated, heads: t.heads, kvHeads: t.kvHeads), tp: t.tp)
            } catch let e as ProfileError {
                throw ProfileError(file: path, location: g.path, message: e.message)
            }
            return t
        }

        return Calibration(path: path, source: source, tool: try o.optional("tool") { try o.string($0) },
                           createdAt: try o.optional("created_at") { try o.string($0) },
                           host: try o.optional("host") { try o.string($0) }, notes: notes, device: device,
                           copies: copies, launch: launch, smScaling: sm, coRuns: coRuns, gemms: gemms)
    }
}

// MARK: strict JSON access with key paths

/// A JSON value at a key path, for error messages.
struct Elem {
    let value: JSONValue
    let path: String
    let file: String

    func error(_ m: String) -> ProfileError { ProfileError(file: file, location: path, message: m) }

    func object() throws -> Obj { try Obj(value, path, file) }

    func string() throws -> String {
        guard case .string(let s) = value else { throw error("expected a string, found \(value.typeDescription)") }
        return s
    }
}

/// A JSON object at a key path whose keys are checked against a schema.
struct Obj {
    let members: [JSONMember]
    let path: String
    let file: String

    init(_ v: JSONValue, _ path: String, _ file: String) throws {
        guard case .object(let m) = v else {
            throw ProfileError(file: file, location: path, message: "expected an object, found \(v.typeDescription)")
        }
        self.members = m
        self.path = path
        self.file = file
    }

    func sub(_ key: String) -> String { "\(path).\(key)" }

    func error(_ key: String, _ m: String) -> ProfileError { ProfileError(file: file, location: sub(key), message: m) }

    /// Rejects duplicate, unknown and missing keys.
    func keys(required: [String], optional: [String]) throws {
        var seen = Set<String>()
        let known = Set(required + optional)
        for m in members {
            guard seen.insert(m.key).inserted else { throw error(m.key, "duplicate key") }
            guard known.contains(m.key) else {
                throw error(m.key, "unknown key \(quoted(m.key)) (expected \((required + optional).joined(separator: ", ")))")
            }
        }
        for k in required where !seen.contains(k) {
            throw ProfileError(file: file, location: path, message: "missing key \(quoted(k))")
        }
    }

    func value(_ key: String) throws -> JSONValue {
        guard let v = members.first(where: { $0.key == key })?.value else {
            throw ProfileError(file: file, location: path, message: "missing key \(quoted(key))")
        }
        return v
    }

    func has(_ key: String) -> Bool { members.contains { $0.key == key } }

    func optional<T>(_ key: String, _ get: (String) throws -> T) throws -> T? {
        has(key) ? try get(key) : nil
    }

    func string(_ key: String) throws -> String { try Elem(value: value(key), path: sub(key), file: file).string() }

    func bool(_ key: String) throws -> Bool {
        let v = try value(key)
        guard case .bool(let b) = v else { throw error(key, "expected true or false, found \(v.typeDescription)") }
        return b
    }

    func object(_ key: String) throws -> Obj { try Obj(value(key), sub(key), file) }

    func array(_ key: String) throws -> [Elem] {
        let v = try value(key)
        guard case .array(let a) = v else { throw error(key, "expected an array, found \(v.typeDescription)") }
        return a.enumerated().map { Elem(value: $0.element, path: "\(sub(key))[\($0.offset)]", file: file) }
    }

    func positiveInt(_ key: String) throws -> Int {
        let v = try value(key)
        guard case .number(let n) = v, let i = n.exactInt64, i > 0, let r = Int(exactly: i) else {
            throw error(key, "expected a positive integer, found \(v.typeDescription)")
        }
        return r
    }

    func positive(_ key: String) throws -> Double {
        let v = try value(key)
        guard case .number(let n) = v else { throw error(key, "expected a positive number, found \(v.typeDescription)") }
        let d = n.double
        guard d.isFinite, d > 0 else { throw error(key, "expected a positive number, found \(n)") }
        return d
    }

    func kind(_ key: String) throws -> Calibration.KernelKind {
        let s = try string(key)
        guard let k = Calibration.KernelKind(rawValue: s) else {
            throw error(key, "expected one of \(Calibration.KernelKind.allCases.map { quoted($0.rawValue) }.joined(separator: ", ")), found \(quoted(s))")
        }
        return k
    }

    /// A median with its 10th and 90th percentiles (required unless `spreadOptional`),
    /// checked to be positive and ordered.
    func spread(_ median: String, _ p10: String, _ p90: String, spreadOptional: Bool = false) throws
        -> (median: Double, p10: Double?, p90: Double?) {
        let m = try positive(median)
        let lo = spreadOptional ? try optional(p10) { try positive($0) } : try positive(p10)
        let hi = spreadOptional ? try optional(p90) { try positive($0) } : try positive(p90)
        if let lo, lo > m { throw error(p10, "expected at most the median \(m), found \(lo)") }
        if let hi, hi < m { throw error(p90, "expected at least the median \(m), found \(hi)") }
        return (m, lo, hi)
    }
}
