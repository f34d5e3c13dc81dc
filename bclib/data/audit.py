"""What is in a dataset: counts, patients, problems, and what a split looks like.

:func:`audit` returns the JSON object written by ``bclib audit``; the other
functions build the tables notebook 00 shows.
"""

from __future__ import annotations

from typing import Optional

import pandas as pd

from .fetch.record import describe, find_record, record_path
from .index import DatasetIndex
from .layouts import BREAKHIS_MAGNIFICATIONS, BREAKHIS_SUBTYPES
from .splits import PARTS, make_split, split_notes


def _counts(series: pd.Series, order: list[str]) -> dict[str, int]:
    counts = series.value_counts()
    return {key: int(counts.get(key, 0)) for key in order}


def audit(index: DatasetIndex, split: Optional[str] = None, seed: int = 0,
          val_fraction: float = 0.2, test_fraction: float = 0.2, fold: int = 1,
          fold_policy: str = "strict") -> dict:
    """The audit record: counts per class/subtype/magnification, patients, problems, notes, and a split."""
    frame = index.frame
    record = {
        "dataset": index.dataset,
        "root": str(index.root),
        "synthetic": index.synthetic,
        "fingerprint": index.fingerprint(),
        "n_images": int(len(frame)),
        "by_class": _counts(frame["label"], index.class_names),
    }
    if index.dataset == "breakhis":
        record["n_patients"] = int(frame["patient"].nunique())
        record["n_patient_folders"] = int(frame[["patient", "subtype"]].drop_duplicates().shape[0])
        record["by_subtype"] = _counts(frame["subtype"], list(BREAKHIS_SUBTYPES))
        record["by_magnification"] = _counts(frame["magnification"], BREAKHIS_MAGNIFICATIONS)
        record["published_folds"] = index.folds_source or None
        record["user_folders"] = user_folders(frame)
    record["notes"] = list(index.notes)
    record["problems"] = list(index.problems)
    fetched = fetch_provenance(index)
    if fetched:
        record["fetched"] = fetched
        record["notes"].append(fetched["note"])
    if split:
        parts = make_split(index, split, seed, val_fraction, test_fraction, fold, fold_policy=fold_policy)
        record["split"] = {"method": split, "seed": seed}
        if split in ("folds", "cv"):
            record["split"]["fold"] = fold
        if split == "folds":
            record["split"]["fold_policy"] = fold_policy
        record["split"]["notes"] = split_notes(parts)
        record["splits"] = {}
        for part in PARTS:
            rows = parts[parts["part"] == part]
            patients = sorted(p for p in rows["patient"].unique() if p)
            record["splits"][part] = {
                "n_images": int(len(rows)),
                "by_class": _counts(rows["label"], index.class_names),
                "n_patients": len(patients) if index.has_patients else None,
                "patients": patients if index.has_patients else None,
            }
        unused = int((parts["part"] == "unused").sum())
        if unused:  # images a fold leaves out, or sets aside (fold_policy strict)
            record["splits"]["unused"] = {"n_images": unused}
    return record


def fetch_provenance(index: DatasetIndex) -> Optional[dict]:
    """What ``bclib fetch`` recorded about this data (None when it was not fetched by bclib), and whether the
    images are still those it verified: the index's fingerprint against the one in the record."""
    found = find_record(index.root, index.dataset)
    if found is None:
        return None
    folder, fetch = found
    verified = fetch.get("verification", {})
    unchanged = verified.get("fingerprint") == index.fingerprint()
    note = describe(fetch) + (
        "" if unchanged else f"; the images have changed since (fingerprint {index.fingerprint()}, "
                             f"{verified.get('fingerprint')} when verified) or the root holds only part of them")
    keys = ("url", "archive", "size", "md5", "sha256", "md5_published", "fetched", "bclib_version")
    return {"record": str(record_path(folder, index.dataset)), **{k: fetch.get(k) for k in keys},
            "verified": bool(verified), "n_verified": verified.get("present_and_decodable"),
            "unchanged_since": unchanged, "note": note}


def user_folders(frame: pd.DataFrame) -> Optional[dict]:
    """Which patients a user-made train/val/test folder structure puts where (None when there is none)."""
    named = frame[frame["user_folder"] != ""]
    if named.empty:
        return None
    sides = {side: sorted(set(rows["patient"])) for side, rows in named.groupby("user_folder")}
    several = sorted(p for p in set().union(*map(set, sides.values())) if sum(p in v for v in sides.values()) > 1)
    return {"folders": {side: {"n_images": int((named["user_folder"] == side).sum()), "n_patients": len(patients),
                               "patients": patients} for side, patients in sides.items()},
            "patients_in_several": several,
            "n_images_outside": int((frame["user_folder"] == "").sum())}


def subtype_magnification_table(index: DatasetIndex) -> pd.DataFrame:
    """The paper's Table 3 for this dataset: images per subtype (rows) and magnification (columns)."""
    frame = index.frame
    table = pd.crosstab([frame["label"], frame["subtype"]], frame["magnification"])
    table = table.reindex(columns=[m for m in BREAKHIS_MAGNIFICATIONS if m in table.columns], fill_value=0)
    order = [(BREAKHIS_SUBTYPES[s][0], s) for s in BREAKHIS_SUBTYPES if (BREAKHIS_SUBTYPES[s][0], s) in table.index]
    table = table.reindex(order)
    table["Total"] = table.sum(axis=1)
    table.loc[("all", "Total"), :] = table.sum(axis=0)
    table.index.names = ["class", "subtype"]
    table.columns.name = None
    return table.astype(int)


def class_balance(index: DatasetIndex) -> pd.DataFrame:
    """Images and patients per class, with each class's share of the images."""
    frame = index.frame
    out = frame.groupby("label").agg(images=("path", "size"))
    if index.has_patients:
        out["patients"] = frame.groupby("label")["patient"].nunique()
    out = out.reindex([c for c in index.class_names if c in out.index])
    out["share_of_images"] = (out["images"] / out["images"].sum()).round(3)
    return out


def image_properties(index: DatasetIndex) -> pd.DataFrame:
    """How many images of each stored size and colour mode."""
    frame = index.frame
    return (frame.groupby(["width", "height", "mode"]).size().rename("images").reset_index()
            .sort_values("images", ascending=False).reset_index(drop=True))


def split_summary(split: pd.DataFrame, class_names: list[str]) -> pd.DataFrame:
    """Images per class and patients in each part of a split."""
    rows = []
    for part in PARTS:
        sub = split[split["part"] == part]
        row = {"part": part, "images": len(sub)}
        row.update({c: int((sub["label"] == c).sum()) for c in class_names})
        named = sub["patient"].astype(str)
        row["patients"] = int(named[named != ""].nunique())
        rows.append(row)
    return pd.DataFrame(rows).set_index("part")
