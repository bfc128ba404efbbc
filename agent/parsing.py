"""Tool calls: the typed call, calls written in the content, reasoning blocks and argument decoding.

The text format is the one R2E-Gym and OpenHands use with models that have no native tool calling:

    <function=str_replace_editor>
    <parameter=command>view</parameter>
    <parameter=path>/testbed/pkg/mod.py</parameter>
    </function>

Tools are described in the system prompt (`describe_tools`) and calls are parsed from the content.
Open models also write their own native format into the content when the server's tool parser misses
it: Hermes/Qwen `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (or, Qwen3-Coder, a
`<function=...>` block inside `<tool_call>`); `parse_content_calls` reads both, in document order.
Reasoning (`<think>...</think>`) is split off first (`split_reasoning`), so a call the model only
considered while thinking is never run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_FUNCTION = re.compile(r"<function\s*=\s*([^>\s]+)\s*>(.*?)(?:</function>|$)", re.DOTALL)
_PARAMETER = re.compile(r"<parameter\s*=\s*([^>\s]+)\s*>(.*?)</parameter>", re.DOTALL)
# A <tool_call> block (its closing tag may be missing at the very end), or a bare <function=...> block.
_CONTENT_CALL = re.compile(
    r"<tool_call>(?P<body>.*?)(?:</tool_call>|$)|(?P<function><function\s*=\s*[^>\s]+\s*>.*?(?:</function>|$))",
    re.DOTALL,
)
_THINK = re.compile(r"<(think|thinking|reasoning)>(.*?)(?:</\1>|$)", re.DOTALL)
_THINK_END = re.compile(r"</(think|thinking|reasoning)>")


@dataclass
class ToolCall:
    """One call the model asked for. `arguments` is the raw JSON string as the model produced it."""

    name: str
    arguments: str = "{}"
    id: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    """Decoded arguments (empty when `error` is set)."""
    error: str = ""
    """Why the arguments could not be decoded."""

    def to_message(self) -> dict:
        """The call as a native tool call of the history: arguments re-serialized as canonical JSON, so the
        history is valid for servers that parse it (vLLM does); a call whose arguments did not parse has
        none (keep it as text instead, `to_text`)."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.args)},
        }

    def to_text(self) -> str:
        """The call as the model sent it, as text (for a history that must not hold it as a tool call)."""
        return (
            f'<tool_call>\n{{"name": {json.dumps(self.name)}, "arguments": {self.arguments}}}\n</tool_call>'
        )


def decode_arguments(raw: str | dict | None) -> tuple[dict, str]:
    """JSON arguments -> (dict, error). Never raises."""
    if isinstance(raw, dict):
        return raw, ""
    if raw is None or not raw.strip():
        return {}, ""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"the arguments are not valid JSON ({exc.msg} at position {exc.pos}): {raw[:300]!r}"
    if not isinstance(value, dict):
        return {}, f"the arguments must be a JSON object, got {type(value).__name__}"
    return value, ""


def make_call(name: str, arguments: str | dict | None, call_id: str = "") -> ToolCall:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    args, error = decode_arguments(raw)
    return ToolCall(name=name, arguments=raw, id=call_id, args=args, error=error)


def _strip_value(value: str) -> str:
    # Values on their own lines carry one newline on each side that belongs to the markup, not the value.
    if value.startswith("\n"):
        value = value[1:]
    if value.endswith("\n"):
        value = value[:-1]
    return value


def _convert(value: str, schema: dict | None) -> Any:
    kind = (schema or {}).get("type")
    try:
        if kind == "integer":
            return int(value.strip())
        if kind == "number":
            return float(value.strip())
        if kind == "boolean":
            return value.strip().lower() in ("true", "1", "yes")
        if kind in ("array", "object"):
            return json.loads(value)
    except (ValueError, json.JSONDecodeError):
        return value  # the tool reports the bad type
    return value


