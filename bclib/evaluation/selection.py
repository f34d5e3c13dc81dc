"""Choosing on validation, never on test: the validation score of the weights a run kept, the configuration
the report shows for the proposed model, the best baseline and the best encoder, and the pairs it compares.

Where one configuration has to be picked (the best baseline, the seed shown in a figure) the choice is made
on the validation score of the weights each run kept (:func:`validation_score`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from .. import catalogue
from .loading import Run


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
