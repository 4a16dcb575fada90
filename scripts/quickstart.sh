#!/usr/bin/env bash
# The quick start: install dependencies, build in release, run real jobs on real data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product gpusim
GPUSIM=.build/release/gpusim
echo "== Replay of a real A100 training trace (PyTorch profiler) on the simulated A100 =="
"$GPUSIM" trace replay Traces/kineto/a100-80gb-training-rank0.json.gz
echo
echo "== The Azure LLM conversation trace =="
"$GPUSIM" trace inspect Traces/requests/azure2023/AzureLLMInferenceTrace_conv.csv.zst
echo
echo "== Event-loop speed (hold model, 10M events, 100k pending) =="
"$GPUSIM" bench engine --events 10000000 --pending 100000
