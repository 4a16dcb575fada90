// MIG geometry: the profiles a GPU offers (from its data file) and the validation of a layout
// of GPU instances. A placement is a start index into the GPU's memory slices, as
// `nvidia-smi mig -lgipp` prints them ("{0,4}:4" = starts 0 and 4, 4 slices each).

import Foundation

/// One GPU-instance profile, e.g. "3g.40gb".
public struct MIGProfile: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let computeSlices: Int
    public let memorySlices: Int
    public let smCount: Int
    public let memoryBytes: Int
    public let copyEngines: Int
    /// Instances of this profile that fit on one GPU at once.
    public let maxInstances: Int
    /// Valid start memory slices, ascending.
    public let placements: [Int]

    public init(name: String, computeSlices: Int, memorySlices: Int, smCount: Int, memoryBytes: Int,
                copyEngines: Int, maxInstances: Int, placements: [Int]) {
        self.name = name
        self.computeSlices = computeSlices
        self.memorySlices = memorySlices
        self.smCount = smCount
        self.memoryBytes = memoryBytes
        self.copyEngines = copyEngines
        self.maxInstances = maxInstances
        self.placements = placements
    }

    public var description: String { name }
}

/// A GPU's MIG geometry.
public struct MIGSpec: Sendable, Equatable {
    public let memorySlices: Int
    public let computeSlices: Int
    /// GPU instances per GPU, all profiles together.
    public let maxInstances: Int
    public let profiles: [MIGProfile]

    public init(memorySlices: Int, computeSlices: Int, maxInstances: Int, profiles: [MIGProfile]) {
        self.memorySlices = memorySlices
        self.computeSlices = computeSlices
        self.maxInstances = maxInstances
        self.profiles = profiles
    }

    /// Looks a profile up by name, case-insensitively; a leading "MIG " is ignored, and a bare
    /// compute size such as "3g" is accepted when exactly one profile has it.
    public func profile(named raw: String, gpu: String) throws(MIGError) -> MIGProfile {
        var key = raw.trimmingCharacters(in: .whitespaces).lowercased()
        if key.hasPrefix("mig ") { key = String(key.dropFirst(4)).trimmingCharacters(in: .whitespaces) }
        if let p = profiles.first(where: { $0.name.lowercased() == key }) { return p }
        if !key.contains(".") {
            let matches = profiles.filter { $0.name.lowercased().hasPrefix(key + ".") }
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 {
                throw .ambiguousProfile(gpu: gpu, name: raw, candidates: matches.map(\.name))
            }
        }
        throw .unknownProfile(gpu: gpu, name: raw, known: profiles.map(\.name))
    }
}

/// One GPU instance in a layout.
public struct MIGInstance: Sendable, Equatable, CustomStringConvertible {
    public let profile: MIGProfile
    /// First memory slice.
    public let start: Int
    public init(profile: MIGProfile, start: Int) {
        self.profile = profile
        self.start = start
    }
    public var memorySliceRange: Range<Int> { start..<(start + profile.memorySlices) }
    public var smCount: Int { profile.smCount }
    public var description: String { "\(profile.name)@\(start)" }
}

/// A validated set of GPU instances on one GPU. Instances keep the order they were given in.
public struct MIGLayout: Sendable, Equatable, CustomStringConvertible {
    public let gpu: String
    public let instances: [MIGInstance]

    /// Validates explicit placements: (profile name, start memory slice) for each instance.
    public init(spec: GPUSpec, placements: [(profile: String, start: Int)]) throws(MIGError) {
        let mig = try MIGLayout.migSpec(spec)
        let profiles = try placements.map { (p) throws(MIGError) in try mig.profile(named: p.profile, gpu: spec.name) }
        try MIGLayout.checkCounts(profiles, mig: mig, gpu: spec.name)
        var instances: [MIGInstance] = []
        for (profile, placement) in zip(profiles, placements) {
            guard profile.placements.contains(placement.start) else {
                throw .invalidPlacement(gpu: spec.name, profile: profile.name, start: placement.start,
                                        valid: profile.placements)
            }
            let instance = MIGInstance(profile: profile, start: placement.start)
            if let other = instances.first(where: { $0.memorySliceRange.overlaps(instance.memorySliceRange) }) {
                throw .overlap(gpu: spec.name, first: other.description, second: instance.description,
                               slices: Array(other.memorySliceRange.clamped(to: instance.memorySliceRange)))
            }
            instances.append(instance)
        }
        self.gpu = spec.name
        self.instances = instances
    }

