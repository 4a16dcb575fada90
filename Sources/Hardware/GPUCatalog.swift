// GPUCatalog: every GPU data file in a directory, looked up by name or alias.

import Foundation

/// The GPUs described by the data files (*.yaml, *.yml) of one directory.
public struct GPUCatalog: Sendable {
    /// Environment variable naming the data root (the folder that holds `hardware/`).
    public static let dataEnvironmentVariable = "GPUSIM_DATA"
    /// Where the data files live relative to the repository root, and relative to GPUSIM_DATA.
    public static let repositoryRelativePath = "Traces/hardware"
    public static let dataRelativePath = "hardware"

    public let directory: URL
    /// Specs sorted by name.
    public let specs: [GPUSpec]
    private let index: [String: Int]

    /// Loads every data file in `directory`. Each file must be named after its GPU
    /// (`a100-sxm4-80gb.yaml` for "A100-SXM4-80GB"), and no name or alias may repeat.
    public init(directory: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw GPUCatalogError.directoryNotFound(path: directory.path)
        }
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { ["yaml", "yml"].contains($0.pathExtension.lowercased()) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        guard !files.isEmpty else { throw GPUCatalogError.noDataFiles(path: directory.path) }

        var specs: [GPUSpec] = []
        var index: [String: Int] = [:]
        var owner: [String: String] = [:]
        for url in files {
            let spec = try GPUSpec.load(contentsOf: url)
            let stem = url.deletingPathExtension().lastPathComponent
            guard GPUCatalog.normalize(stem) == GPUCatalog.normalize(spec.name), stem == stem.lowercased() else {
                throw GPUSpecError(file: url.lastPathComponent, keyPath: "name",
                                   message: "the file must be named \(GPUCatalog.normalize(spec.name)).yaml after its GPU '\(spec.name)'")
            }
            var ownNames = Set<String>()
            for (i, n) in spec.allNames.enumerated() {
                let key = GPUCatalog.normalize(n)
                guard ownNames.insert(key).inserted else {
                    throw GPUSpecError(file: url.lastPathComponent, keyPath: "aliases[\(i - 1)]",
                                       message: "'\(n)' repeats a name already given for this GPU")
                }
                if let other = owner[key] {
                    throw GPUCatalogError.duplicateName(name: n, files: [other, url.lastPathComponent])
                }
                owner[key] = url.lastPathComponent
                index[key] = specs.count
            }
            specs.append(spec)
        }
        // Sort by name, remapping the index.
        let order = specs.indices.sorted { specs[$0].name < specs[$1].name }
        var newPosition = [Int](repeating: 0, count: specs.count)
        for (pos, old) in order.enumerated() { newPosition[old] = pos }
        self.specs = order.map { specs[$0] }
        self.index = index.mapValues { newPosition[$0] }
        self.directory = directory
    }

    /// Loads the catalog from `path` if given, else from the default directory.
    public init(path: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                currentDirectory: String = FileManager.default.currentDirectoryPath) throws {
        if let path {
            try self.init(directory: URL(fileURLWithPath: path, isDirectory: true))
        } else {
            try self.init(directory: GPUCatalog.defaultDirectory(environment: environment,
                                                                 currentDirectory: currentDirectory))
        }
    }

    /// The default data directory: `$GPUSIM_DATA/hardware` when GPUSIM_DATA is set, else the first
    /// `Traces/hardware` found in the current directory or one of its parents.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment,
                                        currentDirectory: String = FileManager.default.currentDirectoryPath) throws -> URL {
        let fm = FileManager.default
        func isDir(_ url: URL) -> Bool {
            var d: ObjCBool = false
            return fm.fileExists(atPath: url.path, isDirectory: &d) && d.boolValue
        }
        if let root = environment[dataEnvironmentVariable], !root.isEmpty {
            let dir = URL(fileURLWithPath: root, isDirectory: true).appendingPathComponent(dataRelativePath)
            guard isDir(dir) else {
                throw GPUCatalogError.directoryNotFound(path: dir.path + " (from \(dataEnvironmentVariable)=\(root))")
            }
            return dir
        }
        var searched: [String] = []
        var dir = URL(fileURLWithPath: currentDirectory, isDirectory: true).standardizedFileURL
        while true {
            let candidate = dir.appendingPathComponent(repositoryRelativePath)
            searched.append(candidate.path)
            if isDir(candidate) { return candidate }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        throw GPUCatalogError.dataNotFound(searched: searched)
    }

    /// Canonical names, sorted.
    public var names: [String] { specs.map(\.name) }

    /// The spec for a name or alias, case-insensitively (runs of spaces, '-' and '_' count as one '-').
    public func spec(named name: String) throws(GPUCatalogError) -> GPUSpec {
        guard let i = index[GPUCatalog.normalize(name)] else {
            throw .unknownGPU(name: name, known: names)
        }
        return specs[i]
    }

    public func contains(_ name: String) -> Bool { index[GPUCatalog.normalize(name)] != nil }

    /// Lower case, trimmed, with runs of whitespace, '-' and '_' collapsed to one '-'.
    public static func normalize(_ name: String) -> String {
        var out = ""
        var pendingSeparator = false
        for ch in name.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() {
            if ch == "-" || ch == "_" || ch.isWhitespace {
                pendingSeparator = true
            } else {
                if pendingSeparator && !out.isEmpty { out.append("-") }
                pendingSeparator = false
                out.append(ch)
            }
        }
        return out
    }
}

public enum GPUCatalogError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    case unknownGPU(name: String, known: [String])
    case directoryNotFound(path: String)
    case dataNotFound(searched: [String])
    case noDataFiles(path: String)
    case duplicateName(name: String, files: [String])

    public var description: String {
        switch self {
        case .unknownGPU(let name, let known):
            return "unknown GPU '\(name)'; known GPUs: \(known.joined(separator: ", "))"
        case .directoryNotFound(let path):
            return "GPU data directory not found: \(path)"
        case .dataNotFound(let searched):
            return "GPU data files not found: set \(GPUCatalog.dataEnvironmentVariable) to the folder holding "
                + "hardware/, or pass a path; looked in \(searched.joined(separator: ", "))"
        case .noDataFiles(let path):
            return "no GPU data files (*.yaml) in \(path)"
        case .duplicateName(let name, let files):
            return "GPU name '\(name)' appears in more than one data file: \(files.joined(separator: ", "))"
        }
    }

    public var errorDescription: String? { description }
}
