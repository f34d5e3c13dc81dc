"""A safety net for wiring (issue #39 item 9): each test fails when one deliberate fault is put back.

Each guard here already had a unit test of its own part (the key function, the decision rule, the
leakage guard...), yet a fault in how that part is *wired in* survived the suite. These tests check
the wiring itself: the caller passes what the part needs. The fault each one catches is named in its
docstring; every one was put into the code, seen to fail this test, and taken out again.
"""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bclib.errors import UserError
from bclib.params import load_params
from helpers import write_png

keras = pytest.importorskip("keras")

CLASSES = ["benign", "malignant"]


def _tiny_images(folder: Path, n: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    paths = [write_png(folder / f"{i}.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)) for i in range(n)]
    return pd.DataFrame({"path": [str(p) for p in paths], "label_index": np.arange(n) % 2})


# (a) -----------------------------------------------------------------------------------------------

def test_a_store_key_changes_when_only_an_images_modification_time_changes(tmp_path):
    """Fault: the trunk-store key built without the images' modification times (size and path only).
    A cWGAN retrained in place can rewrite an image with the same name and the same byte count."""
    from bclib.train.store import store_key

    frame = _tiny_images(tmp_path / "img")
    key = store_key("toy-none-16", frame, 16)
    path = frame["path"].iloc[1]
    size, content = os.path.getsize(path), Path(path).read_bytes()
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert os.path.getsize(path) == size and Path(path).read_bytes() == content  # only the time moved
    assert store_key("toy-none-16", frame, 16) != key


# (b) -----------------------------------------------------------------------------------------------

def _constant_model(path: Path, p_malignant: float, threshold) -> Path:
    """A saved classifier answering (1 - p, p) for every image, with a run.json carrying ``threshold``."""
    inputs = keras.Input((8, 8, 3))
    flat = keras.layers.Flatten()(inputs)
    bias = np.array([0.0, np.log(p_malignant / (1 - p_malignant))], np.float32)
    outputs = keras.layers.Dense(2, activation="softmax", kernel_initializer="zeros",
                                 bias_initializer=keras.initializers.Constant(bias))(flat)
    path.mkdir(parents=True)
    keras.Model(inputs, outputs).save(path / "model.keras")
    (path / "run.json").write_text(json.dumps({"classes": CLASSES, "decision_threshold": threshold}))
    return path / "model.keras"


def test_predict_decides_with_the_runs_validation_threshold(tmp_path):
    """Fault: ``bclib predict`` deciding by the most probable class, ignoring the run's ``decision_threshold``."""
    from bclib.evaluation.predict import predict_images

    images = list(_tiny_images(tmp_path / "img", 2)["path"])
    strict = predict_images(_constant_model(tmp_path / "strict", 0.7, 0.9), images)
    assert [r["pred"] for r in strict] == ["benign", "benign"]  # p(malignant) 0.7 is not above 0.9
    assert strict[0]["p_malignant"] == pytest.approx(0.7, abs=1e-4)
    lenient = predict_images(_constant_model(tmp_path / "lenient", 0.3, 0.2), images)
    assert [r["pred"] for r in lenient] == ["malignant", "malignant"]  # 0.3 is above 0.2


# (c) -----------------------------------------------------------------------------------------------

def test_tta_table_decides_with_the_runs_threshold_with_and_without_tta(tmp_path):
    """Fault: the TTA table deciding the averaged (or single-view) probabilities by argmax."""
    from bclib.evaluation.diagnostic_tables import tta_table
    from bclib.evaluation.loading import load_run

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"model": "proposed", "variant": "none", "seed": 0, "split": "patient",
                                                 "classes": CLASSES, "decision_threshold": 0.8}))
    p = np.array([0.7, 0.75, 0.9, 0.95])  # under a 0.8 threshold all right; by argmax both benign ones wrong
    pd.DataFrame({"path": [f"{i}.png" for i in range(4)], "patient": "", "magnification": "",
                  "label": ["benign", "benign", "malignant", "malignant"], "pred": ["benign"] * 2 + ["malignant"] * 2,
                  "p_benign": 1 - p, "p_malignant": p}).to_csv(folder / "predictions.csv", index=False)
    run = load_run(folder)

    def views(r):  # eight views that differ, every one (and their mean) on the same side of 0.8
        shift = np.linspace(-0.04, 0.04, 8)[:, None]
        malignant = np.clip(p[None, :] + shift, 0, 1)
        return np.stack([1 - malignant, malignant], axis=-1)

    row = tta_table([run], views).iloc[0]
    assert row["accuracy"] == pytest.approx(1.0) and row["accuracy_tta"] == pytest.approx(1.0)
    assert row["balanced_accuracy_tta"] == pytest.approx(1.0) and row["changed"] == 0


# (d) -----------------------------------------------------------------------------------------------

