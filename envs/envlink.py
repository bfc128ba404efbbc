"""Conda-like interpreters for environment images: the env's Python, reached through any link, runs in the env.

Installed by environment builds into the *base* interpreter's last site directory (as `swescale_envlink.py`
with a `.pth` line calling `activate()`, so every base site directory is on sys.path when it runs and can be
taken off); it imports nothing of swescale and runs on any Python 3.

Why: a venv is recognised by its interpreter's *unresolved* path (`site.venv` reads `pyvenv.cfg` beside
`sys.executable`), so a link to the venv's interpreter from elsewhere, such as tox-current-env's
`.tox/py39/bin/python -> /opt/venv/bin/python`, starts the base interpreter without the env's packages
("No module named pytest"). A conda env's interpreter is a real file whose location decides its prefix, so
a link to it still runs in the env; SWE-bench's harness specs rely on that. Environment venvs are created
with `--copies`, so their interpreter is a file of their own; when the base interpreter starts outside any
venv and its resolved executable is such a copy, `activate()` does what `site.venv` would have done for
the env: prefix, the env's site-packages, and the base site directories left out (unless the env includes
system site-packages). Starting the base interpreter itself is unchanged.
"""

import os
import site
import sys

PTH_NAME = "swescale-envlink.pth"
PTH_LINE = "import swescale_envlink; swescale_envlink.activate()\n"


def venv_root(executable: str) -> "str | None":
    """The venv whose own (copied) interpreter `executable` resolves to, or None."""
    if not executable:
        return None
    root = os.path.dirname(os.path.dirname(os.path.realpath(executable)))
    return root if os.path.isfile(os.path.join(root, "pyvenv.cfg")) else None


def _includes_system_site(root: str) -> bool:
    with open(os.path.join(root, "pyvenv.cfg")) as fh:
        for line in fh:
            key, _, value = line.partition("=")
            if key.strip().lower() == "include-system-site-packages":
                return value.strip().lower() == "true"
    return False


def activate() -> None:
    """Enter the venv of the resolved executable when the interpreter started outside of it."""
    if sys.prefix != sys.base_prefix:  # a venv is active already (started by its own path)
        return
    root = venv_root(sys.executable)
    if root is None or os.path.realpath(root) == os.path.realpath(sys.base_prefix):
        return
    base_dirs = set(site.getsitepackages()) | {site.getusersitepackages()}
    system_site = _includes_system_site(root)
    sys.prefix = sys.exec_prefix = root
    if not system_site:
        sys.path[:] = [p for p in sys.path if p not in base_dirs]
        site.ENABLE_USER_SITE = False
    site.PREFIXES[:] = [root, *(site.PREFIXES if system_site else [])]
    site.addsitepackages(None, [root])
