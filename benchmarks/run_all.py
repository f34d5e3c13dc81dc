"""``make bench``: run every ``bench_*.py`` here, then write ``benchmarks/results.md``.

Each script runs in its own process (so one's TensorFlow state cannot slow another)
and leaves ``results/<name>.json``; this collects them with the machine and the
package versions into one Markdown file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from common import RESULTS, machine  # noqa: E402

# results.md sections, in this order
ORDER = ["fid", "pipeline", "train", "gan", "gan_real", "real_tiles", "demo", "setup", "exit"]


def main(only: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in only]
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.name)

    from bclib.provenance import package_versions

    results = {p.stem: json.loads(p.read_text())
               | {"measured": dt.datetime.fromtimestamp(p.stat().st_mtime, dt.timezone.utc)}
               for p in RESULTS.glob("*.json")}
    here = machine()
    lines = ["# Benchmark results", "",
             f"Written by `make bench` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. "
             "Every figure is the median of several repeats (min and max beside it) and every "
             "comparison was measured side by side in the same script run; each section says "
             "when it was measured (`benchmarks/run_all.py NAME` reruns one script).", "",
             f"* CPU: {here['cpu']}, {here['cores']} cores; GPU: {', '.join(here['gpus']) or 'none'}; "
             f"Python {here['python']}",
             "* Packages: " + ", ".join(f"{k} {v}" for k, v in sorted(package_versions().items())), ""]
    for name in sorted(results, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        result = results[name]
        lines += [f"## {result.get('title', name)}", "", f"*Measured {result['measured']:%Y-%m-%d %H:%M} UTC.*", "",
                  result["markdown"], ""]
        if result.get("machine", {}).get("cpu") != here["cpu"]:
            lines += [f"*(measured on another machine: {result['machine']['cpu']})*", ""]
    notes = HERE / "NOTES.md"  # hand-written explanations of missed targets, kept under version control
    if notes.is_file():
        lines += [notes.read_text().strip(), ""]
    target = HERE / "results.md"
    tmp = target.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, target)
    print(f"wrote {target}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
