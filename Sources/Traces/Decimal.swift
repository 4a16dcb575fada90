// Exact decimal parsing: integers and decimal fractions parsed from text straight into
// scaled Int64 values (e.g. microseconds "1712195495505583.2" -> 1712195495505583200 ns),
// never through Double.

/// Why a decimal text could not be converted.
enum DecimalParseFailure: Error, Equatable {
    case notANumber
    case outOfRange
    case notAnInteger
}

enum DecimalText {
    /// Parses JSON-number syntax (`-?digits(.digits)?([eE][+-]?digits)?`) and returns the value
    /// times 10^scale as an Int64, rounding digits below 10^-scale half away from zero.
    /// - Throws: `.notANumber` for bad syntax, `.outOfRange` if the result does not fit Int64.
    static func scaledInt64<C: Collection>(_ text: C, scale: Int) throws(DecimalParseFailure) -> Int64
    where C.Element == UInt8 {
        try scaledInt64Exactness(text, scale: scale).value
    }

    /// As `scaledInt64`, also telling whether the result is exact (no non-zero digit dropped).
    static func scaledInt64Exactness<C: Collection>(_ text: C, scale: Int) throws(DecimalParseFailure)
        -> (value: Int64, exact: Bool) where C.Element == UInt8 {
        var it = text.makeIterator()
        var c = it.next()
        var negative = false
        if c == UInt8(ascii: "-") { negative = true; c = it.next() }
        // Collect significant digits (up to a bound) and the decimal exponent.
        var digits: [UInt8] = []
        digits.reserveCapacity(24)
        var pointShift = 0           // number of fraction digits seen
        var sawDigit = false
        while let d = c, d >= 48 && d <= 57 {
            sawDigit = true
            if !(digits.isEmpty && d == 48) { digits.append(d - 48) }
            c = it.next()
        }
        if !sawDigit { throw .notANumber }
        if c == UInt8(ascii: ".") {
            c = it.next()
            var fracDigits = 0
            while let d = c, d >= 48 && d <= 57 {
                fracDigits += 1
                if !(digits.isEmpty && d == 48) { digits.append(d - 48) }
                pointShift += 1
                c = it.next()
            }
            if fracDigits == 0 { throw .notANumber }
        }
        var exp = 0
        if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            c = it.next()
            var eneg = false
            if c == UInt8(ascii: "+") { c = it.next() } else if c == UInt8(ascii: "-") { eneg = true; c = it.next() }
            var ed = 0
            while let d = c, d >= 48 && d <= 57 {
                ed += 1
                if exp < 100_000 { exp = exp * 10 + Int(d - 48) }
                c = it.next()
            }
            if ed == 0 { throw .notANumber }
            if eneg { exp = -exp }
        }
        if c != nil { throw .notANumber }
        if digits.isEmpty { return (0, true) }
        // value = 0.digits... : digits d1..dn with decimal point so that
        // value = (d1 d2 ... dn) * 10^(exp - pointShift); times 10^scale.
        let shift = exp - pointShift + scale          // result = int(digits) * 10^shift
        let n = digits.count
        // Number of digits before the cut.
        let keep = n + shift
        if keep > 19 { throw .outOfRange }
        var value: UInt64 = 0
        var i = 0
        while i < min(keep, n) {
            value = value * 10 + UInt64(digits[i])
            i += 1
        }
        if keep > n {
            for _ in 0..<(keep - n) {
                let (m, o) = value.multipliedReportingOverflow(by: 10)
                if o { throw .outOfRange }
                value = m
            }
        }
        var exact = true
        if keep < n {
            // digits[max(keep,0)...] are dropped; round half away from zero on the first.
            let first = max(keep, 0)
            for k in first..<n where digits[k] != 0 { exact = false; break }
            if keep >= 0 && digits[keep] >= 5 { value += 1 }
        }
        if negative {
            if value > UInt64(Int64.max) + 1 { throw .outOfRange }
            return (value == UInt64(Int64.max) + 1 ? Int64.min : -Int64(value), exact)
        }
        if value > UInt64(Int64.max) { throw .outOfRange }
        return (Int64(value), exact)
    }

    /// Parses an optionally signed decimal integer (no fraction, no exponent) into an Int64.
    static func int64<C: Collection>(_ text: C) throws(DecimalParseFailure) -> Int64 where C.Element == UInt8 {
        var it = text.makeIterator()
        var c = it.next()
        var negative = false
        if c == UInt8(ascii: "-") { negative = true; c = it.next() } else if c == UInt8(ascii: "+") { c = it.next() }
        var value: UInt64 = 0
        var any = false
        while let d = c {
            guard d >= 48 && d <= 57 else { throw .notANumber }
            any = true
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d - 48))
            if o1 || o2 { throw .outOfRange }
            value = a
            c = it.next()
        }
        if !any { throw .notANumber }
        if negative {
            if value > UInt64(Int64.max) + 1 { throw .outOfRange }
            return value == UInt64(Int64.max) + 1 ? Int64.min : -Int64(value)
        }
        if value > UInt64(Int64.max) { throw .outOfRange }
        return Int64(value)
    }
}
