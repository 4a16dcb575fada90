// `timeslice`: contexts take turns on the whole GPU for a quantum; switching costs time; a
// context with nothing to run yields early.

import SimCore
import Tenancy

/// Round-robin time slicing of whole-GPU contexts.
///
/// The context on the GPU runs for `quantum`. When the quantum ends and another tenant has work,
/// the running kernels are paused (their progress kept), the switch takes `switchCost` during
/// which nothing runs, and the next tenant with work (admission order, round robin) gets a
/// quantum. A tenant that runs out of work yields at once. When nobody else has work the quantum
/// is renewed without a switch. The first context loaded costs nothing.
public struct TimeslicePolicy: SharingPolicy, Sendable {
    public static let name = "timeslice"
    /// The presets of `nvidia-smi compute-policy --set-timeslice`, as this simulator takes them.
    public static let presets: [(name: String, quantum: SimTime)] = [("short", .ms(2)), ("medium", .ms(10)), ("long", .ms(30))]

    public let quantum: SimTime
    public let switchCost: SimTime

    enum State: Equatable { case idle, running(Int), switching(Int) }
    var state: State = .idle
    var lastLoaded: Int? = nil
    var order: [Int] = []
    var epoch: Int64 = 0

    public init(quantum: SimTime, switchCost: SimTime) {
        precondition(quantum > .zero && switchCost >= .zero)
        self.quantum = quantum
        self.switchCost = switchCost
    }

    public mutating func tenantAdmitted(_ t: Int, _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) {
        order.append(t)
    }

    public mutating func place(_ op: TenantOp, tenant t: Int, stream: Int,
                               _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) -> Placement? {
        switch state {
        case .running(let c):
            return c == t ? .wholeGPU : nil
        case .idle:
            if lastLoaded == t || lastLoaded == nil {   // the context is loaded (or the GPU has none yet)
                run(t, &s)
                return .wholeGPU
            }
            beginSwitch(to: t, &gpu, &s)
            return nil
        case .switching:
            return nil
        }
    }

    public mutating func tenantIdle(_ t: Int, _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) {
        guard state == .running(t) else { return }
        if let next = nextWithWork(after: t, gpu) {
            beginSwitch(to: next, &gpu, &s)
        } else {
            state = .idle
            epoch += 1          // the quantum timer is void
        }
    }

    public mutating func tenantFinished(_ t: Int, _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) {
        if let i = order.firstIndex(of: t) { order.remove(at: i) }
    }

    public mutating func timer(token: Int64, _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) {
        guard token >> 1 == epoch else { return }   // stale
        if token & 1 == 0 {
            // Quantum over.
            guard case .running(let c) = state else { return }
            if let next = nextWithWork(after: c, gpu) {
                gpu.pause(c, at: s.now)
                beginSwitch(to: next, &gpu, &s)
            } else {
                startQuantum(&s)
            }
        } else {
            // Switch done.
            guard case .switching(let u) = state else { return }
            lastLoaded = u
            if gpu.tenants[u].hasWork {
                run(u, &s)
                gpu.kick(u)
            } else if let next = nextWithWork(after: u, gpu) {
                beginSwitch(to: next, &gpu, &s)
            } else {
                state = .idle
            }
        }
    }

    mutating func run(_ t: Int, _ s: inout Scheduler<EngineEvent>) {
        state = .running(t)
        lastLoaded = t
        startQuantum(&s)
    }

    mutating func startQuantum(_ s: inout Scheduler<EngineEvent>) {
        epoch += 1
        s.schedule(.policyTimer(token: epoch << 1), after: quantum)
    }

    mutating func beginSwitch(to u: Int, _ gpu: inout SharedGPU, _ s: inout Scheduler<EngineEvent>) {
        gpu.countContextSwitch()
        state = .switching(u)
        epoch += 1
        s.schedule(.policyTimer(token: epoch << 1 | 1), after: switchCost)
    }

    /// The next tenant after `c` in round-robin order that has work.
    func nextWithWork(after c: Int, _ gpu: SharedGPU) -> Int? {
        guard !order.isEmpty else { return nil }
        let start = (order.firstIndex(of: c) ?? -1) + 1
        for k in 0..<order.count {
            let u = order[(start + k) % order.count]
            if u != c && gpu.tenants[u].hasWork { return u }
        }
        return nil
    }
}

extension TimeslicePolicy {
    /// `parameters.timeslice`: `quantum: short|medium|long` or `quantum_ms: X` (default medium),
    /// `switch_cost_us: X` (default 50: context switches cost ~25-100 µs).
    public init(settings node: SettingsNode?, context: PolicyContext) throws {
        var quantum = SimTime.ms(10)
        var cost = SimTime.us(50)
        if let node {
            var m = try SettingsMap(node, "timeslice settings {quantum | quantum_ms, switch_cost_us}")
            let preset = m.optional("quantum")
            let value = m.optional("quantum_ms")
            if let preset, value != nil {
                throw preset.error("give either quantum (a preset) or quantum_ms (a value), not both")
            }
            if let preset {
                let name = try SettingsMap.string(preset, "a preset: short, medium or long")
                guard let p = TimeslicePolicy.presets.first(where: { $0.name == name }) else {
                    throw preset.error("unknown quantum preset '\(name)'; expected short (2 ms), medium (10 ms) or long (30 ms), or set quantum_ms")
                }
                quantum = p.quantum
            }
            if let value { quantum = .ms(try SettingsMap.double(value, "the quantum in ms", 0.001...10_000)) }
            if let c = try m.optionalDouble("switch_cost_us", "the context-switch cost in µs", 0...1_000_000) { cost = .us(c) }
            try m.finish(known: ["quantum", "quantum_ms", "switch_cost_us"])
        }
        self.init(quantum: quantum, switchCost: cost)
    }
}
