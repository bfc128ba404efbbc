"""bench, select, env and mine log at INFO without a line per model request ("HTTP Request: POST ...")."""

from __future__ import annotations

import logging

from agent.model import ModelClient
from swescale.cli.options import quiet_logging
from swescale.config import ModelConfig
from swescale.demo.scripted_server import ScriptedServer


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


def test_model_requests_log_nothing_at_info():
    quiet_logging()
    records = _Records()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)  # as quiet_logging's basicConfig does outside pytest (no handler yet)
    root.addHandler(records)
    try:
        with ScriptedServer(lambda request: {"content": "hi"}) as server:
            client = ModelClient(ModelConfig(urls=[server.url], tool_format="native", retries=0))
            client.chat([{"role": "user", "content": "hello"}])
            logging.getLogger("swescale.test").info("a line of our own")
    finally:
        root.removeHandler(records)
        root.setLevel(level)
    assert not [line for line in records.lines if "HTTP Request" in line], records.lines
    assert "swescale.test: a line of our own" in records.lines
