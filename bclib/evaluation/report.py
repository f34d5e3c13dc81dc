"""What notebook 05 reports: scores with intervals, this run beside the paper, and report.md / report.html.

Inputs are finished classifier runs (folders written by ``bclib.train``); every
number is recomputed here from their ``predictions.csv`` so the report never
repeats a figure it cannot trace to predictions.
"""

from __future__ import annotations

import html
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from ..io import write_text_atomic
from ..reference import paper_table
from . import bootstrap_interval, headline_metrics, mcnemar_test, per_class_table

PAPER_PER_CLASS = {"breakhis": "table11_breakhis_per_class", "bach": "table12_bach_per_class"}
HEADLINES = ("accuracy", "balanced_accuracy", "roc_auc", "patient_level_rate")


@dataclass
class Run:
    """One finished classifier run: its record (``run.json``) and test predictions."""

    folder: Path
    record: dict
    predictions: pd.DataFrame

    @property
    def name(self) -> str:
        split = "" if self.record["split"] != "image" else " [image split]"
        return f"{self.record['model']}/{self.record['variant']}/seed-{self.record['seed']}{split}"

    @property
    def classes(self) -> list[str]:
        return list(self.record["classes"])


def load_run(folder: str | Path) -> Run:
    folder = Path(folder)
    record = json.loads((folder / "run.json").read_text())
    predictions = pd.read_csv(folder / "predictions.csv", keep_default_na=False, dtype={"patient": str})
    return Run(folder, record, predictions)


def finished_runs(jobs) -> list[Run]:
    """The runs of ``jobs`` (``bclib.train.jobs.ClassifierJob``) that have finished, in job order."""
    from ..train import run_is_complete

    return [load_run(job.out_dir) for job in jobs if run_is_complete(job.out_dir)]


def best_run(runs: Sequence[Run], proposed: bool, split: str = "patient") -> Optional[Run]:
    """The proposed model's (or else the best baseline's) run with the highest test accuracy on ``split``.

    For the proposed model, ``tradaug+cwgan`` is preferred when present (the paper's
    headline configuration) so that the figures show the same variant as its Figure 7.
    """
    pool = [r for r in runs if (r.record["model"] == "proposed") == proposed and r.record["split"] == split]
    if proposed and any(r.record["variant"] == "tradaug+cwgan" for r in pool):
        pool = [r for r in pool if r.record["variant"] == "tradaug+cwgan"]
    if not pool:
        return None
    return max(pool, key=lambda r: ((r.predictions["label"] == r.predictions["pred"]).mean(), -r.record["seed"]))


