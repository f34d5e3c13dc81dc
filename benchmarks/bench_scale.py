"""Peak memory and time of the real profile's heaviest steps against dataset size (issue #13).

    python benchmarks/bench_scale.py [--sizes 1000,2000,4000,7909] [--steps train,gan,fid] [--data DIR]

Draws a full-size BreakHis rehearsal archive once (``bclib synth --rehearsal``:
82 patients, 7,909 tiles of 700x460 in the real layout, or the folder given by
``--data``), then for each size runs, as a user would, with
``params/breakhis.yaml`` and untrained weights on this CPU:

* ``train``: ``bclib train`` of the fusion model at 224 px, one epoch, variant none;
* ``gan``:   ``bclib gan train`` at the profile's resolution for two iterations of batch 4;
* ``fid``:   ``bclib fid`` of the archive's images against the embedded 424-tile set
  (the FID/KID hook's feature pass over every real image) at 299 px.

Each smaller size is a subset of whole patients of the same archive (symbolic
links in the real layout). Peak memory is the resident set of the command's
whole process tree, polled every half second. Targets: at most 8 GB at 7,909
images, and at most 1.5x growth from the smallest to the largest size.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))

from bench_demo import tree_rss  # noqa: E402
from common import save  # noqa: E402

from bclib.paths import project_root  # noqa: E402

BCLIB = str(Path(sys.executable).with_name("bclib"))
PROFILE = project_root() / "params" / "breakhis.yaml"


def measure(command: list[str]) -> dict:
    """Peak resident memory of ``command``'s process tree (GB) and its wall time (s)."""
    started = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        peak = max(peak, tree_rss(watched))
        time.sleep(0.5)
    output = process.stdout.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return {"peak_gb": peak / 1e9, "wall_s": time.time() - started}


def subset(archive: Path, n_images: int, out: Path) -> Path:
    """Whole patients of ``archive`` until ``n_images`` tiles, linked file by file into the same layout under ``out``.

    Files, not folders, are linked: the loaders walk with ``os.walk``, which does
    not descend into linked folders. The synthetic-data marker comes along, so
    every output still says the data are synthetic.
    """
    breast = next(archive.rglob("breast"))
    slides = sorted(p for p in breast.glob("*/SOB/*/*") if p.is_dir())
    slides = slides[::2] + slides[1::2]  # alternate so both classes and most subtypes come early
    for marker in archive.rglob("BCLIB_SYNTHETIC.json"):
        (out / marker.relative_to(archive)).parent.mkdir(parents=True, exist_ok=True)
        (out / marker.relative_to(archive)).symlink_to(marker.resolve())
    count = 0
    for slide in slides:
        if count >= n_images:
            break
        for image in sorted(slide.rglob("*.png")):
            target = out / image.relative_to(archive)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(image.resolve())
            count += 1
    return out


def commands(step: str, root: Path, out: Path) -> list[list[str]]:
    common = ["--params", str(PROFILE), "--set", f"data.root={root}", "--set", f"run.output_dir={out}"]
    if step == "train":
        return [[BCLIB, "train", *common, "--model", "proposed", "--variant", "none", "--set", "train.weights=none",
                 "--set", "train.epochs=1", "--set", "train.fine_tune_epochs=0", "--set", "train.tensorboard=false"]]
    if step == "gan":
        # batch 4, not the profile's 32: on a CPU the 512 px activations of a batch of 32 live in host memory
        # (20.6 GB resident when tried: killed by the kernel), on a GPU in GPU memory; what this step measures
        # is whether host memory grows with the number of training images, which the batch does not change.
        return [[BCLIB, "gan", "train", *common, "--set", "gan.batch_size=4",
                 "--set", "gan.total_kimg=0.008", "--set", "gan.snapshot_kimg=0.008",
                 "--set", "metrics.during_training=false", "--set", "metrics.weights=none"]]
    images = next(root.rglob("breast"))
    reference = project_root() / "data" / "synthetic" / "breakhis"  # a fixed small second set: only the first grows
    return [[BCLIB, "fid", str(images), str(reference), "--weights", "none", "--image-size", "299",
             "--kid-subset-size", "100", "--kid-subsets", "10"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000,7909")
    parser.add_argument("--steps", default="train,gan,fid")
    parser.add_argument("--data", type=Path, default=None, help="an existing rehearsal archive")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    steps = args.steps.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        archive = args.data or Path(tmp) / "rehearsal"
        if args.data is None:
            subprocess.run([BCLIB, "synth", "--layout", "breakhis", "--rehearsal", "--out", str(archive)], check=True)
        for n in sizes:
            root = subset(archive, n, Path(tmp) / f"subset-{n}")
            for step in steps:
                result = {"peak_gb": 0.0, "wall_s": 0.0}
                out = Path(tmp) / f"out-{step}-{n}"
                for command in commands(step, root, out):
                    one = measure(command)
                    result = {"peak_gb": max(result["peak_gb"], one["peak_gb"]),
                              "wall_s": result["wall_s"] + one["wall_s"]}
                shutil.rmtree(out, ignore_errors=True)  # the 7,909-image trunk store alone is ~8 GB of disk
                rows.append({"step": step, "images": n, **result})
                print(rows[-1], flush=True)
    lines = ["| step | images | peak memory GB | wall s |", "| --- | --- | --- | --- |"]
    lines += [f"| {r['step']} | {r['images']} | {r['peak_gb']:.2f} | {r['wall_s']:.0f} |" for r in rows]
    verdicts = []
    for step in steps:
        mine = [r for r in rows if r["step"] == step]
        growth = mine[-1]["peak_gb"] / mine[0]["peak_gb"]
        ok = mine[-1]["peak_gb"] <= 8 and growth <= 1.5
        verdicts.append(f"{step}: {mine[-1]['peak_gb']:.2f} GB at {mine[-1]['images']} images, growth "
                        f"{growth:.2f}x from {mine[0]['images']} ({'met' if ok else 'NOT met'}"
                        f"{'' if mine[-1]['images'] >= 7909 else '; sizes below the real 7,909 only'})")
    text = "\n".join(lines + ["", *verdicts, "",
                              "CPU only, untrained weights, params/breakhis.yaml; no GPU was lent for this run."])
    print(text)
    save("scale", {"title": "Memory against dataset size (rehearsal BreakHis)", "rows": rows, "markdown": text})


if __name__ == "__main__":
    main()
