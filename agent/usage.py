"""Model usage, counted once: each call is recorded where it happens and every enclosing total sees it.

```python
run = Ledger()                                    # a solve run (or a bench instance)
fix = run.child("fix")                            # a stage of it
client.chat(messages, ledger=fix.child("g0-t0"))  # one call of one trajectory
fix.total.total_tokens, run.total.calls, run.by_server  # no snapshot is ever subtracted
```

A `Ledger` is a node of a tree: a record goes into the node and every ancestor, under one lock per tree,
so at any moment a parent holds exactly the sum of its own records and its children's. The model client
(`agent.model.ModelClient`) keeps its own tree (what it served, per server) and records each attempt there
and into the caller's ledger, once per node even where the two trees meet (`record`).
"""

from __future__ import annotations

import threading

from pydantic import BaseModel


class Usage(BaseModel):
    """What model calls cost: tokens, answered calls, repeated and failed requests, time waited."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens the server served from its prefix cache (when its answer says)."""
    new_prompt_tokens: int = 0
    """Prompt tokens the server had to process: past its prefix cache (`cached_tokens` when it reports
    them, else the prompt's growth over the conversation's previous request; the whole prompt at first)."""
    calls: int = 0
    """Answered requests."""
    retries: int = 0
    """Requests that repeated an earlier one that failed (the client's backoff, or a cut completion)."""
    errors: int = 0
    """Requests that failed (an error status, a timeout, a lost connection)."""
    timeouts: int = 0
    """Of the failed requests, those the client gave up waiting for (`model.timeout`)."""
    retry_seconds: float = 0.0
    """Time lost to failed requests and the waits before sending them again."""
    seconds: float = 0.0
    """Time the answered requests took (a trajectory's result holds its wall time instead)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def spent_tokens(self) -> int:
        """What the requests cost a prefix-caching server: new prompt tokens plus completion tokens (a
        conversation re-sends its history each step; summing whole prompts grows quadratically)."""
        return self.new_prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        for name in Usage.model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Ledger:
    """Usage in total and per server URL, for one part of a run; a child's records count in its parents.

    Thread safe: every node of a tree shares the root's lock."""

    def __init__(self, parent: Ledger | None = None, name: str = "") -> None:
        self.parent, self.name = parent, name
        self._lock: threading.Lock = parent._lock if parent is not None else threading.Lock()
        self._total = Usage()
        self._by_server: dict[str, Usage] = {}

    def child(self, name: str = "") -> Ledger:
        """A new ledger below this one (a stage of a run, a trajectory of a stage): what it records counts
        here too. Each call makes a new one; keep it to read its part."""
        return Ledger(self, name)

    @property
    def root(self) -> Ledger:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def record(self, usage: Usage, server: str = "") -> None:
        """Add one request's usage here and in every ancestor."""
        record(usage, server, self)

    @property
    def total(self) -> Usage:
        """The sum over every record here and below (a copy)."""
        with self._lock:
            return self._total.model_copy()

    @property
    def by_server(self) -> dict[str, Usage]:
        """The sum per server URL (copies)."""
        with self._lock:
            return {url: u.model_copy() for url, u in self._by_server.items()}

    def _add(self, usage: Usage, server: str) -> None:  # the tree's lock is held
        self._total.add(usage)
        if server:
            self._by_server.setdefault(server, Usage()).add(usage)


def record(usage: Usage, server: str, *ledgers: Ledger | None) -> None:
    """Add `usage` to each ledger given and their ancestors, once per ledger however the chains overlap."""
    trees: dict[int, tuple[threading.Lock, dict[int, Ledger]]] = {}
    for ledger in ledgers:
        node = ledger
        while node is not None:
            _, nodes = trees.setdefault(id(node._lock), (node._lock, {}))
            nodes[id(node)] = node
            node = node.parent
    for lock, nodes in trees.values():
        with lock:
            for node in nodes.values():
                node._add(usage, server)
