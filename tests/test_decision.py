"""The decision rule: the most probable class, or a two-class threshold chosen on validation only."""

import json

import numpy as np
import pytest

from bclib.train.decision import decide, run_threshold, validation_threshold

CLASSES = ["benign", "malignant"]


def probabilities(p_malignant):
    p = np.asarray(p_malignant, dtype=float)
    return np.stack([1 - p, p], axis=1)


def test_without_a_threshold_the_most_probable_class_wins():
    assert decide(probabilities([0.2, 0.7]), CLASSES) == ["benign", "malignant"]
    four = np.eye(4)[[2, 0]]
    assert decide(four, list("abcd"), threshold=0.9) == ["c", "a"]  # more than two classes: always argmax


def test_the_threshold_is_the_one_that_balances_validation():
    # every validation image scores above 0.5, but the benign ones all score below 0.8
    val = probabilities([0.55, 0.6, 0.65, 0.7, 0.85, 0.9, 0.95, 0.97])
    labels = ["benign"] * 4 + ["malignant"] * 4
    threshold = validation_threshold(val, labels, CLASSES)
    assert 0.7 < threshold < 0.85 and threshold == pytest.approx((0.7 + 0.85) / 2)
    assert decide(val, CLASSES, threshold) == labels
    assert decide(val, CLASSES) == ["malignant"] * 8  # what argmax makes of the same scores


def test_ties_go_to_the_threshold_nearest_one_half_and_one_class_validation_keeps_it():
    val = probabilities([0.1, 0.2, 0.8, 0.9])
    assert validation_threshold(val, ["benign", "benign", "malignant", "malignant"], CLASSES) == 0.5
    assert validation_threshold(val, ["malignant"] * 4, CLASSES) == 0.5
    with pytest.raises(ValueError, match="two classes"):
        validation_threshold(np.eye(3), ["a", "b", "c"], ["a", "b", "c"])


def test_the_threshold_is_chosen_on_validation_even_when_test_would_prefer_another():
    val = probabilities([0.3, 0.4, 0.6, 0.7])
    threshold = validation_threshold(val, ["benign", "benign", "malignant", "malignant"], CLASSES)
    test = probabilities([0.75, 0.8, 0.85, 0.9])  # test's own best cut would be near 0.82
    assert threshold == 0.5 and decide(test, CLASSES, threshold) == ["malignant"] * 4


def test_a_saved_run_carries_its_threshold(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"decision_threshold": 0.77}))
    assert run_threshold(tmp_path / "model.keras") == 0.77
    assert run_threshold(tmp_path / "elsewhere" / "model.keras") is None
