"""Per-command overhead: `docker exec <ctr> true` versus DockerSandbox.exec("true") on the same container.

Usage: python benchmarks/sandbox_overhead.py [--n 40] [--image IMAGE]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from sandbox import DockerSandbox
from sandbox.images import ensure_base_image


def p50(fn, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40, help="commands timed per method")
    parser.add_argument("--image", default="", help="image (default: the swescale base image)")
    args = parser.parse_args()
    image = args.image or ensure_base_image()
    with DockerSandbox(image, workdir="/") as sb:
        sb.exec("true")  # warm up both paths
        subprocess.run(["docker", "exec", sb.id, "true"], check=True)
        docker_p50 = p50(lambda: subprocess.run(["docker", "exec", sb.id, "true"], check=True), args.n)
        ours_p50 = p50(lambda: sb.exec("true"), args.n)
    print(f"docker exec p50: {docker_p50 * 1000:.1f} ms")
    print(f"sandbox exec p50: {ours_p50 * 1000:.1f} ms")
    print(f"ratio: {docker_p50 / ours_p50:.1f}x")


if __name__ == "__main__":
    main()
