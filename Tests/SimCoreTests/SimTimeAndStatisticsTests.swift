import XCTest
@testable import SimCore

final class SimTimeTests: XCTestCase {
    func testConversionsRoundToNearestNanosecond() {
        XCTAssertEqual(SimTime.us(1.5).nanoseconds, 1500)
        XCTAssertEqual(SimTime.ms(2).nanoseconds, 2_000_000)
        XCTAssertEqual(SimTime(seconds: 1.0000000004).nanoseconds, 1_000_000_000)
        XCTAssertEqual(SimTime(seconds: 1.0000000006).nanoseconds, 1_000_000_001)
        XCTAssertEqual(SimTime(seconds: 1e30), .max)
        XCTAssertEqual(SimTime.ns(2_500).microseconds, 2.5, accuracy: 1e-12)
        XCTAssertEqual(SimTime.saturatingAdd(.max, .s(1)), .max)
    }

    func testHumanFormatting() {
        XCTAssertEqual(SimTime.ns(850).description, "850 ns")
        XCTAssertEqual(SimTime.ns(12_500).description, "12.500 µs")
        XCTAssertEqual(SimTime.ns(3_217_000).description, "3.217 ms")
        XCTAssertEqual(SimTime.s(1.5).description, "1.500 s")
        XCTAssertEqual(SimTime.max.description, "never")
    }
}

final class StatisticsTests: XCTestCase {
    func testLatencyPercentilesWithinHistogramPrecision() {
        var d = LatencyDistribution()
        for v in 1...1000 { d.record(.us(Double(v))) }   // 1 µs ... 1 ms uniformly
        XCTAssertEqual(d.count, 1000)
        XCTAssertEqual(d.mean.nanoseconds, 500_500)
        // Exact p50 is 500 µs, p99 990 µs; 3 significant digits → within 0.1%.
        XCTAssertEqual(Double(d.percentile(50).nanoseconds), 500_000, accuracy: 500)
        XCTAssertEqual(Double(d.percentile(99).nanoseconds), 990_000, accuracy: 990)
        XCTAssertEqual(Double(d.max.nanoseconds), 1_000_000, accuracy: 1000)
        var e = LatencyDistribution()
        e.record(.ms(5))
        d.merge(e)
        XCTAssertEqual(d.count, 1001)
        XCTAssertEqual(Double(d.max.nanoseconds), 5_000_000, accuracy: 5000)
    }

    func testTimeWeightedAverage() {
        // 0 for 1 s, 2 for 1 s, 1 for 2 s → (0 + 2 + 2) / 4 = 1.
        var u = TimeWeightedAverage(initial: 0, at: .zero)
        u.set(2, at: .s(1))
        u.set(1, at: .s(2))
        XCTAssertEqual(u.average(upTo: .s(4)), 1, accuracy: 1e-12)
        XCTAssertEqual(u.integral(upTo: .s(4)), 4, accuracy: 1e-12)
        XCTAssertEqual(u.maximum, 2)
        u.add(1, at: .s(4))
        XCTAssertEqual(u.value, 2)
    }

    func testCounter() {
        var c = Counter()
        c.add(); c.add(41)
        XCTAssertEqual(c.value, 42)
    }
}
