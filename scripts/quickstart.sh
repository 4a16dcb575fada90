#!/usr/bin/env bash
# The quick start: install dependencies, build in release, run a real job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product gpusim
GPUSIM=.build/release/gpusim
echo "== Event-loop speed (hold model, 10M events, 100k pending) =="
"$GPUSIM" bench engine --events 10000000 --pending 100000
