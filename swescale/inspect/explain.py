"""The selection decision explained signal by signal, for people: one list of signals, rendered as HTML by
the inspector and as Markdown by the bot (draft PR body, abstention comment), so both say the same thing.

The signals are `Decision.evidence`'s (selection/select.py computes them; docs/selection.md has the formula).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from selection.select import Decision

MEANING = {
    "b": (
        "behaviour agreement",
        "share of the viable candidates that behave like the chosen one on every test",
    ),
    "a": (
        "patch agreement",
        "share of the viable candidates whose normalized patch equals the chosen one's "
        "(independent attempts writing the same patch)",
    ),
    "d": (
        "distinguishing tests",
        "weighted share of the tests that fail on the original code it passes (counted no lower than "
        "the agreement)",
    ),
    "r": ("regression", "1 - loss from existing tests it breaks (weighted); scales the evidence down"),
    "j": ("judge P(YES)", "mean probability the model judge gives that its members fix the issue"),
    "E": (
        "evidence",
        "geometric mean of agreement (behaviour and patch), distinguishing tests and judge (floored), "
        "times regression",
    ),
    "M": ("margin", "how far it is ahead of the runner-up behaviour (hybrid score and vote share), 0..1"),
}
"""Each evidence key: its name and what it measures."""
ORDER = ("b", "a", "d", "r", "j", "E", "M")


@dataclass(frozen=True)
class Signal:
    key: str
    name: str
    value: float | None
    """None: the signal does not exist in this run (e.g. no judge, no regression tests ran)."""
    meaning: str
    level: str
    """`strong` (>= 0.8), `weak` (< 0.5), `medium`, or `absent`."""

    @property
    def shown(self) -> str:
        return "n/a" if self.value is None else f"{self.value:.2f}"


def _level(value: float | None) -> str:
    if value is None:
        return "absent"
    return "strong" if value >= 0.8 else "weak" if value < 0.5 else "medium"


def decision_signals(decision: Decision) -> list[Signal]:
    """The confidence's inputs in the order the formula reads them, each with what it means."""
    evidence = decision.evidence or {}
    keys = [k for k in ORDER if k in evidence] + [k for k in evidence if k not in ORDER]
    out = []
    for key in keys:
        name, meaning = MEANING.get(key, (key, ""))
        value = evidence.get(key)
        out.append(Signal(key, name, value, meaning, _level(value)))
    return out


def decision_summary(decision: Decision) -> dict:
    """What the inspector embeds: verdict, confidence, reason and the signals."""
    return {
        "chosen": decision.chosen,
        "best": decision.best,
        "abstained": decision.abstained,
        "confidence": decision.confidence,
        "reason": decision.reason,
        "signals": [asdict(s) | {"shown": s.shown} for s in decision_signals(decision)],
    }


def decision_markdown(decision: Decision) -> str:
    """The same explanation as a Markdown table (the bot's evidence)."""
    verdict = f"abstained (best `{decision.best}`)" if decision.abstained else f"chose `{decision.chosen}`"
    lines = [
        f"**Decision:** {verdict}, confidence {decision.confidence:.2f} = "
        "evidence E x (1 - margin weight x (1 - margin M))\n",
        "| signal | value | what it measures |",
        "| --- | --- | --- |",
    ]
    for s in decision_signals(decision):
        lines.append(f"| {s.name} (`{s.key}`) | {s.shown} ({s.level}) | {s.meaning} |")
    return "\n".join(lines) + "\n"
