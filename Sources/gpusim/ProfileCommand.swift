import ArgumentParser
import Foundation
import Profiles

/// `gpusim profile ...`: the measured cost model (module Profiles). This only parses
/// arguments and prints; loading, fitting, prediction and validation are library functions.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "The measured cost model: predict operation times from the profiles, and validate it.",
        discussion: """
        Profiles are read from Traces/profiles (found by looking upward from the current \
        directory), from $GPUSIM_DATA/profiles when GPUSIM_DATA names a Traces/ directory, or \
        from --profiles DIR.
        """,
        subcommands: [Predict.self, Validate.self]
    )

    enum PredictFormat: String, ExpressibleByArgument, CaseIterable { case text, json }
    enum ReportFormat: String, ExpressibleByArgument, CaseIterable { case text, json, csv }

    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Predict an operation's time in milliseconds.",
            discussion: """
            One operation:
              gpusim profile predict --gpu a100 --op mlp_up_proj --tokens 512 --hidden 4096 --ffn 14336 --tp 2 --gated
            prints the predicted milliseconds. A batch:
              gpusim profile predict --queries q.csv
            reads a CSV with header gpu,op,tokens,hidden,ffn,tp,gated (gated: true/false; optional \
            n_head,n_kv_head) and writes the same rows plus predicted_ms to stdout.
            Operations (Vidur's names): emb, input_layernorm, attn_pre_proj, attn_rope, attn_post_proj, \
            post_attention_layernorm, mlp_up_proj, mlp_act, mlp_down_proj, add.
            GPUs: a100, a40, h100 (or A100-SXM4-80GB, H100-SXM5-80GB, ...), and any GPU of a \
            calibration file given with --profile.
            """
        )

        @Option(help: "GPU name (a100, a40, h100, A100-SXM4-80GB, H100-SXM5-80GB, ...).")
        var gpu: String?

        @Option(help: "Operation, in Vidur's vocabulary (e.g. mlp_up_proj).")
        var op: String?

        @Option(help: "Tokens in the batch (the GEMM's M).")
        var tokens: Int?

        @Option(help: "Model hidden size (d_model).")
        var hidden: Int?

        @Option(help: "MLP inner size.")
        var ffn: Int?

        @Option(help: "Tensor-parallel degree.")
        var tp: Int = 1

        @Flag(help: "Gated MLP (SwiGLU: gate and up projections fused).")
        var gated = false

        @Option(help: "Attention heads (attn_pre_proj, attn_rope; default: multi-head attention).")
        var heads: Int?

        @Option(name: .customLong("kv-heads"), help: "Key/value heads (grouped-query attention).")
        var kvHeads: Int?

        @Option(help: "A CSV of queries (header gpu,op,tokens,hidden,ffn,tp,gated).")
        var queries: String?

        @Option(name: .customLong("profile"), help: "A calibration file (gpusim-calibration/1) whose GEMM times join the profiles; repeatable.")
        var calibrations: [String] = []

        @Option(help: "The profile directory (default: Traces/profiles, found upward from here, or $GPUSIM_DATA/profiles).")
        var profiles: String?

        @Option(help: "Output for one query: text (the milliseconds) or json.")
        var format: PredictFormat = .text

        func validate() throws {
            let single: [(String, Bool)] = [("--gpu", gpu != nil), ("--op", op != nil), ("--tokens", tokens != nil),
                                            ("--hidden", hidden != nil), ("--ffn", ffn != nil)]
            if queries != nil {
                if let given = single.first(where: { $0.1 }) {
                    throw ValidationError("--queries answers a file of queries; \(given.0) is for one query (give one or the other)")
                }
            } else {
                let missing = single.filter { !$0.1 }.map(\.0)
                if !missing.isEmpty {
                    throw ValidationError("missing \(missing.joined(separator: ", ")) (or give --queries FILE)")
                }
            }
        }

        func run() throws {
            try reportingErrors {
                var set = try ProfileSet.load(directory: try ProfileData.locate(explicit: profiles))
                for path in calibrations { try set.add(try Calibration.load(path: path)) }
                if let queries {
                    let file = try QueryFile.load(path: queries)
                    let gpus = try file.resolveGPUs(set.registry)
                    let model = try CostModel(profiles: set, only: gpus)
                    let out = try file.predict(with: model)
                    FileHandle.standardOutput.write(Data(out.utf8))
                    return
                }
                let q = ProfileQuery(gpu: gpu!, op: try Operation.named(op!), tokens: tokens!,
                                     dims: ModelDims(hidden: hidden!, ffn: ffn!, gated: gated, heads: heads, kvHeads: kvHeads),
                                     tp: tp)
                let model = try CostModel(profiles: set, only: [q.gpu])
                let p = try model.predict(q)
                switch format {
                case .text:
                    print(formatSignificant(p.ms, digits: 6))
                case .json:
                    print("{\"gpu\": \"\(try set.registry.resolve(q.gpu).name)\", \"op\": \"\(q.op)\", \"tokens\": \(q.tokens), "
                          + "\"predicted_ms\": \(formatSignificant(p.ms, digits: 6)), \"method\": \"\(p.method.rawValue)\"}")
                }
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Leave-one-model-out cross-validation over the shipped profiles.",
            discussion: """
            For each GPU and each profiled model, fits the cost model to the other models, predicts \
            every measured row of the held-out one, and reports the median, p95 and max relative \
            error per GPU and operation, with a PASS/FAIL line for the target (median <= 5%, \
            p95 <= 15% for mlp_up_proj and mlp_down_proj on every GPU).
            """
        )

        @Option(help: "Only this GPU.")
        var gpu: String?

        @Option(help: "Output: text, json or csv.")
        var format: ReportFormat = .text

        @Option(help: "The profile directory (default: Traces/profiles, found upward from here, or $GPUSIM_DATA/profiles).")
        var profiles: String?

        @Flag(help: "Exit with status 1 when the target is missed.")
        var strict = false

        func run() throws {
            var passes = true
            try reportingErrors {
                let set = try ProfileSet.load(directory: try ProfileData.locate(explicit: profiles))
                let report = try ValidationReport.leaveOneModelOut(set, gpus: gpu.map { [$0] })
                switch format {
                case .text: print(report.text())
                case .json: print(report.json())
                case .csv: print(report.csv(), terminator: "")
                }
                passes = report.passes
            }
            if strict && !passes { throw ExitCode.failure }
        }
    }
}

/// Prints a ProfileError as `error: FILE: WHERE: WHAT` on stderr and exits with status 1.
private func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ProfileError {
        FileHandle.standardError.write(Data("error: \(e)\n".utf8))
        throw ExitCode.failure
    }
}
