#!/usr/bin/env bash
# CI regression: sweeps shipped experiments and compares their metrics with the baselines in
# Experiments/baselines/ (gpusim regress: per-metric tolerances, a readable diff, exit 1 on a
# regression). Usage: scripts/ci-regress.sh [EXPERIMENT...] (names under Experiments/; default:
# replay-fidelity quickstart-multitask). GPUSIM: a built gpusim (default .build/debug/gpusim, built if missing).
# To accept an intended change of the metrics, regenerate a baseline and commit it:
#   gpusim sweep Experiments/NAME.yaml -o out/NAME.sqlite
#   gpusim regress out/NAME.sqlite --write-baseline Experiments/baselines/NAME.json
set -euo pipefail
cd "$(dirname "$0")/.."
GPUSIM=${GPUSIM:-.build/debug/gpusim}
if [ ! -x "$GPUSIM" ]; then
    echo "ci-regress: building gpusim" >&2
    swift build --product gpusim >&2
fi
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(replay-fidelity quickstart-multitask)
OUT=$(mktemp -d /tmp/gpusim-regress.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
status=0
for name in "${names[@]}"; do
    echo "== $name" >&2
    "$GPUSIM" sweep "Experiments/$name.yaml" -o "$OUT/$name.sqlite" --progress lines
    "$GPUSIM" regress "$OUT/$name.sqlite" --baseline "Experiments/baselines/$name.json" || status=1
done
exit $status
