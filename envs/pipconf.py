"""The host's pip configuration for networked build containers, never baked into images.

The effective settings of the host's pip config files and PIP_* variables become PIP_* variables of the
build steps; local paths they name (wheel folders, file:// indexes, constraints, the CA bundle) are bound
read-only under HOST_ROOT, a tmpfs, so not even their mount points end up in a committed image.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
HOST_ROOT = "/tmp/swescale-host"
_CONFIG_FILES = ["/etc/pip.conf", "/etc/xdg/pip/pip.conf", "~/.pip/pip.conf", "~/.config/pip/pip.conf"]
_SECTIONS = ("global", "install")
_PASS_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


@dataclass
class PipAccess:
    env: dict[str, str] = field(default_factory=dict)
    """Environment of build steps (exec-time only)."""
    mounts: dict[str, str] = field(default_factory=dict)
    """host path -> container path, bound read-only."""
    tmpfs: list[str] = field(default_factory=list)
    """Container paths mounted as tmpfs (parents of the binds)."""


def _settings() -> dict[str, str]:
    """The host's effective pip settings as PIP_* variables (files in pip's order, then the environment)."""
    out: dict[str, str] = {}
    files = [*_CONFIG_FILES, os.environ.get("PIP_CONFIG_FILE", "")]
    for name in filter(None, files):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(Path(name).expanduser())
        except configparser.Error:
            continue
        for section in _SECTIONS:
            if parser.has_section(section):
                for key, value in parser[section].items():
                    out["PIP_" + key.upper().replace("-", "_")] = " ".join(value.split())
    out.update({k: v for k, v in os.environ.items() if k.startswith("PIP_") and k != "PIP_CONFIG_FILE"})
    return out


def host_pip_access() -> PipAccess:
    """PIP_* variables, proxies and CA variables with host paths rewritten to their read-only binds."""
    access = PipAccess(tmpfs=[HOST_ROOT])

    def bind(path: str) -> str:
        # a file:// index links to files beside its `simple/` folder: bind the parent
        root = os.path.dirname(path) if os.path.basename(path) == "simple" else path
        access.mounts[root] = HOST_ROOT + root
        return HOST_ROOT + path

    def rewrite(value: str) -> str:
        def one(token: str) -> str:
            prefix = "file://" if token.startswith("file://") else ""
            path = token[len(prefix) :].rstrip("/")
            if path.startswith("/") and os.path.exists(path):
                return prefix + bind(path)
            return token

        return re.sub(r"\S+", lambda m: one(m.group(0)), value)

    for key, value in _settings().items():
        access.env[key] = rewrite(value)
    access.env.update({k: v for k, v in os.environ.items() if k in _PASS_VARS})
    if os.path.isfile(CA_BUNDLE):
        ca = bind(CA_BUNDLE)
        for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
            access.env[var] = ca
    return access
