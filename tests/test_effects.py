"""The cWGAN effect table: paired differences pooled over folds and seeds, patients resampled within folds."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bclib.evaluation.effects import gan_effect_table, pooled_difference
from bclib.evaluation.loading import Run


def _run(model, variant, seed, wrong_patients=(), fold=1, prefix="p"):
    """Four patients of two images each (two benign, two malignant); every image of a patient in
    ``wrong_patients`` is misclassified, every other one is right."""
    patients = [f"{prefix}{k}" for k in (1, 1, 2, 2, 3, 3, 4, 4)]
    labels = ["benign"] * 4 + ["malignant"] * 4
    preds = [("malignant" if label == "benign" else "benign") if patient in wrong_patients else label
             for patient, label in zip(patients, labels)]
    frame = pd.DataFrame({"path": [f"{prefix}-img{i}.png" for i in range(8)], "patient": patients,
                          "label": labels, "pred": preds})
    frame["p_malignant"] = [0.9 if p == "malignant" else 0.1 for p in preds]
    frame["p_benign"] = 1 - frame["p_malignant"]
    record = {"model": model, "variant": variant, "seed": seed, "split": "patient", "fold": fold,
              "classes": ["benign", "malignant"]}
    return Run(Path("."), record, frame)


def test_one_patient_changed_gives_the_closed_form_interval():
    # Without cWGAN images patient p4 is missed; with them nothing is. Patient-level rate: 1 - 0.75 = 0.25.
    # Each bootstrap draw of 4 patients holds p4 k ~ Binomial(4, 1/4) times, so the drawn difference is k/4:
    # P(k = 0) = 0.32 puts the 2.5% quantile at 0, P(k >= 3) = 0.051 and P(k = 4) = 0.004 the 97.5% at 3/4.
    pairs = {(1, 0): (_run("proposed", "cwgan", 0), _run("proposed", "none", 0, ["p4"]))}
    effect = pooled_difference(pairs, "patient_level_rate", n_resamples=2000)
    assert effect["difference"] == pytest.approx(0.25)
    assert (effect["low"], effect["high"]) == (pytest.approx(0.0), pytest.approx(0.75))
    assert (effect["folds"], effect["pairs"], effect["units"]) == (1, 1, 4)


def test_seeds_of_one_fold_share_each_patient_draw_and_folds_pool_as_a_mean():
    one = {(1, 0): (_run("proposed", "cwgan", 0), _run("proposed", "none", 0, ["p4"]))}
    two_seeds = {**one, (1, 1): (_run("proposed", "cwgan", 1), _run("proposed", "none", 1, ["p4"]))}
    single, shared = (pooled_difference(p, "patient_level_rate", n_resamples=500, seed=3) for p in (one, two_seeds))
    # Identical seeds scored on the same draws: the same interval. Drawn separately, it would narrow.
    assert (shared["low"], shared["high"]) == (single["low"], single["high"]) and shared["pairs"] == 2
    folds = {**one, (2, 0): (_run("proposed", "cwgan", 0, fold=2, prefix="q"),
                             _run("proposed", "none", 0, fold=2, prefix="q"))}
    pooled = pooled_difference(folds, "patient_level_rate", n_resamples=500)
    assert pooled["difference"] == pytest.approx((0.25 + 0.0) / 2) and pooled["units"] == 8


def test_the_table_has_both_contrasts_with_the_papers_difference_beside_the_proposed_model():
    runs = [_run("proposed", "none", 0, ["p4"]), _run("proposed", "cwgan", 0),
            _run("proposed", "tradaug", 0), _run("proposed", "tradaug+cwgan", 0, ["p1", "p3"]),
            _run("mobilenet", "none", 0), _run("mobilenet", "tradaug", 0)]  # no cWGAN runs: no row
    table = gan_effect_table(runs, "breakhis", measures=["patient_level_rate"], n_resamples=200)
    assert list(table["model"]) == ["proposed", "proposed"]
    rows = table.set_index("contrast")
    assert rows.loc["cwgan - none", "difference"] == pytest.approx(0.25)
    assert rows.loc["tradaug+cwgan - tradaug", "difference"] == pytest.approx(-0.5)
    assert np.isnan(rows.loc["cwgan - none", "paper_accuracy_difference"])  # Table 14 has no cWGAN-only row
    assert rows.loc["tradaug+cwgan - tradaug", "paper_accuracy_difference"] == pytest.approx(0.996 - 0.961)
    contrast = rows.loc["tradaug+cwgan - tradaug"]
    assert contrast["interval_excludes_0"] == (contrast["high"] < 0)


def test_without_patient_ids_the_table_resamples_images_and_reports_accuracy():
    runs = [_run("proposed", "none", 0, ["p4"]), _run("proposed", "cwgan", 0)]
    for run in runs:
        run.predictions["patient"] = ""  # BACH: no patient ids
    table = gan_effect_table(runs, "bach", n_resamples=100)
    assert list(table["measure"]) == ["accuracy", "balanced_accuracy", "roc_auc"]
    assert table.loc[0, "difference"] == pytest.approx(0.25) and table.loc[0, "units"] == 8  # 8 images



def _at(run, dose=None, folds=None):
    run.record["cwgan_images"] = dose if "cwgan" in run.record["variant"] else None
    if folds:
        run.record["split"], run.record["params"] = "cv", {"data": {"folds": folds}}
    return run


def test_each_count_of_gan_images_and_each_protocol_is_a_row_of_its_own():
    # One split: 2 images help nobody, 8 fix patient p4. Two cv folds (their own GANs): fold 1 fixes p4, fold 2
    # breaks q1. The run without GAN images is the zero of every count; protocols are never pooled.
    runs = [_at(_run("proposed", "none", 0, ["p4"])), _at(_run("proposed", "cwgan", 0, ["p4"]), "2"),
            _at(_run("proposed", "cwgan", 0), "8"),
            _at(_run("proposed", "none", 0, ["p4"], fold=1), folds=[1, 2]),
            _at(_run("proposed", "cwgan", 0, fold=1), folds=[1, 2]),
            _at(_run("proposed", "none", 0, fold=2, prefix="q"), folds=[1, 2]),
            _at(_run("proposed", "cwgan", 0, ["q1"], fold=2, prefix="q"), folds=[1, 2])]
    table = gan_effect_table(runs, "breakhis", measures=["patient_level_rate"], n_resamples=300)
    rows = table.set_index(["protocol", "cwgan_images"])["difference"]
    assert list(rows.index) == [("cv folds 1, 2", "all"), ("patient split", "2"), ("patient split", "8")]
    assert rows.to_dict() == {("cv folds 1, 2", "all"): pytest.approx((0.25 - 0.25) / 2),
                              ("patient split", "2"): pytest.approx(0.0), ("patient split", "8"): pytest.approx(0.25)}
    folds = table.set_index("protocol").loc["cv folds 1, 2"]
    assert (folds["folds"], folds["pairs"], folds["units"]) == (2, 2, 8)
    by_fold = gan_effect_table(runs, "breakhis", measures=["patient_level_rate"], n_resamples=300, per_fold=True)
    cv = by_fold[by_fold["protocol"] == "cv folds 1, 2"].set_index("fold")["difference"]
    assert cv.to_dict() == {"all": pytest.approx(0.0), "1": pytest.approx(0.25), "2": pytest.approx(-0.25)}
    assert list(by_fold.loc[by_fold["protocol"] == "patient split", "fold"]) == ["all", "all"]  # one fold: no extra row


def test_per_magnification_models_are_rows_of_their_own():
    runs = []
    for mag, wrong in (("40X", ["p4"]), ("100X", [])):
        for variant, missed in (("none", wrong), ("cwgan", [])):
            run = _at(_run("proposed", variant, 0, missed), folds=[1, 2])
            run.record |= {"magnification_protocol": "per_magnification", "magnifications": [mag]}
            runs.append(run)
    table = gan_effect_table(runs, "breakhis", measures=["patient_level_rate"], n_resamples=100)
    assert table.set_index("protocol")["difference"].to_dict() == {
        "cv folds 1, 2, 100X model": pytest.approx(0.0), "cv folds 1, 2, 40X model": pytest.approx(0.25)}


# Issue #40 item 3: intervals that count what varies (patients shared by folds, seeds, GAN seeds) and a
# declared primary endpoint with Holm-adjusted verdicts.

CLASSES = ["benign", "malignant"]


def _graded(variant, correct, fold=1, seed=0, prefix="p", gan_seed=None, eval_section=None):
    """A run on ``len(correct) / 4`` patients of four images each (alternating classes); ``correct[i]`` says
    whether image i is right."""
    correct = np.asarray(correct, bool)
    labels = np.repeat(np.arange(len(correct) // 4) % 2, 4)
    predicted = np.where(correct, labels, 1 - labels)
    frame = pd.DataFrame({"path": [f"{prefix}-img{i}" for i in range(len(labels))],
                          "patient": np.repeat([f"{prefix}{k}" for k in range(len(labels) // 4)], 4),
                          "label": [CLASSES[v] for v in labels], "pred": [CLASSES[v] for v in predicted],
                          "p_malignant": predicted.astype(float)})
    frame["p_benign"] = 1 - frame["p_malignant"]
    record = {"model": "proposed", "variant": variant, "seed": seed, "split": "cv", "fold": fold,
              "classes": CLASSES, "gan_seed": gan_seed if "cwgan" in variant else None,
              "params": {"data": {"folds": [1, 2, 3]}, **({"eval": eval_section} if eval_section else {})}}
    return Run(Path("."), record, frame)


def _width(effect):
    return effect["high"] - effect["low"]


def _per_fold_independent(pairs, n_resamples, confidence=0.95, seed=0):
    """The interval before issue #40: each fold's test patients drawn on their own, seeds fixed."""
    from collections import defaultdict

    from bclib.evaluation.scores import statistic
    from bclib.evaluation.uncertainty import clusters, percentile_interval, resample_clusters

    by_fold = defaultdict(list)
    for key, (a, b) in pairs.items():
        by_fold[key[0]].append((a.predictions, b.predictions))
    score, rng, draws = statistic("accuracy", CLASSES), np.random.default_rng(seed), []
    for _ in range(n_resamples):
        differences = []
        for runs in by_fold.values():
            groups = clusters(runs[0][0])
            picked = rng.integers(0, len(groups), len(groups))
            differences += [score(resample_clusters(a, groups, picked)) - score(resample_clusters(b, groups, picked))
                            for a, b in runs]
        draws.append(np.mean(differences))
    return percentile_interval(np.asarray(draws), confidence)


