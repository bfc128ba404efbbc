"""Regenerate envs/data/swebench_specs.json from the swebench 4.x wheel (5.x dropped the specs).

    python -m envs.specs_gen [--version 4.1.0] [--wheel path.whl]

Reads `harness/constants/python.py` (plain data) and the repo -> log parser map of
`harness/log_parsers/python.py` (by AST, nothing of swebench 4.x is imported).
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).parent / "data" / "swebench_specs.json"


def _wheel(version: str, tmp: str) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"swebench=={version}",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
            tmp,
        ],
        check=True,
    )
    return next(Path(tmp).glob("swebench-*.whl"))


def extract(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as zf:
        constants = zf.read("swebench/harness/constants/python.py").decode()
        parsers = zf.read("swebench/harness/log_parsers/python.py").decode()
    namespace: dict = {}
    exec(compile(constants, "constants/python.py", "exec"), namespace)  # noqa: S102 - plain data module
    parser_map: dict[str, str] = {}
    for node in ast.walk(ast.parse(parsers)):
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", "") == "MAP_REPO_TO_PARSER_PY" for t in node.targets
        ):
            parser_map = {
                ast.literal_eval(k): v.id for k, v in zip(node.value.keys, node.value.values, strict=True)
            }
    return {
        "source": wheel.name,
        "specs": namespace["MAP_REPO_VERSION_TO_SPECS_PY"],
        "reqs_paths": namespace["MAP_REPO_TO_REQS_PATHS"],
        "env_yml_paths": namespace["MAP_REPO_TO_ENV_YML_PATHS"],
        "install": namespace.get("MAP_REPO_TO_INSTALL_PY", {}),
        "parsers": parser_map,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--version", default="4.1.0")
    ap.add_argument("--wheel", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = extract(args.wheel or _wheel(args.version, tmp))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(
        f"wrote {OUT}: {sum(len(v) for v in data['specs'].values())} repo versions, {len(data['parsers'])} parsers"
    )


if __name__ == "__main__":
    main()
