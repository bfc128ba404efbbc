"""Scripted models (real HTTP on loopback) drive trajectories in real sandboxes over a real git repo."""

from __future__ import annotations

import json
import threading

import pytest

from agent.agent import run_trajectory
from agent.model import ModelClient
from agent.result import ExitStatus
from agent.trajectory import load_trajectory
from sandbox.patch import apply_patch
from swescale.config import AgentConfig, ModelConfig, SwescaleConfig
from swescale.demo.scripted_server import ConversationPolicy, ScriptedServer
from tests.agent.conftest import GIT, REPRO

pytestmark = pytest.mark.docker

OLD = "    return a - b\n\n\ndef sub"
NEW = "    return a + b\n\n\ndef sub"


def call(name: str, **args) -> dict:
    return {"tool_calls": [{"name": name, "arguments": args}]}


def text_call(name: str, thought: str = "", **args) -> dict:
    params = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in args.items())
    return {"content": f"{thought}\n<function={name}>\n{params}</function>"}


def run(
    sandbox,
    task,
    tmp_path,
    scripts=None,
    policy=None,
    tool_format="native",
    mode="fix",
    cancel=None,
    retries=2,
    timeout=30,
    **agent,
):
    agent.setdefault("context_tokens", 0)
    # every history must be valid for vLLM, which parses the tool-call arguments it is sent back
    with ScriptedServer(policy or ConversationPolicy(scripts), json_history=True) as server:
        config = SwescaleConfig(
            model=ModelConfig(
                urls=[server.url], tool_format=tool_format, retries=retries, backoff=0.01, timeout=timeout
            ),
            agent=AgentConfig(**agent),
        )
        result = run_trajectory(
            task, sandbox, ModelClient(config.model), config, tmp_path, "traj-1", mode=mode, cancel=cancel
        )
    return result, server


def assert_fixes(sandbox, patch: str) -> None:
    """The patch applies to a clean checkout and fixes the bug."""
    assert sandbox.exec(f"cd /testbed && {GIT} reset -q --hard && {GIT} clean -qfdx").exit_code == 0
    # (apply_patch changes the files after the reset, so a stale index stat cannot hide them here)
    apply_patch(sandbox, patch)
    r = sandbox.exec("cd /testbed && python3 -c 'from calc.ops import add; assert add(2, 3) == 5'")
    assert r.exit_code == 0, r.output


def assert_append_only(server) -> None:
    bodies = [
        b
        for b in server.requests
        if not b.get("tools") or b["tools"][0]["function"]["name"] != "swescale_probe"
    ]
    for prev, cur in zip(bodies, bodies[1:], strict=False):
        assert cur["messages"][: len(prev["messages"])] == prev["messages"]
        assert len(cur["messages"]) > len(prev["messages"])


def test_fix_with_editor_and_repro_script(repo_sandbox, task, tmp_path):
    script = [
        call("str_replace_editor", command="view", path="/testbed"),
        call("str_replace_editor", command="view", path="/testbed/calc/ops.py"),
        call("str_replace_editor", command="create", path="/testbed/reproduce_issue.py", file_text=REPRO),
        call("bash", command="python3 reproduce_issue.py; echo rc=$?"),
        call(
            "str_replace_editor", command="str_replace", path="/testbed/calc/ops.py", old_str=OLD, new_str=NEW
        ),
        call("bash", command="python3 reproduce_issue.py; echo rc=$?"),
        call("submit"),
    ]
    result, server = run(repo_sandbox, task, tmp_path, [script], context_tokens=500)
    assert result.exit_status == ExitStatus.submitted, result.error
    assert result.steps == 7
    assert "+    return a + b" in result.patch and "reproduce_issue.py" not in result.patch
    assert result.repro_test == REPRO and result.repro_path == "reproduce_issue.py"
    assert (result.repro_exit_original, result.repro_exit_patched) == (1, 0)
    assert result.usage.calls == 7 and result.usage.total_tokens > 0

    record = load_trajectory(tmp_path / "traj-1.json")
    assert record.result.patch == result.patch and record.result.exit_status == ExitStatus.submitted
    obs = [o for s in record.steps for o in s.observations]
    assert "calc/ops.py" in obs[0] and "excluding hidden" in obs[0]
    assert "     6\t    return a - b" in obs[1]
    assert "rc=1" in obs[3] and "rc=0" in obs[5]
    assert "calc/ops.py" in record.messages[1]["content"]  # repository skeleton in the first prompt
    assert record.request_messages(6) == server.requests[6]["messages"]
    assert record.replies()[4]["tool_calls"][0]["name"] == "str_replace_editor"
    assert_append_only(server)
    assert_fixes(repo_sandbox, result.patch)