def test_identical_arms_give_zero_and_the_interval_widens_with_the_spread_between_seeds():
    """(a) Two folds of two seeds. Without GAN images every run is right on half the images; with them seed 0
    gets ``m`` more images right and seed 1 ``m`` more wrong: the mean effect is 0 on every draw of patients,
    so only resampling the seeds within each fold shows how much the trainings disagree."""
    base = np.tile([True, False], 40)  # 20 patients, half of each one's images right

    def pairs(m):
        up, down = base.copy(), base.copy()
        up[np.flatnonzero(~base)[:m]] = True
        down[np.flatnonzero(base)[:m]] = False
        return {(fold, seed): (_graded("cwgan", moved, fold, seed, prefix=f"f{fold}p"),
                               _graded("none", base, fold, seed, prefix=f"f{fold}p"))
                for fold in (1, 2) for seed, moved in ((0, up), (1, down))}

    same, some, more = (pooled_difference(pairs(m), "accuracy", n_resamples=300) for m in (0, 8, 24))
    assert same["difference"] == 0 and same["low"] == 0 == same["high"] and same["p_value"] == 1
    assert all(abs(e["difference"]) < 1e-12 and e["low"] < 0 < e["high"] for e in (some, more))
    assert 0 < _width(some) < _width(more) and _width(more) > 0.25  # 2 x 24/80 = 0.6 between the seeds
    assert (more["folds"], more["seeds"], more["gan_seeds"], more["pairs"], more["units"]) == (2, 2, 1, 4, 40)


