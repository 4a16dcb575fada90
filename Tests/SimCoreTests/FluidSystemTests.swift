import XCTest
@testable import SimCore

final class FluidSystemTests: XCTestCase {
    private func solved(_ body: (inout FluidSystem) -> Void) -> FluidSystem {
        var f = FluidSystem()
        body(&f)
        f.solve(at: .zero)
        return f
    }

    func testEqualFlowsShareCapacityEqually() {
        var fs = FluidSystem()
        let c = fs.addConstraint(capacity: 12, name: "link")
        let ids = (0..<4).map { _ in fs.startFlow(work: 1, uses: FlowUses(c), at: .zero) }
        fs.solve(at: .zero)
        for id in ids { XCTAssertEqual(fs.rate(of: id), 3, accuracy: 1e-12) }  // C/N = 12/4
        XCTAssertEqual(fs.usage(of: c), 12, accuracy: 1e-9)
        XCTAssertNil(fs.checkInvariants())
    }

    func testWeightsSplitProportionally() {
        var fs = FluidSystem()
        let c = fs.addConstraint(capacity: 60)
        let a = fs.startFlow(work: 1, weight: 1, uses: FlowUses(c), at: .zero)
        let b = fs.startFlow(work: 1, weight: 2, uses: FlowUses(c), at: .zero)
        let d = fs.startFlow(work: 1, weight: 3, uses: FlowUses(c), at: .zero)
        fs.solve(at: .zero)
        XCTAssertEqual(fs.rate(of: a), 10, accuracy: 1e-9)
        XCTAssertEqual(fs.rate(of: b), 20, accuracy: 1e-9)
        XCTAssertEqual(fs.rate(of: d), 30, accuracy: 1e-9)
    }

    func testCapLeftoverIsRedistributed() {
        var fs = FluidSystem()
        let c = fs.addConstraint(capacity: 100)
        let capped = fs.startFlow(work: 1, cap: 10, uses: FlowUses(c), at: .zero)
        let x = fs.startFlow(work: 1, uses: FlowUses(c), at: .zero)
        let y = fs.startFlow(work: 1, uses: FlowUses(c), at: .zero)
        fs.solve(at: .zero)
        XCTAssertEqual(fs.rate(of: capped), 10, accuracy: 1e-9)
        XCTAssertEqual(fs.rate(of: x), 45, accuracy: 1e-9)   // (100 − 10) / 2
        XCTAssertEqual(fs.rate(of: y), 45, accuracy: 1e-9)
        XCTAssertNil(fs.checkInvariants())
    }

    func testFlowOverTwoConstraintsLimitedByTighter() {
        var fs = FluidSystem()
        let a = fs.addConstraint(capacity: 100, name: "A")
        let b = fs.addConstraint(capacity: 30, name: "B")
        let both = fs.startFlow(work: 1, uses: FlowUses(a).adding(b), at: .zero)
        let onlyA = fs.startFlow(work: 1, uses: FlowUses(a), at: .zero)
        fs.solve(at: .zero)
        XCTAssertEqual(fs.rate(of: both), 30, accuracy: 1e-9)   // B saturates first
        XCTAssertEqual(fs.rate(of: onlyA), 70, accuracy: 1e-9)  // A's leftover
        XCTAssertNil(fs.checkInvariants())
    }

    func testCoefficientScalesConsumption() {
        // A kernel moving 2 bytes of HBM traffic per unit of work on a 100 B/s constraint: 50 units/s.
        var fs = FluidSystem()
        let hbm = fs.addConstraint(capacity: 100)
        let k = fs.startFlow(work: 1, uses: FlowUses(hbm, coefficient: 2), at: .zero)
        fs.solve(at: .zero)
        XCTAssertEqual(fs.rate(of: k), 50, accuracy: 1e-9)
        XCTAssertEqual(fs.usage(of: hbm), 100, accuracy: 1e-9)
    }

    func testFlowWithOnlyACapRunsAtItsCap() {
        var fs = FluidSystem()
        let f = fs.startFlow(work: 4, cap: 2, uses: FlowUses(), at: .zero)
        fs.solve(at: .zero)
        XCTAssertEqual(fs.rate(of: f), 2)
        XCTAssertEqual(fs.nextCompletion, .s(2))
    }

