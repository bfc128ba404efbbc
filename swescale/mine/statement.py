"""The problem statement of a mined task: the linked issue's text, else a model's back-translation from
the failing tests' output and the diff (a Jinja prompt), else the commit message. `statement_source`
says which: `issue`, `model` or `commit_message`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from swescale.issuerefs import issue_refs
from swescale.mine.config import MineConfig
from swescale.mine.issues import IssueSource

log = logging.getLogger(__name__)
PROMPT = Path(__file__).parent / "prompts" / "backtranslate.j2"


def _clip(text: str, limit: int) -> str:
    """Head and tail of `text` within `limit` characters."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


def render_prompt(config: MineConfig, **values: Any) -> str:
    path = Path(config.prompt) if config.prompt else PROMPT
    env = Environment(
        loader=FileSystemLoader(path.parent), undefined=StrictUndefined, keep_trailing_newline=True
    )
    return env.get_template(path.name).render(**values)


def back_translate(
    model: Any, config: MineConfig, repo: str, subject: str, tests: list[str], output: str, diff: str
) -> str:
    """The model's issue text for the failing tests (raises agent.model.ModelError when the call fails)."""
    prompt = render_prompt(
        config,
        repo=repo,
        subject=subject,
        failing_tests=tests,
        test_output=_clip(output, config.statement_log_chars),
        diff=_clip(diff, config.statement_diff_chars),
    )
    result = model.chat([{"role": "user", "content": prompt}])
    text = (result.choices[0].content or "").strip() if result.choices else ""
    return text.removeprefix("```markdown").removeprefix("```").removesuffix("```").strip()


def problem_statement(
    message: str,
    pr_text: str,
    issues: IssueSource,
    model: Any = None,
    config: MineConfig | None = None,
    **context: Any,
) -> tuple[str, str, list[int]]:
    """(statement, statement_source, linked issue numbers). `context`: repo, tests, output, diff for the
    back-translation."""
    numbers = issue_refs(f"{message}\n{pr_text}")
    texts = [(n, issues.issue(n)) for n in numbers]
    found = [(n, t) for n, t in texts if t is not None]
    if found:
        statement = "\n\n".join(f"{t['title']}\n{t['body']}".strip() for _, t in found)
        return statement, "issue", [n for n, _ in found]
    if model is not None and config is not None:
        try:
            subject = message.strip().splitlines()[0] if message.strip() else ""
            text = back_translate(model, config, subject=subject, **context)
            if text:
                return text, "model", numbers
        except Exception as exc:  # noqa: BLE001 - a model failure costs the statement, not the task
            log.warning("back-translation failed (%s): using the commit message", exc)
    return message.strip(), "commit_message", numbers
