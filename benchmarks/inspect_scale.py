"""The inspector at scale: a synthetic bench run of 300 instances x 8 trajectories (tests/inspect/synthetic.py,
written with swescale's own writers), then the HTML's build time, its size, and its load time in headless
Chromium (navigation to first render; the target is under 2 s). Needs chromium and chromium-driver
(scripts/bootstrap) and selenium (the dev extra).

    python benchmarks/inspect_scale.py [--instances 300] [--trajectories 8] [--steps 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "inspect"))

from browser import chromium, console_errors, open_page  # noqa: E402
from synthetic import bench_run  # noqa: E402

from swescale.inspect.page import write_page  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--trajectories", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--observation-chars", type=int, default=3000)
    parser.add_argument("--keep", type=Path, help="Write the run here and keep it.")
    args = parser.parse_args()
    if args.keep:
        measure(args, args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="swescale-inspect-scale-") as tmp:
        measure(args, Path(tmp))


def measure(args: argparse.Namespace, root: Path) -> None:
    start = time.perf_counter()
    run_dir = bench_run(root / "run", args.instances, args.trajectories, args.steps, args.observation_chars)
    print(
        f"synthetic run      {args.instances} instances x {args.trajectories} trajectories x {args.steps} steps "
        f"in {time.perf_counter() - start:.1f} s ({run_dir})"
    )
    start = time.perf_counter()
    page = write_page(run_dir)
    print(f"build              {time.perf_counter() - start:.2f} s")
    print(f"size               {page.stat().st_size / 1e6:.1f} MB")
    with chromium() as driver:
        loads = [open_page(driver, page) for _ in range(3)]
        errors = console_errors(driver)
        start = time.perf_counter()
        first = driver.execute_script("return document.querySelector('#instances a').getAttribute('href')")
        driver.get(page.resolve().as_uri() + first)
        while not driver.execute_script("return document.getElementById('matrix') !== null"):
            time.sleep(0.01)
        instance = time.perf_counter() - start
    print(f"load (headless)    median {sorted(loads)[1]:.2f} s of {', '.join(f'{x:.2f}' for x in loads)}")
    print(f"open one instance  {instance:.2f} s")
    print(f"console errors     {len(errors)}")


if __name__ == "__main__":
    main()
