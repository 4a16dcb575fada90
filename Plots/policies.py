"""MoE and multitask experiments: headline metrics per policy, one bar per grid point, with the
95% confidence interval over seeds as error bars."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import _gpusim as g  # noqa: E402

HEADLINES = {
    "moe": ["ttft_mean_s", "tpot_mean_s", "e2e_p99_s", "hit_rate", "stall_s", "pcie_bytes"],
    "multitask": ["makespan_s", "jain_fairness", "sm_utilisation", "ttft_p99_s", "tpot_p99_s", "slo_attainment",
                  "throughput_iter_per_s"],
}
# t(0.975, df) for df = 1..10; 1.96 beyond.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]


def ci(values):
    n = len(values)
    if n < 2:
        return 0.0
    m = g.mean(values)
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    return (T975[n - 2] if n - 1 <= len(T975) else 1.96) * s / math.sqrt(n)


def main():
    args = g.arguments(__doc__)
    con = g.connect(args.db)
    for kind, wanted in HEADLINES.items():
        for experiment, groups in g.metrics(con, kind).items():
            points, policies, panels = [], [], []
            for (p, policy, tenant), values in groups.items():
                if p not in points:
                    points.append(p)
                if policy not in policies:
                    policies.append(policy)
                for m in values:
                    if m in wanted and (m, tenant) not in panels:
                        panels.append((m, tenant))
            panels.sort(key=lambda mt: (wanted.index(mt[0]), mt[1]))
            panels = panels[:8]
            if not panels:
                continue
            cols = min(4, len(panels))
            rows = (len(panels) + cols - 1) // cols
            fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False, layout="constrained")
            width = 0.8 / max(len(points), 1)
            for ax, (metric, tenant) in zip([a for r in axes for a in r], panels):
                for k, p in enumerate(points):
                    xs, ys, es = [], [], []
                    for i, policy in enumerate(policies):
                        values = groups.get((p, policy, tenant), {}).get(metric)
                        if values:
                            xs.append(i + (k - (len(points) - 1) / 2) * width)
                            ys.append(g.mean(values))
                            es.append(ci(values))
                    label = ", ".join(f"{a.split('.')[-1]}={g.short(v)}" for a, v in sorted(g.params(p).items())) or None
                    ax.bar(xs, ys, width=width, yerr=es, capsize=2, label=label)
                ax.set_xticks(range(len(policies)))
                ax.set_xticklabels(policies, rotation=45, ha="right", fontsize=8)
                ax.set_title(f"{metric} ({tenant})", fontsize=9)
                ax.grid(axis="y", linewidth=0.3)
            for ax in [a for r in axes for a in r][len(panels):]:
                ax.axis("off")
            if len(points) > 1:
                axes[0][0].legend(fontsize=6)
            fig.suptitle(f"{experiment} ({kind}): mean ± 95% CI over seeds")
            g.save(fig, args.out_dir, f"{experiment}-policies", args.format)
            plt.close(fig)


if __name__ == "__main__":
    main()
