"""The issue's code blocks (fenced, indented, bare `>>>` lines) and its prose (pure)."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

PY_LANGS = {"", "python", "py", "python3", "py3", "pycon", "ipython", "ipython3", "pytb", "doctest", "sage"}
"""Block tags read as Python (untagged blocks too)."""

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+.-]*)")


def squash(text: str) -> str:
    """`text` without whitespace: how the issue's code and values are compared with what ran."""
    return "".join(text.split())


@dataclass
class Block:
    """A code block of the issue (fenced, indented, or bare `>>>` lines) and the prose just before it."""

    text: str
    lang: str = ""
    before: str = ""
    after: str = ""
    """The prose between this block and the next (or the end)."""


def blocks(text: str) -> tuple[list[Block], str]:
    """The issue's code blocks in order, and its prose (everything outside them)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    found: list[Block] = []
    prose: list[str] = []
    since: list[str] = []  # prose since the last block
    i = 0
    while i < len(lines):
        line = lines[i]
        if fence := _FENCE.match(line):
            mark, lang = fence.group(1), fence.group(2).lower()
            body = []
            i += 1
            while i < len(lines) and not (
                lines[i].strip().startswith(mark[0] * len(mark)) and not lines[i].strip().strip(mark[0])
            ):
                body.append(lines[i])
                i += 1
            found.append(Block("\n".join(body), lang, "\n".join(since)))
            since = []
            i += 1
            continue
        indented = line.startswith(("    ", "\t")) and line.strip()
        if indented and (i == 0 or not lines[i - 1].strip() or i == 1 or line.lstrip().startswith(">>>")):
            body = []
            while i < len(lines) and (
                lines[i].startswith(("    ", "\t"))
                or (not lines[i].strip() and i + 1 < len(lines) and lines[i + 1].startswith(("    ", "\t")))
            ):
                body.append(lines[i])
                i += 1
            found.append(Block(textwrap.dedent("\n".join(body)), "", "\n".join(since)))
            since = []
            continue
        if line.lstrip().startswith(">>>"):
            body = []
            while i < len(lines) and lines[i].strip():
                body.append(lines[i])
                i += 1
            found.append(Block(textwrap.dedent("\n".join(body)), "", "\n".join(since)))
            since = []
            continue
        prose.append(line)
        since.append(line)
        i += 1
    for block, following in zip(found, [*(b.before for b in found[1:]), "\n".join(since)], strict=False):
        block.after = following  # with no block, the tail is left over
    return found, "\n".join(prose)
