"""Calibration: the ECE of a case worked by hand, temperature scaling recovering a known temperature,
decisions untouched by it, and the validation predictions a run writes for it."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from bclib.evaluation import (
    apply_temperature,
    calibration_summary,
    expected_calibration_error,
    fit_temperature,
    reliability_table,
    temperature_nll,
    temperature_scaled,
)


def _two_class(confidences_and_correct):
    """(probabilities, labels): class 1 predicted with each confidence >= 0.5, labelled 1 when correct."""
    conf = np.array([c for c, _ in confidences_and_correct])
    labels = np.array([1 if ok else 0 for _, ok in confidences_and_correct])
    return np.column_stack([1 - conf, conf]), labels


def test_ece_of_a_case_computed_by_hand():
    # 15 bins of width 1/15. Four images in the last bin (14/15, 1]: mean confidence 0.97, three right -> gap 0.22.
    # Two in (8/15, 9/15] at 0.55: one right -> gap 0.05. Two in (10/15, 11/15] at 0.70: both right -> gap 0.30.
    probabilities, labels = _two_class([(0.94, True), (0.96, True), (0.98, False), (1.0, True),
                                        (0.55, True), (0.55, False), (0.70, True), (0.70, True)])
    ece, table = expected_calibration_error(probabilities, labels)
    assert ece == pytest.approx((4 * 0.22 + 2 * 0.05 + 2 * 0.30) / 8)  # 0.1975
    assert list(table.columns) == ["bin", "lower", "upper", "count", "confidence", "accuracy"]
    assert len(table) == 15 and table["count"].sum() == 8
    filled = table[table["count"] > 0].set_index("bin")
    assert list(filled.index) == [8, 10, 14]
    assert filled.loc[14, "confidence"] == pytest.approx(0.97) and filled.loc[14, "accuracy"] == 0.75
    assert filled.loc[8, "confidence"] == pytest.approx(0.55) and filled.loc[8, "accuracy"] == 0.5
    assert filled.loc[10, "accuracy"] == 1.0
    assert table.loc[table["count"] == 0, "accuracy"].isna().all()


def test_bins_are_closed_on_the_right_and_labels_may_be_names():
    classes = ["a", "b", "c"]
    p = np.array([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    table = reliability_table(p, ["a", "a", "c"], n_bins=2, class_names=classes)
    # 0.5 sits on the edge between the bins and belongs to the lower one, (0, 0.5].
    assert list(table["count"]) == [2, 1]
    assert table.loc[0, "accuracy"] == 0.5 and table.loc[1, "accuracy"] == 1.0
    ece, _ = expected_calibration_error(p, ["a", "a", "c"], n_bins=2, class_names=classes)
    assert ece == pytest.approx((2 * 0.0 + 1 * 0.2) / 3)
    with pytest.raises(ValueError, match="class_names"):
        reliability_table(p, ["a", "a", "c"])


def _synthetic(n, temperature, seed):
    """Logits, labels drawn from softmax(logits), and the probabilities of a model overconfident by ``temperature``."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.5, (n, 4))
    cumulative = softmax(logits, axis=1).cumsum(axis=1)
    labels = np.minimum((rng.random((n, 1)) > cumulative).sum(axis=1), 3)
    return logits, labels, softmax(logits * temperature, axis=1)


