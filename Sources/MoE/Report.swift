// Formatting of run results (text and JSON; locale-independent, deterministic).

public enum MoEReport {
    /// A number as text: integers without a fraction, others with up to 9 significant digits.
    public static func number(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: "%.9g", v)
    }

    public static func json(_ r: MoERunResult, includeRequests: Bool) -> String {
        var s = "{\"metrics\": {"
        s += r.metrics.map { "\(jsonQuote($0.name)): \(number($0.value))" }.joined(separator: ", ")
        s += "}"
        if includeRequests {
            s += ", \"requests\": ["
            s += r.requests.map {
                "{\"id\": \($0.id), \"arrival_ns\": \($0.arrival.nanoseconds), \"first_token_ns\": \($0.firstToken.nanoseconds), "
                    + "\"finish_ns\": \($0.finish.nanoseconds), \"input_tokens\": \($0.inputTokens), \"output_tokens\": \($0.outputTokens)}"
            }.joined(separator: ", ")
            s += "]"
        }
        return s + "}"
    }
}
