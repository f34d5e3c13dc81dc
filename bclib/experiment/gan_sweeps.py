"""The gamma and batch-size sweeps of the paper's Tables 8 and 9, as independent jobs.

Each sweep point is one run of the same trainer with one parameter changed and
its own output folder, ``outputs/<profile>/sweeps/<kind>-<value>/``, so the
points can run in any order, in parallel, or on other machines (the command
line of each job is ``bclib gan train --params P --set gan.<key>=<value> --out DIR``).
A finished point is skipped when the sweep is run again.

Each sweep changes one thing (issue #40). The gamma sweep runs at the profile's batch
size; the batch sweep holds gamma fixed at the profile's *gamma point*
(:func:`batch_sweep_gamma`: the profile's ``gan.gamma``, with ``auto`` resolved at the
profile's own batch size, e.g. 0.0002 x 512^2 / 32 = 1.6384 for BreakHis), passed to
each batch point as an explicit ``--set gan.gamma=...``. Left on ``auto``, the batch
points would run at 3.28, 1.64, 0.82 and 0.41 (batch 16-128) and the batch sweep would
change two things at once. Each table states the setting held fixed (a ``gamma``
column in the batch table, a ``batch size`` column in the gamma table).

A point of the batch sweep that repeats a point of the gamma sweep (the batch
size of the profile at the profile's gamma) is not trained twice: the gamma
point's run fills both tables' rows (``SweepJob.rows``).

:func:`sweep_table` reduces each point to its best snapshot (lowest FID), in the
layout of the paper's tables (kimg, gamma or batch, FID, KID, and the snapshot's
folder name), and :func:`select_configuration` picks the setting used downstream:
the (gamma, batch size) of the one trained point, of either sweep, with the lowest FID,
so the main GAN is trained with a configuration the sweep trained (never the best gamma
of one sweep combined with the best batch of the other).
That best snapshot is the point's *selected* snapshot (:mod:`bclib.gan.snapshots`):
the trainer keeps it on disk whatever ``gan.keep_snapshots`` says, so every row of a
table describes a generator that still exists.

The scores ranked are those of the class(es) the profile generates for
(``gan.target_class``): each is that class's real training images against
generated images of that class (see :mod:`bclib.gan.scoring_hook`). With one
target class (BreakHis: benign, as in the paper's Tables 8-9) that class's FID
and KID; with several, or ``null`` meaning every class (BACH), their mean.

:func:`selected_params` turns ``gan_selection.json`` into the parameters the
main GAN is trained with, and :func:`ensure_selection` runs the sweep first when
there is no selection yet (notebook 01 calls it before training).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from ..gan.snapshots import RANKED, ranked_scores, snapshot_name, targets_of
from ..io import read_jsonl, write_json_atomic
from ..layout import Layout
from ..ledger import GAN_CODE, run_in_process
from ..params import Params
from .job import LedgerCompletion

SELECTION_FILE = "gan_selection.json"

SWEEP_KEYS = {"gamma": "gamma", "batch": "batch_size"}


@dataclass
class SweepJob(LedgerCompletion):
    kind: str  # gamma | batch
    value: float
    overrides: list[str]
    out_dir: Path
    params: Params = field(repr=False)
    rows: tuple[tuple[str, float], ...] = ()  # the (kind, value) table rows this run fills; () = its own

    @property
    def table_rows(self) -> tuple[tuple[str, float], ...]:
        return self.rows or ((self.kind, self.value),)

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.value:g}"

    depends_on: tuple[str, ...] = ()

    @property
    def code_parts(self) -> tuple[str, ...]:
        return GAN_CODE

    def command(self) -> list[str]:
        source = str(self.params._source) if self.params._source else "PARAMS.yaml"
        sets = [arg for o in self.overrides for arg in ("--set", o)]
        return ["bclib", "gan", "train", "--params", source, *sets, "--out", str(self.out_dir)]

    def commands(self) -> list[list[str]]:
        return [self.command()]

    def inputs(self) -> dict:
        return {}

    def outputs_complete(self) -> bool:
        records = read_jsonl(self.out_dir / "metrics.jsonl")
        target = self.params.gan.total_kimg
        return bool(records) and records[-1]["kimg"] >= target - 1e-9

    @property
    def gamma(self) -> float:
        """The R1/penalty weight this run trains at (``auto`` resolved)."""
        return float(self.params.gan.gamma_value)

    @property
    def batch_size(self) -> int:
        return int(self.params.gan.batch_size)


def batch_sweep_gamma(params: Params) -> float:
    """The gamma every point of the batch sweep trains at: the profile's gamma point, i.e. ``gan.gamma``
    with ``auto`` resolved at the profile's own ``gan.batch_size`` (6 significant digits, so that the
    ``--set gan.gamma=...`` of the job's command line gives the same number)."""
    return float(f"{params.gan.gamma_value:.6g}")


