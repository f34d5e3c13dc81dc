"""Shared helpers of the benchmark scripts: timing statistics, machine facts, result files.

Every script prints a Markdown section and writes ``benchmarks/results/<name>.json``;
``make bench`` collects them into ``benchmarks/results.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


def timeit(fn, repeats: int = 5, warmup: int = 1) -> dict:
    """Median, min and max wall time (s) of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "repeats": repeats}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = []
    try:
        import tensorflow as tf

        gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    except ImportError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "gpus": gpus, "python": platform.python_version()}


def save(name: str, result: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"machine": machine(), **result}, indent=2))
    os.replace(tmp, path)
    return path


def write_section(path: Path, title: str, markdown: str) -> None:
    """Replace (or append) this benchmark's section of results.md, leaving the others alone."""
    text = path.read_text() if path.is_file() else "# Benchmark results\n"
    block = f"## {title}\n\n*Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.*\n\n{markdown}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text.rstrip("\n") + "\n")
