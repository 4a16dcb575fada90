import Foundation
import XCTest
@testable import Hardware

/// MIG layouts: valid ones are accepted and placed deterministically; invalid ones are
/// rejected with a message that says why.
final class MIGTests: XCTestCase {
    static let catalog = GPUSpecTests.catalog
    var a100: GPUSpec { try! Self.catalog.spec(named: "A100-SXM4-80GB") }
    var h100: GPUSpec { try! Self.catalog.spec(named: "H100-SXM5-80GB") }

    private func starts(_ layout: MIGLayout) -> [String] { layout.instances.map(\.description) }

    // MARK: - Valid layouts

    func testValidA100LayoutsWithExplicitPlacements() throws {
        let l = try MIGLayout(spec: a100, placements: [("4g.40gb", 0), ("3g.40gb", 4)])
        XCTAssertEqual(starts(l), ["4g.40gb@0", "3g.40gb@4"])
        XCTAssertEqual(l.totalSMs, 56 + 42)
        XCTAssertEqual(l.computeSlicesUsed, 7)
        XCTAssertEqual(l.memorySlicesUsed, 8)

        let sevenOnes = try MIGLayout(spec: a100, placements: (0..<7).map { ("1g.10gb", $0) })
        XCTAssertEqual(sevenOnes.totalSMs, 7 * 14)

        let mixed = try MIGLayout(spec: a100, placements: [("4g.40gb", 0), ("2g.20gb", 4), ("1g.10gb", 6)])
        XCTAssertEqual(mixed.totalSMs, 56 + 28 + 14)
        XCTAssertEqual(try MIGLayout(spec: a100, placements: [("7g.80gb", 0)]).totalSMs, 98)
    }

    func testValidA100LayoutsAreAutoPlacedDeterministically() throws {
        // 3g + 4g: the 4g can only start at 0, so the 3g goes to 4. Input order is kept.
        let a = try MIGLayout(spec: a100, profiles: ["3g.40gb", "4g.40gb"])
        XCTAssertEqual(starts(a), ["3g.40gb@4", "4g.40gb@0"])

        let b = try MIGLayout(spec: a100, profiles: Array(repeating: "1g.10gb", count: 7))
        XCTAssertEqual(b.instances.map(\.start), [0, 1, 2, 3, 4, 5, 6])

        let c = try MIGLayout(spec: a100, profiles: ["4g.40gb", "2g.20gb", "1g.10gb"])
        XCTAssertEqual(starts(c), ["4g.40gb@0", "2g.20gb@4", "1g.10gb@6"])

        // Needs backtracking: a greedy 3g@0 would leave no room for the second 2g (2g starts at 0, 2, 4 only).
        let d = try MIGLayout(spec: a100, profiles: ["3g.40gb", "2g.20gb", "2g.20gb"])
        XCTAssertEqual(starts(d), ["3g.40gb@4", "2g.20gb@0", "2g.20gb@2"])

        let e = try MIGLayout(spec: a100, profiles: ["1g.20gb", "1g.20gb", "1g.20gb", "1g.20gb"])
        XCTAssertEqual(e.instances.map(\.start), [0, 2, 4, 6])

        // Same input, same layout.
        XCTAssertEqual(try MIGLayout(spec: a100, profiles: ["2g.20gb", "3g.40gb", "1g.10gb"]),
                       try MIGLayout(spec: a100, profiles: ["2g.20gb", "3g.40gb", "1g.10gb"]))

        let h = try MIGLayout(spec: h100, profiles: ["3g.40gb", "4g.40gb"])
        XCTAssertEqual(h.totalSMs, 60 + 64)
    }

    func testProfileNamesAreMatchedLeniently() throws {
        let mig = try XCTUnwrap(a100.mig)
        XCTAssertEqual(try mig.profile(named: "MIG 3g.40gb", gpu: a100.name).name, "3g.40gb")
        XCTAssertEqual(try mig.profile(named: "3G.40GB", gpu: a100.name).name, "3g.40gb")
        XCTAssertEqual(try mig.profile(named: "3g", gpu: a100.name).name, "3g.40gb")
        XCTAssertThrowsError(try mig.profile(named: "1g", gpu: a100.name)) { error in
            guard case MIGError.ambiguousProfile(_, _, let candidates) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(candidates, ["1g.10gb", "1g.10gb+me", "1g.20gb"])
        }
    }

    // MARK: - Invalid layouts

