"""The demo's lessons on real tissue: the leakage gap and the baselines on the 342 shared real BreakHis tiles.

Reads ``../shared/realdata/breakhis-samples`` (relative to the repository) when it exists; the tiles are
not part of the project, and nothing derived from them is written into it except the summary numbers
below (``results/real_tiles.json``). Without the folder the script says so and stops (exit 0).

Every run uses the smoke profile's settings (``params/smoke.yaml``: untrained backbones with their
BatchNorm statistics set from training images, 96 px, a trained head, class weights and a decision
threshold chosen on validation), with the real tiles as ``data.root``. For each seed:

* ``densenet201`` on the patient split and on the image split (the leakage comparison: on the image
  split a patient's tiles sit on both sides, so its colour and texture habits leak into the test);
* ``mobilenet`` on the patient split (a second baseline).

The seed sets the split and the model together (``seed`` and ``train.seeds``), so the spread over
seeds covers both. Each number comes with its 95% patient-bootstrap interval and the number of test
patients. 342 tiles of 46 patients are a smoke set: these numbers are not a BreakHis result.

Usage: ``python benchmarks/bench_real_tiles.py [--real DIR] [--seeds 0 1 2] [--no-write]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
REPO = HERE.parent
DEFAULT_REAL = REPO.parent / "shared" / "realdata" / "breakhis-samples"
COMMAND = ".venv/bin/python benchmarks/bench_real_tiles.py"
TITLE = "The demo's lessons on the shared real tiles (smoke set, issue #26 item 5)"
RUNS = (("densenet201", "patient"), ("densenet201", "image"), ("mobilenet", "patient"))


def _run_one(model: str, split: str, seed: int, real: Path, out: Path):
    from bclib.evaluation.loading import load_run
    from bclib.params import load_params
    from bclib.train import train_classifier

    folder = out / f"{model}-{split}-seed{seed}"
    params = load_params(REPO / "params" / "smoke.yaml", [
        f"data.root={real}", f"data.split={split}", f"seed={seed}", f"train.seeds=[{seed}]",
        f"train.models=[{model}]", "train.variants=[none]", f"run.output_dir={out / 'work'}", "eval.leakage_models=[]"])
    train_classifier(params, model, "none", seed, folder, log=lambda message: None)
    return load_run(folder)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="folder of real BreakHis tiles")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-write", action="store_true", help="print only; leave results/ alone")
    args = parser.parse_args(argv)
    if not args.real.is_dir():
        print(f"bench_real_tiles: {args.real} not found; the real tiles are not shared on this machine, "
              "nothing measured")
        return 0

    import pandas as pd

    from bclib.evaluation.tables import run_scores, with_interval

    started = time.time()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bclib-real-tiles-") as tmp:
        for seed in args.seeds:
            for model, split in RUNS:
                print(f"{model} / {split} split / seed {seed} ...", flush=True)
                runs.append(_run_one(model, split, seed, args.real.resolve(), Path(tmp)))
        scores = run_scores(runs, n_resamples=1000)
    shown = with_interval(scores)
    columns = ["model", "split", "seed", "n_test", "n_patients", "accuracy", "balanced_accuracy", "roc_auc",
               "majority_share"]
    table = shown[columns]
    spread = (scores.groupby(["model", "split"])[["accuracy", "balanced_accuracy", "roc_auc"]]
              .agg(["mean", "std"]).round(3))
    gaps = []
    for seed in args.seeds:
        pick = scores[(scores["model"] == "densenet201") & (scores["seed"] == seed)].set_index("split")
        gaps.append(float(pick.loc["image", "accuracy"] - pick.loc["patient", "accuracy"]))
    minutes = (time.time() - started) / 60
    lines = [
        f"`{COMMAND}`: the real tiles of `{args.real.name}/`, smoke profile settings (untrained backbones, "
        f"96 px, trained head), seeds {args.seeds}; {minutes:.1f} min. **A smoke set of 46 patients, not a "
        "BreakHis result.**", "",
        "Per run (95% patient-bootstrap intervals):", "", table.to_markdown(index=False), "",
        "Mean and standard deviation over seeds:", "", spread.to_markdown(), "",
        "Leakage gap (DenseNet-201 accuracy, image split minus patient split) per seed: "
        + ", ".join(f"{g:+.3f}" for g in gaps) + f"; mean {sum(gaps) / len(gaps):+.3f}"]
    print("\n".join(lines))
    if not args.no_write:
        from common import save, write_section

        write_section(HERE / "results.md", TITLE, "\n".join(lines))
        save("real_tiles", {"title": TITLE, "command": COMMAND,
                            "seeds": args.seeds, "minutes": round(minutes, 1),
                            "runs": pd.DataFrame(table).to_dict(orient="records"),
                            "leakage_gaps": gaps, "markdown": "\n".join(lines)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