def test_gan_seeds_recorded_by_the_runs_are_resampled_within_each_fold():
    """Two GANs per fold, one classifier seed: one GAN's images fix 16 images, the other's break 16. Without
    resampling the GAN seeds every draw would average them to exactly 0."""
    base = np.tile([True, False], 40)
    up, down = base.copy(), base.copy()
    up[np.flatnonzero(~base)[:16]] = True
    down[np.flatnonzero(base)[:16]] = False
    runs = [_graded("none", base, fold, prefix=f"f{fold}p") for fold in (1, 2)]
    runs += [_graded("cwgan", moved, fold, prefix=f"f{fold}p", gan_seed=g)
             for fold in (1, 2) for g, moved in ((0, up), (1, down))]
    table = gan_effect_table(runs, "breakhis", measures=["accuracy"], n_resamples=300, primary_endpoint="accuracy")
    row = table.iloc[0]
    assert (row["folds"], row["gan_seeds"], row["seeds"], row["pairs"]) == (2, 2, 1, 4)
    assert abs(row["difference"]) < 1e-12 and row["high"] - row["low"] > 0.2


def test_folds_that_share_patients_are_resampled_once_and_give_a_wider_interval():
    """(b) Three folds test the same 20 patients (BreakHis's published folds overlap): in each, the run with GAN
    images gets patients p4-p7 right that the run without misses. A draw with few of them is a small effect in
    every fold at once; resampled per fold as if the folds had different patients, the folds' luck averages out
    and the interval is about sqrt(3) times too narrow."""
    without = np.repeat(np.arange(20) >= 8, 4)  # p0-p7 wrong
    with_gan = np.repeat(np.arange(20) >= 4, 4)  # p0-p3 wrong
    pairs = {(fold, 0): (_graded("cwgan", with_gan, fold), _graded("none", without, fold)) for fold in (1, 2, 3)}
    shared = pooled_difference(pairs, "accuracy", n_resamples=400)
    low, high = _per_fold_independent(pairs, 400)
    assert _width(shared) > 1.3 * (high - low)  # sqrt(3) = 1.73 expected
    assert shared["difference"] == pytest.approx(0.2) and (shared["units"], shared["folds"]) == (20, 3)


