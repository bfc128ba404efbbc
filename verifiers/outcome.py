"""Output normalisation, digests and the classification of a failing run."""

from __future__ import annotations

import re

from verifiers.table import Outcome, sha256

_VOLATILE = [
    (re.compile(r"0x[0-9a-fA-F]{4,}"), "0xADDR"),  # object addresses
    (re.compile(r"\d+(\.\d+)?\s*(s|sec|seconds|ms)\b"), "<T>"),  # durations
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?"), "<DATE>"),  # timestamps
    (re.compile(r"/tmp/[\w./-]+"), "/tmp/<P>"),  # temporary paths
    (re.compile(r"\bpid[ =:]*\d+", re.I), "pid <N>"),
    (re.compile(r"[ \t]+$", re.M), ""),
]

# Exceptions that, raised from the test script itself, mean the test is broken rather than the issue present.
TEST_BUG_ERRORS = (
    "SyntaxError",
    "IndentationError",
    "TabError",
    "NameError",
    "ImportError",
    "ModuleNotFoundError",
)
_EXC_LINE = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception|Exit|Interrupt))\b:?", re.M)
_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+', re.M)


def normalize_output(text: str) -> str:
    for pattern, repl in _VOLATILE:
        text = pattern.sub(repl, text)
    return text.strip()


def make_outcome(
    exit_code: int | None, output: str, timed_out: bool, duration: float, excerpt: int
) -> Outcome:
    norm = normalize_output(output)
    return Outcome(
        exit_code=exit_code,
        output_digest=sha256(f"{exit_code}\0{norm}"),
        output_excerpt=output[-excerpt:] if excerpt > 0 else "",
        timed_out=timed_out,
        duration=round(duration, 3),
    )


def final_exception(output: str) -> tuple[str | None, str | None]:
    """(exception name, innermost file of its traceback) of the last traceback in the output, if any."""
    start = output.rfind("Traceback (most recent call last):")
    if start < 0:
        # SyntaxErrors of the script itself are printed without a traceback header.
        match = _EXC_LINE.search(output[-2000:])
        return (match.group(1), None) if match and match.group(1) in TEST_BUG_ERRORS else (None, None)
    tail = output[start:]
    frames = _FRAME.findall(tail)
    names = _EXC_LINE.findall(tail)
    return (names[-1] if names else None), (frames[-1] if frames else None)


def is_test_bug(outcome: Outcome, script_path: str) -> str | None:
    """Why a failing run on the original code is a defect of the test, not the issue (None if it is not).

    A test that exits non-zero with a SyntaxError/NameError/ImportError raised in the script itself (or a
    SyntaxError anywhere: the script does not even compile) did not get to check the issue. An
    AssertionError, a plain `sys.exit(1)` or any other exception (often the issue's own symptom) counts
    as the test's own failure signal.
    """
    if outcome.passed or outcome.timed_out or outcome.exit_code is None:
        return None
    name, frame = final_exception(outcome.output_excerpt)
    if name not in TEST_BUG_ERRORS:
        return None
    name_of_script = script_path.rsplit("/", 1)[-1]
    if (
        frame is None
        or frame.endswith(name_of_script)
        or name in ("SyntaxError", "IndentationError", "TabError")
    ):
        return f"crashes on original: {name} in the test itself"
    return None
