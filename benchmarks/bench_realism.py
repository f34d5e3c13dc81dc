"""How real does the embedded synthetic data look? Simple image statistics, synthetic against real.

Reads the real BreakHis samples from ``../shared/realdata/breakhis-samples``
(relative to the repository) when that folder exists; it is not part of the
project and is never copied into it. Without it the script says so and
reports the synthetic statistics alone.

For every real tile the generator draws synthetic tiles of the same subtype
and magnification (three synthetic patients each, seed 0). Both are
downsampled to 350x230 and described by six numbers:

* mean haematoxylin and eosin optical density (``skimage.color.rgb2hed``);
* background fraction: share of near-white pixels (grey level above 0.85);
* luminance contrast: standard deviation of the grey level;
* gradient energy: mean squared Sobel gradient of the grey level (sharpness and texture);
* nuclear-density proxy: share of pixels whose haematoxylin density is above 0.05.

Targets: every synthetic mean lies inside the range of the real tiles, and a
logistic regression told to separate real from synthetic tiles on these six
numbers scores a balanced accuracy of at most 0.75 under grouped
cross-validation (a patient's tiles are never split between training and
testing folds). With 14 real tiles this is a smoke check of realism, not a
measurement of it.

Usage: ``python benchmarks/bench_realism.py [--real DIR] [--per-tile N]``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
REPO = HERE.parent
DEFAULT_REAL = REPO.parent / "shared" / "realdata" / "breakhis-samples"
STATISTICS = ["h_od", "e_od", "background", "contrast", "gradient_energy", "nuclear_density"]
LABELS = {
    "h_od": "haematoxylin OD (mean)", "e_od": "eosin OD (mean)", "background": "background fraction",
    "contrast": "luminance std", "gradient_energy": "gradient energy", "nuclear_density": "nuclear-density proxy",
}
NAME = re.compile(r"SOB_([BM])_([A-Z]+)-(\d+)-([0-9]+[A-Z]*)-(\d+)-(\d+)\.png$")
TARGET_ACCURACY = 0.75


def tile_statistics(rgb: np.ndarray) -> dict:
    """The six statistics of one RGB uint8 tile, after downsampling to 350x230."""
    from scipy import ndimage
    from skimage.color import rgb2gray, rgb2hed

    image = np.asarray(Image.fromarray(rgb).resize((350, 230), Image.BILINEAR), dtype=np.float64) / 255
    hed = rgb2hed(image)
    grey = rgb2gray(image)
    gradient = ndimage.sobel(grey, 0) ** 2 + ndimage.sobel(grey, 1) ** 2
    return {
        "h_od": float(hed[..., 0].mean()), "e_od": float(hed[..., 1].mean()),
        "background": float((grey > 0.85).mean()), "contrast": float(grey.std()),
        "gradient_energy": float(gradient.mean()), "nuclear_density": float((hed[..., 0] > 0.05).mean()),
    }


def real_tiles(folder: Path) -> list[dict]:
    """(subtype code, magnification, patient, path) of every real sample found."""
    from bclib.data.layouts import BREAKHIS_SUBTYPES

    code_to_subtype = {code: name for name, (_, code) in BREAKHIS_SUBTYPES.items()}
    tiles = []
    for path in sorted(folder.rglob("*.png")):
        match = NAME.search(path.name)
        if match:
            tiles.append({"subtype": code_to_subtype[match.group(2)], "mag": int(match.group(5)),
                          "patient": f"{match.group(3)}-{match.group(4)}", "path": path})
    return tiles


def synthetic_tiles(wanted: list[tuple[str, int]], per_tile: int, seed: int = 0) -> list[dict]:
    """Synthetic tiles for each (subtype, magnification): ``per_tile`` new patients each."""
    from bclib.data import synth

    out = []
    for i, (subtype, mag) in enumerate(wanted):
        for k in range(per_tile):
            patient = synth.draw_patient((seed, 9, i, k), subtype)
            rgb = synth.draw_image(subtype, (460, 700), synth.UNIT_PIXELS[mag], patient,
                                   synth._image_rng(seed, 10, i, k))
            out.append({"subtype": subtype, "mag": mag, "patient": f"synthetic-{i}-{k}", "rgb": rgb})
    return out


def real_vs_synthetic_accuracy(real: np.ndarray, fake: np.ndarray, real_groups, fake_groups) -> float:
    """Balanced accuracy of a logistic regression separating real from synthetic tiles (grouped 5-fold CV)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.log(np.vstack([real, fake]) + 1e-4)
    y = np.r_[np.ones(len(real)), np.zeros(len(fake))]
    groups = np.r_[list(real_groups), list(fake_groups)]
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    predicted = cross_val_predict(model, x, y, groups=groups, cv=folds)
    return float(balanced_accuracy_score(y, predicted))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--per-tile", type=int, default=3, help="synthetic patients per real tile")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.md alone")
    args = parser.parse_args(argv)

    real = real_tiles(args.real) if args.real.is_dir() else []
    if real:
        wanted = [(t["subtype"], t["mag"]) for t in real]
        source = (f"{len(real)} real BreakHis tiles of {len({t['patient'] for t in real})} patients "
                  f"read from `{args.real.name}/` (not stored in the project)")
    else:
        print(f"real samples not found at {args.real}: reporting synthetic statistics only")
        from bclib.data.layouts import BREAKHIS_SUBTYPES

        wanted = [(s, m) for s in BREAKHIS_SUBTYPES for m in (40, 400)]
        source = f"real samples absent (looked in {args.real}); synthetic statistics only, no targets checked"
    t0 = time.perf_counter()
    fake = synthetic_tiles(wanted, args.per_tile)
    draw_s = time.perf_counter() - t0
    fake_stats = np.array([[tile_statistics(t["rgb"])[k] for k in STATISTICS] for t in fake])
    rows = []
    if real:
        real_stats = np.array([[tile_statistics(np.asarray(Image.open(t["path"]).convert("RGB")))[k]
                                for k in STATISTICS]
                               for t in real])
        accuracy = real_vs_synthetic_accuracy(real_stats, fake_stats, [t["patient"] for t in real],
                                              [t["patient"] for t in fake])
        inside = []
        for j, key in enumerate(STATISTICS):
            lo, hi = real_stats[:, j].min(), real_stats[:, j].max()
            mean = fake_stats[:, j].mean()
            inside.append(lo <= mean <= hi)
            rows.append(f"| {LABELS[key]} | {real_stats[:, j].mean():.4f} [{lo:.4f}, {hi:.4f}] | "
                        f"{mean:.4f} [{fake_stats[:, j].min():.4f}, {fake_stats[:, j].max():.4f}] | "
                        f"{'yes' if inside[-1] else 'no'} |")
        met = all(inside) and accuracy <= TARGET_ACCURACY
        header = ["| statistic | real mean [min, max] | synthetic mean [min, max] | synthetic mean inside real range |",
                  "| --- | --- | --- | --- |"]
        verdict = (f"Real-vs-synthetic logistic regression on these statistics (grouped 5-fold CV by patient): "
                   f"balanced accuracy **{accuracy:.2f}** (target <= {TARGET_ACCURACY}; 0.5 = indistinguishable).\n\n"
                   f"Target (every synthetic mean inside the real range, accuracy <= {TARGET_ACCURACY}): "
                   f"{'met' if met else 'not met'}")
    else:
        accuracy, met = None, None
        header = ["| statistic | synthetic mean [min, max] |", "| --- | --- |"]
        rows = [f"| {LABELS[k]} | {fake_stats[:, j].mean():.4f} "
                f"[{fake_stats[:, j].min():.4f}, {fake_stats[:, j].max():.4f}] |"
                for j, k in enumerate(STATISTICS)]
        verdict = "No real samples: targets not checked."
    markdown = "\n".join([
        f"{source}; {len(fake)} synthetic tiles of the same subtypes and magnifications "
        f"({args.per_tile} synthetic patients per real tile, drawn in {draw_s:.1f} s). Statistics on 350x230 "
        "downsamples; OD from `skimage.color.rgb2hed`; background = grey > 0.85; "
        "nuclear-density proxy = share of pixels with haematoxylin OD > 0.05. "
        "With so few real tiles this is a smoke check of realism, not a measurement.", "",
        *header, *rows, "", verdict,
    ])
    print(markdown)
    if not args.no_write:
        from common import save

        save("realism", {"title": "Realism of the embedded synthetic data", "markdown": markdown,
                         "accuracy": accuracy, "met": met})
        _write_section(HERE / "results.md", "Realism of the embedded synthetic data", markdown)
    return 0 if met in (True, None) else 1


def _write_section(path: Path, title: str, markdown: str) -> None:
    """Replace (or append) this benchmark's section of results.md, leaving the others alone."""
    import datetime as dt

    text = path.read_text() if path.is_file() else "# Benchmark results\n"
    block = f"## {title}\n\n*Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.*\n\n{markdown}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    sys.exit(main())
