"""How real does the embedded synthetic data look? Colour and texture statistics, synthetic against real.

Reads the real BreakHis tiles from ``../shared/realdata/breakhis-samples``
(relative to the repository) when that folder exists; they are not part of the
project and nothing read from them is ever written into it except the summary
figures below. Without the folder the script says so and stops (exit 0) and
leaves ``results.md`` alone: nothing can be measured without real tiles.

The synthetic side mirrors the real set's structure: every real patient folder
gets a synthetic "twin" patient of the same subtype (its own stain and habits,
seed 0), drawn exactly as the embedded data is drawn (``synth.draw_patient`` and
``synth.draw_image`` at 700x460), with one tile for each real tile of that folder
at the same magnification. Real and synthetic sets then have the same subtypes,
magnifications and tiles per patient, so a classifier cannot tell them apart by
the magnification mix.

Every tile is downsampled to 350x230 and described by eight numbers:

* haematoxylin density, mean and standard deviation (``skimage.color.rgb2hed``);
* eosin density, mean and standard deviation;
* white fraction: share of pixels whose grey level (``skimage.color.rgb2gray``)
  is above 0.85 (slide background, lumens, fat, gaps in the stroma);
* mean HSV saturation (``skimage.color.rgb2hsv``): how vivid the colours are;
* luminance contrast: standard deviation of the grey level;
* fine texture: mean absolute difference of the grey level between neighbouring
  pixels (both directions).

Targets: a logistic regression told to separate real from synthetic tiles on the
logarithms of these numbers scores a balanced accuracy of at most 0.75 under
patient-grouped 5-fold cross-validation (``StratifiedGroupKFold``: a patient's
tiles, real or synthetic, never fall on both sides of a fold; the figure is the
mean over five shuffles of the folds), and every statistic's synthetic 5-95%
range overlaps the real one. With 342 real tiles of 46 patients this is a
smoke set: it measures colour and texture, not morphology.

Usage: ``python benchmarks/bench_realism.py [--real DIR] [--workers N] [--no-write]``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
REPO = HERE.parent
DEFAULT_REAL = REPO.parent / "shared" / "realdata" / "breakhis-samples"
COMMAND = ".venv/bin/python benchmarks/bench_realism.py"
STATISTICS = ["h_mean", "h_std", "e_mean", "e_std", "white", "saturation", "contrast", "gradient"]
LABELS = {
    "h_mean": "haematoxylin density, mean", "h_std": "haematoxylin density, std",
    "e_mean": "eosin density, mean", "e_std": "eosin density, std",
    "white": "white fraction (grey > 0.85)", "saturation": "saturation, mean",
    "contrast": "luminance std", "gradient": "fine texture (mean abs. luminance gradient)",
}
NAME = re.compile(r"SOB_([BM])_([A-Z]+)-(\d+)-([0-9]+[A-Z]*)-(\d+)-(\d+)\.png$")
TARGET_ACCURACY = 0.75
SIZE = (350, 230)
LOG_OFFSET = 1e-3  # features enter the classifier as log(x + 1e-3): all are positive scales, some reach 0
SHUFFLES = 5


def tile_statistics(rgb: np.ndarray) -> np.ndarray:
    """The eight statistics (in ``STATISTICS`` order) of one RGB uint8 tile, after downsampling to 350x230."""
    from skimage.color import rgb2gray, rgb2hed, rgb2hsv

    image = np.asarray(Image.fromarray(rgb).resize(SIZE, Image.BILINEAR), dtype=np.float64) / 255
    hed = rgb2hed(image)
    grey = rgb2gray(image)
    gradient = 0.5 * (np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())
    return np.array([
        hed[..., 0].mean(), hed[..., 0].std(), hed[..., 1].mean(), hed[..., 1].std(),
        (grey > 0.85).mean(), rgb2hsv(image)[..., 1].mean(), grey.std(), gradient,
    ])


def real_tiles(folder: Path) -> list[dict]:
    """Subtype, magnification, patient, patient folder and path of every real tile found."""
    from bclib.data.layouts import BREAKHIS_SUBTYPES

    code_to_subtype = {code: name for name, (_, code) in BREAKHIS_SUBTYPES.items()}
    tiles = []
    for path in sorted(folder.rglob("*.png")):
        match = NAME.search(path.name)
        if match:
            tiles.append({"subtype": code_to_subtype[match.group(2)], "mag": int(match.group(5)),
                          "seq": int(match.group(6)), "patient": f"{match.group(3)}-{match.group(4)}",
                          "folder": path.parent.parent.name, "path": path})
    return tiles


def _real_job(path: Path) -> np.ndarray:
    return tile_statistics(np.asarray(Image.open(path).convert("RGB")))


def _synthetic_job(job) -> np.ndarray:
    from bclib.data import synth

    subtype, mag, patient_keys, image_keys = job
    patient = synth.draw_patient(patient_keys, subtype)
    return tile_statistics(synth.draw_image(subtype, (460, 700), synth.UNIT_PIXELS[mag], patient,
                                            synth._image_rng(*image_keys)))


def twin_jobs(real: list[dict], seed: int = 0) -> tuple[list, list[str]]:
    """One synthetic tile per real tile: each real patient folder gets a synthetic patient of its subtype."""
    folders = sorted({t["folder"] for t in real})
    jobs, groups = [], []
    for k, tile in enumerate(real):
        i = folders.index(tile["folder"])
        jobs.append((tile["subtype"], tile["mag"], (seed, 9, i), (seed, 10, i, tile["mag"], k)))
        groups.append(f"synthetic-{i}")
    return jobs, groups


def _map(fn, items, workers: int) -> np.ndarray:
    if workers <= 1:
        return np.array([fn(item) for item in items])
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return np.array(list(pool.map(fn, items, chunksize=4)))


def real_vs_synthetic_accuracy(real: np.ndarray, fake: np.ndarray, real_groups, fake_groups,
                               shuffles: int = SHUFFLES, model=None) -> list[float]:
    """Balanced accuracy of a classifier (default: logistic regression) separating real from synthetic
    tiles, patient-grouped 5-fold CV, once per shuffle of the folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.log(np.vstack([real, fake]) + LOG_OFFSET)
    y = np.r_[np.ones(len(real)), np.zeros(len(fake))]
    groups = np.r_[[f"real-{g}" for g in real_groups], list(fake_groups)]
    if model is None:
        model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
    scores = []
    for shuffle in range(shuffles):
        folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=shuffle)
        predicted = cross_val_predict(model, x, y, groups=groups, cv=folds)
        scores.append(float(balanced_accuracy_score(y, predicted)))
    return scores