def test_fix_with_bash_sed(repo_sandbox, task, tmp_path):
    script = [call("bash", command="sed -i '6s/a - b/a + b/' calc/ops.py && git diff"), call("submit")]
    result, _ = run(repo_sandbox, task, tmp_path, [script])
    assert result.exit_status == ExitStatus.submitted
    assert result.repro_test is None
    assert_fixes(repo_sandbox, result.patch)


def test_a_step_that_changes_the_working_tree_records_its_diff(repo_sandbox, task, tmp_path):
    script = [
        call("str_replace_editor", command="view", path="/testbed/calc/ops.py"),
        call("str_replace_editor", command="create", path="/testbed/reproduce_issue.py", file_text=REPRO),
        call("bash", command="sed -i '6s/a - b/a + b/' calc/ops.py"),
        call("bash", command="python3 reproduce_issue.py; echo rc=$?"),
        call("submit"),
    ]
    result, _ = run(repo_sandbox, task, tmp_path, [script])
    assert result.exit_status == ExitStatus.submitted, result.error
    diffs = [s.diff for s in load_trajectory(tmp_path / "traj-1.json").steps]
    # a view, the (filtered out) reproduction script, the run and the submit change no candidate file
    assert diffs[:2] == [None, None] and diffs[3:] == [None, None]
    assert diffs[2] == result.patch and "+    return a + b" in diffs[2] and "reproduce_issue" not in diffs[2]


def test_new_source_file_kept_scratch_dropped(repo_sandbox, task, tmp_path):
    helper = '"""Helpers."""\n\n\ndef plus(a, b):\n    return a + b\n'
    script = [
        call("str_replace_editor", command="create", path="calc/helpers.py", file_text=helper),
        call(
            "str_replace_editor",
            command="str_replace",
            path="/testbed/calc/ops.py",
            old_str='"""Arithmetic helpers."""\n',
            new_str='"""Arithmetic helpers."""\n\nfrom calc.helpers import plus\n',
        ),
        call(
            "str_replace_editor",
            command="str_replace",
            path="/testbed/calc/ops.py",
            old_str=OLD,
            new_str="    return plus(a, b)\n\n\ndef sub",
        ),
        call(
            "bash",
            command="echo 'print(1)' > debug_me.py && python3 -c 'import calc.ops' && touch calc/ops.py.orig",
        ),
        call("submit"),
    ]
    result, _ = run(repo_sandbox, task, tmp_path, [script])
    assert result.exit_status == ExitStatus.submitted
    assert "b/calc/helpers.py" in result.patch
    assert (
        "debug_me.py" not in result.patch
        and ".orig" not in result.patch
        and "__pycache__" not in result.patch
    )
    assert_fixes(repo_sandbox, result.patch)


