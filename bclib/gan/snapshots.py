"""The snapshots of a cWGAN run on disk, and which one the tables and generation use.

A training folder holds ``snapshot-<images seen, 9 digits>/`` folders (each
complete once its ``state.json`` exists) and ``metrics.jsonl``, one record per
snapshot. The record of each snapshot names it (``snapshot``; older records are
matched through their fakes grid, ``fakes-<images seen>.png``).

**The selected snapshot** is the one the profile's criterion ranks best: the
lowest FID of the class(es) the profile generates for (``gan.target_class``: that
class's FID, the mean over several, or over every class when it is null; the
pooled FID for records without per-class scores), KID breaking ties - the
criterion by which :mod:`bclib.experiment.gan_sweeps` ranks snapshots in the sweep tables.
The trainer never deletes it when it prunes old snapshots (``gan.keep_snapshots``
counts the latest ones kept besides it; the earliest is kept too, for the
early-snapshot control), and ``bclib gan generate`` uses it unless asked for
the latest one. A run without scores (``metrics.during_training:
false``) has no criterion: its latest snapshot is used, and the report says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import UserError
from ..io import read_jsonl

SNAPSHOT_PREFIX = "snapshot-"
METRICS = "metrics.jsonl"
RANKED = ("fid", "kid", "kid_std", "precision", "recall", "swd", "n_real", "n_fake")


def list_snapshots(folder: str | Path) -> list[Path]:
    """Complete snapshots in ``folder`` (or ``folder`` itself if it is one), oldest first."""
    folder = Path(folder)
    if (folder / "state.json").is_file():
        return [folder]
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{SNAPSHOT_PREFIX}*") if (p / "state.json").is_file())


def latest_snapshot(folder: str | Path) -> Optional[Path]:
    snapshots = list_snapshots(folder)
    return snapshots[-1] if snapshots else None


def read_state(snapshot: Path) -> dict:
    return json.loads((Path(snapshot) / "state.json").read_text())


def snapshot_name(record: dict) -> str:
    """The snapshot folder a metrics record describes."""
    name, fakes = record.get("snapshot"), record.get("fakes")  # NaN where a table row lacks them
    if isinstance(name, str) and name:
        return name
    match = re.fullmatch(r"fakes-(\d+)\.png", fakes) if isinstance(fakes, str) else None
    images = int(match.group(1)) if match else int(round(float(record["kimg"]) * 1000))
    return f"{SNAPSHOT_PREFIX}{images:09d}"


def targets_of(target_class) -> Optional[list[str]]:
    """``gan.target_class`` as the list of classes ranked on (None: every class)."""
    if target_class is None:
        return None
    return [target_class] if isinstance(target_class, str) else list(target_class)


def ranked_scores(record: dict, targets: Optional[list[str]]) -> dict:
    """The ``*_ranked`` scores of one metrics record: its target class's (mean over several), else pooled."""
    classes = record.get("classes") or []
    chosen = [c for c in (targets if targets is not None else classes) if f"fid_{c}" in record]
    out = {"scored_on": ", ".join(chosen) if chosen else "all classes pooled"}
    for key in RANKED:
        if chosen:
            values = [record.get(f"{key}_{c}") for c in chosen]
            values = [v for v in values if v is not None]
            if not values:
                out[f"{key}_ranked"] = None
            elif key.startswith("n_"):
                out[f"{key}_ranked"] = int(np.sum(values))
            else:
                out[f"{key}_ranked"] = float(np.mean(values))
        else:
            out[f"{key}_ranked"] = record.get(key)
    return out


def best_record(records: Sequence[dict], targets: Optional[list[str]]) -> Optional[dict]:
    """The record with the lowest ranked FID (KID breaks ties, then the earlier one); None without FIDs."""
    scored = []
    for position, record in enumerate(records):
        ranked = ranked_scores(record, targets) if "fid" in record else {}
        fid = ranked.get("fid_ranked")
        if fid is not None and np.isfinite(fid):
            kid = ranked.get("kid_ranked")
            scored.append((float(fid), float(kid) if kid is not None else np.inf, position,
                           {**record, **ranked}))
    return min(scored, key=lambda item: item[:3])[3] if scored else None


def best_snapshot_name(folder: Path, target_class) -> Optional[str]:
    """The name of the best snapshot of a training folder among those on disk (None without scores)."""
    present = {p.name for p in list_snapshots(folder)}
    records = [r for r in read_jsonl(Path(folder) / METRICS) if snapshot_name(r) in present]
    best = best_record(records, targets_of(target_class))
    return snapshot_name(best) if best is not None else None


def select_snapshot(path: str | Path, which: str = "best") -> tuple[Path, dict]:
    """The snapshot to generate from, and a description of the choice.

    ``path`` is a snapshot folder (used as it is) or a training output folder:
    ``which="best"`` takes its selected snapshot (see the module docstring),
    ``which="latest"`` its newest complete one, ``which="earliest"`` its oldest (the trainer keeps it: the
    early-snapshot control of :mod:`bclib.variants`). The description has ``snapshot``,
    ``kimg``, ``which`` (best, latest or given), ``criterion`` and, for the best,
    ``fid``, ``kid`` and ``scored_on``.
    """
    if which not in ("best", "latest", "earliest"):
        raise ValueError(f"which must be 'best', 'latest' or 'earliest', got {which!r}")
    path = Path(path)
    snapshots = list_snapshots(path)
    if not snapshots:
        raise UserError(f"{path}: no complete cWGAN snapshot here (expected state.json or snapshot-* folders)")
    if (path / "state.json").is_file():
        state = read_state(path)
        return path, {"snapshot": path.name, "kimg": float(state["kimg"]), "which": "given",
                      "criterion": "the snapshot folder given"}
    if which == "earliest":
        earliest = snapshots[0]
        return earliest, {"snapshot": earliest.name, "kimg": float(read_state(earliest)["kimg"]),
                          "which": "earliest", "criterion": "the earliest snapshot, as asked"}
    latest = snapshots[-1]
    state = read_state(latest)
    if which == "best":
        present = {p.name for p in snapshots}
        records = [r for r in read_jsonl(path / METRICS) if snapshot_name(r) in present]
        targets = targets_of(state.get("gan", {}).get("target_class"))
        best = best_record(records, targets)
        if best is not None:
            chosen = path / snapshot_name(best)
            return chosen, {"snapshot": chosen.name, "kimg": float(best["kimg"]), "which": "best",
                            "criterion": f"lowest FID of {best['scored_on']} over the snapshots (KID breaks ties)",
                            "fid": best["fid_ranked"], "kid": best.get("kid_ranked"),
                            "scored_on": best["scored_on"]}
    reason = "the latest snapshot, as asked" if which == "latest" else \
        "the latest snapshot (no FID recorded: metrics.during_training was off)"
    return latest, {"snapshot": latest.name, "kimg": float(state["kimg"]), "which": "latest", "criterion": reason}


def describe_selection(info: dict) -> str:
    """One line naming the snapshot used and why, e.g. for ``bclib gan generate``."""
    text = f"{info['snapshot']} ({info['kimg']:g} kimg)"
    if info.get("fid") is not None:
        kid = f", KID {info['kid']:.4g}" if info.get("kid") is not None else ""
        return f"{text}: {info['criterion']}; FID {info['fid']:.4g}{kid}"
    return f"{text}: {info['criterion']}"