def test_folds_that_partition_the_patients_keep_the_per_fold_interval():
    """(c) cv folds: three folds of 20 patients each, no patient in two. One draw from their union gives each
    fold its own patients, so the interval is the one of resampling each fold on its own (up to Monte Carlo
    error), the estimate is the mean of the folds' effects, and every patient is a unit."""
    rng = np.random.default_rng(4)
    pairs = {(fold, 0): (_graded("cwgan", rng.random(80) < 0.8, fold, prefix=f"f{fold}p"),
                         _graded("none", rng.random(80) < 0.6, fold, prefix=f"f{fold}p")) for fold in (1, 2, 3)}
    pooled = pooled_difference(pairs, "accuracy", n_resamples=400)
    low, high = _per_fold_independent(pairs, 400)
    by_fold = [np.mean(a.predictions["label"] == a.predictions["pred"])
               - np.mean(b.predictions["label"] == b.predictions["pred"]) for a, b in pairs.values()]
    assert pooled["difference"] == pytest.approx(np.mean(by_fold)) and pooled["units"] == 60
    assert pooled["low"] < pooled["difference"] < pooled["high"]
    assert 0.8 < _width(pooled) / (high - low) < 1.25


def _holm(p):
    """Holm's step-down adjustment, written out: the i-th smallest of m p-values times (m - i), running maximum."""
    order = np.argsort(p)
    adjusted = np.maximum.accumulate(np.minimum(1, (len(p) - np.arange(len(p))) * np.asarray(p)[order]))
    return pd.Series(adjusted, index=np.asarray(p.index)[order]).reindex(p.index).to_numpy()


