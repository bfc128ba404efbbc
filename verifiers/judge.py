"""Model-based (execution-free) verifier: P(YES) that a candidate patch resolves the issue.

The judge sees the issue, the candidate diff and optionally a condensed trajectory; never hidden tests.
Score: from the answer token's top_logprobs, P(YES) = e^yes / (e^yes + e^no), where yes/no are the
log-sum-exp over spellings (`YES`, ` Yes`, `yes.` ...). A spelling missing from the top list gets the
residual mass bound log(1 - sum of shown probabilities). Without logprobs the score is the mean of
`judge_samples` sampled verdicts (unparsable ones ignored).

Every candidate of one table is scored the same way: the method is decided once, before any candidate,
by one probe request (`judge_method: auto`) and recorded in the table (`meta.judge_method`). With
`logprobs`, a candidate whose answer token has neither YES nor NO among its top logprobs stays unjudged
(None) rather than being sampled. Requests run concurrently; results are keyed by candidate id.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import jinja2

from verifiers.config import VerifierConfig
from verifiers.table import Candidate

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True, autoescape=False
)
_VERDICT = re.compile(r"\b(YES|NO)\b", re.I)
_REASONING_START = re.compile(r"<(think|thinking|reasoning)\b|<\|?think", re.I)
_REASONING_END = re.compile(r"</(think|thinking|reasoning)>", re.I)
PROBE_QUESTION = "Format check before judging. Answer with exactly one word, YES or NO: is 2 + 2 equal to 4?"
"""The user message of the probe request that decides the judge's method."""


class ChatModel(Protocol):
    """agent.model.ModelClient (or anything with the same `chat`)."""

    def chat(
        self,
        messages: list[dict],
        tools: Any = None,
        n: int = 1,
        logprobs: bool = False,
        top_logprobs: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        **extra: Any,
    ) -> Any: ...


def render_prompt(problem_statement: str, candidate: Candidate, config: VerifierConfig) -> list[dict]:
    diff = candidate.patch
    truncated = len(diff) > config.judge_max_diff_chars
    trajectory = condensed_trajectory(candidate) if config.judge_trajectory else ""
    user = _env.get_template("judge.j2").render(
        problem_statement=problem_statement,
        diff=diff[: config.judge_max_diff_chars],
        diff_truncated=truncated,
        trajectory=trajectory,
    )
    system = _env.get_template("judge_system.j2").render().strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def condensed_trajectory(candidate: Candidate, max_chars: int = 6000) -> str:
    """The assistant turns of the candidate's trajectory file, each cut short (empty if none)."""
    if summary := candidate.meta.get("trajectory_summary"):
        return str(summary)[:max_chars]
    path = candidate.meta.get("trajectory_file")
    if not path or not Path(path).is_file():
        return ""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return ""
    messages = data.get("messages", []) if isinstance(data, dict) else []
    parts = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "assistant":
            text = message.get("content") or ""
            calls = message.get("tool_calls") or []
            text += " ".join(json.dumps(c.get("function", c))[:300] for c in calls if isinstance(c, dict))
            if isinstance(text, str) and text.strip():
                parts.append(text.strip()[:400])
    return "\n---\n".join(parts)[-max_chars:]


# -- reading answers (ModelClient ChatResult, openai objects or plain dicts) ---------------------------------


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _choices(result: Any) -> list[Any]:
    choices = _get(result, "choices")
    return list(choices) if choices else [result]


def _content(choice: Any) -> str:
    message = _get(choice, "message")
    content = _get(message, "content") if message is not None else _get(choice, "content")
    return content if isinstance(content, str) else ""


def _first_token_tops(choice: Any) -> list[tuple[str, float]]:
    logprobs = _get(choice, "logprobs")
    tokens = (
        _get(logprobs, "content") if logprobs is not None and not isinstance(logprobs, list) else logprobs
    )
    if not tokens:
        return []
    # The answer token: the first one that is not whitespace.
    first = next((t for t in tokens if str(_get(t, "token") or "").strip()), tokens[0])
    tops = _get(first, "top_logprobs") or [first]
    out = []
    for top in tops:  # ModelClient gives (token, logprob) tuples, openai objects or dicts
        token, logprob = top if isinstance(top, tuple | list) else (_get(top, "token"), _get(top, "logprob"))
        if logprob is not None:
            out.append((str(token), float(logprob)))
    return out


