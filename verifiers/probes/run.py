"""Run probes in a version's sandbox and read their results through the sealed exec channel (cached).

Each run writes the in-sandbox runner (box.py) and the probe's statements to a fresh directory under /tmp,
outside the repository (no candidate can have shipped or changed it), with a random nonce; the runner's
stdout and stderr go to /dev/null and its records to a private descriptor on the command's output, which
the exec server returns (docs/architecture.md, "Answers cannot be forged from inside"). Only lines carrying
the nonce are read, in order; what the code under test prints is a field of a record, never a record.
"""

from __future__ import annotations

import json
import secrets
import shlex
from pathlib import Path

from verifiers.cache import OutcomeCache, cache_key
from verifiers.config import VerifierConfig
from verifiers.execute import WORKDIR, shell
from verifiers.isolation import isolated
from verifiers.outcome import normalize_output
from verifiers.protocols import Box, EnvLike, SandboxSource
from verifiers.table import Probe, ProbeOutcome, StepResult, sha256

BOX = Path(__file__).with_name("box.py")
PREFIX = "SWESCALE-PROBE"
PROBE_VERSION = "1"
"""Part of every probe cache key: bump it when a change to how probes run changes what they report."""
TEXT_CAP = 2000
"""Characters kept of a value's repr, an exception line and printed text, per statement."""
GRACE = 15.0
"""Seconds the command gets beyond the probe's own timer (interpreter start-up, the backstop)."""


def run_probes(
    source: SandboxSource,
    env: EnvLike,
    probes: list[Probe],
    patch_hash: str,
    cache: OutcomeCache,
    config: VerifierConfig,
) -> dict[str, ProbeOutcome]:
    """Every probe on one version (from the cache where possible; the sandbox is asked for only when a
    result is missing, and put back as the patch left it before each run)."""
    outcomes = {}
    for probe in probes:
        key = cache_key(
            "probe",
            PROBE_VERSION,
            env.image,
            env.python,
            patch_hash,
            probe.probe_hash,
            str(config.probe_timeout),
        )
        if (cached := cache.get(key)) is not None:
            outcomes[probe.probe_id] = ProbeOutcome.model_validate(cached)
            continue
        outcome = run_probe(source.get(), env, probe, config.probe_timeout)
        cache.put(key, outcome.model_dump())
        outcomes[probe.probe_id] = outcome
    return outcomes


def run_probe(box: Box, env: EnvLike, probe: Probe, timeout: float) -> ProbeOutcome:
    nonce = secrets.token_hex(16)
    folder = f"/tmp/.swescale_probe_{secrets.token_hex(8)}"
    spec = {"nonce": nonce, "steps": [s.code for s in probe.steps], "timeout": timeout, "cap": TEXT_CAP}
    box.write_file(f"{folder}/box.py", BOX.read_text())
    box.write_file(f"{folder}/spec.json", json.dumps(spec))
    runner = f"{env.python} {folder}/box.py {folder}/spec.json 3>&1 1>/dev/null 2>&1"
    command = isolated(f"cd {WORKDIR} && {runner}; rm -rf {shlex.quote(folder)}")
    res = box.exec(shell(env, command), timeout=timeout + GRACE, cwd=WORKDIR)
    return read_records(res.output, nonce, len(probe.steps), res.timed_out, res.duration)


def read_records(output: str, nonce: str, steps: int, timed_out: bool, duration: float = 0.0) -> ProbeOutcome:
    """The probe's outcome from the lines of `output` that carry `nonce`, which must come in order."""
    mark = f"{PREFIX} {nonce} "
    results: list[StepResult] = []
    ended = False
    for line in output.splitlines():
        if not line.startswith(mark):
            continue
        try:
            record = json.loads(line[len(mark) :])
            if record.get("end") is True:
                ended = True
                break
            if record.get("i") != len(results) or len(results) >= steps:
                raise ValueError("record out of order")
            results.append(StepResult.model_validate({k: v for k, v in record.items() if k != "i"}))
        except ValueError:  # json and pydantic errors are ValueErrors
            return _outcome("error", [], steps, duration)
    if ended:
        status = "timeout" if any(r.kind == "timeout" for r in results) else "ran"
    elif timed_out or (results and results[-1].kind == "timeout"):
        status = "timeout"
        if len(results) < steps and (not results or results[-1].kind != "timeout"):
            results.append(StepResult(kind="timeout"))
    else:
        status = "no-record"
    return _outcome(status, results, steps, duration)


def _outcome(status: str, results: list[StepResult], steps: int, duration: float) -> ProbeOutcome:
    results = results + [StepResult(kind="not-run") for _ in range(steps - len(results))]
    return ProbeOutcome(
        status=status, steps=results, digest=digest(status, results), duration=round(duration, 3)
    )


def digest(status: str, results: list[StepResult]) -> str:
    """sha256 of what the statements did, addresses, durations and temporary paths normalized."""
    parts = [[r.kind, normalize_output(r.text), normalize_output(r.stdout)] for r in results]
    return sha256(json.dumps([status, parts]))
