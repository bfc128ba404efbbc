"""Which evaluation sandboxes get the stand-in internet, and the capabilities its setup takes (no Docker;
what the sandbox then serves: test_envs_internet.py)."""

from __future__ import annotations

from envs.evaluate import _sandbox_config
from envs.internet import SETUP_CAPS, drop_setup_caps, service_commands, service_steps
from envs.task import Task
from swescale.config import load_config

REQUESTS = Task(instance_id="psf__requests-1963", repo="psf/requests", base_commit="x", version="2.3")
OTHER = Task(instance_id="pallets__flask-1", repo="pallets/flask", base_commit="x", version="2.0")


def test_only_served_repositories_get_the_setup_capabilities():
    config = load_config([], [])
    served = _sandbox_config(REQUESTS, config).cap_add
    assert set(SETUP_CAPS) <= set(served) and set(config.sandbox.cap_add) <= set(served)
    assert not set(SETUP_CAPS) & set(_sandbox_config(OTHER, config).cap_add)


def test_the_evaluation_script_runs_without_the_setup_capabilities():
    prefix = drop_setup_caps([*load_config([], []).sandbox.cap_add, *SETUP_CAPS])
    assert prefix.startswith("setpriv --bounding-set=-net_admin,-setpcap --inh-caps=-net_admin,-setpcap")
    assert drop_setup_caps(load_config([], []).sandbox.cap_add) == ""  # setpriv would fail without SETPCAP


def test_requests_evaluation_serves_httpbin_org_over_http_and_https():
    commands = "\n".join(service_commands(REQUESTS))
    assert "127.0.0.1 httpbin.org" in commands and "127.0.0.1:443" in commands and "--certfile" in commands
    assert "export HTTPBIN_URL=http://httpbin.org/" in commands and "REQUESTS_CA_BUNDLE=" in commands
    assert "trustme" in service_steps(REQUESTS)[0][1]
    assert service_commands(OTHER) == [] and service_steps(OTHER) == []
