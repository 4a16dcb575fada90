"""Replay experiments over traces and GPUs: simulated minus measured GPU busy time and span (%),
per trace and GPU, one bar per policy. Draws every `replay` experiment that varies
workload.trace or hardware.gpu but not the launch latency (launch_latency.py draws those)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import _gpusim as g  # noqa: E402


def main():
    args = g.arguments(__doc__)
    con = g.connect(args.db)
    for experiment, groups in g.metrics(con, "replay").items():
        keys = set()
        for (p, _, _) in groups:
            keys.update(g.params(p).keys())
        if "parameters.launch_latency_us" in keys or not ({"workload.trace", "hardware.gpu"} & keys):
            continue
        points, policies = [], []
        for (p, policy, _) in groups:
            if p not in points:
                points.append(p)
            if policy not in policies:
                policies.append(policy)
        labels = []
        for p in points:
            d = g.params(p)
            labels.append(f"{g.short(d.get('workload.trace', ''))}\n{d.get('hardware.gpu', '')}")
        fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.75 * len(points) + 2), 7.5), sharex=True,
                                 layout="constrained")
        width = 0.8 / max(len(policies), 1)
        for ax, metric, title in zip(axes, ["busy_error_pct", "span_error_pct"],
                                     ["GPU busy time (union of kernels)", "span (first kernel start to last end)"]):
            for i, policy in enumerate(policies):
                xs, ys = [], []
                for j, p in enumerate(points):
                    values = groups.get((p, policy, "all"), {}).get(metric)
                    if values:
                        xs.append(j + (i - (len(policies) - 1) / 2) * width)
                        ys.append(g.mean(values))
                ax.bar(xs, ys, width=width, label=policy)
            ax.axhline(0, color="black", linewidth=0.6)
            ax.set_yscale("symlog", linthresh=0.01)
            ax.set_ylabel("simulated − measured (%)")
            ax.set_title(title, fontsize=10)
            ax.grid(axis="y", linewidth=0.3)
        axes[1].set_xticks(range(len(points)))
        axes[1].set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
        axes[0].legend(title="policy", fontsize=8)
        fig.suptitle(f"{experiment}: Kineto trace replay against the measurement")
        g.save(fig, args.out_dir, f"{experiment}-replay", args.format)
        plt.close(fig)


if __name__ == "__main__":
    main()
