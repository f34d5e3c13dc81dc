"""Which images a cWGAN learned from, and the checks that keep its images out of an evaluation they could leak into.

A GAN run is tied to the exact set of images it was trained on. The trainer
writes ``training_set.json`` into its folder: the training patients, every
training image (path relative to the dataset root, class, size in bytes and a
sha256 of its bytes) and a **fingerprint**, a sha256 over the class names and
those image entries. Every snapshot's ``state.json`` carries the fingerprint,
and so does every row of a generated set's ``manifest.csv``.

* :func:`start_afresh_if_stale` (called by the trainer before it resumes, with
  the snapshots' states; :func:`stale_run` decides): a folder whose snapshots
  were trained on another training set (another seed, split, fold, test fraction
  or changed data) or of other networks is not resumed; its snapshots, metrics
  and grids are moved aside into ``superseded-<old fingerprint>/`` and training
  starts from scratch.
* :func:`check_generated_images` (called before generated images join a
  classifier's training set): the generated set must come from the GAN run that
  ``training_set.json`` describes, and that run must not have seen any image
  (by path or by content) or any patient of the classifier's validation or test
  parts. This works for BACH too, which has no patient ids.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import pandas as pd

from ..errors import UserError
from ..io import write_json_atomic

TRAINING_SET = "training_set.json"
LEGACY_RECORD = "training_patients.json"  # patients only; written by older versions
MANIFEST_COLUMN = "gan_training_set"
SUPERSEDED_PREFIX = "superseded-"


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, 32 hex digits."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()[:32]


def image_ids(frame: pd.DataFrame) -> list[str]:
    """Each image's identity within its dataset: the path relative to the dataset root (else the path)."""
    if "relpath" in frame and (frame["relpath"].astype(str) != "").all():
        return [Path(p).as_posix() for p in frame["relpath"].astype(str)]
    return [Path(p).as_posix() for p in frame["path"].astype(str)]


def describe_training_set(train: pd.DataFrame, class_names: Sequence[str]) -> dict:
    """The record written as ``training_set.json``: patients, images (id, class, size, sha256) and fingerprint."""
    entries = sorted([image_id, str(label), os.path.getsize(path), file_digest(path)]
                     for image_id, label, path in zip(image_ids(train), train["label"], train["path"]))
    digest = hashlib.sha256(json.dumps([list(class_names), entries]).encode())
    patients = sorted(p for p in train["patient"].astype(str).unique() if p) if "patient" in train else []
    return {
        "fingerprint": digest.hexdigest()[:16],
        "classes": list(class_names),
        "n_images": len(entries),
        "patients": patients,
        "by_class": {c: sum(e[1] == c for e in entries) for c in class_names},
        "images": entries,
        "note": "The generator was trained on exactly these images (path relative to the dataset root, class, "
                "bytes, sha256) of the training split; fingerprint = sha256 of the class names and this list.",
    }


def write_training_set(out_dir: Path, record: dict) -> Path:
    """``training_set.json`` and the older ``training_patients.json`` (patients only) in ``out_dir``."""
    write_json_atomic(out_dir / LEGACY_RECORD, {
        "n_images": record["n_images"], "patients": record["patients"], "by_class": record["by_class"],
        "fingerprint": record["fingerprint"],
        "note": f"The generator was trained on these training-split patients only; images in {TRAINING_SET}.",
    })
    return write_json_atomic(out_dir / TRAINING_SET, record)


def read_training_set(gan_dir: Path) -> dict:
    path = Path(gan_dir) / TRAINING_SET
    if not path.is_file():
        if (Path(gan_dir) / LEGACY_RECORD).is_file():
            raise UserError(f"{path} is missing: the GAN in {gan_dir} records its patients only, not its images, so "
                            "it cannot be shown to have never seen a validation/test image; retrain it (notebook 01)")
        raise UserError(f"{path} is missing: cannot prove the GAN never saw validation/test images or patients")
    return json.loads(path.read_text())


# ---------------------------------------------------------------------------
# Trainer side


def stale_run(fingerprint: str, states: Mapping[Path, dict],
              network_changes: Optional[Mapping[Path, Optional[str]]] = None) -> Optional[tuple[str, str]]:
    """Whether a previous run must be moved aside: None, or (its fingerprint, why).

    ``states`` are the snapshots' ``state.json`` contents (oldest first); a snapshot
    without a recorded fingerprint (older versions) counts as another training set.
    ``network_changes`` says, per snapshot, why its networks are not the ones asked
    for (a changed architecture setting, e.g. after an upgrade of bclib's defaults:
    :func:`bclib.gan.checkpointing.network_change`), or None. The newest stale
    snapshot names the old run and the reason.
    """
    changes = network_changes or {}
    reasons = {s: "another training set" if state.get("training_set") != fingerprint else changes.get(s)
               for s, state in states.items()}
    stale = [s for s, reason in reasons.items() if reason]
    if not stale:
        return None
    return states[stale[-1]].get("training_set") or "unrecorded", reasons[stale[-1]]


