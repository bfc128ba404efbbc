"""What each stage of a solve run spends: its wall time, and the tokens of its own ledger."""

from __future__ import annotations

import threading

from agent.usage import Ledger
from swescale.outcome import StageCost


class StageCosts:
    """Per stage (`fix`, `tests`, `verification`, `judge`, `selection`) of one run: the seconds it was
    given, and its model usage recorded in a child of the run's ledger (no snapshot is subtracted)."""

    def __init__(self, run: Ledger) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._ledgers: dict[str, Ledger] = {}
        self._seconds: dict[str, float] = {}

    def ledger(self, stage: str) -> Ledger:
        """The stage's ledger (a child of the run's), where the calls made for it are recorded."""
        with self._lock:
            if stage not in self._ledgers:
                self._ledgers[stage] = self._run.child(stage)
            return self._ledgers[stage]

    def spent(self, stage: str, seconds: float) -> None:
        """Count `seconds` of wall time to the stage (the stage appears in `costs` from then on)."""
        with self._lock:
            self._seconds[stage] = self._seconds.get(stage, 0.0) + max(0.0, seconds)

    def costs(self) -> dict[str, StageCost]:
        """Seconds and tokens of every stage that was timed."""
        with self._lock:
            ledgers, seconds = dict(self._ledgers), dict(self._seconds)
        return {
            stage: StageCost(
                seconds=spent, tokens=ledgers[stage].total.total_tokens if stage in ledgers else 0
            )
            for stage, spent in seconds.items()
        }
