"""Foundation encoders as models: trained, saved, predicted, planned and refused like every other model."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bclib.errors import UserError

PROFILE = """
seed: 0
data: {{dataset: breakhis, root: {root}, image_size: 64, batch_size: 8}}
train: {{models: [vit-tiny, vit-tiny-head], variants: [none, tradaug], epochs: 2, image_size: 64, batch_size: 8,
         weights: none, tradaug_copies: 2, class_weights: true, decision_threshold: validation}}
run: {{output_dir: {out}}}
"""


def _bclib(*args, cwd=None):
    return subprocess.run([str(Path(sys.executable).with_name("bclib")), *map(str, args)], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def profile(breakhis_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("encoders")
    path = tmp / "p.yaml"
    path.write_text(PROFILE.format(root=breakhis_root, out=tmp / "out"))
    return path


@pytest.fixture(scope="module")
def probe_run(profile):
    out = profile.parent / "probe"
    result = _bclib("train", "--params", profile, "--model", "vit-tiny", "--variant", "tradaug", "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def test_the_probe_run_writes_the_files_every_run_writes(probe_run):
    record = json.loads((probe_run / "run.json").read_text())
    assert record["model"] == "vit-tiny" and record["untrained_backbone"] and record["weights"] == "none"
    from bclib.train.probe import C_GRID

    assert record["probe_C"] in C_GRID and record["epochs_run"] == 1  # one fit, not epochs
    history = pd.read_csv(probe_run / "history.csv")
    assert {"loss", "val_loss", "probe_C"} <= set(history.columns)
    for name in ("predictions.csv", "val_predictions.csv", "model.keras"):
        assert (probe_run / name).stat().st_size > 0


def test_the_saved_probe_predicts_what_the_run_reported(probe_run):
    """model.keras (encoder + the probe folded into a softmax layer) loads in safe mode, in a fresh process,
    and gives the test images the probabilities in predictions.csv."""
    code = f"""
import numpy as np, pandas as pd, keras
from bclib.data.pipeline import make_dataset
import bclib.models  # registers bclib's layers
model = keras.models.load_model({str(probe_run / 'model.keras')!r}, safe_mode=True, compile=False)
frame = pd.read_csv({str(probe_run / 'predictions.csv')!r})
p = model.predict(make_dataset(frame, 64, 8, label_column=None), verbose=0)
print(float(np.abs(p[:, 1] - frame["p_malignant"].to_numpy()).max()))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.strip().splitlines()[-1]) < 1e-4


def test_the_head_on_the_same_encoder_trains_with_keras(profile):
    out = profile.parent / "head"
    result = _bclib("train", "--params", profile, "--model", "vit-tiny-head", "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((out / "run.json").read_text())
    assert record["epochs_run"] == 2 and record["probe_C"] is None


def test_plan_lists_the_encoders_with_their_cost(profile):
    result = _bclib("plan", "--params", profile)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "baseline vit-tiny " in result.stdout and "baseline vit-tiny-head" in result.stdout


def test_the_store_key_names_the_encoder_and_its_weights(tmp_path):
    from bclib.models.encoders import weights_identity
    from bclib.params import TrainParams
    from bclib.train.trunk import trunk_identity

    (tmp_path / "a.png").write_bytes(b"image")
    frame = pd.DataFrame({"path": [str(tmp_path / "a.png")], "label": ["benign"], "patient": ["p"]})
    cfg = TrainParams(weights="none", image_size=64)
    assert trunk_identity(cfg, "vit-tiny", 0, frame) != trunk_identity(cfg, "phikon-v2", 0, frame)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"first")
    first = weights_identity("vit-tiny", str(folder))
    (folder / "model.safetensors").write_bytes(b"other")  # a different download in the same folder
    assert weights_identity("vit-tiny", str(folder)) != first
    pinned = TrainParams(weights="none", image_size=64, encoder_weights={"vit-tiny": str(folder)})
    assert trunk_identity(pinned, "vit-tiny", 0, frame) != trunk_identity(cfg, "vit-tiny", 0, frame)
    assert trunk_identity(pinned, "mobilenet", 0, frame) == trunk_identity(cfg, "mobilenet", 0, frame)


def test_missing_or_unreachable_weights_are_one_clear_line(tmp_path, monkeypatch):
    from bclib.models.encoders import checkpoint_folder

    with pytest.raises(UserError, match="not a checkpoint folder"):
        checkpoint_folder("phikon-v2", str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match="unknown encoder"):
        checkpoint_folder("alexnet-vit", "none")
    with pytest.raises(UserError, match="no published weights"):
        checkpoint_folder("vit-tiny", "imagenet")
    monkeypatch.setenv("BCLIB_ENCODER_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # not installed
    with pytest.raises(UserError, match=r"phikon-v2: no checkpoint in .*cache/phikon-v2.*owkin/phikon-v2"):
        checkpoint_folder("phikon-v2", "imagenet")


def test_fid_in_an_encoders_features(breakhis_root, tmp_path):
    real = sorted(breakhis_root.rglob("*.png"))
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder, files in zip(folders, (real[:6], real[6:12])):
        folder.mkdir()
        for f in files:
            (folder / f.name).write_bytes(f.read_bytes())
    result = _bclib("fid", *folders, "--features", "vit-tiny", "--weights", "none", "--image-size", "64",
                    "--kid-subsets", "2", "--kid-subset-size", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"features": "vit-tiny-none-64-standardised"' in result.stdout and "UNTRAINED" in result.stderr


def test_untrained_encoder_features_are_standardised_on_the_reference_noise():
    """A random ViT's embeddings barely differ between images (FIDs near 1e-5 for Phikon-v2); the extractor
    centres them on fixed noise images and divides by their spread there (mean 0, spread 1)."""
    from bclib.metrics.features import UNTRAINED_SEED, encoder_extractor

    extractor = encoder_extractor("vit-tiny", "none", 64)
    noise = np.random.default_rng(UNTRAINED_SEED).uniform(0, 255, (8, 64, 64, 3)).astype("float32")
    features = np.asarray(extractor.model(noise, training=False), np.float64)
    assert np.sqrt(np.mean(np.var(features, axis=0))) == pytest.approx(1.0, rel=1e-3)
    assert np.abs(features.mean(axis=0)).max() < 1e-3
    assert extractor.name.endswith("-standardised")  # features cached before are not reused
    assert "do not measure image quality" in extractor.note  # and every score in them says why not to trust it


def test_plan_costs_an_encoder_as_it_runs_frozen_with_stored_tradaug_copies(profile):
    """Online TradAug and a fine-tuning stage do not apply to a frozen encoder: they must not change its cost."""
    from bclib.experiment.costs import plan_costs
    from bclib.params import load_params

    plain, _, _ = plan_costs(load_params(profile))
    asked, _, _ = plan_costs(load_params(profile, ["train.tradaug_mode=online", "train.fine_tune_epochs=10"]))
    assert asked["baseline vit-tiny"].cpu_hours == pytest.approx(plain["baseline vit-tiny"].cpu_hours)
    assert asked["baseline vit-tiny"].disk_gb == pytest.approx(plain["baseline vit-tiny"].disk_gb)