def test_bad_calls_become_error_observations(repo_sandbox, task, tmp_path):
    script = [
        call("bash", command="true"),
        {"tool_calls": [{"name": "bash", "arguments": "{not json"}]},
        call("frobnicate", x=1),
        call("str_replace_editor", command="str_replace", path="/testbed/calc/ops.py"),
        call(
            "str_replace_editor",
            command="str_replace",
            path="/testbed/calc/ops.py",
            old_str="return a - b",
            new_str="return a + b",
        ),
        call("str_replace_editor", command="view", path="/testbed/nope.py"),
        call("str_replace_editor", command="view", path="/testbed/calc/ops.py", view_range=[5, 6]),
        call(
            "str_replace_editor", command="insert", path="/testbed/calc/ops.py", insert_line=1, new_str="# hi"
        ),
        call("str_replace_editor", command="undo_edit", path="/testbed/calc/ops.py"),
        call("bash"),
        {"content": "I think I am done."},
        call(
            "str_replace_editor", command="str_replace", path="/testbed/calc/ops.py", old_str=OLD, new_str=NEW
        ),
        call("submit"),
    ]
    result, _ = run(repo_sandbox, task, tmp_path, [script])
    assert result.exit_status == ExitStatus.submitted, result.error
    obs = [o for s in load_trajectory(result.trajectory_file).steps for o in s.observations][1:]
    assert obs[0].startswith("Your tool call could not be read: `bash`: the arguments are not valid JSON")
    assert obs[1].startswith("There is no tool `frobnicate`")
    assert "`old_str` is required" in obs[2]
    assert "Multiple occurrences" in obs[3] and "[6, 11]" in obs[3]
    assert "does not exist" in obs[4]
    assert obs[5].endswith('     5\t    """Return the sum of a and b."""\n     6\t    return a - b\n')
    assert "# hi" in obs[6] and "undone successfully" in obs[7] and "# hi" not in obs[7]
    assert "Missing required parameter" in obs[8]
    assert "did not contain a tool call" in obs[9]
    assert_fixes(repo_sandbox, result.patch)


def test_server_error_then_recovery(repo_sandbox, task, tmp_path):
    inner = ConversationPolicy(
        [[call("bash", command="sed -i '6s/a - b/a + b/' calc/ops.py"), call("submit")]]
    )
    calls = {"n": 0}

    def flaky(request):
        calls["n"] += 1
        return {"status": 500} if calls["n"] in (2, 3) else inner(request)

    result, server = run(repo_sandbox, task, tmp_path, policy=flaky)
    assert result.exit_status == ExitStatus.submitted
    assert len(server.requests) == 4 and result.usage.calls == 2
    assert_fixes(repo_sandbox, result.patch)


def test_retries_and_timeouts_leave_a_trace_in_the_trajectory(repo_sandbox, task, tmp_path):
    """A step that took a client timeout and a 500 before its answer says so (attempts, seconds lost), and
    so does the trajectory's usage (what run.json sums)."""
    inner = ConversationPolicy(
        [[call("bash", command="sed -i '6s/a - b/a + b/' calc/ops.py"), call("submit")]]
    )
    calls = {"n": 0}

    def slow_then_failing(request):
        calls["n"] += 1
        if calls["n"] == 2:
            return {**call("bash", command="true"), "delay": 2.5}  # the client gives up after 1 s
        if calls["n"] == 3:
            return {"status": 500, "delay": 0.3}
        return inner(request)

    result, _ = run(repo_sandbox, task, tmp_path, policy=slow_then_failing, timeout=1)
    assert result.exit_status == ExitStatus.submitted, result.error
    steps = load_trajectory(result.trajectory_file).steps
    assert [s.attempts for s in steps] == [1, 3]
    assert steps[0].retry_seconds == 0.0 and 1.2 < steps[1].retry_seconds < steps[1].model_seconds
    usage = result.usage
    assert (usage.calls, usage.errors, usage.timeouts, usage.retries) == (2, 2, 1, 2)
    assert usage.retry_seconds == pytest.approx(steps[1].retry_seconds, abs=0.05)


