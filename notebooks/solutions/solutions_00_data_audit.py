"""Solutions to notebook 00's exercises (data audit)."""

from __future__ import annotations

import pandas as pd


def exercise_1(frame: pd.DataFrame) -> pd.DataFrame:
    """Images per patient, by class: the mean and the range.

    Why it matters: a patient with many images weighs more in any image-level
    score; BreakHis' patient-level rate averages over patients so that they do not."""
    per_patient = frame.groupby(["label", "patient"]).size().rename("images")
    return per_patient.groupby("label").agg(["mean", "min", "max"]).round(1)


def exercise_2(split: pd.DataFrame) -> dict:
    """Check that no patient is in two parts of a patient-disjoint split.

    Returns the number of patients per part and the patients found in more than one
    (the answer must be an empty list; on an image-level split it would not be)."""
    parts = split.groupby("patient")["part"].nunique()
    return {"patients per part": split.groupby("part")["patient"].nunique().to_dict(),
            "patients in several parts": sorted(parts[parts > 1].index)}


def exercise_3(split: pd.DataFrame) -> float:
    """The accuracy of always answering the test part's largest class: the floor any model must beat, and
    the reason the notebooks report balanced accuracy (0.5 for that answer, with two classes)."""
    test = split[split["part"] == "test"]
    return float(test["label"].value_counts(normalize=True).max())