def sweep_jobs(params: Params, kinds=("gamma", "batch")) -> list[SweepJob]:
    """One job per value of ``gan.gamma_sweep`` (at the profile's batch size) and ``gan.batch_sweep`` (at
    the fixed :func:`batch_sweep_gamma`); a batch point equal to a gamma point (the profile's batch size,
    with the fixed gamma among the swept gammas) is that job's."""
    jobs: list[SweepJob] = []
    length = params.gan.sweep_kimg or params.gan.total_kimg
    fixed_gamma = batch_sweep_gamma(params)
    for kind in kinds:
        values = params.gan.gamma_sweep if kind == "gamma" else params.gan.batch_sweep
        for value in values:
            key = SWEEP_KEYS[kind]
            point = params.model_copy(deep=True)
            point._source = params._source
            setattr(point.gan, key, value if kind == "gamma" else int(value))
            held = []
            if kind == "batch":  # one thing changes: gamma stays at the profile's gamma point
                point.gan.gamma = fixed_gamma
                held = [f"gan.gamma={fixed_gamma:g}"]
            point.gan.total_kimg = length
            point.gan.snapshot_kimg = min(params.gan.snapshot_kimg, length)
            same = next((j for j in jobs if j.params.gan == point.gan), None)
            if same is not None:
                same.rows = same.table_rows + ((kind, value),)
                continue
            overrides = [f"gan.{key}={value:g}", *held, f"gan.total_kimg={length:g}",
                         f"gan.snapshot_kimg={min(params.gan.snapshot_kimg, length):g}"]
            jobs.append(SweepJob(kind, value, overrides, Layout.of(params).sweep_point(kind, value), point))
    return jobs


def describe_sweeps(params: Params) -> list[str]:
    """One line per sweep of the profile: its values and the setting it holds fixed (for ``bclib plan``)."""
    gan, lines = params.gan, []
    auto = f": gamma auto at the profile's batch size {gan.batch_size}" if gan.gamma == "auto" else ""
    if gan.gamma_sweep:
        lines.append(f"GAN sweep gamma: {', '.join(f'{v:g}' for v in gan.gamma_sweep)} at batch size "
                     f"{gan.batch_size} (fixed).")
    if gan.batch_sweep:
        lines.append(f"GAN sweep batch: {', '.join(f'{v:g}' for v in gan.batch_sweep)} at gamma "
                     f"{batch_sweep_gamma(params):g} (fixed{auto}).")
    if lines:
        lines.append("GAN selection: the (gamma, batch size) of the sweep run with the lowest FID, over both "
                     "sweeps (a configuration the sweep trained).")
    return lines


def run_sweep_jobs(jobs: list[SweepJob], log: Callable[[str], None] = print) -> None:
    """Run the jobs one after another in this process, skipping finished ones."""

    def train(job: SweepJob) -> None:
        # Imported here, when a point trains: TensorFlow costs ~5 CPU-s to load, and a notebook whose sweep
        # points are all complete (notebook 02 after a batch run or after notebook 01) only reads them.
        from ..gan.workflow import train_from_params

        train_from_params(job.params, job.out_dir, log=lambda m: None)

    run_in_process(jobs, train, log)


def _targets(params: Params) -> Optional[list[str]]:
    return targets_of(params.gan.target_class)  # None: every class


def sweep_records(jobs: list[SweepJob]) -> pd.DataFrame:
    """Every metrics record of every job, with its kind and value, the gamma and batch size the run
    trained at (``run_gamma``, ``run_batch``), plus the ``*_ranked`` scores."""
    rows = []
    for job in jobs:
        targets = _targets(job.params)
        for record in read_jsonl(job.out_dir / "metrics.jsonl"):
            ranked = ranked_scores(record, targets) if "fid" in record else {}
            rows.extend({"kind": kind, "value": value, **record, **ranked,
                         "run_gamma": job.gamma, "run_batch": job.batch_size} for kind, value in job.table_rows)
    return pd.DataFrame(rows)


