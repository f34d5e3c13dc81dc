"""What notebook 05 reports: scores with intervals, this run beside the paper, and report.md / report.html.

Inputs are finished classifier runs (folders written by ``bclib.train``); every
number is recomputed here from their ``predictions.csv`` so the report never
repeats a figure it cannot trace to predictions.

Nothing is chosen on the test set. Where one configuration has to be picked
(the best baseline, the seed shown in a figure) the choice is made on the
validation score of the weights each run kept (:func:`validation_score`), and
tables over several seeds show their mean and standard deviation, with the
per-seed rows in a table of their own. Comparisons between two runs resample
patients (:func:`paired_table`). Every table in the report says how its rows
were chosen (``Report.table(..., rows=...)``).
"""

from __future__ import annotations

import base64
import html
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from .. import catalogue
from ..io import write_text_atomic
from ..reference import paper_table
from .scores import has_patients, headline_metrics, patient_level_rates, per_class_table, statistic
from .uncertainty import bootstrap_interval, paired_bootstrap, patient_mcnemar, two_sample_bootstrap

PAPER_PER_CLASS = {"breakhis": "table11_breakhis_per_class", "bach": "table12_bach_per_class"}
HEADLINES = ("accuracy", "balanced_accuracy", "roc_auc", "patient_level_rate")


@dataclass
class Run:
    """One finished classifier run: its record (``run.json``), test predictions and training history."""

    folder: Path
    record: dict
    predictions: pd.DataFrame
    history: Optional[pd.DataFrame] = None

    @property
    def name(self) -> str:
        split = "" if self.record["split"] != "image" else " [image split]"
        data = self.record.get("params", {}).get("data", {})
        where = f"fold-{self.record['fold']}/" if data.get("folds") and self.record.get("fold") else ""
        if self.record.get("magnification_protocol") == "per_magnification" and self.record.get("magnifications"):
            where += f"mag-{'+'.join(self.record['magnifications'])}/"
        stain = data.get("stain_normalization", "none")
        stain = "" if stain in (None, "none") else f" [{stain}]"
        return f"{where}{self.record['model']}/{self.record['variant']}/seed-{self.record['seed']}{split}{stain}"

    @property
    def classes(self) -> list[str]:
        return list(self.record["classes"])


def load_run(folder: str | Path) -> Run:
    folder = Path(folder)
    record = json.loads((folder / "run.json").read_text())
    predictions = pd.read_csv(folder / "predictions.csv", keep_default_na=False, dtype={"patient": str})
    history = pd.read_csv(folder / "history.csv") if (folder / "history.csv").is_file() else None
    return Run(folder, record, predictions, history)


def finished_runs(jobs) -> list[Run]:
    """The runs of ``jobs`` (``bclib.train.jobs.ClassifierJob``) that have finished, in job order."""
    from ..train import run_is_complete

    return [load_run(job.out_dir) for job in jobs if run_is_complete(job.out_dir)]


def split_description(runs: Sequence[Run], split: str, fold_policy: str) -> list[str]:
    """What the report says of the split its runs used: the method (and the fold policy of published folds),
    then every note the runs recorded (a patient set aside, a class too small for every part), each once."""
    head = f"Split: {split}" + (f" (the published folds, fold_policy {fold_policy})" if split == "folds" else "") + "."
    notes = []
    for run in runs:
        notes += [n for n in run.record.get("split_notes", []) if n not in notes]
    return [head, *notes]


def validation_score(run: Run) -> Optional[dict]:
    """Validation loss and accuracy of the weights the run kept, from its ``history.csv``; None without one.

    Under ``train.restore_best_weights`` (the default) the kept weights are those of
    the last stage's epoch with the lowest validation loss (Keras' EarlyStopping
    restores them at the end of training); otherwise the last epoch's.
    A ``validation`` entry in ``run.json`` (keys val_loss, val_accuracy) is used as is.
    """
    if isinstance(run.record.get("validation"), dict):
        return dict(run.record["validation"])
    history = run.history
    if history is None or not {"val_loss", "val_accuracy"} <= set(history.columns) or history.empty:
        return None
    if "stage" in history:
        history = history[history["stage"] == history["stage"].max()]
    history = history.dropna(subset=["val_loss"])
    if history.empty:
        return None
    restore = run.record.get("params", {}).get("train", {}).get("restore_best_weights", True)
    row = history.loc[history["val_loss"].idxmin()] if restore else history.iloc[-1]
    epoch = int(row["epoch"]) if "epoch" in row else int(row.name) + 1
    return {"val_loss": float(row["val_loss"]), "val_accuracy": float(row["val_accuracy"]), "epoch": epoch}


