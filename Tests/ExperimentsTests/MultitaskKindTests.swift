import Foundation
import XCTest
@testable import Experiments

/// The `multitask` kind: the Multitask module validates the sections; its errors come back at
/// this file's key paths (a grid entry for a grid value). Validation only (runs: MultitaskTests).
final class MultitaskKindTests: XCTestCase {
    static func yaml(_ replace: [(String, String)] = []) -> String {
        var y = """
        format: gpusim-experiment/1
        name: mt-small
        kind: multitask
        hardware: {gpu: A100-SXM4-80GB}
        workload:
          tenants:
            - name: train
              kind: training
              priority: best-effort
              trace: \(Fixture.alexnet)
              iterations: 2
              gaps: drop
              memory_gib: 10
        parameters:
          memory: {mode: admission}
        policies: [exclusive, streams]
        grid:
          cartesian: {hardware.gpu: [A100-SXM4-80GB, H100-SXM5-80GB]}
        seeds: [1]
        """
        for (a, b) in replace { y = y.replacingOccurrences(of: a, with: b) }
        return y
    }

    func testExpandsWithInputDigests() throws {
        let e = try Fixture.experiment(Self.yaml())
        XCTAssertEqual(e.runs.count, 4)
        let digest = e.runs[0].kindConfig["input_sha256"]?["workload.tenants[0].trace"]?.stringValue
        XCTAssertEqual(digest, try SHA256.hex(fileAt: Fixture.alexnet))
    }

    func testErrorsNameThisFilesKeyPaths() throws {
        let cases: [([(String, String)], String, String)] = [
            ([("H100-SXM5-80GB]", "GTX-480]")], "grid.cartesian.hardware.gpu[1]", "GTX-480"),
            ([("kind: training", "kind: gaming")], "workload.tenants[0].kind", "gaming"),
            ([("iterations: 2", "iterations: many")], "workload.tenants[0].iterations", "many"),
            ([("[exclusive, streams]", "[exclusive, fifo]")], "policies[1]", "unknown policy 'fifo'"),
        ]
        for (replace, path, words) in cases {
            XCTAssertThrowsError(try Fixture.experiment(Self.yaml(replace), file: "mt.yaml"), path) { e in
                guard let ce = e as? ConfigError else { return XCTFail("\(path): \(e)") }
                XCTAssertEqual(ce.keyPath, path, ce.description)
                XCTAssertTrue(ce.description.contains(words), "\(path): '\(words)' not in \(ce.description)")
            }
        }
    }
}
