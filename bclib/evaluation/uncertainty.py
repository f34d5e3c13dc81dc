"""How sure a score is: the patient (cluster) bootstrap, paired comparisons of two runs, McNemar's test.

Images of one patient are not independent: they share the patient's tissue and
staining, and a model tends to be right or wrong on most of them together. So
every resampling here draws whole **patients** (clusters) with replacement, and
a patient drawn twice enters the resample as two different patients (the copies
get new cluster ids), which is what the cluster bootstrap assumes. Where no
patient ids exist (BACH) each image is its own cluster.

Comparisons pooled over several training runs (seeds, folds, GANs) share one
bootstrap, :func:`paired_runs_bootstrap`: each draw takes the test patients once
for every run (a patient tested by several runs counts, with the same
multiplicity, in each of them) and resamples the training runs hierarchically,
so that the interval counts what a rerun would change: other patients and other
trainings. :mod:`.pretraining` and :mod:`.effects` both use it.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from .diagnosis import ALL, RULES, decide, has_probabilities, magnifications, patient_diagnoses

Statistic = Callable[[pd.DataFrame], float]


def _has_groups(predictions: pd.DataFrame, group: Optional[str]) -> bool:
    return bool(group) and group in predictions and bool((predictions[group].astype(str) != "").all())


def clusters(predictions: pd.DataFrame, group: Optional[str] = "patient") -> list[np.ndarray]:
    """Row positions of each cluster: one per ``group`` id when every row has one, else one per row."""
    if _has_groups(predictions, group):
        codes, uniques = pd.factorize(predictions[group].astype(str))
        order = np.argsort(codes, kind="stable")
        return np.split(order, np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1])
    return [np.array([i]) for i in range(len(predictions))]


def resample_clusters(predictions: pd.DataFrame, groups: Sequence[np.ndarray], picked: np.ndarray,
                      group: Optional[str] = "patient") -> pd.DataFrame:
    """The rows of the clusters ``picked`` (with repeats), each draw relabelled as a cluster of its own.

    The ``group`` column of the result holds the draw number (``"0"``, ``"1"``, ...), so
    a patient drawn twice counts as two patients in patient-level measures.
    """
    rows = np.concatenate([groups[i] for i in picked])
    frame = predictions.iloc[rows]
    if _has_groups(predictions, group):
        sizes = np.array([len(groups[i]) for i in picked])
        frame = frame.assign(**{group: np.repeat(np.arange(len(picked)), sizes).astype(str)})
    return frame


def bootstrap_values(predictions: pd.DataFrame, statistic: Statistic, n_resamples: int = 1000, seed: int = 0,
                     group: Optional[str] = "patient") -> np.ndarray:
    """The statistic on ``n_resamples`` cluster-bootstrap resamples (resamples where it is undefined are skipped)."""
    groups = clusters(predictions, group)
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(groups), len(groups)) for _ in range(n_resamples)]
    values = _values_over_draws(predictions, statistic, groups, group, draws)
    return values[np.isfinite(values)]


def _values_over_draws(predictions: pd.DataFrame, statistic: Statistic, groups: Sequence[np.ndarray],
                       group: Optional[str], draws: Sequence[np.ndarray]) -> np.ndarray:
    """The statistic on each draw of clusters (``groups`` indices, with repeats), NaN where it is undefined:
    every draw at once, in blocks, where the statistic can (:meth:`bclib.evaluation.scores.Measure.
    over_units`), else on each resampled table (:func:`resample_clusters`)."""
    values = np.full(len(draws), np.nan)
    over = getattr(statistic, "over_units", None)
    unit_of_row = np.empty(len(predictions), int)
    for unit, rows in enumerate(groups):
        unit_of_row[rows] = unit
    fast = over(predictions, unit_of_row, _has_groups(predictions, group) and group == "patient") if over else None
    if fast is not None:
        for start in range(0, len(draws), 256):  # memory: a block of draws x rows at a time
            counts = np.stack([np.bincount(d, minlength=len(groups)) for d in draws[start:start + 256]])
            values[start:start + len(counts)] = fast(counts.astype(float))
        return values
    for i, picked in enumerate(draws):
        try:
            if len(picked):
                values[i] = float(statistic(resample_clusters(predictions, groups, picked, group)))
        except ValueError:
            continue
    return values


def _snapped(differences: np.ndarray) -> np.ndarray:
    """Differences within 1e-12 of 0 set to 0: two equal scores summed in another order differ in the last
    bits, and the sign of a difference decides the p-value and the share below 0. A real difference of
    two scores in [0, 1] over at most millions of images is far larger."""
    differences = np.asarray(differences, float).copy()
    differences[np.abs(differences) < 1e-12] = 0.0
    return differences


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    if not len(values):
        return np.nan, np.nan
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def bootstrap_interval(predictions: pd.DataFrame, statistic: Statistic,
                       n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                       group: Optional[str] = "patient") -> tuple[float, float, float]:
    """(estimate, low, high): percentile interval of the cluster bootstrap (patients resampled where ids exist)."""
    estimate = float(statistic(predictions))
    low, high = percentile_interval(bootstrap_values(predictions, statistic, n_resamples, seed, group), confidence)
    return estimate, low, high


def check_same_images(a: pd.DataFrame, b: pd.DataFrame) -> None:
    if list(a["path"]) != list(b["path"]):
        raise ValueError("the two runs were not scored on the same test images (in the same order)")


def paired_bootstrap(a: pd.DataFrame, b: pd.DataFrame, statistic: Statistic, n_resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0, group: Optional[str] = "patient") -> dict:
    """Difference ``statistic(a) - statistic(b)`` of two runs on the same test images, with a paired interval.

    Each resample draws patients once and scores both runs on the very same draw,
    so what the two runs share (the same hard patients) cancels out.
    ``share_below_zero`` is the share of resamples where ``a`` scored lower.
    """
    check_same_images(a, b)
    groups = clusters(a, group)
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(groups), len(groups)) for _ in range(n_resamples)]
    differences = _snapped(_values_over_draws(a, statistic, groups, group, draws)
                           - _values_over_draws(b, statistic, groups, group, draws))
    differences = differences[np.isfinite(differences)]
    low, high = percentile_interval(differences, confidence)
    below = float(np.mean(differences < 0)) if len(differences) else np.nan
    return {"difference": float(statistic(a) - statistic(b)), "low": low, "high": high,
            "clusters": len(groups), "share_below_zero": below}


def paired_runs_bootstrap(pairs: Mapping[tuple, tuple[pd.DataFrame, pd.DataFrame]], statistic: Statistic,
                          n_resamples: int = 1000, seed: int = 0, fixed_levels: int = 0) -> dict:
    """The nested mean of ``statistic(a) - statistic(b)`` over paired runs, and its bootstrap draws.

    ``pairs`` maps a key of equal length for every pair, one entry per level of the design (e.g. ``(fold,
    GAN seed, classifier seed)``), to the two runs' predictions on the same test images. The estimate is the
    mean over the first level of the mean over the second level ... of the paired differences. Each draw:

    * takes the **test units** (patients; images where any run lacks patient ids) once, with replacement,
      from the union of every run's test units. A run scores the drawn units it tests, each as often as it
      was drawn, so runs whose test sets overlap (BreakHis's published folds, seeds of a split drawn per
      seed) see the same draw of the patients they share, and runs that test disjoint patients (folds
      that partition them) see independent-looking parts of one draw. Both runs of a pair score the same
      draw, so what they share cancels.
    * keeps the first ``fixed_levels`` levels whole (folds: the design, every fold every time) and draws
      the keys of each deeper level with replacement within their parent (GAN seeds within a fold,
      classifier seeds within a GAN seed): the spread between training runs enters the interval. A level
      with one key adds nothing; with one run per fold the interval counts the patients only.

    The units and the runs are drawn from two streams of ``seed``, so the draws of the units do not depend
    on how many runs there are. A draw where the statistic is undefined (one class drawn, a run none of
    whose units was drawn) is skipped. Returns ``difference`` (the estimate), ``draws`` (one value per kept
    draw), ``units`` (test units in the union) and ``column`` (what a unit is: ``patient`` or ``path``).
    """
    if not pairs:
        raise ValueError("no pairs of runs to compare")
    keys = list(pairs)
    depth = len(keys[0])
    if any(len(key) != depth for key in keys) or not 0 <= fixed_levels <= depth:
        raise ValueError("every key must have the same length, at least fixed_levels")
    frames = [frame for both in pairs.values() for frame in both]
    column = "patient" if all(_has_groups(frame, "patient") for frame in frames) else "path"
    units = sorted({str(u) for a, _ in pairs.values() for u in a[column]})
    where = {u: i for i, u in enumerate(units)}
    groups, tested = {}, {}
    for key, (a, b) in pairs.items():
        check_same_images(a, b)
        found = [None] * len(units)
        for unit, rows in zip(pd.unique(a[column].astype(str)), clusters(a, column)):
            found[where[unit]] = rows
        groups[key], tested[key] = found, np.array([rows is not None for rows in found])
    tree: dict = {}
    for key in keys:
        node = tree
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = key

    def nested_mean(node, level: int, leaf, rng=None) -> float:
        if level == depth:
            return leaf(node)
        children = list(node.values())
        if rng is not None and level >= fixed_levels:
            children = [children[i] for i in rng.integers(0, len(children), len(children))]
        return float(np.mean([nested_mean(child, level + 1, leaf, rng) for child in children]))

    estimate = nested_mean(tree, 0, lambda key: float(statistic(pairs[key][0])) - float(statistic(pairs[key][1])))
    unit_rng, run_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    unit_draws = [unit_rng.integers(0, len(units), len(units)) for _ in range(n_resamples)]
    differences = {key: _differences(pairs[key], groups[key], tested[key], unit_draws, statistic, column)
                   for key in keys}
    draws = []
    for i in range(n_resamples):
        def difference(key):
            value = differences[key](i)
            if np.isnan(value):
                raise ValueError("undefined on this draw")
            return value

        try:
            draws.append(nested_mean(tree, 0, difference, run_rng))
        except ValueError:  # undefined on this draw
            continue
    return {"difference": estimate, "draws": np.asarray(draws, float), "units": len(units), "column": column}


def _differences(pair: tuple[pd.DataFrame, pd.DataFrame], groups: list, tested: np.ndarray,
                 unit_draws: Sequence[np.ndarray], statistic: Statistic, column: str) -> Callable[[int], float]:
    """``draw number -> statistic(a) - statistic(b)`` on that draw of one pair's test units (NaN where
    undefined; a draw of none of its units is undefined). ``groups`` holds the rows of each unit of the
    union (None where this pair does not test it); each draw keeps the units the pair tests, in order."""
    a, b = pair
    mine = np.flatnonzero(tested)  # the union's units this pair tests, in the union's order
    local = np.full(len(tested), -1)
    local[mine] = np.arange(len(mine))
    draws = [local[drawn[tested[drawn]]] for drawn in unit_draws]
    own = [groups[unit] for unit in mine]
    values = _snapped(_values_over_draws(a, statistic, own, column, draws)
                      - _values_over_draws(b, statistic, own, column, draws))
    return lambda i: float(values[i])


def bootstrap_p_value(draws: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "the difference is 0": twice the smaller share of draws on either side
    of 0 (draws at 0 count on both sides), as ``(1 + count) / (1 + draws)``, at most 1. It is the level at
    which the percentile interval would just reach 0, so a p-value below ``1 - confidence`` goes with an
    interval that excludes 0; its smallest value is ``2 / (1 + draws)``. NaN without draws."""
    draws = np.asarray(draws, float)
    if not len(draws):
        return np.nan
    side = min(int((draws <= 0).sum()), int((draws >= 0).sum()))
    return float(min(1.0, 2 * (1 + side) / (1 + len(draws))))


