"""Issue numbers a commit message or pull request text refers to, for mining and the bot alike."""

from __future__ import annotations

import re

# GitHub's closing keywords ("Fixes #12", "closes: #7 and #8", "Fix #218:")
_CLOSING = r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\b\s*:?\s*((?:#\d+(?:\s*(?:,|and)\s*)?)+)"
# the bare form projects use in subjects ("(issue601)", "issue #42")
_MENTION = r"\bissue\s*#?(\d+)"
_CLOSING_RE = re.compile(_CLOSING, re.I)
_ANY_RE = re.compile(f"{_CLOSING}|{_MENTION}", re.I)


def issue_refs(text: str, mentions: bool = True) -> list[int]:
    """Issue numbers `text` says it fixes, in order, without repeats; `mentions=False` keeps only those
    named with a closing keyword (what GitHub links a pull request to)."""
    found: list[int] = []
    for match in (_ANY_RE if mentions else _CLOSING_RE).finditer(text or ""):
        closing, mention = match.group(1), match.group(2) if mentions else None
        numbers = re.findall(r"\d+", closing) if closing else [mention]
        found += [int(n) for n in numbers if int(n) not in found]
    return found
