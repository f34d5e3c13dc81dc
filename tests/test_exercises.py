"""Every worked solution in notebooks/solutions/ runs, on the suite's tiny synthetic data, and says what its
exercise teaches."""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from bclib.data.index import index_from_params
from bclib.data.splits import split_from_params
from bclib.evaluation.scores import statistic
from bclib.params import load_params
from bclib.paths import project_root
from bclib.tablefile import write_table
from helpers import TINY_TRAIN

SOLUTIONS = project_root() / "notebooks" / "solutions"


def solutions(name):
    spec = importlib.util.spec_from_file_location(name, SOLUTIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny(breakhis_root, tmp_path_factory):
    path = tmp_path_factory.mktemp("ex") / "p.yaml"
    path.write_text(TINY_TRAIN.format(root=breakhis_root, out=path.parent / "out"))
    params = load_params(path)
    index = index_from_params(params)
    return params, index.frame, split_from_params(index, params)


def _predictions(seed, skill):
    rng = np.random.default_rng(seed)
    patients = np.repeat(np.arange(12), 5)
    labels = np.where(patients % 3 == 0, "benign", "malignant")
    right = rng.random(len(patients)) < skill
    pred = np.where(right, labels, np.where(labels == "benign", "malignant", "benign"))
    p = np.where(pred == "malignant", 0.8, 0.2)
    return pd.DataFrame({"path": [f"{i}.png" for i in range(len(patients))], "patient": patients.astype(str),
                         "label": labels, "pred": pred,
                         "p_benign": 1 - p, "p_malignant": p})


def test_notebook_00(tiny):
    s = solutions("solutions_00_data_audit")
    params, frame, split = tiny
    assert set(s.exercise_1(frame).index) == {"benign", "malignant"}
    assert s.exercise_2(split)["patients in several parts"] == []
    assert 0.5 <= s.exercise_3(split) <= 1


def test_notebook_01():
    s = solutions("solutions_01_cwgan_training")
    fd = s.exercise_1()
    sizes = sorted(fd)
    assert fd[sizes[0]] > fd[sizes[1]] > fd[sizes[2]] > 0  # biased upwards, less so with more images
    kid = s.exercise_2()
    assert abs(kid["same: KID"]) < kid["shifted: KID"] and kid["same: FD"] > 0
    assert s.exercise_3({"benign": 30, "malignant": 70}) == {"benign": 40, "malignant": 0}


def test_notebook_02(tiny):
    s = solutions("solutions_02_gan_sweeps")
    gammas = s.exercise_1(tiny[0])
    assert list(gammas.values()) == sorted(gammas.values(), reverse=True)
    from bclib.experiment.gan_sweeps import sweep_table

    records = pd.DataFrame({"kind": ["gamma"] * 4, "value": [1.0, 1.0, 10.0, 10.0], "kimg": [0.1, 0.2, 0.1, 0.2],
                            "fid": [6.0, 5.0, 3.0, 4.0], "kid": [0.1] * 4})
    best, answer = s.exercise_2(sweep_table(records, "gamma"))  # the table notebook 02 shows
    assert best == 10.0 and "trained" in answer


def test_notebook_03(tiny):
    s = solutions("solutions_03_baselines")
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(30), 6)
    labels = patients % 2
    features = rng.normal(size=(30, 4))[patients] * 3 + rng.normal(size=(180, 4))
    leak = s.exercise_1(features, labels, patients)
    assert leak["image split"] > leak["patient split"]
    intervals = s.exercise_2(_predictions(0, 0.7), statistic("accuracy", ["benign", "malignant"]))
    widths = [high - low for _, low, high in intervals.values()]
    assert max(widths) < 2 * min(widths)  # more resamples: the same width, estimated better
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="trunk"), keras.layers.Dense(2)])
    model.get_layer("trunk").trainable = False
    assert s.exercise_3(model) == {"trainable": 8, "frozen": 15}


def test_notebook_04():
    s = solutions("solutions_04_proposed_ablations")
    acc = statistic("accuracy", ["benign", "malignant"])
    a, b = _predictions(0, 0.9), _predictions(1, 0.6)
    paired = s.exercise_1(a, b, acc)
    assert paired["low"] <= paired["difference"] <= paired["high"]
    test = s.exercise_2([True, True, True, False], [False, False, True, False])
    assert (test["only_a_correct"], test["only_b_correct"]) == (2, 0)
    assert s.exercise_3(150, 148, 160) == pytest.approx(0.0125)


def test_notebook_05(tmp_path):
    s = solutions("solutions_05_results_report")
    width = s.exercise_1(0.05, 336, 84)
    floor = 2 * 1.96 * 0.05 * np.sqrt(84 / 336)
    assert width[5] > width[30] > width[1000] > floor  # narrower, but never below the overlap floor
    assert width[1000] == pytest.approx(floor, rel=0.01)
    holm = s.exercise_2([0.01, 0.04, 0.03, 0.2, 0.5, 0.8, 0.02, 0.6, 0.9, 0.7, 0.3, 0.045])
    assert holm["Holm flags"] < holm["raw flags"]
    path = write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv", "SYNTHETIC data")
    assert s.exercise_3(path)["data and weights"] == "SYNTHETIC data"