@dataclass
class Choice:
    """A configuration (model and variant) chosen on validation, with all its seeds."""

    runs: list  # every seed of the chosen configuration, in seed order
    best_seed: Run  # the seed with the best validation score: the one figures show
    candidates: pd.DataFrame  # every configuration considered, with its validation means
    rule: str  # how the choice was made, in words

    @property
    def name(self) -> str:
        return f"{self.best_seed.record['model']}/{self.best_seed.record['variant']}"


def _validation_key(run: Run) -> tuple:
    score = validation_score(run)
    return (-score["val_accuracy"], score["val_loss"], run.record["seed"]) if score else (np.inf, np.inf,
                                                                                         run.record["seed"])


def choose_on_validation(runs: Sequence[Run], proposed: bool, split: str = "patient",
                         encoders: bool = False) -> Optional[Choice]:
    """The proposed model's (or the best baseline's, or with ``encoders`` the best foundation encoder's)
    configuration on ``split``, chosen on validation only.

    Configurations (model, variant) are ranked by their mean validation accuracy
    over seeds (ties: lower mean validation loss); test predictions are never
    looked at. For the proposed model ``tradaug+cwgan`` is taken when present (the
    paper's headline configuration, fixed in advance). Runs without validation
    numbers are ranked last, in job order; if none has any, the first
    configuration in job order is taken and ``rule`` says so.
    """
    # the baselines are the single-backbone models: proposed-gap (the other reading of the fusion model) is
    # compared with proposed directly (comparison_pairs), never picked as "the best baseline"
    # The encoders (bclib.models.foundation) are a different question, the field's 2024 baseline, and have a
    # choice of their own: a paper baseline is one of its ImageNet CNNs.
    fusion, encoder_models = catalogue.fusion_models(), catalogue.encoder_models()
    if encoders:
        wanted = lambda m: m in encoder_models  # noqa: E731
    else:
        wanted = (lambda m: m == catalogue.HEADLINE_MODEL) if proposed else (lambda m: m not in fusion + encoder_models)
    pool = [r for r in runs if wanted(r.record["model"]) and r.record["split"] == split]
    fixed = proposed and any(r.record["variant"] == "tradaug+cwgan" for r in pool)
    if fixed:
        pool = [r for r in pool if r.record["variant"] == "tradaug+cwgan"]
    if not pool:
        return None
    rows, order = [], {}
    for r in pool:
        key = (r.record["model"], r.record["variant"])
        order.setdefault(key, len(order))
        score = validation_score(r) or {}
        rows.append({"model": key[0], "variant": key[1], "seed": r.record["seed"],
                     "val_accuracy": score.get("val_accuracy", np.nan), "val_loss": score.get("val_loss", np.nan)})
    per_seed = pd.DataFrame(rows)
    candidates = per_seed.groupby(["model", "variant"], sort=False).agg(
        seeds=("seed", "size"), val_accuracy_mean=("val_accuracy", "mean"), val_loss_mean=("val_loss", "mean"))
    candidates["job_order"] = [order[k] for k in candidates.index]
    candidates = candidates.sort_values(["val_accuracy_mean", "val_loss_mean", "job_order"],
                                        ascending=[False, True, True], na_position="last")
    model, variant = candidates.index[0]
    chosen = sorted((r for r in pool if (r.record["model"], r.record["variant"]) == (model, variant)),
                    key=lambda r: r.record["seed"])
    if fixed:
        rule = "proposed model: tradaug+cwgan, the paper's headline configuration, fixed in advance"
    elif candidates["val_accuracy_mean"].notna().any():
        rule = (f"best {'encoder' if encoders else 'baseline'} chosen on mean validation accuracy over seeds "
                "(ties: validation loss) "
                "among " + ", ".join(f"{m}/{v}" for m, v in candidates.index))
    else:
        rule = "no run records validation scores: first configuration in job order (not chosen on test)"
    best_seed = min(chosen, key=_validation_key)
    return Choice(chosen, best_seed, candidates.drop(columns="job_order"), rule)


