"""swescale exec server: runs inside a sandbox container as its main process (stdlib only, python3.6+).

Protocol: one JSON object per line on stdin, one JSON answer per line on stdout, matched by "id".
  {"id": 1, "op": "exec", "cmd": "...", "timeout": 60, "cwd": "/testbed", "env": {...}, "limit": 100000}
      -> {"id": 1, "exit_code": 0, "output": "...", "timed_out": false, "truncated": false, "duration": 0.01}
  {"id": 2, "op": "write", "path": "/x", "data": "<base64>", "mode": 420}  -> {"id": 2, "ok": true}
  {"id": 3, "op": "read", "path": "/x"}  -> {"id": 3, "data": "<base64>"}
  {"id": 4, "op": "ping"}  -> {"id": 4, "ok": true}
  {"id": 5, "op": "stop"}  -> {"id": 5, "stopped": 1}  (kills the groups of every running command)
Errors answer {"id": N, "error": "..."}. Requests run concurrently, each in its own thread.
Every command is a fresh `bash -c` (or `sh -c`) in its own session/process group; on timeout, or when the
command exits while background children still hold its output pipe, the whole group is killed.

Sealed (answers cannot be forged by the commands, which run as the same root user): the server is started
by its own `docker exec`, so only this process holds the channel's pipes; it makes itself non-dumpable, so
without CAP_SYS_PTRACE (never in a sandbox's bounding set, checked here) no other process may open its
/proc/<pid>/fd/*, mem or environ; and after warming up it empties sys.path, so files the commands plant in
the standard library are never imported into it. The greeting says whether sealing worked ("sealed").
"""

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time

SHELL = shutil.which("bash") or shutil.which("sh") or "/bin/sh"
OUT = sys.stdout.buffer
OUT_LOCK = threading.Lock()
CHUNK = 65536
DRAIN_GRACE = 0.2  # seconds to wait for EOF after the command exited before killing stragglers
PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
RUNNING = set()  # Popen objects of the commands running now (for "stop")
RUNNING_LOCK = threading.Lock()
CAP_SYS_PTRACE = 19


def send(obj):
    data = (json.dumps(obj) + "\n").encode()
    with OUT_LOCK:
        OUT.write(data)
        OUT.flush()


def child_setup():
    # Make commands, not the server, the OOM killer's first choice (raising the score needs no privilege).
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        os.write(fd, b"1000")
        os.close(fd)
    except OSError:
        pass


def live_members(pgid):
    """Pids of non-zombie processes in process group `pgid` (zombies ignore signals and cannot be killed)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            pids.append(int(name))
    return pids


def kill_group(proc):
    """SIGKILL the command's process group until no live member is left (a fork bomb may still fork)."""
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        proc.poll()  # reap the leader
        if not live_members(proc.pid):
            return
        time.sleep(0.01)


class Capture:
    """Keeps the first and last `limit // 2` bytes of a stream, counting what is cut."""

    def __init__(self, limit):
        self.head_limit = max(limit // 2, 0)
        self.tail_limit = max(limit - self.head_limit, 0)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data):
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data and self.tail_limit:
            self.tail += data
            if len(self.tail) > 2 * self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    def result(self):
        tail = bytes(self.tail[-self.tail_limit :]) if self.tail_limit else b""
        cut = self.total - len(self.head) - len(tail)
        head = self.head.decode("utf-8", "replace")
        if cut <= 0:
            return head + tail.decode("utf-8", "replace"), False
        marker = f"\n[... {cut} bytes of output truncated ...]\n"
        return head + marker + tail.decode("utf-8", "replace"), True


