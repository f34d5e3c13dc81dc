"""The demo's lessons on real tissue: the leakage gap, the baselines and what pretraining buys, on the 342 shared
real BreakHis tiles.

Reads ``../shared/realdata/breakhis-samples`` (relative to the repository) when it exists; the tiles are
not part of the project, and nothing derived from them is written into it except the summary numbers
below (``results/real_tiles.json``). Without the folder the script says so and stops (exit 0).

Every run uses the smoke profile's settings (``params/smoke.yaml``: untrained backbones with their
BatchNorm statistics set from training images, 96 px, a trained head, class weights and a decision
threshold chosen on validation), with the real tiles as ``data.root``. For each seed:

* ``densenet201`` on the patient split and on the image split (the leakage comparison: on the image
  split a patient's tiles sit on both sides, so its colour and texture habits leak into the test);
* ``mobilenet`` on the patient split (a second baseline).

The ``pretraining`` set (issue #41) runs EfficientNet-Lite0 at its own 224 px, everything else as above:
the shared head on frozen ImageNet features (patient and image split), the same head on frozen *random*
features (patient split: what pretraining buys), a linear probe on the ImageNet features (patient and
image split) and the ImageNet model fine-tuned for 3 more epochs (patient split; the last 30% of the
layers unfrozen, BatchNorm kept in inference mode).

The seed sets the split and the model together (``seed`` and ``train.seeds``), so the spread over
seeds covers both. Each number comes with its 95% patient-bootstrap interval and the number of test
patients. 342 tiles of 46 patients are a smoke set: these numbers are not a BreakHis result.

Usage: ``python benchmarks/bench_real_tiles.py [--real DIR] [--seeds 0 1 2] [--sets leakage pretraining]
[--no-write]``.
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
TITLES = {"leakage": "The demo's lessons on the shared real tiles (smoke set, issue #26 item 5)",
          "pretraining": "What pretraining buys on the shared real tiles: EfficientNet-Lite0, ImageNet against "
                         "random weights (smoke set, issue #41)"}
LITE0 = ("train.image_size=224",)  # the size its ImageNet weights were trained at
# (model, split, label, overrides); every run also takes the smoke profile's settings
RUN_SETS = {
    "leakage": (("densenet201", "patient", "densenet201", ()), ("densenet201", "image", "densenet201", ()),
                ("mobilenet", "patient", "mobilenet", ())),
    "pretraining": (
        ("efficientnet-lite0", "patient", "lite0 head, ImageNet", ("train.weights=imagenet", *LITE0)),
        ("efficientnet-lite0", "image", "lite0 head, ImageNet", ("train.weights=imagenet", *LITE0)),
        ("efficientnet-lite0", "patient", "lite0 head, random", ("train.weights=none", *LITE0)),
        ("efficientnet-lite0-probe", "patient", "lite0 probe, ImageNet", ("train.weights=imagenet", *LITE0)),
        ("efficientnet-lite0-probe", "image", "lite0 probe, ImageNet", ("train.weights=imagenet", *LITE0)),
        ("efficientnet-lite0", "patient", "lite0 head, ImageNet, fine-tuned",
         ("train.weights=imagenet", "train.fine_tune_epochs=3", *LITE0))),
}


def _run_one(model: str, split: str, label: str, overrides: tuple, seed: int, real: Path, out: Path):
    from bclib.evaluation.loading import load_run
    from bclib.params import load_params
    from bclib.train import train_classifier

    folder = out / f"{label.replace(' ', '').replace(',', '-')}-{split}-seed{seed}"
    params = load_params(REPO / "params" / "smoke.yaml", [
        f"data.root={real}", f"data.split={split}", f"seed={seed}", f"train.seeds=[{seed}]",
        f"train.models=[{model}]", "train.variants=[none]", f"run.output_dir={out / 'work'}", "eval.leakage_models=[]",
        "eval.pretraining_models=[]", *overrides])
    train_classifier(params, model, "none", seed, folder, log=lambda message: None)
    run = load_run(folder)
    run.record["model"] = label  # the table's row name: the model with its weights and top
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="folder of real BreakHis tiles")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sets", nargs="+", choices=sorted(RUN_SETS), default=sorted(RUN_SETS),
                        help="which comparisons to run (each writes its own section of results.md)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results/ alone")
    args = parser.parse_args(argv)
    if not args.real.is_dir():
        print(f"bench_real_tiles: {args.real} not found; the real tiles are not shared on this machine, "
              "nothing measured")
        return 0

    for name in args.sets:
        _measure(name, args)
    return 0


def _measure(name: str, args) -> None:
    import pandas as pd

    from bclib.evaluation.run_tables import run_scores, with_interval

    started = time.time()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bclib-real-tiles-") as tmp:
        for seed in args.seeds:
            for model, split, label, overrides in RUN_SETS[name]:
                print(f"{label} / {split} split / seed {seed} ...", flush=True)
                runs.append(_run_one(model, split, label, overrides, seed, args.real.resolve(), Path(tmp)))
        scores = run_scores(runs, n_resamples=1000)
    shown = with_interval(scores)
    columns = ["model", "split", "seed", "n_test", "n_patients", "accuracy", "balanced_accuracy", "roc_auc",
               "majority_share"]
    table = shown[columns]
    spread = (scores.groupby(["model", "split"])[["accuracy", "balanced_accuracy", "roc_auc"]]
              .agg(["mean", "std"]).round(3))
    minutes = (time.time() - started) / 60
    settings = ("untrained backbones, 96 px, trained head" if name == "leakage" else
                "EfficientNet-Lite0 at 224 px, ImageNet or random weights as the row says, otherwise as the smoke "
                "profile")
    lines = [
        f"`{COMMAND} --sets {name}`: the real tiles of `{args.real.name}/`, smoke profile settings ({settings}), "
        f"seeds {args.seeds}; {minutes:.1f} min. **A smoke set of 46 patients, not a BreakHis result.**", "",
        "Per run (95% patient-bootstrap intervals):", "", table.to_markdown(index=False), "",
        "Mean and standard deviation over seeds:", "", spread.to_markdown(), ""]
    if name == "leakage":
        gaps = []
        for seed in args.seeds:
            pick = scores[(scores["model"] == "densenet201") & (scores["seed"] == seed)].set_index("split")
            gaps.append(float(pick.loc["image", "accuracy"] - pick.loc["patient", "accuracy"]))
        lines.append("Leakage gap (DenseNet-201 accuracy, image split minus patient split) per seed: "
                     + ", ".join(f"{g:+.3f}" for g in gaps) + f"; mean {sum(gaps) / len(gaps):+.3f}")
    else:
        lines.append(_pretraining_effect(runs))
    print("\n".join(lines))
    if not args.no_write:
        from common import save, write_section

        write_section(HERE / "results.md", TITLES[name], "\n".join(lines))
        save(f"real_tiles_{name}", {"title": TITLES[name], "command": f"{COMMAND} --sets {name}",
                                    "seeds": args.seeds, "minutes": round(minutes, 1),
                                    "runs": pd.DataFrame(table).to_dict(orient="records"),
                                    "markdown": "\n".join(lines)})


def _pretraining_effect(runs) -> str:
    """ImageNet minus random weights (the head on frozen features, patient split), paired on the test patients
    of each seed, both seeds and patients resampled (bclib.evaluation.pretraining)."""
    from bclib.evaluation.pretraining import pretraining_shown, pretraining_table

    arms = []
    for run in runs:
        if run.record["split"] == "patient" and run.record["model"] in ("lite0 head, ImageNet", "lite0 head, random"):
            run.record["model"] = "efficientnet-lite0 (head, patient split)"
            arms.append(run)
    table = pretraining_shown(pretraining_table(arms, n_resamples=1000))
    return "What pretraining buys (the head on frozen features, patient split; seeds and patients resampled):\n\n" \
        + table.to_markdown(index=False)


if __name__ == "__main__":
    sys.exit(main())