def best_run(runs: Sequence[Run], proposed: bool, split: str = "patient") -> Optional[Run]:
    """The seed with the best validation score of the configuration :func:`choose_on_validation` picks."""
    choice = choose_on_validation(runs, proposed, split)
    return choice.best_seed if choice else None


def balanced_examples(predictions: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` test rows taking each class in turn (first rows of each class), for figures."""
    groups = [g for _, g in predictions.groupby("label", sort=True)]
    picked = [g.iloc[i] for i in range(n) for g in groups if i < len(g)]
    return pd.DataFrame(picked[:n])


def real_and_generated(params, n: int) -> tuple[list[str], list[str]]:
    """Up to ``n`` training images of the cWGAN's class and ``n`` of its generated images (empty if none)."""
    from ..data.index import index_from_params, index_generated
    from ..data.splits import split_from_params

    folder = params.output_dir / "generated"
    if not (folder / "manifest.csv").is_file():
        return [], []
    index = index_from_params(params)
    generated = index_generated(folder, index.class_names).frame
    split = split_from_params(index, params)
    real = split[(split["part"] == "train") & split["label"].isin(generated["label"].unique())]
    return list(real["path"].iloc[:n]), list(generated["path"].iloc[:n])


def predicts_one_class(predictions: pd.DataFrame) -> bool:
    """True when every test patient (every image, without patient ids) gets the same predicted class:
    the patient's class is the one predicted for most of their images."""
    if has_patients(predictions):
        votes = predictions.groupby("patient")["pred"].agg(lambda p: p.value_counts().index[0])
        return votes.nunique() == 1
    return predictions["pred"].nunique() == 1


def run_scores(runs: Sequence[Run], n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """One row per run: each headline measure with its bootstrap interval (patients resampled), the share
    of the test set's largest class (what always answering that class scores) and whether the run
    predicts one class for every test patient."""
    rows = []
    for run in runs:
        measured = headline_metrics(run.predictions, run.classes)
        row = {"model": run.record["model"], "variant": run.record["variant"], "seed": run.record["seed"],
               "split": run.record["split"], "n_test": measured["n_images"],
               "n_patients": measured.get("n_patients", np.nan),
               "majority_share": float(run.predictions["label"].value_counts(normalize=True).iloc[0]),
               "one_class": predicts_one_class(run.predictions)}
        for name in HEADLINES:
            if name not in measured:
                continue
            with warnings.catch_warnings():  # resamples with one class only: sklearn warns, the value stands
                warnings.simplefilter("ignore", UserWarning)
                estimate, low, high = bootstrap_interval(run.predictions, statistic(name, run.classes),
                                                         n_resamples, confidence, seed)
            row |= {name: estimate, f"{name}_low": low, f"{name}_high": high}
        rows.append(row)
    return pd.DataFrame(rows)


def over_seeds(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each headline measure, per model, variant and split."""
    present = [m for m in HEADLINES if m in scores]
    grouped = scores.groupby(["model", "variant", "split"])[present]
    table = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).add_suffix("_std"))
    table.insert(0, "seeds", grouped.size().astype(int))
    return table[["seeds"] + [f"{m}_{s}" for m in present for s in ("mean", "std")]]


def with_spread(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The :func:`over_seeds` table with each measure shown as ``mean ± sd`` (``sd`` blank for one seed)."""
    shown = summary[["seeds"]].copy()
    for m in HEADLINES:
        if f"{m}_mean" in summary:
            shown[m] = ["" if pd.isna(mean) else f"{mean:.{digits}f}" + ("" if pd.isna(sd) else f" ± {sd:.{digits}f}")
                        for mean, sd in zip(summary[f"{m}_mean"], summary[f"{m}_std"])]
    return shown


def patient_rates_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Patient-level recognition rate per magnification (rows) for each run with patient ids (columns)."""
    columns = {}
    for run in runs:
        try:
            columns[run.name] = patient_level_rates(run.predictions)["rate"]
        except ValueError:  # no patient ids (BACH)
            continue
    return pd.DataFrame(columns)


def with_interval(scores: pd.DataFrame, measures: Sequence[str] = HEADLINES, digits: int = 3) -> pd.DataFrame:
    """The scores table with each measure shown as ``estimate [low, high]``."""
    shown = scores[[c for c in ("model", "variant", "seed", "split", "n_test", "n_patients") if c in scores]].copy()
    for m in measures:
        if m in scores:
            shown[m] = [f"{e:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]" if pd.notna(e) else ""
                        for e, lo, hi in zip(scores[m], scores[f"{m}_low"], scores[f"{m}_high"])]
    if "majority_share" in scores:
        shown["majority_share"] = scores["majority_share"].map(lambda v: f"{v:.{digits}f}")
    if "one_class" in scores:
        shown["warning"] = ["ONE CLASS for every test patient" if flag else "" for flag in scores["one_class"]]
    return shown


def _as_runs(runs) -> list:
    return [runs] if isinstance(runs, Run) else list(runs)


def per_class_per_seed(runs) -> pd.DataFrame:
    """The per-class table of every run, stacked with its seed as the outer row key."""
    runs = _as_runs(runs)
    return pd.concat({r.record["seed"]: per_class_table(r.predictions["label"], r.predictions["pred"], r.classes)
                      for r in runs}, names=["seed", "class"])


def per_class_beside_paper(runs, dataset: str) -> pd.DataFrame:
    """The per-class table (the paper's Table 11/12 layout) over the seeds of one configuration, beside the paper.

    ``runs`` is one run or all seeds of one configuration (e.g. ``Choice.runs``).
    Columns per measure: ``ours`` (mean over seeds), ``ours sd`` (standard deviation
    over seeds, blank for one seed) and ``paper``, the paper's row for the same model
    and variant (empty where the paper has no such row, e.g. our ``none`` variant of
    the proposed model; left out for BreakHis ``data.task: subtype``, which the paper does not report).
    Per-seed values: :func:`per_class_per_seed`.
    """
    runs = _as_runs(runs)
    stacked = per_class_per_seed(runs).astype(float)
    order = list(runs[0].classes) + ["Average"]
    mean = stacked.groupby(level="class").mean().reindex(order)
    sd = stacked.groupby(level="class").std(ddof=1).reindex(order)
    ours_columns = list(mean.columns)
    paper = paper_table(PAPER_PER_CLASS[dataset])
    record = runs[0].record
    match = paper[(paper["bclib_model"] == record["model"]) & (paper["bclib_variant"] == record["variant"])]
    theirs = match.set_index("class")[ours_columns].reindex(order)
    sides = {"ours": mean, "ours sd": sd, "paper": theirs}
    if not set(runs[0].classes) <= set(paper["class"]):  # BreakHis subtypes: the paper reports benign/malignant
        del sides["paper"]
    both = pd.concat(sides, axis=1).swaplevel(axis=1)
    return both[[(metric, side) for metric in ours_columns for side in sides]]


def accuracy_beside_table14(summary: pd.DataFrame, dataset: str, scores: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """The proposed model's accuracy per variant (mean over seeds, in %) beside the paper's Table 14; with
    ``scores`` (:func:`run_scores`) and one seed, the run's 95% patient-bootstrap interval beside it."""
    paper = paper_table("table14_proposed_accuracy")
    paper = paper[paper["dataset"] == dataset].set_index("bclib_variant")["accuracy"]
    headline = catalogue.HEADLINE_MODEL
    ours = summary.xs(headline, level="model") if headline in summary.index.get_level_values("model") else None
    rows = []
    for variant in ["none", "tradaug", "cwgan", "tradaug+cwgan"]:
        row = {"variant": variant, "paper_accuracy_%": paper.get(variant, np.nan)}
        if ours is not None and (variant, "patient") in ours.index:
            line = ours.loc[(variant, "patient")]
            row |= {"our_accuracy_%": 100 * line["accuracy_mean"], "our_std_%": 100 * line["accuracy_std"],
                    "seeds": str(int(line["seeds"]))}
            mine = (scores[(scores["model"] == headline) & (scores["variant"] == variant)
                           & (scores["split"] == "patient")] if scores is not None else pd.DataFrame())
            if len(mine) == 1:  # one seed: its own interval (several seeds: the spread between them)
                row |= {"our_low_%": 100 * mine["accuracy_low"].iloc[0],
                        "our_high_%": 100 * mine["accuracy_high"].iloc[0]}
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")


def encoders_beside_models(scores: pd.DataFrame, runs: Sequence[Run], dataset: str) -> pd.DataFrame:
    """The foundation-encoder runs beside the proposed headline configuration and the best baseline (both chosen
    on validation), on the main split: balanced accuracy and accuracy as estimate [95% interval], and eva's
    published linear-probe balanced accuracy for the same encoder where it has one (its splits differ)."""
    from ..reference import eva_reference

    main = [r for r in runs if r.record["split"] != "image"]
    split = main[0].record["split"] if main else "patient"
    chosen = [c for c in (choose_on_validation(main, True, split), choose_on_validation(main, False, split)) if c]
    keep = {(r.record["model"], r.record["variant"], r.record["seed"]) for c in chosen for r in c.runs}
    keep |= {(r.record["model"], r.record["variant"], r.record["seed"]) for r in main
             if r.record["model"] in catalogue.encoder_models()}
    rows = scores[[(m, v, s) in keep and sp == split for m, v, s, sp in
                   zip(scores["model"], scores["variant"], scores["seed"], scores["split"])]]
    shown = with_interval(rows, ("balanced_accuracy", "accuracy"))
    shown.insert(1, "model_label", [catalogue.entry(m).label for m in shown["model"]])
    shown["eva_probe_balanced_accuracy"] = [
        eva_reference(catalogue.entry(m).backbones[0], dataset) if catalogue.entry(m).encoder else None
        for m in shown["model"]]
    return shown.drop(columns=["warning"], errors="ignore").reset_index(drop=True)


def mcnemar_table(runs: dict[str, Run], pairs: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Exact McNemar test on patient-level decisions for each (a, b) pair of runs scored on the same test images.

    Images of one patient are not independent, so each patient is one unit
    (:func:`bclib.evaluation.uncertainty.patient_decisions`); without patient ids
    (BACH) each image is.
    """
    rows = []
    for a, b in pairs:
        try:
            result = patient_mcnemar(runs[a].predictions, runs[b].predictions, runs[a].classes)
        except ValueError:
            raise ValueError(f"{a} and {b} were not scored on the same test images") from None
        rows.append({"a": a, "b": b, **result})
    return pd.DataFrame(rows)


def paired_table(runs: dict[str, Run], pairs: Sequence[tuple[str, str]], n_resamples: int = 1000,
                 confidence: float = 0.95, seed: int = 0, measure: str = "accuracy") -> pd.DataFrame:
    """For each (a, b) pair: the difference in ``measure`` with a paired patient-bootstrap interval,
    and McNemar's exact test on patient-level decisions. ``units``: patients resampled (images where the runs
    have no patient ids, as for BACH)."""
    rows = []
    for a, b in pairs:
        ra, rb = runs[a], runs[b]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                diff = paired_bootstrap(ra.predictions, rb.predictions, statistic(measure, ra.classes),
                                        n_resamples, confidence, seed)
            test = patient_mcnemar(ra.predictions, rb.predictions, ra.classes)
        except ValueError as exc:
            if "same test images" in str(exc):
                raise ValueError(f"{a} and {b} were not scored on the same test images") from None
            raise
        rows.append({"a": a, "b": b, f"{measure}_a": statistic(measure, ra.classes)(ra.predictions),
                     f"{measure}_b": statistic(measure, rb.classes)(rb.predictions),
                     "difference": diff["difference"], "low": diff["low"], "high": diff["high"],
                     "units": diff["clusters"], "only_a_correct": test["only_a_correct"],
                     "only_b_correct": test["only_b_correct"], "mcnemar_p": test["p_value"]})
    return pd.DataFrame(rows)


def comparison_pairs(runs: Sequence[Run]) -> list[tuple[str, str]]:
    """Run-name pairs worth testing, per seed on the main split: each proposed variant against the
    proposed model without augmentation, ``proposed`` against ``proposed-gap`` (Table 6 read literally)
    variant by variant, and the proposed headline configuration against the baseline configuration
    chosen on validation (:func:`choose_on_validation`)."""
    main = [r for r in runs if r.record["split"] != "image"]
    split = main[0].record["split"] if main else "patient"
    headline, baseline = choose_on_validation(main, True, split), choose_on_validation(main, False, split)
    encoder = choose_on_validation(main, False, split, encoders=True)
    pairs = []
    for seed in sorted({r.record["seed"] for r in main}):
        same_seed = [r for r in main if r.record["seed"] == seed]
        proposed = {r.record["variant"]: r for r in same_seed if r.record["model"] == catalogue.HEADLINE_MODEL}
        if "none" in proposed:
            pairs += [(proposed["none"].name, r.name) for v, r in proposed.items() if v != "none"]
        literal = {r.record["variant"]: r for r in same_seed if r.record["model"] == catalogue.LITERAL_FUSION}
        pairs += [(proposed[v].name, r.name) for v, r in literal.items() if v in proposed]  # the two readings
        for other in (baseline, encoder):  # the headline against the best baseline, then the best encoder
            if headline and other:
                a = [r for r in headline.runs if r.record["seed"] == seed]
                b = [r for r in other.runs if r.record["seed"] == seed]
                if a and b:
                    pairs.append((a[0].name, b[0].name))
    return pairs


def stain_ablation_table(runs: Sequence[Run], stain_runs: Sequence[Run], n_resamples: int = 1000,
                         confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Each stain-normalised run against the same model, variant and seed without it (same split, same test
    images): the accuracy difference with a paired patient-bootstrap interval and McNemar's test
    (:func:`paired_table`); ``a`` is the normalised run."""
    plain = {(r.record["model"], r.record["variant"], r.record["seed"]): r for r in runs
             if r.record["split"] != "image"}
    named, pairs = {}, []
    for run in stain_runs:
        partner = plain.get((run.record["model"], run.record["variant"], run.record["seed"]))
        if partner is not None:
            named[run.name], named[partner.name] = run, partner
            pairs.append((run.name, partner.name))
    return paired_table(named, pairs, n_resamples, confidence, seed)


def leakage_table(patient_scores: pd.DataFrame, image_scores: pd.DataFrame, runs: Sequence[Run] = (),
                  n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """The same model under the patient-disjoint and the image-level split, and the accuracy gap.

    With ``runs`` (those the scores came from), the gap gets an interval
    (``gap_low``, ``gap_high``) from resampling each split's test patients
    independently (:func:`two_sample_bootstrap`): the two splits test different
    images, so a paired interval would be wrong.
    """
    keys = ["model", "variant", "seed"]
    merged = patient_scores.merge(image_scores, on=keys, suffixes=("_patient", "_image"))
    columns = keys + [f"{m}_{s}" for m in ("accuracy", "accuracy_low", "accuracy_high") for s in ("patient", "image")]
    table = merged[columns].copy()
    table["gap_image_minus_patient"] = table["accuracy_image"] - table["accuracy_patient"]
    if runs:
        bounds = [_leakage_interval(runs, row, n_resamples, confidence, seed) for row in merged.to_dict("records")]
        table["gap_low"], table["gap_high"] = [b[0] for b in bounds], [b[1] for b in bounds]
    return table


def leakage_shown(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`leakage_table` for reading: each split's accuracy and the gap as ``estimate [low, high]``."""
    def cell(estimate, low, high):
        return "" if pd.isna(estimate) else f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    shown = table[["model", "variant", "seed"]].copy()
    for split in ("patient", "image"):
        shown[f"{split} split"] = [cell(*v) for v in zip(table[f"accuracy_{split}"], table[f"accuracy_low_{split}"],
                                                          table[f"accuracy_high_{split}"])]
    low, high = (table[c] if c in table else pd.Series(np.nan, index=table.index) for c in ("gap_low", "gap_high"))
    shown["gap (image - patient)"] = [
        f"{g:+.{digits}f}" + ("" if pd.isna(lo) else f" [{lo:+.{digits}f}, {hi:+.{digits}f}]")
        for g, lo, hi in zip(table["gap_image_minus_patient"], low, high)]
    return shown


def _leakage_interval(runs: Sequence[Run], row: dict, n_resamples: int, confidence: float,
                      seed: int) -> tuple[float, float]:
    def find(split: str) -> Optional[Run]:
        return next((r for r in runs if r.record["split"] == split and all(
            r.record[k] == row[k] for k in ("model", "variant", "seed"))), None)

    image, patient = find(row["split_image"]), find(row["split_patient"])
    if image is None or patient is None:
        return np.nan, np.nan
    gap = two_sample_bootstrap(image.predictions, patient.predictions, statistic("accuracy", image.classes),
                               n_resamples, confidence, seed)
    return gap["low"], gap["high"]


# ---------------------------------------------------------------------------
# report.md and report.html


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Tables as shown in the report: row keys as columns, two-level headers joined ('TP this run'),
    columns with no value at all left out (a standard deviation over one seed), whole numbers as integers."""
    shown = frame.reset_index() if isinstance(frame.index, pd.MultiIndex) else frame.copy()
    if isinstance(shown.columns, pd.MultiIndex):
        shown.columns = [" ".join(str(p) for p in col if str(p)).strip() for col in shown.columns]
    shown = shown.loc[:, [not shown[c].isna().all() for c in shown.columns]] if len(shown) else shown
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_float_dtype(values) and values.dropna().apply(float.is_integer).all():
            # Blank where there is no value (the Average row has no counts): Markdown would print "<NA>".
            shown[column] = values.astype("Int64").astype(object).where(values.notna(), "")
    return shown


def _embedded_png(png: Path) -> str:
    """The figure as a data URI, so that report.html shows it when opened on its own."""
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


@dataclass
class Report:
    """Sections of text, tables and figures, written as Markdown and as a self-contained HTML page."""

    title: str
    provenance: str
    sections: list = field(default_factory=list)

    def text(self, heading: Optional[str], body: str = "") -> None:
        self.sections.append(("text", heading, body))

    def table(self, caption: str, frame: pd.DataFrame, csv_name: Optional[str] = None, *, rows: str,
              digits: int = 3) -> None:
        """Add a table; ``rows`` says how its rows were chosen (e.g. "mean ± sd over 3 seeds"), shown beside it;
        numbers are shown with ``digits`` decimals."""
        if not rows or not rows.strip():
            raise ValueError(f"table {caption!r}: say how its rows were chosen (rows=...)")
        self.sections.append(("table", caption, (frame, csv_name, rows.strip(), digits)))

    def figure(self, caption: str, png: Path) -> None:
        self.sections.append(("figure", caption, Path(png)))

    def _markdown(self, out_dir: Path) -> str:
        lines = [f"# {self.title}", "", f"> {self.provenance}", ""]
        for kind, caption, body in self.sections:
            if kind == "text":
                lines += ([f"## {caption}", ""] if caption else []) + ([body, ""] if body else [])
            elif kind == "table":
                frame, csv_name, rows, digits = body
                lines += [f"**{caption}**" + (f" (`tables/{csv_name}.csv`)" if csv_name else "")
                          + f" - our side: {self.provenance}", "", f"*Rows: {rows}*", "",
                          _flat(frame).to_markdown(floatfmt=f".{digits}f"), ""]
            else:
                lines += [f"![{caption}]({body.relative_to(out_dir).as_posix()})", "", f"*{caption}*", ""]
        return "\n".join(lines)

    def _html(self, out_dir: Path) -> str:
        parts = [f"<h1>{html.escape(self.title)}</h1>", f"<p class='prov'>{html.escape(self.provenance)}</p>"]
        for kind, caption, body in self.sections:
            if kind == "text":
                if caption:
                    parts.append(f"<h2>{html.escape(caption)}</h2>")
                parts += [f"<p>{html.escape(p)}</p>" for p in body.split("\n\n") if p.strip()]
            elif kind == "table":
                parts += [f"<p><b>{html.escape(caption)}</b> <span class='prov'>our side: "
                          f"{html.escape(self.provenance)}</span><br><i>Rows: {html.escape(body[2])}</i></p>",
                          "<div class='wide'>" + _flat(body[0]).to_html(float_format=f"%.{body[3]}f", na_rep="")
                          + "</div>"]
            else:
                parts.append(f"<figure><img src='{_embedded_png(body)}' alt='{html.escape(caption, quote=True)}' "
                             f"style='max-width:100%'><figcaption>{html.escape(caption)}</figcaption></figure>")
        style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;"
                 "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}.prov{color:#a00000}"
                 ".wide{overflow-x:auto;max-width:100%}")
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``report.md`` and ``report.html`` into ``out_dir`` (each written, then renamed)."""
        out_dir = Path(out_dir)
        return (write_text_atomic(out_dir / "report.md", self._markdown(out_dir)),
                write_text_atomic(out_dir / "report.html", self._html(out_dir)))