def run_exec(req):
    timeout = req.get("timeout")
    env = dict(os.environ)
    env.update(req.get("env") or {})
    cap = Capture(int(req.get("limit") or 100000))
    start = time.monotonic()
    rfd, wfd = os.pipe()
    try:
        proc = subprocess.Popen(
            [SHELL, "-c", req["cmd"]],
            stdin=subprocess.DEVNULL,
            stdout=wfd,
            stderr=wfd,
            cwd=req.get("cwd") or None,
            env=env,
            start_new_session=True,
            preexec_fn=child_setup,
        )
    except OSError as exc:
        os.close(rfd)
        os.close(wfd)
        return {
            "exit_code": 126,
            "output": f"failed to start command: {exc}",
            "timed_out": False,
            "truncated": False,
            "duration": time.monotonic() - start,
        }
    os.close(wfd)
    with RUNNING_LOCK:
        RUNNING.add(proc)
    deadline = start + timeout if timeout else None
    timed_out = stragglers = eof = False
    exited_at = None
    try:
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                timed_out = True
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if eof:
                if exited_at is not None:
                    break
                try:  # output closed, command still running
                    proc.wait(None if deadline is None else max(deadline - now, 0))
                except subprocess.TimeoutExpired:
                    pass
                continue
            if exited_at is not None and now - exited_at > DRAIN_GRACE:
                stragglers = True  # background processes still hold the pipe
                break
            wait = 0.05 if exited_at is None else DRAIN_GRACE
            if deadline is not None:
                wait = min(wait, max(deadline - now, 0))
            ready, _, _ = select.select([rfd], [], [], wait)
            if ready:
                data = os.read(rfd, CHUNK)
                if data:
                    cap.add(data)
                else:
                    eof = True  # every writer is gone
    finally:
        os.close(rfd)
        with RUNNING_LOCK:
            RUNNING.discard(proc)
    if timed_out or stragglers:
        kill_group(proc)
    proc.wait()
    output, truncated = cap.result()
    if stragglers:
        output += "\n[background processes still writing to the output were killed]\n"
    code = proc.returncode
    if code is not None and code < 0:
        code = 128 - code  # killed by a signal: shell convention
    return {
        "exit_code": code,
        "output": output,
        "timed_out": timed_out,
        "truncated": truncated,
        "duration": time.monotonic() - start,
    }


def run_write(req):
    path = req["path"]
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(base64.b64decode(req["data"]))
    if req.get("mode") is not None:
        os.chmod(path, int(req["mode"]))
    return {"ok": True}


def run_read(req):
    with open(req["path"], "rb") as fh:
        return {"data": base64.b64encode(fh.read()).decode()}


def run_stop(req):
    """Kill every running command's process group (the host's disk watchdog asks for it)."""
    with RUNNING_LOCK:
        procs = list(RUNNING)
    for proc in procs:
        kill_group(proc)
    return {"stopped": len(procs)}


OPS = {
    "stop": run_stop,
    "exec": run_exec,
    "write": run_write,
    "read": run_read,
    "ping": lambda req: {"ok": True},
}


def handle(req):
    try:
        answer = OPS[req.get("op", "exec")](req)
    except Exception as exc:  # report, never die
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    answer["id"] = req.get("id")
    send(answer)


def seal():
    """Make this process unreachable for the commands it runs (see the module doc); "" or what failed."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 or libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0:
            return "prctl(PR_SET_DUMPABLE, 0) failed"
        with open("/proc/self/status") as fh:
            bounding = [int(line.split()[1], 16) for line in fh if line.startswith("CapBnd:")]
    except Exception as exc:  # no ctypes, no /proc: unsealed, the client falls back to docker exec
        return f"{type(exc).__name__}: {exc}"
    if not bounding or bounding[0] & (1 << CAP_SYS_PTRACE):
        return "CAP_SYS_PTRACE is in the bounding set: commands could read this process"
    run_exec({"cmd": ":", "limit": 16})  # import whatever running a command imports lazily, then no more
    sys.path[:] = []
    sys.path_importer_cache.clear()
    return ""


def main():
    problem = seal()
    hello = {"id": 0, "ready": True, "pid": os.getpid(), "shell": SHELL, "sealed": not problem}
    send({**hello, "seal_error": problem} if problem else hello)
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        try:
            req = json.loads(line.decode())
        except ValueError as exc:
            send({"id": None, "error": f"bad request: {exc}"})
            continue
        if req.get("op") in ("write", "read", "ping", "stop"):
            handle(req)  # fast and in-order
            continue
        try:
            threading.Thread(target=handle, args=(req,), daemon=True).start()
        except RuntimeError as exc:  # cannot start a thread (pids limit): answer instead of dying
            send({"id": req.get("id"), "error": f"cannot start command: {exc}"})


if __name__ == "__main__":
    main()
