"""What a finished run leaves behind: test and validation predictions, history, the model and ``run.json``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..io import atomic_path, write_json_atomic
from ..params import dose_label
from ..variants import variant as kind
from .decision import decide
from .trunk import model_weights

OUTPUTS = ("predictions.csv", "history.csv", "model.keras", "run.json")


def run_is_complete(out_dir: Path) -> bool:
    return all((Path(out_dir) / name).is_file() for name in OUTPUTS)


def prediction_table(test: pd.DataFrame, probabilities: np.ndarray, classes: list[str],
                     threshold: Optional[float] = None) -> pd.DataFrame:
    """One row per image of ``test`` (or of any split part): path, patient, magnification, label, pred
    (see :func:`bclib.train.decision.decide`), ``p_<class>`` per class and, last, ``subtype``
    (BreakHis subtype; BACH: class folder)."""
    predictions = test[["path", "patient", "magnification", "label"]].reset_index(drop=True).copy()
    predictions["pred"] = decide(probabilities, classes, threshold)
    for i, name in enumerate(classes):
        predictions[f"p_{name}"] = probabilities[:, i]
    predictions["subtype"] = test["subtype"].to_numpy()
    return predictions


def history_table(histories: list[list[dict]]) -> pd.DataFrame:
    """Loss and accuracy per epoch over both stages, numbered from 1, with the stage."""
    history = pd.concat([pd.DataFrame(h).assign(stage=i + 1) for i, h in enumerate(histories)], ignore_index=True)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    return history


def write_run(out: Path, model, predictions: pd.DataFrame, history: pd.DataFrame, record: dict,
              val_predictions: Optional[pd.DataFrame] = None) -> dict:
    """Write the run's files, each atomically; ``run.json`` last, since its presence marks a complete run.

    ``val_predictions`` (same columns as ``predictions``, for the validation images) is
    written as ``val_predictions.csv`` when given.
    """
    with atomic_path(out / "predictions.csv") as tmp:
        predictions.to_csv(tmp, index=False)
    if val_predictions is not None:
        with atomic_path(out / "val_predictions.csv") as tmp:
            val_predictions.to_csv(tmp, index=False)
    with atomic_path(out / "history.csv") as tmp:
        history.to_csv(tmp, index=False)
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    write_json_atomic(out / "run.json", record)
    return record


def run_record(params, data, model_name: str, variant: str, seed: int, predictions: pd.DataFrame,
               history: pd.DataFrame, cached_trunk: bool, replicas: int, started: float) -> dict:
    """``run.json``: what was trained on what, how big each part was, and the test accuracy."""
    cfg, train = params.train, data.train
    return {
        "model": model_name, "variant": variant, "seed": seed, "classes": data.classes,
        "task": data.index.task,
        "data": data.index.provenance(), "synthetic_data": data.index.synthetic,
        "weights": model_weights(cfg, model_name), "untrained_backbone": model_weights(cfg, model_name) == "none",
        "split": params.data.split, "split_seed": params.seed, "split_notes": list(getattr(data, "split_notes", [])),
        "fold_policy": params.data.fold_policy if params.data.split == "folds" else None,
        "fold": params.data.fold if params.data.split in ("folds", "cv") else None,
        "magnification_protocol": params.data.magnification_protocol,
        "magnifications": params.data.magnifications,
        "n_train": int(len(train)), "n_train_generated": int((train["subtype"] == "cwgan").sum()),
        # the count asked for (null: all generated, "balance": up to the largest class); None without cWGAN
        "cwgan_images": dose_label(cfg.cwgan_images) if kind(variant).adds_images else None,
        # the images a variant adds to the real ones: the GAN's, or a control's (bclib.variants)
        "n_train_extra": int(sum(len(part) for part in getattr(data, "parts", [])[1:])),
        "n_val": int(len(data.val)), "n_test": int(len(data.test)),
        "test_accuracy": float((predictions["pred"] == predictions["label"]).mean()),
        "epochs_run": int(len(history)), "cached_trunk": cached_trunk,
        "distribution": cfg.distribution, "replicas": replicas,
        "params": params.model_dump(mode="json"), "wall_s": round(time.time() - started, 2),
        "stain_reference": None if getattr(data, "stain", None) is None else json.loads(data.stain.to_json()),
    }
