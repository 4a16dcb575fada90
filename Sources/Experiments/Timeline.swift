// Chrome / Perfetto trace-event JSON of a simulated run (opens in ui.perfetto.dev and
// chrome://tracing): one process per tenant's SM partition or per link set, one thread per
// stream or link direction, a complete ("X") event per kernel or copy. Times in µs with ns digits.

import Results

public enum TimelineWriter {
    /// The JSON text. `metadata` goes into `otherData` (run id, experiment, policy, params, ...).
    public static func json(_ events: [TimelineEvent], metadata: [String: CanonicalJSON]) -> String {
        var processes: [String] = []
        var threads: [TimelineEvent.Track] = []
        var pid: [String: Int] = [:]
        var tid: [TimelineEvent.Track: Int] = [:]
        for e in events {
            if pid[e.track.process] == nil {
                processes.append(e.track.process)
                pid[e.track.process] = processes.count
            }
            if tid[e.track] == nil {
                threads.append(e.track)
                tid[e.track] = threads.count
            }
        }
        var lines: [String] = []
        for (i, p) in processes.enumerated() {
            lines.append(CanonicalJSON.object(["ph": .string("M"), "name": .string("process_name"), "pid": .int(i + 1), "tid": .int(0),
                                               "args": .object(["name": .string(p)])]).text)
            lines.append(CanonicalJSON.object(["ph": .string("M"), "name": .string("process_sort_index"), "pid": .int(i + 1), "tid": .int(0),
                                               "args": .object(["sort_index": .int(i + 1)])]).text)
        }
        for (i, t) in threads.enumerated() {
            let p = pid[t.process]!
            lines.append(CanonicalJSON.object(["ph": .string("M"), "name": .string("thread_name"), "pid": .int(p), "tid": .int(i + 1),
                                               "args": .object(["name": .string(t.thread)])]).text)
            lines.append(CanonicalJSON.object(["ph": .string("M"), "name": .string("thread_sort_index"), "pid": .int(p), "tid": .int(i + 1),
                                               "args": .object(["sort_index": .int(i + 1)])]).text)
        }
        let ordered = events.enumerated().sorted {
            let a = $0.element, b = $1.element
            if tid[a.track]! != tid[b.track]! { return tid[a.track]! < tid[b.track]! }
            if a.startNs != b.startNs { return a.startNs < b.startNs }
            return $0.offset < $1.offset
        }.map(\.element)
        for e in ordered {
            lines.append(CanonicalJSON.object([
                "ph": .string("X"), "name": .string(e.name), "cat": .string(e.category),
                "pid": .int(pid[e.track.process]!), "tid": .int(tid[e.track]!),
                "ts": .number(microseconds(e.startNs)), "dur": .number(microseconds(max(0, e.endNs - e.startNs))),
                "args": .object(e.args),
            ]).text)
        }
        return "{\"displayTimeUnit\":\"ns\",\"otherData\":" + CanonicalJSON.object(metadata).text
            + ",\"traceEvents\":[\n" + lines.joined(separator: ",\n") + "\n]}\n"
    }

    /// Nanoseconds as exact microsecond text ("12.345").
    static func microseconds(_ ns: Int64) -> String {
        let sign = ns < 0 ? "-" : ""
        let a = ns.magnitude
        let frac = String(a % 1000)
        return sign + String(a / 1000) + "." + String(repeating: "0", count: 3 - frac.count) + frac
    }
}
