"""Tool calls: the typed call, the text format (`<function=NAME>` blocks) and argument decoding.

The text format is the one R2E-Gym and OpenHands use with models that have no native tool calling:

    <function=str_replace_editor>
    <parameter=command>view</parameter>
    <parameter=path>/testbed/pkg/mod.py</parameter>
    </function>

Tools are described in the system prompt (`describe_tools`) and calls are parsed from the content.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_FUNCTION = re.compile(r"<function\s*=\s*([^>\s]+)\s*>(.*?)(?:</function>|$)", re.DOTALL)
_PARAMETER = re.compile(r"<parameter\s*=\s*([^>\s]+)\s*>(.*?)</parameter>", re.DOTALL)


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
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


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
