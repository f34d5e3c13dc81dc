"""Patient diagnosis: mean-probability and majority-vote decisions on hand-made cases, per magnification
and pooled, and the patient-level accuracy with a bootstrap over patients."""

import numpy as np
import pandas as pd
import pytest

from bclib.evaluation import (
    bootstrap_values,
    patient_accuracy,
    patient_accuracy_interval,
    patient_accuracy_table,
    patient_decisions,
    patient_diagnoses,
)

CLASSES = ["benign", "malignant"]


def _frame(rows):
    """rows: (patient, magnification, label, p_malignant); ``pred`` is the more probable class."""
    frame = pd.DataFrame(rows, columns=["patient", "magnification", "label", "p_malignant"])
    frame.insert(0, "path", [f"img{i}.png" for i in range(len(frame))])
    frame["p_benign"] = 1 - frame["p_malignant"]
    frame["pred"] = np.where(frame["p_malignant"] > 0.5, "malignant", "benign")
    return frame[["path", "patient", "magnification", "label", "pred", "p_benign", "p_malignant"]]


# Patient A (malignant). At 40X two images say malignant weakly, one says benign with conviction: the vote
# says malignant, the mean probability (0.55 + 0.55 + 0.01) / 3 = 0.37 says benign. At 100X the vote ties
# 1-1 and the mean probability (0.40 + 0.90) / 2 = 0.65 breaks it: malignant. Pooled, the vote is 3-2
# malignant and the mean 2.41 / 5 = 0.482 benign. Patient B (benign) is benign under every rule.
CASE = _frame([
    ("A", "40X", "malignant", 0.55), ("A", "40X", "malignant", 0.55), ("A", "40X", "malignant", 0.01),
    ("A", "100X", "malignant", 0.40), ("A", "100X", "malignant", 0.90),
    ("B", "40X", "benign", 0.20), ("B", "40X", "benign", 0.30),
])


def _decision(table, rule, magnification, patient):
    row = table[(table["rule"] == rule) & (table["magnification"] == magnification) & (table["patient"] == patient)]
    assert len(row) == 1
    return row.iloc[0]["decision"]


def test_mean_and_vote_decisions_per_magnification_and_pooled():
    table = patient_diagnoses(CASE, CLASSES)
    assert list(table.columns) == ["patient", "magnification", "label", "decision", "rule", "images", "correct"]
    expected = {
        ("mean", "40X", "A"): "benign", ("vote", "40X", "A"): "malignant",
        ("mean", "100X", "A"): "malignant", ("vote", "100X", "A"): "malignant",  # the tie, broken by the mean
        ("mean", "all", "A"): "benign", ("vote", "all", "A"): "malignant",
        ("mean", "40X", "B"): "benign", ("vote", "40X", "B"): "benign",
        ("mean", "all", "B"): "benign", ("vote", "all", "B"): "benign",
    }
    assert len(table) == len(expected)  # B has no 100X images, so no 100X row
    for (rule, zoom, patient), decision in expected.items():
        assert _decision(table, rule, zoom, patient) == decision, (rule, zoom, patient)
    pooled = table[(table["magnification"] == "all") & (table["patient"] == "A")]
    assert set(pooled["images"]) == {5}
    # Magnifications in order of zoom, then the pooled rows.
    assert list(dict.fromkeys(table["magnification"])) == ["40X", "100X", "all"]
    assert list(patient_diagnoses(CASE, CLASSES, rules=["vote"], per_magnification=False)["magnification"]) \
        == ["all", "all"]


def test_a_tie_in_the_vote_goes_to_the_higher_mean_probability_either_way():
    benign_heavy = _frame([("C", "40X", "benign", 0.95), ("C", "40X", "benign", 0.02)])  # 1-1, mean 0.485
    malignant_heavy = _frame([("C", "40X", "benign", 0.60), ("C", "40X", "benign", 0.45)])  # 1-1, mean 0.525
    assert _decision(patient_diagnoses(benign_heavy, CLASSES), "vote", "all", "C") == "benign"
    assert _decision(patient_diagnoses(malignant_heavy, CLASSES), "vote", "all", "C") == "malignant"


def test_without_probabilities_the_vote_still_decides_and_the_mean_refuses():
    votes_only = CASE.drop(columns=["p_benign", "p_malignant"])
    table = patient_diagnoses(votes_only, CLASSES, rules=["vote"])
    assert _decision(table, "vote", "all", "A") == "malignant"
    assert _decision(table, "vote", "100X", "A") == "benign"  # 1-1 and nothing to break it: first class listed
    with pytest.raises(ValueError, match="p_<class>"):
        patient_diagnoses(votes_only, CLASSES, rules=["mean"])


def test_a_slide_filed_under_two_classes_is_one_patient_per_class_and_ids_are_required():
    frame = _frame([("D", "40X", "benign", 0.1), ("D", "40X", "malignant", 0.9)])
    table = patient_diagnoses(frame, CLASSES, rules=["mean"], per_magnification=False)
    assert sorted(zip(table["label"], table["decision"])) == [("benign", "benign"), ("malignant", "malignant")]
    with pytest.raises(ValueError, match="patient ids"):
        patient_diagnoses(CASE.assign(patient=""), CLASSES)