def _tokens(choice: Any) -> list[Any]:
    logprobs = _get(choice, "logprobs")
    tokens = (
        _get(logprobs, "content") if logprobs is not None and not isinstance(logprobs, list) else logprobs
    )
    return list(tokens or [])


def _thinking(choice: Any) -> bool:
    """Did the answer open a reasoning block (the verdict is after it)?"""
    first = next(
        (str(_get(t, "token") or "") for t in _tokens(choice) if str(_get(t, "token") or "").strip()), ""
    )
    return bool(_REASONING_START.match(first.strip())) or bool(_get(choice, "reasoning"))


def _after_reasoning(choice: Any) -> Any:
    """The choice seen from the first token after its reasoning block (`</think>`), or None."""
    tokens, text = _tokens(choice), ""
    for index, token in enumerate(tokens):
        text += str(_get(token, "token") or "")
        if _REASONING_END.search(text):
            return {"logprobs": tokens[index + 1 :]} if index + 1 < len(tokens) else None
    return None


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def p_yes_from_logprobs(tops: Iterable[tuple[str, float]]) -> float | None:
    """P(YES) from one token's top logprobs, or None when neither YES nor NO is among them."""
    tops = list(tops)
    yes = [lp for tok, lp in tops if tok.strip().strip(".!:").upper() == "YES"]
    no = [lp for tok, lp in tops if tok.strip().strip(".!:").upper() == "NO"]
    if not yes and not no:
        return None
    residual = max(1.0 - sum(math.exp(lp) for _, lp in tops), 0.0)
    missing = math.log(residual) if residual > 0 else -math.inf
    y = _logsumexp(yes) if yes else missing
    n = _logsumexp(no) if no else missing
    if y == -math.inf and n == -math.inf:
        return None
    top = max(y, n)
    ey, en = math.exp(y - top), math.exp(n - top)
    return ey / (ey + en)


def verdict(text: str) -> float | None:
    """1.0 for YES, 0.0 for NO (the last one in the text), None when there is neither."""
    found = _VERDICT.findall(text or "")
    return None if not found else float(found[-1].upper() == "YES")


# -- the judge ----------------------------------------------------------------------------------------------


