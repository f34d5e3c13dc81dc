"""Notebook 05's protocol tables (bclib.evaluation.diagnostic_tables) on small cases computed by hand."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from bclib.evaluation.diagnostic_tables import (
    NO_PATIENTS,
    NO_VALIDATION,
    calibration_table,
    patient_diagnosis_table,
    reliability_tables,
    tta_table,
    with_intervals,
)
from bclib.evaluation.loading import load_run

CLASSES = ["benign", "malignant"]


def _predictions(labels, p_malignant, patients=None, zooms=None) -> pd.DataFrame:
    p = np.asarray(p_malignant, float)
    frame = pd.DataFrame({"path": [f"img{i}.png" for i in range(len(p))],
                          "patient": patients or [""] * len(p), "magnification": zooms or [""] * len(p),
                          "label": labels, "pred": np.where(p > 0.5, "malignant", "benign"),
                          "p_benign": 1 - p, "p_malignant": p})
    return frame


def _write_run(folder, test: pd.DataFrame, val: pd.DataFrame | None = None, model="proposed", variant="none"):
    folder.mkdir(parents=True)
    record = {"model": model, "variant": variant, "seed": 0, "split": "patient", "classes": CLASSES}
    (folder / "run.json").write_text(json.dumps(record))
    test.to_csv(folder / "predictions.csv", index=False)
    if val is not None:
        val.to_csv(folder / "val_predictions.csv", index=False)
    return load_run(folder)


# -- patient diagnosis -------------------------------------------------------------------

# Three patients. p1 (benign): images say malignant 0.9, benign 0.6, benign 0.6 -> the vote says benign (right),
# the mean probability of malignant is 0.567 -> the mean rule says malignant (wrong). p2 (malignant) right under
# both rules, p3 (benign) wrong under both.
DIAGNOSIS = _predictions(
    labels=["benign"] * 3 + ["malignant"] * 2 + ["benign"] * 2,
    p_malignant=[0.9, 0.4, 0.4, 0.8, 0.7, 0.6, 0.7],
    patients=["p1", "p1", "p1", "p2", "p2", "p3", "p3"],
    zooms=["40X", "40X", "100X", "40X", "100X", "40X", "100X"])


def test_patient_diagnosis_table_by_hand(tmp_path):
    run = _write_run(tmp_path / "run", DIAGNOSIS)
    table = patient_diagnosis_table({"proposed": run}, n_resamples=40)
    assert list(table["magnification"]) == ["40X", "100X", "all"]
    rows = table.set_index("magnification")
    # all: images right 2/3 + 2/2 + 0/2 = 4/7; mean rule p2 only = 1/3; vote p1 and p2 = 2/3.
    assert rows.loc["all", "image_accuracy"] == pytest.approx(4 / 7)
    assert rows.loc["all", "mean_rule"] == pytest.approx(1 / 3)
    assert rows.loc["all", "vote_rule"] == pytest.approx(2 / 3)
    assert rows.loc["all", "patients"] == 3 and rows.loc["all", "images"] == 7
    # 40X: p1 has 0.9 and 0.4 (one vote each, tie to the higher mean: malignant, wrong), p2 right, p3 wrong.
    assert rows.loc["40X", "image_accuracy"] == pytest.approx(2 / 4)
    assert rows.loc["40X", "mean_rule"] == pytest.approx(1 / 3) and rows.loc["40X", "vote_rule"] == pytest.approx(1 / 3)
    # 100X: one image each; p1 and p2 right.
    assert rows.loc["100X", "mean_rule"] == pytest.approx(2 / 3)
    assert rows.loc["100X", "vote_rule"] == pytest.approx(2 / 3)
    for m in ("image_accuracy", "mean_rule", "vote_rule"):
        assert ((rows[f"{m}_low"] <= rows[m] + 1e-12) & (rows[m] <= rows[f"{m}_high"] + 1e-12)).all()
        assert rows[f"{m}_low"].between(0, 1).all() and rows[f"{m}_high"].between(0, 1).all()
    assert (table["run"] == "proposed").all() and (table["note"] == "").all()
    shown = with_intervals(table, ["image_accuracy", "mean_rule", "vote_rule"])
    assert shown.loc[2, "vote_rule"].startswith("0.667 [") and "vote_rule_low" not in shown


def test_patient_diagnosis_without_patient_ids_is_pooled_image_level(tmp_path):
    bach = _predictions(["benign", "malignant", "malignant"], [0.2, 0.9, 0.3])
    run = _write_run(tmp_path / "bach", bach, model="vgg16")
    table = patient_diagnosis_table([run], n_resamples=50)
    assert len(table) == 1 and table.loc[0, "magnification"] == "all"
    assert table.loc[0, "image_accuracy"] == pytest.approx(2 / 3)
    assert math.isnan(table.loc[0, "mean_rule"]) and table.loc[0, "note"] == NO_PATIENTS
    assert table.loc[0, "run"] == run.name


# -- calibration -------------------------------------------------------------------------

def _over_confident(n_right: int = 7, n: int = 10) -> pd.DataFrame:
    """Every image 95% sure of malignant; ``n_right`` of ``n`` are malignant: accuracy 0.7 at confidence 0.95."""
    return _predictions(["malignant"] * n_right + ["benign"] * (n - n_right), [0.95] * n)


def test_calibration_table_temperature_fitted_on_validation_helps(tmp_path):
    with_val = _write_run(tmp_path / "a", _over_confident(), val=_over_confident(14, 20))
    without = _write_run(tmp_path / "b", _over_confident(), model="vgg16")
    table = calibration_table({"proposed": with_val, "best baseline": without}).set_index("run")
    row = table.loc["proposed"]
    # One bin holds every image: ECE = |0.7 - 0.95| = 0.25.
    assert row["ece"] == pytest.approx(0.25) and row["accuracy"] == pytest.approx(0.7)
    # The NLL is lowest where the scaled confidence is 0.7: (0.95/0.05)^(1/T) = 0.7/0.3.
    assert row["temperature"] == pytest.approx(math.log(19) / math.log(7 / 3), rel=1e-4)
    assert row["ece_scaled"] == pytest.approx(0.0, abs=1e-4) and row["nll_scaled"] < row["nll"]
    assert row["n_val"] == 20 and row["n_test"] == 10 and row["note"] == ""
    other = table.loc["best baseline"]
    assert other["ece"] == pytest.approx(0.25) and math.isnan(other["temperature"])
    assert math.isnan(other["ece_scaled"]) and other["note"] == NO_VALIDATION and other["n_val"] == 0
    assert list(reliability_tables(with_val)) == ["raw", "T = 3.48 (fitted on validation)"]
    assert list(reliability_tables(without)) == ["raw"]


def test_calibration_never_reads_the_test_labels_for_the_temperature(tmp_path):
    """Same validation, different test labels: the same temperature."""
    a = _write_run(tmp_path / "a", _over_confident(7), val=_over_confident(14, 20))
    b = _write_run(tmp_path / "b", _over_confident(3), val=_over_confident(14, 20))
    table = calibration_table([a, b])
    assert table["temperature"].iloc[0] == pytest.approx(table["temperature"].iloc[1])


# -- test-time augmentation -------------------------------------------------------------

def test_tta_table_with_fake_views(tmp_path):
    test = _predictions(["benign", "benign", "malignant", "malignant"], [0.6, 0.2, 0.7, 0.4])
    run = _write_run(tmp_path / "run", test)

    def views(r):
        # The image as it is: two wrong. The seven other views are sure and right, so the mean is right everywhere.
        first = np.array([[0.4, 0.6], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
        rest = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9]])
        return np.stack([first] + [rest] * 7)

    row = tta_table({"proposed": run}, views).iloc[0]
    assert row["accuracy"] == pytest.approx(0.5) and row["balanced_accuracy"] == pytest.approx(0.5)
    assert row["accuracy_tta"] == pytest.approx(1.0) and row["balanced_accuracy_tta"] == pytest.approx(1.0)
    assert row["changed"] == 2 and row["views"] == 8 and row["n_test"] == 4
    with pytest.raises(ValueError, match="expected"):
        tta_table([run], lambda r: np.ones((8, 3, 2)) / 2)


def test_saved_model_views_rerun_the_saved_model_on_each_view(tmp_path):
    """A tiny saved model whose output depends on where the bright pixels are: the eight views differ,
    the identity view matches a plain prediction, and tta_table runs end to end on it."""
    keras = pytest.importorskip("keras")
    from bclib.data.pipeline import load_batch
    from bclib.evaluation.diagnostic_tables import saved_model_views
    from helpers import write_png

    inputs = keras.Input((8, 8, 3))
    flat = keras.layers.Flatten()(inputs)
    small = keras.initializers.RandomNormal(stddev=1e-3, seed=1)
    outputs = keras.layers.Dense(2, activation="softmax", kernel_initializer=small)(flat)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    paths = [write_png(tmp_path / "img" / f"{i}.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
             for i in range(3)]
    test = _predictions(["benign", "malignant", "malignant"], [0.4, 0.6, 0.6]).assign(path=[str(p) for p in paths])
    run = _write_run(tmp_path / "run", test)
    model.save(run.folder / "model.keras")
    views = saved_model_views(run, batch_size=2)
    assert views.shape == (4, 3, 2)  # a run without data.geometry squashed its tiles: no quarter turns
    run.record.setdefault("params", {}).setdefault("data", {})["geometry"] = "crop"
    assert saved_model_views(run, batch_size=2).shape == (8, 3, 2)  # square crops: all eight views
    images = load_batch([str(p) for p in paths], 8)
    np.testing.assert_allclose(views[0], model.predict(images, verbose=0), atol=1e-5)
    np.testing.assert_allclose(views[1], model.predict(images[:, :, ::-1], verbose=0), atol=1e-5)  # mirrored
    assert not np.allclose(views[0], views[1], atol=1e-3)
    row = tta_table([run]).iloc[0]
    assert row["views"] == 8 and 0 <= row["accuracy_tta"] <= 1
