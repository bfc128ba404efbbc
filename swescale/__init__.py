"""swescale, the application: the solve pipeline, bench, the CLI and the library API under it.

    import swescale
    outcome = swescale.solve(repo, issue_text, swescale.load_config([], ["model.urls=[http://...]"]))

The API (`swescale.api`) returns outcome objects and never prints or exits; it is imported on first use,
so `import swescale` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["bench_eval", "bench_run", "load_config", "select", "solve", "solve_task"]


def __getattr__(name: str) -> Any:
    if name == "load_config":
        from swescale.config import load_config

        return load_config
    if name == "bench_eval":
        from envs.evaluate import evaluate_predictions

        return evaluate_predictions
    if name in __all__:
        from swescale import api

        return getattr(api, name)
    raise AttributeError(f"module 'swescale' has no attribute {name!r}")
