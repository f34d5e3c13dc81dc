"""Classifiers: every registry model builds with its own preprocessing and a frozen trunk;
training writes its outputs."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from bclib import catalogue  # noqa: E402
from bclib.errors import UserError  # noqa: E402
from bclib.models import (  # noqa: E402
    BACKBONES,
    BackbonePreprocess,
    build_model,
    calibrate_untrained_batchnorm,
    trunk_and_top,
)
from helpers import TINY_TRAIN, breast_dir  # noqa: E402

BUILT_IN_NAMES = [e.name for e in catalogue.BUILT_IN]  # the catalogue is the one list of model names

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
    assert modes["efficientnet-lite0"] == "lite"
    assert len(set(modes.values())) == 4


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

def test_train_writes_predictions_history_and_model(trained_run):
    run = trained_run / "run"
    record = json.loads((run / "run.json").read_text())
    predictions = pd.read_csv(run / "predictions.csv")
    assert list(predictions.columns) == ["path", "patient", "magnification", "label", "pred", "p_benign", "p_malignant",
                                         "subtype"]
    assert len(predictions) == record["n_test"] > 0
    np.testing.assert_allclose(predictions[["p_benign", "p_malignant"]].sum(axis=1), 1, rtol=1e-5)
    validation = pd.read_csv(run / "val_predictions.csv")  # what temperature scaling is fitted on
    assert list(validation.columns) == list(predictions.columns) and len(validation) == record["n_val"] > 0
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
    # The stored trunk outputs are float16 (bclib.train.store): probabilities agree to 1e-3, not to float32's 1e-6.
    np.testing.assert_allclose(full, predictions[["p_benign", "p_malignant"]].to_numpy(), atol=1e-3)


def test_fid_in_a_trained_classifiers_features(trained_run, breakhis_root, tmp_path, capsys):
    """`bclib fid --features MODEL.keras`: a run's own penultimate layer as the feature space."""
    from bclib.cli import main

    model, out = trained_run / "run" / "model.keras", tmp_path / "fid.json"
    breast = breast_dir(breakhis_root)
    assert main(["fid", str(breast / "benign"), str(breast / "malignant"), "--features", str(model),
                 "--kid-subset-size", "4", "--kid-subsets", "3", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["features"].startswith("classifier-model-") and record["fid"] > 0
    assert record["n_real"] > 0 and record["n_fake"] > 0 and "UNTRAINED" not in record["note"]
    assert main(["fid", str(breast / "benign"), str(breast / "malignant"),
                 "--features", str(tmp_path / "nope.keras")]) == 2
    assert "nope.keras: no such model file" in capsys.readouterr().err


def _real_size_encoder(name: str) -> bool:
    from bclib import catalogue

    return catalogue.entry(name).encoder and catalogue.entry(name).backbones[0] != "vit-tiny"


# proposed-gap: test_gap_fusion.py. The real-size foundation encoders (ViT-L, 300M random weights, ~40 s each to
# build) share every line of this path with vit-tiny; their sizes are checked without building them below.
@pytest.mark.parametrize("name", [n for n in BUILT_IN_NAMES if n != "proposed-gap" and not _real_size_encoder(n)])
def test_every_model_builds_and_trains_its_top_only(name):
    keras.utils.set_random_seed(0)
    model = build_model(name, 4, 96, "none")
    trunk, top = trunk_and_top(model)
    images = np.random.default_rng(1).uniform(0, 255, (4, 96, 96, 3)).astype("float32")
    probabilities = np.asarray(model(images))
    assert probabilities.shape == (4, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert not trunk.trainable and trunk.trainable_weights == []
    assert {id(w) for w in model.trainable_weights} == {id(w) for w in top.trainable_weights}
    if name in ("proposed", "proposed-gap"):
        preprocessors = [layer for layer in trunk.layers if isinstance(layer, BackbonePreprocess)]
        assert sorted(p.mode for p in preprocessors) == ["caffe", "tf", "torch"]  # one per backbone
    # Stage 1 as the trainer runs it: the top is fitted on the frozen trunk's outputs.
    top_before = [np.array(w) for w in top.trainable_weights]
    top.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    top.fit(trunk(images), np.array([0, 1, 2, 3]), epochs=1, batch_size=4, verbose=0)
    assert any(not np.array_equal(a, np.array(b)) for a, b in zip(top_before, top.trainable_weights))
    np.testing.assert_allclose(np.asarray(model(images)), np.asarray(top(trunk(images))), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in BUILT_IN_NAMES if _real_size_encoder(n)])
def test_real_size_encoders_are_catalogued_with_their_presets_embedding_size(name):
    from bclib import catalogue
    from bclib.models.encoders import ENCODERS

    entry = catalogue.entry(name)
    assert entry.features == (ENCODERS[entry.backbones[0]].embedding_size,)


def _fake_generated_set(params_out: Path, source_images, train):
    """A generated-images folder and GAN training-set record, as notebook 01 leaves them."""
    import shutil

    from bclib.gan.image_provenance import describe_training_set, write_training_set

    record = describe_training_set(train, ["benign", "malignant"])
    folder = params_out / "generated" / "benign"
    folder.mkdir(parents=True)
    rows = ["file,class,seed,snapshot,kimg,gan_training_set"]
    for i, path in enumerate(source_images):
        shutil.copy(path, folder / f"cwgan_benign_s0_{i:05d}.png")
        rows.append(f"benign/cwgan_benign_s0_{i:05d}.png,benign,0,snapshot-000000016,0.016,{record['fingerprint']}")
    (params_out / "generated" / "manifest.csv").write_text("\n".join(rows) + "\n")
    (params_out / "gan").mkdir(parents=True)
    write_training_set(params_out / "gan", record)
    return record


def test_cwgan_variants_add_generated_images_and_refuse_leaks(tmp_path, breakhis_root):
    from bclib.data.index import index_breakhis
    from bclib.data.splits import split_from_params
    from bclib.gan.image_provenance import write_training_set
    from bclib.params import load_params
    from bclib.train import train_classifier

    path = tmp_path / "p.yaml"
    path.write_text(TINY_TRAIN.format(root=breakhis_root, out=tmp_path / "out").replace("epochs: 3", "epochs: 1"))
    params = load_params(path)
    index = index_breakhis(breakhis_root)
    split = split_from_params(index, params)
    train = split[split["part"] == "train"]
    gan_record = _fake_generated_set(tmp_path / "out", train["path"].iloc[:5], train)
    for variant in ("cwgan", "tradaug+cwgan"):
        record = train_classifier(params, "mobilenet", variant, 0, tmp_path / variant, index=index, log=lambda m: None)
        assert record["n_train_generated"] == 5 and record["n_train"] == len(train) + 5
        assert (tmp_path / variant / "predictions.csv").is_file()
    test_patient = split.loc[split["part"] == "test", "patient"].iloc[0]
    write_training_set(tmp_path / "out" / "gan", {**gan_record, "patients": [test_patient]})
    with pytest.raises(UserError, match="validation/test parts"):
        train_classifier(params, "mobilenet", "cwgan", 0, tmp_path / "leak", index=index, log=lambda m: None)


def test_fine_tuning_stage_unfreezes_part_of_the_backbone(tmp_path, breakhis_root):
    from bclib.models import unfreeze_for_fine_tuning
    from bclib.params import load_params
    from bclib.train import train_classifier

    model = build_model("mobilenet", 2, 64, "none")
    unfreeze_for_fine_tuning(model, "mobilenet")
    backbone = model.get_layer("trunk").get_layer("mobilenet")
    flags = [layer.trainable for layer in backbone.layers]
    assert not any(flags[: int(len(flags) * 0.7)]) and any(flags[int(len(flags) * 0.7):])
    assert not any(layer.trainable for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization))

    path = tmp_path / "p.yaml"
    path.write_text(TINY_TRAIN.format(root=breakhis_root, out=tmp_path / "out")
                    .replace("epochs: 3", "epochs: 1, fine_tune_epochs: 1"))
    record = train_classifier(load_params(path), "mobilenet", "none", 0, tmp_path / "run", log=lambda m: None)
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert list(history["stage"]) == [1, 2] and record["epochs_run"] == 2


def test_fine_tuning_keeps_the_first_stages_augmentation_and_class_weights(tmp_path, breakhis_root, monkeypatch):
    """Stage 2 trains on the same recipe as stage 1: a TradAug variant stays augmented, class weights stay."""
    import bclib.train.classifier as classifier
    from bclib.params import load_params

    fits, augmenters = [], []
    original_fit, original_layer = classifier.ResumableFitter.fit, classifier.tradaug_layer

    def spy_fit(self, stage, fitted, *args, **kwargs):
        fits.append((stage, kwargs.get("class_weight")))
        return original_fit(self, stage, fitted, *args, **kwargs)

    monkeypatch.setattr(classifier.ResumableFitter, "fit", spy_fit)
    monkeypatch.setattr(classifier, "tradaug_layer", lambda seed: augmenters.append(seed) or original_layer(seed))
    path = tmp_path / "p.yaml"
    path.write_text(TINY_TRAIN.format(root=breakhis_root, out=tmp_path / "out")
                    .replace("epochs: 3", "epochs: 1, fine_tune_epochs: 1, class_weights: true"))
    classifier.train_classifier(load_params(path), "mobilenet", "tradaug", 0, tmp_path / "run", log=lambda m: None)
    assert [stage for stage, _ in fits] == [1, 2]
    assert fits[0][1] is not None and fits[1][1] == fits[0][1]  # the same class weights in both stages
    assert augmenters == [0]  # stage 1 used stored offline copies; stage 2 augments its images per batch


MIRRORED_SCRIPT = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from bclib.params import load_params
from bclib.train import train_classifier
params = load_params(sys.argv[1], ["train.distribution=mirrored", "train.epochs=2"])
record = train_classifier(params, "mobilenet", "none", 0, sys.argv[2], log=lambda m: None)
print(json.dumps({k: record[k] for k in ("replicas", "distribution", "epochs_run", "test_accuracy")}))
"""


def test_mirrored_strategy_trains_on_two_logical_cpu_devices(tmp_path, breakhis_root):
    path = tmp_path / "p.yaml"
    path.write_text(TINY_TRAIN.format(root=breakhis_root, out=tmp_path / "out"))
    result = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, str(path), str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["replicas"] == 2 and record["distribution"] == "mirrored" and record["epochs_run"] == 2
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    np.testing.assert_allclose(predictions[["p_benign", "p_malignant"]].sum(axis=1), 1, rtol=1e-5)


def test_class_weights_and_tensorboard_logs(tmp_path, breakhis_root):
    from bclib.params import load_params
    from bclib.train import class_weights, train_classifier

    weights = class_weights(np.array([0, 0, 0, 1]), 3)  # scikit-learn's "balanced": n / (k * count)
    assert weights == {0: pytest.approx(4 / 6), 1: pytest.approx(2.0), 2: 1.0}
    path = tmp_path / "p.yaml"
    path.write_text(TINY_TRAIN.format(root=breakhis_root, out=tmp_path / "out")
                    .replace("epochs: 3", "epochs: 1, class_weights: true, tensorboard: true, "
                                          "decision_threshold: validation"))
    record = train_classifier(load_params(path), "mobilenet", "none", 0, tmp_path / "run", log=lambda m: None)
    assert list((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))
    # the threshold is validation's, recorded, and every prediction file follows it
    from bclib.train.decision import decide, validation_threshold

    val = pd.read_csv(tmp_path / "run" / "val_predictions.csv")
    classes = record["classes"]
    threshold = validation_threshold(val[[f"p_{c}" for c in classes]].to_numpy(), val["label"], classes)
    assert record["decision_threshold"] == pytest.approx(threshold)
    for name in ("val_predictions.csv", "predictions.csv"):
        frame = pd.read_csv(tmp_path / "run" / name)
        assert list(frame["pred"]) == decide(frame[[f"p_{c}" for c in classes]].to_numpy(), classes, threshold)


def test_a_truncated_model_file_is_called_damaged_not_missing(trained_run, tmp_path):
    """A .keras file cut short (an interrupted copy) is named as damaged, in one line; Keras said 'File not found'."""
    from bclib.evaluation.predict import load_classifier

    cut = tmp_path / "model.keras"
    data = (trained_run / "run" / "model.keras").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="damaged or incomplete"):
        load_classifier(cut)
