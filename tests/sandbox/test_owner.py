"""Owner identity (sandbox/owner.py): a random id per process, a lease in a real SQLite file, judged
without Docker."""

from __future__ import annotations

import os
import time

import pytest

from sandbox import owner


@pytest.fixture
def leases(tmp_path, monkeypatch):
    monkeypatch.setenv(owner.LEASES_ENV, str(tmp_path / "leases.sqlite"))
    monkeypatch.setattr(owner, "LEASE_SECONDS", 60.0)
    return tmp_path / "leases.sqlite"


def test_a_renewed_lease_keeps_its_owner_alive_and_a_released_one_is_gone(leases):
    lease = owner.Lease()
    labels = lease.labels()
    assert labels[owner.OWNER_ID_LABEL] == lease.owner and leases.exists()
    assert owner.read_leases()[lease.owner] > time.time() + 30
    assert not owner.owner_gone(labels)
    lease.release()
    assert owner.owner_gone(labels)


def test_an_unknown_owner_in_another_pid_namespace_is_not_judged(leases):
    labels = {
        owner.OWNER_ID_LABEL: "f" * 32,
        owner.PIDNS_LABEL: "other-kernel/pid:[1]",
        owner.OWNER_LABEL: "h:1",
    }
    assert not owner.owner_gone(labels)


def test_a_dead_pid_in_our_namespace_is_gone_before_its_lease_expires(leases):
    pid = os.fork()
    if pid == 0:
        labels = owner.owner_labels()  # the child's own id and lease
        with open(leases.with_suffix(".labels"), "w") as fh:
            fh.write(repr(labels))
        os._exit(0)
    os.waitpid(pid, 0)
    labels = eval(leases.with_suffix(".labels").read_text())  # noqa: S307 - our own repr
    assert labels[owner.OWNER_ID_LABEL] != owner.current().owner  # a forked child is another owner
    assert owner.read_leases()[labels[owner.OWNER_ID_LABEL]] > time.time()  # lease not expired...
    assert owner.owner_gone(labels)  # ...but its pid is dead in our namespace


def test_a_container_of_an_older_swescale_is_never_judged_gone(leases):
    """Older containers carry only `host:pid`, read in whatever PID namespace gc runs in: a gc started
    under `unshare --pid` (or in a container) took a live owner's pid for dead and removed its sandboxes
    mid-run (seen here: a benchmark's sandboxes vanished with 409 "removal already in progress")."""
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    labels = {owner.OWNER_LABEL: f"{os.uname().nodename}:{dead}"}
    assert not owner.owner_gone(labels)
