"""The inspector in headless Chromium on real runs: the demo (whole pipeline, real sandboxes, scripted
model) and a small graded bench run. No console error; a trajectory opens and its steps read; filters
narrow the instance table; the heat map has one cell per candidate x test; the live page reloads when a
trajectory is saved. Screenshots go to artifacts/inspect/."""

from __future__ import annotations

import json
import threading
import time

import pytest
from bench_scripts import cli
from browser import console_errors, open_page
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from swescale.inspect.serve import make_server

pytestmark = [pytest.mark.docker, pytest.mark.browser, pytest.mark.timeout(1200)]


def _wait(driver, script: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


def _page(run_dir, tmp_path):
    out = tmp_path / "inspect.html"
    done = cli("inspect", str(run_dir), "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def _heatmap_cells(driver) -> tuple[int, int, int]:
    """(candidate rows, test columns, cells) of the heat map on screen."""
    return driver.execute_script(
        "const t = document.getElementById('heatmap');"
        "return [t.querySelectorAll('tr.mrow').length, t.querySelectorAll('th.test').length,"
        " t.querySelectorAll('tr.mrow td.cell').length];"
    )


def test_demo_run_answers_why_this_patch_and_what_a_trajectory_did(demo_run, driver, screenshot, tmp_path):
    page = _page(demo_run, tmp_path)
    open_page(driver, page)
    assert console_errors(driver) == []
    decision = driver.find_element(By.ID, "decision").text
    outcome = json.loads((demo_run / "run.json").read_text())
    assert (outcome["decision"]["chosen"] or outcome["decision"]["best"]) in decision
    assert "distinguishing tests" in decision and "judge P(YES)" in decision
    latest = sorted(demo_run.glob("gen*/*/verifier_table.json"))[-1]
    table = json.loads(latest.read_text())
    rows, columns, cells = _heatmap_cells(driver)
    assert (rows, columns) == (len(table["rows"]), len(table["tests"])) and cells == rows * columns
    screenshot(driver, "overview")
    driver.execute_script("document.getElementById('matrix').scrollIntoView()")
    screenshot(driver, "heatmap")

    chosen = outcome["decision"]["chosen"] or outcome["decision"]["best"]
    record = json.loads((demo_run / "trajectories" / f"{chosen}.json").read_text())
    link = driver.find_element(By.XPATH, f"//table[@id='trajectory-table']//a[text()='{chosen}']")
    link.click()
    _wait(driver, "return document.getElementById('trajectory') !== null")
    steps = driver.find_elements(By.CSS_SELECTOR, "#trajectory .step")
    assert len(steps) == len(record["steps"])
    first_call = record["steps"][0]["tool_calls"][0]
    assert (
        first_call["name"] in steps[0].text.lower()
        and json.loads(first_call["arguments"])["command"] in steps[0].text
    )
    edited = [i for i, s in enumerate(record["steps"]) if s.get("diff") is not None]
    assert edited, "the chosen trajectory changed the working tree: its step records the diff"
    for i, step in enumerate(steps):  # the working tree's diff after each step that changed it, only there
        assert bool(step.find_elements(By.CSS_SELECTOR, ".step-diff")) == (i in edited), i
    shown_diff = steps[edited[-1]].find_element(By.CSS_SELECTOR, ".step-diff")
    assert record["steps"][edited[-1]]["diff"].splitlines()[0] in shown_diff.text
    long_obs = [(i, o) for i, s in enumerate(record["steps"]) for o in s["observations"][:1] if len(o) > 600]
    for index, text in long_obs[:1]:  # a long observation is folded and built when opened
        fold = steps[index].find_element(By.CSS_SELECTOR, ".observation details")
        assert fold.get_attribute("open") is None and not fold.find_elements(By.CSS_SELECTOR, "pre")
        fold.find_element(By.TAG_NAME, "summary").click()
        # the text is built by the fold's `toggle` event, which the browser fires after the click returns
        shown = WebDriverWait(fold, 10).until(lambda node: node.find_element(By.CSS_SELECTOR, "pre.obs"))
        assert driver.execute_script("return arguments[0].textContent", shown) == text
    assert console_errors(driver) == []
    screenshot(driver, "trajectory")


def test_bench_run_filters_and_drills_into_an_instance(small_bench_run, driver, screenshot, tmp_path):
    page = _page(small_bench_run, tmp_path)
    open_page(driver, page)
    assert console_errors(driver) == []
    data = driver.execute_script("return JSON.parse(document.getElementById('data').textContent)")
    rows = driver.find_elements(By.CSS_SELECTOR, "#instances tr.inst")
    assert len(rows) == len(data["instances"]) == 3
    outcomes = [i["outcome"] for i in data["instances"]]
    assert "resolved" in outcomes and len(set(outcomes)) > 1
    screenshot(driver, "instances")
    Select(driver.find_element(By.ID, "filter-outcome")).select_by_value("resolved")
    shown = driver.find_elements(By.CSS_SELECTOR, "#instances tr.inst")
    assert 0 < len(shown) == outcomes.count("resolved") < 3
    assert all("resolved" in r.get_attribute("class").split() for r in shown)
    Select(driver.find_element(By.ID, "filter-outcome")).select_by_value("")
    driver.find_element(By.ID, "filter-text").send_keys("b2")
    assert [
        r.get_attribute("data-id") for r in driver.find_elements(By.CSS_SELECTOR, "#instances tr.inst")
    ] == ["b2"]

    driver.find_element(By.CSS_SELECTOR, "#instances tr.inst a").click()
    _wait(driver, "return document.getElementById('matrix') !== null")
    table_file = sorted((small_bench_run / "instances" / "b2").glob("gen*/*/verifier_table.json"))[-1]
    table = json.loads(table_file.read_text())
    rows, columns, cells = _heatmap_cells(driver)
    assert (rows, columns) == (len(table["rows"]), len(table["tests"])) and cells == rows * columns
    screenshot(driver, "instance")
    driver.find_element(By.CSS_SELECTOR, "#trajectory-table a.traj-link").click()
    _wait(driver, "return document.querySelectorAll('#trajectory .step').length > 0")
    assert console_errors(driver) == []
    screenshot(driver, "instance-trajectory")


def test_live_page_reloads_when_a_trajectory_is_saved_and_keeps_its_view(demo_run, driver):
    server = make_server(demo_run, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = sorted((demo_run / "trajectories").glob("*.json"))[0]
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/#t={path.stem}")
        _wait(driver, "return document.getElementById('trajectory') !== null")
        driver.execute_script("window.notReloaded = true")
        time.sleep(2.5)  # the page has read the version once
        path.write_text(path.read_text())
        _wait(
            driver,
            "return window.notReloaded === undefined && document.getElementById('trajectory') !== null",
        )
        assert console_errors(driver) == []
    finally:
        server.shutdown()
        server.server_close()
