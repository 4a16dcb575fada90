#!/usr/bin/env bash
# The quick start: install dependencies, build in release, run a multitask and an MoE comparison
# on real data, print their tables and write out/quickstart.sqlite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product gpusim
.build/release/gpusim run Experiments/quickstart-multitask.yaml Experiments/quickstart-moe.yaml -o out/quickstart.sqlite
