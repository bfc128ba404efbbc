"""What SWE-bench's harness environments hold beyond what its specs say, for builds without conda.

The harness creates a conda env (`conda create -n testbed python=X`) and then runs the spec's installs with
network. So its environments also had: conda's pip, setuptools and wheel of the time (with `wheel`
importable, pip installs a project without pyproject.toml in editable mode by `setup.py develop`, which puts
the work tree on sys.path; without it pip builds a PEP 660 import-finder install that tools such as
astroid's modutils cannot map back to files), the dependency releases of the time, and httpbin.org on the
internet. Here: the same base packages, constraints for dependencies whose later releases broke old
versions, and a local httpbin started inside the evaluation sandbox.
"""

from __future__ import annotations

from envs.task import Task

BASE_PACKAGES = ["pip==24.0", "setuptools==75.1.0", "wheel==0.44.0"]
"""The conda env's own packages in late 2024 (pip 24 still falls back to `setup.py develop` for editable
installs whose build backend lacks PEP 660's `build_editable`, e.g. pylint 2.15's setuptools~=62.6)."""

CONSTRAINTS: dict[str, list[tuple[str, str]]] = {
    "sphinx-doc/sphinx": [
        # the listed tests were computed with the docutils of 2023; 0.21 changed the man page writer
        # (.EX/.EE literal blocks: test_build_manpage), 0.22 removed docutils.utils.roman (LaTeX writer)
        ("docutils<0.21", "docutils 0.21 and later change output the listed tests compare against"),
    ],
}
"""repo -> [(pip constraint, why)]: later releases that fail tests the harness's environments passed."""

HTTPBIN_VENV = "/opt/httpbin"
HTTPBIN_PORT = 8099
HTTPBIN_PACKAGES = ["httpbin==0.10.2"]
"""httpbin on Flask's development server. (Tried: gunicorn's threaded worker, which keeps connections
alive as httpbin.org does, but waits forever on a TLS hello sent to its plain-HTTP port, so requests'
https:// tests against HTTPBIN_URL hung instead of failing.)"""
SERVED_HOSTS = ("httpbin.org",)
"""Internet hosts the sandbox resolves to its own services (plain HTTP only: their https:// is refused)."""
SERVICES = {"psf/requests": "httpbin"}
"""repo -> service its tests call on the internet, served inside the sandbox instead."""


def constraints(task: Task) -> list[str]:
    return [spec for spec, _why in CONSTRAINTS.get(task.repo, [])]


def service_steps(task: Task) -> list[tuple[str, str]]:
    """Build steps installing the task's services (in a venv of their own, away from the tested env)."""
    if SERVICES.get(task.repo) != "httpbin":
        return []
    pip = f"{HTTPBIN_VENV}/bin/python -m pip install -q"
    base = "env PATH=/usr/local/bin:/usr/bin:/bin python3"  # the base interpreter, not the tested env's
    return [
        (
            "httpbin",
            f"{base} -m venv {HTTPBIN_VENV} && {pip} {BASE_PACKAGES[0]} && {pip} {' '.join(HTTPBIN_PACKAGES)}",
        )
    ]


def service_commands(task: Task) -> list[str]:
    """Evaluation-script lines starting the services before the tests (the sandbox has no network)."""
    if SERVICES.get(task.repo) != "httpbin":
        return []
    url = f"http://127.0.0.1:{HTTPBIN_PORT}/"
    probe = f"import urllib.request as u; u.urlopen('{url}get', timeout=2)"
    return [
        # tests that name http://httpbin.org themselves reach it too (plain HTTP; HTTPS cannot be served)
        *(f"grep -q ' {h}$' /etc/hosts || echo '127.0.0.1 {h}' >> /etc/hosts" for h in SERVED_HOSTS),
        *(
            f"({HTTPBIN_VENV}/bin/python -m httpbin.core --host 127.0.0.1 --port {port} > /tmp/httpbin-{port}.log"
            " 2>&1 &)"
            for port in (HTTPBIN_PORT, 80)
        ),
        f'for _ in $(seq 100); do {HTTPBIN_VENV}/bin/python -c "{probe}" 2>/dev/null && break; sleep 0.2; done',
        f"export HTTPBIN_URL={url}",
    ]
