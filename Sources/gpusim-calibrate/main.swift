// gpusim-calibrate: measures a real NVIDIA GPU through the CUDA driver API (loaded with dlopen)
// and writes a calibration file that gpusim loads with --profile FILE.
//
// Exit codes: 0 done; 3 no NVIDIA driver (libcuda.so.1 not found); 4 a CUDA call failed or the
// driver is unusable; 1 anything else (options, output file); 64 bad usage.

import ArgumentParser
import Calibrate
import Foundation

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpusim-calibrate",
        abstract: "Measure an NVIDIA GPU (copies, launch latency, SM scaling, co-runs, expert GEMMs) for gpusim.",
        discussion: """
        Loads libcuda.so.1 at run time (set GPUSIM_LIBCUDA or --libcuda to use another path), cuBLAS when \
        present (GPUSIM_LIBCUBLAS / --libcublas), and writes the calibration file (JSON, schema \
        gpusim-calibration/1) to --out. Exit codes: 3 no NVIDIA driver, 4 CUDA failure, 1 other.
        """)

    @Option(name: .long, help: "Calibration file to write (JSON).")
    var out: String

    @Flag(name: .long, help: "Fewer sizes, SM counts, token counts and repetitions (about a minute).")
    var quick = false

    @Option(name: .long, help: "CUDA device ordinal.")
    var device = 0

    @Option(name: .long, parsing: .upToNextOption, help: "Copy sizes (bytes; K, M, G suffixes allowed, powers of 1024).")
    var sizes: [String] = []

    @Option(name: .customLong("sm-counts"), parsing: .upToNextOption, help: "SM counts for the scaling series (all SMs always added).")
    var smCounts: [Int] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Token counts for the expert GEMMs.")
    var tokens: [Int] = []

    @Option(name: .long, parsing: .upToNextOption,
            help: "Sections to run: \(CalibrationSection.allCases.map(\.rawValue).joined(separator: ", ")) (default: all).")
    var sections: [String] = []

    @Option(name: .long, help: "Repetitions per measurement (overrides the defaults).")
    var repeats: Int?

    @Option(name: .long, help: "Warm-up runs per measurement (overrides the defaults).")
    var warmup: Int?

    @Option(name: .long, help: "Driver library path (default: $GPUSIM_LIBCUDA, else libcuda.so.1).")
    var libcuda: String?

    @Option(name: .long, help: "cuBLAS library path, or 'none' (default: $GPUSIM_LIBCUBLAS, else the usual places).")
    var libcublas: String?

    @Option(name: .long, help: "NVRTC library path, or 'none'.")
    var libnvrtc: String?

    @Option(name: .long, help: "Also write every raw measurement (JSON) to this file.")
    var raw: String?

    @Option(name: .customLong("from-raw"), help: "Write --out from a raw file written earlier with --raw (no GPU needed).")
    var fromRaw: String?

    @Flag(name: .long, help: "No progress lines on stderr.")
    var quiet = false

    func validate() throws {
        for s in sections where CalibrationSection(rawValue: s) == nil {
            throw ValidationError("unknown section '\(s)'; known: \(CalibrationSection.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for s in sizes where parseBytes(s) == nil { throw ValidationError("bad size '\(s)' (e.g. 4096, 64K, 16M, 1G)") }
        if let repeats, repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        if let warmup, warmup < 0 { throw ValidationError("--warmup must be at least 0") }
    }

    func run() throws {
        var options = CalibrationOptions()
        options.device = device
        options.quick = quick
        if !sizes.isEmpty { options.copySizes = sizes.compactMap(parseBytes) }
        if !smCounts.isEmpty { options.smCounts = smCounts }
        if !tokens.isEmpty { options.tokenCounts = tokens }
        if !sections.isEmpty { options.sections = Set(sections.compactMap(CalibrationSection.init(rawValue:))) }
        options.repeats = repeats
        options.warmup = warmup
        options.libcuda = libcuda
        options.libcublas = libcublas
        options.libnvrtc = libnvrtc
        let started = Date()
        if !quiet {
            options.log = { line in
                let t = String(format: "%7.1fs", Date().timeIntervalSince(started))
                FileHandle.standardError.write(Data("[\(t)] \(line)\n".utf8))
            }
        }
        do {
            if let fromRaw {
                try CalibrationWriter.write(try CalibrationWriter.readRaw(fromRaw), to: out)
                return
            }
            let calibrator = try Calibrator(options: options)
            let results = try calibrator.run(tool: "gpusim-calibrate", createdAt: ISO8601DateFormatter().string(from: started),
                                             host: ProcessInfo.processInfo.hostName)
            if let raw { try CalibrationWriter.writeRaw(results, to: raw) }
            try CalibrationWriter.write(results, to: out)
            options.log("wrote \(out)")
            if !calibrator.failures.isEmpty {
                for f in calibrator.failures {
                    FileHandle.standardError.write(Data("gpusim-calibrate: \(f)\n".utf8))
                }
                throw ExitCode(CalibrationError.ExitCode.cudaFailure)
            }
        } catch let e as CalibrationError {
            // No driver: exactly one line, starting "no NVIDIA driver: libcuda.so.1 not found".
            let line = e.exitCode == CalibrationError.ExitCode.noDriver ? e.description : "gpusim-calibrate: \(e.description)"
            FileHandle.standardError.write(Data((line + "\n").utf8))
            throw ExitCode(e.exitCode)
        }
    }
}

/// "4096", "64K", "16M", "1G" (powers of 1024).
func parseBytes(_ s: String) -> Int? {
    let t = s.trimmingCharacters(in: .whitespaces).uppercased()
    let mult: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    if let last = t.last, let m = mult[last] {
        guard let v = Int(t.dropLast()), v > 0 else { return nil }
        return v * m
    }
    guard let v = Int(t), v > 0 else { return nil }
    return v
}

CalibrateCommand.main()
