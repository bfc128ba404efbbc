"""The issue's own examples as runnable probes (pure: text in, `Probe`s out; no sandbox, no model).

Sources, in the order the issue has them:
- fenced (``` / ~~~) and indented code blocks: a `>>>` session (doctest prompts), an IPython session
  (`In [1]:`, `...:`, `Out[1]:`), or a script (Python or untagged; the longest prefix that parses, so an
  `Output:` pasted under the code is cut off; Python 2 `print x` statements are mended);
- `>>>` lines pasted without a block;
- inline code in prose (`` `f(x)` ``) only when the prose gives its expected value.

Each top-level statement is one step; a session's output and a traceback's last line under a statement are
what the issue *shows* it gave (`ProbeStep.shown`: usually the bug, never used as the expected value).
An expected value is read only where the issue says it is one:
- a trailing comment of the statement: `# should be 2.5`, `# expected: [1, 2]`, `# -> 0`, `# => 0`
  (not when it says wrong, bug, actual, but or currently);
- prose naming the statement: "`f(x)` should be / return / give `2.5`", "`f(x)` is expected to be 2.5",
  "`f(x)` gives `A` instead of `B`" (B), "`f(x)` should raise `ValueError`", and in the same sentence
  "`f(x)` returns `3`, but ... it should return `2.5`" (no other call in backticks between);
- a block under a line ending "Expected output:" / "Expected result:" / "should be:" that is not code
  itself: the expected output of the previous probe's last expression or print.
An expected value the original code already gives counts for nothing (verifiers.probes.signals), so a
misread actual value cannot favour a candidate.

A block that uses names an earlier block defines starts with that block's statements; one that uses names
it never defines gets imports the author took for granted (`setup` steps): `import <package>` and
`from <package> import *` for the repository's package, and for sympy isympy's session symbols. Skipped:
examples that need the network, a GUI or a terminal (URLs, `input(`, `.show(`, tkinter, webbrowser),
IPython magics and shell lines, and blocks without a call (library code quoted in the issue).
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from verifiers.probes.blocks import PY_LANGS, Block, blocks, squash
from verifiers.probes.commands import command_probes
from verifiers.table import Probe, ProbeStep, sha256

MAX_STEPS = 40
"""Statements per probe (the rest is cut)."""
MAX_VALUE = 500
"""Longest expected value read (characters)."""
UNSAFE = re.compile(r"https?://|\binput\(|\.show\(|\btkinter\b|\bwebbrowser\b|\bgetpass\b|\bTk\(")
SESSION_NAMES = {
    # isympy's session: the symbols an interactive sympy user has without defining them
    "sympy": [
        ("x y z t", "import sympy as _sympy; x, y, z, t = _sympy.symbols('x y z t')"),
        ("k m n", "import sympy as _sympy; k, m, n = _sympy.symbols('k m n', integer=True)"),
        ("f g h", "import sympy as _sympy; f, g, h = _sympy.symbols('f g h', cls=_sympy.Function)"),
    ]
}
_BUILTINS = set(dir(builtins)) | {"__name__", "__file__", "__builtins__"}

_PROMPT = re.compile(r"^\s*(>>>|\.\.\.)(?: |$)(.*)$")
_IN = re.compile(r"^\s*In\s*\[\d*\]:\s?(.*)$")
_IN_MORE = re.compile(r"^\s*\.\.\.+:\s?(.*)$")
_OUT = re.compile(r"^\s*Out\s*\[\d*\]:\s?(.*)$")
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning|Interrupt|Fault))\b(?::\s?(.*))?$")
_COMMENT_EXPECT = re.compile(
    r"^#\s*(?:->|=>|should\s+(?:be|return|give|print|output|equal)|expected(?:\s+(?:output|result|value))?"
    r"\s*:?|expect(?:ed)?)\s*:?\s*(.+?)\s*$",
    re.I,
)
_NOT_EXPECTED = re.compile(r"\b(?:wrong|bug|actual|but|currently|incorrect|instead|now|returns)\b", re.I)
_VALUE = r"(`[^`\n]+`|'[^'\n]*'|\"[^\"\n]*\"|[^\s,;]+)"
_PROSE_SHOULD = re.compile(
    r"^[`'\"]?\s*(?:\(\)\s*)?(?:should|must|ought\s+to)\s+(?:be|return|give|equal|evaluate\s+to|output|print"
    r"|yield|produce)\s*:?\s+" + _VALUE,
    re.I,
)
_PROSE_EXPECTED = re.compile(r"^[`'\"]?\s*is\s+expected\s+to\s+(?:be|return|give)\s+" + _VALUE, re.I)
_PROSE_INSTEAD = re.compile(
    r"^[`'\"]?\s*(?:gives|returns|yields|outputs|prints|evaluates\s+to|results\s+in)\s+"
    + _VALUE
    + r"\s+(?:instead\s+of|rather\s+than)\s+"
    + _VALUE,
    re.I,
)
_PROSE_RAISE = re.compile(r"^[`'\"]?\s*should\s+raise\s+(?:an?\s+)?`?([A-Za-z_][\w.]*)`?", re.I)
_EXPECTED_HEADING = re.compile(
    r"(?:\bexpected(?:\s+(?:output|result|value|answer))?|should\s+(?:be|give|return|print|output))\s*:?\s*$",
    re.I,
)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LATER_SHOULD = re.compile(
    r"^[^`]*(?:`[^`(]*`[^`]*)*?\b(?:it|this|that|the\s+result)\s+should\s+(?:be|return|give|equal)\s+(`[^`\n]+`)",
    re.I,
)
_HEDGE = re.compile(r"\b(?:maybe|perhaps|might|could|possibly|whether|if)\b[^.!?]*$", re.I)
_EXPECTED_AFTER = re.compile(
    r"(?:\bexpected(?:\s+(?:result|output|value|answer))?(?:\s+is)?|\b(?:output|result|answer)\s+should\s+be)"
    r"\s*:?\s*(`[^`\n]+`)",
    re.I,
)


@dataclass
class _Draft:
    source: str
    steps: list[ProbeStep]
    trees: list[ast.AST] = field(default_factory=list)


def _mend_py2(code: str) -> str:
    """Python 2 `print x` statements as calls."""
    return re.sub(r"^(\s*)print\b(?!\s*\()\s*(.*?)\s*$", r"\1print(\2)", code, flags=re.M)


def _parse(code: str) -> tuple[str, ast.Module] | None:
    """The code (mended when it is Python 2) and its tree, if it compiles (`return` outside a function,
    quoted from the library, does not)."""
    for text in (code, _mend_py2(code)):
        try:
            tree = ast.parse(text)
            compile(tree, "<issue>", "exec")
            return text, tree
        except (SyntaxError, ValueError):
            continue
    return None


def _trailing_comment(code: str) -> str | None:
    """The comment at the end of the statement's last line, if any."""
    last = len(code.splitlines())
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT and tok.start[0] == last:
                return tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return None


