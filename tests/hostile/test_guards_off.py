"""benchmarks/hostile_candidates.py compares the guards with none: its unguarded mode must reach every module
of the product that uses a guard (no Docker)."""

from __future__ import annotations

import sys
from pathlib import Path

import envs.freeze
import envs.verdict
import swescale.api  # noqa: F401  (imports every module a run uses)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from hostile_candidates import guards  # noqa: E402

GUARDS = {
    "freeze": envs.freeze.freeze,
    "install": envs.verdict.install,
    "cross_check": envs.verdict.cross_check,
}


def _users() -> dict[str, list[str]]:
    """Per guard: the loaded product modules whose global of that name is the guard itself."""
    return {
        name: sorted(
            module.__name__
            for module in list(sys.modules.values())
            if module.__name__.split(".")[0] in ("envs", "verifiers", "selection", "swescale")
            and module.__name__ not in ("envs.freeze", "envs.verdict")
            and getattr(module, name, None) is guard
        )
        for name, guard in GUARDS.items()
    }


def test_the_unguarded_mode_replaces_every_guard_the_product_uses_and_restores_them():
    users = _users()
    assert all(users.values()), users  # bench eval and the verifiers use all three
    with guards(False):
        assert _users() == {name: [] for name in GUARDS}
    assert _users() == users
    with guards(True):
        assert _users() == users
