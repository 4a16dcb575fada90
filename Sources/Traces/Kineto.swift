// PyTorch profiler / Kineto Chrome-trace JSON (`.json`, `.json.gz`, `.json.zst`), read as a
// stream: one `traceEvents` element is materialised at a time, and typed records (kernels,
// memcpys/memsets, CUDA runtime/driver calls) are handed to a visitor.
//
// Time: Kineto writes `ts` and `dur` in microseconds, as integers or with a fraction
// ("1712195495505583.2"); they are converted exactly to Int64 nanoseconds from the decimal
// text (digits below 1 ns, which Kineto never writes, are rounded half away from zero).

/// A GPU kernel (`"cat": "kernel"`).
public struct KinetoKernel: Sendable, Equatable {
    public var name: String
    /// Start, ns since the epoch of the trace's clock (Kineto: `ts` µs × 1000).
    public var tsNs: Int64
    public var durNs: Int64
    public var device: Int
    public var stream: Int
    /// Pairs the kernel with its launch (`KinetoRuntimeCall.correlation`).
    public var correlation: Int
    public var grid: (x: Int, y: Int, z: Int)
    public var block: (x: Int, y: Int, z: Int)
    public var registersPerThread: Int
    /// Static + dynamic shared memory per block, bytes (`args["shared memory"]`).
    public var sharedMemoryBytes: Int
    /// `args["blocks per SM"]` (grid blocks / SMs, may be fractional); nil when absent.
    public var blocksPerSM: Double?
    /// `args["est. achieved occupancy %"]`; nil when absent.
    public var estAchievedOccupancyPct: Double?

    public var endNs: Int64 { tsNs + durNs }
    public var ctas: Int { grid.x * grid.y * grid.z }
    public var threadsPerBlock: Int { block.x * block.y * block.z }

    public static func == (a: KinetoKernel, b: KinetoKernel) -> Bool {
        a.name == b.name && a.tsNs == b.tsNs && a.durNs == b.durNs && a.device == b.device && a.stream == b.stream
            && a.correlation == b.correlation && a.grid == b.grid && a.block == b.block
            && a.registersPerThread == b.registersPerThread && a.sharedMemoryBytes == b.sharedMemoryBytes
            && a.blocksPerSM == b.blocksPerSM && a.estAchievedOccupancyPct == b.estAchievedOccupancyPct
    }
}

/// What a copy event moves, from its name ("Memcpy HtoD (Pageable -> Device)", "Memset (Device)").
public enum KinetoCopyKind: String, Sendable, Equatable, CaseIterable {
    case htod = "HtoD", dtoh = "DtoH", dtod = "DtoD", htoh = "HtoH", ptop = "PtoP"
    case memset
    /// A memcpy whose name does not say its direction.
    case other
}

/// Host memory of a copy's host side, where the event name says.
public enum KinetoHostMemory: String, Sendable, Equatable {
    case pinned = "Pinned", pageable = "Pageable"
}

/// A memcpy (`gpu_memcpy`) or memset (`gpu_memset`) on the GPU.
public struct KinetoCopy: Sendable, Equatable {
    public var name: String
    public var kind: KinetoCopyKind
    /// The memory kinds in the name's parenthesis, e.g. ("Pageable", "Device"); nil if absent.
    /// A memset has one: `source` is nil and `destination` e.g. "Device".
    public var source: String?
    public var destination: String?
    public var bytes: Int64
    public var tsNs: Int64
    public var durNs: Int64
    public var device: Int
    public var stream: Int
    public var correlation: Int

    public var endNs: Int64 { tsNs + durNs }
    /// Pinned or pageable host memory when one side is a host buffer the name describes.
    public var hostMemory: KinetoHostMemory? {
        for s in [source, destination] { if let s, let h = KinetoHostMemory(rawValue: s) { return h } }
        return nil
    }

