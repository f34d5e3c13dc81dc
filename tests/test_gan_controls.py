"""Issue #40 item 7: the controls a referee asks of the GAN arm (real copies, TradAug copies, GAN images of a
random class, the earliest snapshot's images), each adding as many images of each class as the GAN arm; and
issue #39 item 4: the variants listed once (bclib.variants), read by their properties, never by spelling."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bclib.data.index import index_breakhis
from bclib.data.splits import split_from_params
from bclib.experiment import plan
from bclib.experiment.classifier_jobs import gan_fold_jobs
from bclib.params import load_params
from bclib.variants import CONTROLS, VARIANTS, variant

PROFILE = """
seed: 0
data: {{dataset: breakhis, root: {root}, image_size: 32, geometry: crop}}
gan: {{resolution: 32, batch_size: 4, latent_dim: 8, n_critic: 1, total_kimg: 0.012, snapshot_kimg: 0.004,
       keep_snapshots: 1, max_channels: 16, channel_base: 256, target_class: benign, n_generate: 4}}
metrics: {{during_training: false, weights: none}}
train: {{models: [mobilenet], variants: [none], seeds: [0], image_size: 32, cwgan_images: 3}}
eval: {{leakage_models: [], gan_folds: [1, 2], gan_fold_models: [mobilenet], gan_controls: {controls}}}
run: {{output_dir: {out}}}
"""


def _profile(tmp_path, root, controls=list(CONTROLS)):
    path = tmp_path / "controls.yaml"
    path.write_text(PROFILE.format(root=root, out=tmp_path / "out", controls="[" + ", ".join(controls) + "]"))
    return load_params(path)


def test_the_controls_run_beside_each_folds_gan_arm_and_wait_for_its_gan(tmp_path, breakhis_root):
    params = _profile(tmp_path, breakhis_root)
    arm = gan_fold_jobs(params)
    arms = ("none", "cwgan", *CONTROLS)
    assert [job.name for job in arm] == [f"gan-folds/fold-{k}/mobilenet/{v}/seed-0" for k in (1, 2) for v in arms]
    for job in arm:  # a control's counts are the GAN arm's: it waits for the same GAN
        assert job.depends_on == (() if job.variant == "none" else (f"gan/fold-{job.params.data.fold}",))
    names = [job.name for job in plan(params)]
    assert "gan/fold-1" in names and "gan/fold-2" in names
    assert not [job for job in gan_fold_jobs(_profile(tmp_path, breakhis_root, [])) if variant(job.variant).control]


@pytest.fixture(scope="module")
def gan_split(tmp_path_factory, breakhis_root):
    """A tiny GAN of one split (three snapshots, one kept besides the earliest) and its generated images."""
    from bclib.gan.generate import generate
    from bclib.gan.workflow import gan_output_dir, generated_dir, train_from_params

    tmp_path = tmp_path_factory.mktemp("controls")
    params = _profile(tmp_path, breakhis_root)
    params = params.model_copy(update={"eval": params.eval.model_copy(update={"gan_folds": []})})
    train_from_params(params, log=lambda m: None)
    generate(gan_output_dir(params), "benign", params.gan.n_generate, params.seed, generated_dir(params), force=True)
    index = index_breakhis(breakhis_root)
    return params, split_from_params(index, params), index.class_names


def test_the_trainer_keeps_its_earliest_snapshot_for_the_early_control(gan_split):
    from bclib.gan.snapshots import list_snapshots, select_snapshot
    from bclib.gan.workflow import gan_output_dir

    params, _, _ = gan_split
    kept = [float(p.name.split("-")[1]) for p in list_snapshots(gan_output_dir(params))]
    assert kept == [4, 12]  # images seen: the earliest and the latest (keep_snapshots 1); 8 was pruned
    earliest, info = select_snapshot(gan_output_dir(params), "earliest")
    assert earliest.name.endswith("000000004") and info["which"] == "earliest"


@pytest.mark.parametrize("name", CONTROLS)
def test_each_control_adds_as_many_images_of_each_class_as_the_gan_arm_and_nothing_else(gan_split, name):
    from bclib.train.data import extra_training_images

    params, split, classes = gan_split
    real = split[split["part"] == "train"]
    gan = extra_training_images(params, variant("cwgan"), split, classes)
    extra = extra_training_images(params, variant(name), split, classes)
    assert gan["label"].value_counts().to_dict() == {"benign": 3}  # train.cwgan_images: 3
    assert extra["label"].value_counts().to_dict() == {"benign": 3}
    assert (extra["part"] == "train").all() and not set(extra["path"]) & set(gan["path"])
    if name == "copies":  # real benign training tiles, drawn with replacement
        assert set(extra["path"]) <= set(real.loc[real["label"] == "benign", "path"])
    elif name == "tradaug-copies":  # made once into a folder keyed by what decides them, then reused
        folder = Path(extra["path"].iloc[0]).parent.parent
        assert folder.parent == params.output_dir / "cache" / "controls" / name
        stamp = [Path(p).stat().st_mtime_ns for p in extra["path"]]
        again = extra_training_images(params, variant(name), split, classes)
        assert list(again["path"]) == list(extra["path"])
        assert [Path(p).stat().st_mtime_ns for p in again["path"]] == stamp
    else:
        manifest = pd.read_csv(Path(extra["path"].iloc[0]).parent.parent / "manifest.csv")
        if name == "cwgan-shuffled":  # generated for random classes, filed and labelled benign
            assert (manifest["class"] == "benign").all() and (manifest["conditioning"] == "random class").all()
        else:  # the earliest snapshot's images; the GAN arm's come from a later one
            gan_manifest = pd.read_csv(Path(gan["path"].iloc[0]).parent.parent / "manifest.csv")
            assert set(manifest["kimg"]) == {0.004} and set(gan_manifest["kimg"]) == {0.012}


def test_random_conditions_draw_every_class_and_keep_the_count():
    from bclib.gan.generate import _random_conditions

    state = {"class_names": ["benign", "malignant"], "magnifications": []}
    conditions = _random_conditions(state, 200, seed=3, magnification=None)
    assert sum(count for _, count, _ in conditions) == 200
    assert {index for index, _, _ in conditions} == {0, 1}  # both classes' conditions, about half each
    assert all(60 < count < 140 for _, count, _ in conditions)


def test_the_effect_table_sets_each_control_against_the_run_without_extra_images():
    from bclib.evaluation.effects import gan_effect_table
    from bclib.evaluation.loading import Run

    labels = np.array([0, 1] * 4)

    def run(name, wrong):
        predicted = labels.copy()
        predicted[wrong] = 1 - predicted[wrong]
        frame = pd.DataFrame({"path": [f"i{k}" for k in range(8)], "patient": [f"p{k // 2}" for k in range(8)],
                              "label": np.array(["benign", "malignant"])[labels],
                              "pred": np.array(["benign", "malignant"])[predicted],
                              "p_malignant": predicted.astype(float)})
        frame["p_benign"] = 1 - frame["p_malignant"]
        record = {"model": "mobilenet", "variant": name, "seed": 0, "split": "patient", "fold": None,
                  "classes": ["benign", "malignant"], "cwgan_images": None if name == "none" else "all"}
        return Run(Path("."), record, frame)

    runs = [run("none", [0, 1]), run("cwgan", []), run("copies", []), run("cwgan-early", [0, 1, 2])]
    table = gan_effect_table(runs, "breakhis", measures=["balanced_accuracy"], n_resamples=50)
    rows = table[table["measure"] == "balanced_accuracy"].set_index("contrast")["difference"]
    assert list(rows.index) == ["cwgan - none", "copies - none", "cwgan-early - none"]
    assert rows["cwgan - none"] == pytest.approx(rows["copies - none"])  # copies do as well: "more images"
    assert rows["cwgan-early - none"] < 0


def test_variants_are_read_by_their_properties_never_by_their_spelling():
    """`"cwgan" in variant` would take the cwgan-shuffled control for a GAN arm and tradaug-copies for TradAug."""
    assert variant("cwgan-shuffled").uses_gan and not variant("cwgan-shuffled").tradaug
    assert not variant("tradaug-copies").tradaug and variant("tradaug-copies").adds_images
    assert [v.name for v in VARIANTS.values() if v.control] == list(CONTROLS)
    package = Path(__file__).resolve().parents[1] / "bclib"
    spelled = [f"{path.relative_to(package)}:{n}" for path in package.rglob("*.py")
               for n, line in enumerate(path.read_text().splitlines(), 1)
               if re.search(r"""["'](cwgan|tradaug)["'] (not )?in \w""", line)]
    assert not spelled, spelled


@pytest.fixture
def registered_arm():
    from bclib import variants

    arm = variants.register(variants.Variant("tradaug+copies", True, "copies", "TradAug and real copies",
                                             "TradAug and real copies"))
    yield arm
    del variants.VARIANTS[arm.name]


def test_an_arm_registered_in_one_place_reaches_the_plan_the_run_and_the_report(tmp_path, breakhis_root,
                                                                                 registered_arm):
    """Issue #39: adding an ablation arm touches bclib/variants.py and nothing else."""
    from bclib.evaluation.effects import gan_effect_table
    from bclib.evaluation.loading import Run
    from bclib.experiment.costs import format_plan

    path = tmp_path / "arm.yaml"
    path.write_text(PROFILE.format(root=breakhis_root, out=tmp_path / "out", controls="[]").replace(
        "variants: [none]", "variants: [none, tradaug, tradaug+copies]").replace("models: [mobilenet]",
                                                                                 "models: [proposed]"))
    params = load_params(path)  # the schema accepts the new name
    jobs = [job for job in plan(params) if getattr(job, "variant", "") == "tradaug+copies"]  # what `bclib run` runs
    assert [job.name for job in jobs] == ["proposed/tradaug+copies/seed-0"] and jobs[0].depends_on == ("gan",)
    assert "proposed | 3 |" in format_plan(params)  # `bclib plan`: none, tradaug and the new arm

    def run(name, wrong):
        frame = pd.DataFrame({"path": ["a", "b", "c", "d"], "patient": ["p0", "p0", "p1", "p1"],
                              "label": ["benign", "benign", "malignant", "malignant"],
                              "pred": ["malignant" if i in wrong else lab for i, lab in
                                       enumerate(["benign", "benign", "malignant", "malignant"])]})
        frame["p_malignant"] = (frame["pred"] == "malignant").astype(float)
        frame["p_benign"] = 1 - frame["p_malignant"]
        return Run(Path("."), {"model": "proposed", "variant": name, "seed": 0, "split": "patient", "fold": None,
                               "classes": ["benign", "malignant"], "cwgan_images": "all"}, frame)

    table = gan_effect_table([run("tradaug", [0]), run("tradaug+copies", [])], "breakhis", n_resamples=20)
    assert set(table["contrast"]) == {"tradaug+copies - tradaug"}  # the report's effect table compares it


def test_tradaug_copies_are_made_again_when_the_code_that_makes_them_changes(gan_split, monkeypatch):
    from bclib.train import controls
    from bclib.train.data import extra_training_images

    params, split, classes = gan_split
    before = Path(extra_training_images(params, variant("tradaug-copies"), split, classes)["path"].iloc[0]).parent
    monkeypatch.setattr(controls, "code_version", lambda parts: "changed")
    after = Path(extra_training_images(params, variant("tradaug-copies"), split, classes)["path"].iloc[0]).parent
    assert before.parent != after.parent  # a new cache folder, never the stale one
