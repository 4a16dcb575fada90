import ArgumentParser
import Foundation
import SimCore

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the simulator's own speed (use a release build: swift build -c release).",
        subcommands: [Engine.self]
    )

    struct Engine: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Event-loop speed on the hold model: P pending events, pop one / push one, N times.",
            discussion: "Prints one line, `events_per_second: X` (or a JSON object with --format json)."
        )

        @Option(name: .long, help: "Events to handle (after the queue is filled).")
        var events: Int = 10_000_000

        @Option(name: .long, help: "Pending events held in the queue.")
        var pending: Int = 100_000

        @Option(name: .long, help: "Seed of the delay generator.")
        var seed: UInt64 = 1

        @Option(name: .long, help: "Output format: text or json.")
        var format: OutputFormat = .text

        func validate() throws {
            guard events > 0 else { throw ValidationError("--events must be a positive integer, got \(events)") }
            guard pending > 0 else { throw ValidationError("--pending must be a positive integer, got \(pending)") }
            guard pending <= 100_000_000 else {
                throw ValidationError("--pending must be at most 100000000, got \(pending)")
            }
        }

        func run() throws {
            var sim = HoldModel.makeSimulator(seed: seed, pending: pending)
            let clock = ContinuousClock()
            let start = clock.now
            HoldModel.run(&sim, events: events)
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            let rate = Double(events) / max(seconds, 1e-9)
            switch format {
            case .text:
                print("events_per_second: \(Int(rate.rounded()))")
            case .json:
                print("{\"events\": \(events), \"pending\": \(pending), \"seconds\": \(seconds), \"events_per_second\": \(Int(rate.rounded())), \"checksum\": \(sim.handler.checksum)}")
            }
        }
    }
}

/// Output formats shared by commands that print results.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
