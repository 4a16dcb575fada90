/// A ticket for a scheduled event, used to cancel it.
///
/// A handle names a slot and the generation the slot had when the event was scheduled;
/// once the event fires or is cancelled the slot's generation moves on, so a stale handle
/// can never cancel a later event that reuses the slot.
@frozen
public struct EventHandle: Hashable, Sendable {
    public let slot: UInt32
    public let generation: UInt32
    @inlinable init(slot: UInt32, generation: UInt32) { self.slot = slot; self.generation = generation }
}

/// The pending-event set of a discrete-event simulation: a 4-ary min-heap of small value
/// entries ordered by `(time, insertion sequence)`.
///
/// - Ties resolve in scheduling order, so a run is a pure function of its inputs.
/// - ``push(_:at:)`` and ``pop()`` are O(log₄ n); ``cancel(_:)`` is O(1): it bumps the
///   slot's generation and the stale entry is skipped when it reaches the top (lazy
///   deletion), never searched for.
/// - Nothing is allocated per event once the arrays have grown to the peak number of
///   pending events: entries are plain values and slots are recycled through a free list.
///
/// A 4-ary heap does half the levels of a binary heap and its four children share a cache
/// line or two, which is what makes it faster on large queues (see Benchmarks/).
///
/// ```swift
/// var q = EventQueue<Int>()
/// let h = q.push(7, at: .ns(10))
/// q.push(8, at: .ns(5))
/// q.cancel(h)
/// q.pop()   // (time: 5 ns, event: 8)
/// q.pop()   // nil
/// ```
public struct EventQueue<Event> {
    @usableFromInline
    struct Entry {
        @usableFromInline var time: Int64
        @usableFromInline var seq: UInt64
        @usableFromInline var slot: UInt32
        @usableFromInline var generation: UInt32
        @usableFromInline var event: Event

        @inlinable init(time: Int64, seq: UInt64, slot: UInt32, generation: UInt32, event: Event) {
            self.time = time; self.seq = seq; self.slot = slot; self.generation = generation; self.event = event
        }

        @inlinable func precedes(_ o: Entry) -> Bool {
            time < o.time || (time == o.time && seq < o.seq)
        }
    }

    @usableFromInline var heap: [Entry] = []
    /// Current generation of each slot; an entry is live iff its generation matches.
    @usableFromInline var slotGeneration: [UInt32] = []
    @usableFromInline var freeSlots: [UInt32] = []
    @usableFromInline var nextSeq: UInt64 = 0
    /// Entries still in `heap` whose event was cancelled.
    @usableFromInline var cancelledInHeap: Int = 0

    public init() {}

    /// Creates a queue with room for `capacity` pending events before any reallocation.
    public init(reservingCapacity capacity: Int) {
        heap.reserveCapacity(capacity)
        slotGeneration.reserveCapacity(capacity)
        freeSlots.reserveCapacity(capacity)
    }

    /// Number of pending (not cancelled) events.
    @inlinable public var count: Int { heap.count - cancelledInHeap }
    @inlinable public var isEmpty: Bool { count == 0 }

    /// Schedules `event` at `time`. O(log n).
    @inlinable @discardableResult
    public mutating func push(_ event: Event, at time: SimTime) -> EventHandle {
        let slot: UInt32
        if let s = freeSlots.popLast() {
            slot = s
        } else {
            slot = UInt32(truncatingIfNeeded: slotGeneration.count)
            slotGeneration.append(0)
        }
        let gen = slotGeneration[Int(slot)]
        let entry = Entry(time: time.nanoseconds, seq: nextSeq, slot: slot, generation: gen, event: event)
        nextSeq &+= 1
        heap.append(entry)
        siftUp(heap.count - 1)
        return EventHandle(slot: slot, generation: gen)
    }

    /// Cancels a pending event. Returns false when the handle's event already fired or was
    /// cancelled. O(1): the entry stays in the heap and is dropped when it surfaces.
    @inlinable @discardableResult
    public mutating func cancel(_ handle: EventHandle) -> Bool {
        let i = Int(handle.slot)
        guard i < slotGeneration.count, slotGeneration[i] == handle.generation else { return false }
        slotGeneration[i] &+= 1
        freeSlots.append(handle.slot)
        cancelledInHeap += 1
        return true
    }

    /// Whether the handle's event is still pending.
    @inlinable public func isPending(_ handle: EventHandle) -> Bool {
        let i = Int(handle.slot)
        return i < slotGeneration.count && slotGeneration[i] == handle.generation
    }

    /// Time of the earliest pending event, or nil when none is pending.
    @inlinable public mutating func peekTime() -> SimTime? {
        dropCancelledTop()
        return heap.isEmpty ? nil : SimTime(nanoseconds: heap[0].time)
    }

    /// Removes and returns the earliest pending event (ties: earliest scheduled). O(log n).
    @inlinable
    public mutating func pop() -> (time: SimTime, event: Event)? {
        while let top = removeTop() {
            let s = Int(top.slot)
            if slotGeneration[s] == top.generation {
                slotGeneration[s] &+= 1
                freeSlots.append(top.slot)
                return (SimTime(nanoseconds: top.time), top.event)
            }
            cancelledInHeap -= 1
        }
        return nil
    }

    /// Removes every pending event.
    public mutating func removeAll() {
        while pop() != nil {}
    }

    // MARK: heap internals

    @inlinable mutating func dropCancelledTop() {
        while let top = heap.first, slotGeneration[Int(top.slot)] != top.generation {
            _ = removeTop()
            cancelledInHeap -= 1
        }
    }

    @inlinable mutating func removeTop() -> Entry? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        let top = heap[0]
        siftDown(last)
        return top
    }

    /// Moves the entry at `i` up until its parent precedes it (hole technique: one write per level).
    @inlinable mutating func siftUp(_ start: Int) {
        heap.withUnsafeMutableBufferPointer { h in
            var i = start
            let moving = h[i]
            while i > 0 {
                let parent = (i &- 1) >> 2
                if moving.precedes(h[parent]) {
                    h[i] = h[parent]
                    i = parent
                } else { break }
            }
            h[i] = moving
        }
    }

    /// Places `moving` into the hole at the root and sifts it down.
    @inlinable mutating func siftDown(_ moving: Entry) {
        heap.withUnsafeMutableBufferPointer { h in
            let n = h.count
            var i = 0
            while true {
                let first = (i << 2) &+ 1
                if first >= n { break }
                var best = first
                let end = Swift.min(first &+ 4, n)
                var c = first &+ 1
                while c < end {
                    if h[c].precedes(h[best]) { best = c }
                    c &+= 1
                }
                if h[best].precedes(moving) {
                    h[i] = h[best]
                    i = best
                } else { break }
            }
            h[i] = moving
        }
    }
}

extension EventQueue {
    /// Checks the heap property and the cancellation bookkeeping (debug and tests; O(n)).
    public func checkInvariants() -> String? {
        for i in 1..<Swift.max(heap.count, 1) where i < heap.count {
            let parent = (i - 1) >> 2
            if heap[i].precedes(heap[parent]) { return "heap order violated at \(i)" }
        }
        var stale = 0
        for e in heap where slotGeneration[Int(e.slot)] != e.generation { stale += 1 }
        if stale != cancelledInHeap { return "cancelled count \(cancelledInHeap) but \(stale) stale entries" }
        return nil
    }
}