def balanced_examples(predictions: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` test rows taking each class in turn (first rows of each class), for figures."""
    groups = [g for _, g in predictions.groupby("label", sort=True)]
    picked = [g.iloc[i] for i in range(n) for g in groups if i < len(g)]
    return pd.DataFrame(picked[:n])


def real_and_generated(params, n: int) -> tuple[list[str], list[str]]:
    """Up to ``n`` training images of the cWGAN's class and ``n`` of its generated images (empty if none)."""
    from ..data.index import index_dataset, index_generated
    from ..data.splits import split_from_params

    folder = params.output_dir / "generated"
    if not (folder / "manifest.csv").is_file():
        return [], []
    index = index_dataset(params.data.dataset, params.data.root)
    generated = index_generated(folder, index.class_names).frame
    split = split_from_params(index, params)
    real = split[(split["part"] == "train") & split["label"].isin(generated["label"].unique())]
    return list(real["path"].iloc[:n]), list(generated["path"].iloc[:n])


def _statistic(name: str, classes: Sequence[str]):
    """One headline measure as a function of a predictions table (ValueError where it is undefined)."""
    from . import _indices, patient_level_rate

    def measure(frame: pd.DataFrame) -> float:
        if name == "patient_level_rate":
            return patient_level_rate(frame)
        true, pred = _indices(frame["label"], classes), _indices(frame["pred"], classes)
        if name == "accuracy":
            return float(np.mean(true == pred))
        if name == "balanced_accuracy":
            return float(balanced_accuracy_score(true, pred))
        if len(np.unique(true)) < len(classes):
            raise ValueError("ROC AUC needs every class in the sample")
        scores = frame[[f"p_{c}" for c in classes]].to_numpy()
        return float(roc_auc_score(true, scores[:, 1]) if len(classes) == 2
                     else roc_auc_score(true, scores, multi_class="ovr", average="macro"))

    return measure


def run_scores(runs: Sequence[Run], n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """One row per run: each headline measure with its bootstrap interval (patients resampled)."""
    rows = []
    for run in runs:
        measured = headline_metrics(run.predictions, run.classes)
        row = {"model": run.record["model"], "variant": run.record["variant"], "seed": run.record["seed"],
               "split": run.record["split"], "n_test": measured["n_images"],
               "n_patients": measured.get("n_patients", np.nan)}
        for name in HEADLINES:
            if name not in measured:
                continue
            with warnings.catch_warnings():  # resamples with one class only: sklearn warns, the value stands
                warnings.simplefilter("ignore", UserWarning)
                estimate, low, high = bootstrap_interval(run.predictions, _statistic(name, run.classes),
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


def with_interval(scores: pd.DataFrame, measures: Sequence[str] = HEADLINES, digits: int = 3) -> pd.DataFrame:
    """The scores table with each measure shown as ``estimate [low, high]``."""
    shown = scores[[c for c in ("model", "variant", "seed", "split", "n_test", "n_patients") if c in scores]].copy()
    for m in measures:
        if m in scores:
            shown[m] = [f"{e:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]" if pd.notna(e) else ""
                        for e, lo, hi in zip(scores[m], scores[f"{m}_low"], scores[f"{m}_high"])]
    return shown


def per_class_beside_paper(run: Run, dataset: str) -> pd.DataFrame:
    """This run's per-class table (the paper's Table 11/12 layout) next to the paper's row for the same model.

    The paper's row is matched on model and variant; where the paper has no such
    row (e.g. our ``none`` variant of the proposed model), its side is empty.
    """
    ours = per_class_table(run.predictions["label"], run.predictions["pred"], run.classes)
    paper = paper_table(PAPER_PER_CLASS[dataset])
    match = paper[(paper["bclib_model"] == run.record["model"]) & (paper["bclib_variant"] == run.record["variant"])]
    theirs = match.set_index("class")[ours.columns].reindex(ours.index)
    both = pd.concat({"this run": ours, "paper": theirs}, axis=1).swaplevel(axis=1)
    return both[[(metric, side) for metric in ours.columns for side in ("this run", "paper")]]


def accuracy_beside_table14(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The proposed model's accuracy per variant (mean over seeds, in %) beside the paper's Table 14."""
    paper = paper_table("table14_proposed_accuracy")
    paper = paper[paper["dataset"] == dataset].set_index("bclib_variant")["accuracy"]
    ours = summary.xs("proposed", level="model") if "proposed" in summary.index.get_level_values("model") else None
    rows = []
    for variant in ["none", "tradaug", "cwgan", "tradaug+cwgan"]:
        row = {"variant": variant, "paper_accuracy_%": paper.get(variant, np.nan)}
        if ours is not None and (variant, "patient") in ours.index:
            line = ours.loc[(variant, "patient")]
            row |= {"our_accuracy_%": 100 * line["accuracy_mean"], "our_std_%": 100 * line["accuracy_std"],
                    "seeds": str(int(line["seeds"]))}
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")


def mcnemar_table(runs: dict[str, Run], pairs: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Exact McNemar test for each (a, b) pair of runs scored on the same test images."""
    rows = []
    for a, b in pairs:
        pa, pb = runs[a].predictions, runs[b].predictions
        if list(pa["path"]) != list(pb["path"]):
            raise ValueError(f"{a} and {b} were not scored on the same test images")
        result = mcnemar_test(pa["label"] == pa["pred"], pb["label"] == pb["pred"])
        rows.append({"a": a, "b": b, **result})
    return pd.DataFrame(rows)


def comparison_pairs(runs: Sequence[Run]) -> list[tuple[str, str]]:
    """Run-name pairs worth testing, per seed on the main split: each proposed variant against the
    proposed model without augmentation, and the proposed headline run against the best baseline."""
    pairs = []
    for seed in sorted({r.record["seed"] for r in runs}):
        same_seed = [r for r in runs if r.record["seed"] == seed and r.record["split"] != "image"]
        proposed = {r.record["variant"]: r for r in same_seed if r.record["model"] == "proposed"}
        if "none" in proposed:
            pairs += [(proposed["none"].name, r.name) for v, r in proposed.items() if v != "none"]
        headline, baseline = best_run(same_seed, proposed=True), best_run(same_seed, proposed=False)
        if headline and baseline:
            pairs.append((headline.name, baseline.name))
    return pairs


def leakage_table(patient_scores: pd.DataFrame, image_scores: pd.DataFrame) -> pd.DataFrame:
    """The same model under the patient-disjoint and the image-level split, and the accuracy gap."""
    keys = ["model", "variant", "seed"]
    merged = patient_scores.merge(image_scores, on=keys, suffixes=("_patient", "_image"))
    columns = keys + [f"{m}_{s}" for m in ("accuracy", "accuracy_low", "accuracy_high") for s in ("patient", "image")]
    table = merged[columns].copy()
    table["gap_image_minus_patient"] = table["accuracy_image"] - table["accuracy_patient"]
    return table


# ---------------------------------------------------------------------------
# report.md and report.html


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Tables as shown in the report: row keys as columns, two-level headers joined ('TP this run')."""
    shown = frame.reset_index() if isinstance(frame.index, pd.MultiIndex) else frame.copy()
    if isinstance(shown.columns, pd.MultiIndex):
        shown.columns = [" ".join(str(p) for p in col if str(p)).strip() for col in shown.columns]
    return shown


@dataclass
class Report:
    """Sections of text, tables and figures, written as Markdown and as a self-contained HTML page."""

    title: str
    provenance: str
    sections: list = field(default_factory=list)

    def text(self, heading: Optional[str], body: str = "") -> None:
        self.sections.append(("text", heading, body))

    def table(self, caption: str, frame: pd.DataFrame, csv_name: Optional[str] = None) -> None:
        self.sections.append(("table", caption, (frame, csv_name)))

    def figure(self, caption: str, png: Path) -> None:
        self.sections.append(("figure", caption, Path(png)))

    def _markdown(self, out_dir: Path) -> str:
        lines = [f"# {self.title}", "", f"> {self.provenance}", ""]
        for kind, caption, body in self.sections:
            if kind == "text":
                lines += ([f"## {caption}", ""] if caption else []) + ([body, ""] if body else [])
            elif kind == "table":
                frame, csv_name = body
                lines += [f"**{caption}**" + (f" (`tables/{csv_name}.csv`)" if csv_name else "")
                          + f" - our side: {self.provenance}", "",
                          _flat(frame).to_markdown(floatfmt=".3f"), ""]
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
                          f"{html.escape(self.provenance)}</span></p>",
                          _flat(body[0]).to_html(float_format="%.3f", na_rep="")]
            else:
                parts.append(f"<figure><img src='{body.relative_to(out_dir).as_posix()}' style='max-width:100%'>"
                             f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;"
                 "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}.prov{color:#a00000}")
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``report.md`` and ``report.html`` into ``out_dir`` (each written, then renamed)."""
        out_dir = Path(out_dir)
        return (write_text_atomic(out_dir / "report.md", self._markdown(out_dir)),
                write_text_atomic(out_dir / "report.html", self._html(out_dir)))
