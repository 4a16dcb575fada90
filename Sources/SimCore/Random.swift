// Seeded pseudo-random generators and named random streams (DESIGN.md §3).
//
// Everything here is a pure function of the seed: no wall clock, no system entropy and no
// process-randomised hashing, so a run is reproducible byte for byte. The algorithms are
// the published reference ones (SplitMix64 by Steele, Lea & Flood; xoshiro256** by
// Blackman & Vigna) and are pinned by known-answer tests.

/// SplitMix64: a tiny 64-bit generator with a 64-bit state (Steele, Lea & Flood 2014;
/// the reference C code by Vigna). Each output is a bijective mix of a Weyl sequence with
/// increment 0x9E3779B97F4A7C15, so every 64-bit value appears exactly once per period 2^64.
///
/// Used here mainly to expand one 64-bit seed into well-mixed state words for
/// `Xoshiro256StarStar` and to derive stream seeds. Outputs are raw 64-bit words (no units).
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    /// The current Weyl-sequence state; the next output is `mix(state &+ golden)`.
    public var state: UInt64

    @usableFromInline static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// Starts the sequence at `seed` (the reference C code's `x = seed`).
    @inlinable
    public init(seed: UInt64) {
        state = seed
    }

    /// The SplitMix64 output function (a variant of MurmurHash3's 64-bit finaliser):
    /// a bijection on `UInt64`, useful on its own as a stable bit mixer.
    @inlinable
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= SplitMix64.golden
        return SplitMix64.mix(state)
    }
}

/// xoshiro256** 1.0 (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
/// 2018/2021): the reference all-purpose 64-bit generator with 256 bits of state and
/// period 2^256 - 1. Outputs are raw 64-bit words (no units); use `nextUnitDouble()` and
/// the types in Distributions.swift for real-valued variates.
///
/// A value type: copying a generator forks an identical, independent sequence. `next()`
/// touches only the four state words and never allocates.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable, Hashable {
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64

    /// Seeds the four state words with four consecutive outputs of `SplitMix64(seed:)`,
    /// as the authors recommend. The state is never all zero: SplitMix64's output function
    /// is a bijection of distinct states, so at most one of the four words can be zero.
    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next()
        s1 = sm.next()
        s2 = sm.next()
        s3 = sm.next()
    }

    /// Sets the raw state words (for known-answer tests and checkpoint restore).
    /// - Precondition: not all four words are zero (the all-zero state is a fixed point).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        precondition(state != (0, 0, 0, 0), "xoshiro256** state must not be all zero")
        (s0, s1, s2, s3) = state
    }

    /// The raw state words, in the reference code's order `s[0]...s[3]`.
    public var state: (UInt64, UInt64, UInt64, UInt64) { (s0, s1, s2, s3) }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = (s1 &* 5).rotatedLeft(by: 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3.rotatedLeft(by: 45)
        return result
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.s0 == b.s0 && a.s1 == b.s1 && a.s2 == b.s2 && a.s3 == b.s3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(s0); hasher.combine(s1); hasher.combine(s2); hasher.combine(s3)
    }
}

extension UInt64 {
    @inlinable
    func rotatedLeft(by k: UInt64) -> UInt64 {
        (self << k) | (self >> (64 &- k))
    }
}

/// Maps raw 64-bit generator output to real numbers in the unit interval, using the top
/// 53 bits (one `Double` mantissa's worth), so every result is an exact multiple of 2^-53.
public enum UnitInterval {
    /// A `Double` in [0, 1): `(x >> 11) * 2^-53`.
    @inlinable
    public static func closedOpen(_ x: UInt64) -> Double {
        Double(x >> 11) * 0x1p-53
    }

    /// A `Double` in (0, 1]: `((x >> 11) + 1) * 2^-53`; safe to pass to `log`.
    @inlinable
    public static func openClosed(_ x: UInt64) -> Double {
        Double((x >> 11) &+ 1) * 0x1p-53
    }
}

extension RandomNumberGenerator {
    /// A uniform `Double` in [0, 1) from one 64-bit draw (53 random bits).
    @inlinable
    public mutating func nextUnitDouble() -> Double {
        UnitInterval.closedOpen(next())
    }