    func testCapacityChangeTakesEffectAtNextSolve() {
        var fs = FluidSystem()
        let c = fs.addConstraint(capacity: 10)
        let f = fs.startFlow(work: 10, uses: FlowUses(c), at: .zero)
        fs.solve(at: .zero)
        XCTAssertEqual(fs.finishTime(of: f), .s(1))
        fs.setCapacity(c, 5)             // at 0.5 s, 5 units left, now at 5/s → 1 more second
        fs.solve(at: .ms(500))
        XCTAssertEqual(fs.finishTime(of: f), .ms(1500))
        XCTAssertEqual(fs.remainingWork(of: f, at: .ms(500)), 5, accuracy: 1e-9)
    }

    func testRemovingAFlowReturnsItsRemainingWork() {
        var fs = FluidSystem()
        let c = fs.addConstraint(capacity: 10)
        let a = fs.startFlow(work: 10, uses: FlowUses(c), at: .zero)
        let b = fs.startFlow(work: 10, uses: FlowUses(c), at: .zero)
        fs.solve(at: .zero)
        XCTAssertEqual(fs.removeFlow(a, at: .s(1)), 5, accuracy: 1e-9)   // 1 s at 5/s
        XCTAssertFalse(fs.isActive(a))
        fs.solve(at: .s(1))
        XCTAssertEqual(fs.rate(of: b), 10, accuracy: 1e-12)
        XCTAssertEqual(fs.finishTime(of: b), .ms(1500))
    }

    /// Staggered arrivals driven through the simulator, finishing at hand-computed times.
    /// Capacity 10/s. Flow 1 (10 units) starts at 0; flow 2 (2 units) at 0.5 s.
    /// 0–0.5 s: flow 1 alone at 10/s → 5 left. From 0.5 s both at 5/s: flow 2 finishes at
    /// 0.9 s; flow 1 has 5 − 2 = 3 left, alone again at 10/s → finishes at 1.2 s.
    func testStaggeredArrivalsFinishAtHandComputedTimes() {
        struct Model: EventHandler {
            enum Event { case arrive(work: Double, tag: UInt64), fluid }
            var fluid = FluidSystem()
            var link: ConstraintID
            var finished: [(UInt64, SimTime)] = []
            init() { link = fluid.addConstraint(capacity: 10, name: "link") }
            mutating func handle(_ event: Event, scheduler: inout Scheduler<Event>) {
                switch event {
                case let .arrive(work, tag):
                    fluid.startFlow(work: work, uses: FlowUses(link), at: scheduler.now, tag: tag)
                case .fluid:
                    let now = scheduler.now
                    fluid.completeFlows(at: now) { _, tag in finished.append((tag, now)) }
                }
                fluid.solve(at: scheduler.now)
                fluid.scheduleNextCompletion(&scheduler, event: .fluid)
            }
        }
        var sim = Simulator(handler: Model())
        sim.scheduler.schedule(.arrive(work: 10, tag: 1), at: .zero)
        sim.scheduler.schedule(.arrive(work: 2, tag: 2), at: .ms(500))
        sim.run()
        XCTAssertEqual(sim.handler.finished.map(\.0), [2, 1])
        XCTAssertEqual(sim.handler.finished[0].1.nanoseconds, 900_000_000, accuracy: 1)
        XCTAssertEqual(sim.handler.finished[1].1.nanoseconds, 1_200_000_000, accuracy: 1)
        XCTAssertEqual(sim.handler.fluid.activeFlowCount, 0)
    }

    /// Only flows connected to the modified constraint are re-solved: 1,000 idle flows on
    /// other constraints add nothing to the cost of a change.
    func testIncrementalSolveTouchesOnlyTheAffectedComponent() {
        var fs = FluidSystem()
        let busy = fs.addConstraint(capacity: 100, name: "busy")
        for i in 0..<1_000 {
            let other = fs.addConstraint(capacity: 1, name: "idle\(i)")
            fs.startFlow(work: 1e9, uses: FlowUses(other), at: .zero)
        }
        fs.solve(at: .zero)
        XCTAssertEqual(fs.lastSolveFlowCount, 1_000)
        for _ in 0..<10 { fs.startFlow(work: 1, uses: FlowUses(busy), at: .zero) }
        fs.solve(at: .zero)
        XCTAssertEqual(fs.lastSolveFlowCount, 10)
        let extra = fs.startFlow(work: 1, uses: FlowUses(busy), at: .ms(1))
        fs.solve(at: .ms(1))
        XCTAssertEqual(fs.lastSolveFlowCount, 11)
        XCTAssertEqual(fs.rate(of: extra), 100.0 / 11, accuracy: 1e-9)
        XCTAssertNil(fs.checkInvariants())
    }

