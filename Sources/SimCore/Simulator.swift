/// A model driven by the simulator: it receives each event in time order and may schedule
/// or cancel others through the ``Scheduler``.
///
/// `Event` is normally a small enum of the model's event kinds. Because the simulator is
/// generic over the handler, dispatch is static: no existential boxing, no closure per
/// event, no allocation per event.
public protocol EventHandler {
    associatedtype Event
    mutating func handle(_ event: Event, scheduler: inout Scheduler<Event>)
}

/// The clock and the pending events of one simulation, as the handler sees them.
public struct Scheduler<Event> {
    /// Current simulated time: the time of the event being handled.
    @inlinable public var now: SimTime { _now }
    @usableFromInline var _now: SimTime = .zero
    @usableFromInline var queue: EventQueue<Event>
    @usableFromInline var stopRequested = false
    /// Events handled so far.
    @inlinable public var eventsHandled: Int { _eventsHandled }
    @usableFromInline var _eventsHandled: Int = 0

    @inlinable public init(reservingCapacity capacity: Int = 0) {
        queue = EventQueue(reservingCapacity: capacity)
    }

    /// Schedules `event` at absolute time `time`, which must not be in the past.
    @inlinable @discardableResult
    public mutating func schedule(_ event: Event, at time: SimTime) -> EventHandle {
        precondition(time >= now, "event scheduled in the past: \(time) < now \(now)")
        return queue.push(event, at: time)
    }

    /// Schedules `event` `delay` after now (`delay` ≥ 0).
    @inlinable @discardableResult
    public mutating func schedule(_ event: Event, after delay: SimTime) -> EventHandle {
        schedule(event, at: SimTime.saturatingAdd(now, delay))
    }

    /// Cancels a pending event; false if it already fired or was cancelled. O(1).
    @inlinable @discardableResult
    public mutating func cancel(_ handle: EventHandle) -> Bool { queue.cancel(handle) }

    @inlinable public func isPending(_ handle: EventHandle) -> Bool { queue.isPending(handle) }

    /// Asks the running loop to return after the current event.
    @inlinable public mutating func stop() { stopRequested = true }

    /// Pending events (cancelled ones excluded).
    @inlinable public var pendingCount: Int { queue.count }

    /// Time of the next pending event.
    @inlinable public mutating func nextEventTime() -> SimTime? { queue.peekTime() }

    @inlinable mutating func advance(to t: SimTime) {
        assert(t >= now, "time ran backwards: \(t) < \(now)")
        _now = t
    }
}

/// Why a run returned.
public enum StopReason: Equatable, Sendable {
    /// No event is pending.
    case empty
    /// The next event lies beyond the time limit; the clock stands at the limit.
    case reachedTime
    /// The handler called ``Scheduler/stop()``.
    case stopped
    /// The caller's condition became false.
    case condition
}

/// The event loop: pop the earliest event, advance the clock to it, hand it to the handler.
///
/// ```swift
/// struct Ping: EventHandler {
///     var count = 0
///     mutating func handle(_ e: Int, scheduler: inout Scheduler<Int>) {
///         count += 1
///         if e < 3 { scheduler.schedule(e + 1, after: .us(1)) }
///     }
/// }
/// var sim = Simulator(handler: Ping())
/// sim.scheduler.schedule(0, at: .zero)
/// sim.run()              // handles 0, 1, 2, 3; sim.now == 3 µs
/// ```
public struct Simulator<Handler: EventHandler> {
    public var scheduler: Scheduler<Handler.Event>
    public var handler: Handler

    @inlinable public init(handler: Handler, reservingCapacity capacity: Int = 0) {
        self.handler = handler
        self.scheduler = Scheduler(reservingCapacity: capacity)
    }

    @inlinable public var now: SimTime { scheduler.now }

    /// Handles the next event, if any. Returns false when none is pending.
    @inlinable @discardableResult
    public mutating func step() -> Bool {
        guard let (t, e) = scheduler.queue.pop() else { return false }
        scheduler.advance(to: t)
        scheduler._eventsHandled &+= 1
        handler.handle(e, scheduler: &scheduler)
        return true
    }

    /// Runs until no event is pending, the handler stops, or the next event lies after
    /// `limit` (events exactly at `limit` are handled; the clock then stands at `limit`).
    @inlinable @discardableResult
    public mutating func run(until limit: SimTime = .max) -> StopReason {
        scheduler.stopRequested = false
        while true {
            guard let t = scheduler.queue.peekTime() else { return .empty }
            if t > limit {
                scheduler.advance(to: limit)
                return .reachedTime
            }
            step()
            if scheduler.stopRequested { return .stopped }
        }
    }

    /// Runs while `condition` holds (checked before each event), up to `limit`.
    @inlinable @discardableResult
    public mutating func run(until limit: SimTime = .max, while condition: (Handler) -> Bool) -> StopReason {
        scheduler.stopRequested = false
        while true {
            if !condition(handler) { return .condition }
            guard let t = scheduler.queue.peekTime() else { return .empty }
            if t > limit {
                scheduler.advance(to: limit)
                return .reachedTime
            }
            step()
            if scheduler.stopRequested { return .stopped }
        }
    }
}