    private func assertRejected(_ make: @autoclosure () throws -> MIGLayout, _ expected: MIGError,
                                mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try make(), file: file, line: line) { error in
            XCTAssertEqual(error as? MIGError, expected, file: file, line: line)
            let text = "\(error)"
            for m in mentions { XCTAssertTrue(text.contains(m), "'\(m)' not in: \(text)", file: file, line: line) }
        }
    }

    func testTwoFourGsAreRejected() {
        assertRejected(try MIGLayout(spec: a100, profiles: ["4g.40gb", "4g.40gb"]),
                       .tooManyInstancesOfProfile(gpu: "A100-SXM4-80GB", profile: "4g.40gb", requested: 2, max: 1),
                       mentions: ["2 instances of 4g.40gb", "at most 1"])
        assertRejected(try MIGLayout(spec: a100, placements: [("4g.40gb", 0), ("4g.40gb", 0)]),
                       .tooManyInstancesOfProfile(gpu: "A100-SXM4-80GB", profile: "4g.40gb", requested: 2, max: 1),
                       mentions: ["4g.40gb"])
    }

    func testEightOneGsAreRejected() {
        assertRejected(try MIGLayout(spec: a100, profiles: Array(repeating: "1g.10gb", count: 8)),
                       .tooManyInstancesOfProfile(gpu: "A100-SXM4-80GB", profile: "1g.10gb", requested: 8, max: 7),
                       mentions: ["8 instances of 1g.10gb", "at most 7"])
        // Within each profile's limit, but 8 instances in all.
        assertRejected(try MIGLayout(spec: a100, profiles: Array(repeating: "1g.10gb", count: 7) + ["1g.10gb+me"]),
                       .tooManyInstances(gpu: "A100-SXM4-80GB", requested: 8, max: 7),
                       mentions: ["8 MIG instances", "at most 7"])
    }

    func testSliceBudgetsAreEnforced() {
        assertRejected(try MIGLayout(spec: a100, profiles: ["4g.40gb", "3g.40gb", "1g.10gb"]),
                       .computeSlicesExceeded(gpu: "A100-SXM4-80GB", requested: 8, available: 7),
                       mentions: ["8 compute slices", "has 7"])
        assertRejected(try MIGLayout(spec: a100, profiles: ["3g.40gb", "1g.20gb", "1g.20gb", "1g.20gb"]),
                       .memorySlicesExceeded(gpu: "A100-SXM4-80GB", requested: 10, available: 8),
                       mentions: ["10 memory slices", "has 8"])
    }

    func testOverlappingAndInvalidPlacementsAreRejected() {
        assertRejected(try MIGLayout(spec: a100, placements: [("3g.40gb", 0), ("2g.20gb", 2)]),
                       .overlap(gpu: "A100-SXM4-80GB", first: "3g.40gb@0", second: "2g.20gb@2", slices: [2, 3]),
                       mentions: ["3g.40gb@0", "2g.20gb@2", "overlap", "memory slices 2, 3"])
        assertRejected(try MIGLayout(spec: a100, placements: [("1g.10gb", 3), ("1g.10gb", 3)]),
                       .overlap(gpu: "A100-SXM4-80GB", first: "1g.10gb@3", second: "1g.10gb@3", slices: [3]),
                       mentions: ["overlap"])
        assertRejected(try MIGLayout(spec: a100, placements: [("3g.40gb", 2)]),
                       .invalidPlacement(gpu: "A100-SXM4-80GB", profile: "3g.40gb", start: 2, valid: [0, 4]),
                       mentions: ["cannot start at memory slice 2", "valid starts: 0, 4"])
        assertRejected(try MIGLayout(spec: a100, placements: [("1g.10gb", 7)]),
                       .invalidPlacement(gpu: "A100-SXM4-80GB", profile: "1g.10gb", start: 7, valid: [0, 1, 2, 3, 4, 5, 6]),
                       mentions: ["slice 7"])
    }

    func testUnknownProfileIsRejectedWithTheKnownOnes() {
        assertRejected(try MIGLayout(spec: a100, profiles: ["3g.40gb", "5g.50gb"]),
                       .unknownProfile(gpu: "A100-SXM4-80GB", name: "5g.50gb", known: a100.mig!.profiles.map(\.name)),
                       mentions: ["no MIG profile '5g.50gb'", "1g.10gb", "7g.80gb"])
        // A profile of another GPU: H100's 7g.80gb exists, H200's 7g.141gb does not on H100.
        assertRejected(try MIGLayout(spec: h100, profiles: ["7g.141gb"]),
                       .unknownProfile(gpu: "H100-SXM5-80GB", name: "7g.141gb", known: h100.mig!.profiles.map(\.name)),
                       mentions: ["7g.141gb"])
    }

    func testGPUWithoutMIGRejectsAnyLayout() throws {
        for name in ["RTX-3090", "V100-SXM2-32GB", "V100-SXM2-16GB"] {
            let spec = try Self.catalog.spec(named: name)
            assertRejected(try MIGLayout(spec: spec, profiles: ["1g.10gb"]), .migNotSupported(gpu: name),
                           mentions: ["\(name) does not support MIG"])
            assertRejected(try MIGLayout(spec: spec, placements: [("1g.10gb", 0)]), .migNotSupported(gpu: name),
                           mentions: ["does not support MIG"])
        }
    }

    func testAutoPlacementReportsWhenNothingFits() throws {
        // A made-up geometry: 4 memory slices; "a" (1 slice) may only start at 1, "b" (2 slices) only at 0.
        let base = a100
        let mig = MIGSpec(memorySlices: 4, computeSlices: 4, maxInstances: 4, profiles: [
            MIGProfile(name: "1g.a", computeSlices: 1, memorySlices: 1, smCount: 1, memoryBytes: 1, copyEngines: 1,
                       maxInstances: 1, placements: [1]),
            MIGProfile(name: "2g.b", computeSlices: 2, memorySlices: 2, smCount: 2, memoryBytes: 2, copyEngines: 1,
                       maxInstances: 1, placements: [0]),
        ])
        let spec = GPUSpec(name: "Toy", aliases: [], computeCapability: base.computeCapability, smCount: base.smCount,
                           boostClockMHz: base.boostClockMHz, perSM: base.perSM, perCTA: base.perCTA, memory: base.memory,
                           l2Bytes: base.l2Bytes, pcie: base.pcie, nvlink: nil, copyEngines: 1, mig: mig, sources: [:],
                           file: "")
        assertRejected(try MIGLayout(spec: spec, profiles: ["1g.a", "2g.b"]),
                       .noPlacement(gpu: "Toy", profiles: ["1g.a", "2g.b"]),
                       mentions: ["no placement of 1g.a + 2g.b fits on Toy"])
        XCTAssertEqual(try MIGLayout(spec: spec, profiles: ["2g.b"]).instances.map(\.start), [0])
    }
}
