"""Base images: `swescale/base:python<ver>`, pulled from a registry when one answers, else built offline."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker

DEBIAN_RELEASES = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
PACKAGES = ["python3", "python3-venv", "python3-pip", "git", "patch", "ca-certificates"]
REGISTRY = ("registry-1.docker.io", 443)


class ImageError(RuntimeError):
    """A base image could be neither found, pulled nor built."""


def base_image_name(python: str = "3.11") -> str:
    return f"swescale/base:python{python}"


def registry_reachable(timeout: float = 3.0) -> bool:
    """Quick check: can we open a TCP connection to Docker Hub?"""
    try:
        with socket.create_connection(REGISTRY, timeout=timeout):
            return True
    except OSError:
        return False


def image_exists(client: docker.DockerClient, name: str) -> bool:
    """Is `name` an image on this engine?"""
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def _pull_and_extend(client: docker.DockerClient, python: str, name: str) -> None:
    """Pull python:<ver>-slim and derive `name` with git and patch installed (commit of a build container)."""
    slim = f"python:{python}-slim"
    client.images.pull(slim)
    container = client.containers.run(
        slim,
        [
            "sh",
            "-c",
            "apt-get update && apt-get install -y --no-install-recommends git patch ca-certificates"
            " && rm -rf /var/lib/apt/lists/*",
        ],
        detach=True,
        labels={"swescale": "build"},
    )
    try:
        result = container.wait(timeout=900)
        if result.get("StatusCode") != 0:
            raise ImageError(f"installing git/patch into {slim} failed:\n{container.logs().decode()[-2000:]}")
        repo, tag = name.split(":")
        container.commit(repository=repo, tag=tag, conf={"Cmd": ["python3"]})
    finally:
        container.remove(force=True)


def host_debian_mirror() -> str | None:
    """The Debian archive this host's apt uses (deb822 or one-line sources), or None (debootstrap's default)."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("URIs:") and line.split()[1:]:
                uri = line.split()[1]
                if not uri.rstrip("/").endswith("-security"):
                    return uri
    sources = Path("/etc/apt/sources.list")
    if sources.is_file():
        for line in sources.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and not parts[1].rstrip("/").endswith("-security"):
                return parts[1] if not parts[1].startswith("[") else (parts[2] if len(parts) > 3 else None)
    return None


def _build_offline(client: docker.DockerClient, python: str, name: str, say: Callable[[str], None]) -> None:
    """debootstrap a minimal Debian with python3 and git, then `docker import` it."""
    release = DEBIAN_RELEASES.get(python)
    if release is None:
        raise ImageError(
            f"no Debian release known for python {python}; supported: {', '.join(DEBIAN_RELEASES)}"
        )
    if shutil.which("debootstrap") is None:
        raise ImageError("building a base image offline needs debootstrap: run `apt-get install debootstrap`")
    with tempfile.TemporaryDirectory(prefix="swescale-rootfs-") as tmp:
        rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        say(f"debootstrap {release} (python {python}) into {rootfs} ...")
        mirror = host_debian_mirror()
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", release, str(rootfs)]
        cmd += [mirror] if mirror else []
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ImageError(
                f"debootstrap failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}"
            )
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / junk).glob("*"):
                if path.is_file():
                    path.unlink()
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        repo, tag = name.split(":")
        say(f"docker import {name} ...")
        client.api.import_image_from_file(str(tarball), repository=repo, tag=tag)


def ensure_base_image(
    python: str = "3.11", client: docker.DockerClient | None = None, say: Callable[[str], None] | None = None
) -> str:
    """Return `swescale/base:python<ver>`, creating it if missing (idempotent). `say` reports what was done."""
    say = say or (lambda _msg: None)
    client = client or docker.from_env(timeout=900)
    name = base_image_name(python)
    if image_exists(client, name):
        say(f"{name} already exists: nothing to do")
        return name
    if registry_reachable():
        say(f"registry reachable: pulling python:{python}-slim and adding git + patch as {name}")
        try:
            _pull_and_extend(client, python, name)
            say(f"built {name} from python:{python}-slim")
            return name
        except (docker.errors.DockerException, ImageError) as exc:
            say(f"pull failed ({exc}); building offline instead")
    else:
        say("no registry reachable: building offline with debootstrap")
    _build_offline(client, python, name, say)
    say(f"built {name} offline")
    return name
