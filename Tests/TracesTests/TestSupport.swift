import Foundation
import XCTest
@testable import Traces

/// Paths of the shipped traces (repo-root Traces/) and of the test fixtures.
enum Paths {
    /// The repository root, from this file's location (Tests/TracesTests/TestSupport.swift).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func shipped(_ relative: String) -> String {
        repoRoot.appendingPathComponent("Traces").appendingPathComponent(relative).path
    }

    static func fixture(_ name: String) -> String {
        guard let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            return repoRoot.appendingPathComponent("Tests/TracesTests/Fixtures").appendingPathComponent(name).path
        }
        return dir.appendingPathComponent(name).path
    }

    static let alexnet = shipped("kineto/a100-alexnet.json.gz")
    static let a100Training = shipped("kineto/a100-80gb-training-rank0.json.gz")
    static let v100Training = shipped("kineto/v100-training-rank0.json.gz")
    static let azureConv = shipped("requests/azure2023/AzureLLMInferenceTrace_conv.csv.zst")
    static let azureCode = shipped("requests/azure2023/AzureLLMInferenceTrace_code.csv.zst")
    static let mooncakeConversation = shipped("requests/mooncake/conversation_trace.jsonl.zst")
    static let mooncakeSynthetic = shipped("requests/mooncake/synthetic_trace.jsonl.zst")
}

/// A temporary directory removed at the end of the test.
final class TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("traces-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func write(_ name: String, _ text: String) throws -> String {
        let p = path(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let p = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Runs `body`, expects a TraceError, and checks that its description names the file, the
/// location and contains each of `messageParts`.
func assertTraceError(_ body: () throws -> Void, fileName: String, location: String,
                      _ messageParts: String..., file: StaticString = #filePath, line: UInt = #line) {
    do {
        try body()
        XCTFail("expected a TraceError naming \(fileName) at \(location), got no error", file: file, line: line)
    } catch let e as TraceError {
        let d = e.description
        XCTAssertTrue(d.contains(fileName), "\(d) does not name the file \(fileName)", file: file, line: line)
        if location.isEmpty {
            XCTAssertEqual(e.location, .file, "\(d) should be about the whole file", file: file, line: line)
        } else {
            XCTAssertTrue(d.contains(location), "\(d) does not name the location \(location)", file: file, line: line)
        }
        for p in messageParts {
            XCTAssertTrue(d.contains(p), "\(d) does not say \(p)", file: file, line: line)
        }
    } catch {
        XCTFail("expected a TraceError, got \(type(of: error)): \(error)", file: file, line: line)
    }
}

/// FNV-1a 64 of a byte sequence (the same function is used in python for the expected values).
struct FNV1a {
    var h: UInt64 = 0xcbf29ce484222325
    mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) {
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
    }
}