def _fmt(v: float) -> str:
    return f"{v:.3f}" if abs(v) >= 0.1 else f"{v:.4f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.md alone")
    args = parser.parse_args(argv)

    real = real_tiles(args.real) if args.real.is_dir() else []
    if not real:
        print(f"bench_realism: skipped: no real BreakHis tiles found at {args.real} (they are not part of the "
              "project; put the shared samples there to measure realism). results.md left unchanged.")
        return 0
    from bclib.data.synth import GENERATOR_VERSION

    real_stats = _map(_real_job, [t["path"] for t in real], args.workers)
    jobs, fake_groups = twin_jobs(real, args.seed)
    t0 = time.perf_counter()
    fake_stats = _map(_synthetic_job, jobs, args.workers)
    draw_s = time.perf_counter() - t0
    real_groups = [t["patient"] for t in real]
    scores = real_vs_synthetic_accuracy(real_stats, fake_stats, real_groups, fake_groups)
    accuracy = float(np.mean(scores))
    from sklearn.ensemble import HistGradientBoostingClassifier

    trees = HistGradientBoostingClassifier(max_iter=200, class_weight="balanced", random_state=0)
    nonlinear = float(np.mean(real_vs_synthetic_accuracy(real_stats, fake_stats, real_groups, fake_groups,
                                                         model=trees)))

    rows, overlaps = [], []
    for j, key in enumerate(STATISTICS):
        r5, r50, r95 = np.percentile(real_stats[:, j], [5, 50, 95])
        s5, s50, s95 = np.percentile(fake_stats[:, j], [5, 50, 95])
        overlaps.append(s5 <= r95 and r5 <= s95)
        alone = np.mean(real_vs_synthetic_accuracy(real_stats[:, [j]], fake_stats[:, [j]], real_groups,
                                                   fake_groups, shuffles=1))
        rows.append(f"| {LABELS[key]} | {_fmt(r50)} [{_fmt(r5)}, {_fmt(r95)}] | "
                    f"{_fmt(s50)} [{_fmt(s5)}, {_fmt(s95)}] | {'yes' if overlaps[-1] else 'no'} | {alone:.2f} |")
    met = all(overlaps) and accuracy <= TARGET_ACCURACY
    n_patients = len(set(real_groups))
    markdown = "\n".join([
        f"`{COMMAND}` (generator version {GENERATOR_VERSION}): {len(real)} real BreakHis tiles of {n_patients} "
        f"patients read from `{args.real.name}/` (not stored in the project; a smoke set, not a benchmark) against "
        f"{len(fake_stats)} synthetic tiles of {len(set(fake_groups))} synthetic twin patients (one per real "
        f"patient folder, same subtype, one tile per real tile at the same magnification; drawn in {draw_s:.0f} s "
        f"with {args.workers} workers). Statistics of 350x230 downsamples: stain densities from "
        "`skimage.color.rgb2hed`, white = grey > 0.85, saturation from `rgb2hsv`, fine texture = mean absolute "
        "grey-level difference between neighbouring pixels.", "",
        "| statistic | real median [5%, 95%] | synthetic median [5%, 95%] | 5-95% ranges overlap "
        "| real vs synthetic on it alone |",
        "| --- | --- | --- | --- | --- |",
        *rows, "",
        "Real-vs-synthetic logistic regression on the logarithms of all eight statistics, patient-grouped 5-fold "
        f"CV (`StratifiedGroupKFold`; each real and each synthetic patient is one group), five shuffles of the "
        f"folds: balanced accuracy **{accuracy:.2f}** ({min(scores):.2f}-{max(scores):.2f}; 0.5 = "
        f"indistinguishable, target <= {TARGET_ACCURACY}). The last column is the same classifier on one "
        "statistic (one shuffle). For reference, not a target: gradient-boosted trees "
        f"(`HistGradientBoostingClassifier`, which can use interactions the linear model cannot) on the same "
        f"statistics and folds score **{nonlinear:.2f}**.", "",
        f"Target (balanced accuracy <= {TARGET_ACCURACY}, every synthetic 5-95% range overlapping the real one): "
        f"**{'met' if met else 'not met'}**",
    ])
    print(markdown)
    if not args.no_write:
        from common import save, write_section

        title = "Realism of the embedded synthetic data"
        save("realism", {"title": title, "markdown": markdown, "accuracy": accuracy, "accuracies": scores,
                         "nonlinear_accuracy": nonlinear,
                         "met": met, "generator_version": GENERATOR_VERSION})
        write_section(HERE / "results.md", title, markdown)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
