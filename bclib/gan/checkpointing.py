"""A cWGAN run's snapshots written, pruned and read back: the files behind the trainer's resume.

A snapshot ``snapshot-<images seen, 9 digits>/`` holds ``generator.keras``, ``critic.keras`` (and
``generator_ema.keras``), ``optimizers.npz`` and ``state.json``; the trainer assembles it under a temporary
name (:func:`bclib.io.atomic_directory`) and ``state.json`` is written last, so a folder with one is
complete. Reading the snapshots on disk and choosing among them is :mod:`bclib.gan.snapshots`; here is
what the trainer writes and the checks that decide whether a snapshot may be continued.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..errors import UserError
from ..io import atomic_path, read_jsonl, write_json_atomic, write_text_atomic
from ..layout import Layout
from .models import Networks, load_critic, load_generator
from .snapshots import METRICS, SNAPSHOT_PREFIX, latest_snapshot, list_snapshots, read_state

CONTINUED_FROM = "continued_from.json"  # where a run's first snapshots were trained (adopt_snapshots)

# The settings that decide the networks' weights (shapes and meaning) and the images they learn from.
NETWORK_SETTINGS = ("resolution", "latent_dim", "max_channels", "channel_base", "equalized_lr",
                    "condition_magnification", "normalized_conditioning", "mbstd_group", "mbstd_channels", "crop")
# What a snapshot older than a setting did: it had the behaviour the setting names off (or, for crop,
# squashed tiles).
OLDER_DEFAULTS = {"equalized_lr": False, "condition_magnification": False, "normalized_conditioning": False,
                  "mbstd_group": 0, "mbstd_channels": 1, "crop": "squash"}


def snapshot_folder_name(images_seen: int) -> str:
    return f"{SNAPSHOT_PREFIX}{images_seen:09d}"


def fakes_grid_name(images_seen: int) -> str:
    return f"fakes-{images_seen:09d}.png"


def remove_interrupted(out_dir: Path) -> None:
    """Delete snapshots whose writing was interrupted (their temporary ``.snapshot-*`` folders)."""
    for stale in Path(out_dir).glob(f".{SNAPSHOT_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)


def save_networks(folder: Path, networks: Networks, optimizers: Sequence) -> None:
    """The networks' ``.keras`` files and the (generator, critic) optimizers' variables into ``folder``."""
    networks.generator.save(folder / "generator.keras")
    networks.critic.save(folder / "critic.keras")
    if networks.generator_ema is not None:
        networks.generator_ema.save(folder / "generator_ema.keras")
    arrays = {}
    for prefix, optimizer in zip("gd", optimizers):
        arrays.update({f"{prefix}{i:04d}": v.numpy() for i, v in enumerate(optimizer.variables)})
    np.savez(folder / "optimizers.npz", **arrays)


def write_state(folder: Path, state: dict) -> None:
    """``state.json``, the file that makes a snapshot complete: write it last."""
    write_text_atomic(folder / "state.json", json.dumps(state, indent=2))


def prune_snapshots(out_dir: Path, keep: int, best: Optional[str]) -> None:
    """Delete old snapshots, keeping the latest ``keep``, the selected (``best``) one and the earliest
    (the early-snapshot control trains on its images: bclib.variants)."""
    for old in list_snapshots(out_dir)[1:-keep]:
        if old.name != best:
            shutil.rmtree(old, ignore_errors=True)


def network_change(saved: dict, current: dict) -> Optional[str]:
    """Why networks trained under the ``gan`` settings ``saved`` (a snapshot's) are not the ones the settings
    ``current`` build, e.g. 'gan.latent_dim 8 (now 16)'; None when they are. ``equalized_lr`` keeps every
    weight's shape but changes its meaning, so it counts too."""
    for key in NETWORK_SETTINGS:
        then = saved.get(key, OLDER_DEFAULTS.get(key))
        if then != current[key]:
            return f"gan.{key} {then} (now {current[key]})"
    return None


def check_resumable(snapshot: Path, state: dict, class_names: list[str], fingerprint: str,
                    current: dict) -> None:
    """Refuse to continue ``snapshot`` (its ``state``) with other networks, classes or training set."""
    other = network_change(state["gan"], current)
    if other is not None:  # only a snapshot folder given directly gets here: it is not moved aside
        raise UserError(f"{snapshot}: cannot resume: trained with {other}; use a new output folder")
    if state["class_names"] != class_names:
        raise UserError(f"{snapshot}: cannot resume: classes were {state['class_names']}, now {class_names}")
    if state.get("training_set") != fingerprint:
        raise UserError(f"{snapshot}: cannot resume: trained on training set {state.get('training_set')}, "
                        f"now {fingerprint}")


def restore_networks(snapshot: Path, networks: Networks, optimizers: Sequence) -> None:
    """Load a snapshot's weights into ``networks`` and its variables into the (generator, critic) optimizers."""
    networks.generator.set_weights(load_generator(snapshot, prefer_ema=False).get_weights())
    networks.critic.set_weights(load_critic(snapshot).get_weights())
    if networks.generator_ema is not None:  # a run without EMA before: the EMA copy starts from the generator
        source = snapshot / "generator_ema.keras"
        networks.generator_ema.set_weights(load_generator(snapshot, prefer_ema=source.is_file()).get_weights())
    with np.load(snapshot / "optimizers.npz") as arrays:
        for prefix, optimizer in zip("gd", optimizers):
            for i, variable in enumerate(optimizer.variables):
                variable.assign(arrays[f"{prefix}{i:04d}"])


def repair_metrics(out_dir: Path, last: dict) -> None:
    """Make metrics.jsonl end with the resumed snapshot's record ``last`` (drop lines written after it)."""
    path = Path(out_dir) / METRICS
    _write_records(path, [r for r in read_jsonl(path) if r.get("kimg", 0) < last["kimg"] - 1e-9] + [last])


def _write_records(path: Path, records: list[dict]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in records))


