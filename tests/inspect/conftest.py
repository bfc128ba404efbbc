"""The inspector's tests import their helpers (synthetic runs, the browser) by module name."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
