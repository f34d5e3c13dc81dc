"""Finished classifier runs as the report reads them: a run's record, predictions and history, the runs of a
list of jobs, what their split was, and the test rows and training images that figures show."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd


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
        dose = self.record.get("cwgan_images")
        dose = f"n-{dose}/" if dose not in (None, "all") else ""
        return (f"{where}{self.record['model']}/{self.record['variant']}/{dose}seed-{self.record['seed']}"
                f"{split}{stain}")

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
    """The runs of ``jobs`` (``bclib.experiment.ClassifierJob``) that have finished, in job order."""
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


def _class_turns(predictions: pd.DataFrame, n: int) -> list:
    groups = [g for _, g in predictions.groupby("label", sort=True)]
    return [g.iloc[i] for i in range(n) for g in groups if i < len(g)][:n]


def balanced_examples(predictions: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` test rows for figures: errors as well as hits (half each where the run made enough errors), each
    half taking the classes in turn. A figure of hits only would hide what the model gets wrong."""
    wrong = predictions[predictions["label"] != predictions["pred"]]
    errors = _class_turns(wrong, n // 2)
    hits = _class_turns(predictions[predictions["label"] == predictions["pred"]], n - len(errors))
    return pd.DataFrame(hits + errors)


def real_and_generated(params, n: int) -> tuple[list[str], list[str]]:
    """Up to ``n`` training images of the cWGAN's class and ``n`` of its generated images (empty if none)."""
    from ..data.index import index_from_params, index_generated
    from ..data.splits import split_from_params
    from ..layout import Layout

    folder = Layout.of(params).generated(params.data.setting_folder)
    if not (folder / "manifest.csv").is_file():
        return [], []
    index = index_from_params(params)
    generated = index_generated(folder, index.class_names).frame
    split = split_from_params(index, params)
    real = split[(split["part"] == "train") & split["label"].isin(generated["label"].unique())]
    return list(real["path"].iloc[:n]), list(generated["path"].iloc[:n])
