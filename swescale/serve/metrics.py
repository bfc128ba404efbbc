"""vLLM's Prometheus `/metrics`, sampled during a run: prefix-cache hit rate, running and waiting requests,
generation throughput.

```python
with MetricsSampler(["http://127.0.0.1:8000/v1"], interval=15, path=run_dir / "metrics.jsonl") as sampler:
    ...                                   # the run
sampler.summary()                         # [ServerMetrics(url, prefix_cache_hit_rate, ...)]
```
Servers without `/metrics` (or answering something else) are left out. Counters are summed over label
sets (a data-parallel server reports one per engine) and restarts (a counter that drops) are handled.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from swescale.serve.ready import http_get

COUNTERS = {
    "prefix_cache_queries": ("vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"),
    "prefix_cache_hits": ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"),
    "generation_tokens": ("vllm:generation_tokens_total",),
    "prompt_tokens": ("vllm:prompt_tokens_total",),
}
"""Reading name -> vLLM sample names, newest first (V1 names, then the deprecated `gpu_` ones)."""
GAUGES = {"running": ("vllm:num_requests_running",), "waiting": ("vllm:num_requests_waiting",)}


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> {reading: value} for the readings above present in it (summed over labels)."""
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + float(sample.value)
    out = {}
    for reading, names in {**COUNTERS, **GAUGES}.items():
        found = next((n for n in names if n in sums), None)
        if found is not None:
            out[reading] = sums[found]
    return out


def metrics_url(url: str) -> str:
    """An OpenAI base URL (…/v1) -> the server's /metrics."""
    base = url.rstrip("/")
    base = base[: -len("/v1")] if base.endswith("/v1") else base
    return f"{base}/metrics"


def scrape(url: str, timeout: float = 5.0) -> dict[str, float] | None:
    """One reading of a server's /metrics; None when it has none (or no vLLM readings)."""
    answer = http_get(metrics_url(url), timeout)
    if answer is None or answer[0] != 200:
        return None
    try:
        reading = parse_metrics(answer[1].decode(errors="replace"))
    except ValueError:  # not Prometheus text
        return None
    return reading or None


class ServerMetrics(BaseModel):
    """One server over a run."""

    url: str
    samples: int
    seconds: float
    prefix_cache_hit_rate: float | None = None
    """Prefix-cache hits / queries (tokens) over the run."""
    prefix_cache_queries: float | None = None
    """Prompt tokens looked up in the prefix cache over the run (the hit rate's weight)."""
    generation_tokens_per_s: float | None = None
    generation_tokens: float | None = None
    prompt_tokens: float | None = None
    running_mean: float | None = None
    running_max: float | None = None
    waiting_mean: float | None = None
    waiting_max: float | None = None


def _increase(values: list[float]) -> float:
    """Total increase of a counter over samples, a drop meaning a restart from zero."""
    total = 0.0
    for before, after in zip(values, values[1:], strict=False):
        total += after - before if after >= before else after
    return total


def summarize(url: str, samples: list[tuple[float, dict[str, float]]]) -> ServerMetrics:
    """A server's readings over time -> rates and means (None where the server did not report)."""
    seconds = samples[-1][0] - samples[0][0] if len(samples) > 1 else 0.0
    out = ServerMetrics(url=url, samples=len(samples), seconds=seconds)

    def series(name: str) -> list[float]:
        return [r[name] for _, r in samples if name in r]

    increases = {name: _increase(series(name)) for name in COUNTERS if len(series(name)) > 1}
    queries = increases.get("prefix_cache_queries")
    if queries:
        out.prefix_cache_queries = queries
        out.prefix_cache_hit_rate = increases.get("prefix_cache_hits", 0.0) / queries
    if "generation_tokens" in increases:
        out.generation_tokens = increases["generation_tokens"]
        out.generation_tokens_per_s = out.generation_tokens / seconds if seconds > 0 else None
    out.prompt_tokens = increases.get("prompt_tokens")
    for gauge in GAUGES:
        values = series(gauge)
        if values:
            setattr(out, f"{gauge}_mean", sum(values) / len(values))
            setattr(out, f"{gauge}_max", max(values))
    return out


class MetricsSampler:
    """Samples every server's /metrics each `interval` seconds in a thread (and once at start and stop)."""

    def __init__(self, urls: list[str], interval: float, path: Path | None = None):
        self.urls = list(dict.fromkeys(urls))
        self.interval = interval
        self.path = Path(path) if path else None
        self.samples: dict[str, list[tuple[float, dict[str, float]]]] = {u: [] for u in self.urls}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        for url in self.urls:
            reading = scrape(url)
            if reading is None:
                continue
            now = time.time()
            self.samples[url].append((now, reading))
            if self.path is not None:
                with self.path.open("a") as fh:
                    fh.write(json.dumps({"t": now, "url": url, **reading}) + "\n")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> MetricsSampler:
        if self.interval > 0 and self.urls:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.sample()
            self._thread = threading.Thread(target=self._run, name="metrics-sampler", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=30)
            self._thread = None
            self.sample()

    def summary(self) -> list[ServerMetrics]:
        """Servers that reported at least one reading."""
        return [summarize(url, s) for url, s in self.samples.items() if s]
