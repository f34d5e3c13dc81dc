"""What pretraining buys: the arms differ in their weights only, and the interval counts patients and seeds."""

import numpy as np
import pandas as pd
import pytest

from bclib.errors import UserError
from bclib.evaluation.loading import Run
from bclib.evaluation.pretraining import pretraining_effect, pretraining_shown, pretraining_table
from bclib.experiment.classifier_jobs import pretraining_jobs
from bclib.params import load_params
from helpers import TINY_TRAIN

CLASSES = ["benign", "malignant"]


def _predictions(correct: np.ndarray, patients: int = 20, per_patient: int = 4) -> pd.DataFrame:
    """Test rows of ``patients`` patients (alternating classes); ``correct[i]`` says whether image i is right."""
    labels = np.repeat(np.arange(patients) % 2, per_patient)
    predicted = np.where(correct, labels, 1 - labels)
    return pd.DataFrame({"path": [f"img{i}" for i in range(len(labels))],
                         "patient": np.repeat([f"p{k}" for k in range(patients)], per_patient),
                         "label": [CLASSES[v] for v in labels], "pred": [CLASSES[v] for v in predicted],
                         "p_benign": 1.0 - predicted, "p_malignant": predicted.astype(float)})


def _run(weights: str, seed: int, correct: np.ndarray) -> Run:
    record = {"model": "efficientnet-lite0", "seed": seed, "variant": "none", "split": "patient",
              "classes": CLASSES, "params": {"train": {"weights": weights}}}
    return Run(None, record, _predictions(correct))


def _pairs(correct_by_seed: dict) -> dict:
    return {s: {"imagenet": _run("imagenet", s, a), "none": _run("none", s, b)}
            for s, (a, b) in correct_by_seed.items()}


def test_identical_arms_give_zero_and_a_real_effect_clears_zero():
    rng = np.random.default_rng(0)
    same = rng.random(80) < 0.6
    effect = pretraining_effect(_pairs({0: (same, same), 1: (same, same)}), "balanced_accuracy", 300)
    assert effect["difference"] == 0 and effect["low"] == 0 == effect["high"]
    better = {s: (rng.random(80) < 0.9, rng.random(80) < 0.5) for s in range(3)}
    effect = pretraining_effect(_pairs(better), "balanced_accuracy", 300)
    assert effect["low"] > 0.2 and effect["seeds"] == 3 and effect["units"] == 20


def test_the_interval_widens_with_the_variance_between_seeds():
    """Seed 0's pretrained run is right on every image and seed 1's on none, against the same random arm: the
    mean difference is 0 on every draw of patients, so only resampling the seeds shows how much they disagree."""
    base = np.random.default_rng(1).random(80) < 0.5
    calm = _pairs({0: (base, base), 1: (base, base)})
    torn = _pairs({0: (np.ones(80, bool), base), 1: (np.zeros(80, bool), base)})
    narrow = pretraining_effect(calm, "balanced_accuracy", 400)
    wide = pretraining_effect(torn, "balanced_accuracy", 400)
    assert abs(wide["difference"]) < 0.1
    assert wide["high"] - wide["low"] > 0.9 > narrow["high"] - narrow["low"]


def test_table_rows_and_their_reading():
    rng = np.random.default_rng(2)
    runs = [run for s in range(2) for run in (_run("imagenet", s, rng.random(80) < 0.9),
                                               _run("none", s, rng.random(80) < 0.5))]
    table = pretraining_table(runs, n_resamples=200)
    assert list(table["measure"]) == ["balanced_accuracy", "patient_level_rate"]
    assert table["interval_excludes_0"].all()
    shown = pretraining_shown(table)
    assert "pretrained - random [95% interval]" in shown and not shown.isna().any().any()


def _profile(tmp_path, root, eval_section: str):
    path = tmp_path / "p.yaml"
    path.write_text(TINY_TRAIN.format(root=root, out=tmp_path / "out") + eval_section + "\n")
    return path


def test_the_two_arms_change_the_weights_only(tmp_path, breakhis_root):
    params = load_params(_profile(tmp_path, breakhis_root, "eval: {pretraining_models: [efficientnet-lite0], "
                                                           "pretraining_seeds: [0, 1, 2]}"))
    jobs = pretraining_jobs(params)
    assert len(jobs) == 6 and {j.params.train.weights for j in jobs} == {"imagenet", "none"}
    for a, b in zip(jobs[:3], jobs[3:]):
        assert a.seed == b.seed and a.model == b.model and a.variant == b.variant == "none"
        assert a.params.model_copy(update={"train": b.params.train}) == b.params  # nothing else differs
        assert "runs-pretraining/imagenet/" in str(a.out_dir) and "runs-pretraining/none/" in str(b.out_dir)
    with pytest.raises(UserError, match="only single-backbone CNN baselines"):
        load_params(_profile(tmp_path, breakhis_root, "eval: {pretraining_models: [proposed]}"))


def test_seeds_that_test_different_patients_are_resampled_together():
    """A split drawn per seed: each seed tests its own (overlapping) patients; a patient drawn counts in every seed
    that tests it, and both arms of a seed stay paired."""
    rng = np.random.default_rng(3)
    pairs = {}
    for s in range(3):
        a, b = _run("imagenet", s, rng.random(80) < 0.9), _run("none", s, rng.random(80) < 0.5)
        for run in (a, b):  # seed s tests patients p{5s} .. p{5s+19}
            run.predictions["patient"] = run.predictions["patient"].map(lambda p, s=s: f"p{int(p[1:]) + 5 * s}")
        pairs[s] = {"imagenet": a, "none": b}
    effect = pretraining_effect(pairs, "patient_level_rate", 300)
    assert effect["units"] == 30 and effect["seeds"] == 3 and effect["low"] > 0