def two_sample_bootstrap(a: pd.DataFrame, b: pd.DataFrame, statistic: Statistic, n_resamples: int = 1000,
                         confidence: float = 0.95, seed: int = 0, group: Optional[str] = "patient") -> dict:
    """Difference ``statistic(a) - statistic(b)`` of two runs scored on *different* test sets, with an interval.

    Each resample draws ``a``'s clusters and ``b``'s clusters independently (the
    two test sets share no draw), as the image-level and the patient-disjoint
    split of the leakage comparison do. Resamples where either side is undefined
    are skipped. Where the two sets hold some of the same patients the interval
    is, if anything, a little wide (their shared difficulty does not cancel).
    """
    rng = np.random.default_rng(seed)
    groups_a, groups_b = clusters(a, group), clusters(b, group)
    draws_a, draws_b = [], []
    for _ in range(n_resamples):  # a's and b's draws alternate in one stream
        draws_a.append(rng.integers(0, len(groups_a), len(groups_a)))
        draws_b.append(rng.integers(0, len(groups_b), len(groups_b)))
    differences = _snapped(_values_over_draws(a, statistic, groups_a, group, draws_a)
                           - _values_over_draws(b, statistic, groups_b, group, draws_b))
    low, high = percentile_interval(differences[np.isfinite(differences)], confidence)
    return {"difference": float(statistic(a) - statistic(b)), "low": low, "high": high,
            "clusters_a": len(groups_a), "clusters_b": len(groups_b)}