def test_the_declared_primary_endpoint_leads_and_every_verdict_is_holm_adjusted_over_doses_and_measures():
    """(d) Two counts of GAN images x three measures: one family of six verdicts. The profile declares balanced
    accuracy as the primary endpoint: its rows come first and say primary, the others secondary."""
    rng = np.random.default_rng(5)
    declared = {"primary_endpoint": "balanced_accuracy"}
    without = rng.random(48) < 0.6
    runs = [_at(_graded("none", without, eval_section=declared))]
    runs += [_at(_graded("cwgan", rng.random(48) < rate, eval_section=declared), dose)
             for dose, rate in (("640", 0.65), ("1280", 0.95))]
    table = gan_effect_table(runs, "breakhis", n_resamples=100)
    assert list(table["measure"]) == ["balanced_accuracy", "patient_level_rate", "roc_auc"] * 2
    assert list(table["cwgan_images"]) == ["640"] * 3 + ["1280"] * 3
    assert list(table["endpoint"]) == ["primary", "secondary", "secondary"] * 2
    assert list(table["primary"]) == [True, False, False] * 2
    assert table["p_holm"].to_numpy() == pytest.approx(_holm(table["p_value"]))
    assert (table["p_holm"] >= table["p_value"]).all() and (table["p_holm"] > table["p_value"]).any()
    assert list(table["excludes_0_holm"]) == list(table["p_holm"] < 0.05)
    assert table.columns[-1] == "paper_accuracy_difference"
    # Asked for by the caller, another endpoint leads; a profile that declares none gets the patient-level rate.
    own = gan_effect_table(runs, "breakhis", measures=["roc_auc"], n_resamples=20, primary_endpoint="roc_auc")
    assert list(own["measure"]) == ["roc_auc"] * 2 and own["primary"].all()
    for run in runs:
        del run.record["params"]["eval"]
    plain = gan_effect_table(runs, "breakhis", measures=["balanced_accuracy"], n_resamples=20)
    assert list(plain.loc[plain["primary"], "measure"]) == ["patient_level_rate"] * 2


def test_the_profile_declares_the_primary_endpoint():
    from pydantic import ValidationError

    from bclib.params import EvalParams

    assert EvalParams().primary_endpoint == "patient_level_rate"
    assert EvalParams(primary_endpoint="roc_auc").primary_endpoint == "roc_auc"
    with pytest.raises(ValidationError):
        EvalParams(primary_endpoint="f1")


def test_the_findings_read_the_primary_rows_with_their_count_and_holm_verdict(tmp_path):
    from bclib.evaluation.summary import findings
    from bclib.tablefile import write_table

    rows = [{"model": "proposed", "protocol": "cv folds 1, 2", "contrast": "cwgan - none", "cwgan_images": dose,
             "measure": measure, "difference": 0.1, "low": low, "high": 0.2, "primary": measure == "patient_level_rate",
             "excludes_0_holm": holm} for dose, low, holm in (("640", 0.01, False), ("1280", 0.02, True))
            for measure in ("patient_level_rate", "roc_auc")]
    write_table(pd.DataFrame(rows), tmp_path / "05_gan_effect.csv", "SYNTHETIC data")
    lines = findings(tmp_path)
    assert len(lines) == 2 and "cwgan - none, 640 images): patient-level rate" in lines[0]
    assert lines[0].endswith("the images helped, but not after Holm's adjustment over counts of images and measures "
                             "(`05_gan_effect.csv`).")
    assert "1280 images" in lines[1] and "the images helped (" in lines[1]


def test_the_pooled_rows_are_the_per_fold_tables_all_rows():
    """Notebook 05 computes the effect table once, per fold, and takes its `all` rows as the pooled table: the
    same draws and the same Holm families as computing it again without folds."""
    runs = [_at(_run("proposed", "none", 0, ["p4"], fold=1), folds=[1, 2]),
            _at(_run("proposed", "cwgan", 0, fold=1), folds=[1, 2]),
            _at(_run("proposed", "none", 0, fold=2, prefix="q"), folds=[1, 2]),
            _at(_run("proposed", "cwgan", 0, ["q1"], fold=2, prefix="q"), folds=[1, 2])]
    pooled = gan_effect_table(runs, "breakhis", n_resamples=100)
    by_fold = gan_effect_table(runs, "breakhis", n_resamples=100, per_fold=True)
    taken = by_fold[by_fold["fold"] == "all"].drop(columns="fold").reset_index(drop=True)
    pd.testing.assert_frame_equal(pooled, taken)


