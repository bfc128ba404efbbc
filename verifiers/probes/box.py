"""Runs inside the sandbox (stdlib only, Python 3.6+): one probe, the issue's example, statement by statement.

    python box.py SPEC   (stdout and stderr on /dev/null, fd 3 on the exec channel's output)

SPEC (JSON, removed once read): {"nonce", "steps": [code, ...], "timeout": seconds, "cap": characters}.
Each statement runs in one namespace as in an interactive session started in the repository (sys.path[0]
is the working directory, `__name__` is `__main__`, `_` the last value). After each, one line goes to the
private descriptor (a copy of fd 3, which is closed, so neither the code under test nor its children
inherit it): `SWESCALE-PROBE <nonce> {"i", "kind", "text", "str_text", "stdout"}`, then a last record
`{"end": true}`. What the statement prints goes to a capped buffer, never to the channel; the host reads
only lines with this run's nonce. One timer (SIGALRM) bounds the whole probe; the host's command timeout
is the backstop for code that blocks the signal.
"""

import ast
import builtins
import io
import json
import os
import signal
import sys

PREFIX = "SWESCALE-PROBE"


class ProbeTimeout(BaseException):
    """The probe's time ran out (a BaseException, so `except Exception` in the code under test passes it)."""


class Capped(io.TextIOBase):
    """A stream that keeps the first `cap` characters written to it."""

    encoding = "utf-8"  # so printers choose the unicode output an interactive session shows

    def __init__(self, cap):
        super().__init__()
        self.cap = cap
        self.parts = []
        self.size = 0

    def write(self, text):
        if not isinstance(text, str):
            text = str(text)
        if self.size < self.cap:
            self.parts.append(text[: self.cap - self.size])
        self.size += len(text)
        return len(text)

    def writable(self):
        return True

    def isatty(self):
        return False

    def value(self):
        return "".join(self.parts)


def _text(fn, value, cap):
    try:
        return fn(value)[:cap]
    except BaseException as exc:  # noqa: BLE001 - a repr that raises is part of the behaviour
        if isinstance(exc, ProbeTimeout):
            raise
        return f"<{fn.__name__} failed: {type(exc).__name__}>"


def _first_line(exc, cap):
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001
        message = ""
    lines = message.strip().splitlines()
    name = type(exc).__name__
    return (f"{name}: {lines[0]}" if lines else name)[:cap]


def _run(code, namespace, cap):
    """(kind, text, str_text) of one statement."""
    tree = compile(code, "<issue>", "exec", ast.PyCF_ONLY_AST)
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        expression = ast.fix_missing_locations(ast.Expression(body=tree.body[0].value))
        value = eval(compile(expression, "<issue>", "eval"), namespace)
        if value is not None:
            namespace["_"] = value
        text = _text(repr, value, cap)
        shown = _text(str, value, cap)
        return "value", text, "" if shown == text else shown
    exec(compile(tree, "<issue>", "exec"), namespace)
    return "ok", "", ""


def main():
    path = sys.argv[1]
    with open(path) as fh:
        spec = json.load(fh)
    os.unlink(path)
    nonce, cap = spec["nonce"], int(spec["cap"])
    channel = os.dup(3)  # not inheritable
    os.close(3)
    sys.path[0] = ""

    def emit(record):
        data = (f"{PREFIX} {nonce} {json.dumps(record, ensure_ascii=True)}\n").encode()
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # a record is never cut by the timer
        try:
            while data:
                data = data[os.write(channel, data) :]
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGALRM])

    def expire(signum, frame):
        raise ProbeTimeout()

    real = sys.stdout, sys.stderr
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    signal.signal(signal.SIGALRM, expire)
    # after the deadline, again every second: code that swallows one ProbeTimeout meets the next
    signal.setitimer(signal.ITIMER_REAL, float(spec["timeout"]), 1.0)
    for index, code in enumerate(spec["steps"]):
        record = {"i": index, "kind": "ok", "text": "", "str_text": "", "stdout": ""}
        buffer = Capped(cap)
        stop = False
        try:
            sys.stdout = sys.stderr = buffer
            try:
                record["kind"], record["text"], record["str_text"] = _run(code, namespace, cap)
            finally:
                sys.stdout, sys.stderr = real
        except ProbeTimeout:
            record["kind"], stop = "timeout", True
        except SystemExit as exc:
            record["kind"], record["text"], stop = "raised", f"SystemExit: {exc.code}", True
        except BaseException as exc:  # noqa: BLE001 - the example's exception is its result
            record["kind"], record["text"] = "raised", _first_line(exc, cap)
        record["stdout"] = buffer.value()
        emit(record)
        if stop:
            break
    signal.signal(signal.SIGALRM, signal.SIG_IGN)  # a timer already due raises nothing now
    emit({"end": True})
    os._exit(0)  # no exit handlers of the code under test


if __name__ == "__main__":
    main()
