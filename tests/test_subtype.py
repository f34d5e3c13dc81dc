"""BreakHis ``data.task: subtype``: the eight subtypes as classes, from the index to a trained run's tables."""

from __future__ import annotations

import pandas as pd
import pytest

from bclib.data.index import apply_task, index_dataset
from bclib.data.layouts import BREAKHIS_SUBTYPES
from bclib.data.splits import make_split, patient_overlap
from bclib.errors import UserError
from bclib.params import Params, load_params
from helpers import TINY_TRAIN

SUBTYPES = list(BREAKHIS_SUBTYPES)
CODES = {code: name for name, (_, code) in BREAKHIS_SUBTYPES.items()}


def subtype_params(tmp_path, root, extra: str = "", **overrides) -> Params:
    path = tmp_path / "p.yaml"
    path.write_text(TINY_TRAIN.format(root=root, out=tmp_path / "out")
                    .replace("dataset: breakhis,", "dataset: breakhis, task: subtype,") + extra)
    return load_params(path, [f"{k}={v}" for k, v in overrides.items()])


def test_subtype_index_has_eight_classes_parsed_from_file_names(breakhis_root):
    index = index_dataset("breakhis", breakhis_root, "subtype")
    frame = index.frame
    assert index.task == "subtype" and index.class_names == SUBTYPES
    assert set(frame["label"]) == set(SUBTYPES)  # the embedded generator draws every subtype
    code = frame["path"].str.extract(r"SOB_[BM]_([A-Z]+)-")[0].map(CODES)  # SOB_B_TA-14-4659-40-001.png
    assert (frame["label"] == code).all() and (frame["label"] == frame["subtype"]).all()
    assert (frame["label_index"] == frame["label"].map(SUBTYPES.index)).all()
    binary = apply_task(index, "binary")  # and back: benign/malignant from the same subtype column
    assert binary.class_names == ["benign", "malignant"] and binary.task == "binary"
    assert binary.frame.equals(index_dataset("breakhis", breakhis_root).frame)
    assert apply_task(binary, "binary") is binary


def test_subtype_is_refused_for_bach(bach_root, tmp_path):
    with pytest.raises(UserError, match="BreakHis only"):
        index_dataset("bach", bach_root, "subtype")
    path = tmp_path / "bach.yaml"
    path.write_text(f"data: {{dataset: bach, task: subtype, root: {bach_root}}}\n")
    with pytest.raises(UserError, match=r"data: task subtype is BreakHis only"):
        load_params(path)


def test_gan_target_class_follows_the_task(tmp_path, breakhis_root):
    params = subtype_params(tmp_path, breakhis_root, "gan: {target_class: [adenosis, phyllodes_tumor]}\n")
    assert params.data.class_names == SUBTYPES
    assert params.generated_classes == ["adenosis", "phyllodes_tumor"]  # what notebook 01 and the GAN job generate
    from bclib.data.index import index_from_params

    assert index_from_params(params).class_names == SUBTYPES  # every stage's index follows data.task
    with pytest.raises(UserError, match="unknown class.*benign"):
        subtype_params(tmp_path, breakhis_root, "gan: {target_class: benign}\n")
    with pytest.raises(UserError, match="unknown class.*adenosis"):
        load_params(tmp_path / "p.yaml", ["data.task=binary", "gan.target_class=adenosis"])
    with pytest.raises(UserError, match="paper_proportions"):
        subtype_params(tmp_path, breakhis_root, **{"data.split": "image", "data.paper_proportions": "true"})


def test_patient_split_of_eight_classes_keeps_patients_apart(breakhis_root):
    index = index_dataset("breakhis", breakhis_root, "subtype")
    for seed in (0, 1):
        split = make_split(index, "patient", seed, 0.2, 0.2)
        assert not any(patient_overlap(split).values())
        assert set(split.loc[split["part"] == "train", "label"]) == set(SUBTYPES)
        assert split.loc[split["part"] == "test", "label"].nunique() >= 4


def test_a_subtype_run_writes_eight_class_predictions_and_table(tmp_path, breakhis_root):
    from bclib.evaluation.loading import load_run
    from bclib.evaluation.run_tables import per_class_beside_paper
    from bclib.evaluation.scores import per_class_table
    from bclib.train import train_classifier

    params = subtype_params(tmp_path, breakhis_root, **{"train.epochs": 1})
    index = index_dataset("breakhis", breakhis_root)  # a binary index is relabelled for the task
    record = train_classifier(params, "mobilenet", "none", 0, tmp_path / "run", index=index, log=lambda m: None)
    assert record["classes"] == SUBTYPES and record["task"] == "subtype"
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert [c for c in predictions if c.startswith("p_")] == [f"p_{s}" for s in SUBTYPES]
    assert predictions[[f"p_{s}" for s in SUBTYPES]].sum(axis=1).round(4).eq(1).all()
    assert (predictions["label"] == predictions["subtype"]).all() and set(predictions["pred"]) <= set(SUBTYPES)
    table = per_class_table(predictions["label"], predictions["pred"], SUBTYPES)
    assert list(table.index) == SUBTYPES + ["Average"]
    beside = per_class_beside_paper(load_run(tmp_path / "run"), "breakhis")
    assert list(beside.index) == SUBTYPES + ["Average"]
    assert "paper" not in beside.columns.get_level_values(1)  # the paper reports benign/malignant only


def test_the_cwgan_conditions_on_and_generates_all_eight_subtypes(tmp_path, breakhis_root):
    """A two-iteration cWGAN at 32 px on the subtype index: one image of each subtype comes out."""
    from bclib.data.index import index_generated
    from bclib.gan.generate import generate
    from bclib.gan.train import CWGANTrainer

    path = tmp_path / "gan.yaml"
    path.write_text(f"""
seed: 1
data: {{dataset: breakhis, task: subtype, root: {breakhis_root}}}
gan: {{resolution: 32, batch_size: 4, latent_dim: 8, n_critic: 1, total_kimg: 0.008, snapshot_kimg: 0.008,
       max_channels: 16, channel_base: 256, target_class: [adenosis, papillary_carcinoma], n_generate: 2}}
run: {{output_dir: {tmp_path / "out"}}}
""")
    params = load_params(path)
    index = index_dataset("breakhis", breakhis_root, params.data.task)
    parts = make_split(index, "patient", seed=0)
    train, held = parts[parts["part"] == "train"], parts[parts["part"] != "train"]
    trainer = CWGANTrainer(params, train, index.class_names, tmp_path / "gan", held_out=held, log=lambda m: None)
    assert trainer.condition_names == SUBTYPES
    trainer.train()
    out = generate(tmp_path / "gan", ",".join(SUBTYPES), 1, seed=0, out_dir=tmp_path / "generated")
    generated = index_generated(out, SUBTYPES)
    assert sorted(generated.frame["label"]) == sorted(SUBTYPES)
