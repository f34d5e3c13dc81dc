"""Issue #15 items 2-3: cross-validation folds and per-magnification models as one experiment, and their tables."""

import json
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bclib.data.index import index_bach, index_breakhis
from bclib.data.splits import make_split, patient_overlap
from bclib.errors import UserError
from bclib.evaluation import fold_table, magnification_table, shown_fold_table
from bclib.evaluation.loading import Run, load_run
from bclib.experiment import plan
from bclib.experiment.classifier_jobs import classifier_jobs, leakage_jobs
from bclib.params import load_params
from bclib.train.run_record import run_record

PROFILE = """
seed: 0
data: {{dataset: {dataset}, root: {root}{data}}}
train: {{models: [mobilenet, proposed], variants: [none, tradaug], seeds: [0, 1]{train}}}
eval: {{leakage_models: [proposed]}}
run: {{output_dir: {out}}}
"""


def profile(tmp_path, root, data="", dataset="breakhis", train="", name="p"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(PROFILE.format(dataset=dataset, root=root, data=data, train=train, out=tmp_path / "out"))
    return path


def all_classifier_jobs(params):
    return classifier_jobs(params, "baselines") + classifier_jobs(params, "fusion")


def sets_of(job):
    command = job.command()
    return [command[i + 1] for i, word in enumerate(command) if word == "--set"]


def test_folds_give_one_job_per_fold_each_in_its_folder(tmp_path, breakhis_root):
    plain = load_params(profile(tmp_path, breakhis_root, ", split: folds", name="plain"))
    params = load_params(profile(tmp_path, breakhis_root, ", split: folds, folds: [1, 2, 3]"))
    base, jobs = all_classifier_jobs(plain), all_classifier_jobs(params)
    assert len(jobs) == 3 * len(base) == 3 * 8  # (mobilenet, proposed) x (none, tradaug) x 2 seeds, per fold
    assert len({j.out_dir for j in jobs}) == len({j.name for j in jobs}) == len(jobs)
    for job in jobs:
        fold = job.params.data.fold
        assert job.out_dir.relative_to(params.output_dir / "runs").parts[0] == f"fold-{fold}"
        assert job.name.startswith(f"fold-{fold}/") and sets_of(job) == [f"data.fold={fold}"]
        # the worker's `bclib train` rebuilds the same parameters from the command line
        assert load_params(params._source, sets_of(job)).data.fold == fold
    assert sorted({j.params.data.fold for j in jobs}) == [1, 2, 3]
    image_split = leakage_jobs(params)  # one image-split run per seed, valid without folds
    assert len(image_split) == 2 and load_params(params._source, sets_of(image_split[0])).data.folds is None
    for job in plan(params):
        assert all(isinstance(w, str) and w for c in job.commands() for w in c)


def test_per_magnification_gives_one_job_per_magnification(tmp_path, breakhis_root):
    params = load_params(profile(tmp_path, breakhis_root, ", magnification_protocol: per_magnification"))
    jobs = all_classifier_jobs(params)
    assert len(jobs) == 4 * 8
    assert {tuple(j.params.data.magnifications) for j in jobs} == {("40X",), ("100X",), ("200X",), ("400X",)}
    for job in jobs:
        mag = job.params.data.magnifications[0]
        assert f"mag-{mag}" in job.out_dir.parts and sets_of(job) == [f"data.magnifications=[{mag}]"]
        assert load_params(params._source, sets_of(job)).data.magnifications == [mag]
    both = load_params(profile(tmp_path, breakhis_root, ", magnification_protocol: per_magnification, "
                               "magnifications: [400X, 40X], split: folds, folds: [2, 4]", name="both"))
    jobs = all_classifier_jobs(both)
    assert len(jobs) == 2 * 2 * 8 and len({j.out_dir for j in jobs}) == len(jobs)
    assert {j.group for j in jobs} == {"fold-2/mag-40X/", "fold-2/mag-400X/", "fold-4/mag-40X/", "fold-4/mag-400X/"}


def test_protocols_refused_where_they_cannot_run(tmp_path, breakhis_root, bach_root):
    with pytest.raises(UserError, match="per_magnification needs magnifications; bach has none"):
        load_params(profile(tmp_path, bach_root, ", magnification_protocol: per_magnification", dataset="bach"))
    with pytest.raises(UserError, match="cannot cut 5 folds: the largest class has 4"):  # tiny BACH, no Folds.csv
        make_split(index_bach(bach_root), "cv")
    with pytest.raises(UserError, match="folds lists folds of split: folds or cv, but split is patient"):
        load_params(profile(tmp_path, breakhis_root, ", folds: [1, 2]"))
    # cwgan with folds and magnifications: no longer refused, one GAN per (fold, magnification) instead
    params = load_params(profile(tmp_path, breakhis_root, ", split: folds, folds: [1, 2], magnifications: [40X, "
                                 "100X], magnification_protocol: per_magnification", train=", variants: [none, cwgan]"),
                         ["gan.n_generate=4"])
    assert [job.name for job in plan(params) if job.name.startswith("gan")] == [
        "gan/fold-1/mag-40X", "gan/fold-1/mag-100X", "gan/fold-2/mag-40X", "gan/fold-2/mag-100X"]


def test_cv_folds_test_every_patient_once(breakhis_root):
    index = index_breakhis(breakhis_root)
    assert index.folds is not None  # the embedded set has a Folds.csv: split cv ignores it
    tested = []
    for fold in range(1, 6):
        split = make_split(index, "cv", seed=3, fold=fold)
        assert all(not shared for shared in patient_overlap(split).values())
        assert set(split["part"]) == {"train", "val", "test"}
        tested.append(set(split.loc[split["part"] == "test", "patient"]))
    assert sum(len(t) for t in tested) == len(set().union(*tested))  # disjoint across folds
    assert set().union(*tested) == set(index.frame["patient"])  # every patient tested once
    again = make_split(index, "cv", seed=3, fold=2)
    assert set(again.loc[again["part"] == "test", "patient"]) == tested[1]  # seeded


def _predictions(right: list[bool], mags=("40X",) * 4) -> pd.DataFrame:
    labels = ["benign", "malignant", "benign", "malignant"]
    flip = {"benign": "malignant", "malignant": "benign"}
    return pd.DataFrame({"path": [f"i{i}.png" for i in range(4)], "patient": ["a", "b", "a", "b"],
                         "magnification": list(mags), "label": labels,
                         "pred": [lab if ok else flip[lab] for lab, ok in zip(labels, right)],
                         "p_benign": 0.5, "p_malignant": 0.5})


def _run(tmp_path, model, fold, right, mags=("40X",) * 4, protocol="independent", seed=0) -> Run:
    folder = tmp_path / f"{model}-{fold}-{mags[0]}-{seed}"
    folder.mkdir()
    record = {"model": model, "variant": "none", "seed": seed, "classes": ["benign", "malignant"],
              "split": "folds", "fold": fold, "magnification_protocol": protocol,
              "magnifications": [mags[0]] if protocol == "per_magnification" else None,
              "params": {"data": {"split": "folds", "fold": fold, "folds": [1, 2, 3]}}}
    (folder / "run.json").write_text(json.dumps(record))
    _predictions(right, mags).to_csv(folder / "predictions.csv", index=False)
    return load_run(folder)


def test_fold_table_mean_and_sd_across_folds(tmp_path):
    # accuracy = balanced accuracy = patient-level rate = 0.5, 0.75, 1.0 over folds 1-3: mean 0.75, sd 0.25
    runs = [_run(tmp_path, "proposed", 1, [True, True, False, False]),
            _run(tmp_path, "proposed", 2, [True, True, True, False]),
            _run(tmp_path, "proposed", 3, [True] * 4),
            _run(tmp_path, "vgg16", 1, [True] * 4), _run(tmp_path, "vgg16", 1, [True, True, False, False], seed=1)]
    assert runs[1].name == "fold-2/proposed/none/seed-0"
    table = fold_table(runs)
    assert list(table["fold"]) == [1, 2, 3, "mean ± sd", 1, 1, "mean ± sd"]
    summary = table[table["fold"] == "mean ± sd"].set_index("model")
    for measure in ("accuracy", "balanced_accuracy", "patient_level_rate"):
        assert list(table.loc[:2, measure]) == pytest.approx([0.5, 0.75, 1.0])
        assert summary.loc["proposed", measure] == pytest.approx(0.75)
        assert summary.loc["proposed", f"{measure}_sd"] == pytest.approx(0.25)
        assert summary.loc["vgg16", measure] == pytest.approx(0.75)  # the fold's two seeds averaged
        assert summary.loc["vgg16", f"{measure}_sd"] == 0.0
    assert summary.loc["proposed", "folds"] == 3 and summary.loc["proposed", "n_test"] == 12
    assert shown_fold_table(table).loc[3, "accuracy"] == "0.750 ± 0.250"


def test_magnification_table_puts_magnifications_side_by_side(tmp_path):
    runs = [_run(tmp_path, "proposed", 1, [True] * 4, ("40X",) * 4, "per_magnification"),
            _run(tmp_path, "proposed", 1, [True, True, True, False], ("100X",) * 4, "per_magnification"),
            _run(tmp_path, "vgg16", 1, [True, False, True, True], ("40X", "40X", "400X", "400X"))]
    table = magnification_table(runs, n_resamples=50).set_index(["protocol", "model"])
    assert list(table.columns[3:8]) == ["40X_accuracy", "40X_accuracy_low", "40X_accuracy_high",
                                        "40X_patient_level_rate", "40X_images"]
    per_mag = table.loc[("per magnification", "proposed")]
    assert per_mag["40X_accuracy"] == 1.0 and per_mag["40X_accuracy_low"] == per_mag["40X_accuracy_high"] == 1.0
    assert per_mag["100X_accuracy"] == 0.75 and per_mag["100X_patient_level_rate"] == 0.75
    assert per_mag["100X_accuracy_low"] <= 0.75 <= per_mag["100X_accuracy_high"]
    assert np.isnan(per_mag["400X_accuracy"])
    together = table.loc[("independent", "vgg16")]  # one model, scored per magnification
    assert together["40X_accuracy"] == 0.5 and together["40X_patient_level_rate"] == 0.5  # a right, b wrong
    assert together["400X_accuracy"] == 1.0 and together["400X_images"] == 2 and np.isnan(together["100X_accuracy"])


def test_run_json_records_fold_and_magnification_protocol(tmp_path, breakhis_root):
    params = load_params(profile(tmp_path, breakhis_root, ", split: folds, folds: [1, 3], "
                                 "magnification_protocol: per_magnification"), ["data.fold=3",
                                                                                "data.magnifications=[200X]"])
    frame = pd.DataFrame({"subtype": ["adenosis"]})
    index = SimpleNamespace(task="binary", provenance=lambda: "tiny", synthetic=True)
    data = SimpleNamespace(train=frame, val=frame, test=frame, classes=["benign", "malignant"], index=index)
    record = run_record(params, data, "mobilenet", "none", 0, _predictions([True] * 4), pd.DataFrame([{}]),
                        False, 1, time.time())
    assert (record["fold"], record["magnification_protocol"], record["magnifications"]) == (
        3, "per_magnification", ["200X"])
    assert record["params"]["data"]["folds"] == [1, 3]


# -- end to end: real (tiny) runs of each protocol, then their tables ---------------------------------------


def _train_all(params, tmp_path):
    from bclib.train import train_classifier

    jobs = classifier_jobs(params, "baselines")
    for job in jobs:
        train_classifier(job.params, job.model, job.variant, job.seed, job.out_dir, log=lambda m: None)
    return [load_run(job.out_dir) for job in jobs]


TINY = ", epochs: 1, batch_size: 16, image_size: 64, weights: none, fine_tune_epochs: 0, tensorboard: false"


def test_two_folds_and_two_magnifications_train_and_fill_their_tables(tmp_path, breakhis_root):
    """Tiny MobileNet runs (64 px, one epoch, untrained): two folds of Folds.csv, then one model per
    magnification; the numbers mean nothing, the plumbing from profile to table is what is checked."""
    def tiny_profile(data, name):
        text = PROFILE.replace("models: [mobilenet, proposed], variants: [none, tradaug], seeds: [0, 1]",
                               "models: [mobilenet], variants: [none], seeds: [0]")
        path = tmp_path / f"{name}.yaml"
        path.write_text(text.format(dataset="breakhis", root=breakhis_root, data=data, train=TINY,
                                    out=tmp_path / name))
        return load_params(path)

    runs = _train_all(tiny_profile(", split: folds, folds: [1, 2]", "folds"), tmp_path)
    assert [r.record["fold"] for r in runs] == [1, 2]
    # The embedded Folds.csv, like the published one, puts the twice-filed patient's folders on both sides:
    # each run records that fold_policy strict set its training images aside (the test set stays published).
    for run in runs:
        assert run.record["fold_policy"] == "strict"
        assert any("fold_policy strict set its" in note for note in run.record["split_notes"]), run.record
    folds = fold_table(runs)
    summary = folds[folds["fold"] == "mean ± sd"].iloc[0]
    per_fold = folds[folds["fold"] != "mean ± sd"]
    assert summary["accuracy"] == pytest.approx(per_fold["accuracy"].mean())
    assert summary["accuracy_sd"] == pytest.approx(per_fold["accuracy"].std(ddof=1))

    runs = _train_all(tiny_profile(", magnifications: [40X, 400X], magnification_protocol: per_magnification",
                                   "mags"), tmp_path)
    assert [set(r.predictions["magnification"]) for r in runs] == [{"40X"}, {"400X"}]
    table = magnification_table(runs, n_resamples=50)
    assert len(table) == 1  # one model, its two magnifications side by side
    for run, zoom in zip(runs, ("40X", "400X")):
        expected = (run.predictions["label"] == run.predictions["pred"]).mean()
        assert table[f"{zoom}_accuracy"].iloc[0] == pytest.approx(expected)
        assert table[f"{zoom}_images"].iloc[0] == len(run.predictions)


def test_the_folds_profile_runs_five_folds_per_magnification_without_gan_images():
    """params/breakhis-folds.yaml: the field's protocol, planned as (fold, magnification) x model x variant."""
    from bclib.paths import project_root

    params = load_params(project_root() / "params" / "breakhis-folds.yaml")
    assert params.data.split == "folds" and params.data.folds == [1, 2, 3, 4, 5]
    assert params.data.magnification_protocol == "per_magnification" and params.eval.tta
    assert not any("cwgan" in v for v in params.train.variants)
    jobs = all_classifier_jobs(params)
    groups = {job.out_dir.relative_to(params.output_dir / "runs").parts[:2] for job in jobs}
    assert len(groups) == 5 * 4 and len(jobs) == 20 * len(params.train.models) * len(params.train.variants)


def test_stain_ablation_trains_the_stain_models_again_with_each_method(tmp_path, breakhis_root):
    from bclib.experiment.classifier_jobs import stain_jobs

    params = load_params(profile(tmp_path, breakhis_root), ["eval.stain_ablation=[macenko, reinhard]"])
    jobs = stain_jobs(params)
    assert [(j.group, j.model, j.variant, j.seed) for j in jobs] == [
        (f"stain-{m}/", "proposed", "none", s) for m in ("macenko", "reinhard") for s in (0, 1)]
    for job in jobs:
        method = job.group[len("stain-"):-1]
        assert job.params.data.stain_normalization == method and sets_of(job) == [f"data.stain_normalization={method}"]
        assert job.out_dir.relative_to(params.output_dir).parts[:2] == ("runs-stain", method)
    assert {j.name for j in jobs} <= {j.name for j in plan(params)}  # bclib run / plan run them too
    assert stain_jobs(load_params(profile(tmp_path, breakhis_root, name="q"))) == []  # off by default
