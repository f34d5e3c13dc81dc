"""Issue #14: a cWGAN run is tied to the images it learned from; its images never reach a classifier
whose validation or test part holds an image or patient the GAN saw (BACH included)."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorflow")

from bclib.data.index import index_bach, index_breakhis  # noqa: E402
from bclib.data.splits import make_split  # noqa: E402
from bclib.errors import UserError  # noqa: E402
from bclib.gan.image_provenance import describe_training_set, write_training_set  # noqa: E402
from bclib.gan.snapshots import list_snapshots, read_state  # noqa: E402
from bclib.gan.train import CWGANTrainer  # noqa: E402
from bclib.io import read_jsonl  # noqa: E402
from bclib.params import load_params  # noqa: E402
from helpers import TINY_TRAIN  # noqa: E402
from test_gan import final_weights, tiny_params  # noqa: E402


def parts(index, seed):
    split = make_split(index, "patient", seed=seed)
    return split[split["part"] == "train"], split[split["part"] != "train"]


def test_gan_folder_of_another_split_seed_is_never_resumed(tmp_path, breakhis_root):
    """`gan train` after a change of seed: the old run reached total_kimg, yet nothing of it is reused."""
    index = index_breakhis(breakhis_root)
    out = tmp_path / "gan"
    old_train, old_held = parts(index, 0)
    CWGANTrainer(tiny_params(tmp_path, index.root, total=0.016), old_train, index.class_names, out,
                 held_out=old_held, log=lambda m: None).train()
    old_weights = final_weights(out)
    old_fingerprint = read_state(list_snapshots(out)[-1])["training_set"]

    new_train, new_held = parts(index, 1)
    assert set(old_train["patient"]) & set(new_held["patient"])  # the old GAN saw some of today's test patients
    lines = []
    trainer = CWGANTrainer(tiny_params(tmp_path, index.root, total=0.016), new_train, index.class_names, out,
                           held_out=new_held, log=lines.append)
    assert trainer.kimg == 0 and trainer.iteration == 0  # not "already at 0.016 kimg; nothing to do"
    new_fingerprint = trainer.training_set["fingerprint"]
    assert lines[0] == (f"snapshots in {out} were trained on another training set (fingerprint "
                        f"{old_fingerprint}≠{new_fingerprint}): starting afresh; the old run is kept in "
                        f"superseded-{old_fingerprint}/ (delete it to free the space)")
    assert list_snapshots(out) == [] and not (out / "metrics.jsonl").exists()
    trainer.train()
    assert [r["kimg"] for r in read_jsonl(out / "metrics.jsonl")] == [0.016]
    assert read_state(list_snapshots(out)[-1])["training_set"] == new_fingerprint
    assert any(not np.array_equal(a, b) for a, b in zip(old_weights, final_weights(out)))
    record = json.loads((out / "training_set.json").read_text())
    assert record["fingerprint"] == new_fingerprint and record["patients"] == sorted(new_train["patient"].unique())
    assert sorted(e[0] for e in record["images"]) == sorted(new_train["relpath"])
    assert len(list_snapshots(out / f"superseded-{old_fingerprint}")) == 1  # kept aside, not resumable


def _generated_set(out_dir, train, class_names, fingerprint=None):
    """What notebook 01 leaves: gan/training_set.json and generated/ (one copied image) with its manifest."""
    record = describe_training_set(train, class_names)
    (out_dir / "gan").mkdir(parents=True)
    write_training_set(out_dir / "gan", record)
    klass = class_names[0]
    (out_dir / "generated" / klass).mkdir(parents=True)
    shutil.copy(train["path"].iloc[0], out_dir / "generated" / klass / "cwgan_0.png")
    pd.DataFrame([{"file": f"{klass}/cwgan_0.png", "class": klass, "seed": 0, "snapshot": "snapshot-000000016",
                   "kimg": 0.016, "gan_training_set": fingerprint or record["fingerprint"]}]).to_csv(
        out_dir / "generated" / "manifest.csv", index=False)


def _bach_params(tmp_path, root):
    path = tmp_path / "p.yaml"
    path.write_text(TINY_TRAIN.format(root=root, out=tmp_path / "out").replace("dataset: breakhis", "dataset: bach"))
    return load_params(path)


def test_bach_generated_images_refused_when_their_gan_saw_a_now_test_image(tmp_path, bach_root):
    from bclib.train import generated_training_images

    index = index_bach(bach_root)
    params = _bach_params(tmp_path, bach_root)
    gan_split = make_split(index, "patient", seed=0, val_fraction=0.25, test_fraction=0.25)
    _generated_set(tmp_path / "out", gan_split[gan_split["part"] == "train"], index.class_names)
    assert len(generated_training_images(params, gan_split, index.class_names)) == 1  # the GAN's own split is fine
    now = make_split(index, "patient", seed=1, val_fraction=0.25, test_fraction=0.25)  # another seed
    with pytest.raises(UserError, match=r"trained on \d+ image\(s\) that are in this split's validation/test"):
        generated_training_images(params, now, index.class_names)


def test_bach_image_seen_under_another_name_is_refused(tmp_path, bach_copy):
    index = index_bach(bach_copy)
    split = make_split(index, "patient", seed=0, val_fraction=0.25, test_fraction=0.25)
    train = split[split["part"] == "train"]
    test_image = split.loc[split["part"] == "test", "path"].iloc[0]
    renamed = train.iloc[:1].assign(relpath="elsewhere/copy.tif", path=str(bach_copy / "copy.tif"))
    shutil.copy(test_image, bach_copy / "copy.tif")  # a copy of a test image, filed under another name
    _generated_set(tmp_path / "out", pd.concat([train, renamed]), index.class_names)
    from bclib.gan.image_provenance import check_generated_images

    with pytest.raises(UserError, match=r"trained on 1 image\(s\)"):
        check_generated_images(tmp_path / "out" / "gan", tmp_path / "out" / "generated", split)


def test_generated_images_of_another_gan_run_or_an_old_record_are_refused(tmp_path, bach_root):
    from bclib.gan.image_provenance import check_generated_images

    index = index_bach(bach_root)
    split = make_split(index, "patient", seed=0, val_fraction=0.25, test_fraction=0.25)
    _generated_set(tmp_path / "out", split[split["part"] == "train"], index.class_names, fingerprint="0123abcd")
    with pytest.raises(UserError, match="come from a GAN trained on training set 0123abcd, but"):
        check_generated_images(tmp_path / "out" / "gan", tmp_path / "out" / "generated", split)
    (tmp_path / "out" / "gan" / "training_set.json").unlink()  # only the patients-only record of older versions
    with pytest.raises(UserError, match="records its patients only, not its images"):
        check_generated_images(tmp_path / "out" / "gan", tmp_path / "out" / "generated", split)
