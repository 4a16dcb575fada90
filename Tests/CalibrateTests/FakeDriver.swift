// Builds the fake driver (FakeDriverSource.swift) into shared libraries once per test process.

import Foundation
import XCTest

enum FakeDriver {
    struct Built {
        /// Full fake: driver with green contexts, cuBLAS and NVRTC entry points.
        let full: String
        /// The same without the green-context entry points (as a driver older than 12.4).
        let noGreen: String
    }

    nonisolated(unsafe) private static var cached: Result<Built, Error>?
    private static let lock = NSLock()

    /// The built libraries; skips the test (with the reason) when no C compiler is found.
    static func libraries() throws -> Built {
        lock.lock()
        defer { lock.unlock() }
        if cached == nil { cached = Result { try build() } }
        return try cached!.get()
    }

    static func findExecutable(_ name: String) -> String? {
        var dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        dirs += ["/opt/swift/usr/bin", "/usr/bin", "/usr/local/bin"]
        if let swift = dirs.map({ $0 + "/swift" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let real = URL(fileURLWithPath: swift).resolvingSymlinksInPath().deletingLastPathComponent().path
            dirs.insert(real, at: 0)
        }
        return dirs.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private static func build() throws -> Built {
        guard let cc = ProcessInfo.processInfo.environment["CC"].flatMap({ findExecutable($0) ?? $0 }) ?? findExecutable("clang") ?? findExecutable("cc") else {
            throw XCTSkip("no C compiler (clang) found to build the fake CUDA driver")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-fake-cuda-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let source = dir.appendingPathComponent("fake_cuda.c")
        try Fake.cSource.write(to: source, atomically: true, encoding: .utf8)
        let full = dir.appendingPathComponent("libfakecuda.so").path
        let noGreen = dir.appendingPathComponent("libfakecuda-nogreen.so").path
        try compile(cc, source.path, full, [])
        try compile(cc, source.path, noGreen, ["-DFAKE_NO_GREEN"])
        return Built(full: full, noGreen: noGreen)
    }

    private static func compile(_ cc: String, _ source: String, _ output: String, _ extra: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: cc)
        p.arguments = ["-shared", "-fPIC", "-O1", "-o", output, source] + extra
        let err = Pipe()
        p.standardError = err
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "FakeDriver", code: Int(p.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "\(cc) failed building the fake driver: \(text)"])
        }
    }
}

/// Runs a program; returns (exit status, stdout, stderr).
func runProcess(_ path: String, _ args: [String], environment: [String: String]) throws -> (Int32, String, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// The built gpusim-calibrate next to the test bundle, if it was built.
func calibrateExecutable() -> String? {
    var dir = Bundle.main.bundleURL
    if dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
    for d in [dir, Bundle(for: BundleMarker.self).bundleURL.deletingLastPathComponent()] {
        let p = d.appendingPathComponent("gpusim-calibrate").path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

private final class BundleMarker {}