def parse_text_calls(
    content: str, tools: list[dict] | None = None, id_prefix: str = "text"
) -> list[ToolCall]:
    """`<function=NAME>` blocks in `content` -> tool calls, arguments typed by the tools' JSON schemas.

    A block cut off by a stop sequence (no `</function>`) still counts.
    """
    schemas = {t["function"]["name"]: t["function"].get("parameters", {}) for t in tools or []}
    calls = []
    for index, match in enumerate(_FUNCTION.finditer(content or "")):
        name, body = match.group(1), match.group(2)
        props = schemas.get(name, {}).get("properties", {})
        args = {p: _convert(_strip_value(v), props.get(p)) for p, v in _PARAMETER.findall(body)}
        calls.append(ToolCall(name=name, arguments=json.dumps(args), id=f"{id_prefix}_{index}", args=args))
    return calls


def split_reasoning(content: str | None) -> tuple[str, str]:
    """`content` -> (reasoning, answer): `<think>` blocks (also `<thinking>`, `<reasoning>`) removed from the
    answer. A block left open runs to the end; a lone closing tag (the template opened the block in the
    prompt) makes everything before it reasoning."""
    text = content or ""
    parts = []
    lone = _THINK_END.search(text)
    if lone and not re.search(rf"<{lone.group(1)}>", text[: lone.start()]):
        parts.append(text[: lone.start()])
        text = text[lone.end() :]
    answer = _THINK.sub(lambda m: parts.append(m.group(2)) or "", text)
    return "\n".join(p.strip() for p in parts if p.strip()), answer.strip() if parts else answer


def _json_call(body: str, call_id: str) -> tuple[ToolCall | None, str]:
    """`{"name": ..., "arguments": {...} | "<json>"}` (or `parameters`) -> a call, or why it is none."""
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        return (
            None,
            f"the <tool_call> block is not valid JSON ({exc.msg} at position {exc.pos}): {body[:300]!r}",
        )
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
        return None, f'the <tool_call> block must be a JSON object with a "name": {body[:300]!r}'
    arguments = value.get("arguments", value.get("parameters", {}))
    return make_call(value["name"], arguments, call_id), ""


@dataclass
class ContentCalls:
    """Calls found in an answer's content."""

    calls: list[ToolCall]
    errors: list[str]
    """Why blocks that look like calls could not be read (the model is told)."""
    rest: str
    """The content without the call blocks."""


def parse_content_calls(
    content: str, tools: list[dict] | None = None, id_prefix: str = "text"
) -> ContentCalls:
    """`<tool_call>` blocks (JSON, or a `<function=...>` block inside) and bare `<function=...>` blocks."""
    calls: list[ToolCall] = []
    errors: list[str] = []
    for match in _CONTENT_CALL.finditer(content or ""):
        call_id = f"{id_prefix}_{len(calls)}"
        body = (match.group("body") or "").strip()
        if match.group("function") is not None or "<function" in body:
            calls += parse_text_calls(match.group("function") or body, tools, id_prefix=call_id)
            continue
        call, error = _json_call(body, call_id)
        if call is None:
            errors.append(error)
        else:
            calls.append(call)
    return ContentCalls(calls, errors, _CONTENT_CALL.sub("", content or "").strip())


def describe_tools(tools: list[dict]) -> str:
    """Tool schemas as text for the system prompt of a model without native tool calling."""
    blocks = []
    for number, tool in enumerate(tools, 1):
        fn = tool["function"]
        params = fn.get("parameters", {})
        required = set(params.get("required", []))
        lines = [
            f"---- BEGIN FUNCTION #{number}: {fn['name']} ----",
            f"Description: {fn.get('description', '')}",
            "",
            "Parameters:",
        ]
        props = params.get("properties", {})
        for k, (pname, spec) in enumerate(props.items(), 1):
            need = "required" if pname in required else "optional"
            lines.append(
                f"  ({k}) {pname} ({spec.get('type', 'string')}, {need}): {spec.get('description', '')}"
            )
            if "enum" in spec:
                lines.append("Allowed values: [" + ", ".join(f"`{v}`" for v in spec["enum"]) + "]")
        if not props:
            lines.append("  No parameters are required for this function.")
        lines.append(f"---- END FUNCTION #{number} ----")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


TEXT_FORMAT_EXAMPLE = """<function=example_function_name>
<parameter=example_parameter_1>value_1</parameter>
<parameter=example_parameter_2>
This is the value for the second parameter
that can span
multiple lines
</parameter>
</function>"""
