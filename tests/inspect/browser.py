"""Headless Chromium (Debian's `chromium` and `chromium-driver`) driven by selenium, for the inspector's
browser tests and benchmarks/inspect_scale.py."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium with a fresh profile; its console log is readable (`console_errors`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="swescale-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver) -> list[str]:
    """Console messages of level SEVERE since the last call (JS errors, failed loads)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def open_page(driver, path: Path) -> float:
    """Open a file and wait until the app has rendered; returns the seconds from navigation to rendered."""
    start = time.perf_counter()
    driver.get(Path(path).resolve().as_uri())
    deadline = start + 60
    while time.perf_counter() < deadline:
        if driver.execute_script("return document.querySelector('#app > *:not(noscript)') !== null"):
            break
        time.sleep(0.02)
    return time.perf_counter() - start