def test_model_error_keeps_the_diff(repo_sandbox, task, tmp_path):
    inner = ConversationPolicy([[call("bash", command="sed -i '6s/a - b/a + b/' calc/ops.py")]])
    result, server = run(
        repo_sandbox,
        task,
        tmp_path,
        retries=1,
        policy=lambda r: inner(r) if len(r["messages"]) == 2 else {"status": 503},
    )
    assert result.exit_status == ExitStatus.model_error and "503" in result.error
    assert_fixes(repo_sandbox, result.patch)


def test_step_limit_autosubmits(repo_sandbox, task, tmp_path):
    script = [call("bash", command="sed -i '6s/a - b/a + b/' calc/ops.py")] + [
        call("bash", command=f"echo {i}") for i in range(5)
    ]
    result, _ = run(repo_sandbox, task, tmp_path, [script], max_steps=3)
    assert result.exit_status == ExitStatus.step_limit and result.steps == 3
    assert_fixes(repo_sandbox, result.patch)


def test_format_errors_and_cancel(repo_sandbox, task, tmp_path):
    result, _ = run(
        repo_sandbox, task, tmp_path, [["no call 1", "no call 2", "no call 3", "x"]], max_format_errors=3
    )
    assert result.exit_status == ExitStatus.format_errors and result.steps == 3
    cancel = threading.Event()
    cancel.set()
    result, server = run(repo_sandbox, task, tmp_path, [[call("submit")]], cancel=cancel)
    assert result.exit_status == ExitStatus.cancelled and not server.requests


def test_text_format(repo_sandbox, task, tmp_path):
    script = [
        text_call("str_replace_editor", "Look at the file.", command="view", path="/testbed/calc/ops.py"),
        text_call(
            "str_replace_editor",
            "Fix it.",
            command="str_replace",
            path="/testbed/calc/ops.py",
            old_str=OLD,
            new_str=NEW,
        ),
        text_call(
            "str_replace_editor", command="create", path="/testbed/reproduce_issue.py", file_text=REPRO
        ),
        text_call("bash", command="python3 reproduce_issue.py && echo fixed"),
        {"content": "<function=submit>\n</function>"},
    ]
    result, server = run(repo_sandbox, task, tmp_path, [script], tool_format="text")
    assert result.exit_status == ExitStatus.submitted, result.error
    assert "tools" not in server.requests[0]
    assert "---- BEGIN FUNCTION #1: bash ----" in server.requests[0]["messages"][0]["content"]
    assert "EXECUTION RESULT of [bash]:\nfixed" in server.requests[4]["messages"][-1]["content"]
    assert (result.repro_exit_original, result.repro_exit_patched) == (1, 0)
    assert_append_only(server)
    assert_fixes(repo_sandbox, result.patch)


def test_auto_format_probe_picks_native(repo_sandbox, task, tmp_path):
    script = [call("bash", command="sed -i '6s/a - b/a + b/' calc/ops.py"), call("submit")]
    result, server = run(repo_sandbox, task, tmp_path, [script], tool_format="auto")
    assert result.exit_status == ExitStatus.submitted
    assert server.requests[0]["tools"][0]["function"]["name"] == "swescale_probe"
    assert load_trajectory(result.trajectory_file).tool_format == "native"
    assert_fixes(repo_sandbox, result.patch)


def test_openhands_profile(repo_sandbox, task, tmp_path):
    script = [
        call("execute_bash", command="grep -n 'a - b' calc/ops.py", is_input="false"),
        call(
            "str_replace_editor", command="str_replace", path="/testbed/calc/ops.py", old_str=OLD, new_str=NEW
        ),
        call("finish", message="done"),
    ]
    result, server = run(repo_sandbox, task, tmp_path, [script], tools="openhands")
    assert result.exit_status == ExitStatus.submitted
    assert {t["function"]["name"] for t in server.requests[0]["tools"]} == {
        "execute_bash",
        "str_replace_editor",
        "finish",
    }
    assert_fixes(repo_sandbox, result.patch)