def sweep_table(records: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Per sweep value, the snapshot with the lowest target-class FID: kimg, value, the setting held fixed
    (the gamma of a batch sweep, the batch size of a gamma sweep; when the records say it), FID, KID
    (+/- std), precision, recall, SWD, N, the class(es) scored and the snapshot's folder name."""
    if "fid_ranked" not in records.columns:  # records made by hand or by an older hook: pooled scores
        records = records.assign(**{f"{k}_ranked": records.get(k) for k in RANKED},
                                 scored_on="all classes pooled")
    rows = records[(records["kind"] == kind) & records["fid_ranked"].notna()]
    rows = rows.assign(fid_ranked=rows["fid_ranked"].astype(float))
    best = rows.loc[rows.groupby("value")["fid_ranked"].idxmin()]
    column = "gamma" if kind == "gamma" else "batch size"

    def col(key):
        values = best.get(f"{key}_ranked")
        return values.to_numpy() if values is not None else np.full(len(best), np.nan)

    held = {}
    if kind == "batch" and "run_gamma" in best.columns:
        held = {"gamma": best["run_gamma"].astype(float).to_numpy()}
    elif kind == "gamma" and "run_batch" in best.columns:
        held = {"batch size": best["run_batch"].astype(int).to_numpy()}
    table = pd.DataFrame({
        "kimg": best["kimg"].to_numpy(),
        column: best["value"].to_numpy(),
        **held,
        "FID": col("fid").astype(float),
        "KID": col("kid").astype(float),
        "KID std": col("kid_std").astype(float),
        "precision": col("precision").astype(float),
        "recall": col("recall").astype(float),
        "SWD": col("swd").astype(float),
        "N real": col("n_real"),
        "N generated": col("n_fake"),
        "scored on": best["scored_on"].to_numpy(),
        "snapshot": [snapshot_name(r) for r in best.to_dict("records")],
    })
    if kind == "batch":
        table[column] = table[column].astype(int)
    return table.sort_values(column).reset_index(drop=True)


def select_configuration(records: pd.DataFrame, jobs: list[SweepJob], out_file: Optional[Path] = None,
                         note: str = "") -> dict:
    """The gamma and batch size of the trained sweep point with the lowest best-snapshot FID of the target
    class(es) (KID breaks ties), over the points of both sweeps, written to ``out_file``.

    The pair is always one run's (``run``): a gamma point's (its gamma, the profile's batch size) or a
    batch point's (the fixed :func:`batch_sweep_gamma`, its batch size). Combining the best gamma of the
    gamma sweep with the best batch of the batch sweep would pick a configuration nobody trained.
    ``gamma_run`` and ``batch_run`` name the best point of each table, for reference."""
    choice = {"criterion": "lowest FID over snapshots (KID breaks ties)", "note": note,
              "rule": "the (gamma, batch size) of the sweep run with the lowest FID, over both sweeps"}
    candidates = []
    for kind in SWEEP_KEYS:
        table = sweep_table(records, kind) if (records["kind"] == kind).any() else pd.DataFrame()
        if table.empty:
            continue
        column = "gamma" if kind == "gamma" else "batch size"
        best = table.sort_values(["FID", "KID"]).iloc[0]
        choice["criterion"] = f"lowest FID of {best['scored on']} over snapshots (KID breaks ties)"
        job = next(j for j in jobs if (kind, best[column]) in j.table_rows)
        choice[f"{kind}_run"] = {"output": str(job.out_dir), "snapshot": best["snapshot"],
                                 "kimg": float(best["kimg"]), "fid": float(best["FID"]), "kid": float(best["KID"]),
                                 "gamma": job.gamma, "batch_size": job.batch_size}
        candidates.append((float(best["FID"]), float(best["KID"]), job, best))
    if candidates:
        fid, kid, job, best = min(candidates, key=lambda c: (c[0], c[1]))
        choice["gamma"], choice["batch_size"] = job.gamma, job.batch_size
        choice["run"] = {"output": str(job.out_dir), "snapshot": best["snapshot"], "kimg": float(best["kimg"]),
                         "fid": fid, "kid": kid, "gamma": job.gamma, "batch_size": job.batch_size}
    if out_file is not None:
        write_json_atomic(out_file, choice)
    return choice


def selected_params(params: Params, selection_file: Optional[Path] = None) -> tuple[Params, Optional[dict]]:
    """The parameters to train the main GAN with: ``params`` with the sweep's choice of gamma and batch
    size applied when ``gan_selection.json`` (default: in the profile's output folder) exists.

    Returns (params, selection); selection is None, and params are returned unchanged, when
    there is no selection file.
    """
    path = Path(selection_file) if selection_file is not None else Layout.of(params).gan_selection()
    if not path.is_file():
        return params, None
    selection = json.loads(path.read_text())
    chosen = params.model_copy(deep=True)
    chosen._source = params._source
    if "gamma" in selection:
        chosen.gan.gamma = float(selection["gamma"])
    if "batch_size" in selection:
        chosen.gan.batch_size = int(selection["batch_size"])
    return chosen, selection


def ensure_selection(params: Params, log: Callable[[str], None] = print,
                     note: str = "") -> tuple[Params, Optional[dict]]:
    """Run the profile's sweep (finished points are skipped), select, and return :func:`selected_params`.

    A profile without sweep values returns its own parameters and None.
    """
    jobs = sweep_jobs(params)
    if not jobs:
        return params, None
    run_sweep_jobs(jobs, log=log)
    select_configuration(sweep_records(jobs), jobs, Layout.of(params).gan_selection(), note=note)
    return selected_params(params)


def selection_if_swept(params: Params, note: str = "") -> tuple[Params, Optional[dict]]:
    """Like :func:`selected_params`, but first writes ``gan_selection.json`` from the sweep's
    outputs when every sweep point has finished and there is no selection yet (trains nothing).
    For ``bclib gan train --use-selection`` after the sweep jobs of a batch run."""
    path = Layout.of(params).gan_selection()
    jobs = sweep_jobs(params)
    if not path.is_file() and jobs and all(job.outputs_complete() for job in jobs):
        select_configuration(sweep_records(jobs), jobs, path, note=note)
    return selected_params(params)
