"""The candidate a trajectory leaves: its patch, its reproduction script and the script's exit codes."""

from __future__ import annotations

import shlex
import uuid
from typing import Any

from agent.config import AgentConfig
from agent.patch import filter_patch
from agent.tools.base import Environment, SandboxLike
from sandbox.patch import ANY_OWNER_GIT, GIT, PatchError, apply_patch

ROOT = "/testbed"
PY = "PY=$(command -v python || command -v python3)"


def _run_script(sandbox: SandboxLike, script: str, timeout: float) -> int:
    # A fresh bytecode cache: in-tree .pyc files may be stale when an edit kept size and mtime second.
    cache = f"/tmp/.swescale_pycache_{uuid.uuid4().hex}"
    r = sandbox.exec(
        f'{PY}; cd {ROOT} && PYTHONPYCACHEPREFIX={cache} "$PY" {shlex.quote(script)}; '
        f"rc=$?; rm -rf {cache}; exit $rc",
        timeout=timeout,
    )
    return 124 if r.timed_out else r.exit_code


def capture_candidate(sandbox: Environment, config: AgentConfig, mode: str) -> dict[str, Any]:
    """Capture the candidate: patch without scratch files, the reproduction script and its exit codes.

    The script runs on the patched tree, then on the original code: the (filtered) patch is reverse-applied
    in place with `git apply -R` (sandbox.patch.apply_patch; the script and scratch files stay), and
    re-applied afterwards. Running in place keeps compiled extensions and editable installs valid.
    """
    full = sandbox.diff()
    patch, dropped = filter_patch(full, config.repro_script)
    out: dict[str, Any] = {"patch": patch if mode == "fix" else "", "dropped": dropped}
    script = config.repro_script
    check = sandbox.exec(f"cd {ROOT} && test -f {shlex.quote(script)} && echo yes || echo no", timeout=30)
    if check.output.strip() != "yes":
        return out
    out["repro_test"] = sandbox.read_file(f"{ROOT}/{script}")
    out["repro_path"] = script
    if mode == "fix":
        out["repro_exit_patched"] = _run_script(sandbox, script, config.repro_timeout)
    if not patch.strip():
        out["repro_exit_original"] = (
            out.get("repro_exit_patched")
            if mode == "fix"
            else _run_script(sandbox, script, config.repro_timeout)
        )
        return out
    try:
        apply_patch(sandbox, patch, chain=GIT, reverse=True, cwd=ROOT, timeout=60, git=ANY_OWNER_GIT)
    except PatchError as exc:
        out["repro_error"] = (
            f"could not reverse the patch to run the script on the original code: {exc.output}"
        )
        return out
    try:
        out["repro_exit_original"] = _run_script(sandbox, script, config.repro_timeout)
    finally:
        try:
            apply_patch(sandbox, patch, chain=GIT, cwd=ROOT, timeout=60, git=ANY_OWNER_GIT)
        except PatchError as exc:
            out["repro_error"] = f"could not re-apply the patch: {exc.output}"
    return out
