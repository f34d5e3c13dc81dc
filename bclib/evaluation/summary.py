"""The demo's findings in a few lines, read from the saved table files only.

One source for every number a reader sees outside the notebooks: notebook 05
prints :func:`readme_block` (its output, committed with the notebook, is what
``tools/update_readme.py`` copies into README.md, and a test checks that the two
agree) and gives :func:`conclusion_lines` to the report's conclusion. Both read
the files in ``<output>/tables/`` as notebook 05 wrote them, so the README, the
report and the tables cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import catalogue
from ..tablefile import read_provenance, read_table
from .effects import arm_label
from .effects import verdict as effect_verdict

VARIANT_LABELS = {"none": "none", "tradaug": "TradAug", "cwgan": "cWGAN", "tradaug+cwgan": "TradAug + cWGAN"}
MEASURE_LABELS = {"balanced_accuracy": "balanced accuracy", "patient_level_rate": "patient-level rate",
                  "accuracy": "accuracy", "roc_auc": "ROC AUC"}


def _cell(estimate, low, high, signed: bool = False) -> str:
    if pd.isna(estimate):
        return ""
    number = "{:+.2f}" if signed else "{:.2f}"
    return f"{number.format(estimate)} [{number.format(low)}, {number.format(high)}]"


def _label(model: str) -> str:
    try:
        return catalogue.entry(model).label
    except (KeyError, ValueError):
        return model


def headline_table(scores: pd.DataFrame, split: str) -> pd.DataFrame:
    """Balanced accuracy [interval] per model (rows) and augmentation variant (columns) on ``split``; the mean
    over seeds where a configuration has several (its interval then is the first seed's, see the notebook)."""
    main = scores[scores["split"] == split]
    first = main.sort_values("seed").groupby(["model", "variant"], sort=False).head(1)
    table = first.assign(cell=[_cell(*v) for v in zip(first["balanced_accuracy"], first["balanced_accuracy_low"],
                                                       first["balanced_accuracy_high"])])
    wide = table.pivot(index="model", columns="variant", values="cell")
    wide = wide[[v for v in VARIANT_LABELS if v in wide.columns]].fillna("")
    wide.index = [_label(m) for m in wide.index]
    wide.columns = [VARIANT_LABELS[v] for v in wide.columns]
    return wide


def _read(tables: Path, name: str):
    path = tables / f"{name}.csv"
    return read_table(path, index_col=0) if path.is_file() else None


def findings(tables: str | Path) -> list[str]:
    """One sentence per lesson of the run, each with its interval and the table it comes from."""
    tables, lines = Path(tables), []
    scores = _read(tables, "05_scores")
    if scores is not None:
        main = scores[scores["split"] != "image"]
        patients = main["n_patients"].max()  # NaN where the dataset names no patients (BACH)
        tested = f"{int(patients)} patients" if pd.notna(patients) else \
            f"{int(main['n_test'].max())} images (no patient ids)"
        lines.append(f"Test set: {tested}; always answering the largest class scores an accuracy of "
                     f"{main['majority_share'].max():.2f} and a balanced accuracy of one over the number of classes "
                     f"(`05_scores.csv`).")
    probe = _read(tables, "05_split_leakage")
    if probe is not None and len(probe):
        row = probe.iloc[0]
        verdict = "its interval lies above 0" if row["low"] > 0 else "its interval contains 0"
        lines.append(f"Leakage: a 1-nearest-neighbour classifier on colour statistics scores {row['image split']:.2f} "
                     f"on image-level splits against {row['patient split']:.2f} on patient-disjoint ones, a gap of "
                     f"{_cell(row['gap'], row['low'], row['high'], signed=True)} over {int(row['repeats'])} random "
                     f"splits of each kind; {verdict} (`05_split_leakage.csv`).")
    pretraining = _read(tables, "05_pretraining")
    if pretraining is not None and len(pretraining):
        for row in pretraining.itertuples():
            verdict = "above 0" if row.low > 0 else "below 0" if row.high < 0 else "contains 0"
            lines.append(f"Pretraining ({_label(row.model)}, {int(row.seeds)} seeds): "
                         f"{MEASURE_LABELS.get(row.measure, row.measure)} {row.pretrained:.2f} with ImageNet weights "
                         f"against {row.random:.2f} with random ones, "
                         f"{_cell(row.difference, row.low, row.high, signed=True)}; the interval {verdict} "
                         f"(`05_pretraining.csv`).")
    effects = _read(tables, "05_gan_effect")
    if effects is not None and len(effects):
        primary = effects[effects["primary"]] if "primary" in effects else effects.groupby(
            ["model", "protocol", "contrast", "cwgan_images"], sort=False).head(1)
        for row in primary.itertuples():
            dose = f", {row.cwgan_images} images" if "cwgan_images" in primary else ""
            lines.append(f"{arm_label(row.contrast)} ({_label(row.model)}, {row.protocol}, {row.contrast}{dose}): "
                         f"{MEASURE_LABELS.get(row.measure, row.measure)} "
                         f"{_cell(row.difference, row.low, row.high, signed=True)}: "
                         f"{effect_verdict(row, adjusted=False)} (`05_gan_effect.csv`).")
    return lines


def machine_line(tables: str | Path) -> str:
    """Where the tables were computed, from the provenance of ``05_scores.csv``."""
    stamped = read_provenance(Path(tables) / "05_scores.csv")
    keys = ("data and weights", "processor", "threads", "tensorflow", "date", "commit")
    return "; ".join(f"{key} {stamped[key]}" for key in keys if key in stamped)


def readme_block(tables: str | Path, split: str) -> str:
    """The README's results, in Markdown: the headline table, the findings and where they were computed."""
    tables = Path(tables)
    parts = [f"Computed by the committed notebooks ({machine_line(tables)}).", ""]
    scores = _read(tables, "05_scores")
    if scores is not None:
        parts += [f"Balanced accuracy on the {split} split, estimate [95% interval over test patients]:", "",
                  headline_table(scores, split).to_markdown(), ""]
    parts += [f"* {line}" for line in findings(tables)]
    return "\n".join(parts) + "\n"


def conclusion_lines(tables: str | Path, synthetic_or_untrained: bool) -> list[str]:
    """The report's conclusion: the findings, then what they can and cannot say."""
    lines = findings(tables)
    if synthetic_or_untrained:
        lines.append("These numbers come from synthetic tiles and/or untrained networks: they show that each "
                     "comparison runs and how wide its interval is at this size, not how the methods do on real "
                     "histopathology. Run a real profile (README, 'Running on the real data') for that.")
    return lines
