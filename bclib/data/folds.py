"""BreakHis' published five folds, in either of their two published forms.

* ``Folds.csv`` (``fold,mag,grp,filename``; the widely used copy, e.g. on Kaggle, with
  ``filename`` a path such as ``BreaKHis_v1/histology_slides/breast/.../SOB_B_A-14-22549AB-100-001.png``).
* ``dsfold1.txt`` ... ``dsfold5.txt`` (the archive authors' form, one line per image:
  ``SOB_B_A-14-22549AB-100-001.png|100|1|train``).

Rows are matched to the indexed images by file name without its extension, so the folds
apply to the official tree at any root level, to the Kaggle copy's nested folders, to
re-organised copies and to a copy converted to JPEG. The file is searched at the root, in
folders below it (three levels) and in the folders above it (four levels).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import pandas as pd

from .records import add_problem, relative

FOLDS_CSV = "Folds.csv"
DSFOLD_FILES = [f"dsfold{k}.txt" for k in range(1, 6)]


def _search_order(root: Path) -> list[Path]:
    below, level = [], [root]
    for _ in range(3):
        level = [c for folder in level for c in sorted(folder.iterdir(), key=lambda p: p.name)
                 if c.is_dir() and not c.name.startswith(".")] if level else []
        below.extend(level)
    return [root, *below, *list(root.parents)[:4]]


def find_folds_files(root: Path) -> list[Path]:
    """The published folds file(s): one ``Folds.csv``, or the ``dsfold*.txt`` files of one folder."""
    folders = _search_order(root)
    for folder in folders:
        if (folder / FOLDS_CSV).is_file():
            return [folder / FOLDS_CSV]
    for folder in folders:
        found = [folder / name for name in DSFOLD_FILES if (folder / name).is_file()]
        if found:
            return found
    return []


def _read_folds_csv(location: Path) -> pd.DataFrame:
    table = pd.read_csv(location, dtype=str)
    expected = {"fold", "mag", "grp", "filename"}
    if not expected <= set(table.columns):
        raise ValueError(f"needs columns {sorted(expected)}")
    return table[["fold", "mag", "grp", "filename"]]


def _read_dsfold(location: Path) -> pd.DataFrame:
    table = pd.read_csv(location, sep="|", header=None, dtype=str, skipinitialspace=True)
    if table.shape[1] < 4:
        raise ValueError("expected lines of the form name|magnification|fold|train-or-test")
    table = table.iloc[:, :4]
    table.columns = ["filename", "mag", "fold", "grp"]
    return table


def read_published_folds(root: Path, frame: pd.DataFrame, problems: list) -> tuple[Optional[pd.DataFrame], str]:
    """(fold, mag, grp, path) rows of the published folds for the images of ``frame``, and the file(s) read.

    ``(None, "")`` when there is no folds file. Rows for images that are not in ``frame`` are
    dropped and counted in one problem line (a copy of one magnification, a partial download).
    """
    files = find_folds_files(root)
    if not files:
        return None, ""
    source = ", ".join(relative(f, root) for f in files)
    try:
        table = pd.concat([(_read_folds_csv if f.name == FOLDS_CSV else _read_dsfold)(f) for f in files],
                          ignore_index=True)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        add_problem(problems, root, files[0], f"cannot read the published folds ({exc}); folds unavailable")
        return None, ""
    stems = frame["path"].map(lambda p: os.path.splitext(os.path.basename(p))[0].upper())
    path_of = dict(zip(stems, frame["path"]))
    table["path"] = [path_of.get(os.path.splitext(os.path.basename(str(f).strip()))[0].upper())
                     for f in table["filename"]]
    # Images skipped by the index (damaged, mislabelled) are listed already, each with its reason.
    skipped = {os.path.splitext(os.path.basename(p["path"]))[0].upper() for p in problems}
    unmatched = table.loc[table["path"].isna(), "filename"].drop_duplicates()
    missing = unmatched[[os.path.splitext(os.path.basename(str(f).strip()))[0].upper() not in skipped
                         for f in unmatched]]
    if len(missing):
        add_problem(problems, root, files[0], f"lists {len(missing)} image(s) that are not in this copy "
                    f"(e.g. {os.path.basename(str(missing.iloc[0]))}); their rows are ignored")
    table = table[table["path"].notna()].copy()
    table["fold"] = pd.to_numeric(table["fold"], errors="coerce").astype("Int64")
    table["grp"] = table["grp"].str.strip().str.lower()
    return table[["fold", "mag", "grp", "path"]].reset_index(drop=True), source
