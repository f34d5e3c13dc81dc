"""Does adding cWGAN images help? The paper's question as one table of paired differences.

For each model and each contrast (``cwgan - none``, ``tradaug+cwgan - tradaug``) the effect is the
difference of a measure between the run with cWGAN images and the same run without, on the same test
images: the mean over folds of the mean over GAN seeds of the mean over classifier seeds. Its interval
comes from one bootstrap (:func:`bclib.evaluation.uncertainty.paired_runs_bootstrap`, shared with
:mod:`.pretraining`) that counts what a rerun would change:

* **patients**, drawn once per draw from all folds' test patients together. BreakHis's published folds
  are five random 70/30 patient hold-outs (Spanhol et al. 2016), so one patient is tested in several
  folds; a patient drawn counts, as often as it was drawn, in every fold that tests it, not as a new
  patient in each. Folds that partition the patients (``split: cv``) take their parts of the same draw.
* **training runs**: within each fold the GAN seeds (where run records carry ``gan_seed``) and, within
  each, the classifier seeds are drawn with replacement, so a lucky GAN or initialisation is not read as
  an effect. With one GAN and one seed per fold (today's profiles) the interval counts patients only;
  the ``gan_seeds`` and ``seeds`` columns say so. Folds are the design and are never resampled.

One measure is the **primary endpoint** (``eval.primary_endpoint`` of the profile the runs were trained
with; the patient-level rate by default, accuracy where there are no patient ids), the others are
secondary. The verdicts of one model, protocol and contrast (every count of cWGAN images times every
measure) are one family: each row has a two-sided bootstrap p-value (:func:`bootstrap_p_value`) and
Holm's adjustment of it over the family (``p_holm``, ``excludes_0_holm``), beside the unadjusted
interval. The paper's claimed difference (Table 14, proposed model only, image-level split) stands beside it.

Runs of different protocols (the profile's own split, the folds of ``eval.gan_folds``) and different
counts of cWGAN images (``train.cwgan_images``: a dose-response) are never pooled: each (protocol,
count) is its own row, and the run without GAN images is the zero of every count.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from .. import catalogue
from ..reference import paper_table
from ..variants import CONTROLS, contrasts
from .scores import has_patients, statistic
from .uncertainty import bootstrap_p_value, paired_runs_bootstrap, percentile_interval

# bclib.variants.contrasts(): the paper's two (cwgan - none, tradaug+cwgan - tradaug), then each control
# against the run without extra images; read beside cwgan - none at the same count, the controls tell "more
# images" from "realistic images of the class". A registered arm adds its own row.
MEASURES = ("patient_level_rate", "balanced_accuracy", "roc_auc")
PRIMARY_ENDPOINT = "patient_level_rate"  # the default of eval.primary_endpoint
FAMILY = ["model", "protocol", "contrast"]  # one Holm family: every count of cWGAN images x every measure


def protocol_of(record: dict) -> str:
    """The protocol a run belongs to, as the effect table names it: ``patient split`` for a profile of one
    split, ``cv folds 1, 2`` for the folds of one experiment (``cv fold 1`` for one), with ``, 40X model``
    for one magnification's models under ``per_magnification``."""
    folds = record.get("params", {}).get("data", {}).get("folds")
    protocol = (f"{record['split']} fold{'s' if len(folds) > 1 else ''} {', '.join(str(k) for k in folds)}" if folds
                else f"{record['split']} split")
    if record.get("magnification_protocol") == "per_magnification" and record.get("magnifications"):
        protocol += f", {'+'.join(record['magnifications'])} model"  # other test images: a row of its own
    return protocol


def _pairs(runs: Sequence, model: str, with_gan: str, without: str) -> dict:
    """(protocol, count of cWGAN images) -> {(fold, seed, GAN seed): (run with cWGAN images, run without)},
    image split excluded. The run without images pairs with the run of every count and every GAN seed
    (``gan_seed`` of the record; None for one GAN per fold) on its (protocol, fold, seed)."""
    with_runs, without_runs = defaultdict(dict), {}
    for run in runs:
        record = run.record
        if record["model"] != model or record["split"] == "image":
            continue
        where = (protocol_of(record), record.get("fold"), record["seed"])
        if record["variant"] == with_gan:
            with_runs[(where[0], str(record.get("cwgan_images") or "all"))][(*where[1:], record.get("gan_seed"))] = run
        elif record["variant"] == without:
            without_runs[where] = run
    found = {}
    for (protocol, dose), by_key in sorted(with_runs.items(), key=lambda item: (item[0][0], _dose_order(item[0][1]))):
        pairs = {key: (run, without_runs[(protocol, *key[:2])]) for key, run in sorted(by_key.items(), key=str)
                 if (protocol, *key[:2]) in without_runs}
        if pairs:
            found[(protocol, dose)] = pairs
    return found


def _dose_order(dose: str) -> tuple:
    # counts in increasing order, then balance, then all
    return (0, int(dose), "") if dose.isdigit() else (1, 0, dose)


