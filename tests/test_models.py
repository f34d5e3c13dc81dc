"""Classifiers: every registry model builds with its own preprocessing and a frozen trunk; training writes its outputs."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from bclib.models import (  # noqa: E402
    BACKBONES,
    MODEL_NAMES,
    BackbonePreprocess,
    build_model,
    calibrate_untrained_batchnorm,
    trunk_and_top,
)
from bclib.errors import UserError  # noqa: E402

REFERENCE = {
    "caffe": keras.applications.vgg16.preprocess_input,
    "torch": keras.applications.densenet.preprocess_input,
    "tf": keras.applications.mobilenet.preprocess_input,
}


@pytest.mark.parametrize("mode", ["caffe", "torch", "tf"])
def test_preprocessing_layer_matches_keras_applications(mode):
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    ours = BackbonePreprocess(mode)(images)
    np.testing.assert_allclose(np.asarray(ours), REFERENCE[mode](images.copy()), rtol=1e-5, atol=1e-4)


def test_registry_uses_each_backbones_own_preprocessing():
    modes = {name: spec.preprocess for name, spec in BACKBONES.items()}
    assert modes["densenet201"] == "torch" and modes["resnet101"] == "caffe" and modes["nasnetmobile"] == "tf"
    assert len(set(modes.values())) == 3


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_builds_with_a_frozen_trunk(name):
    model = build_model(name, 4, 96, "none")
    trunk, top = trunk_and_top(model)
    images = np.random.default_rng(1).uniform(0, 255, (2, 96, 96, 3)).astype("float32")
    probabilities = np.asarray(model(images))
    assert probabilities.shape == (2, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert not trunk.trainable and trunk.trainable_weights == []
    assert {id(w) for w in model.trainable_weights} == {id(w) for w in top.trainable_weights}
    if name == "proposed":
        preprocessors = [l for l in trunk.layers if isinstance(l, BackbonePreprocess)]
        assert sorted(p.mode for p in preprocessors) == ["caffe", "tf", "torch"]  # one per backbone


def test_bad_model_requests_are_refused():
    with pytest.raises(UserError, match="unknown model"):
        build_model("alexnet", 2, 64, "none")
    with pytest.raises(UserError, match="at least 71"):
        build_model("xception", 2, 64, "none")
    with pytest.raises(UserError, match="multiple of 32"):
        build_model("proposed", 2, 80, "none")
    with pytest.raises(UserError, match="neither 'imagenet', 'none' nor an existing weights file"):
        build_model("mobilenet", 2, 64, "/nonexistent/weights.h5")


def test_untrained_batchnorm_calibration_restores_a_usable_scale():
    keras.utils.set_random_seed(0)
    model = build_model("mobilenet", 2, 64, "none")
    trunk, _ = trunk_and_top(model)
    images = np.random.default_rng(2).uniform(0, 255, (16, 64, 64, 3)).astype("float32")
    before = np.abs(np.asarray(trunk(images))).mean()
    assert calibrate_untrained_batchnorm(trunk, images) > 10
    after = np.asarray(trunk(images))
    assert before < 1e-6 < 1e-2 < np.abs(after).mean()
    assert not trunk.trainable and trunk.trainable_weights == []


# -- training --------------------------------------------------------------------------

TINY_TRAIN = """
seed: 0
data: {{dataset: breakhis, root: {root}}}
train: {{epochs: 3, batch_size: 16, image_size: 64, weights: none, tradaug_copies: 2, learning_rate: 0.001}}
run: {{output_dir: {out}}}
"""


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, breakhis_root):
    tmp = tmp_path_factory.mktemp("train")
    params = tmp / "p.yaml"
    params.write_text(TINY_TRAIN.format(root=breakhis_root, out=tmp / "out"))
    bclib = Path(sys.executable).with_name("bclib")
    result = subprocess.run([str(bclib), "train", "--params", str(params), "--model", "mobilenet",
                             "--variant", "tradaug", "--out", str(tmp / "run")], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return tmp


def test_train_writes_predictions_history_and_model(trained_run):
    run = trained_run / "run"
    record = json.loads((run / "run.json").read_text())
    predictions = pd.read_csv(run / "predictions.csv")
    assert list(predictions.columns) == ["path", "patient", "magnification", "label", "pred", "p_benign", "p_malignant"]
    assert len(predictions) == record["n_test"] > 0
    np.testing.assert_allclose(predictions[["p_benign", "p_malignant"]].sum(axis=1), 1, rtol=1e-5)
    assert record["untrained_backbone"] and record["synthetic_data"] and record["cached_trunk"]
    assert record["n_train"] > record["n_test"] and record["variant"] == "tradaug"
    history = pd.read_csv(run / "history.csv")
    assert {"epoch", "loss", "val_loss", "accuracy", "val_accuracy", "stage"} <= set(history.columns)
    assert 1 <= len(history) <= 3


def test_cached_path_predicts_like_the_full_model(trained_run):
    from bclib.data.pipeline import make_dataset

    run = trained_run / "run"
    predictions = pd.read_csv(run / "predictions.csv")
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    full = model.predict(make_dataset(predictions, 64, 16, label_column=None), verbose=0)
    np.testing.assert_allclose(full, predictions[["p_benign", "p_malignant"]].to_numpy(), atol=1e-4)