    /// Validates a list of profile names and places them deterministically: larger instances
    /// first (then input order), each at the lowest start that still lets the rest fit.
    public init(spec: GPUSpec, profiles names: [String]) throws(MIGError) {
        let mig = try MIGLayout.migSpec(spec)
        let profiles = try names.map { (n) throws(MIGError) in try mig.profile(named: n, gpu: spec.name) }
        try MIGLayout.checkCounts(profiles, mig: mig, gpu: spec.name)
        // Largest first; ties keep input order. Depth-first search over placements, lowest start first.
        let order = profiles.indices.sorted { a, b in
            let pa = profiles[a], pb = profiles[b]
            if pa.memorySlices != pb.memorySlices { return pa.memorySlices > pb.memorySlices }
            if pa.computeSlices != pb.computeSlices { return pa.computeSlices > pb.computeSlices }
            return a < b
        }
        var starts = [Int](repeating: -1, count: profiles.count)
        var used = [Bool](repeating: false, count: mig.memorySlices)
        func place(_ k: Int) -> Bool {
            if k == order.count { return true }
            let i = order[k]
            let p = profiles[i]
            for s in p.placements where (s..<(s + p.memorySlices)).allSatisfy({ !used[$0] }) {
                for j in s..<(s + p.memorySlices) { used[j] = true }
                starts[i] = s
                if place(k + 1) { return true }
                for j in s..<(s + p.memorySlices) { used[j] = false }
            }
            return false
        }
        guard place(0) else {
            throw .noPlacement(gpu: spec.name, profiles: profiles.map(\.name))
        }
        self.gpu = spec.name
        self.instances = zip(profiles, starts).map { MIGInstance(profile: $0, start: $1) }
    }

    public var totalSMs: Int { instances.reduce(0) { $0 + $1.profile.smCount } }
    public var computeSlicesUsed: Int { instances.reduce(0) { $0 + $1.profile.computeSlices } }
    public var memorySlicesUsed: Int { instances.reduce(0) { $0 + $1.profile.memorySlices } }
    public var description: String { "\(gpu): " + instances.map(\.description).joined(separator: ", ") }

    private static func migSpec(_ spec: GPUSpec) throws(MIGError) -> MIGSpec {
        guard let mig = spec.mig else { throw .migNotSupported(gpu: spec.name) }
        return mig
    }

    /// Checks that do not depend on placement: per-profile and total instance counts, and the
    /// compute and memory slices needed against those the GPU has.
    private static func checkCounts(_ profiles: [MIGProfile], mig: MIGSpec, gpu: String) throws(MIGError) {
        var counts: [String: Int] = [:]
        for p in profiles { counts[p.name, default: 0] += 1 }
        for p in mig.profiles {
            if let n = counts[p.name], n > p.maxInstances {
                throw .tooManyInstancesOfProfile(gpu: gpu, profile: p.name, requested: n, max: p.maxInstances)
            }
        }
        if profiles.count > mig.maxInstances {
            throw .tooManyInstances(gpu: gpu, requested: profiles.count, max: mig.maxInstances)
        }
        let compute = profiles.reduce(0) { $0 + $1.computeSlices }
        if compute > mig.computeSlices {
            throw .computeSlicesExceeded(gpu: gpu, requested: compute, available: mig.computeSlices)
        }
        let memory = profiles.reduce(0) { $0 + $1.memorySlices }
        if memory > mig.memorySlices {
            throw .memorySlicesExceeded(gpu: gpu, requested: memory, available: mig.memorySlices)
        }
    }
}

/// Why a MIG layout is not valid.
public enum MIGError: Error, Sendable, Equatable, CustomStringConvertible {
    case migNotSupported(gpu: String)
    case unknownProfile(gpu: String, name: String, known: [String])
    case ambiguousProfile(gpu: String, name: String, candidates: [String])
    case tooManyInstancesOfProfile(gpu: String, profile: String, requested: Int, max: Int)
    case tooManyInstances(gpu: String, requested: Int, max: Int)
    case computeSlicesExceeded(gpu: String, requested: Int, available: Int)
    case memorySlicesExceeded(gpu: String, requested: Int, available: Int)
    case invalidPlacement(gpu: String, profile: String, start: Int, valid: [Int])
    case overlap(gpu: String, first: String, second: String, slices: [Int])
    case noPlacement(gpu: String, profiles: [String])

    public var description: String {
        switch self {
        case .migNotSupported(let gpu):
            return "\(gpu) does not support MIG"
        case .unknownProfile(let gpu, let name, let known):
            return "\(gpu) has no MIG profile '\(name)'; its profiles are: \(known.joined(separator: ", "))"
        case .ambiguousProfile(let gpu, let name, let candidates):
            return "MIG profile '\(name)' is ambiguous on \(gpu): it could be \(candidates.joined(separator: ", "))"
        case .tooManyInstancesOfProfile(let gpu, let profile, let requested, let max):
            return "\(requested) instances of \(profile) requested, but \(gpu) fits at most \(max)"
        case .tooManyInstances(let gpu, let requested, let max):
            return "\(requested) MIG instances requested, but \(gpu) allows at most \(max)"
        case .computeSlicesExceeded(let gpu, let requested, let available):
            return "the layout needs \(requested) compute slices, but \(gpu) has \(available)"
        case .memorySlicesExceeded(let gpu, let requested, let available):
            return "the layout needs \(requested) memory slices, but \(gpu) has \(available)"
        case .invalidPlacement(let gpu, let profile, let start, let valid):
            let v = valid.map(String.init).joined(separator: ", ")
            return "\(profile) cannot start at memory slice \(start) on \(gpu); valid starts: \(v)"
        case .overlap(let gpu, let first, let second, let slices):
            let s = slices.map(String.init).joined(separator: ", ")
            return "MIG instances \(first) and \(second) overlap on \(gpu) (memory slices \(s))"
        case .noPlacement(let gpu, let profiles):
            return "no placement of \(profiles.joined(separator: " + ")) fits on \(gpu)"
        }
    }
}
