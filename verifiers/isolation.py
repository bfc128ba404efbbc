"""Every test run in a verification sandbox sees exactly the version of the code under test.

The runs of one code version (its generated tests, then its regression run) share one sandbox
(`execute.run_version`). Before its first run the sandbox's working tree, the patched state, is recorded
in a private git index (tracked changes and the candidate's new files; `git add -A` into a copy of the
repository's index, so HEAD, the real index and the refs stay as they are), along with the list of ignored
files present then. Before every later run the tree is put back: files that differ from the snapshot are
checked out of it, untracked files removed (`git clean -fd`), and ignored files that appeared since the
snapshot deleted (build products and caches the image holds are left alone). Each run also gets a fresh
TMPDIR and Python bytecode cache outside the tree, removed afterwards.

A generated test is written under a name of its own in its directory (`script_path`), so it never
overwrites a file of the candidate, and is removed with the next restore. Shell only (git and coreutils),
so it works in images without python3 on the default PATH.
"""

from __future__ import annotations

import posixpath

from sandbox.result import SandboxError
from verifiers.protocols import Box
from verifiers.table import GeneratedTest

ROOT = "/testbed"
STATE = "/tmp/.swescale_snapshot"
_GIT = "git -c safe.directory='*' -c core.excludesFile=/dev/null"
_IGNORED = f"{_GIT} ls-files -z --others --ignored --exclude-standard | LC_ALL=C sort -z"

SNAPSHOT = f"""set -e
cd {ROOT}
mkdir -p {STATE}
gitdir=$({_GIT} rev-parse --absolute-git-dir)
# cp -p keeps the mtime git needs to spot "racily clean" files (same size, same second)
if [ -f "$gitdir/index" ]; then cp -p "$gitdir/index" {STATE}/index; else rm -f {STATE}/index; fi
export GIT_INDEX_FILE={STATE}/index
{_GIT} add -A
{_IGNORED} > {STATE}/ignored
"""

RESTORE = f"""set -e
cd {ROOT}
export GIT_INDEX_FILE={STATE}/index
{_GIT} checkout -q -f -- . 2>/dev/null || {_GIT} checkout-index -a -f
{_GIT} clean -q -f -d
{_IGNORED} | LC_ALL=C comm -z -13 {STATE}/ignored - > {STATE}/new
if [ -s {STATE}/new ]; then
  xargs -0 rm -rf -- < {STATE}/new
  xargs -0 dirname -z < {STATE}/new | LC_ALL=C sort -zu | xargs -0 rmdir -p --ignore-fail-on-non-empty 2>/dev/null || true
fi
"""


def isolated(command: str) -> str:
    """`command` with a fresh TMPDIR and bytecode cache (outside the tree), removed afterwards."""
    return (
        "swescale_run=$(mktemp -d /tmp/.swescale_run.XXXXXX); "
        'export TMPDIR="$swescale_run" PYTHONPYCACHEPREFIX="$swescale_run/pycache"; '
        f'( {command} ); rc=$?; rm -rf "$swescale_run"; exit $rc'
    )


def script_path(test: GeneratedTest, taken: set[str] = frozenset()) -> str:
    """Where a generated test is written, relative to the root: the directory the test names (so
    `sys.path[0]` and `__file__` stay where its author put them), under a name no candidate's file has."""
    folder, name = posixpath.split(test.path)
    stem = f"swescale_test_{test.test_hash[:12]}"
    candidate = posixpath.join(folder, f"{stem}_{name}")
    k = 0
    while candidate in taken:
        k += 1
        candidate = posixpath.join(folder, f"{stem}_{k}_{name}")
    return candidate


class CleanRuns:
    """Call `before_run(box)` before every run in one sandbox: the first records the tree, the later ones
    put it back. `taken` holds the paths the version's patch touches (never used for test scripts)."""

    def __init__(self, taken: set[str] | None = None):
        self.taken = set(taken or ())
        self.runs = 0

    def before_run(self, box: Box) -> None:
        script = SNAPSHOT if self.runs == 0 else RESTORE
        res = box.exec(script, timeout=300, cwd=ROOT)
        if res.exit_code != 0:
            step = "record" if self.runs == 0 else "restore"
            raise SandboxError(f"could not {step} the working tree between test runs: {res.output[-1000:]}")
        self.runs += 1

    def script_path(self, test: GeneratedTest) -> str:
        return script_path(test, self.taken)
