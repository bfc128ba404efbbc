"""Test-runner adapters (one module per runner, `base.Runner` the interface): which runner a task's test
command uses, and everything swescale knows of it.

A new runner is one module here (a `Runner` subclass, its instance named `RUNNER`) plus a line of
REGISTRY.
"""

from __future__ import annotations

import functools
import importlib
import re

from envs.runners.base import Runner, function_name, parse_test_log

__all__ = ["Runner", "function_name", "parse_test_log", "runner_for", "runner_modules", "tracer_hooks"]

REGISTRY: tuple[tuple[str, str], ...] = (
    # (module of envs.runners, a regular expression the test command matches): the first match wins
    ("sympy", r"bin/test"),
    ("django", r"runtests\.py"),
    ("unittest", r"unittest"),
    ("pytest", r"pytest"),
    ("tox", r"(?s)^(?=.*tox).* --( |\Z)"),  # tox-current-env: the runner's arguments after `--`
)
OTHER_RUNNER_MODULES = ("nose", "nose2")
"""Test runners without an adapter whose absence from an interpreter also stops the tests."""
OTHER = Runner()


@functools.cache
def _adapter(module: str) -> Runner:
    return importlib.import_module(f"{__name__}.{module}").RUNNER


def adapters() -> list[Runner]:
    """Every registered adapter, in the registry's order."""
    return [_adapter(module) for module, _ in REGISTRY]


def runner_for(test_cmd: str) -> Runner:
    """The adapter of the runner `test_cmd` uses (the base `Runner` when none matches)."""
    for module, pattern in REGISTRY:
        if re.search(pattern, test_cmd):
            return _adapter(module)
    return OTHER


def runner_modules() -> set[str]:
    """Top-level modules of every known test runner."""
    return {m for runner in adapters() for m in runner.modules} | set(OTHER_RUNNER_MODULES)


def tracer_hooks() -> dict[str, str]:
    """Runner name -> its call-tracer hook source, for every runner that has one. The tracer loads them
    all: each acts only when its runner runs (a command may start another runner, e.g. a script that runs
    pytest)."""
    return {runner.name: runner.tracer_hook for runner in adapters() if runner.tracer_hook}