def _comment_expectation(comment: str | None) -> str | None:
    if not comment or _NOT_EXPECTED.search(comment):
        return None
    match = _COMMENT_EXPECT.match(comment.strip())
    value = match.group(1).strip().strip("`") if match else ""
    return value[:MAX_VALUE] if value else None


def _shown(output: list[str]) -> str | None:
    """What a session shows under a statement: a traceback's exception line, else the output."""
    lines = [line.rstrip() for line in output if line.strip()]
    if not lines:
        return None
    frames = ("Traceback (most recent call last)", "---->", 'File "')
    if any(line.lstrip().startswith(frames) for line in lines):
        for line in reversed(lines):
            if match := _EXC_LINE.match(line.strip()):
                return match.group(0)[:MAX_VALUE]
        return None
    return "\n".join(lines)[:MAX_VALUE]


def _step(code: str, output: list[str]) -> tuple[ProbeStep, ast.Module] | None:
    code = textwrap.dedent(code).strip("\n")
    if not code.strip() or code.lstrip().startswith(("%", "!", "?")) or code.rstrip().endswith("?"):
        return None
    parsed = _parse(code)
    if parsed is None:
        return None
    text, tree = parsed
    if not tree.body:
        return None
    shown = _shown(output)
    expected = _comment_expectation(_trailing_comment(text))
    if expected is None and shown:  # `>>> f(x)` / `3  # should be 2`
        expected = _comment_expectation(_trailing_comment(shown.splitlines()[-1]))
        shown = re.sub(r"\s*#.*$", "", shown) if expected else shown
    return ProbeStep(code=text, expected=expected, shown=shown), tree


