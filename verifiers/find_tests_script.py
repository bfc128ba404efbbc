"""Runs INSIDE the sandbox (stdlib only): existing test files relevant to the touched source files.

Usage: python find_tests_script.py MAX_FILES TOUCHED_PATH... ; prints a JSON list of test file paths.
A test file is relevant when it is named test_<module>.py / <module>_test.py / test_<module>s.py for a
touched module, or imports the touched module (`import a.b`, `from a.b import`, `from a import b`).
Name matches come first, then import matches; ties by path.
"""

import json
import re
import subprocess
import sys


def is_test_file(path):
    name = path.rsplit("/", 1)[-1]
    return path.endswith(".py") and (
        name.startswith("test") or name.endswith("_test.py") or name == "tests.py"
    )


def module_of(path):
    parts = path[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    while parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    return ".".join(parts)


def main():
    limit = int(sys.argv[1])
    touched = [p for p in sys.argv[2:] if p.endswith(".py") and not is_test_file(p)]
    files = subprocess.run(["git", "ls-files"], capture_output=True, text=True).stdout.split()
    tests = [f for f in files if is_test_file(f)]
    modules = [m for m in (module_of(p) for p in touched) if m]
    names = set()
    patterns = []
    for module in modules:
        stem = module.rsplit(".", 1)[-1]
        names.update({f"test_{stem}.py", f"{stem}_test.py", f"test_{stem}s.py"})
        patterns.append(r"^\s*(?:import|from)\s+" + re.escape(module) + r"\b")
        if "." in module:
            parent, _, child = module.rpartition(".")
            patterns.append(
                r"^\s*from\s+" + re.escape(parent) + r"\s+import\s+[^\n]*\b" + re.escape(child) + r"\b"
            )
    regex = re.compile("|".join(patterns), re.M) if patterns else None
    by_name, by_import = [], []
    for path in sorted(tests):
        if path.rsplit("/", 1)[-1] in names:
            by_name.append(path)
            continue
        if regex is None:
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read(200_000)
        except OSError:
            continue
        if regex.search(text):
            by_import.append(path)
    print(json.dumps((by_name + by_import)[:limit]))


if __name__ == "__main__":
    main()
