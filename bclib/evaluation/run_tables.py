"""The report's tables, every number recomputed from the runs' ``predictions.csv``: scores with patient-bootstrap
intervals, this run beside the paper's tables, the encoders beside the models, paired comparisons, the stain
ablation and the leakage comparison. Tables over several seeds show their mean and standard deviation, with the
per-seed rows in a table of their own; comparisons between two runs resample patients (:func:`paired_table`)."""

from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from .. import catalogue
from ..reference import paper_table
from .loading import Run
from .scores import has_patients, headline_metrics, patient_level_rates, per_class_table, statistic
from .selection import choose_on_validation
from .uncertainty import bootstrap_interval, paired_bootstrap, patient_mcnemar, two_sample_bootstrap

PAPER_PER_CLASS = {"breakhis": "table11_breakhis_per_class", "bach": "table12_bach_per_class"}
HEADLINES = ("accuracy", "balanced_accuracy", "roc_auc", "patient_level_rate")


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
    from_counts = _paper_accuracy_from_counts(dataset)
    headline = catalogue.HEADLINE_MODEL
    ours = summary.xs(headline, level="model") if headline in summary.index.get_level_values("model") else None
    rows = []
    for variant in ["none", "tradaug", "cwgan", "tradaug+cwgan"]:
        # The paper's Table 14 beside the accuracy its own confusion counts imply: they disagree
        # (paper_results.yaml, table14_proposed_accuracy.inconsistency).
        row = {"variant": variant, "paper_accuracy_%": paper.get(variant, np.nan),
               "paper_counts_accuracy_%": from_counts.get(variant, np.nan)}
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


def _paper_accuracy_from_counts(dataset: str) -> dict:
    """Per variant of the proposed model, the accuracy (%) that the paper's per-class confusion counts imply
    (Table 11 for BreakHis, Table 12 for BACH): correct = the sum of the classes' true positives."""
    table = paper_table("table11_breakhis_per_class" if dataset == "breakhis" else "table12_bach_per_class")
    rows = table[(table["bclib_model"] == catalogue.HEADLINE_MODEL) & (table["class"] != "Average")]
    accuracy = {}
    for variant, part in rows.groupby("bclib_variant"):
        first = part.iloc[0]
        images = first["TP"] + first["TN"] + first["FP"] + first["FN"]
        accuracy[variant] = 100 * part["TP"].sum() / images
    return accuracy


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
            result = patient_mcnemar(runs[a].predictions, runs[b].predictions, runs[a].classes,
                                     threshold_a=runs[a].record.get("decision_threshold"),
                                     threshold_b=runs[b].record.get("decision_threshold"))
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
            test = patient_mcnemar(ra.predictions, rb.predictions, ra.classes,
                                   threshold_a=ra.record.get("decision_threshold"),
                                   threshold_b=rb.record.get("decision_threshold"))
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
