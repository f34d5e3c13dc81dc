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
