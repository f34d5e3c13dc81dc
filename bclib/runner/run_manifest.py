"""``outputs/<profile>/manifest.json``: what one ``bclib run`` was made of and how it went.

One writer for both kinds of run (notebooks, with or without the jobs first, and ``--jobs-only``), so
the file has one layout: the profile and its overrides, the resolved parameters, the git commit, package
versions, the machine, the data's fingerprint, then the jobs' records and each notebook's status and wall
time. It is written when the run starts (status ``running``) and rewritten atomically after the jobs and
after each notebook, so it is truthful even when a run is interrupted; ``wall_s`` covers the whole run,
jobs and notebooks.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Sequence

from ..data.index import fingerprint_tree
from ..io import write_json_atomic
from ..layout import Layout
from ..params import Params
from ..provenance import git_commit, machine, package_versions


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class RunManifest:
    """The manifest of one run, written when created (before the run's first job or notebook) and after
    :meth:`jobs`, each :meth:`notebook` and :meth:`finish`."""

    def __init__(self, params: Params, params_file, overrides: Sequence[str], notebooks: Sequence[dict]):
        """``notebooks``: one record per notebook the run will execute, each "not run" yet."""
        self.path = Layout.of(params).manifest()
        self.started = time.time()
        self.record = {
            "profile": params.profile,
            "params_file": str(Path(params_file).resolve()),
            "overrides": list(overrides),
            "params": params.model_dump(mode="json"),
            "git": git_commit(),
            "packages": package_versions(),
            "machine": machine(),
            "data": {"dataset": params.data.dataset, "root": str(params.data.root),
                     "fingerprint": fingerprint_tree(params.data.root)},
            "started": _now(),
            "status": "running",
            "jobs": [],
            "notebooks": list(notebooks),
        }
        self.write()

    def write(self) -> None:
        write_json_atomic(self.path, self.record)

    def jobs(self, records: list[dict]) -> None:
        """The jobs have ended: one record per job (name, status, wall time, output, error)."""
        self.record["jobs"] = records
        self.write()

    def notebook(self, number: int, result: dict) -> None:
        """Notebook ``number`` (from 1) has finished: its status, wall time, output and error."""
        self.record["notebooks"][number - 1] = result
        self.write()

    def finish(self, status: str) -> dict:
        """The run's end: its status (ok, failed, busy) and wall time. Returns the record."""
        self.record.update(status=status, wall_s=round(time.time() - self.started, 2), finished=_now())
        self.write()
        return self.record
