"""Keep secrets (tokens, keys) out of logs and out of every file the bot writes.

`Redactor.install()` scrubs every log record when it is created (a record factory, so loggers with their
own handlers, like uvicorn's, are covered too) and adds `RedactFilter` to the root handlers;
`scrub_tree()` rewrites any file under a folder that holds a secret. Comments are scrubbed before posting.
"""

from __future__ import annotations

import logging
import threading
import traceback
from pathlib import Path

MASK = "***"
_MIN_SECRET = 6  # shorter strings would mask ordinary words


class Redactor:
    """The secrets of one process; `scrub` masks each of them."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._installed = False

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s and len(s) >= _MIN_SECRET)

    @property
    def secrets(self) -> list[str]:
        with self._lock:
            return sorted(self._secrets, key=len, reverse=True)  # longest first: no partial leftovers

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def scrub_record(self, record: logging.LogRecord) -> logging.LogRecord:
        """Render the message (and any traceback) now, masked, so no handler sees the raw values."""
        if not self._secrets:
            return record
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logged as it is
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), ()
        if record.exc_info:
            record.exc_text = self.scrub("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return record

    def install(self) -> None:
        """Scrub every log record of this process from now on (idempotent)."""
        with self._lock:
            if self._installed:
                return
            self._installed = True
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            return self.scrub_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactFilter(self))

    def scrub_tree(self, root: Path) -> list[Path]:
        """Mask secrets in every file under `root` (or `root` itself); returns the files rewritten."""
        root = Path(root)
        secrets = [s.encode() for s in self.secrets]
        if not secrets or not root.exists():
            return []
        files = (
            [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
        )
        changed = []
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            new = data
            for secret in secrets:
                new = new.replace(secret, MASK.encode())
            if new != data:
                path.write_bytes(new)
                changed.append(path)
        return changed


class RedactFilter(logging.Filter):
    """A handler filter masking the redactor's secrets (for handlers configured outside `install`)."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        self.redactor.scrub_record(record)
        return True


redactor = Redactor()
"""The process's redactor: every secret the bot reads is added to it."""
