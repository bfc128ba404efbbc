"""Record a real model's answers: `swescale solve` on the demo task through a recording proxy.

Usage: python benchmarks/record_real_model.py URL OUT.json [--tool-format native|text] [override ...]

URL is an OpenAI-compatible server (e.g. `python -m llama_cpp.server --model SmolLM2-135M-Instruct.Q4_1.gguf
--n_ctx 8192 --port 18731` -> http://127.0.0.1:18731/v1). The recording (every chat request and answer) is
what tests/agent/test_real_model_replay.py replays without the server.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from swescale.cli.solve import run_solve
from swescale.config import load_config
from swescale.demo.recorder import Recorder
from swescale.demo.replay import DATA, make_demo_repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("out", type=Path)
    parser.add_argument("--tool-format", default="auto")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Recorder(args.url) as recorder:
        config = load_config(
            overrides=[
                f"model.urls=[{recorder.url}]",
                f"model.tool_format={args.tool_format}",
                "model.timeout=600",
                "agent.max_steps=4",
                "solve.trajectories=2",
                "solve.generations=1",
                "verifier.test_trajectories=1",
                *args.overrides,
            ]
        )
        repo = make_demo_repo(Path(tmp) / "minimath")
        code = run_solve(config, repo, str(DATA / "issue.md"), None, Path(tmp) / "run", None)
    recorder.save(args.out)
    print(f"exit {code}; {len(recorder.exchanges)} requests recorded in {args.out}")


if __name__ == "__main__":
    main()
