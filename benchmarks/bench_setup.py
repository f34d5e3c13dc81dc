"""Setup: `make setup` on a fresh clone, with uv (the Makefile's route) and with pip (its fallback).

Each repeat clones this checkout into a temporary folder and runs `make setup` there, once as it
is (uv installs requirements.txt) and once with ``UV=uv==0`` (no such release, so the Makefile
falls back to pip and compileall), in turn, so that a drift in the machine's speed or the package
caches touches both alike. The caches are warm after the first run of each; what is measured is
the install itself, which `make test` and `make demo` pay on every fresh clone.
Target: the fresh-clone `make test` within 15 minutes (issue #39), of which setup is a part.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import save, write_section  # noqa: E402

from bclib.paths import project_root  # noqa: E402

REPEATS = 2
ROUTES = {"uv (default)": [], "pip (fallback)": ["UV=uv==0"]}


def one_setup(extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(project_root()), str(clone)], check=True)
        started = time.perf_counter()
        subprocess.run(["make", "setup", *extra], cwd=clone, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return time.perf_counter() - started


def main() -> None:
    times: dict[str, list[float]] = {route: [] for route in ROUTES}
    for _ in range(REPEATS):
        for route, extra in ROUTES.items():
            times[route].append(one_setup(extra))
    rows = ["| route | median s | min s | max s |", "| --- | --- | --- | --- |"]
    rows += [f"| {route} | {statistics.median(t):.0f} | {min(t):.0f} | {max(t):.0f} |" for route, t in times.items()]
    ratio = statistics.median(times["uv (default)"]) / statistics.median(times["pip (fallback)"])
    note = (f"`make setup` on a fresh clone, {REPEATS} repeats each, in turn; uv/pip = {ratio:.2f}. "
            "Package caches warm (a first install also downloads).")
    text = "\n".join(rows + ["", note])
    print(text)
    save("setup", {"title": "Setup: make setup on a fresh clone (uv, pip fallback)", "times": times, "markdown": text})
    write_section(Path(__file__).with_name("results.md"), "Setup: make setup on a fresh clone (uv, pip fallback)",
                  text)


if __name__ == "__main__":
    main()
