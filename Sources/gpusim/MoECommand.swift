import ArgumentParser
import Foundation
import MoE

/// `gpusim moe ...`: MoE expert offloading — routing traces and serving runs. The work is done
/// by the MoE module; this parses arguments and prints.
struct MoECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moe",
        abstract: "MoE expert offloading: routing traces, serving runs, the fMoE evaluation.",
        subcommands: [TraceStats.self, Generate.self, Run.self, Eval.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, markdown, json }

    static func fail(_ error: Error) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        return ExitCode.failure
    }

    struct TraceStats: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trace-stats",
            abstract: "Structure of a routing trace: per-layer entropy, popularity skew, repeat rate, cross-layer predictability.")

        @Argument(help: "A routing trace (gpusim-routing/1; plain, .gz or .zst).")
        var file: String

        @Option(name: .long, help: "Output format: text or json.")
        var format: OutputFormat = .text

        func run() throws {
            do {
                let s = try RoutingTraceStatistics.compute(path: file)
                print(format == .json ? s.json() : s.text(), terminator: format == .json ? "\n" : "")
            } catch { throw MoECommand.fail(error) }
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a routing trace from generator parameters (Traces/moe/generators/*.yaml).")

        @Argument(help: "Generator parameter file.")
        var params: String

        @Option(name: .shortAndLong, help: "Output file (.zst: compressed).")
        var output: String

        @Option(name: .long, help: "Requests to generate.")
        var requests: Int = 16

        @Option(name: .long, help: "Seed of the requests.")
        var seed: UInt64 = 1

        @Option(name: .long, help: "Row encoding: probs (all experts' probabilities) or topk (top-k ids and weights).")
        var row: String = "probs"

        @Option(name: .long, help: "Value type: f16 or f32.")
        var dtype: String = "f16"

        func validate() throws {
            guard requests > 0 else { throw ValidationError("--requests must be a positive integer, got \(requests)") }
            guard RoutingRowEncoding(rawValue: row) != nil else { throw ValidationError("--row must be probs or topk, got '\(row)'") }
            guard RoutingValueType(rawValue: dtype) != nil else { throw ValidationError("--dtype must be f16 or f32, got '\(dtype)'") }
        }

        func run() throws {
            do {
                let env = try MoEEnvironment()
                let p = try RoutingGeneratorParams.load(path: params)
                let model = try env.models.model(named: p.model)
                try RoutingGenerator.writeTrace(params: p, model: model, requests: requests, seed: seed, path: output,
                                                row: RoutingRowEncoding(rawValue: row)!, dtype: RoutingValueType(rawValue: dtype)!)
            } catch { throw MoECommand.fail(error) }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one MoE serving configuration (a YAML file; see Docs/moe.md) and print its metrics.")

        @Argument(help: "Run config (YAML).")
        var config: String

        @Option(name: .long, help: "Seed.")
        var seed: UInt64 = 1

        @Option(name: .long, help: "Override the policy.")
        var policy: String?

        @Option(name: .long, help: "Override the expert-cache budget (GB).")
        var budget: Double?

        @Option(name: .long, help: "Output format: text or json.")
        var format: OutputFormat = .text

        @Flag(name: .long, help: "Also print one line per request (id, arrival, first token, finish, tokens).")
        var requests = false

        func run() throws {
            do {
                var c = try MoERunConfig.load(path: config)
                if let p = policy {
                    guard MoERunConfig.policies.contains(p) else {
                        throw ValidationError("--policy must be one of \(MoERunConfig.policies.joined(separator: ", ")), got '\(p)'")
                    }
                    c.policy = p
                }
                if let b = budget {
                    guard b >= 0, b.isFinite else { throw ValidationError("--budget must be a non-negative number, got \(b)") }
                    c.expertCacheGB = b
                }
                let r = try MoESimulation(config: c).run(seed: seed)
                switch format {
                case .text:
                    for m in r.metrics { print("\(m.name): \(MoEReport.number(m.value))") }
                    if requests {
                        print("id arrival_s first_token_s finish_s input_tokens output_tokens")
                        for q in r.requests {
                            print("\(q.id) \(q.arrival.seconds) \(q.firstToken.seconds) \(q.finish.seconds) \(q.inputTokens) \(q.outputTokens)")
                        }
                    }
                case .json:
                    print(MoEReport.json(r, includeRequests: requests))
                }
            } catch let e as ValidationError { throw e } catch { throw MoECommand.fail(error) }
        }
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the fMoE evaluation grid (models × policies × budgets × testbeds) and compare with the paper.")

        @Option(name: .long, help: "Evaluation file (default: Experiments/fmoe-eval.yaml).")
        var config: String = "Experiments/fmoe-eval.yaml"

        @Option(name: .long, help: "Parallel runs.")
        var jobs: Int = 1

        @Option(name: .long, help: "Output format: text, markdown or json.")
        var format: Format = .text

        @Flag(name: .long, help: "Only the online run (Azure arrivals, empty store).")
        var onlineOnly = false

        @Flag(name: .long, help: "Skip the online run.")
        var offlineOnly = false

        func validate() throws {
            guard jobs >= 1 else { throw ValidationError("--jobs must be a positive integer, got \(jobs)") }
        }

        func run() throws {
            do {
                let spec = try MoEEvaluationSpec.load(path: config)
                let env = try MoEEnvironment()
                let results = try MoEEvaluation(spec: spec, environment: env)
                    .run(jobs: jobs, offline: !onlineOnly, online: !offlineOnly) { @Sendable line in
                        FileHandle.standardError.write(Data((line + "\n").utf8))
                    }
                switch format {
                case .text: print(results.text(), terminator: "")
                case .markdown: print(results.markdown(), terminator: "")
                case .json: print(results.json())
                }
            } catch { throw MoECommand.fail(error) }
        }
    }
}
