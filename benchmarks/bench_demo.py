"""End to end: wall time and peak memory of the smoke run (`make demo` after installation).

Runs ``bclib run --params params/smoke.yaml --notebooks-at-once 2`` (what ``make demo`` runs)
into a fresh temporary output folder (the committed outputs/smoke is left alone), sampling the
memory of the whole process tree (the runner and the notebook kernels) twice a second.
Target (issue #26): <= 8 minutes of
notebooks and <= 6 GB on a 2-core CPU; with installation from a warm package cache, `make demo`
on a fresh clone within 10 minutes (installation is timed by the README's fresh-clone check).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))

from common import save  # noqa: E402

from bclib.paths import project_root  # noqa: E402


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process] + process.children(recursive=True):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def main() -> None:
    bclib = Path(sys.executable).with_name("bclib")
    with tempfile.TemporaryDirectory() as out:
        command = [str(bclib), "run", "--params", str(project_root() / "params" / "smoke.yaml"),
                   "--notebooks-at-once", "2", "--set", f"run.output_dir={out}"]  # as make demo runs it
        started = time.time()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        watched, peak = psutil.Process(process.pid), 0
        kernels: dict[int, tuple[float, int]] = {}  # pid -> (start time, peak RSS): one kernel per notebook
        while process.poll() is None:
            peak = max(peak, tree_rss(watched))
            for child in watched.children(recursive=True):
                try:
                    start, rss = child.create_time(), child.memory_info().rss
                except psutil.Error:
                    continue
                kernels[child.pid] = (start, max(rss, kernels.get(child.pid, (0, 0))[1]))
            time.sleep(0.5)
        wall = time.time() - started
        output = process.stdout.read()
    ok = process.returncode == 0
    minutes, gigabytes = wall / 60, peak / 1e9
    met = ok and minutes <= 8 and gigabytes <= 6
    steps = [line for line in output.splitlines() if line.startswith("[") and ": " in line and " s)" in line]
    lines = ["| measure | value | target |", "| --- | --- | --- |",
             f"| wall time (notebooks) | {minutes:.1f} min | <= 8 min |",
             f"| peak memory (process tree) | {gigabytes:.2f} GB | <= 6 GB |",
             "", "Per notebook: " + "; ".join(s.split("] ", 1)[-1] for s in steps),
             "Peak memory of each kernel, in start order (GB): "
             + ", ".join(f"{rss / 1e9:.2f}" for _, rss in sorted(kernels.values()) if rss > 2e8),
             f"\nTarget: {'met' if met else 'NOT met'}" + ("" if ok else " (the run failed)")]
    text = "\n".join(lines)
    print(text)
    save("demo", {"title": "End to end: the smoke run (make demo after installation)", "wall_s": wall,
                  "peak_bytes": peak, "ok": ok, "target_met": met, "markdown": text})


if __name__ == "__main__":
    main()