@pytest.mark.parametrize("true_temperature", [3.0, 0.5])
def test_temperature_is_recovered_on_data_drawn_with_a_known_one(true_temperature):
    _, labels, probabilities = _synthetic(20_000, true_temperature, seed=1)
    fitted = fit_temperature(probabilities, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    # The fit minimises the validation NLL: nudging T either way does worse.
    best = temperature_nll(probabilities, labels, fitted)
    assert best < temperature_nll(probabilities, labels, fitted * 1.1)
    assert best < temperature_nll(probabilities, labels, fitted / 1.1)


def test_temperature_fitted_on_validation_improves_calibration_on_test():
    _, val_labels, val_p = _synthetic(5_000, 3.0, seed=2)
    _, test_labels, test_p = _synthetic(5_000, 3.0, seed=3)
    temperature = fit_temperature(val_p, val_labels)
    raw, _ = expected_calibration_error(test_p, test_labels)
    scaled, _ = expected_calibration_error(apply_temperature(test_p, temperature), test_labels)
    assert scaled < 0.03 < 0.1 < raw


def test_temperature_scaling_never_changes_the_decision():
    rng = np.random.default_rng(4)
    probabilities = rng.dirichlet(np.full(5, 0.3), 2_000)
    for temperature in (0.05, 0.3, 1.0, 2.0, 40.0):
        scaled = apply_temperature(probabilities, temperature)
        np.testing.assert_array_equal(scaled.argmax(axis=1), probabilities.argmax(axis=1))
        np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
    np.testing.assert_allclose(apply_temperature(probabilities, 1.0), probabilities, atol=1e-12)
    # Exact zeros (float32 softmax underflow) stay finite and stay last.
    edge = apply_temperature(np.array([[1.0, 0.0], [0.0, 1.0]]), 0.5)
    assert np.isfinite(edge).all() and list(edge.argmax(axis=1)) == [0, 1]
    with pytest.raises(ValueError, match="positive"):
        apply_temperature(probabilities, 0.0)


def _table(probabilities, labels, classes):
    frame = pd.DataFrame({"path": [f"x{i}" for i in range(len(labels))], "patient": "p",
                          "magnification": "40X", "label": [classes[i] for i in labels]})
    frame["pred"] = [classes[i] for i in probabilities.argmax(axis=1)]
    return frame.assign(**{f"p_{c}": probabilities[:, i] for i, c in enumerate(classes)})


def test_calibration_summary_fits_on_validation_and_scores_test():
    classes = ["a", "b", "c", "d"]
    _, val_labels, val_p = _synthetic(3_000, 2.0, seed=5)
    _, test_labels, test_p = _synthetic(3_000, 2.0, seed=6)
    val, test = _table(val_p, val_labels, classes), _table(test_p, test_labels, classes)
    summary = calibration_summary(val, test, classes)
    assert summary["temperature"] == pytest.approx(fit_temperature(val_p, val_labels))
    assert summary["ece_scaled"] < summary["ece"] and summary["nll_scaled"] < summary["nll"]
    assert (summary["n_val"], summary["n_test"], summary["bins"]) == (3_000, 3_000, 15)
    scaled = temperature_scaled(test, classes, summary["temperature"])
    assert (scaled["pred"] == test["pred"]).all()
    np.testing.assert_allclose(scaled[[f"p_{c}" for c in classes]].to_numpy(),
                               apply_temperature(test_p, summary["temperature"]))


def test_reliability_diagram_draws_raw_and_scaled():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bclib.evaluation.result_figures import reliability_diagram

    _, labels, p = _synthetic(500, 2.0, seed=7)
    fig = reliability_diagram({"raw": reliability_table(p, labels),
                               "scaled": reliability_table(apply_temperature(p, 2.0), labels)}, provenance="SYNTHETIC")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.startswith("raw (ECE") for t in legend) and any(t.startswith("scaled (ECE") for t in legend)
    plt.close(fig)


def test_a_run_writes_validation_predictions_beside_test_ones(tmp_path):
    keras = pytest.importorskip("keras")
    from bclib.train.run_record import write_run

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    test = _table(np.array([[0.9, 0.1]]), np.array([0]), ["a", "b"])
    val = _table(np.array([[0.2, 0.8], [0.6, 0.4]]), np.array([1, 1]), ["a", "b"])
    write_run(tmp_path, model, test, pd.DataFrame({"epoch": [1]}), {"model": "m"}, val_predictions=val)
    written = pd.read_csv(tmp_path / "val_predictions.csv")
    assert list(written.columns) == list(test.columns) == ["path", "patient", "magnification", "label", "pred",
                                                           "p_a", "p_b"]
    assert len(written) == 2 and (tmp_path / "predictions.csv").is_file() and (tmp_path / "run.json").is_file()
