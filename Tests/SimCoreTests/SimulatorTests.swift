import XCTest
@testable import SimCore

/// A handler that records what it sees and schedules follow-ups from a script.
private struct Recorder: EventHandler {
    enum Event { case tick(Int), cancelTarget, stopNow }
    var seen: [(SimTime, Int)] = []
    var target: EventHandle?
    mutating func handle(_ event: Event, scheduler: inout Scheduler<Event>) {
        switch event {
        case .tick(let n):
            seen.append((scheduler.now, n))
            if n < 5 { scheduler.schedule(.tick(n + 1), after: .us(1)) }
        case .cancelTarget:
            if let t = target { scheduler.cancel(t) }
        case .stopNow:
            scheduler.stop()
        }
    }
}

final class SimulatorTests: XCTestCase {
    func testRunUntilEmptyAdvancesClock() {
        var sim = Simulator(handler: Recorder())
        sim.scheduler.schedule(.tick(0), at: .ns(100))
        XCTAssertEqual(sim.run(), .empty)
        XCTAssertEqual(sim.handler.seen.map(\.1), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(sim.handler.seen.map(\.0.nanoseconds), [100, 1100, 2100, 3100, 4100, 5100])
        XCTAssertEqual(sim.now, .ns(5100))
        XCTAssertEqual(sim.scheduler.eventsHandled, 6)
    }

    func testRunUntilTimeStopsAtLimitAndResumes() {
        var sim = Simulator(handler: Recorder())
        sim.scheduler.schedule(.tick(0), at: .zero)
        XCTAssertEqual(sim.run(until: .ns(2000)), .reachedTime)
        XCTAssertEqual(sim.handler.seen.map(\.1), [0, 1, 2], "events exactly at the limit are handled")
        XCTAssertEqual(sim.now, .ns(2000))
        XCTAssertEqual(sim.run(), .empty)
        XCTAssertEqual(sim.handler.seen.count, 6)
    }

    func testRunWhileCondition() {
        var sim = Simulator(handler: Recorder())
        sim.scheduler.schedule(.tick(0), at: .zero)
        XCTAssertEqual(sim.run(while: { $0.seen.count < 3 }), .condition)
        XCTAssertEqual(sim.handler.seen.count, 3)
    }

    func testHandlerCancelsAndStops() {
        var sim = Simulator(handler: Recorder())
        sim.handler.target = sim.scheduler.schedule(.tick(100), at: .ns(50))
        sim.scheduler.schedule(.cancelTarget, at: .ns(10))
        sim.scheduler.schedule(.stopNow, at: .ns(20))
        sim.scheduler.schedule(.tick(5), at: .ns(30))
        XCTAssertEqual(sim.run(), .stopped)
        XCTAssertEqual(sim.now, .ns(20))
        XCTAssertEqual(sim.run(), .empty)
        XCTAssertEqual(sim.handler.seen.map(\.1), [5], "the cancelled tick(100) never fires")
    }

    /// The hold model is a pure function of its seed: same seed, same checksum; another seed differs.
    func testHoldModelDeterminism() {
        func checksum(_ seed: UInt64) -> (UInt64, SimTime) {
            var sim = HoldModel.makeSimulator(seed: seed, pending: 500)
            HoldModel.run(&sim, events: 20_000)
            XCTAssertEqual(sim.scheduler.pendingCount, 500, "hold keeps the queue size constant")
            return (sim.handler.checksum, sim.now)
        }
        let a = checksum(3), b = checksum(3), c = checksum(4)
        XCTAssertEqual(a.0, b.0)
        XCTAssertEqual(a.1, b.1)
        XCTAssertNotEqual(a.0, c.0)
    }
}
