"""The stand-in of the internet in a requests-style evaluation sandbox: httpbin.org over HTTP and HTTPS
(its certificate trusted by the tests; connections kept alive as httpbin.org keeps them), a tarpit whose connects time out, and still no route out; the
tests themselves run without the capabilities the setup took."""

from __future__ import annotations

import json

import pytest

from envs.evaluate import evaluate_instance
from envs.task import Task
from tests.envs.conftest import git, make_repo

pytestmark = pytest.mark.docker

PROBES = """import errno
import http.client
import json
import os
import socket
import ssl
import urllib.parse
import urllib.request

import pytest


def test_https_to_httpbin_org():
    context = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    with urllib.request.urlopen("https://httpbin.org/get?x=1", context=context, timeout=10) as answer:
        assert json.loads(answer.read())["args"] == {"x": "1"}


def test_http_to_httpbin_url_keeps_the_connection_alive():
    host = urllib.parse.urlsplit(os.environ["HTTPBIN_URL"]).netloc
    connection = http.client.HTTPConnection(host, timeout=10)
    for _ in range(2):  # one connection, two requests
        connection.request("GET", "/get")
        answer = connection.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["url"] == "http://httpbin.org/get"
        assert answer.getheader("Connection").lower() == "keep-alive"


def test_tarpit_connect_times_out():
    sock = socket.socket()
    sock.settimeout(0.5)
    with pytest.raises(socket.timeout):
        sock.connect(("10.255.255.1", 80))


def test_no_route_to_the_internet():
    with pytest.raises(OSError) as caught:
        socket.create_connection(("1.1.1.1", 443), timeout=5)
    assert caught.value.errno == errno.ENETUNREACH


def test_setup_capabilities_are_dropped():
    status = open("/proc/self/status").read()
    for line in status.splitlines():
        if line.startswith(("CapEff:", "CapBnd:")):
            caps = int(line.split()[1], 16)
            assert not caps & (1 << 12), "CAP_NET_ADMIN"
            assert not caps & (1 << 8), "CAP_SETPCAP"
"""
PYPROJECT = '[project]\nname = "probe"\nversion = "0.1"\n[tool.setuptools]\npy-modules = []\n'
NAMES = [
    "test_https_to_httpbin_org",
    "test_http_to_httpbin_url_keeps_the_connection_alive",
    "test_tarpit_connect_times_out",
    "test_no_route_to_the_internet",
    "test_setup_capabilities_are_dropped",
]


@pytest.fixture(scope="module")
def requests_style_task(tmp_path_factory) -> Task:
    """A task of repository psf/requests (so its sandbox gets requests' stand-ins) whose tests probe them."""
    repo = tmp_path_factory.mktemp("probe") / "probe"
    base = make_repo(
        repo, {"pyproject.toml": PYPROJECT, "tests/test_other.py": "def test_other():\n    pass\n"}
    )
    (repo / "tests/test_net.py").write_text(PROBES)
    git(repo, "add", "-N", "tests/test_net.py")
    test_patch = git(repo, "diff") + "\n"
    git(repo, "rm", "-q", "--cached", "tests/test_net.py")
    (repo / "tests/test_net.py").unlink()
    return Task(
        instance_id="psf__requests-probe",
        repo="psf/requests",
        repo_url=str(repo),
        base_commit=base,
        test_patch=test_patch,
        PASS_TO_PASS=json.dumps([f"tests/test_net.py::{name}" for name in NAMES]),
    )


def test_requests_sandbox_serves_the_internet_its_tests_call(
    requests_style_task, env_config, base_image, tmp_path
):
    pred = {"instance_id": requests_style_task.instance_id, "model_name_or_path": "m", "model_patch": ""}
    result = evaluate_instance(requests_style_task, pred, tmp_path, env_config)
    log = (tmp_path / "m" / requests_style_task.instance_id / "test_output.txt").read_text()
    assert result.state == "resolved", (result.fault, log[-3000:])
    passed = result.report[requests_style_task.instance_id]["tests_status"]["PASS_TO_PASS"]["success"]
    assert sorted(passed) == sorted(f"tests/test_net.py::{name}" for name in NAMES)