def start_afresh_if_stale(out_dir: Path, fingerprint: str, states: Mapping[Path, dict],
                          network_changes: Optional[Mapping[Path, Optional[str]]] = None,
                          log: Callable[[str], None] = print) -> Optional[Path]:
    """Move aside a previous run trained on another training set, or of another network (:func:`stale_run`
    decides from the snapshots' ``states``); return where it went (None if nothing moved).

    Everything of the old run (snapshots, ``metrics.jsonl``, ``fakes-*.png``,
    training-set records) is moved into a hidden folder which is then renamed to
    ``superseded-<old fingerprint>``; an interrupted move is finished by the next start.
    """
    out_dir = Path(out_dir)
    for debris in sorted(out_dir.glob(f".{SUPERSEDED_PREFIX}*.tmp")):  # a move that was interrupted
        debris.rename(_free_name(out_dir, debris.name[1:-4]))
    decision = stale_run(fingerprint, states, network_changes)
    if decision is None:
        return None
    old, why = decision
    if out_dir.resolve() in {Path(s).resolve() for s in states}:  # a snapshot given directly: its only state
        raise UserError(f"{out_dir} is a snapshot trained on another training set (fingerprint {old}≠{fingerprint}); "
                        "train into a new folder")
    name = f"{SUPERSEDED_PREFIX}{old}"
    staging = out_dir / f".{name}.tmp"
    staging.mkdir()
    items = [*states, out_dir / "metrics.jsonl", out_dir / TRAINING_SET, out_dir / LEGACY_RECORD,
             *out_dir.glob("fakes-*.png")]
    for item in items:
        if item.exists():
            item.rename(staging / item.name)
    target = _free_name(out_dir, name)
    staging.rename(target)
    what = f"on another training set (fingerprint {old}≠{fingerprint})" if why == "another training set" \
        else f"with {why}"
    log(f"snapshots in {out_dir} were trained {what}: starting afresh; the old run is kept in "
        f"{target.name}/ (delete it to free the space)")
    return target


def _free_name(folder: Path, name: str) -> Path:
    target, k = folder / name, 2
    while target.exists():
        target, k = folder / f"{name}-{k}", k + 1
    return target


# ---------------------------------------------------------------------------
# Classifier side


def check_generated_images(gan_dir: Path, generated_dir: Path, split: pd.DataFrame) -> dict:
    """Refuse generated images whose GAN saw a validation/test image or patient of ``split``; return its record.

    ``split`` is the classifier's split (a ``part`` column); images count as the
    same when their dataset-relative path or their bytes are the same.
    """
    record = read_training_set(gan_dir)
    manifest = pd.read_csv(Path(generated_dir) / "manifest.csv", dtype=str, keep_default_na=False)
    made_by = set(manifest[MANIFEST_COLUMN]) if MANIFEST_COLUMN in manifest else {""}
    if made_by != {record["fingerprint"]}:
        shown = ", ".join(sorted(f or "unrecorded" for f in made_by))
        raise UserError(f"{generated_dir}: these images come from a GAN trained on training set {shown}, but "
                        f"{Path(gan_dir) / TRAINING_SET} records {record['fingerprint']}; "
                        "regenerate them (notebook 01)")
    held = split[split["part"].isin(["val", "test"])]
    seen_ids = {entry[0] for entry in record["images"]}
    shared = sorted(seen_ids & set(image_ids(held)))
    by_size = {entry[2] for entry in record["images"]}
    seen_digests = {entry[3] for entry in record["images"]}
    same_bytes = sorted(image_id for image_id, path in zip(image_ids(held), held["path"])
                        if image_id not in seen_ids and os.path.getsize(path) in by_size
                        and file_digest(path) in seen_digests)
    if shared or same_bytes:
        example = ", ".join((shared + same_bytes)[:3])
        raise UserError(f"the cWGAN was trained on {len(shared) + len(same_bytes)} image(s) that are in this split's "
                        f"validation/test parts (e.g. {example}); retrain it on this split (notebook 01)")
    held_patients = set(held["patient"].astype(str)) - {""} if "patient" in held else set()
    leaked = sorted(set(record["patients"]) & held_patients)
    if leaked:
        raise UserError(f"the cWGAN was trained on {len(leaked)} patient(s) that are in this split's "
                        f"validation/test parts (e.g. {', '.join(leaked[:3])}); retrain it on this split (notebook 01)")
    return record


def guard_training_split(train: pd.DataFrame, held_out: Optional[pd.DataFrame] = None) -> list[str]:
    """Refuse training data that is not the training split; return the training patients.

    ``train`` must contain only rows of the ``train`` part (when it has a ``part``
    column); no image and no patient may also appear in ``held_out``.
    """
    if "part" in train.columns:
        wrong = train[train["part"] != "train"]
        if len(wrong):
            parts = ", ".join(sorted(set(wrong["part"])))
            raise UserError(f"GAN training refused: {len(wrong)} image(s) from the {parts} part(s); "
                            "the generator may only see training patients")
    patients = sorted(p for p in train["patient"].astype(str).unique() if p)
    if held_out is not None and len(held_out):
        shared_images = set(train["path"]) & set(held_out["path"])
        if shared_images:
            raise UserError(f"GAN training refused: {len(shared_images)} image(s) are also in validation/test")
        shared = set(patients) & set(held_out["patient"].astype(str)) - {""}
        if shared:
            example = ", ".join(sorted(shared)[:3])
            raise UserError(f"GAN training refused: {len(shared)} patient(s) are also in validation/test "
                            f"(e.g. {example}); use a patient-disjoint split")
    return patients