    /// Random churn: after every change the allocation is feasible and max-min fair, equals a
    /// from-scratch solve of the same flows, each flow's integrated rate equals its work when
    /// it completes, and every flow finishes.
    func testRandomChurnInvariants() {
        var rng = SplitMix64(seed: 2024)
        func uniform() -> Double { Double(rng.next() >> 11) * 0x1p-53 }
        for round in 0..<8 {
            var fs = FluidSystem()
            let nc = 3 + Int(rng.next() % 10)
            let caps = (0..<nc).map { _ in 1 + uniform() * 99 }
            let cons = caps.map { fs.addConstraint(capacity: $0) }
            struct Spec { var work: Double; var weight: Double; var cap: Double; var uses: FlowUses; var delivered = 0.0 }
            var specs: [UInt64: Spec] = [:]
            var ids: [UInt64: FlowID] = [:]
            var now = SimTime.zero
            var nextTag: UInt64 = 0
            var started = 0, finished = 0, removed = 0

            func integrate(to t: SimTime) {
                let dt = (t - now).seconds
                for (tag, id) in ids { specs[tag]!.delivered += fs.rate(of: id) * dt }
                now = t
            }
            for step in 0..<300 {
                // Either a new flow arrives, a random flow is removed, or time runs to the next completion.
                let r = rng.next() % 10
                if r < 5 || ids.isEmpty {
                    let t = now + .us(Double(rng.next() % 50_000))
                    if let next = fs.nextCompletion, next < t {
                        integrate(to: next)
                        fs.completeFlows(at: now) { id, tag in
                            let s = specs[tag]!
                            XCTAssertEqual(s.delivered, s.work, accuracy: 1e-6 * max(1, s.work) + 1e-6 * 200,
                                           "round \(round) step \(step): flow \(tag) work not conserved")
                            ids[tag] = nil; finished += 1
                        }
                    } else {
                        integrate(to: t)
                    }
                    var uses = FlowUses()
                    var chosen = Set<Int>()
                    for _ in 0..<(1 + Int(rng.next() % 3)) {
                        let c = Int(rng.next() % UInt64(nc))
                        if chosen.insert(c).inserted { uses = uses.adding(cons[c], coefficient: 0.5 + uniform() * 2) }
                    }
                    let cap = rng.next() % 3 == 0 ? 1 + uniform() * 30 : Double.infinity
                    let spec = Spec(work: 0.1 + uniform() * 50, weight: 0.5 + uniform() * 3, cap: cap, uses: uses)
                    let tag = nextTag; nextTag += 1
                    specs[tag] = spec
                    ids[tag] = fs.startFlow(work: spec.work, weight: spec.weight, cap: cap, uses: uses, at: now, tag: tag)
                    started += 1
                } else if r < 6 {
                    let tag = ids.keys.sorted()[Int(rng.next() % UInt64(ids.count))]
                    fs.removeFlow(ids[tag]!, at: now)
                    ids[tag] = nil; removed += 1
                } else if let next = fs.nextCompletion {
                    integrate(to: next)
                    fs.completeFlows(at: now) { id, tag in
                        let s = specs[tag]!
                        XCTAssertEqual(s.delivered, s.work, accuracy: 1e-6 * max(1, s.work) + 1e-6 * 200)
                        ids[tag] = nil; finished += 1
                    }
                }
                fs.solve(at: now)
                if let problem = fs.checkInvariants() { return XCTFail("round \(round) step \(step): \(problem)") }
                // Compare with a from-scratch solve of the same active flows.
                var fresh = FluidSystem()
                let freshCons = caps.map { fresh.addConstraint(capacity: $0) }
                _ = freshCons
                var freshIDs: [UInt64: FlowID] = [:]
                for tag in ids.keys.sorted() {
                    let s = specs[tag]!
                    freshIDs[tag] = fresh.startFlow(work: 1, weight: s.weight, cap: s.cap, uses: s.uses, at: .zero, tag: tag)
                }
                fresh.solve(at: .zero)
                for (tag, id) in ids {
                    XCTAssertEqual(fs.rate(of: id), fresh.rate(of: freshIDs[tag]!), accuracy: 1e-7 * max(1, fs.rate(of: id)))
                }
            }
            // Drain: every remaining flow finishes.
            while let next = fs.nextCompletion {
                integrate(to: next)
                fs.completeFlows(at: now) { _, tag in ids[tag] = nil; finished += 1 }
                fs.solve(at: now)
                XCTAssertNil(fs.checkInvariants())
            }
            XCTAssertEqual(fs.activeFlowCount, 0, "round \(round): a flow never finished")
            XCTAssertEqual(started, finished + removed)
        }
    }
}
