"""Configuration of `swescale env mine`: which commits become tasks and how they are validated."""

from sandbox.configbase import Section
from sandbox.patch import TEST_PATTERNS


class MineConfig(Section):
    repeats: int = 3
    """Runs of the touched test files on each side (parent with test_patch; whole commit); a test whose
    result changes across them is flaky and dropped."""
    test_timeout: float = 300.0
    """Timeout of one validation run of the touched test files, in seconds (bench eval's own is
    `env.eval_timeout`); a candidate whose tests hang (e.g. a fixed exponential case) is dropped."""
    workers: int = 2
    """Candidates validated at once (each holds one sandbox at a time); `--workers` overrides it."""
    test_patterns: list[str] = list(TEST_PATTERNS)
    """Glob patterns (fnmatch, `**` = any folders) of test files: they go into `test_patch` (default: the one
    rule of `sandbox.patch.TEST_PATTERNS`)."""
    doc_patterns: list[str] = ["doc/**", "docs/**", "examples/**", "**/*.md", "**/*.rst", "**/*.txt"]
    """Glob patterns of documentation files: never count as source (they still go into `patch`)."""
    source_suffixes: list[str] = [".py", ".pyx", ".pxd", ".c", ".h", ".cpp", ".pyi"]
    """Suffixes of source files; a candidate changes at least one non-test file with one of them."""
    max_patch_lines: int = 2000
    """Candidates whose diff is longer (in lines) are dropped (vendoring, generated code, reformatting)."""
    github_api: str = "https://api.github.com"
    """GitHub REST API for linked issues and merged pull requests ("" = never ask). Its token comes from
    GITHUB_TOKEN and is never written anywhere."""
    github_timeout: float = 10.0
    """Timeout of one GitHub API request, in seconds; the first failure turns the API off for the run."""
    statement_log_chars: int = 6000
    """Characters of the failing tests' output shown to the model that writes a problem statement."""
    statement_diff_chars: int = 8000
    """Characters of the source diff shown to that model."""
    prompt: str = ""
    """Jinja template of the back-translation prompt ("" = the built-in `prompts/backtranslate.j2`)."""
