"""The paper's published numbers, read from ``paper_results.yaml`` as dicts and DataFrames."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

_FILE = Path(__file__).with_name("paper_results.yaml")


@lru_cache(maxsize=1)
def paper_results() -> dict:
    return yaml.safe_load(_FILE.read_text(encoding="utf-8"))


def paper_table3() -> pd.DataFrame:
    """The paper's Table 3 (BreakHis images per subtype x magnification) as a DataFrame."""
    entry = paper_results()["table3_breakhis_counts"]
    return pd.DataFrame.from_dict(entry["rows"], orient="index", columns=entry["columns"])


def paper_table(key: str) -> pd.DataFrame:
    """A table stored as ``columns`` + ``rows`` (e.g. ``table8_gamma_sweep``) as a DataFrame."""
    entry = paper_results()[key]
    return pd.DataFrame(entry["rows"], columns=entry["columns"])


_ARCHIVE = Path(__file__).with_name("breakhis_archive_counts.tsv")
_BACH_SPLIT = Path(__file__).with_name("bach_patient_split.yaml")


@lru_cache(maxsize=1)
def breakhis_archive_counts() -> pd.DataFrame:
    """The real BreakHis archive's patient folders: class, subtype, patient_folder, magnification, images."""
    return pd.read_csv(_ARCHIVE, sep="\t", comment="#")


def archive_table3() -> pd.DataFrame:
    """Images per subtype x magnification in the real archive, in the layout of the paper's Table 3."""
    counts = breakhis_archive_counts()
    table = counts.pivot_table(index="subtype", columns="magnification", values="images", aggfunc="sum")
    paper = paper_table3()  # the paper's rows and columns (subtypes x magnifications) give the layout
    table = table.reindex(index=paper.index.drop("Total"), columns=paper.columns.drop("Total"))
    table["Total"] = table.sum(axis=1)
    table.loc["Total"] = table.sum(axis=0)
    return table.astype(int)


@lru_cache(maxsize=1)
def bach_published_sides() -> dict[str, dict[int, str]]:
    """{BACH class folder: {photo number 1..100: "train" or "held_out"}} from eva's patient-aware ranges."""
    spec = yaml.safe_load(_BACH_SPLIT.read_text(encoding="utf-8"))
    per_class = int(spec["images_per_class"])
    sides: dict[str, dict[int, str]] = {folder: {} for folder in spec["order"]}
    for side in ("train", "held_out"):
        for start, end in spec[side]:
            for position in range(start, end):
                folder = spec["order"][position // per_class]
                sides[folder][position % per_class + 1] = side
    return sides


_EVA = Path(__file__).with_name("eva_linear_probe.yaml")


@lru_cache(maxsize=1)
def eva_linear_probe() -> dict:
    """eva's published linear-probe balanced accuracy per encoder and dataset, with its source."""
    return yaml.safe_load(_EVA.read_text(encoding="utf-8"))


def eva_reference(encoder: str, dataset: str):
    """eva's figure for ``encoder`` on ``dataset`` (``breakhis`` or ``bach``), or None where it has none."""
    return eva_linear_probe()["encoders"].get(encoder, {}).get(dataset)