def test_write_json_atomic_replaces_the_file_and_a_reader_of_the_old_one_sees_it_whole(tmp_path):
    """Fault: ``write_json_atomic`` truncating and writing the target in place."""
    from bclib.io import write_json_atomic

    target = tmp_path / "manifest.json"
    old = {"status": "ok", "jobs": list(range(200))}
    write_json_atomic(target, old)
    before = os.stat(target).st_ino
    with open(target, encoding="utf-8") as reader:  # a reader that opened the file before the rewrite
        write_json_atomic(target, {"status": "failed"})
        assert json.loads(reader.read()) == old  # the whole old file, never a mix or an empty one
    assert os.stat(target).st_ino != before  # a new file renamed over the old name
    assert json.loads(target.read_text()) == {"status": "failed"}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary file left


# (e) -----------------------------------------------------------------------------------------------

def test_a_cwgan_jobs_key_follows_the_content_of_its_generated_images_manifest(tmp_path, breakhis_root):
    """Fault: a job's key computed without its ``inputs()`` (the cwgan runs' generated-image manifest)."""
    from bclib.experiment.classifier_jobs import ClassifierJob
    from bclib.gan.workflow import generated_dir
    from bclib.ledger import job_key

    path = tmp_path / "p.yaml"
    path.write_text(f"seed: 0\ndata: {{dataset: breakhis, root: {breakhis_root}}}\n"
                    f"run: {{output_dir: {tmp_path / 'out'}}}\n")
    params = load_params(path)
    job = ClassifierJob("proposed", "cwgan", 0, tmp_path / "run", params)
    manifest = generated_dir(params) / "manifest.csv"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("path,class\nfake-0001.png,benign\n")
    key = job_key(job)
    assert job_key(job) == key
    manifest.write_text("path,class\nfake-0002.png,benign\n")  # same length, other images
    assert job_key(job) != key


# (f) -----------------------------------------------------------------------------------------------

TINY_GAN = """
seed: 3
data: {{dataset: breakhis, root: {root}}}
gan: {{resolution: 32, batch_size: 4, latent_dim: 8, n_critic: 1, total_kimg: 0.008, snapshot_kimg: 0.008,
       max_channels: 16, channel_base: 256}}
metrics: {{weights: none, image_size: 75, n_generated: 8, kid_subsets: 2, kid_subset_size: 8}}
run: {{output_dir: {out}}}
"""


def test_gan_training_refuses_a_training_patient_who_is_also_held_out(tmp_path, breakhis_root, monkeypatch):
    """Fault: the GAN trainer (or ``train_from_params`` for it) calling the leakage guard without the
    held-out (validation and test) images, so a patient on both sides goes unnoticed.

    One image of a training patient is moved into the test part; the refusal must come before anything
    is written or any step is taken."""
    from bclib.data.index import index_from_params
    from bclib.data.splits import split_from_params
    from bclib.gan import workflow
    from bclib.gan.train import CWGANTrainer

    path = tmp_path / "p.yaml"
    path.write_text(TINY_GAN.format(root=breakhis_root, out=tmp_path / "out"))
    params = load_params(path)
    index = index_from_params(params)
    split = split_from_params(index, params).copy()
    train_rows = split.index[split["part"] == "train"]
    patient = split.loc[train_rows[0], "patient"]
    leaked = split.index[(split["part"] == "train") & (split["patient"] == patient)][0]
    split.loc[leaked, "part"] = "test"
    assert patient in set(split.loc[split["part"] == "train", "patient"])

    def no_training(self, *args, **kwargs):
        raise AssertionError("the GAN started training on a split that leaks a patient")

    monkeypatch.setattr(CWGANTrainer, "train", no_training)
    monkeypatch.setattr(workflow, "split_from_params", lambda index, params: split)
    out = tmp_path / "gan"
    with pytest.raises(UserError, match="patient\\(s\\) are also in validation/test"):
        workflow.train_from_params(params, out, hooks=[lambda trainer, folder: {}], log=lambda m: None)
    assert not out.exists()
    # and the trainer itself, built directly with the held-out part
    with pytest.raises(UserError, match="patient\\(s\\) are also in validation/test"):
        CWGANTrainer(params, split[split["part"] == "train"], index.class_names, out,
                     held_out=split[split["part"] != "train"], log=lambda m: None)
    assert not out.exists()


# (g) -----------------------------------------------------------------------------------------------

def test_tradaug_copies_get_their_own_stores_not_the_unaugmented_one(trained_run):
    """Fault: the offline TradAug copies stored (and so looked up) under the un-augmented store's key,
    so a TradAug run silently trains on the plain images twice. ``trained_run`` is TradAug with two
    copies: the training images must have two stores (plain and augmented) with different numbers."""
    from bclib.train.store import Store

    n_train = json.loads((trained_run / "run" / "run.json").read_text())["n_train"]
    stores = [Store.open(folder) for folder in sorted((trained_run / "out" / "cache" / "trunk").iterdir())]
    training = [s for s in stores if s is not None and s.rows == n_train]
    assert len(training) >= 2, f"{len(training)} store(s) of the {n_train} training images"
    arrays = [s.load()[0] for s in training]
    assert any(not np.array_equal(arrays[0], other) for other in arrays[1:])
