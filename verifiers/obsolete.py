"""Regression tests the issue is meant to change (Agentless: ask the model which existing tests a correct
fix may break). Failures of the tests it names weigh 0 in the regression evidence (weights.py).

The model sees the issue and the ids of the regression tests that fail on at least one candidate (with how
many candidates break each); never hidden tests. Its answer counts only for ids from that list.
"""

from __future__ import annotations

import logging
from typing import Any

from verifiers.config import VerifierConfig
from verifiers.judge import _choices, _content, _env
from verifiers.table import CandidateRow

log = logging.getLogger(__name__)

MAX_TESTS = 50


def failing_tests(rows: list[CandidateRow]) -> dict[str, int]:
    """Regression test id -> number of distinct applying candidates (by patch hash) that break it."""
    seen: dict[str, set[str]] = {}
    for row in rows:
        if row.applies:
            for test_id in row.regression.new_failures:
                seen.setdefault(test_id, set()).add(row.patch_hash)
    return {t: len(h) for t, h in sorted(seen.items())}


def render_obsolete_prompt(problem_statement: str, failing: dict[str, int], total: int) -> list[dict]:
    tests = sorted(failing.items(), key=lambda x: (-x[1], x[0]))[:MAX_TESTS]
    user = _env.get_template("obsolete.j2").render(
        problem_statement=problem_statement,
        tests=[{"test_id": t, "broken_by": n} for t, n in tests],
        total=total,
    )
    system = _env.get_template("obsolete_system.j2").render().strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def parse_obsolete(text: str, failing: dict[str, int]) -> set[str]:
    """The listed ids that are among `failing` (whole lines, list markers and backticks stripped)."""
    found = set()
    for line in (text or "").splitlines():
        item = line.strip().lstrip("-*0123456789.) ").strip().strip("`").strip()
        item = item.split("    (fails with")[0].strip()
        if item in failing:
            found.add(item)
    return found


def obsolete_tests(
    model: Any,
    problem_statement: str,
    rows: list[CandidateRow],
    config: VerifierConfig,
    max_tokens: int = 512,
) -> set[str]:
    """The failing regression tests the model says the issue makes obsolete (empty on errors or NONE)."""
    failing = failing_tests(rows)
    if not failing:
        return set()
    total = len({r.patch_hash for r in rows if r.applies})
    messages = render_obsolete_prompt(problem_statement, failing, total)
    try:
        result = model.chat(messages, temperature=0.0, max_tokens=max_tokens)
    except Exception as exc:  # noqa: BLE001 - no answer: every failure keeps its weight
        log.warning("obsolete-test question failed: %s", exc)
        return set()
    return parse_obsolete(_content(_choices(result)[0]), failing)
