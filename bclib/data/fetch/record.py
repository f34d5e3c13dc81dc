"""The small record a verified fetch leaves beside the data, and how ``bclib audit`` finds it.

``BCLIB_FETCH_<dataset>.json`` sits in the folder the archive was fetched into (``--to``), beside the
unpacked tree: the URL, the archive's size and hashes, the date, bclib's version, what the
verification found and bclib's fingerprint of the verified images. It is written last, after the
tree is in place, so its presence means the fetch finished. The audit looks for it at the dataset
root, in the folders above it and in the root's own sub-folders (a root given one level higher).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from ...io import write_json_atomic


def record_path(folder: Path, dataset: str) -> Path:
    return Path(folder) / f"BCLIB_FETCH_{dataset}.json"


def write_record(folder: Path, record: dict) -> dict:
    from ... import __version__

    record = {"dataset": record["dataset"], "fetched": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "bclib_version": __version__, **record}
    write_json_atomic(record_path(folder, record["dataset"]), record)
    return record


def read_record(folder: Path, dataset: str) -> Optional[dict]:
    path = record_path(folder, dataset)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("dataset") == dataset else None


def _covers(record: dict, folder: Path, root: Path) -> bool:
    """Whether the tree a record at ``folder`` describes holds ``root`` (or is held by it)."""
    if root == folder or folder.is_relative_to(root):
        return True
    return any(root.is_relative_to(folder / name) for name in record.get("folders", []))


def find_record(root: str | os.PathLike, dataset: str) -> Optional[tuple[Path, dict]]:
    """(folder, record) of the fetch the dataset at ``root`` came from, or None."""
    root = Path(root).resolve()
    children = [p for p in sorted(root.iterdir()) if p.is_dir()] if root.is_dir() else []
    for folder in [root, *root.parents, *children]:
        record = read_record(folder, dataset)
        if record is not None and record.get("extracted") and _covers(record, folder, root):
            return folder, record
    return None


def describe(record: dict) -> str:
    """One line for ``bclib audit``: where the data came from and what was verified."""
    checked = record.get("verification", {})
    classes = ", ".join(f"{k} {v:,}" for k, v in checked.get("by_class", {}).items())
    checksum = f"MD5 {record['md5']} matched the published checksum" if record.get("md5_published") else \
        "no published checksum, contents checked against the manifest"
    return (f"fetched with bclib {record.get('bclib_version')} on {record.get('fetched')} from {record.get('url')} "
            f"({record.get('size', 0):,} bytes, SHA-256 {record.get('sha256', '')[:16]}...); verified: "
            f"{checked.get('present_and_decodable', 0):,} of {checked.get('expected', 0):,} expected images present "
            f"and decodable ({classes}); {checksum}")
