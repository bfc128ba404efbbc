"""Django's own runner (`./tests/runtests.py`): unittest underneath, test files named as dotted modules
relative to `tests/` (`tests/admin_views/tests.py` -> `admin_views.tests`), as the harness passes them."""

from __future__ import annotations

from envs.runners.unittest import Unittest


class Django(Unittest):
    name = "django"
    modules = ()  # the runner is part of the repository
    infrastructure = ("tests/runtests.py",)

    def file_arg(self, path: str) -> str:
        return path.removesuffix(".py").removeprefix("tests/").replace("/", ".")


RUNNER = Django()
