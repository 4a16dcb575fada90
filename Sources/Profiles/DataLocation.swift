// Where the shipped profiles are: Traces/profiles in the repository.

import Foundation

public enum ProfileData {
    /// The profile directory (the one holding devices.csv and vidur/):
    /// 1. `explicit` (`--profiles DIR`) when given;
    /// 2. else `$GPUSIM_DATA/profiles`, GPUSIM_DATA naming a Traces/ directory;
    /// 3. else the first `Traces/profiles` found in `currentDirectory` or a directory above it.
    public static func locate(explicit: String? = nil,
                              environment: [String: String] = ProcessInfo.processInfo.environment,
                              currentDirectory: String = FileManager.default.currentDirectoryPath) throws -> String {
        let fm = FileManager.default
        func isProfileDir(_ p: String) -> Bool { fm.fileExists(atPath: p + "/devices.csv") }
        if let e = explicit {
            guard isProfileDir(e) else {
                throw ProfileError(file: e, message: "not a profile directory (expected devices.csv and vidur/GPU/MODEL/mlp.csv.zst in it, as in Traces/profiles)")
            }
            return e
        }
        if let data = environment["GPUSIM_DATA"], !data.isEmpty {
            let p = data + "/profiles"
            guard isProfileDir(p) else {
                throw ProfileError(message: "GPUSIM_DATA=\(data): \(p) is not a profile directory (GPUSIM_DATA names the Traces/ directory, which holds profiles/devices.csv)")
            }
            return p
        }
        var dir = URL(fileURLWithPath: currentDirectory).standardizedFileURL
        while true {
            let p = dir.appendingPathComponent("Traces/profiles").path
            if isProfileDir(p) { return p }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        throw ProfileError(message: "cannot find Traces/profiles in \(currentDirectory) or any directory above it; pass --profiles DIR or set GPUSIM_DATA to the Traces/ directory")
    }
}