class Judge:
    """Scores candidates with one model, all of them by the same method (`decide_method`)."""

    def __init__(self, model: ChatModel, problem_statement: str, config: VerifierConfig, max_tokens: int = 1):
        self.model = model
        self.problem_statement = problem_statement
        self.config = config
        self.max_tokens = max(1, max_tokens)
        self.method: str | None = None
        """`logprobs`, `samples` or `unavailable` (the probe failed: nothing is judged); None until decided."""
        self.method_reason = ""
        self.failed: dict[str, str] = {}
        """Candidates left unjudged, and why (a request failed, or no verdict could be read)."""
        self.short_samples = 0
        """Sampled verdicts asked for but not taken (`samples` method: a request failed or had none)."""
        self._lock = threading.Lock()
        self._extra = (
            {"extra_body": {"chat_template_kwargs": config.judge_chat_template_kwargs}}
            if config.judge_chat_template_kwargs
            else {}
        )

    def decide_method(self) -> str:
        """The method for every candidate: `config.judge_method`, or for `auto` one probe request."""
        with self._lock:
            if self.method is None:
                self.method, self.method_reason = self._probe_method()
                log.info("judge method: %s (%s)", self.method, self.method_reason)
            return self.method

    def _probe_method(self) -> tuple[str, str]:
        if self.config.judge_method != "auto":
            return self.config.judge_method, "configured"
        system = _env.get_template("judge_system.j2").render().strip()
        messages = [{"role": "system", "content": system}, {"role": "user", "content": PROBE_QUESTION}]
        try:
            p = self._p_yes(messages)
        except Exception as exc:  # noqa: BLE001 - decided from the kind of failure
            status = getattr(exc, "status_code", None) or getattr(exc.__cause__, "status_code", None)
            if isinstance(status, int) and 400 <= status < 500:
                return "samples", f"the server rejects logprob requests: {exc}"
            return "unavailable", f"the probe request failed: {exc}"
        if p is None:
            return "samples", "no YES/NO among the top logprobs of the probe's answer token"
        return "logprobs", "YES/NO among the top logprobs of the probe's answer token"

    def _p_yes(self, messages: list[dict]) -> float | None:
        """One greedy request with logprobs: P(YES) of its answer token, None without YES/NO in the top.
        An answer that opens a reasoning block is asked again with room for it, and read after it."""

        def ask(max_tokens: int) -> Any:
            result = self.model.chat(
                messages,
                logprobs=True,
                top_logprobs=self.config.judge_top_logprobs,
                temperature=0.0,
                max_tokens=max_tokens,
                **self._extra,
            )
            return _choices(result)[0]

        choice = ask(self.max_tokens)
        p = p_yes_from_logprobs(_first_token_tops(choice))
        if p is None and _thinking(choice) and self.config.judge_reasoning_tokens > self.max_tokens:
            after = _after_reasoning(ask(self.config.judge_reasoning_tokens))
            p = p_yes_from_logprobs(_first_token_tops(after)) if after is not None else None
        return p

    def _samples(self, messages: list[dict], k: int) -> list[Any]:
        """k sampled answers: one request with `n=k`, then one request per answer the server left out
        (llama.cpp ignores `n`)."""
        ask = dict(
            temperature=self.config.judge_temperature, max_tokens=max(self.max_tokens, 8), **self._extra
        )
        choices = _choices(self.model.chat(messages, n=k, **ask))[:k]
        for _ in range(k - len(choices)):
            choices += _choices(self.model.chat(messages, n=1, **ask))[:1]
        return choices

    def score(self, candidate: Candidate) -> float | None:
        method = self.decide_method()
        if method == "unavailable":
            self._fail(candidate, f"no judge: {self.method_reason}")
            return None
        messages = render_prompt(self.problem_statement, candidate, self.config)
        if method == "logprobs":
            p = self._p_yes(messages)
            if p is None:
                self._fail(candidate, "no YES/NO among the top logprobs of the verdict token")
            return None if p is None else round(p, 6)
        k = max(1, self.config.judge_samples)
        votes = [v for v in (verdict(_content(c)) for c in self._samples(messages, k)) if v is not None]
        with self._lock:
            self.short_samples += k - len(votes)
        if not votes:
            self._fail(candidate, f"none of {k} sampled answers held a verdict")
        return round(sum(votes) / len(votes), 6) if votes else None

    def _fail(self, candidate: Candidate, why: str) -> None:
        with self._lock:
            self.failed[candidate.candidate_id] = why

    def score_all(self, candidates: list[Candidate]) -> dict[str, float | None]:
        """Concurrent; the answer is a dict by candidate id, whatever order requests complete in."""
        scores: dict[str, float | None] = {}
        if candidates:
            self.decide_method()  # before any candidate, so none depends on another's answer
        with ThreadPoolExecutor(max_workers=max(1, self.config.judge_concurrency)) as pool:
            futures = {c.candidate_id: pool.submit(self._safe_score, c) for c in candidates}
            for candidate_id, future in futures.items():
                scores[candidate_id] = future.result()
        return scores

    def _safe_score(self, candidate: Candidate) -> float | None:
        try:
            return self.score(candidate)
        except Exception as exc:  # noqa: BLE001 - a failed judge call leaves the candidate unjudged
            log.warning("judge failed for %s: %s", candidate.candidate_id, exc)
            self._fail(candidate, f"{type(exc).__name__}: {exc}"[:500])
            return None

    def summary(self) -> dict[str, Any]:
        """What the table records of the judging (`meta.judge_method`): method, why, failures."""
        return {
            "method": self.method or "",
            "reason": self.method_reason,
            "failed": len(self.failed),
            "failures": dict(sorted(self.failed.items())),
            "short_samples": self.short_samples,
        }