def mcnemar_test(correct_a, correct_b) -> dict:
    """Exact McNemar test (binomial test on the discordant pairs) between two classifiers on the same units.

    The units must be independent: pass patient-level decisions
    (:func:`patient_decisions`), not images of shared patients.
    """
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    p_value = binomtest(only_a, n, 0.5).pvalue if n else 1.0
    return {"only_a_correct": only_a, "only_b_correct": only_b, "p_value": float(p_value)}


def patient_decisions(predictions: pd.DataFrame, class_names: Sequence[str],
                      group: Optional[str] = "patient", threshold: Optional[float] = None) -> pd.DataFrame:
    """One decision per patient: the class with the highest mean probability over the patient's images
    (two classes with the run's decision ``threshold``: the second class when its mean exceeds it).

    Rows are keyed by (patient, true class); without patient ids each image is
    its own unit. Columns ``label``, ``pred``, ``images``, ``correct``.
    Without ``p_<class>`` columns the most frequent predicted class decides
    (ties: the class listed first). The rules are those of
    :func:`bclib.evaluation.diagnosis.decide`.
    """
    frame = predictions.reset_index(drop=True)
    keys = frame[group].astype(str) if _has_groups(frame, group) else pd.Series(frame.index.astype(str))
    frame = frame.assign(_unit=keys.to_numpy())
    decided = decide(frame, class_names, ["_unit"], "mean" if has_probabilities(frame, class_names) else "vote",
                     threshold)
    out = pd.DataFrame({"label": decided["label"].to_numpy(), "pred": decided["decision"].to_numpy(),
                        "images": decided["images"].to_numpy()},
                       index=pd.Index(decided["_unit"].to_numpy(), name=group or "unit"))
    out["correct"] = out["label"] == out["pred"]
    return out