def pooled_difference(pairs: dict, measure: str, n_resamples: int = 1000, confidence: float = 0.95,
                      seed: int = 0) -> dict:
    """The mean over folds, GAN seeds and classifier seeds of ``measure(with) - measure(without)``, with the
    bootstrap interval of the module's docstring and its two-sided p-value. ``pairs`` maps ``(fold, seed)``
    or ``(fold, seed, GAN seed)`` to (run with cWGAN images, run without). ``folds``, ``gan_seeds``,
    ``seeds``: how many of each the pairs hold (``gan_seeds`` 1 where no GAN seed is recorded); ``pairs``:
    the pairs averaged; ``units``: the distinct test patients (images where there are no patient ids) over
    all folds, a patient tested in several folds counted once."""
    design = {(key[0], key[2] if len(key) > 2 else None, key[1]): (a.predictions, b.predictions)
              for key, (a, b) in pairs.items()}
    score = statistic(measure, next(iter(pairs.values()))[0].classes)
    effect = paired_runs_bootstrap(design, score, n_resamples, seed, fixed_levels=1)  # folds kept whole
    low, high = percentile_interval(effect["draws"], confidence)
    return {"difference": effect["difference"], "low": low, "high": high,
            "p_value": bootstrap_p_value(effect["draws"]), "folds": len({k[0] for k in design}),
            "gan_seeds": len({k[1] for k in design}), "seeds": len({k[2] for k in design}), "pairs": len(pairs),
            "units": effect["units"]}


def holm_adjusted(table: pd.DataFrame, confidence: float = 0.95, family: Sequence[str] = FAMILY) -> pd.DataFrame:
    """``table`` with ``p_holm`` (Holm's step-down adjustment of ``p_value`` within each ``family``: every
    count of cWGAN images and every measure of one model, protocol and contrast) and ``excludes_0_holm``
    (``p_holm`` below ``1 - confidence``). Rows without a p-value (no draw defined) are left out of their
    family and get NaN and False."""
    from statsmodels.stats.multitest import multipletests

    adjusted = pd.Series(np.nan, index=table.index)
    for _, rows in table.groupby(list(family), sort=False):
        finite = rows["p_value"].dropna()
        if len(finite):
            adjusted[finite.index] = multipletests(finite.to_numpy(), method="holm")[1]
    return table.assign(p_holm=adjusted, excludes_0_holm=(adjusted < 1 - confidence).to_numpy())


def declared_primary(runs: Sequence) -> str:
    """The primary endpoint the runs' profile declares (``eval.primary_endpoint`` in their records), the
    patient-level rate for records that predate the field; a ValueError if the runs disagree."""
    declared = {r.record.get("params", {}).get("eval", {}).get("primary_endpoint") for r in runs} - {None}
    if len(declared) > 1:
        raise ValueError(f"the runs declare different primary endpoints ({', '.join(sorted(declared))}): "
                         "compare runs of one profile, or pass primary_endpoint")
    return declared.pop() if declared else PRIMARY_ENDPOINT


def _paper_differences(dataset: str) -> dict:
    paper = paper_table("table14_proposed_accuracy")
    accuracy = paper[paper["dataset"] == dataset].set_index("bclib_variant")["accuracy"]
    return {(a, b): (accuracy.get(a, np.nan) - accuracy.get(b, np.nan)) / 100 for a, b in contrasts()}


def gan_effect_table(runs: Sequence, dataset: str, measures: Sequence[str] = MEASURES, n_resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0, models: Optional[Sequence[str]] = None,
                     per_fold: bool = False, primary_endpoint: Optional[str] = None) -> pd.DataFrame:
    """One row per model, protocol, contrast, count of cWGAN images and measure: the pooled paired
    difference (with cWGAN images minus without), its interval and p-value, whether the interval excludes
    zero, whether the measure is the primary endpoint (``endpoint``: primary or secondary; ``primary``),
    Holm's adjustment over the family (:func:`holm_adjusted`), and the paper's claimed difference in
    accuracy (proposed model only; NaN where the paper has no such pair). The primary endpoint is the
    first measure of each group of rows; ``primary_endpoint`` None: as the runs' profile declares
    (:func:`declared_primary`). ``per_fold``: one row per fold as well (``fold`` column; ``all`` for the
    pooled row; each fold its own Holm family). Without patient ids (BACH) the patient-level rate is
    replaced by accuracy and images are resampled."""
    paper = _paper_differences(dataset)
    models = models or sorted({r.record["model"] for r in runs})
    primary = primary_endpoint or declared_primary(runs)
    rows = []
    for model in models:
        for with_gan, without in contrasts():
            for (protocol, dose), pairs in _pairs(runs, model, with_gan, without).items():
                named = has_patients(next(iter(pairs.values()))[0].predictions)
                folds = sorted({key[0] for key in pairs}, key=str) if per_fold else []
                subsets = [("all", pairs)] + [(fold, {k: v for k, v in pairs.items() if k[0] == fold})
                                              for fold in folds if len(folds) > 1]

                # No patient ids (BACH): images are the units, and the patient-level rate becomes plain accuracy.
                def shown(m: str) -> str:
                    return m if named or m != "patient_level_rate" else "accuracy"

                for measure in dict.fromkeys(shown(m) for m in (primary, *measures)):
                    for fold, subset in subsets:
                        effect = pooled_difference(subset, measure, n_resamples, confidence, seed)
                        excludes = effect["low"] > 0 or effect["high"] < 0
                        is_primary = measure == shown(primary)
                        rows.append({"model": model, "protocol": protocol, "contrast": f"{with_gan} - {without}",
                                     "cwgan_images": dose, **({"fold": str(fold)} if per_fold else {}),
                                     "measure": measure, **effect, "interval_excludes_0": bool(excludes),
                                     "endpoint": "primary" if is_primary else "secondary", "primary": is_primary,
                                     "paper_accuracy_difference": paper[(with_gan, without)]
                                     if model == catalogue.HEADLINE_MODEL else np.nan})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table = holm_adjusted(table, confidence, FAMILY + (["fold"] if per_fold else []))
    paper_column = table.pop("paper_accuracy_difference")
    return table.assign(paper_accuracy_difference=paper_column)


