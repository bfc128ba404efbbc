"""sandbox/disklimit.py without Docker: the limit's parsing, the quota's detection, the watchdog."""

from __future__ import annotations

import docker
import pytest

from sandbox import disklimit
from sandbox.result import ExecResult


def test_limits_in_docker_syntax():
    assert disklimit.limit_bytes("10g") == 10 * 2**30
    assert disklimit.limit_bytes("") == 0
    assert disklimit.human(10 * 2**30) == "10 GB" and disklimit.human(200 * 2**20) == "200 MB"


def test_a_driver_without_quotas_is_learnt_once(monkeypatch):
    monkeypatch.setattr(disklimit, "_driver_quota", None)
    calls = []

    def create(**kwargs):
        calls.append(kwargs)
        if "storage_opt" in kwargs:
            raise docker.errors.APIError("--storage-opt is supported only for overlay over xfs with 'pquota'")
        return "container"

    assert disklimit.create_limited(create, "1g", image="x") == ("container", False)
    assert disklimit.create_limited(create, "1g", image="x") == ("container", False)
    assert [sorted(c) for c in calls] == [["image", "storage_opt"], ["image"], ["image"]]


def test_other_creation_errors_are_not_taken_for_a_missing_quota(monkeypatch):
    monkeypatch.setattr(disklimit, "_driver_quota", None)

    def create(**kwargs):
        raise docker.errors.APIError("no such image")

    with pytest.raises(docker.errors.APIError):
        disklimit.create_limited(create, "1g", image="x")
    assert disklimit._driver_quota is None


def test_the_watchdog_stops_a_command_past_the_limit(monkeypatch):
    monkeypatch.setattr(disklimit, "CHECK_EVERY", 0.01)
    mb = 2**20
    sizes, stopped = iter([10 * mb, 20 * mb, 300 * mb]), []
    with disklimit.DiskWatch(200 * mb, lambda: next(sizes, 400 * mb), lambda: stopped.append(True)) as watch:
        while not stopped:
            pass
    result = watch.annotate(ExecResult(137, "Killed\n"))
    assert stopped == [True] and watch.reached == 300 * mb and result.exit_code == 137
    assert (
        "the sandbox's disk limit of 200 MB was reached: the files written in it hold 300 MB" in result.output
    )
    assert disklimit.DiskWatch(0, lambda: 10**12, lambda: None).annotate(ExecResult(0, "ok")).output == "ok"
