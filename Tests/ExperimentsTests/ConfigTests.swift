import Foundation
import XCTest
@testable import Experiments
@testable import Results

final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 / NIST example vectors.
    func testKnownVectors() throws {
        XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Fed in uneven pieces, the same digest.
        var x = SHA256()
        let text = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        x.update(text[0..<3]); x.update(text[3..<50]); x.update(text[50...])
        XCTAssertEqual(SHA256.hexString(x.finalize()), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}

final class ExperimentConfigTests: XCTestCase {
    func testExpansionIsGridTimesPoliciesTimesSeeds() throws {
        let e = try Fixture.experiment(Fixture.replayYAML(gpus: ["A100-SXM4-40GB", "H100-SXM5-80GB", "H200"], latencies: [0, 5],
                                                          policies: ["queued", "eager"], seeds: [1, 2]))
        XCTAssertEqual(e.runs.count, 3 * 2 * 2 * 2)
        XCTAssertEqual(e.runs.map(\.ordinal), Array(0..<24))
        XCTAssertEqual(Set(e.runs.map(\.id)).count, 24)
        // Nesting: grid point (last axis fastest), then policy, then seed.
        let first = e.runs.prefix(5).map { "\($0.params["hardware.gpu"]!.displayText) \($0.params["parameters.launch_latency_us"]!.text) \($0.policy) \($0.seed)" }
        XCTAssertEqual(first, ["A100-SXM4-40GB 0.0 queued 1", "A100-SXM4-40GB 0.0 queued 2", "A100-SXM4-40GB 0.0 eager 1",
                               "A100-SXM4-40GB 0.0 eager 2", "A100-SXM4-40GB 5.0 queued 1"])
        XCTAssertEqual(e.axes, ["hardware.gpu", "parameters.launch_latency_us"])
    }

    func testZipAdvancesTogetherAndBlocksUnite() throws {
        let yaml = """
        format: gpusim-experiment/1
        name: zipped
        kind: replay
        hardware: {data: \(Fixture.hardware)}
        workload: {trace: \(Fixture.alexnet)}
        policies: [queued]
        grid:
          - zip:
              hardware.gpu: [A100-SXM4-40GB, H100-SXM5-80GB, H200]
              parameters.launch_latency_us: [1, 2, 3]
          - cartesian: {hardware.gpu: [RTX-3090]}
            zip: [{parameters.launch_latency_us: [7, 8], parameters.queue_tolerance_us: [1, 2]}]
        seeds: {first: 10, count: 2}
        """
        let e = try Fixture.experiment(yaml)
        let points = e.runs.filter { $0.seed == 10 }.map {
            "\($0.params["hardware.gpu"]!.displayText)/\($0.params["parameters.launch_latency_us"]!.text)"
        }
        XCTAssertEqual(points, ["A100-SXM4-40GB/1", "H100-SXM5-80GB/2", "H200/3", "RTX-3090/7", "RTX-3090/8"])
        XCTAssertEqual(Set(e.runs.map(\.seed)), [10, 11])
    }

    /// The id depends on what the run is, not on how the file is written.
    func testRunIDsIgnoreFormattingButNotContent() throws {
        let a = try Fixture.experiment(Fixture.replayYAML())
        let reformatted = """
        # the same experiment, other layout and key order
        kind: replay
        name: small
        format: "gpusim-experiment/1"
        seeds:
          - 1
        policies:
          - queued
          - eager
        workload: {trace: "\(Fixture.alexnet)"}
        hardware: {data: \(Fixture.hardware)}
        requests: false
        grid: {cartesian: {hardware.gpu: [A100-SXM4-40GB, H100-SXM5-80GB], parameters.launch_latency_us: [0.0, 5.0]}}
        """
        let b = try Fixture.experiment(reformatted, file: "other.yaml")
        XCTAssertEqual(a.runs.map(\.id), b.runs.map(\.id))
        XCTAssertNotEqual(a.fileHash, b.fileHash)
        let seed2 = try Fixture.experiment(Fixture.replayYAML(seeds: [2]))
        XCTAssertTrue(Set(a.runs.map(\.id)).isDisjoint(with: seed2.runs.map(\.id)))
        let renamed = try Fixture.experiment(Fixture.replayYAML(name: "other"))
        XCTAssertTrue(Set(a.runs.map(\.id)).isDisjoint(with: renamed.runs.map(\.id)))
        let keepOne = try Fixture.experiment(Fixture.replayYAML(extra: "metrics: [kernels]"))
        XCTAssertTrue(Set(a.runs.map(\.id)).isDisjoint(with: keepOne.runs.map(\.id)), "what is kept is part of the run")
        // Launch latency 5 given as an integer or a float resolves to the same run.
        let intLatency = try Fixture.experiment(Fixture.replayYAML(latencies: [5]).replacingOccurrences(of: "[5.0]", with: "[5]"))
        XCTAssertEqual(intLatency.runs.map(\.configHash), a.runs.filter { $0.params["parameters.launch_latency_us"]?.text == "5.0" && $0.params["hardware.gpu"]?.displayText == "A100-SXM4-40GB" }.map(\.configHash) + a.runs.filter { $0.params["parameters.launch_latency_us"]?.text == "5.0" && $0.params["hardware.gpu"]?.displayText == "H100-SXM5-80GB" }.map(\.configHash))
    }

    /// Bad configs: each error names the file, the key path and what was expected.
    func testBadConfigsNameTheKeyPath() throws {
        let good = Fixture.replayYAML()
        let cases: [(String, String, [String])] = [
            // (yaml, key path, words the message must contain)
            (good + "\ncolour: blue", "colour", ["unknown key 'colour'", "known keys"]),
            (good.replacingOccurrences(of: "  trace:", with: "  trcae:"), "workload.trcae", ["unknown key 'trcae'"]),
            (good.replacingOccurrences(of: "seeds: [1]", with: "seeds: [one]"), "seeds[0]", ["expected a seed", "one"]),
            (good.replacingOccurrences(of: "seeds: [1]", with: "seeds: 1"), "seeds", ["expected at least one seed (a list)"]),
            (good.replacingOccurrences(of: "seeds: [1]", with: "seeds: []"), "seeds", ["empty list"]),
            (good.replacingOccurrences(of: "requests: false", with: "requests: maybe"), "requests", ["expected true or false"]),
            (good.replacingOccurrences(of: "parameters.launch_latency_us: [0.0, 5.0]", with: "parameters.launch_latency_us: []"),
             "grid.cartesian.parameters.launch_latency_us", ["empty grid axis"]),
            (good.replacingOccurrences(of: "parameters.launch_latency_us: [0.0, 5.0]", with: "parameters.launch_latency_us: [0.0, fast]"),
             "grid.cartesian.parameters.launch_latency_us[1]", ["expected a launch latency", "fast"]),
            (good.replacingOccurrences(of: "parameters.launch_latency_us: [0.0, 5.0]", with: "parameters.launch_latency_us: [-1]"),
             "grid.cartesian.parameters.launch_latency_us[0]", [">= 0.0"]),
            (good.replacingOccurrences(of: "H100-SXM5-80GB", with: "GTX-480"), "grid.cartesian.hardware.gpu[1]", ["unknown GPU 'GTX-480'", "A100-SXM4-80GB"]),
            (good.replacingOccurrences(of: "hardware.gpu:", with: "hardware.gpuu:"), "grid.cartesian.hardware.gpuu[0]", ["unknown key 'gpuu'", "did you mean 'gpu'"]),
            (good.replacingOccurrences(of: "hardware.gpu:", with: "gpu:"), "grid.cartesian.gpu", ["must be a key path under hardware, workload, parameters"]),
            (good.replacingOccurrences(of: "[queued, eager]", with: "[queued, fastest]"), "policies[1]", ["unknown policy 'fastest'", "queued, anchored, eager"]),
            (good.replacingOccurrences(of: "[queued, eager]", with: "[]"), "policies", ["at least one policy"]),
            (good.replacingOccurrences(of: "kind: replay", with: "kind: quantum"), "kind", ["unknown simulation kind 'quantum'", "replay"]),
            (good.replacingOccurrences(of: "format: gpusim-experiment/1", with: "format: gpusim-experiment/9"), "format", ["unsupported format"]),
            (good.replacingOccurrences(of: Fixture.alexnet, with: "/no/such/trace.json.gz"), "workload.trace", ["unreadable trace", "/no/such/trace.json.gz"]),
            (good.replacingOccurrences(of: "name: small", with: "name: 'two words'"), "name", ["expected a name"]),
            (good + "\nmetrics: [kernels, speed]", "metrics[1]", ["unknown metric 'speed'"]),
            (good.replacingOccurrences(of: "  cartesian:\n    hardware.gpu: [A100-SXM4-40GB, H100-SXM5-80GB]\n    parameters.launch_latency_us: [0.0, 5.0]",
                                       with: "  cartesian: {}"), "grid.cartesian", ["empty grid"]),
            (good.replacingOccurrences(of: "  cartesian:\n    hardware.gpu: [A100-SXM4-40GB, H100-SXM5-80GB]\n    parameters.launch_latency_us: [0.0, 5.0]",
                                       with: "  - {}"), "grid[0]", ["empty grid block"]),
            (good.replacingOccurrences(of: "grid:\n  cartesian:\n    hardware.gpu: [A100-SXM4-40GB, H100-SXM5-80GB]\n    parameters.launch_latency_us: [0.0, 5.0]",
                                       with: "grid: []"), "grid", ["empty grid"]),
            (good.replacingOccurrences(of: "  cartesian:", with: "  carthesian:"), "grid.carthesian", ["did you mean 'cartesian'"]),
            (good.replacingOccurrences(of: "policies: [queued, eager]",
                                       with: "policies: [queued, {name: slow, policy: eager, parameters: {launch_latency_us: 50}}]"),
             "policies[1].parameters.launch_latency_us", ["also varies"]),
            (good.replacingOccurrences(of: "[A100-SXM4-40GB, H100-SXM5-80GB]", with: "[A100-SXM4-40GB, a100-sxm4-40gb]"),
             "grid", ["the grid lists it twice"]),
            ("format: gpusim-experiment/1\nname: x\nkind: replay\npolicies: [queued]\nseeds: [1]\nworkload: {trace: \(Fixture.alexnet)}\nhardware: {data: \(Fixture.hardware), gpu: V100-SXM2-32GB}",
             "hardware.gpu", ["compute capability 7.0", "below the 8.0"]),
            ("format: gpusim-experiment/1\nname: x\nkind: replay\npolicies: [queued]\nseeds: [1]\nseeds: [2]", "", ["duplicate key"]),
            ("", "", ["empty"]),
            ("- a list", "", ["expected an experiment"]),
        ]
        for (yaml, path, words) in cases {
            XCTAssertThrowsError(try Fixture.experiment(yaml, file: "bad.yaml"), "should fail at \(path)") { e in
                guard let ce = e as? ConfigError else { return XCTFail("\(path): not a ConfigError: \(e)") }
                XCTAssertEqual(ce.file, "bad.yaml")
                XCTAssertEqual(ce.keyPath, path, ce.description)
                for w in words { XCTAssertTrue(ce.description.contains(w), "\(path): '\(w)' missing in: \(ce.description)") }
            }
        }
    }

    func testAGarbageTraceIsUnreadable() throws {
        let dir = try Fixture.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let garbage = dir.appendingPathComponent("garbage.json.gz").path
        try Data([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03]).write(to: URL(fileURLWithPath: garbage))
        let yaml = Fixture.replayYAML().replacingOccurrences(of: Fixture.alexnet, with: garbage)
        XCTAssertThrowsError(try Fixture.experiment(yaml)) { e in
            let t = "\(e)"
            XCTAssertTrue(t.contains("workload.trace") && t.contains("unreadable trace") && t.contains("garbage.json.gz"), t)
        }
    }

    func testShardsPartitionTheRuns() throws {
        let e = try Fixture.experiment(Fixture.replayYAML(gpus: ["A100-SXM4-40GB", "H100-SXM5-80GB", "H200"], seeds: [1, 2, 3]))
        var seen: [String] = []
        for i in 1...4 { seen += Sweep.select(e.runs, shard: try Shard(index: i, count: 4)).map(\.id) }
        XCTAssertEqual(seen.sorted(), e.runs.map(\.id).sorted())
        XCTAssertThrowsError(try Shard(parsing: "0/4"))
        XCTAssertThrowsError(try Shard(parsing: "5/4"))
        XCTAssertThrowsError(try Shard(parsing: "2-4"))
        XCTAssertEqual(try Shard(parsing: "3/4"), try Shard(index: 3, count: 4))
    }
}
