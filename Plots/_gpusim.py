"""Shared helpers of the plot scripts: arguments and reading a gpusim results database.

Every script is run by `gpusim plot DB` as `python3 SCRIPT --db DB --out-dir DIR --format FMT`,
draws the experiments it knows that DB holds, prints each file it writes, and writes nothing
(exit 0) when the database holds none of them.
"""
import argparse
import json
import os
import sqlite3
from collections import defaultdict


def arguments(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--db", required=True, help="results database (gpusim sweep/run/merge)")
    p.add_argument("--out-dir", required=True, help="directory for the figures")
    p.add_argument("--format", default="png", choices=["png", "svg", "pdf"])
    return p.parse_args()


def connect(path):
    if not os.path.exists(path):
        raise SystemExit(f"{path}: no such file")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version != 1:
        raise SystemExit(f"{path}: results schema version {version}, these scripts read version 1")
    return con


def metrics(con, kind):
    """{experiment: {(params_json, policy, tenant): {metric: [values over seeds]}}}, ok runs of `kind`."""
    out = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    rows = con.execute(
        "SELECT r.experiment, r.params, r.policy, m.tenant, m.name, m.value, r.ordinal "
        "FROM metrics m JOIN runs r ON r.id = m.run WHERE r.status = 'ok' AND r.kind = ? "
        "ORDER BY r.experiment, r.ordinal, m.tenant, m.name", (kind,))
    for experiment, params, policy, tenant, name, value, _ in rows:
        out[experiment][(params, policy, tenant)][name].append(value)
    return out


def params(text):
    return json.loads(text)


def short(value):
    """File paths to their base name without compression and .json suffixes."""
    if isinstance(value, str) and "/" in value:
        base = os.path.basename(value)
        for suffix in (".gz", ".zst", ".json"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        return base
    return str(value)


def mean(values):
    return sum(values) / len(values)


def save(fig, out_dir, name, fmt):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.{fmt}")
    # Fixed metadata so that the same data gives the same file.
    metadata = {"Software": None} if fmt == "png" else ({"Creator": None, "Producer": None, "CreationDate": None} if fmt == "pdf" else {"Date": None, "Creator": None})
    fig.savefig(path, dpi=120, bbox_inches="tight", metadata=metadata)
    print(path)
