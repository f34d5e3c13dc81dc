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
        assert ((row["TP"], row["FP"], row["FN"], row["TN"])
                == ((t & p).sum(), (~t & p).sum(), (t & ~p).sum(), (~t & ~p).sum()))
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


# -- issue #14: intervals that respect patients ---------------------------------------

from itertools import product  # noqa: E402

from bclib.evaluation import (  # noqa: E402
    bootstrap_values,
    clusters,
    paired_bootstrap,
    patient_level_rates,
    patient_mcnemar,
    resample_clusters,
    statistic,
    two_sample_bootstrap,
)


def _three_patients():
    """A: 1 image, right; B: 2 images, one right; C: 3 images, all wrong (patient rates 1, 0.5, 0)."""
    return pd.DataFrame({"patient": ["A", "B", "B", "C", "C", "C"], "label": ["m"] * 6,
                         "pred": ["m", "m", "b", "b", "b", "b"]})


def test_a_patient_drawn_twice_counts_twice():
    frame = _three_patients()
    groups = clusters(frame)
    twice_a = resample_clusters(frame, groups, np.array([0, 0, 2]))
    assert patient_level_rate(twice_a) == pytest.approx(2 / 3)  # (1 + 1 + 0) / 3, not (1 + 0) / 2
    assert len(twice_a) == 5 and twice_a["patient"].nunique() == 3


def test_patient_bootstrap_matches_the_enumerated_distribution():
    """All 27 ordered draws of 3 patients, each equally likely, against 2000 bootstrap resamples."""
    frame = _three_patients()
    rates = {"A": 1.0, "B": 0.5, "C": 0.0}
    exact = pd.Series([np.mean([rates[p] for p in draw]) for draw in product("ABC", repeat=3)]).round(6)
    exact_share = exact.value_counts(normalize=True).sort_index()
    values = pd.Series(bootstrap_values(frame, patient_level_rate, n_resamples=2000, seed=0)).round(6)
    share = values.value_counts(normalize=True).reindex(exact_share.index, fill_value=0)
    assert set(values) <= set(exact_share.index)  # 2/3 is among them: it needs A (or B) counted twice
    np.testing.assert_allclose(share.to_numpy(), exact_share.to_numpy(), atol=0.035)
    assert values.std(ddof=0) == pytest.approx(exact.std(ddof=0), rel=0.05)  # sqrt(1/18) = 0.236


def test_two_sample_interval_matches_the_binomial_closed_form():
    """Two independent test sets (the leakage comparison): 80% of 400 right against 60% of 400 right.

    The difference of two independent proportions has sd sqrt(0.8*0.2/400 + 0.6*0.4/400) = 0.0316,
    so a 95% interval is about 0.2 +- 1.96 * 0.0316; drawing both sets together (paired) would be wrong.
    """
    def frame(right):
        return pd.DataFrame({"label": ["m"] * 400, "pred": ["m"] * right + ["b"] * (400 - right)})

    gap = two_sample_bootstrap(frame(320), frame(240), statistic("accuracy", ["b", "m"]), n_resamples=3000)
    assert gap["difference"] == pytest.approx(0.2)
    assert (gap["high"] - gap["low"]) / (2 * 1.96) == pytest.approx(np.sqrt(0.8 * 0.2 / 400 + 0.6 * 0.4 / 400),
                                                                     rel=0.08)
    assert gap["low"] + gap["high"] == pytest.approx(0.4, abs=0.01)


def test_patient_level_rate_per_magnification():
    frame = pd.DataFrame({"patient": ["p1"] * 4 + ["p2"] * 2, "magnification": ["40X", "40X", "100X", "100X",
                                                                              "40X", "100X"],
                          "label": ["m"] * 6, "pred": ["m", "b", "m", "m", "b", "m"]})
    rates = patient_level_rates(frame)
    assert list(rates.index) == ["40X", "100X", "all"]
    assert rates.loc["40X", "rate"] == pytest.approx((0.5 + 0.0) / 2)
    assert rates.loc["100X", "rate"] == pytest.approx(1.0) and rates.loc["all", "patients"] == 2
    assert rates.loc["all", "rate"] == pytest.approx((0.75 + 0.5) / 2)


def test_headline_metrics_use_the_bootstrapped_statistic():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"patient": [f"p{i % 7}" for i in range(60)], "label": rng.choice(["b", "m"], 60)})
    frame["p_m"] = np.clip(rng.normal(0.5, 0.3, 60) + 0.2 * (frame["label"] == "m"), 0, 1)
    frame["p_b"] = 1 - frame["p_m"]
    frame["pred"] = np.where(frame["p_m"] > 0.5, "m", "b")
    out = headline_metrics(frame, ["b", "m"])
    for name in ("accuracy", "balanced_accuracy", "roc_auc", "patient_level_rate"):
        assert out[name] == statistic(name, ["b", "m"])(frame)


def _one_patient_differs():
    """Two runs on 5 patients x 8 images; they disagree only on patient p0 (a right, b wrong on all 8)."""
    patients = np.repeat([f"p{i}" for i in range(5)], 8)
    labels = np.where(np.isin(patients, ["p0", "p2", "p4"]), "m", "b")  # one class per patient, as in BreakHis
    frame = pd.DataFrame({"path": [f"i{i}.png" for i in range(40)], "patient": patients, "label": labels})
    flipped = np.where(labels == "m", "b", "m")
    a = frame.assign(pred=labels)
    b = frame.assign(pred=np.where(patients == "p0", flipped, labels))
    for run in (a, b):
        run["p_m"] = (run["pred"] == "m").astype(float) * 0.8 + 0.1
        run["p_b"] = 1 - run["p_m"]
    return a, b


def test_paired_comparison_counts_patients_not_images():
    a, b = _one_patient_differs()
    assert mcnemar_test(a["label"] == a["pred"], b["label"] == b["pred"])["p_value"] < 0.01  # images: "significant"
    on_patients = patient_mcnemar(a, b, ["b", "m"])
    assert on_patients == {"units": 5, "only_a_correct": 1, "only_b_correct": 0, "p_value": 1.0}
    diff = paired_bootstrap(a, b, statistic("accuracy", ["b", "m"]), n_resamples=1000, seed=0)
    assert diff["difference"] == pytest.approx(0.2) and diff["clusters"] == 5
    # Exact: the difference is (times p0 is drawn) / 5, a Binomial(5, 1/5) / 5; P(0) = 0.8**5 = 0.328.
    assert diff["low"] == 0.0 and diff["high"] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="same test images"):
        paired_bootstrap(a, b.iloc[::-1], statistic("accuracy", ["b", "m"]))


def test_figure_examples_show_errors_as_well_as_hits():
    from bclib.evaluation.loading import balanced_examples

    predictions = pd.DataFrame({"label": ["benign"] * 6 + ["malignant"] * 6,
                                "pred": ["benign"] * 5 + ["malignant"] + ["malignant"] * 4 + ["benign"] * 2})
    picked = balanced_examples(predictions, 4)
    wrong = picked["label"] != picked["pred"]
    assert len(picked) == 4 and wrong.sum() == 2 and set(picked[wrong]["label"]) == {"benign", "malignant"}
    assert set(picked[~wrong]["label"]) == {"benign", "malignant"}
    perfect = predictions.assign(pred=predictions["label"])
    assert len(balanced_examples(perfect, 4)) == 4  # no errors to show: hits fill the figure