    /// Parses an event name into (kind, source, destination).
    public static func parseName(_ name: String, isMemset: Bool) -> (KinetoCopyKind, String?, String?) {
        var inner: String? = nil
        if let open = name.firstIndex(of: "("), let close = name.lastIndex(of: ")"), open < close {
            inner = String(name[name.index(after: open)..<close])
        }
        if isMemset { return (.memset, nil, inner?.trimmingSpaces) }
        var kind = KinetoCopyKind.other
        for k in [KinetoCopyKind.htod, .dtoh, .dtod, .htoh, .ptop] where name.contains(k.rawValue) { kind = k; break }
        guard let inner else { return (kind, nil, nil) }
        let parts = inner.split(separator: "->", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return (kind, inner.trimmingSpaces, nil) }
        return (kind, String(parts[0]).trimmingSpaces, String(parts[1]).trimmingSpaces)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// A CUDA runtime or driver API call on a CPU thread (`cuda_runtime` / `cuda_driver`),
/// e.g. cudaLaunchKernel; `correlation` matches the kernel or copy it launched.
public struct KinetoRuntimeCall: Sendable, Equatable {
    public enum API: String, Sendable { case runtime, driver }
    public var api: API
    public var name: String
    public var tsNs: Int64
    public var durNs: Int64
    public var correlation: Int
    public var processID: Int
    public var threadID: Int
    public var endNs: Int64 { tsNs + durNs }
}

/// One entry of the top-level `deviceProperties` array.
public struct KinetoDeviceProperties: Sendable, Equatable {
    public var id: Int
    public var name: String
    public var numSms: Int
    /// Bytes.
    public var totalGlobalMem: Int64
    public var computeMajor: Int
    public var computeMinor: Int
    // Present in every trace we ship; optional because older Kineto versions wrote fewer.
    public var maxThreadsPerBlock: Int?
    public var maxThreadsPerMultiprocessor: Int?
    public var regsPerBlock: Int?
    public var regsPerMultiprocessor: Int?
    public var warpSize: Int?
    public var sharedMemPerBlock: Int?
    public var sharedMemPerMultiprocessor: Int?
    public var sharedMemPerBlockOptin: Int?
}

/// A typed event handed to the visitor.
public enum KinetoRecord: Sendable, Equatable {
    case kernel(KinetoKernel)
    case copy(KinetoCopy)
    case runtime(KinetoRuntimeCall)
}

/// What `KinetoReader.read` returns once the whole file is read.
public struct KinetoSummary: Sendable, Equatable {
    /// From the top-level `deviceProperties` (empty if the trace has none). The key may come
    /// after `traceEvents` in the file, so it is only known at the end.
    public var deviceProperties: [KinetoDeviceProperties] = []
    /// Elements of `traceEvents`.
    public var eventCount = 0
    public var kernelCount = 0
    /// gpu_memcpy events.
    public var memcpyCount = 0
    /// gpu_memset events.
    public var memsetCount = 0
    public var runtimeCount = 0
    public var driverCount = 0
    /// Events of other categories (cpu_op, flows, metadata, ...), not delivered.
    public var otherCount = 0
    /// Top-level `traceName` / `schemaVersion` when present.
    public var traceName: String? = nil
    public var schemaVersion: Int? = nil
    /// Compression of the file, from its magic bytes.
    public var compression: TraceCompression = .none
    /// False when reading stopped early at `maxEvents`: then the counts cover only the
    /// events read, and keys after `traceEvents` (maybe `deviceProperties`) were not seen.
    public var complete = true
}

/// Reads a Kineto trace. Usage:
///
///     let summary = try KinetoReader(path: p).read { record in
///         if case .kernel(let k) = record { ... }
///     }
///
/// Records arrive in file order (Kineto does not sort events by time). `deviceProperties` is
/// delivered in the returned summary, because it may follow `traceEvents` in the file.
public struct KinetoReader: Sendable {
    public let path: String
    /// The largest single `traceEvents` element accepted, in bytes of JSON text.
    public var maxEventBytes: Int64 = 64 << 20

    public init(path: String) { self.path = path }

    /// Reads the trace, calling `visit` for each kernel, copy and runtime/driver call, in file
    /// order. With `maxEvents`, stops after that many `traceEvents` elements (for a quick
    /// look at a large file; the summary then says `complete == false`).
    public func read(maxEvents: Int? = nil, _ visit: (KinetoRecord) throws -> Void) throws -> KinetoSummary {
        let stream = try ByteStream(path: path)
        defer { stream.close() }
        let json = JSONReader(stream: stream)
        var summary = KinetoSummary()
        summary.compression = stream.compression
        func fail(_ m: String, _ off: Int64) -> TraceError {
            TraceError(file: path, location: .byteOffset(off), message: m)
        }
        guard let first = try json.peek() else {
            throw TraceError(file: path, location: .file,
                             message: "empty file: expected a JSON object with a traceEvents array (a Kineto trace)")
        }
        if first == 0x5B {
            throw fail("not a Kineto trace: the top-level value is an array, expected an object with a traceEvents array", json.offset)
        }
        if first != 0x7B {
            throw fail("not JSON: expected '{' (a JSON object with a traceEvents array), found \(JSONReader.show(first))", json.offset)
        }
        json.consume()
        var sawEvents = false
        var sawDevices = false
        var keyCount = 0
        if try json.peek() == 0x7D {
            json.consume()
        } else {
            while true {
                let keyOff = json.offset
                let key = try json.readString()
                keyCount += 1
                try json.expect(0x3A, "':' after the key \(quoteForError(key, limit: 40))")
                switch key {
                case "traceEvents":
                    if sawEvents { throw fail("a second traceEvents key (expected one)", keyOff) }
                    sawEvents = true
                    if try !readEvents(json, &summary, maxEvents: maxEvents, visit) {
                        summary.complete = false
                        return summary
                    }
                case "deviceProperties":
                    if sawDevices { throw fail("a second deviceProperties key (expected one)", keyOff) }
                    sawDevices = true
                    let off = json.offset
                    summary.deviceProperties = try parseDeviceProperties(try json.readValue(), offset: off)
                case "traceName":
                    let v = try json.readValue()
                    if case .string(let s) = v { summary.traceName = s }
                case "schemaVersion":
                    let v = try json.readValue()
                    if case .number(let n) = v, let i = n.exactInt64 { summary.schemaVersion = Int(i) }
                default:
                    try json.skipValue()
                }
                let q = try json.peek()
                if q == 0x2C { json.consume(); continue }
                if q == 0x7D { json.consume(); break }
                throw fail("expected ',' or '}' after the value of the top-level key \(quoteForError(key, limit: 40)), found \(JSONReader.show(q))", json.offset)
            }
        }
        try json.expectEnd()
        if !sawEvents {
            throw TraceError(file: path, location: .file,
                             message: "not a Kineto trace: no traceEvents array (the top-level object has \(keyCount) other key\(keyCount == 1 ? "" : "s"))")
        }
        return summary
    }

    /// False if it stopped at maxEvents.
    private func readEvents(_ json: JSONReader, _ summary: inout KinetoSummary, maxEvents: Int?,
                            _ visit: (KinetoRecord) throws -> Void) throws -> Bool {
        let off = json.offset
        let p = try json.peek()
        guard p == 0x5B else {
            throw TraceError(file: path, location: .byteOffset(off),
                             message: "not a Kineto trace: traceEvents is not an array (found \(JSONReader.show(p)))")
        }
        json.consume()
        if try json.peek() == 0x5D { json.consume(); return true }
        var index = 0
        while true {
            if let m = maxEvents, index >= m { return false }
            _ = try json.peek()
            let start = json.offset
            let value: JSONValue
            do {
                value = try readEvent(json)
            } catch var e as TraceError {
                // A syntax error inside an event: keep its exact byte, say which event.
                if case .byteOffset = e.location { e.message = "in record \(index) (traceEvents[\(index)], from byte \(start)): " + e.message }
                throw e
            }
            if json.offset - start > maxEventBytes {
                throw TraceError(file: path, location: .traceEvent(index: index, byteOffset: start),
                                 message: "event larger than \(maxEventBytes) bytes")
            }
            let ev = EventFields(value: value, file: path, location: .traceEvent(index: index, byteOffset: start))
            try classify(ev, &summary, visit)
            summary.eventCount += 1
            index += 1
            let q = try json.peek()
            if q == 0x2C { json.consume(); continue }
            if q == 0x5D { json.consume(); return true }
            throw TraceError(file: path, location: .byteOffset(json.offset),
                             message: "expected ',' or ']' after traceEvents[\(index - 1)], found \(JSONReader.show(q))")
        }
    }

    /// Categories whose events are delivered (others are only counted).
    static let deliveredCategories: Set<String> = [
        "kernel", "Kernel", "gpu_memcpy", "Memcpy", "gpu_memset", "Memset",
        "cuda_runtime", "Runtime", "cuda_driver", "Driver",
    ]

    /// Materialises one event object; once its "cat" shows it is not delivered, the rest of
    /// its members are skipped (syntax-checked, not built), which saves most of the work on
    /// CPU-op and flow events.
    private func readEvent(_ json: JSONReader) throws -> JSONValue {
        guard try json.peek() == 0x7B else { return try json.readValue() }
        json.consume()
        var members: [JSONMember] = []
        if try json.peek() == 0x7D { json.consume(); return .object(members) }
        var skipping = false
        while true {
            let p = try json.peek()
            guard p == 0x22 else {
                throw json.error("expected a string key or '}' in an object, found \(JSONReader.show(p))")
            }
            let key = try json.readString()
            try json.expect(0x3A, "':' after the key \(quoteForError(key, limit: 40))")
            if skipping {
                try json.skipValue()
            } else {
                let v = try json.readValue()
                members.append(JSONMember(key: key, value: v))
                if key == "cat", case .string(let c) = v, !KinetoReader.deliveredCategories.contains(c) {
                    skipping = true
                    members.removeAll()
                    members.append(JSONMember(key: key, value: v))
                }
            }
            let q = try json.peek()
            if q == 0x2C { json.consume(); continue }
            if q == 0x7D { json.consume(); return .object(members) }
            throw json.error("expected ',' or '}' after the value of \(quoteForError(key, limit: 40)), found \(JSONReader.show(q))")
        }
    }

    private func classify(_ ev: EventFields, _ summary: inout KinetoSummary,
                          _ visit: (KinetoRecord) throws -> Void) throws {
        guard case .object = ev.value else {
            throw ev.error("expected an object, found \(ev.value.typeDescription)")
        }
        // Kineto writes complete events ("ph": "X") for GPU activity; older versions used
        // capitalised categories ("Kernel", "Memcpy", "Memset", "Runtime", "Driver").
        guard case .string(let cat)? = ev.value["cat"] else { summary.otherCount += 1; return }
        switch cat {
        case "kernel", "Kernel":
            try requireComplete(ev)
            let args = try ev.args()
            let grid = try ev.dim3(args, "grid")
            let block = try ev.dim3(args, "block")
            let k = KinetoKernel(
                name: try ev.string("name"),
                tsNs: try ev.timeNs("ts"), durNs: try ev.durationNs(),
                device: try ev.int(args, "device"), stream: try ev.int(args, "stream"),
                correlation: try ev.int(args, "correlation"),
                grid: grid, block: block,
                registersPerThread: try ev.int(args, "registers per thread", min: 0),
                sharedMemoryBytes: try ev.int(args, "shared memory", min: 0),
                blocksPerSM: try ev.optionalDouble(args, "blocks per SM"),
                estAchievedOccupancyPct: try ev.optionalDouble(args, "est. achieved occupancy %"))
            summary.kernelCount += 1
            try visit(.kernel(k))
        case "gpu_memcpy", "Memcpy", "gpu_memset", "Memset":
            try requireComplete(ev)
            let isMemset = cat == "gpu_memset" || cat == "Memset"
            let args = try ev.args()
            let name = try ev.string("name")
            let (kind, src, dst) = KinetoCopy.parseName(name, isMemset: isMemset)
            let c = KinetoCopy(
                name: name, kind: kind, source: src, destination: dst,
                bytes: Int64(try ev.int(args, "bytes", min: 0)),
                tsNs: try ev.timeNs("ts"), durNs: try ev.durationNs(),
                device: try ev.int(args, "device"), stream: try ev.int(args, "stream"),
                correlation: try ev.int(args, "correlation"))
            if isMemset { summary.memsetCount += 1 } else { summary.memcpyCount += 1 }
            try visit(.copy(c))
        case "cuda_runtime", "Runtime", "cuda_driver", "Driver":
            try requireComplete(ev)
            let args = try ev.args()
            let api: KinetoRuntimeCall.API = (cat == "cuda_runtime" || cat == "Runtime") ? .runtime : .driver
            let r = KinetoRuntimeCall(
                api: api, name: try ev.string("name"),
                tsNs: try ev.timeNs("ts"), durNs: try ev.durationNs(),
                correlation: try ev.int(args, "correlation"),
                processID: try ev.int(ev.value, "pid", what: "\"pid\""),
                threadID: try ev.int(ev.value, "tid", what: "\"tid\""))
            if api == .runtime { summary.runtimeCount += 1 } else { summary.driverCount += 1 }
            try visit(.runtime(r))
        default:
            summary.otherCount += 1
        }
    }

    private func requireComplete(_ ev: EventFields) throws {
        guard case .string(let ph)? = ev.value["ph"] else {
            throw ev.error("expected a string for \"ph\" (\"X\" for a GPU event), found \(ev.value["ph"]?.typeDescription ?? "no such key")")
        }
        guard ph == "X" else { throw ev.error("expected \"ph\": \"X\" (a complete event with ts and dur), found \(quoteForError(ph))") }
    }

    private func parseDeviceProperties(_ v: JSONValue, offset: Int64) throws -> [KinetoDeviceProperties] {
        guard case .array(let items) = v else {
            throw TraceError(file: path, location: .byteOffset(offset),
                             message: "expected deviceProperties to be an array, found \(v.typeDescription)")
        }
        var out: [KinetoDeviceProperties] = []
        for (i, item) in items.enumerated() {
            let f = EventFields(value: item, file: path, location: .byteOffset(offset),
                                context: "deviceProperties[\(i)]")
            guard case .object = item else { throw f.error("expected an object, found \(item.typeDescription)") }
            out.append(KinetoDeviceProperties(
                id: try f.int(item, "id", what: "\"id\""), name: try f.string("name"),
                numSms: try f.int(item, "numSms", min: 1, what: "\"numSms\""),
                totalGlobalMem: Int64(try f.int(item, "totalGlobalMem", min: 0, what: "\"totalGlobalMem\"")),
                computeMajor: try f.int(item, "computeMajor", min: 0, what: "\"computeMajor\""),
                computeMinor: try f.int(item, "computeMinor", min: 0, what: "\"computeMinor\""),
                maxThreadsPerBlock: try f.optionalInt(item, "maxThreadsPerBlock"),
                maxThreadsPerMultiprocessor: try f.optionalInt(item, "maxThreadsPerMultiprocessor"),
                regsPerBlock: try f.optionalInt(item, "regsPerBlock"),
                regsPerMultiprocessor: try f.optionalInt(item, "regsPerMultiprocessor"),
                warpSize: try f.optionalInt(item, "warpSize"),
                sharedMemPerBlock: try f.optionalInt(item, "sharedMemPerBlock"),
                sharedMemPerMultiprocessor: try f.optionalInt(item, "sharedMemPerMultiprocessor"),
                sharedMemPerBlockOptin: try f.optionalInt(item, "sharedMemPerBlockOptin")))
        }
        return out
    }
}

/// Typed access to one materialised event, with errors that name the event and the key.
struct EventFields {
    let value: JSONValue
    let file: String
    let location: TraceLocation
    var context: String? = nil

    func error(_ m: String) -> TraceError {
        TraceError(file: file, location: location, message: context.map { "\($0): \(m)" } ?? m)
    }

    func string(_ key: String) throws -> String {
        guard let v = value[key] else { throw error("missing \"\(key)\" (expected a string)") }
        guard case .string(let s) = v else { throw error("expected a string for \"\(key)\", found \(v.typeDescription)") }
        return s
    }

    func number(_ obj: JSONValue, _ key: String, what: String) throws -> JSONNumber {
        guard let v = obj[key] else { throw error("missing \(what) (expected a number)") }
        guard case .number(let n) = v else { throw error("expected a number for \(what), found \(v.typeDescription)") }
        return n
    }

    func timeNs(_ key: String) throws -> Int64 {
        let n = try number(value, key, what: "\"\(key)\"")
        guard let ns = n.scaled(by: 3) else {
            throw error("\"\(key)\" = \(n) µs is out of range (expected microseconds that fit in Int64 nanoseconds)")
        }
        return ns
    }

    /// `dur` in ns; must be >= 0, and `ts + dur` must fit in Int64 (so `endNs` is safe).
    func durationNs() throws -> Int64 {
        let d = try timeNs("dur")
        if d < 0 { throw error("negative \"dur\" \(try number(value, "dur", what: "\"dur\"")) (expected a duration >= 0 µs)") }
        let ts = try timeNs("ts")
        if ts.addingReportingOverflow(d).overflow {
            throw error("\"ts\" + \"dur\" is out of range (expected an end time that fits in Int64 nanoseconds)")
        }
        return d
    }

    func args() throws -> JSONValue {
        guard let a = value["args"] else { throw error("missing \"args\" (expected an object)") }
        guard case .object = a else { throw error("expected an object for \"args\", found \(a.typeDescription)") }
        return a
    }

    func int(_ obj: JSONValue, _ key: String, min: Int = Int.min, what: String? = nil) throws -> Int {
        let w = what ?? "args[\"\(key)\"]"
        let n = try number(obj, key, what: w)
        guard let i = n.exactInt64 else { throw error("expected an integer for \(w), found \(n)") }
        guard i >= Int64(min) else { throw error("expected \(w) >= \(min), found \(n)") }
        return Int(i)
    }

    func optionalInt(_ obj: JSONValue, _ key: String) throws -> Int? {
        guard obj[key] != nil else { return nil }
        return try int(obj, key, min: 0, what: "\"\(key)\"")
    }

    func optionalDouble(_ obj: JSONValue, _ key: String) throws -> Double? {
        guard let v = obj[key] else { return nil }
        guard case .number(let n) = v else { throw error("expected a number for args[\"\(key)\"], found \(v.typeDescription)") }
        return n.double
    }

    func dim3(_ obj: JSONValue, _ key: String) throws -> (x: Int, y: Int, z: Int) {
        guard let v = obj[key] else { throw error("missing args[\"\(key)\"] (expected [x, y, z])") }
        guard case .array(let a) = v, a.count == 3 else {
            throw error("expected args[\"\(key)\"] to be an array of 3 integers, found \(v.typeDescription)")
        }
        var r: [Int] = []
        for e in a {
            guard case .number(let n) = e, let i = n.exactInt64, i >= 0 else {
                throw error("expected args[\"\(key)\"] to be an array of 3 integers >= 0, found an element \(e.typeDescription)")
            }
            r.append(Int(i))
        }
        return (r[0], r[1], r[2])
    }
}
