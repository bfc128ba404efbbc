"""Recording the original shares the bench's pool: two recorders each holding one sandbox of a pool of 2
must not wait for each other's slots (hold-and-wait)."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack

import pytest

from sandbox import SandboxPool
from verifiers.config import VerifierConfig
from verifiers.execute import WORKDIR
from verifiers.regression import RegressionPlan, record_original

pytestmark = pytest.mark.docker

TOUCHED = ["calc/ops.py", "calc/strings.py"]  # two regression files: each recorder wants a second sandbox


class HeldTogether:
    """The original's sandbox of one recorder, taken from the shared pool; `get` returns only once every
    recorder holds its own, so both ask the pool for more while the pool is full."""

    def __init__(self, pool: SandboxPool, image: str, stack: ExitStack, barrier: threading.Barrier):
        self.pool, self.image, self.stack, self.barrier = pool, image, stack, barrier
        self.box = None

    def get(self):
        if self.box is None:
            self.box = self.stack.enter_context(self.pool.sandbox(self.image, workdir=WORKDIR))
            self.barrier.wait(timeout=120)
        return self.box


class MemoryCache:
    def __init__(self) -> None:
        self.values: dict = {}

    def get(self, key: str):
        return self.values.get(key)

    def put(self, key: str, value) -> None:
        self.values[key] = value


def test_two_recorders_sharing_a_full_pool_both_finish(env, task):
    pool = SandboxPool(max_concurrent=2)
    barrier = threading.Barrier(2)
    config = VerifierConfig(max_parallel=2)
    plans: dict[int, RegressionPlan] = {}
    errors: list[BaseException] = []

    def record(number: int) -> None:
        try:
            with ExitStack() as stack:
                box = HeldTogether(pool, env.image, stack, barrier)
                plans[number] = record_original(box, env, TOUCHED, MemoryCache(), config, task, pool)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(n,), daemon=True) for n in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "the recorders wait for each other's slots (deadlock)"
    assert not errors, errors
    for plan in plans.values():
        assert sorted(r.file for r in plan.files) == ["tests/test_ops.py", "tests/test_strings.py"]
        assert all(r.passing for r in plan.files)
    assert pool.active == 0
