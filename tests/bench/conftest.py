"""The bench tests: datasets of several tasks on the demo repository (bench_repo, bench_env: tests/conftest.py),
the scripted model."""

from __future__ import annotations

import sys
from pathlib import Path

# the scripted fixes of the demo repository, shared with the solve tests
sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))