def _session(lines: list[str], start: re.Pattern, more: re.Pattern, out: re.Pattern | None) -> list:
    """Steps of a prompt session: `start` opens a statement, `more` continues it, the rest is output."""
    steps = []
    code: list[str] | None = None
    output: list[str] = []

    def flush() -> None:
        if code is not None and (made := _step("\n".join(code), output)):
            steps.append(made)

    for line in lines:
        if (m := start.match(line)) and (start is not _PROMPT or m.group(1) == ">>>"):
            flush()
            code, output = [m.group(m.lastindex or 1)], []
        elif code is not None and not output and (m := more.match(line)):
            code.append(m.group(m.lastindex or 1))
        elif out is not None and (m := out.match(line)):
            output = [m.group(1)] if m.group(1).strip() else [""]
        elif code is not None:
            output.append(line)
    flush()
    return steps


def _script(text: str) -> list:
    """Steps of a script: its top-level statements (the longest prefix of lines that parses)."""
    text = textwrap.dedent(text)
    lines = text.split("\n")
    parsed = None
    for end in range(len(lines), 0, -1):
        if (parsed := _parse("\n".join(lines[:end]))) is not None and parsed[1].body:
            break
        parsed = None
    if parsed is None:
        return []
    source, tree = parsed
    src_lines = source.split("\n")
    steps = []
    for node in tree.body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        code = "\n".join(src_lines[first - 1 : node.end_lineno])
        if made := _step(code, []):
            steps.append(made)
    return steps


def _steps_of(block: Block) -> tuple[str, list] | None:
    lines = block.text.split("\n")
    if any(line.lstrip().startswith(">>>") for line in lines):
        return ">>> session", _session(lines, _PROMPT, _PROMPT, None)
    if any(_IN.match(line) for line in lines):
        return "IPython session", _session(lines, _IN, _IN_MORE, _OUT)
    if block.lang in PY_LANGS:
        return ("script" if block.lang else "untagged block"), _script(block.text)
    return None


def _meaningful(node: ast.stmt) -> bool:
    """A statement that calls something, outside a definition (output pasted as `(0, 3)`, a shell line
    that parses as `mypy - Q`, or a template's `{{ name | filter }}` do not)."""
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False
    return any(isinstance(n, ast.Call) for n in ast.walk(node))


def _bound_and_loaded(trees: list[ast.AST]) -> tuple[set[str], set[str], set[str]]:
    """Names the code binds, names it reads, and modules it star-imports."""
    bound: set[str] = set()
    loaded: set[str] = set()
    stars: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, ast.Import):
                bound.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name == "*":
                        stars.add((node.module or "").split(".")[0])
                    else:
                        bound.add(alias.asname or alias.name)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bound.add(node.name)
    return bound, loaded, stars


def _prelude(trees: list[ast.AST], package: str) -> list[ProbeStep]:
    """Imports the example takes for granted (only for names it reads and never binds)."""
    bound, loaded, stars = _bound_and_loaded(trees)
    free = loaded - bound - _BUILTINS
    if not free or not package.isidentifier():
        return []
    steps = []
    if package in free:
        steps.append(ProbeStep(code=f"import {package}", setup=True))
    others = free - {package}
    session = [(set(names.split()), code) for names, code in SESSION_NAMES.get(package, [])]
    session_names = set().union(*(names for names, _ in session)) if session else set()
    if others - session_names and package not in stars:
        steps.append(ProbeStep(code=f"from {package} import *", setup=True))
    steps += [ProbeStep(code=code, setup=True) for names, code in session if names & others]
    return steps


def _code_pattern(code: str) -> re.Pattern | None:
    """The statement as prose may write it: any spacing and backticks between its characters."""
    chars = [c for c in code if not c.isspace()]
    if len(chars) < 3 or len(chars) > 200 or "\n" in code.strip():
        return None
    return re.compile(r"[\s`]*".join(re.escape(c) for c in chars))