    /// A uniform `Double` in (0, 1] from one 64-bit draw (53 random bits); never zero,
    /// so `log` of it is finite.
    @inlinable
    public mutating func nextUnitDoubleOpenClosed() -> Double {
        UnitInterval.openClosed(next())
    }

    /// A uniform integer in `0..<bound`, without modulo bias (Lemire's multiply-and-reject
    /// method). Implemented here rather than via the standard library so that the sequence
    /// is fixed by this code, not by the toolchain version.
    /// - Precondition: `bound > 0`.
    @inlinable
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound, got \(bound)")
        let n = UInt64(bound)
        var m = next().multipliedFullWidth(by: n)
        if m.low < n {
            let threshold = (0 &- n) % n  // 2^64 mod n
            while m.low < threshold {
                m = next().multipliedFullWidth(by: n)
            }
        }
        return Int(m.high)
    }
}

/// The run's randomness, split into named, independent streams (DESIGN.md §3): one seed per
/// run, and each consumer (arrivals, routing, one per tenant, ...) asks for its own stream
/// by name. A stream's sequence depends only on (seed, name[, index]), so adding, removing
/// or reordering other streams never shifts it.
///
/// The stream seed is derived by a stable hash, never Swift's per-process `Hasher`:
/// `h = FNV-1a-64(UTF-8 bytes of name [, 0xFF, index as 8 little-endian bytes]))`,
/// `a = mix(seed &+ γ)`, `streamSeed = mix((a ^ h) &+ γ)` (`mix` = `SplitMix64.mix`,
/// γ = 0x9E3779B97F4A7C15: each step is the first output of a `SplitMix64`), and the stream is
/// `Xoshiro256StarStar(seed: streamSeed)`. For a fixed run seed, names with distinct
/// FNV hashes get distinct stream seeds.
public struct RandomStreams: Sendable, Hashable {
    /// The run's master seed.
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
    }

    /// A fresh generator for the stream called `name`. Calling this twice with the same
    /// name returns two generators with identical sequences.
    public func stream(_ name: String) -> Xoshiro256StarStar {
        Xoshiro256StarStar(seed: streamSeed(name))
    }

    /// A fresh generator for the numbered sub-stream `index` of `name` (e.g. one per
    /// tenant). Sub-streams are distinct from each other and from `stream(name)`.
    public func stream(_ name: String, index: Int) -> Xoshiro256StarStar {
        Xoshiro256StarStar(seed: streamSeed(name, index: index))
    }

    /// The 64-bit seed of stream `name` (worth logging next to results).
    public func streamSeed(_ name: String) -> UInt64 {
        derive(RandomStreams.fnv1a64(name.utf8))
    }

    /// The 64-bit seed of sub-stream `index` of `name`.
    public func streamSeed(_ name: String, index: Int) -> UInt64 {
        // 0xFF never occurs in UTF-8, so "a" + index can't collide with another name's bytes.
        var h = RandomStreams.fnv1a64(name.utf8)
        h = RandomStreams.fnv1a64Continue(h, byte: 0xFF)
        var i = UInt64(bitPattern: Int64(index))
        for _ in 0..<8 {
            h = RandomStreams.fnv1a64Continue(h, byte: UInt8(truncatingIfNeeded: i))
            i >>= 8
        }
        return derive(h)
    }

    private func derive(_ nameHash: UInt64) -> UInt64 {
        var a = SplitMix64(seed: seed)
        var b = SplitMix64(seed: a.next() ^ nameHash)
        return b.next()
    }

    static let fnvOffsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01B3

    /// 64-bit FNV-1a over a byte sequence (Fowler, Noll & Vo): stable across processes,
    /// platforms and Swift versions.
    public static func fnv1a64<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h = fnvOffsetBasis
        for b in bytes { h = fnv1a64Continue(h, byte: b) }
        return h
    }

    static func fnv1a64Continue(_ h: UInt64, byte: UInt8) -> UInt64 {
        (h ^ UInt64(byte)) &* fnvPrime
    }
}