def arm_label(contrast: str) -> str:
    """``"cwgan - none"`` -> ``"GAN images"``: the label of the arm with extra images (bclib.variants)."""
    from ..variants import variant

    return variant(contrast.split(" - ")[0]).label


def verdict(row, adjusted: bool = True) -> str:
    """What one row lets a reader say: helped, hurt, or cannot tell; ``adjusted`` reads Holm's verdict
    (``excludes_0_holm``), else the unadjusted interval, noting when Holm's adjustment overturns it."""
    excludes = row.low > 0 or row.high < 0
    holm = bool(getattr(row, "excludes_0_holm", excludes))
    decided = holm if adjusted else excludes
    text = ("the images helped" if decided and row.difference > 0 else "the images hurt" if decided
            else "these patients cannot tell")
    if not adjusted and excludes and not holm:
        text += ", but not after Holm's adjustment over counts of images and measures"
    return text


def primary_lines(effects: pd.DataFrame) -> list[str]:
    """One line per primary-endpoint row: arm, estimate [interval], Holm p, folds, test units, verdict."""
    units = "test patients" if (effects["measure"] == "patient_level_rate").any() else "test images (no patient ids)"
    return [f"{row.model}, {row.protocol}, {arm_label(row.contrast)} ({row.contrast}, {row.cwgan_images} images): "
            f"{row.measure.replace('_', ' ')} {row.difference:+.3f} [{row.low:+.3f}, {row.high:+.3f}], "
            f"Holm p {row.p_holm:.2f}, {row.folds} fold(s), {row.units} {units}: {verdict(row)}"
            for row in effects[effects["primary"]].itertuples()]


def effect_figure(effects: pd.DataFrame, provenance: str = ""):
    """The primary endpoint's effect of each arm against the run without extra images, with its interval:
    the GAN arm above its controls, one panel per model and protocol (and count of images). An effect that
    the controls share is an effect of more images, not of realistic images of the class."""
    import matplotlib.pyplot as plt

    from ..figures import label_provenance

    primary = effects[effects["primary"] & effects["contrast"].str.endswith(" - none")]
    panels = [(key, rows) for key, rows in primary.groupby(["model", "protocol", "cwgan_images"], sort=False)
              if rows["contrast"].str.split(" - ").str[0].isin(CONTROLS).any()]  # a GAN arm with its controls
    if not panels:
        raise ValueError("no GAN arm has controls beside it (eval.gan_controls)")
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 0.9 + 0.5 * max(len(g) for _, g in panels) * len(panels)),
                             squeeze=False)
    for ax, ((model, protocol, count), rows) in zip(axes[:, 0], panels):
        y = np.arange(len(rows))[::-1]
        colours = ["#c0392b" if c.split(" - ")[0] not in CONTROLS else "#555555" for c in rows["contrast"]]
        for yi, colour, row in zip(y, colours, rows.itertuples()):  # errorbar takes one colour per call
            ax.errorbar(row.difference, yi, xerr=[[row.difference - row.low], [row.high - row.difference]],
                        fmt="o", color=colour, elinewidth=2, capsize=3)
        ax.axvline(0, color="black", lw=0.8, ls="--")
        ax.set_yticks(y, [arm_label(c) for c in rows["contrast"]])
        extra = "as many as the GAN made" if count == "all" else str(count)
        ax.set_title(f"{model}, {protocol}\nextra images per arm: {extra}", fontsize=9)
        ax.set_xlabel(f"{rows['measure'].iloc[0].replace('_', ' ')}: with minus without extra images "
                      "(95% interval)", fontsize=8)
    fig.tight_layout()
    label_provenance(fig, provenance)
    return fig