@pytest.mark.parametrize("tool_format", ["native", "text"])
def test_r2egym_profile(repo_sandbox, task, tmp_path, tool_format):
    make = call if tool_format == "native" else text_call
    script = [
        make("search", search_term="a - b", path="/testbed"),
        make("file_editor", command="view", path="/testbed/calc/ops.py", concise="false"),
        make("file_editor", command="str_replace", path="/testbed/calc/ops.py", old_str=OLD, new_str=NEW),
        make("execute_bash", cmd="python3 -c 'from calc.ops import add; print(add(2, 3))'"),
        make("finish", command="submit", result="fixed"),
    ]
    result, server = run(repo_sandbox, task, tmp_path, [script], tools="r2egym", tool_format=tool_format)
    assert result.exit_status == ExitStatus.submitted, result.error
    steps = load_trajectory(result.trajectory_file).steps
    assert result.patch, [s.observations for s in steps]
    assert "calc/ops.py (2 matches)" in steps[0].observations[0]
    assert steps[3].observations[0].strip().endswith("5")
    assert_fixes(repo_sandbox, result.patch)


def test_test_mode_keeps_only_the_script(repo_sandbox, task, tmp_path):
    script = [
        call("str_replace_editor", command="create", path="/testbed/reproduce_issue.py", file_text=REPRO),
        call("bash", command="python3 reproduce_issue.py"),
        call("submit"),
    ]
    result, server = run(repo_sandbox, task, tmp_path, [script], mode="test")
    assert result.mode == "test" and result.patch == ""
    assert (
        result.repro_test == REPRO and result.repro_exit_original == 1 and result.repro_exit_patched is None
    )
    assert "NOT to fix" in server.requests[0]["messages"][1]["content"]
    data = json.loads((tmp_path / "traj-1.json").read_text())
    assert data["result"]["repro_test"] == REPRO


def test_replay_recorded_trajectory(repo_sandbox, task, tmp_path):
    script = [
        call(
            "str_replace_editor", command="str_replace", path="/testbed/calc/ops.py", old_str=OLD, new_str=NEW
        ),
        call("submit"),
    ]
    first, _ = run(repo_sandbox, task, tmp_path / "a", [script])
    policy = ConversationPolicy.from_trajectories([first.trajectory_file])
    repo_sandbox.exec(
        f"cd /testbed && {GIT} reset -q --hard && touch -d 2000-01-01 calc/ops.py && "
        f"{GIT} update-index -q --refresh"
    )
    again, server = run(repo_sandbox, task, tmp_path / "b", policy=policy)
    assert again.exit_status == ExitStatus.submitted and again.patch == first.patch
    assert server.requests[0]["messages"] == load_trajectory(first.trajectory_file).request_messages(0)


def test_token_budget_counts_what_a_server_spends_so_a_long_trajectory_reaches_its_fix(
    repo_sandbox, task, tmp_path
):
    """26 reads of ~6,000 characters, then the fix: summed whole prompts pass 200k tokens by step ~15;
    new prompt tokens (the prompt's growth) plus completions do not, and the trajectory submits."""
    read = "python3 -c 'print(\"x\" * 6000)' && echo {}"
    script = [call("bash", command=read.format(i)) for i in range(33)]
    script += [call("bash", command="sed -i '6s/a - b/a + b/' calc/ops.py"), call("submit")]
    result, server = run(repo_sandbox, task, tmp_path, [script])
    assert result.exit_status == ExitStatus.submitted, result.error
    assert result.steps == 35 and result.usage.total_tokens > 200_000
    assert result.usage.new_prompt_tokens < result.usage.prompt_tokens // 5
    assert_fixes(repo_sandbox, result.patch)

    result, _ = run(repo_sandbox, task, tmp_path / "small", [script], max_tokens=30_000)
    assert result.exit_status == ExitStatus.token_limit and 15 < result.steps < 30
    assert result.error.startswith("token budget spent:") and "(agent.max_tokens)" in result.error
