"""Process exit: how long a process that loaded TensorFlow takes to end, with and without bclib's exit handler.

``bclib.backend`` registers ``gc.freeze`` to run first at exit, so the interpreter's last pass of
the cyclic collector has nothing to walk (docs/decisions.md, "No garbage collection at exit").
Each repeat starts a fresh Python that does some work, prints the clock, and returns; the
parent reads the clock again when the child has been reaped. The difference is the exit. The
same script runs with the handler (as bclib leaves it) and with it unregistered just before
returning (as any Python would end), in turn, so a drift in the machine's speed touches both.

Two kinds of process: one that only loads Keras (a ``bclib`` command that fails early, a
notebook kernel that has just started) and one that has built the three-backbone fusion trunk
(a training process, a notebook kernel after notebook 04). `make test` starts several dozen
processes of the first kind and some of the second, and its two workers end as the second kind.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import save, write_section  # noqa: E402

REPEATS = 5
WORK = {
    "Keras loaded": "from bclib.backend import keras; keras()",
    "fusion trunk built (64 px)": "from bclib.models import build_trunk; build_trunk('proposed', 64, 'none')",
}
ENDINGS = {"bclib's handler": "", "without it": "import atexit, gc; atexit.unregister(gc.freeze); "}


def exit_seconds(work: str, ending: str) -> float:
    code = f"{work}\n{ending}import time; print(time.time(), flush=True)"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_NUM_INTRAOP_THREADS": "1"})
    ended = time.time()
    return ended - float(child.stdout.strip().splitlines()[-1])


def main() -> None:
    times = {(work, ending): [] for work in WORK for ending in ENDINGS}
    for _ in range(REPEATS):
        for work, code in WORK.items():
            for ending, prefix in ENDINGS.items():
                times[work, ending].append(exit_seconds(code, prefix))
    rows = ["| process | exit s, bclib's handler (median, min-max) | exit s, without it | ratio |",
            "| --- | --- | --- | --- |"]
    for work in WORK:
        a, b = times[work, "bclib's handler"], times[work, "without it"]
        rows.append(f"| {work} | {statistics.median(a):.2f} ({min(a):.2f}-{max(a):.2f}) | "
                    f"{statistics.median(b):.2f} ({min(b):.2f}-{max(b):.2f}) | "
                    f"{statistics.median(a) / statistics.median(b):.2f} |")
    note = (f"Seconds from a process's last statement to its end, as its parent sees it; {REPEATS} repeats of "
            "each, in turn. The handler is `gc.freeze` at exit (bclib/backend.py).")
    text = "\n".join(rows + ["", note])
    print(text)
    title = "Process exit: a TensorFlow process's end, with and without gc.freeze at exit"
    save("exit", {"title": title, "times": {f"{w} / {e}": t for (w, e), t in times.items()}, "markdown": text})
    write_section(Path(__file__).with_name("results.md"), title, text)


if __name__ == "__main__":
    main()