def test_patient_accuracy_and_the_existing_mean_decisions_agree():
    assert patient_accuracy(CASE, CLASSES, "mean") == 0.5 and patient_accuracy(CASE, CLASSES, "vote") == 1.0
    assert patient_accuracy(CASE, CLASSES, "mean", "40X") == 0.5
    assert patient_accuracy(CASE, CLASSES, "mean", "100X") == 1.0
    # patient_decisions (McNemar's units) is the pooled mean rule.
    old = patient_decisions(CASE, CLASSES)
    new = patient_diagnoses(CASE, CLASSES, rules=["mean"], per_magnification=False).set_index("patient")
    assert list(old["pred"]) == list(new["decision"]) and list(old.index) == list(new.index)


def _many_patients(n_right, n_wrong):
    rows = []
    for k in range(n_right + n_wrong):
        p = 0.8 if k < n_right else 0.3  # label malignant: right when p_malignant > 0.5
        rows += [(f"P{k}", zoom, "malignant", p) for zoom in ("40X", "100X")]
    return _frame(rows)


def test_the_bootstrap_resamples_patients_each_draw_counting_once():
    frame = _many_patients(2, 2)
    values = bootstrap_values(frame, lambda f: patient_accuracy(f, CLASSES), n_resamples=200, seed=0)
    # Four patients per resample, a patient drawn twice counting twice: only multiples of 1/4 can occur.
    assert set(np.round(values * 4, 9)) <= {0.0, 1.0, 2.0, 3.0, 4.0} and len(set(values)) > 2
    estimate, low, high = patient_accuracy_interval(frame, CLASSES, "vote", "40X", n_resamples=200)
    assert estimate == 0.5 and 0.0 <= low < 0.5 < high <= 1.0
    assert patient_accuracy_interval(_many_patients(3, 0), CLASSES, n_resamples=50) == (1.0, 1.0, 1.0)


def test_patient_accuracy_table_puts_patients_beside_images():
    table = patient_accuracy_table(CASE, CLASSES, n_resamples=50)
    assert list(zip(table["magnification"], table["rule"])) == [
        ("40X", "mean"), ("40X", "vote"), ("100X", "mean"), ("100X", "vote"), ("all", "mean"), ("all", "vote")]
    row = table[(table["magnification"] == "all") & (table["rule"] == "mean")].iloc[0]
    assert (row["patients"], row["images"], row["patient_accuracy"]) == (2, 7, 0.5)
    assert row["image_accuracy"] == pytest.approx(5 / 7)  # A: 0.55, 0.55 and 0.90 right; B: both right
    assert (table["patient_low"] <= table["patient_accuracy"]).all()
    assert (table["patient_accuracy"] <= table["patient_high"]).all()


def test_patients_are_decided_at_the_runs_own_threshold(tmp_path):
    """Issue #40: a run whose validation threshold is 0.3 calls each of patient C's images malignant
    (p 0.35, 0.40, 0.45); a 0.5 cut on their mean (0.40) would call C benign. At the run's threshold the
    mean rule agrees with the images, in the diagnosis table, the notebook's protocol table and McNemar."""
    from bclib.evaluation.diagnostic_tables import patient_diagnosis_table
    from bclib.evaluation.loading import Run
    from bclib.evaluation.uncertainty import patient_mcnemar

    case = _frame([("C", "40X", "malignant", 0.35), ("C", "40X", "malignant", 0.40),
                   ("C", "40X", "malignant", 0.45), ("D", "40X", "benign", 0.10), ("D", "40X", "benign", 0.20)])
    case["pred"] = np.where(case["p_malignant"] > 0.3, "malignant", "benign")  # the run's image decisions
    assert _decision(patient_diagnoses(case, CLASSES), "mean", "all", "C") == "benign"  # the 0.5 cut
    table = patient_diagnoses(case, CLASSES, threshold=0.3)
    for rule in ("mean", "vote"):
        assert _decision(table, rule, "all", "C") == "malignant" and _decision(table, rule, "all", "D") == "benign"
    assert patient_accuracy(case, CLASSES, "mean", threshold=0.3) == 1.0
    assert patient_decisions(case, CLASSES, threshold=0.3).loc["C", "pred"] == "malignant"

    record = {"classes": CLASSES, "split": "patient", "model": "m", "variant": "none", "seed": 0,
              "decision_threshold": 0.3}
    shown = patient_diagnosis_table(Run(tmp_path, record, case), n_resamples=20)
    assert set(shown["mean_rule"]) == {1.0} and set(shown["vote_rule"]) == {1.0}
    assert patient_mcnemar(case, case, CLASSES, threshold_a=0.3)["only_a_correct"] == 1  # each run its own

    three = case.assign(p_other=0.0)  # more than two classes: the most probable class, threshold or not
    assert _decision(patient_diagnoses(three, ["benign", "malignant", "other"], ["mean"], threshold=0.3),
                     "mean", "all", "C") == "benign"
