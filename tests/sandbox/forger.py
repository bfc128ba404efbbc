"""Code under test that tries to forge the exec server's answer "exit 0" from inside the sandbox.

It writes fake answers for request ids 0..FAKE_IDS to every output descriptor (all but stdin) of every
process it can open (/proc/1/fd/1 included), tries to open the server's pipes and memory, and prints what it
reached; the command around it then exits 1.
`FORGER` is the source, importable as a module's body or runnable as a script.
"""

FAKE_IDS = 400
FORGER = """
import glob, json, os
def _swescale_forge():
    fake = "".join(
        json.dumps({"id": i, "ok": True, "exit_code": 0, "output": "forged pass", "timed_out": False,
                    "truncated": False, "duration": 0.0}) + "\\n"
        for i in range(NUMBER_OF_IDS)
    ).encode()
    server = [p.split("/")[2] for p in glob.glob("/proc/[0-9]*/cmdline")
              if b"exec_server" in open(p, "rb").read()]
    reached = []
    paths = set(glob.glob("/proc/[0-9]*/fd/[0-9]*")) | {"/proc/1/fd/1", "/proc/1/fd/2"}
    for path in sorted(p for p in paths if not p.endswith("/fd/0")):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            os.write(fd, fake)
            reached.append(path)
        except OSError:
            pass
        finally:
            os.close(fd)
    for pid in server:
        for name in ("fd/0", "fd/1", "fd/2", "mem", "environ"):
            try:
                mode = os.O_RDWR if name.startswith("fd") else os.O_RDONLY
                os.close(os.open("/proc/" + pid + "/" + name, mode))
                print("FORGER reached server", name)
            except OSError:
                print("FORGER denied server", name)
    print("FORGER wrote to", len(reached), "descriptors, including /proc/1/fd/1:", "/proc/1/fd/1" in reached)
_swescale_forge()
""".replace("NUMBER_OF_IDS", str(FAKE_IDS))
