#!/usr/bin/env bash
# GPU smoke test and affinity benchmark of `swescale serve` + `swescale solve --servers`.
#
# NEEDS a machine with an NVIDIA GPU, Docker and vLLM installed (`pip install vllm` into the venv, or
# `pip install -e .[serve]`). It cannot run in CI or on the machine it was written on (no GPU, no vLLM):
# it has not been run; the same flow is tested without a GPU by tests/serve (a `vllm` stand-in).
#
# What it does: serves a small model as two replicas (one per GPU with two GPUs, both on GPU 0 otherwise),
# runs the demo task through `swescale solve --servers servers.yaml` twice, first with
# model.affinity=false (every call to the least busy replica: the baseline), then with trajectory
# affinity (the default), and prints for each the generation throughput (tokens/s, from vLLM's /metrics)
# and the prefix-cache hit rate, then the ratio affinity / baseline. Every replica is stopped on exit.
#
#   bash benchmarks/gpu_smoke.sh                       # MODEL=Qwen/Qwen2.5-Coder-1.5B-Instruct
#   MODEL=Qwen/Qwen2.5-Coder-7B-Instruct TRAJECTORIES=8 bash benchmarks/gpu_smoke.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
MODEL=${MODEL:-Qwen/Qwen2.5-Coder-1.5B-Instruct}
TRAJECTORIES=${TRAJECTORIES:-4}
PORT=${PORT:-8100}
WORK=$(mktemp -d)
swescale() { "$PY" -m swescale.cli.main "$@"; }

command -v vllm >/dev/null || { echo "vllm is not installed (pip install vllm)" >&2; exit 2; }
GPUS=$(nvidia-smi -L 2>/dev/null | wc -l)
[ "$GPUS" -ge 1 ] || { echo "no NVIDIA GPU visible (nvidia-smi -L)" >&2; exit 2; }
if [ "$GPUS" -ge 2 ]; then PLACE=(--gpus 0,1 --set serve.gpu_memory_utilization=0.85)
else PLACE=(--set serve.gpu_memory_utilization=0.4); fi

cd "$WORK"
trap 'swescale serve stop >/dev/null 2>&1 || true' EXIT
swescale serve --model "$MODEL" --replicas 2 --port-base "$PORT" "${PLACE[@]}" \
  --set serve.max_model_len=32768 --detach
swescale serve status

ISSUE=$("$PY" -c "from swescale.demo.replay import DATA; print(DATA / 'issue.md')")
for affinity in false true; do
  rm -rf repo && "$PY" -c "from pathlib import Path; from swescale.demo.replay import make_demo_repo; make_demo_repo(Path('repo'))"
  code=0
  swescale solve --servers servers.yaml --repo repo --issue "$ISSUE" --run-dir "run-$affinity" \
    "model.affinity=$affinity" "solve.trajectories=$TRAJECTORIES" agent.max_steps=25 \
    verifier.test_trajectories=2 serve.metrics_interval=5 || code=$?
  [ "$code" -eq 0 ] || [ "$code" -eq 3 ] || { echo "solve failed (exit $code)" >&2; exit 1; }  # 3: abstained
done

"$PY" - <<'PYEOF'
import json
from pathlib import Path

def summary(run: Path) -> tuple[float, float]:
    servers = json.loads((run / "run.json").read_text())["server_metrics"]
    rate = sum(m["generation_tokens_per_s"] or 0 for m in servers)
    queries = sum(m["prefix_cache_queries"] or 0 for m in servers)
    hits = sum((m["prefix_cache_hit_rate"] or 0) * (m["prefix_cache_queries"] or 0) for m in servers)
    return rate, hits / queries if queries else 0.0

base, aff = summary(Path("run-false")), summary(Path("run-true"))
print(f"{'':24}{'tokens/s':>10}{'prefix-cache hit rate':>24}")
print(f"{'least busy (baseline)':24}{base[0]:10.1f}{base[1]:24.1%}")
print(f"{'trajectory affinity':24}{aff[0]:10.1f}{aff[1]:24.1%}")
ratio = lambda a, b: f"{a / b:.2f}x" if b else "n/a"
print(f"ratio affinity / baseline: tokens/s {ratio(aff[0], base[0])}, hit rate {ratio(aff[1], base[1])}")
PYEOF
