"""Replay experiments over the launch latency: simulated span relative to the measured one, per
trace and GPU, one line per policy."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import _gpusim as g  # noqa: E402

AXIS = "parameters.launch_latency_us"


def main():
    args = g.arguments(__doc__)
    con = g.connect(args.db)
    for experiment, groups in g.metrics(con, "replay").items():
        series = {}  # (trace, gpu) -> policy -> [(latency, span error)]
        for (p, policy, tenant), values in groups.items():
            d = g.params(p)
            if AXIS not in d or "span_error_pct" not in values:
                continue
            key = (g.short(d.get("workload.trace", "")), d.get("hardware.gpu", ""))
            series.setdefault(key, {}).setdefault(policy, []).append((d[AXIS], g.mean(values["span_error_pct"])))
        if not series:
            continue
        traces = sorted({t for t, _ in series})
        fig, axes = plt.subplots(1, len(traces), figsize=(6.5 * len(traces), 5), squeeze=False, layout="constrained")
        for ax, trace in zip(axes[0], traces):
            for (t, gpu), by_policy in sorted(series.items()):
                if t != trace:
                    continue
                for policy, points in sorted(by_policy.items()):
                    points.sort()
                    ax.plot([x for x, _ in points], [y for _, y in points], marker="o", markersize=3,
                            label=f"{gpu} · {policy}", linewidth=1)
            ax.axhline(0, color="black", linewidth=0.6)
            ax.set_title(trace, fontsize=10)
            ax.set_xlabel("launch latency (µs)")
            ax.set_ylabel("simulated − measured span (%)")
            ax.grid(linewidth=0.3)
            ax.ticklabel_format(axis="y", useOffset=False)
            ax.legend(fontsize=6, ncol=2, loc="best")
        fig.suptitle(f"{experiment}: replayed span against the launch latency")
        g.save(fig, args.out_dir, f"{experiment}-launch-latency", args.format)
        plt.close(fig)


if __name__ == "__main__":
    main()
