"""Pure functions: text tool calls, patch filtering, repository context, truncation."""

from __future__ import annotations

from agent.agent import truncate
from agent.context import repo_context, skeleton
from agent.parsing import describe_tools, make_call, parse_content_calls, parse_text_calls, split_reasoning
from agent.patch import filter_patch
from agent.tools import Toolset


def _new(path: str) -> str:
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n"
        f"+++ b/{path}\n@@ -0,0 +1 @@\n+x\n"
    )


def _mod(path: str) -> str:
    return (
        f"diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n+++ b/{path}\n"
        "@@ -1 +1 @@\n-a\n+b\n"
    )


def test_empty_diff_is_an_empty_patch():
    """A trajectory that changed nothing leaves an empty candidate, not a capture error."""
    assert filter_patch("", "reproduce_issue.py") == ("", [])


def test_filter_patch_rule():
    diff = "".join(
        [
            _mod("pkg/core.py"),
            _new("reproduce_issue.py"),
            _new("pkg/new_module.py"),
            _new("debug_x.py"),
            _new("repro_2.py"),
            _new("test_issue.py"),
            _new("pkg/reproduce_util.py"),
            _mod("debug_tools.py"),
            _new("pkg/__pycache__/core.cpython-311.pyc"),
            _new("pkg/core.py.orig"),
            _new("tests/test_new.py"),
        ]
    )
    patch, dropped = filter_patch(diff, "reproduce_issue.py")
    assert sorted(dropped) == sorted(
        [
            "reproduce_issue.py",
            "debug_x.py",
            "repro_2.py",
            "test_issue.py",
            "pkg/__pycache__/core.cpython-311.pyc",
            "pkg/core.py.orig",
        ]
    )
    for kept in (
        "pkg/core.py",
        "pkg/new_module.py",
        "pkg/reproduce_util.py",
        "debug_tools.py",
        "tests/test_new.py",
    ):
        assert f"b/{kept}\n" in patch


def test_text_calls_typed_and_unterminated():
    tools = Toolset("default", sandbox=None).schemas()
    content = (
        "thinking\n<function=str_replace_editor>\n<parameter=command>view</parameter>\n"
        "<parameter=path>/testbed/a.py</parameter>\n<parameter=view_range>[1, 5]</parameter>\n</function>\n"
        "<function=bash>\n<parameter=command>\n  indented\n\n</parameter>"
    )
    first, second = parse_text_calls(content, tools)
    assert first.args == {"command": "view", "path": "/testbed/a.py", "view_range": [1, 5]}
    assert second.name == "bash" and second.args == {"command": "  indented\n"}
    assert parse_text_calls("no calls here") == []
    text = describe_tools(tools)
    assert "---- BEGIN FUNCTION #3: submit ----" in text and "(1) command (string, required)" in text


def test_make_call_errors():
    assert make_call("bash", "{oops").error.startswith("the arguments are not valid JSON")
    assert make_call("bash", "[1]").error.startswith("the arguments must be a JSON object")
    assert make_call("bash", "").args == {}


def test_profiles_schemas():
    names = {
        p: [t["function"]["name"] for t in Toolset(p, sandbox=None).schemas()]
        for p in ("default", "openhands", "r2egym")
    }
    assert names == {
        "default": ["bash", "str_replace_editor", "submit"],
        "openhands": ["execute_bash", "str_replace_editor", "finish"],
        "r2egym": ["execute_bash", "file_editor", "search", "finish"],
    }


def test_skeleton_and_context_budget():
    src = (
        '"""Module doc.\n\nMore."""\n\nclass Parser(Base):  # comment\n    """Parse things."""\n\n'
        '    @property\n    def name(self) -> str:\n        return "x"\n\n\ndef parse_date(text: str,\n'
        '               strict: bool = False) -> int:\n    """Parse a date.\n\n    Long."""\n    return 1\n'
    )
    skel, terms = skeleton(src)
    assert skel.split("\n") == [
        '"""Module doc."""',
        "class Parser(Base):",
        '    """Parse things."""',
        "    def name(self) -> str:",
        "def parse_date(text: str, strict: bool = False) -> int:",
        '    """Parse a date."""',
    ]
    files = {"pkg/dates.py": src, "pkg/other.py": "def unrelated():\n    pass\n"}
    ctx = repo_context(files, "parse_date fails on strict input", 1000)
    assert ctx.startswith("# pkg/dates.py") and "other.py" not in ctx
    assert len(repo_context(files, "parse_date", 10)) <= 60


def test_truncate_keeps_head_and_tail():
    text = "H" * 100 + "M" * 1000 + "T" * 100
    out = truncate(text, 300)
    assert out.startswith("H" * 100) and out.endswith("T" * 100) and "characters elided" in out
    assert truncate("short", 300) == "short"


def test_reasoning_split_off_the_answer():
    assert split_reasoning("<think>\nhmm\n</think>\n\nanswer") == ("hmm", "answer")
    assert split_reasoning("the template opened it</think>answer") == ("the template opened it", "answer")
    assert split_reasoning("<think>cut before the end") == ("cut before the end", "")
    assert split_reasoning("no reasoning <b>here</b>") == ("", "no reasoning <b>here</b>")


def test_content_calls_in_document_order_with_errors():
    tools = Toolset("default", sandbox=None).schemas()
    content = (
        'first <tool_call>{"name": "bash", "arguments": "{\\"command\\": \\"ls\\"}"}</tool_call>\n'
        "<tool_call>\n<function=str_replace_editor>\n<parameter=command>view</parameter>\n"
        "<parameter=view_range>[1, 2]</parameter>\n</function>\n</tool_call>\n"
        "<tool_call>{broken}</tool_call>\n"
        '<tool_call>{"arguments": {}}</tool_call>\n'
        "<function=submit>\n</function>"
    )
    found = parse_content_calls(content, tools, id_prefix="x")
    assert [(c.name, c.args) for c in found.calls] == [
        ("bash", {"command": "ls"}),
        ("str_replace_editor", {"command": "view", "view_range": [1, 2]}),
        ("submit", {}),
    ]
    assert len({c.id for c in found.calls}) == 3
    assert "not valid JSON" in found.errors[0] and 'with a "name"' in found.errors[1]
    assert found.rest == "first"


def test_task_view_shows_no_hidden_or_unknown_field():
    from agent.templating import HIDDEN_FIELDS, task_view
    from envs.task import Task

    secret = "SECRET-MARKER"
    task = Task(
        instance_id="x-1",
        problem_statement="the issue",
        patch=secret,
        test_patch=secret,
        FAIL_TO_PASS=[secret],
        PASS_TO_PASS=[secret],
        eval_script=secret,
        parsed_commit_content=secret,  # a dataset's own copy of the solution, kept on the Task as an extra
    )
    view = task_view(task)
    assert secret not in repr(view) and not HIDDEN_FIELDS & set(view)
    assert view["instance_id"] == "x-1" and view["problem_statement"] == "the issue"