def _value(value: str, rest: str) -> str | None:
    """A value the prose wrote: in backticks or quotes, or a bare token that looks like code (a digit or a
    sign in it, True/False/None, or a word followed by "rather than" / "instead of": "should be oo rather
    than bell(oo)"); None for English ("should be able to ...")."""
    value = value.strip()
    if value.startswith("`") and value.endswith("`") and len(value) > 1:
        return value[1:-1].strip()[:MAX_VALUE] or None
    value = value.rstrip(".:").strip()
    code_like = (
        value[:1] in "'\""
        or not value.isalpha()
        or value in ("True", "False", "None")
        or re.match(r"\s*(?:rather\s+than|instead\s+of)\b", rest, re.I) is not None
    )
    return value[:MAX_VALUE] if value and code_like else None


def _prose_expectation(code: str, prose: str) -> str | None:
    """What the prose says the statement should give, when it names the statement right before saying so."""
    pattern = _code_pattern(code)
    if pattern is None:
        return None
    flat = re.sub(r"\s+", " ", prose)
    for match in pattern.finditer(flat):
        if _HEDGE.search(flat[max(0, match.start() - 60) : match.start()]):
            continue  # "Maybe `sign(0)` should be `nan`": a wish, not the expected value
        after = flat[match.end() : match.end() + 2 * MAX_VALUE]
        if m := _PROSE_RAISE.match(after):
            return f"raises {m.group(1).split('.')[-1]}"
        if m := _PROSE_SHOULD.match(after) or _PROSE_EXPECTED.match(after):
            if value := _value(m.group(1), after[m.end() :]):
                return value
        if m := _PROSE_INSTEAD.match(after):
            if value := _value(m.group(2), "instead of"):
                return value
        sentence = re.split(r"[.!?](?:\s|$)", after.lstrip("`'\" "), maxsplit=1)[0]
        if m := _LATER_SHOULD.search(sentence):  # "`f(x)` returns `3`, but ... it should return `2.5`"
            if value := _value(m.group(1), sentence[m.end() :]):
                return value
    return None


def _inline_probes(prose: str, written: set[str]) -> list[_Draft]:
    """Inline code expressions of the prose whose expected value the prose gives (`written`: statements
    of the blocks, squashed; those are not repeated)."""
    drafts = []
    for code in dict.fromkeys(_INLINE_CODE.findall(prose)):
        parsed = None if squash(code) in written else _parse(code)
        if parsed is None or len(parsed[1].body) != 1 or not isinstance(parsed[1].body[0], ast.Expr):
            continue
        if not any(isinstance(n, ast.Call) for n in ast.walk(parsed[1])):
            continue
        if (expected := _prose_expectation(code, prose)) is not None:
            step = ProbeStep(code=code, expected=expected)
            drafts.append(_Draft("inline code", [step], [parsed[1]]))
    return drafts


def _attach_following_expectation(draft: _Draft, after: str) -> None:
    """ "Expected is: `X`" / "the output should be `X`" around an example with a single expression: X is
    that expression's expected value (with several, which one is meant cannot be read)."""
    exprs = [
        step
        for step, tree in zip(draft.steps, draft.trees, strict=True)
        if isinstance(tree, ast.Module)
        and tree.body
        and isinstance(tree.body[-1], ast.Expr)
        and _meaningful(tree.body[-1])
    ]
    match = _EXPECTED_AFTER.search(after)
    if len(exprs) == 1 and exprs[0].expected is None and match and not _HEDGE.search(after[: match.start()]):
        exprs[0].expected = _value(match.group(1), "")


def _attach_heading_expectation(draft: _Draft | None, block: Block) -> None:
    """A block under "Expected output:" that is not code: the expected output of the previous example's
    last expression or print."""
    heading = next((line for line in reversed(block.before.split("\n")) if line.strip()), "")
    if draft is None or not _EXPECTED_HEADING.search(heading) or len(block.text) > MAX_VALUE:
        return
    for step, tree in zip(reversed(draft.steps), reversed(draft.trees), strict=True):
        node = tree.body[-1] if isinstance(tree, ast.Module) and tree.body else None
        if isinstance(node, ast.Expr) and step.expected is None:
            step.expected = block.text.strip()
            return


