"""Sandbox test helpers: a git repository at /testbed and a label that marks this test run's containers."""

from __future__ import annotations

import os
import uuid

import pytest

TEST_LABEL = "swescale.test"

INIT_REPO = """set -e
mkdir -p /testbed && cd /testbed
git init -q -b main .
git config user.email t@example.com && git config user.name t
printf 'def add(a, b):\\n    return a + b\\n\\n\\ndef sub(a, b):\\n    return a - b\\n' > calc.py
printf '*.log\\n' > .gitignore
git add -A && git commit -qm init
"""


@pytest.fixture(scope="session")
def run_tag() -> str:
    """A value of the `swescale.test` label unique to this test session."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def our_containers(client, tag: str) -> list:
    """Only containers this test run created (never anyone else's)."""
    return client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={tag}"})
