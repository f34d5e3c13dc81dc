import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, matthews_corrcoef, precision_score, recall_score

from bclib.evaluation import (
    bootstrap_interval,
    headline_metrics,
    mcnemar_test,
    patient_level_rate,
    per_class_table,
)


@pytest.mark.parametrize("classes", [["benign", "malignant"], ["normal", "benign", "in_situ", "invasive"]])
def test_per_class_table_matches_scikit_learn(classes):
    rng = np.random.default_rng(len(classes))
    true = rng.integers(0, len(classes), 300)
    pred = np.where(rng.random(300) < 0.7, true, rng.integers(0, len(classes), 300))
    table = per_class_table([classes[i] for i in true], [classes[i] for i in pred], classes)
    assert list(table.index) == classes + ["Average"]
    for k, name in enumerate(classes):
        row = table.loc[name]
        t, p = true == k, pred == k
        assert (row["TP"], row["FP"], row["FN"], row["TN"]) == ((t & p).sum(), (~t & p).sum(), (t & ~p).sum(), (~t & ~p).sum())
        assert row["Precision"] == pytest.approx(precision_score(t, p))
        assert row["Recall"] == pytest.approx(recall_score(t, p))
        assert row["F1"] == pytest.approx(f1_score(t, p))
        assert row["Kappa"] == pytest.approx(cohen_kappa_score(t, p))
        assert row["MCC"] == pytest.approx(matthews_corrcoef(t, p))
        assert row["FPR"] + row["TNR"] == pytest.approx(1.0)
    assert table.loc["Average", "Recall"] == pytest.approx(recall_score(true, pred, average="macro"))
    assert np.isnan(table.loc["Average", "TP"])


def test_a_class_never_predicted_gets_precision_zero():
    table = per_class_table(["a", "b", "b"], ["a", "a", "a"], ["a", "b"])
    assert table.loc["b", "Precision"] == 0.0 and table.loc["b", "Recall"] == 0.0


def test_patient_level_rate_hand_computed():
    frame = pd.DataFrame({
        "patient": ["p1", "p1", "p1", "p1", "p2", "p2"],
        "label": ["m", "m", "m", "m", "b", "b"],
        "pred": ["m", "m", "m", "b", "b", "m"],
    })
    # p1: 3 of 4 right, p2: 1 of 2 right -> (0.75 + 0.5) / 2, while image accuracy is 4/6
    assert patient_level_rate(frame) == pytest.approx(0.625)


def test_bootstrap_degenerate_and_patient_resampling():
    perfect = pd.DataFrame({"patient": list("aabbcc"), "label": ["x"] * 6, "pred": ["x"] * 6})
    accuracy = lambda f: float((f["label"] == f["pred"]).mean())  # noqa: E731
    assert bootstrap_interval(perfect, accuracy, n_resamples=200) == (1.0, 1.0, 1.0)
    # one patient all wrong, one all right: patient resampling can only give 0, 0.5 or 1
    mixed = pd.DataFrame({"patient": list("aabb"), "label": ["x"] * 4, "pred": ["x", "x", "y", "y"]})
    estimate, low, high = bootstrap_interval(mixed, accuracy, n_resamples=500, seed=1)
    assert estimate == 0.5 and low == 0.0 and high == 1.0


def test_mcnemar_exact_value():
    a = np.array([1] * 10 + [0] * 2 + [1] * 5, bool)
    b = np.array([0] * 10 + [1] * 2 + [1] * 5, bool)
    result = mcnemar_test(a, b)
    assert (result["only_a_correct"], result["only_b_correct"]) == (10, 2)
    assert result["p_value"] == pytest.approx(2 * sum(__import__("math").comb(12, k) for k in range(3)) / 2**12)
    assert mcnemar_test(a, a)["p_value"] == 1.0


def test_headline_metrics():
    frame = pd.DataFrame({
        "patient": ["p1", "p1", "p2", "p2"], "label": ["b", "m", "b", "m"], "pred": ["b", "m", "m", "m"],
        "p_b": [0.9, 0.2, 0.4, 0.1], "p_m": [0.1, 0.8, 0.6, 0.9],
    })
    out = headline_metrics(frame, ["b", "m"])
    assert out["accuracy"] == 0.75 and out["balanced_accuracy"] == 0.75 and out["roc_auc"] == 1.0
    assert out["patient_level_rate"] == 0.75 and out["n_patients"] == 2