def extract_probes(issue: str, package: str = "", max_probes: int = 4) -> list[Probe]:
    """The issue's runnable examples, at most `max_probes` (those with an expected value first, then in
    the issue's order). `package`: the repository's top-level package (for the imports an example takes
    for granted)."""
    found, prose = blocks(issue)
    drafts: list[_Draft] = []
    last: _Draft | None = None
    for index, block in enumerate(found, 1):
        kind = _steps_of(block)
        made = kind[1] if kind else []
        if not made or not any(_meaningful(n) for _, tree in made for n in tree.body):
            _attach_heading_expectation(last, block)
            continue
        steps = [s for s, _ in made]
        trees = [t for _, t in made]
        source = f"{kind[0]} in block {index}" if kind and "session" in kind[0] else f"{kind[0]} {index}"
        last = _Draft(source, steps, trees)
        _attach_following_expectation(last, block.before + "\n" + block.after)
        drafts.append(last)
    drafts = _with_earlier_definitions(drafts)
    drafts += _inline_probes(prose, {squash(s.code) for d in drafts for s in d.steps})
    probes: list[Probe] = []
    for draft in drafts:
        code = "\n".join(s.code for s in draft.steps)
        if UNSAFE.search(code):
            continue
        for step in draft.steps:
            if step.expected is None:
                step.expected = _prose_expectation(step.code, prose)
        steps = [*_prelude(draft.trees, package), *draft.steps][:MAX_STEPS]
        probe = Probe(probe_id="", source=draft.source, steps=steps)
        probe.probe_id = f"probe:{probe.probe_hash[:12]}"
        probes.append(probe)
    probes += [p for p in command_probes(found, prose, package) if not UNSAFE.search(p.steps[-1].code)]
    probes = _distinct(probes)
    probes.sort(key=lambda p: not any(s.expected for s in p.steps))  # stable: the issue's order otherwise
    return probes[:max_probes]


def _with_earlier_definitions(drafts: list[_Draft]) -> list[_Draft]:
    """A block reading names only earlier blocks bind starts with those blocks' statements."""
    out = []
    for index, draft in enumerate(drafts):
        bound, loaded, _ = _bound_and_loaded(draft.trees)
        missing = loaded - bound - _BUILTINS
        before: list[_Draft] = []
        for earlier in drafts[:index]:
            if missing & _bound_and_loaded(earlier.trees)[0]:
                before.append(earlier)
        if before:
            steps = [s.model_copy() for d in before for s in d.steps] + draft.steps
            draft = _Draft(draft.source, steps, [t for d in before for t in d.trees] + draft.trees)
        out.append(draft)
    return out


def _distinct(probes: list[Probe]) -> list[Probe]:
    """Drop repeated probes and those whose statements start another probe (a later block built on them)."""
    codes = [[s.code for s in p.steps if not s.setup] for p in probes]
    keep = []
    seen: set[str] = set()
    for probe, code in zip(probes, codes, strict=True):
        key = sha256("\0".join(code))
        if key in seen:
            continue
        if any(len(other) > len(code) and other[: len(code)] == code for other in codes):
            continue
        seen.add(key)
        keep.append(probe)
    return keep


def package_of(repo: str) -> str:
    """The top-level package of a repository named owner/name, or of a local clone's path or URL (its
    last part without `.git`; `-` as `_`). A clone on this machine (an absolute path, as `swescale solve`
    gives) names it itself when it holds exactly one package (a folder with `__init__.py`, at the top or
    under `src/`, not a test folder): a clone in `repo/` or `project-main/` still gets the right imports."""
    local = Path(repo.removeprefix("file://"))
    if local.is_absolute() and local.is_dir():  # never `owner/name` read as a folder here
        found = {
            d.name
            for top in (local, local / "src")
            if top.is_dir()
            for d in top.iterdir()
            if (d / "__init__.py").is_file() and d.name.isidentifier() and not d.name.startswith("test")
        }
        if len(found) == 1:
            return found.pop()
    name = repo.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return name.replace("-", "_").lower()
