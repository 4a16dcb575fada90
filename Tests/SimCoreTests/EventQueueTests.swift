import XCTest
@testable import SimCore

final class EventQueueTests: XCTestCase {
    /// Random schedules (many ties) against a stable sort of (time, insertion index).
    func testOrderMatchesSortedReferenceWithTies() {
        var rng = SplitMix64(seed: 42)
        for round in 0..<20 {
            var q = EventQueue<Int>()
            var reference: [(t: Int64, i: Int)] = []
            let n = 1 + Int(rng.next() % 2000)
            let distinctTimes = UInt64(1 + round * 5) // few distinct times → many ties
            for i in 0..<n {
                let t = Int64(rng.next() % distinctTimes)
                q.push(i, at: .ns(t))
                reference.append((t, i))
            }
            reference.sort { $0.t < $1.t || ($0.t == $1.t && $0.i < $1.i) }
            XCTAssertNil(q.checkInvariants())
            var popped: [(Int64, Int)] = []
            while let (t, e) = q.pop() { popped.append((t.nanoseconds, e)) }
            XCTAssertEqual(popped.count, reference.count)
            XCTAssertTrue(zip(popped, reference).allSatisfy { $0.0 == $1.t && $0.1 == $1.i }, "round \(round)")
        }
    }

    /// Interleaved pushes and pops (the simulator's pattern): every pop is the minimum of
    /// what is pending, ties in insertion order.
    func testInterleavedPushPopAgainstReference() {
        var rng = SplitMix64(seed: 7)
        var q = EventQueue<Int>()
        var pending: [(t: Int64, i: Int)] = []
        var now: Int64 = 0
        var next = 0
        for _ in 0..<20_000 {
            if pending.isEmpty || rng.next() % 3 != 0 {
                let t = now + Int64(rng.next() % 50)
                q.push(next, at: .ns(t)); pending.append((t, next)); next += 1
            } else {
                let k = pending.indices.min { a, b in
                    pending[a].t < pending[b].t || (pending[a].t == pending[b].t && pending[a].i < pending[b].i)
                }!
                let expected = pending.remove(at: k)
                guard let (t, e) = q.pop() else { return XCTFail("queue empty early") }
                XCTAssertEqual(t.nanoseconds, expected.t)
                XCTAssertEqual(e, expected.i)
                now = t.nanoseconds
            }
        }
        XCTAssertEqual(q.count, pending.count)
    }

    func testCancellation() {
        var q = EventQueue<String>()
        let a = q.push("a", at: .ns(10))
        let b = q.push("b", at: .ns(5))
        let c = q.push("c", at: .ns(7))
        XCTAssertEqual(q.count, 3)
        XCTAssertTrue(q.cancel(b))
        XCTAssertFalse(q.cancel(b), "cancelling twice must report false")
        XCTAssertFalse(q.isPending(b))
        XCTAssertTrue(q.isPending(a))
        XCTAssertEqual(q.count, 2)
        XCTAssertEqual(q.peekTime(), .ns(7))
        XCTAssertEqual(q.pop()?.event, "c")
        XCTAssertFalse(q.cancel(c), "a fired event cannot be cancelled")
        // A slot freed by the cancellation is reused; the old handle must not cancel the new event.
        let d = q.push("d", at: .ns(8))
        XCTAssertFalse(q.cancel(b))
        XCTAssertTrue(q.isPending(d))
        XCTAssertNil(q.checkInvariants())
        XCTAssertEqual(q.pop()?.event, "d")
        XCTAssertEqual(q.pop()?.event, "a")
        XCTAssertNil(q.pop())
        XCTAssertTrue(q.isEmpty)
    }

    /// Random cancellations: the survivors come out in reference order, nothing cancelled does.
    func testRandomCancellationAgainstReference() {
        var rng = SplitMix64(seed: 99)
        var q = EventQueue<Int>()
        var handles: [EventHandle] = []
        var times: [Int64] = []
        for i in 0..<5_000 {
            let t = Int64(rng.next() % 1_000)
            handles.append(q.push(i, at: .ns(t)))
            times.append(t)
        }
        var cancelled = Set<Int>()
        for i in 0..<5_000 where rng.next() % 4 == 0 {
            XCTAssertTrue(q.cancel(handles[i]))
            cancelled.insert(i)
        }
        XCTAssertEqual(q.count, 5_000 - cancelled.count)
        XCTAssertNil(q.checkInvariants())
        let expected = (0..<5_000).filter { !cancelled.contains($0) }
            .sorted { times[$0] < times[$1] || (times[$0] == times[$1] && $0 < $1) }
        var got: [Int] = []
        while let (_, e) = q.pop() { got.append(e) }
        XCTAssertEqual(got, expected)
    }
}