def patient_mcnemar(a: pd.DataFrame, b: pd.DataFrame, class_names: Sequence[str],
                    group: Optional[str] = "patient", threshold_a: Optional[float] = None,
                    threshold_b: Optional[float] = None) -> dict:
    """Exact McNemar test on per-patient decisions of two runs scored on the same test images, each run
    deciding at its own threshold (``decision_threshold`` of its ``run.json``; None: most probable class)."""
    check_same_images(a, b)
    da = patient_decisions(a, class_names, group, threshold_a)
    db = patient_decisions(b, class_names, group, threshold_b)
    return {"units": len(da), **mcnemar_test(da["correct"].to_numpy(), db["correct"].to_numpy())}


def patient_accuracy_interval(predictions: pd.DataFrame, class_names: Sequence[str], rule: str = "mean",
                              magnification: str = ALL, n_resamples: int = 1000, confidence: float = 0.95,
                              seed: int = 0, threshold: Optional[float] = None) -> tuple[float, float, float]:
    """(estimate, low, high) of the patient-level diagnostic accuracy
    (:func:`bclib.evaluation.diagnosis.patient_accuracy`), patients resampled.

    Only the images at ``magnification`` take part (all of them for ``all``), so
    each resample draws as many patients as have images there.
    """
    frame = predictions if magnification == ALL else \
        predictions[predictions["magnification"].astype(str) == str(magnification)]
    # A patient's decision depends on that patient's images only, so resampling patients
    # resamples their decisions: decide once, then bootstrap the per-patient hits
    # (the same interval as re-deciding every resample, without re-deciding).
    decided = patient_diagnoses(frame, class_names, [rule], per_magnification=False, threshold=threshold)
    if decided.empty:
        raise ValueError(f"no patient has images at magnification {magnification}")
    return bootstrap_interval(decided[["patient", "correct"]], lambda f: float(f["correct"].mean()),
                              n_resamples, confidence, seed, group="patient")


def patient_accuracy_table(predictions: pd.DataFrame, class_names: Sequence[str], rules: Sequence[str] = RULES,
                           n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                           threshold: Optional[float] = None) -> pd.DataFrame:
    """Per rule and magnification (and ``all``): patients, patient-level accuracy with its bootstrap interval,
    and beside it the image-level accuracy of the same images with its (patient-resampled) interval.
    ``threshold``: the run's decision threshold, which its images' ``pred`` already applies."""
    def image_accuracy(frame: pd.DataFrame) -> float:
        return float((frame["label"] == frame["pred"]).mean())

    rows = []
    for zoom in magnifications(predictions):
        frame = predictions if zoom == ALL else predictions[predictions["magnification"].astype(str) == zoom]
        image = bootstrap_interval(frame, image_accuracy, n_resamples, confidence, seed)
        for rule in rules:
            estimate, low, high = patient_accuracy_interval(frame, class_names, rule, zoom, n_resamples,
                                                            confidence, seed, threshold)
            rows.append({"rule": rule, "magnification": zoom, "patients": int(frame["patient"].nunique()),
                         "images": int(len(frame)), "patient_accuracy": estimate, "patient_low": low,
                         "patient_high": high, "image_accuracy": image[0], "image_low": image[1],
                         "image_high": image[2]})
    return pd.DataFrame(rows)
