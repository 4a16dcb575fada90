// The GPUs the profiles know: their names (Vidur's folder names and our catalog's names)
// and SM counts, from Traces/profiles/devices.csv. The cost model's wave-quantisation terms
// need the SM count; nothing else about the GPU is assumed.

/// A GPU with profiles: Vidur's folder name (`a100`), its SM count and other names for it.
public struct GPUDevice: Sendable, Hashable {
    /// Canonical name: the Vidur folder (`a100`, `a40`, `h100`) or, for a GPU known only from
    /// a calibration file, the device name there.
    public var name: String
    public var sms: Int
    /// Other names accepted for it, case-insensitively (e.g. `A100-SXM4-80GB`).
    public var aliases: [String]
    public var description: String

    public init(name: String, sms: Int, aliases: [String] = [], description: String = "") {
        self.name = name
        self.sms = sms
        self.aliases = aliases
        self.description = description
    }

    func matches(_ normalized: String) -> Bool {
        if DeviceRegistry.normalize(name) == normalized { return true }
        return aliases.contains { DeviceRegistry.normalize($0) == normalized }
    }
}

/// The known GPUs and name resolution.
public struct DeviceRegistry: Sendable {
    public private(set) var devices: [GPUDevice]

    public init(devices: [GPUDevice]) { self.devices = devices }

    /// Reads `devices.csv`: header `gpu,sms,aliases,description`, aliases separated by `;`,
    /// lines starting with `#` ignored.
    public static func load(path: String) throws -> DeviceRegistry {
        var idx: [String: Int] = [:]
        var out: [GPUDevice] = []
        try CSVFile.read(path: path, comments: true, header: { (h: [String]) throws in
            for (i, name) in h.enumerated() { idx[name] = i }
            for need in ["gpu", "sms", "aliases", "description"] where idx[need] == nil {
                throw ProfileError(message: "missing column \(quoted(need)) (expected gpu,sms,aliases,description)")
            }
        }, row: { (f: [String], line: Int) throws in
            let name = f[idx["gpu"]!].trimmingSpaces()
            guard !name.isEmpty else {
                throw ProfileError(file: path, location: "line \(line), column \(idx["gpu"]! + 1) (gpu)", message: "empty GPU name")
            }
            guard let sms = Int(f[idx["sms"]!].trimmingSpaces()), sms > 0 else {
                throw ProfileError(file: path, location: "line \(line), column \(idx["sms"]! + 1) (sms)",
                                   message: "expected a positive integer, found \(quoted(f[idx["sms"]!]))")
            }
            let aliases = f[idx["aliases"]!].split(separator: ";").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
            out.append(GPUDevice(name: name, sms: sms, aliases: aliases, description: f[idx["description"]!]))
        })
        return DeviceRegistry(devices: out)
    }

    /// Lower case, without a leading "NVIDIA " and surrounding spaces.
    static func normalize(_ s: String) -> String {
        var t = s.trimmingSpaces().lowercased()
        if t.hasPrefix("nvidia ") { t = String(t.dropFirst("nvidia ".count)).trimmingSpaces() }
        return t
    }

    /// The GPU with this name or alias (case-insensitive), or nil.
    public func find(_ name: String) -> GPUDevice? {
        let n = DeviceRegistry.normalize(name)
        return devices.first { $0.matches(n) }
    }

    /// The GPU with this name or alias; the error lists the known ones.
    public func resolve(_ name: String) throws -> GPUDevice {
        if let d = find(name) { return d }
        throw ProfileError(message: "unknown GPU \(quoted(name)) (known: \(knownList))")
    }

    /// "a100 (A100-SXM4-80GB, ...), a40 (A40), ..."
    public var knownList: String {
        devices.map { d in d.aliases.isEmpty ? d.name : "\(d.name) (\(d.aliases.joined(separator: ", ")))" }
            .joined(separator: "; ")
    }

    /// Adds a GPU, or returns the existing one with a matching name.
    @discardableResult
    mutating func add(_ d: GPUDevice) -> GPUDevice {
        if let e = find(d.name) { return e }
        devices.append(d)
        return d
    }
}
