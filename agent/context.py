"""Repository context for the first prompt: skeletons of the files most relevant to the issue.

Files are ranked by BM25 (rank-bm25) over their path, symbol names and docstrings against the issue text;
the skeletons (classes, functions with signatures, first docstring line; tree-sitter) of the best files
are added until the token budget (~4 characters per token) is spent.
"""

from __future__ import annotations

import io
import re
import shlex
import tarfile
from functools import lru_cache
from pathlib import Path

from rank_bm25 import BM25Okapi

CHARS_PER_TOKEN = 4
MAX_FILE_BYTES = 300_000
MAX_FILES = 3_000


@lru_cache(maxsize=1)
def _parser():
    import tree_sitter_python as tsp
    from tree_sitter import Language, Parser

    return Parser(Language(tsp.language()))


def _words(text: str) -> list[str]:
    """Identifiers split on snake_case and CamelCase, lower-cased (both the whole and the parts)."""
    out = []
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text):
        parts = [p for p in re.split(r"_|(?<=[a-z0-9])(?=[A-Z])", word) if p]
        out.append(word.lower())
        if len(parts) > 1:
            out.extend(p.lower() for p in parts)
    return out


def _docstring(block) -> str:
    body = block if block.type in ("block", "module") else block.child_by_field_name("body")
    if body is None or not body.named_children:
        return ""
    first = body.named_children[0]
    if (
        first.type == "expression_statement"
        and first.named_children
        and first.named_children[0].type == "string"
    ):
        text = first.named_children[0].text.decode(errors="replace").strip("\"' \n\r\trbuRBU")
        return text.strip().split("\n")[0].strip()
    return ""


def skeleton(source: str | bytes) -> tuple[str, list[str]]:
    """(skeleton text, symbol names and docstrings) of one Python file."""
    data = source.encode() if isinstance(source, str) else source
    tree = _parser().parse(data)
    lines: list[str] = []
    terms: list[str] = []
    module_doc = _docstring(tree.root_node)
    if module_doc:
        lines.append(f'"""{module_doc}"""')
        terms.append(module_doc)

    def visit(node, indent: str) -> None:
        for child in node.named_children:
            target = child
            if child.type == "decorated_definition":
                target = child.child_by_field_name("definition") or child
            if target.type not in ("class_definition", "function_definition"):
                continue
            name = target.child_by_field_name("name")
            body = target.child_by_field_name("body")
            header_end = body.start_byte if body is not None else target.end_byte
            header = data[target.start_byte : header_end].decode(errors="replace")
            header = " ".join(re.sub(r"\s#[^'\"\n]*$", "", ln) for ln in header.split("\n"))
            header = " ".join(header.split()).rstrip(":").rstrip() + ":"
            lines.append(indent + header)
            if name is not None:
                terms.append(name.text.decode(errors="replace"))
            doc = _docstring(target)
            if doc:
                lines.append(f'{indent}    """{doc}"""')
                terms.append(doc)
            if target.type == "class_definition" and body is not None:
                visit(body, indent + "    ")

    visit(tree.root_node, "")
    return "\n".join(lines), terms


def rank_files(files: dict[str, str], query: str) -> list[tuple[str, float | None, str]]:
    """(path, score, skeleton) of every file, best first; score None = no word in common with the query."""
    paths = sorted(files)
    skeletons, docs = [], []
    for path in paths:
        try:
            skel, terms = skeleton(files[path])
        except Exception:  # noqa: BLE001 - an unparsable file still ranks by its path
            skel, terms = "", []
        skeletons.append(skel)
        docs.append(_words(path.replace("/", " ").replace(".py", "")) * 3 + _words(" ".join(terms)))
    if not paths:
        return []
    query_words = _words(query) or ["_"]
    scores = BM25Okapi([d or ["_"] for d in docs]).get_scores(query_words)
    # BM25 idf turns negative on tiny corpora: files sharing no word with the query rank last, marked by None.
    wanted = set(query_words)
    order = sorted(range(len(paths)), key=lambda i: (not wanted & set(docs[i]), -scores[i], paths[i]))
    return [(paths[i], float(scores[i]) if wanted & set(docs[i]) else None, skeletons[i]) for i in order]


def repo_context(files: dict[str, str], query: str, token_budget: int) -> str:
    """Skeletons of the most relevant files, within `token_budget` tokens (~4 chars each)."""
    budget = token_budget * CHARS_PER_TOKEN
    parts: list[str] = []
    used = 0
    for path, score, skel in rank_files(files, query):
        if score is None or not skel:
            continue
        block = f"# {path}\n{skel}\n"
        if used + len(block) > budget:
            if used == 0:  # at least part of the best file
                parts.append(block[:budget].rsplit("\n", 1)[0] + "\n...\n")
                used = budget
            continue
        parts.append(block)
        used += len(block)
    return "\n".join(parts).strip()


def files_from_dir(root: str | Path) -> dict[str, str]:
    """Python files of a host folder (hidden folders skipped), path relative to `root`."""
    root = Path(root)
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.stat().st_size > MAX_FILE_BYTES:
            continue
        out[rel.as_posix()] = path.read_text(errors="replace")
        if len(out) >= MAX_FILES:
            break
    return out


def files_from_sandbox(sandbox, root: str = "/testbed") -> dict[str, str]:
    """Python files under `root` in the sandbox: one tar made inside, read back in one call."""
    tar_path = "/tmp/swescale_context.tar"
    q = shlex.quote(root)
    r = sandbox.exec(
        f"cd {q} && find . -name '*.py' -not -path '*/.*' -size -{MAX_FILE_BYTES // 1024}k | sort | head -n {MAX_FILES}"
        f" | tar -cf {tar_path} -T - 2>/dev/null; echo done",
        timeout=120,
    )
    if "done" not in r.output:
        return {}
    try:
        data = sandbox.read_bytes(tar_path)
    except Exception:  # noqa: BLE001 - no context is better than no trajectory
        return {}
    out: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                fh = tar.extractfile(member)
                if fh is not None:
                    out[member.name.removeprefix("./")] = fh.read().decode(errors="replace")
    sandbox.exec(f"rm -f {tar_path}", timeout=30)
    return out
