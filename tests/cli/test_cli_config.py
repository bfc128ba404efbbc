"""The command line: help, `config show`, YAML plus key=value overrides, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from swescale.cli.main import app
from swescale.config import SwescaleConfig, load_config

runner = CliRunner()


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("solve", "demo", "select", "config", "sandbox", "env", "bench"):
        assert command in result.output


def test_console_script_is_installed():
    """The `swescale` script pip installed next to this interpreter runs the CLI."""
    script = Path(sys.executable).parent / "swescale"
    assert script.is_file(), f"no console script at {script}: pip install -e . first"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "solve" in out.stdout
    assert "swescale.cli.main" in script.read_text()  # the entry point pyproject.toml declares


def test_files_then_overrides_in_order(tmp_path: Path):
    first = tmp_path / "a.yaml"
    first.write_text("solve:\n  trajectories: 6\n  generations: 2\nmodel:\n  urls: [http://a/v1]\n")
    second = tmp_path / "b.yaml"
    second.write_text("solve:\n  generations: 3\n")
    config = load_config(
        [first, second],
        ["solve.trajectories=9", "model.urls=[http://b/v1, http://c/v1]", "sandbox.network=true"],
    )
    assert config.solve.trajectories == 9  # override beats files
    assert config.solve.generations == 3  # the later file beats the earlier one
    assert config.model.urls == ["http://b/v1", "http://c/v1"]
    assert config.sandbox.network is True


def test_config_show_leaves_api_keys_out():
    result = runner.invoke(app, ["config", "show", "model.api_key=sk-very-secret"])
    assert result.exit_code == 0 and "sk-very-secret" not in result.output and "api_key" not in result.output


def test_config_show_prints_the_effective_config(tmp_path: Path):
    file = tmp_path / "c.yaml"
    file.write_text("agent:\n  max_steps: 12\n")
    result = runner.invoke(app, ["config", "show", "--config", str(file), "solve.first_finish=2"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["agent"]["max_steps"] == 12 and shown["solve"]["first_finish"] == 2
    assert SwescaleConfig.model_validate(shown) == load_config([file], ["solve.first_finish=2"])


def test_bad_overrides_and_files_are_clear_errors(tmp_path: Path):
    for args in (["solve.trajectorys=3"], ["solve.trajectories=many"], ["noequals"]):
        result = runner.invoke(app, ["config", "show", *args])
        assert result.exit_code == 2, args
        assert "config error" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a mapping\n")
    result = runner.invoke(app, ["config", "show", "--config", str(bad)])
    assert result.exit_code == 2 and "mapping" in result.output


def test_every_config_field_is_documented():
    def walk(model_cls, prefix=""):
        for name, field in model_cls.model_fields.items():
            assert field.description, f"{prefix}{name} has no docstring"
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation, f"{prefix}{name}.")

    walk(SwescaleConfig)


def test_example_configs_load():
    examples = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
    assert examples
    for path in examples:
        load_config([path])