def snapshot_to_continue(params, out_dir: Path) -> Optional[Path]:
    """The newest snapshot of a GAN sweep point trained with exactly ``params.gan`` and ``params.seed`` but a
    shorter ``total_kimg``, and scored with ``params.metrics`` (its metrics records are copied too), or None:
    a main run (the selected point trained longer) continues it instead of training its first
    ``gan.sweep_kimg`` again (:func:`adopt_snapshots` checks the training set). ``out_dir`` itself is never
    a candidate."""
    def settings(gan: dict) -> dict:
        return {k: v for k, v in gan.items() if k != "total_kimg"}

    wanted = settings(params.gan.model_dump(mode="json"))
    for folder in Layout.of(params).sweep_points():
        snapshot = latest_snapshot(folder)
        if snapshot is None or folder.resolve() == Path(out_dir).resolve():
            continue
        state = read_state(snapshot)
        if (state.get("seed") == params.seed and settings(state.get("gan", {})) == wanted
                and state.get("metrics") == params.metrics.model_dump(mode="json")
                and float(state["kimg"]) <= params.gan.total_kimg + 1e-9):
            return snapshot
    return None


def adopt_snapshots(snapshot: Path, out_dir: Path, fingerprint: str, current: dict,
                    log: Callable[[str], None] = print) -> Optional[Path]:
    """Copy ``snapshot`` and its run's earlier snapshots, metrics records and fakes grids into ``out_dir``
    (which has no snapshot yet), so that training continues there; return the copy of ``snapshot``.

    For a run whose settings are ``snapshot``'s but for a longer ``total_kimg``: its first kimg are
    that run's, step for step (the steps' random numbers are keyed by the iteration), so continuing
    the copy gives what training them again would. The caller decides that the settings agree;
    here the training set and the networks are checked, and None is returned (with a line) if
    either differs. ``continued_from.json`` records where the snapshots came from.
    """
    snapshot, out_dir = Path(snapshot), Path(out_dir)
    state = read_state(snapshot)
    if state.get("training_set") != fingerprint or network_change(state["gan"], current) is not None:
        log(f"{snapshot} was trained on another training set or with other networks: not continued")
        return None
    kimg = float(state["kimg"])
    source = snapshot.parent
    records = [r for r in read_jsonl(source / METRICS) if r.get("kimg", 0) <= kimg + 1e-9]
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_records(out_dir / METRICS, records)  # resuming repairs it against the snapshot (repair_metrics)
    for record in records:
        fakes = record.get("fakes")
        if isinstance(fakes, str) and (source / fakes).is_file():
            shutil.copy2(source / fakes, out_dir / fakes)
    earlier = [s for s in list_snapshots(source) if float(read_state(s)["kimg"]) <= kimg + 1e-9]
    for folder in earlier:  # under the trainer's temporary name until complete (remove_interrupted)
        staging = out_dir / f".{folder.name}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(folder, staging)
        staging.rename(out_dir / folder.name)
    write_json_atomic(out_dir / CONTINUED_FROM, {
        "source": str(source.resolve()), "snapshot": snapshot.name, "kimg": kimg,
        "note": "The snapshots up to this one were trained in the source folder with the same settings "
                "but a shorter total_kimg (a GAN sweep point), then continued here."})
    log(f"continuing {source.name}'s {snapshot.name} ({kimg:g} kimg): the same settings, trained that far")
    return out_dir / snapshot.name
