"""The gamma and batch-size sweeps of the paper's Tables 8 and 9, as independent jobs.

Each sweep point is one run of the same trainer with one parameter changed and
its own output folder, ``outputs/<profile>/sweeps/<kind>-<value>/``, so the
points can run in any order, in parallel, or on other machines (the command
line of each job is ``bclib gan train --params P --set gan.<key>=<value> --out DIR``).
A finished point is skipped when the sweep is run again.

:func:`sweep_table` reduces each point to its best snapshot (lowest FID), in the
layout of the paper's tables (kimg, gamma or batch, FID, KID), and
:func:`select_configuration` picks the setting used downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pandas as pd

from ..io import read_jsonl, write_json_atomic
from ..params import Params

SWEEP_KEYS = {"gamma": "gamma", "batch": "batch_size"}


@dataclass
class SweepJob:
    kind: str  # gamma | batch
    value: float
    overrides: list[str]
    out_dir: Path
    params: Params = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.value:g}"

    depends_on: tuple[str, ...] = ()

    @property
    def code_parts(self) -> tuple[str, ...]:
        from ..ledger import GAN_CODE

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

    def is_complete(self) -> bool:
        """Trained to its length with the current parameters, code and data (see bclib.ledger)."""
        from ..ledger import is_done

        return is_done(self)


def sweep_jobs(params: Params, kinds=("gamma", "batch")) -> list[SweepJob]:
    """One job per value of ``gan.gamma_sweep`` and ``gan.batch_sweep``."""
    jobs = []
    length = params.gan.sweep_kimg or params.gan.total_kimg
    for kind in kinds:
        values = params.gan.gamma_sweep if kind == "gamma" else params.gan.batch_sweep
        for value in values:
            key = SWEEP_KEYS[kind]
            overrides = [f"gan.{key}={value:g}", f"gan.total_kimg={length:g}",
                         f"gan.snapshot_kimg={min(params.gan.snapshot_kimg, length):g}"]
            point = params.model_copy(deep=True)
            point._source = params._source
            setattr(point.gan, key, value if kind == "gamma" else int(value))
            point.gan.total_kimg = length
            point.gan.snapshot_kimg = min(params.gan.snapshot_kimg, length)
            jobs.append(SweepJob(kind, value, overrides, params.output_dir / "sweeps" / f"{kind}-{value:g}", point))
    return jobs


def run_sweep_jobs(jobs: list[SweepJob], log: Callable[[str], None] = print) -> None:
    """Run the jobs one after another in this process, skipping finished ones."""
    import time

    from ..ledger import record_job
    from .workflow import train_from_params

    for number, job in enumerate(jobs, start=1):
        if job.is_complete():
            log(f"[{number}/{len(jobs)}] {job.name}: complete, skipped")
            continue
        log(f"[{number}/{len(jobs)}] {job.name}: training")
        started = time.time()
        train_from_params(job.params, job.out_dir, log=lambda m: None)
        record_job(job, "ok", time.time() - started)


def sweep_records(jobs: list[SweepJob]) -> pd.DataFrame:
    """Every metrics record of every job, with its kind and value."""
    rows = [{"kind": job.kind, "value": job.value, **record}
            for job in jobs for record in read_jsonl(job.out_dir / "metrics.jsonl")]
    return pd.DataFrame(rows)


def sweep_table(records: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Per sweep value, the snapshot with the lowest FID: kimg, value, FID, KID (+/- std), N."""
    rows = records[(records["kind"] == kind) & records["fid"].notna()]
    best = rows.loc[rows.groupby("value")["fid"].idxmin()]
    column = "gamma" if kind == "gamma" else "batch size"
    table = pd.DataFrame({
        "kimg": best["kimg"].to_numpy(),
        column: best["value"].to_numpy(),
        "FID": best["fid"].to_numpy(),
        "KID": best["kid"].to_numpy(),
        "KID std": best["kid_std"].to_numpy(),
        "N real": best["n_real"].to_numpy(),
        "N generated": best["n_fake"].to_numpy(),
    })
    if kind == "batch":
        table[column] = table[column].astype(int)
    return table.sort_values(column).reset_index(drop=True)


def select_configuration(records: pd.DataFrame, jobs: list[SweepJob], out_file: Optional[Path] = None,
                         note: str = "") -> dict:
    """The gamma and the batch size with the lowest best-snapshot FID (KID breaks ties), written to ``out_file``."""
    choice = {"criterion": "lowest FID over snapshots (KID breaks ties)", "note": note}
    for kind, key in SWEEP_KEYS.items():
        table = sweep_table(records, kind) if (records["kind"] == kind).any() else pd.DataFrame()
        if table.empty:
            continue
        column = "gamma" if kind == "gamma" else "batch size"
        best = table.sort_values(["FID", "KID"]).iloc[0]
        job = next(j for j in jobs if j.kind == kind and j.value == best[column])
        choice[key] = float(best[column]) if kind == "gamma" else int(best[column])
        choice[f"{kind}_run"] = {"output": str(job.out_dir), "kimg": float(best["kimg"]),
                                 "fid": float(best["FID"]), "kid": float(best["KID"])}
    if out_file is not None:
        write_json_atomic(out_file, choice)
    return choice
