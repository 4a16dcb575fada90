// A fixed set of tenants the engine drives by index. The engine is generic over it, so a
// composing layer can mix tenant kinds (Multitask's inference and training, MoE's serving loop)
// without existentials: each conformer dispatches to concrete tenants itself.

import SimCore

/// The tenants of one run, addressed by index `0..<count`.
///
/// Implementations keep tenants in concrete storage (arrays of concrete types, an enum) and
/// forward each call; the engine is specialised for the conformer, so nothing is boxed.
public protocol TenantSet {
    var count: Int { get }
    func descriptor(_ tenant: Int) -> TenantDescriptor
    mutating func start(_ tenant: Int, _ context: inout TenantContext)
    mutating func completed(_ tenant: Int, stream: Int, token: Int64, _ context: inout TenantContext)
    mutating func timer(_ tenant: Int, token: Int64, _ context: inout TenantContext)
    func isFinished(_ tenant: Int) -> Bool
    func sloSlack(_ tenant: Int, now: SimTime) -> Double?
    func performance(_ tenant: Int, end: SimTime) -> Double?
    func report(_ tenant: Int, end: SimTime, into report: inout TenantReport)
}

/// Tenants of one concrete type (which may itself be an enum over kinds).
public struct TenantArray<T: Tenant>: TenantSet {
    public var tenants: [T]
    @inlinable public init(_ tenants: [T]) { self.tenants = tenants }

    @inlinable public var count: Int { tenants.count }
    @inlinable public func descriptor(_ i: Int) -> TenantDescriptor { tenants[i].descriptor }
    @inlinable public mutating func start(_ i: Int, _ c: inout TenantContext) { tenants[i].start(&c) }
    @inlinable public mutating func completed(_ i: Int, stream: Int, token: Int64, _ c: inout TenantContext) {
        tenants[i].completed(stream: stream, token: token, &c)
    }
    @inlinable public mutating func timer(_ i: Int, token: Int64, _ c: inout TenantContext) { tenants[i].timer(token: token, &c) }
    @inlinable public func isFinished(_ i: Int) -> Bool { tenants[i].isFinished }
    @inlinable public func sloSlack(_ i: Int, now: SimTime) -> Double? { tenants[i].sloSlack(now: now) }
    @inlinable public func performance(_ i: Int, end: SimTime) -> Double? { tenants[i].performance(end: end) }
    @inlinable public func report(_ i: Int, end: SimTime, into r: inout TenantReport) { tenants[i].report(end: end, into: &r) }
}

/// Two tenant sets side by side: indices `0..<first.count` go to `first`, the rest to `second`.
/// Nest pairs for more kinds (`TenantSetPair<A, TenantSetPair<B, C>>`).
public struct TenantSetPair<A: TenantSet, B: TenantSet>: TenantSet {
    public var first: A
    public var second: B
    @inlinable public init(_ first: A, _ second: B) { self.first = first; self.second = second }

    @inlinable public var count: Int { first.count + second.count }
    @inlinable public func descriptor(_ i: Int) -> TenantDescriptor {
        i < first.count ? first.descriptor(i) : second.descriptor(i - first.count)
    }
    @inlinable public mutating func start(_ i: Int, _ c: inout TenantContext) {
        if i < first.count { first.start(i, &c) } else { second.start(i - first.count, &c) }
    }
    @inlinable public mutating func completed(_ i: Int, stream: Int, token: Int64, _ c: inout TenantContext) {
        if i < first.count { first.completed(i, stream: stream, token: token, &c) }
        else { second.completed(i - first.count, stream: stream, token: token, &c) }
    }
    @inlinable public mutating func timer(_ i: Int, token: Int64, _ c: inout TenantContext) {
        if i < first.count { first.timer(i, token: token, &c) } else { second.timer(i - first.count, token: token, &c) }
    }
    @inlinable public func isFinished(_ i: Int) -> Bool {
        i < first.count ? first.isFinished(i) : second.isFinished(i - first.count)
    }
    @inlinable public func sloSlack(_ i: Int, now: SimTime) -> Double? {
        i < first.count ? first.sloSlack(i, now: now) : second.sloSlack(i - first.count, now: now)
    }
    @inlinable public func performance(_ i: Int, end: SimTime) -> Double? {
        i < first.count ? first.performance(i, end: end) : second.performance(i - first.count, end: end)
    }
    @inlinable public func report(_ i: Int, end: SimTime, into r: inout TenantReport) {
        if i < first.count { first.report(i, end: end, into: &r) } else { second.report(i - first.count, end: end, into: &r) }
    }
}
