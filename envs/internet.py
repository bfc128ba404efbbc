"""The internet that a repository's tests call, stood in for inside the offline evaluation sandbox.

requests' tests call httpbin.org over HTTP and HTTPS, follow a redirect to another host, and time out
connecting to an address that never answers. The harness ran them on the internet; here the sandbox has no
network, so it gets local stand-ins instead:

- httpbin (the `httpbin` package) on gunicorn's threaded worker, which keeps connections alive and takes
  the uploads of requests 0.14's file-object posts as httpbin.org does (Flask's development server answers
  `Connection: close` and 501), on 127.0.0.1:80 and, over TLS, on 127.0.0.1:443, with
  `HTTPBIN_URL=http://httpbin.org/` (the tests' own default) and the SERVED_HOSTS mapped to 127.0.0.1;
- a certificate for those hosts signed by a CA made at image build (`trustme`), trusted by the tests through
  `REQUESTS_CA_BUNDLE` and, for requests that bypass the environment (`Session.send`), by appending the CA to
  the bundle requests uses by default (`requests.certs.where()`) in the evaluation sandbox only, after the
  patch is applied: the sandbox is discarded, no patch is ever taken from it;
- TARPIT, the address the tests use for connect timeouts, routed to a veth pair whose peer never answers
  (a permanent neighbour entry, so no ARP failure either): SYNs vanish and connects time out as on the
  internet. Only that /24 gets a route; everything else stays unreachable. Setting it up needs NET_ADMIN
  (and SETPCAP to give it away): the sandbox gets both, the setup runs before the patch is applied, and the
  evaluation script (the only thing that runs the repository's code) runs with both dropped (`setpriv`).
"""

from __future__ import annotations

import shlex

from envs.harness_env import BASE_PACKAGES
from envs.task import Task

HTTPBIN_VENV = "/opt/httpbin"
HTTPBIN_PACKAGES = ["httpbin==0.10.2", "gunicorn==23.0.0", "trustme==1.2.1", "pyroute2==0.9.7"]
"""The stand-ins' own venv: httpbin, its server, the CA maker and the netlink client for the tarpit."""
TLS_DIR = f"{HTTPBIN_VENV}/tls"
CA_FILE = f"{TLS_DIR}/ca.pem"
SERVED_HOSTS = ("httpbin.org", "www.google.co.uk")
"""Internet hosts the sandbox resolves to its own httpbin (HTTP and HTTPS). www.google.co.uk: requests'
`test_auth_is_stripped_on_redirect_off_host` redirects there and checks only the headers it sent."""
TARPIT = "10.255.255.1"
"""requests' TARPIT: connects to it must time out, not fail."""
SERVICES = {"psf/requests": "httpbin"}
"""repo -> service its tests call on the internet, served inside the sandbox instead."""
SETUP_CAPS = ["NET_ADMIN", "SETPCAP"]
"""Capabilities the sandbox needs to set the tarpit up (and to drop them again for the tests)."""

_MAKE_CERTS = f"""
import trustme
ca = trustme.CA()
cert = ca.issue_cert(*{SERVED_HOSTS + ("localhost", "127.0.0.1")!r})
ca.cert_pem.write_to_path('{CA_FILE}')
cert.private_key_pem.write_to_path('{TLS_DIR}/key.pem')
for i, pem in enumerate(cert.cert_chain_pems):
    pem.write_to_path('{TLS_DIR}/cert.pem', append=i > 0)
"""
_TARPIT = f"""
from pyroute2 import IPRoute
from pyroute2.netlink.rtnl.ndmsg import states
ip = IPRoute()
ip.link('add', ifname='tarpit0', kind='veth', peer='tarpit1')
for name in ('tarpit1', 'tarpit0'):
    ip.link('set', index=ip.link_lookup(ifname=name)[0], state='up')
idx = ip.link_lookup(ifname='tarpit0')[0]
ip.addr('add', index=idx, address='{TARPIT.rsplit(".", 1)[0]}.254', prefixlen=24)
ip.neigh('add', dst='{TARPIT}', lladdr='02:00:00:00:00:01', ifindex=idx, state=states['permanent'])
"""


def _served(task: Task) -> bool:
    return SERVICES.get(task.repo) == "httpbin"


def service_steps(task: Task) -> list[tuple[str, str]]:
    """Build steps installing the task's services (in a venv of their own, away from the tested env)."""
    if not _served(task):
        return []
    pip = f"{HTTPBIN_VENV}/bin/python -m pip install -q"
    base = "env PATH=/usr/local/bin:/usr/bin:/bin python3"  # the base interpreter, not the tested env's
    return [
        (
            "httpbin",
            f"{base} -m venv {HTTPBIN_VENV} && {pip} {BASE_PACKAGES[0]} && {pip} {' '.join(HTTPBIN_PACKAGES)} && "
            f"mkdir -p {TLS_DIR} && {HTTPBIN_VENV}/bin/python -c {shlex.quote(_MAKE_CERTS)}",
        )
    ]


def _gunicorn(port: int, tls: bool) -> str:
    keys = f" --certfile {TLS_DIR}/cert.pem --keyfile {TLS_DIR}/key.pem" if tls else ""
    return (
        f"({HTTPBIN_VENV}/bin/gunicorn -b 127.0.0.1:{port} -k gthread --threads 8{keys} httpbin:app"
        f" > /tmp/httpbin-{port}.log 2>&1 &)"
    )


def service_commands(task: Task) -> list[str]:
    """Evaluation-script lines starting the services before the tests (the sandbox has no network)."""
    if not _served(task):
        return []
    probe = (
        "import ssl, urllib.request as u; u.urlopen('http://httpbin.org/get', timeout=2); "
        f"u.urlopen('https://httpbin.org/get', timeout=2, context=ssl.create_default_context(cafile='{CA_FILE}'))"
    )
    trust = (
        "B=$(python -c 'import requests.certs as c; print(c.where())' 2>/dev/null) && [ -f \"$B\" ] && "
        f'{{ grep -qF "$(sed -n 2p {CA_FILE})" "$B" || {{ echo; cat {CA_FILE}; }} >> "$B"; }}'
    )
    return [
        *(f"grep -q ' {h}$' /etc/hosts || echo '127.0.0.1 {h}' >> /etc/hosts" for h in SERVED_HOSTS),
        _gunicorn(80, tls=False),
        _gunicorn(443, tls=True),
        f'for _ in $(seq 100); do {HTTPBIN_VENV}/bin/python -c "{probe}" 2>/dev/null && break; sleep 0.2; done',
        "export HTTPBIN_URL=http://httpbin.org/",
        f"export REQUESTS_CA_BUNDLE={CA_FILE}",
        f"{trust} || true",
    ]


def sandbox_caps(task: Task) -> list[str]:
    """Capabilities the task's evaluation sandbox needs beyond the configured ones (for setup only)."""
    return list(SETUP_CAPS) if _served(task) else []


def sandbox_setup(task: Task) -> list[str]:
    """Commands run once in the task's fresh evaluation sandbox, before any patch or repository code."""
    return [f"{HTTPBIN_VENV}/bin/python -c {shlex.quote(_TARPIT)}"] if _served(task) else []


def drop_setup_caps(caps: list[str]) -> str:
    """The prefix that runs a command without the setup capabilities (empty when the sandbox lacks them)."""
    if not set(SETUP_CAPS) <= set(caps):
        return ""
    names = ",".join(f"-{c.lower()}" for c in SETUP_CAPS)
    return f"setpriv --bounding-set={names} --inh-caps={names} -- "
