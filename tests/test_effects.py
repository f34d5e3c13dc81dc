"""The cWGAN effect table: paired differences pooled over folds and seeds, patients resampled within folds."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bclib.evaluation.effects import gan_effect_table, pooled_difference
from bclib.evaluation.loading import Run


def _run(model, variant, seed, wrong_patients=(), fold=1, prefix="p"):
    """Four patients of two images each (two benign, two malignant); every image of a patient in
    ``wrong_patients`` is misclassified, every other one is right."""
    patients = [f"{prefix}{k}" for k in (1, 1, 2, 2, 3, 3, 4, 4)]
    labels = ["benign"] * 4 + ["malignant"] * 4
    preds = [("malignant" if label == "benign" else "benign") if patient in wrong_patients else label
             for patient, label in zip(patients, labels)]
    frame = pd.DataFrame({"path": [f"{prefix}-img{i}.png" for i in range(8)], "patient": patients,
                          "label": labels, "pred": preds})
    frame["p_malignant"] = [0.9 if p == "malignant" else 0.1 for p in preds]
    frame["p_benign"] = 1 - frame["p_malignant"]
    record = {"model": model, "variant": variant, "seed": seed, "split": "patient", "fold": fold,
              "classes": ["benign", "malignant"]}
    return Run(Path("."), record, frame)


def test_one_patient_changed_gives_the_closed_form_interval():
    # Without cWGAN images patient p4 is missed; with them nothing is. Patient-level rate: 1 - 0.75 = 0.25.
    # Each bootstrap draw of 4 patients holds p4 k ~ Binomial(4, 1/4) times, so the drawn difference is k/4:
    # P(k = 0) = 0.32 puts the 2.5% quantile at 0, P(k >= 3) = 0.051 and P(k = 4) = 0.004 the 97.5% at 3/4.
    pairs = {(1, 0): (_run("proposed", "cwgan", 0), _run("proposed", "none", 0, ["p4"]))}
    effect = pooled_difference(pairs, "patient_level_rate", n_resamples=2000)
    assert effect["difference"] == pytest.approx(0.25)
    assert (effect["low"], effect["high"]) == (pytest.approx(0.0), pytest.approx(0.75))
    assert (effect["folds"], effect["pairs"], effect["units"]) == (1, 1, 4)


def test_seeds_of_one_fold_share_each_patient_draw_and_folds_pool_as_a_mean():
    one = {(1, 0): (_run("proposed", "cwgan", 0), _run("proposed", "none", 0, ["p4"]))}
    two_seeds = {**one, (1, 1): (_run("proposed", "cwgan", 1), _run("proposed", "none", 1, ["p4"]))}
    single, shared = (pooled_difference(p, "patient_level_rate", n_resamples=500, seed=3) for p in (one, two_seeds))
    # Identical seeds scored on the same draws: the same interval. Drawn separately, it would narrow.
    assert (shared["low"], shared["high"]) == (single["low"], single["high"]) and shared["pairs"] == 2
    folds = {**one, (2, 0): (_run("proposed", "cwgan", 0, fold=2, prefix="q"),
                             _run("proposed", "none", 0, fold=2, prefix="q"))}
    pooled = pooled_difference(folds, "patient_level_rate", n_resamples=500)
    assert pooled["difference"] == pytest.approx((0.25 + 0.0) / 2) and pooled["units"] == 8


def test_the_table_has_both_contrasts_with_the_papers_difference_beside_the_proposed_model():
    runs = [_run("proposed", "none", 0, ["p4"]), _run("proposed", "cwgan", 0),
            _run("proposed", "tradaug", 0), _run("proposed", "tradaug+cwgan", 0, ["p1", "p3"]),
            _run("mobilenet", "none", 0), _run("mobilenet", "tradaug", 0)]  # no cWGAN runs: no row
    table = gan_effect_table(runs, "breakhis", measures=["patient_level_rate"], n_resamples=200)
    assert list(table["model"]) == ["proposed", "proposed"]
    rows = table.set_index("contrast")
    assert rows.loc["cwgan - none", "difference"] == pytest.approx(0.25)
    assert rows.loc["tradaug+cwgan - tradaug", "difference"] == pytest.approx(-0.5)
    assert np.isnan(rows.loc["cwgan - none", "paper_accuracy_difference"])  # Table 14 has no cWGAN-only row
    assert rows.loc["tradaug+cwgan - tradaug", "paper_accuracy_difference"] == pytest.approx(0.996 - 0.961)
    contrast = rows.loc["tradaug+cwgan - tradaug"]
    assert contrast["interval_excludes_0"] == (contrast["high"] < 0)


def test_without_patient_ids_the_table_resamples_images_and_reports_accuracy():
    runs = [_run("proposed", "none", 0, ["p4"]), _run("proposed", "cwgan", 0)]
    for run in runs:
        run.predictions["patient"] = ""  # BACH: no patient ids
    table = gan_effect_table(runs, "bach", n_resamples=100)
    assert list(table["measure"]) == ["accuracy", "balanced_accuracy", "roc_auc"]
    assert table.loc[0, "difference"] == pytest.approx(0.25) and table.loc[0, "units"] == 8  # 8 images



def _at(run, dose=None, folds=None):
    run.record["cwgan_images"] = dose if "cwgan" in run.record["variant"] else None
    if folds:
        run.record["split"], run.record["params"] = "cv", {"data": {"folds": folds}}
    return run


def test_each_count_of_gan_images_and_each_protocol_is_a_row_of_its_own():
    # One split: 2 images help nobody, 8 fix patient p4. Two cv folds (their own GANs): fold 1 fixes p4, fold 2
    # breaks q1. The run without GAN images is the zero of every count; protocols are never pooled.
    runs = [_at(_run("proposed", "none", 0, ["p4"])), _at(_run("proposed", "cwgan", 0, ["p4"]), "2"),
            _at(_run("proposed", "cwgan", 0), "8"),
            _at(_run("proposed", "none", 0, ["p4"], fold=1), folds=[1, 2]),
            _at(_run("proposed", "cwgan", 0, fold=1), folds=[1, 2]),
            _at(_run("proposed", "none", 0, fold=2, prefix="q"), folds=[1, 2]),
            _at(_run("proposed", "cwgan", 0, ["q1"], fold=2, prefix="q"), folds=[1, 2])]
    table = gan_effect_table(runs, "breakhis", measures=["patient_level_rate"], n_resamples=300)
    rows = table.set_index(["protocol", "cwgan_images"])["difference"]
    assert list(rows.index) == [("cv folds 1, 2", "all"), ("patient split", "2"), ("patient split", "8")]
    assert rows.to_dict() == {("cv folds 1, 2", "all"): pytest.approx((0.25 - 0.25) / 2),
                              ("patient split", "2"): pytest.approx(0.0), ("patient split", "8"): pytest.approx(0.25)}
    folds = table.set_index("protocol").loc["cv folds 1, 2"]
    assert (folds["folds"], folds["pairs"], folds["units"]) == (2, 2, 8)
    by_fold = gan_effect_table(runs, "breakhis", measures=["patient_level_rate"], n_resamples=300, per_fold=True)
    cv = by_fold[by_fold["protocol"] == "cv folds 1, 2"].set_index("fold")["difference"]
    assert cv.to_dict() == {"all": pytest.approx(0.0), "1": pytest.approx(0.25), "2": pytest.approx(-0.25)}
    assert list(by_fold.loc[by_fold["protocol"] == "patient split", "fold"]) == ["all", "all"]  # one fold: no extra row


def test_per_magnification_models_are_rows_of_their_own():
    runs = []
    for mag, wrong in (("40X", ["p4"]), ("100X", [])):
        for variant, missed in (("none", wrong), ("cwgan", [])):
            run = _at(_run("proposed", variant, 0, missed), folds=[1, 2])
            run.record |= {"magnification_protocol": "per_magnification", "magnifications": [mag]}
            runs.append(run)
    table = gan_effect_table(runs, "breakhis", measures=["patient_level_rate"], n_resamples=100)
    assert table.set_index("protocol")["difference"].to_dict() == {
        "cv folds 1, 2, 100X model": pytest.approx(0.0), "cv folds 1, 2, 40X model": pytest.approx(0.25)}