def _scored(patients, classes, seed, run):
    """Predictions of one ``run`` on ``patients`` (2-5 images each, as ``seed`` decides), with tied and
    untied probabilities."""
    sizes = np.random.default_rng(seed).integers(2, 6, len(patients))
    rng = np.random.default_rng([seed, run])
    rows = []
    for i, patient in enumerate(patients):
        label = classes[i % len(classes)]  # every class among the patients
        for j in range(sizes[i]):
            probs = rng.dirichlet(np.ones(len(classes)))
            if rng.random() < 0.7:
                probs = 0.5 * probs + 0.5 * np.eye(len(classes))[classes.index(label)]
            probs = np.round(probs, 1 if j % 2 else 3)  # ties within and across patients
            probs[-1] = 1 - probs[:-1].sum()
            rows.append({"path": f"{patient}/{j}.png", "patient": patient, "label": label,
                         "pred": classes[int(np.argmax(probs))], **{f"p_{c}": p for c, p in zip(classes, probs)}})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("classes", [["benign", "malignant"], ["Benign", "InSitu", "Invasive", "Normal"]])
@pytest.mark.parametrize("measure", ["accuracy", "balanced_accuracy", "roc_auc", "patient_level_rate"])
def test_the_bootstrap_over_many_draws_at_once_equals_scoring_each_resampled_table(classes, measure):
    # The effect tables score every draw at once (Measure.over_units); the reference is the measure called on
    # each resampled table, as bclib did before. Overlapping folds, two seeds a fold, draws where ROC AUC is
    # undefined (a class not drawn): the same draws kept, the same values up to rounding.
    from bclib.evaluation.scores import statistic
    from bclib.evaluation.uncertainty import paired_runs_bootstrap

    patients = [f"P{i}" for i in range(10)]
    pairs = {}
    for fold, tested in ((1, patients[:7]), (2, patients[4:])):
        for seed in (0, 1):
            pairs[(fold, seed)] = (_scored(tested, classes, fold, seed), _scored(tested, classes, fold, 9))
    score = statistic(measure, classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn: a resample predicting a class none of its images has
        fast = paired_runs_bootstrap(pairs, score, 60, seed=3, fixed_levels=1)
        reference = paired_runs_bootstrap(pairs, lambda frame: score(frame), 60, seed=3, fixed_levels=1)
    assert fast["difference"] == reference["difference"]
    assert 0 < len(fast["draws"]) == len(reference["draws"])
    np.testing.assert_allclose(fast["draws"], reference["draws"], rtol=0, atol=1e-12)
    if measure == "roc_auc":
        assert len(fast["draws"]) < 60  # some draws lacked a class and were skipped in both


def test_a_protocol_of_one_fold_reads_in_the_singular():
    from bclib.evaluation.effects import protocol_of

    def record(folds):
        return {"split": "cv", "params": {"data": {"folds": folds}}}

    assert protocol_of(record([1])) == "cv fold 1"  # as the smoke profile's GAN question is labelled
    assert protocol_of(record([1, 2])) == "cv folds 1, 2"
    assert protocol_of({"split": "patient", "params": {"data": {}}}) == "patient split"


@pytest.mark.parametrize("classes", [["benign", "malignant"], ["Benign", "InSitu", "Invasive", "Normal"]])
@pytest.mark.parametrize("measure", ["accuracy", "balanced_accuracy", "roc_auc", "patient_level_rate"])
def test_the_one_and_two_run_bootstraps_over_many_draws_equal_scoring_each_resampled_table(classes, measure):
    # bootstrap_interval, paired_bootstrap and two_sample_bootstrap score every draw at once as well; the
    # reference is the measure called on each resampled table (a plain function has no over_units).
    from bclib.evaluation.scores import statistic
    from bclib.evaluation.uncertainty import bootstrap_values, paired_bootstrap, two_sample_bootstrap

    patients = [f"P{i}" for i in range(8)]
    a, b = _scored(patients, classes, 1, 0), _scored(patients, classes, 1, 1)
    other = _scored([f"Q{i}" for i in range(6)], classes, 2, 0)
    score = statistic(measure, classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn: a resample predicting a class none of its images has
        for group in ("patient", None):  # patients as clusters, then images
            fast, reference = (bootstrap_values(a, s, 60, 5, group) for s in (score, lambda f: score(f)))
            assert 0 < len(fast) == len(reference)
            np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-12)
            for compare, second in ((paired_bootstrap, b), (two_sample_bootstrap, other)):
                fast, reference = (compare(a, second, s, 60, 0.95, 5, group) for s in (score, lambda f: score(f)))
                assert fast.keys() == reference.keys()
                for key in fast:
                    np.testing.assert_allclose(fast[key], reference[key], rtol=0, atol=1e-12, err_msg=key)
