"""The split-leakage lesson: a memorising classifier gains from an image-level split only when it can recognise
patients, and the interval over repeated splits is Nadeau and Bengio's corrected one."""

import numpy as np
import pytest
from scipy import stats

from bclib.evaluation.split_leakage import colour_statistics, corrected_interval, repeated_split_gap


def _patients(n_patients=40, per_patient=6, identity=1.0, seed=0):
    """Features = patient offset * identity + class signal + noise; a patient has one label."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n_patients)
    offsets = rng.normal(size=(n_patients, 5)) * 3
    x, y, g = [], [], []
    for p in range(n_patients):
        for _ in range(per_patient):
            x.append(offsets[p] * identity + labels[p] * 0.3 + rng.normal(size=5))
            y.append(labels[p]), g.append(p)
    return np.array(x), np.array(y), np.array(g)


def test_the_corrected_interval_is_the_closed_form():
    gaps = np.array([0.1, 0.2, 0.05, 0.15, 0.3])
    mean, low, high = corrected_interval(gaps, n_train=80, n_test=20, confidence=0.95)
    half = stats.t.ppf(0.975, 4) * np.sqrt(gaps.var(ddof=1) * (1 / 5 + 20 / 80))
    assert mean == pytest.approx(0.16)
    assert (low, high) == pytest.approx((0.16 - half, 0.16 + half))


def test_recognisable_patients_make_the_image_split_flatter_and_the_interval_clear_zero():
    x, y, g = _patients(identity=1.0)
    table = repeated_split_gap(x, y, g, repeats=15)
    mean, low, _ = corrected_interval(table["gap"], int(table["n_train_image"][0]), int(table["n_test_image"][0]))
    assert low > 0 and mean > 0.15


def test_without_patient_identity_the_two_splits_agree():
    x, y, g = _patients(identity=0.0)
    table = repeated_split_gap(x, y, g, repeats=15)
    _, low, high = corrected_interval(table["gap"], int(table["n_train_image"][0]), int(table["n_test_image"][0]))
    assert low < 0 < high


def test_the_patient_split_never_shares_a_patient_between_train_and_test():
    x, y, g = _patients()
    seen = {}

    class Spy:
        def fit(self, features, labels):
            seen.setdefault("train", []).append({tuple(np.round(r, 9)) for r in features})
            return self

        def predict(self, features):
            seen.setdefault("test", []).append({tuple(np.round(r, 9)) for r in features})
            return np.zeros(len(features), int)

    repeated_split_gap(x, y, g, repeats=2, classifier=Spy)
    rows = {tuple(np.round(r, 9)): p for r, p in zip(x, g)}
    patient_train, patient_test = seen["train"][0], seen["test"][0]  # the patient split comes first
    assert not {rows[r] for r in patient_train} & {rows[r] for r in patient_test}
    image_train, image_test = seen["train"][1], seen["test"][1]
    assert {rows[r] for r in image_train} & {rows[r] for r in image_test}


def test_colour_statistics_are_the_channel_means_spreads_and_percentiles():
    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[1, :2] = 255
    stats_ = colour_statistics(images)
    assert stats_.shape == (2, 15)
    assert stats_[1, :3] == pytest.approx([0.5] * 3) and stats_[1, 3:6] == pytest.approx([0.5] * 3)
    assert stats_[0] == pytest.approx(np.zeros(15))


def test_a_dataset_without_patient_ids_skips_the_lesson_instead_of_failing(bach_root, tmp_path):
    """BACH names no patients: there is no patient-disjoint split to compare (the bach-smoke run once failed
    here with scikit-learn's 'train set will be empty')."""
    from bclib.evaluation.split_leakage import split_leakage_from_params
    from bclib.params import load_params

    profile = tmp_path / "bach.yaml"
    profile.write_text(f"data:\n  dataset: bach\n  root: {bach_root}\nrun:\n  output_dir: {tmp_path / 'out'}\n")
    params = load_params(profile)
    assert split_leakage_from_params(params, repeats=2) is None
