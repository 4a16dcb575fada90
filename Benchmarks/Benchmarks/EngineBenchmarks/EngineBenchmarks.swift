import Benchmark
import SimCore

/// Events handled per benchmark iteration; allocations per event = mallocs per iteration / this.
let eventsPerIteration = 100_000

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident]

    // The hold model: 100,000 pending events, pop one / push one.
    Benchmark("hold pending=100000 (100000 events/iteration)",
              configuration: .init(metrics: metrics, scalingFactor: .one, maxDuration: .seconds(5),
                                   maxIterations: 100_000)) { benchmark in
        var sim = HoldModel.makeSimulator(seed: 1, pending: 100_000)
        HoldModel.run(&sim, events: 200_000)   // warm up: queue arrays at their steady size
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            HoldModel.run(&sim, events: eventsPerIteration)
        }
        benchmark.stopMeasurement()
        blackHole(sim.handler.checksum)
    }

    // Fluid solver, flows arriving and leaving on one busy constraint (100 flows on it).
    Benchmark("fluid churn, 100 flows on one constraint (100000 changes/iteration)",
              configuration: .init(metrics: metrics, scalingFactor: .one, maxDuration: .seconds(5))) { benchmark in
        var churn = FluidChurn(busyFlows: 100, idleFlows: 0)
        churn.run(changes: 20_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { churn.run(changes: eventsPerIteration) }
        benchmark.stopMeasurement()
        blackHole(churn.completed)
    }

    // The same churn while 1,000 idle flows sit on 1,000 other constraints: the cost per change
    // must not grow (incremental re-solve touches only the affected component).
    Benchmark("fluid churn, 100 flows on one constraint + 1000 idle flows elsewhere (100000 changes/iteration)",
              configuration: .init(metrics: metrics, scalingFactor: .one, maxDuration: .seconds(5))) { benchmark in
        var churn = FluidChurn(busyFlows: 100, idleFlows: 1_000)
        churn.run(changes: 20_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { churn.run(changes: eventsPerIteration) }
        benchmark.stopMeasurement()
        blackHole(churn.completed)
    }
}

/// Flows of random size on one constraint; each change retires the next finishing flow and
/// starts a new one, then re-solves.
struct FluidChurn {
    var fluid = FluidSystem()
    var busy: ConstraintID
    var rng = Xoshiro256StarStar(seed: 7)
    var now = SimTime.zero
    var completed = 0

    init(busyFlows: Int, idleFlows: Int) {
        busy = fluid.addConstraint(capacity: 1e9, name: "busy")
        for i in 0..<idleFlows {
            let c = fluid.addConstraint(capacity: 1, name: "idle\(i)")
            fluid.startFlow(work: 1e12, uses: FlowUses(c), at: .zero)
        }
        for _ in 0..<busyFlows { startOne() }
        fluid.solve(at: now)
    }

    mutating func startOne() {
        let work = 1e6 * (1 + Double(rng.next() >> 11) * 0x1p-53)
        fluid.startFlow(work: work, uses: FlowUses(busy), at: now)
    }

    mutating func run(changes: Int) {
        for _ in 0..<changes {
            guard let t = fluid.nextCompletion else { return }
            now = t
            var finished = 0
            fluid.completeFlows(at: now) { _, _ in finished += 1 }
            completed += finished
            for _ in 0..<finished { startOne() }
            fluid.solve(at: now)
        }
    }
}
