// Multitask's tenants as one TenantSet: concrete arrays per kind, dispatched by a switch.

import SimCore
import Tenancy

/// A Multitask tenant of any kind.
public enum MultitaskTenant: Sendable {
    case inference(InferenceTenant)
    case kineto(KinetoTenant)
}

/// Inference services, training jobs and replayed traces, in config order.
public struct MultitaskTenants: TenantSet {
    public var inference: [InferenceTenant] = []
    public var kineto: [KinetoTenant] = []
    /// (kind, index into its array) per tenant: kind 0 inference, 1 kineto.
    var slots: [(kind: UInt8, index: Int32)] = []

    public init(_ tenants: [MultitaskTenant]) {
        for t in tenants {
            switch t {
            case .inference(let x): slots.append((0, Int32(inference.count))); inference.append(x)
            case .kineto(let x): slots.append((1, Int32(kineto.count))); kineto.append(x)
            }
        }
    }

    public var count: Int { slots.count }

    public func descriptor(_ t: Int) -> TenantDescriptor {
        let s = slots[t]
        return s.kind == 0 ? inference[Int(s.index)].descriptor : kineto[Int(s.index)].descriptor
    }

    public mutating func start(_ t: Int, _ c: inout TenantContext) {
        let s = slots[t]
        if s.kind == 0 { inference[Int(s.index)].start(&c) } else { kineto[Int(s.index)].start(&c) }
    }

    public mutating func completed(_ t: Int, stream: Int, token: Int64, _ c: inout TenantContext) {
        let s = slots[t]
        if s.kind == 0 { inference[Int(s.index)].completed(stream: stream, token: token, &c) }
        else { kineto[Int(s.index)].completed(stream: stream, token: token, &c) }
    }

    public mutating func timer(_ t: Int, token: Int64, _ c: inout TenantContext) {
        let s = slots[t]
        if s.kind == 0 { inference[Int(s.index)].timer(token: token, &c) } else { kineto[Int(s.index)].timer(token: token, &c) }
    }

    public func isFinished(_ t: Int) -> Bool {
        let s = slots[t]
        return s.kind == 0 ? inference[Int(s.index)].isFinished : kineto[Int(s.index)].isFinished
    }

    public func sloSlack(_ t: Int, now: SimTime) -> Double? {
        let s = slots[t]
        return s.kind == 0 ? inference[Int(s.index)].sloSlack(now: now) : kineto[Int(s.index)].sloSlack(now: now)
    }

    public func performance(_ t: Int, end: SimTime) -> Double? {
        let s = slots[t]
        return s.kind == 0 ? inference[Int(s.index)].performance(end: end) : kineto[Int(s.index)].performance(end: end)
    }

    public func report(_ t: Int, end: SimTime, into r: inout TenantReport) {
        let s = slots[t]
        if s.kind == 0 { inference[Int(s.index)].report(end: end, into: &r) } else { kineto[Int(s.index)].report(end: end, into: &r) }
    }

    /// Failures a tenant met while running (a cost the profiles could not give).
    public var failures: [String] {
        inference.compactMap { t in t.failure.map { "\(t.descriptor.name): \($0)" } }
    }
}
