"""Issue #27: a GAN per fold (its images feed only that fold's classifiers), the eval.gan_folds arm of a
one-split profile, and a dose-response over train.cwgan_images."""

import json

import pandas as pd
import pytest

from bclib.data.index import index_breakhis
from bclib.data.splits import split_from_params
from bclib.errors import UserError
from bclib.experiment import GanJob, plan
from bclib.experiment.classifier_jobs import classifier_jobs, gan_fold_jobs
from bclib.experiment.costs import format_plan
from bclib.experiment.gan_jobs import gan_jobs
from bclib.params import load_params
from bclib.train.data import take_generated

PROFILE = """
seed: 0
data: {{dataset: breakhis, root: {root}{data}}}
gan: {{resolution: 32, batch_size: 4, latent_dim: 8, n_critic: 2, total_kimg: 0.016, snapshot_kimg: 0.016,
       max_channels: 16, channel_base: 256, target_class: benign, n_generate: {n_generate}}}
metrics: {{during_training: false, weights: none}}
train: {{models: [mobilenet, proposed], variants: [none, cwgan], seeds: [0]{train}}}
eval: {{leakage_models: []{eval}}}
run: {{output_dir: {out}}}
"""


def profile(tmp_path, root, data="", train="", eval="", n_generate=4, name="p"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(PROFILE.format(root=root, data=data, train=train, eval=eval, n_generate=n_generate,
                                   out=tmp_path / "out"))
    return load_params(path)


def sets_of(command):
    return [command[i + 1] for i, word in enumerate(command) if word == "--set"]


def test_folds_with_cwgan_plan_one_gan_per_fold_feeding_only_that_folds_runs(tmp_path, breakhis_root):
    params = profile(tmp_path, breakhis_root, ", split: cv, folds: [1, 2, 3]")
    jobs = plan(params)
    gans = [job for job in jobs if isinstance(job, GanJob)]
    assert [job.name for job in gans] == ["gan/fold-1", "gan/fold-2", "gan/fold-3"]
    for fold, gan in zip((1, 2, 3), gans):
        assert gan.out_dir == params.output_dir / "gan" / f"fold-{fold}"
        assert gan.generated_dir == params.output_dir / "generated" / f"fold-{fold}"
        train, generate = gan.commands()
        assert sets_of(train) == [f"data.fold={fold}"]  # the worker's GAN trains on this fold's split
        assert load_params(params._source, sets_of(train)).data.fold == fold
        assert generate[generate.index("--out") + 1] == str(gan.generated_dir)
    runs = [job for job in jobs if hasattr(job, "variant")]
    for run in runs:  # proposed/cwgan (fusion) only; baselines train none and tradaug
        fold = run.params.data.fold
        assert run.depends_on == ((f"gan/fold-{fold}",) if run.variant == "cwgan" else ())
    # the plan a reader sees: one GAN row per fold
    table = format_plan(params)
    assert all(f"| cWGAN fold-{k} (train + generate) | 1 |" in table for k in (1, 2, 3))


def test_the_gan_folds_profile_plans_a_gan_per_fold_and_a_run_per_count():
    from bclib.paths import project_root

    params = load_params(project_root() / "params" / "breakhis-gan-folds.yaml")
    jobs = plan(params)
    assert [job.name for job in jobs if isinstance(job, GanJob)] == [f"gan/fold-{k}" for k in range(1, 6)]
    cwgan = [job for job in jobs if getattr(job, "variant", "") == "cwgan" and job.params.data.fold == 1]
    assert [job.params.train.cwgan_images for job in cwgan] == [640, "balance", 1280, 2560]
    assert [job.out_dir.parent.name for job in cwgan] == ["n-640", "n-balance", "n-1280", "n-2560"]
    assert all(sets_of(job.command())[-1] == f"train.cwgan_images={job.params.train.cwgan_images}" for job in cwgan)
    # every count of a fold reads the images of the same GAN, whose key does not depend on the count
    assert {job.depends_on for job in cwgan} == {("gan/fold-1",)}
    assert gan_jobs(cwgan[:1])[0].params.model_dump() == gan_jobs(cwgan[-1:])[0].params.model_dump()


def test_a_folds_gan_never_sees_its_folds_test_patients_and_its_images_stay_in_their_fold(tmp_path, breakhis_root):
    from bclib.gan.generate import generate
    from bclib.gan.image_provenance import check_generated_images
    from bclib.gan.workflow import gan_output_dir, generated_dir, train_from_params
    from bclib.train.data import generated_training_images

    params = profile(tmp_path, breakhis_root, ", split: cv, folds: [1, 2]")
    index = index_breakhis(breakhis_root)
    settings = {job.params.data.fold: job.params for job in gan_jobs(classifier_jobs(params, "fusion"))}
    splits = {}
    for fold, setting in settings.items():
        train_from_params(setting, log=lambda m: None)
        generate(gan_output_dir(setting), "benign", 2, 0, generated_dir(setting), force=True)
        splits[fold] = split_from_params(index, setting)
    for fold, setting in settings.items():
        record = json.loads((gan_output_dir(setting) / "training_set.json").read_text())
        split = splits[fold]
        held_out = set(split.loc[split["part"].isin(["val", "test"]), "patient"])
        assert held_out and not set(record["patients"]) & held_out  # the provenance record, checked
        assert len(generated_training_images(setting, split, index.class_names)) == 2
    # fold 1's GAN trained on some of fold 2's test patients: its images are refused for fold 2
    assert set(json.loads((gan_output_dir(settings[1]) / "training_set.json").read_text())["patients"]) \
        & set(splits[2].loc[splits[2]["part"] == "test", "patient"])
    with pytest.raises(UserError, match="test"):
        check_generated_images(gan_output_dir(settings[1]), generated_dir(settings[1]), splits[2])


def test_gan_folds_arm_runs_none_and_cwgan_on_each_fold_with_its_own_gan(tmp_path, breakhis_root):
    params = profile(tmp_path, breakhis_root, eval=", gan_folds: [1, 2], gan_fold_models: [mobilenet]")
    arm = gan_fold_jobs(params)
    assert [job.name for job in arm] == [f"gan-folds/fold-{k}/mobilenet/{v}/seed-0"
                                         for k in (1, 2) for v in ("none", "cwgan")]
    for job in arm:
        rebuilt = load_params(params._source, sets_of(job.command()))  # what the worker's `bclib train` reads
        assert (rebuilt.data.split, rebuilt.data.folds, rebuilt.eval.gan_folds) == ("cv", [1, 2], [])
        assert rebuilt.data.fold == job.params.data.fold
        assert job.out_dir.is_relative_to(params.output_dir / "runs-gan-folds" / f"fold-{job.params.data.fold}")
    names = [job.name for job in plan(params)]
    assert names.count("gan") == 1 and "gan/fold-1" in names and "gan/fold-2" in names  # the main GAN as well
    assert [job.depends_on for job in arm if job.variant == "cwgan"] == [("gan/fold-1",), ("gan/fold-2",)]


def test_doses_and_gan_folds_refused_where_they_cannot_hold(tmp_path, breakhis_root):
    with pytest.raises(UserError, match="asks for 9 cWGAN images, but the GAN generates 4"):
        profile(tmp_path, breakhis_root, train=", cwgan_images: [2, 9]")
    with pytest.raises(UserError, match="distinct"):
        profile(tmp_path, breakhis_root, train=", cwgan_images: [2, 2]")
    for no_images in ("0", "[0]"):  # a cwgan run without cWGAN images would be a second `none` run
        with pytest.raises(UserError, match="without any: use the none variant"):
            profile(tmp_path, breakhis_root, train=f", cwgan_images: {no_images}")
    with pytest.raises(UserError, match="data.folds already runs every fold"):
        profile(tmp_path, breakhis_root, ", split: cv, folds: [1, 2]", eval=", gan_folds: [1, 2]")
    params = profile(tmp_path, breakhis_root, train=", cwgan_images: [0, 2, balance]")
    cwgan = [job for job in classifier_jobs(params, "fusion") if job.variant == "cwgan"]
    assert [job.params.train.cwgan_images for job in cwgan] == [2, "balance"]  # 0 is the run without (none)


def _generated(counts: dict) -> pd.DataFrame:
    return pd.DataFrame([{"path": f"{c}/cwgan_{i}.png", "label": c} for c, n in counts.items() for i in range(n)])


def test_take_generated_splits_a_count_in_proportion_and_balance_fills_the_deficit():
    generated = _generated({"benign": 6, "malignant": 3})
    real = pd.DataFrame({"label": ["benign"] * 4 + ["malignant"] * 9})
    assert take_generated(generated, None, real, "gen") is generated
    three = take_generated(generated, 3, real, "gen")
    assert three["label"].value_counts().to_dict() == {"benign": 2, "malignant": 1}
    assert list(three["path"][:2]) == ["benign/cwgan_0.png", "benign/cwgan_1.png"]  # the first of each class
    balanced = take_generated(generated, "balance", real, "gen")
    assert balanced["label"].value_counts().to_dict() == {"benign": 5}  # 9 - 4 benign; malignant is the largest
    assert take_generated(generated, 0, real, "gen").empty
    with pytest.raises(UserError, match="gen holds 9 generated images"):
        take_generated(generated, 10, real, "gen")
    with pytest.raises(UserError, match="needs 7 generated images of benign, gen holds 6"):
        take_generated(generated, "balance", pd.DataFrame({"label": ["benign"] * 2 + ["malignant"] * 9}), "gen")
