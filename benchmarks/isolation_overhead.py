"""Cost of test isolation (verifiers/isolation.py): one generated-test run with the tree put back first,
versus the same run without (the baseline, measured in the same sandbox).

A repository of `--files` tracked files (plus an ignored build folder of a tenth as many) is made in a
sandbox of the base image, a candidate's change is applied, and a small test script that leaves a file
behind runs `--n` times each way.

Usage: python benchmarks/isolation_overhead.py [--n 20] [--files 5000] [--image IMAGE]
"""

from __future__ import annotations

import argparse

from sandbox_overhead import p50  # the same timing loop as the other benchmarks

from sandbox import DockerSandbox
from sandbox.images import ensure_base_image
from verifiers.isolation import ROOT, CleanRuns, isolated
from verifiers.table import GeneratedTest

MAKE_REPO = """set -e
mkdir -p {root} && cd {root}
python3 - <<'EOF'
import os
for i in range({files}):
    d = f"pkg/m{{i % 200}}"
    os.makedirs(d, exist_ok=True)
    open(f"{{d}}/f{{i}}.py", "w").write("x = 1\\n" * 60)
os.makedirs("build", exist_ok=True)
for i in range({files} // 10):
    open(f"build/o{{i}}.so", "w").write("b" * 2000)
open(".gitignore", "w").write("build/\\n")
EOF
git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm base
echo y = 2 >> pkg/m0/f0.py && echo "z = 3" > pkg/new_module.py
"""
TEST = GeneratedTest(
    test_id="bench", script="open('leftover.txt', 'w').write('x')\nimport pkg\n", path="check.py"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20, help="runs timed per method")
    parser.add_argument("--files", type=int, default=5000, help="tracked files of the repository")
    parser.add_argument("--image", default="", help="image (default: the swescale base image)")
    args = parser.parse_args()
    image = args.image or ensure_base_image()
    with DockerSandbox(image, workdir="/") as sb:
        made = sb.exec(MAKE_REPO.format(root=ROOT, files=args.files), timeout=600)
        assert made.exit_code == 0, made.output
        command = isolated(f"cd {ROOT} && python3 {TEST.path}")

        def plain() -> None:
            sb.write_file(f"{ROOT}/{TEST.path}", TEST.script)
            sb.exec(f"cd {ROOT} && python3 {TEST.path}")

        runs = CleanRuns()

        def clean() -> None:
            runs.before_run(sb)
            sb.write_file(f"{ROOT}/{TEST.path}", TEST.script)
            sb.exec(command)

        clean()  # the snapshot, then warm caches both ways
        plain()
        base = p50(plain, args.n)
        ours = p50(clean, args.n)
    print(f"repository: {args.files} tracked files, {args.files // 10} ignored build files")
    print(f"test run without isolation p50: {base * 1000:.1f} ms")
    print(f"test run with restore + fresh TMPDIR p50: {ours * 1000:.1f} ms")
    print(f"ratio: {ours / base:.2f}x")


if __name__ == "__main__":
    main()
