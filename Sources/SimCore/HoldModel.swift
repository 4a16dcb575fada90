import Foundation

/// The classic *hold* benchmark of event-set implementations (Vaucher & Duval, 1975):
/// `pending` events wait in the queue; handling one schedules one replacement at
/// now + an exponentially distributed delay (mean 1 µs · pending), so the queue size stays
/// constant while `events` events are handled. It measures the event loop alone.
public struct HoldModel: EventHandler {
    public typealias Event = UInt32

    @usableFromInline var rng: Xoshiro256StarStar
    @usableFromInline let meanDelayNs: Double
    /// A checksum over handled events, so the work cannot be optimised away.
    public private(set) var checksum: UInt64 = 0

    public init(seed: UInt64, pending: Int) {
        rng = RandomStreams(seed: seed).stream("hold")
        meanDelayNs = 1_000 * Double(Swift.max(pending, 1))
    }

    @inlinable mutating func delay() -> SimTime {
        // Inverse-CDF exponential draw from 53 random bits; u in (0, 1].
        let u = Double((rng.next() >> 11) + 1) * 0x1p-53
        return SimTime(nanoseconds: Int64(-meanDelayNs * log(u)))
    }

    public mutating func handle(_ event: UInt32, scheduler: inout Scheduler<UInt32>) {
        checksum = checksum &* 31 &+ UInt64(event) &+ UInt64(bitPattern: scheduler.now.nanoseconds)
        scheduler.schedule(event &+ 1, after: delay())
    }

    /// Builds a simulator holding `pending` events at random initial times.
    public static func makeSimulator(seed: UInt64, pending: Int) -> Simulator<HoldModel> {
        var sim = Simulator(handler: HoldModel(seed: seed, pending: pending), reservingCapacity: pending + 1)
        for i in 0..<pending {
            let d = sim.handler.delay()
            sim.scheduler.schedule(UInt32(truncatingIfNeeded: i), at: d)
        }
        return sim
    }

    /// Handles `events` events (the queue stays at its initial size).
    public static func run(_ sim: inout Simulator<HoldModel>, events: Int) {
        for _ in 0..<events { sim.step() }
    }
}
