"""``bclib run --jobs N``: every job of a profile first (in parallel), then the notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from ..errors import UserError
from ..paths import notebooks_dir as default_notebooks_dir
from .notebooks import NotebookResult, discover, execute_notebooks, prepare_run
from .run_manifest import RunManifest


class JobsFailed(UserError):
    """Some jobs failed; the message lists them and where their logs are."""


class JobsBusy(UserError):
    """Some jobs are being run by another process (their folder lock is held); they were not started twice."""


def run_batch(params_file, overrides: Sequence[str] = (), parallel: int = 1, executor: Optional[str] = None,
              force: bool = False, notebooks: bool = True, only: Optional[Sequence[str]] = None,
              log: Callable[[str], None] = print, notebooks_at_once: int = 1) -> dict:
    """Run every job of the profile (``parallel`` at a time, or on the Dask cluster at ``executor``),
    then, unless ``notebooks`` is False or a job failed, the notebooks. Return the run manifest."""
    from ..experiment import plan
    from .scheduler import executor_for, run_jobs

    if notebooks_at_once < 1:  # before anything is written
        raise UserError(f"--notebooks-at-once must be at least 1, got {notebooks_at_once}")
    folder = default_notebooks_dir(Path(params_file).resolve())
    params, resolved = prepare_run(params_file, overrides)  # jobs read the resolved file: exactly these overrides
    chosen = discover(folder, only or params.run.notebooks) if notebooks else []  # a wrong --only: before any job
    jobs = plan(params)
    pool = executor_for(parallel, executor)
    try:
        records = run_jobs(jobs, pool, parallel=len(jobs) if executor else parallel, force=force, log=log)
    finally:
        pool.shutdown(wait=True)
    failed = [r for r in records if r["status"] == "failed"]
    busy = [r for r in records if r["status"] == "busy"]
    manifest = RunManifest(params, params_file, overrides,
                           [NotebookResult(p.stem, "not run").as_dict() for p in chosen], jobs=records)
    if notebooks and not failed and not busy:
        return execute_notebooks(chosen, params, resolved, manifest, folder, log=log, at_once=notebooks_at_once)
    record = manifest.finish("failed" if failed else "busy" if busy else "ok")
    if failed:
        lines = "; ".join(f"{r['name']}: {r.get('error', 'failed')} (log: {r['output']}/job.log)" for r in failed[:5])
        raise JobsFailed(f"{len(failed)} of {len(records)} job(s) failed, the others finished: {lines}"
                         + (" ..." if len(failed) > 5 else "") + "; rerun the same command to redo only these")
    if busy:
        holder = busy[0].get("holder") or {}
        who = f"host {holder.get('host', '?')}, PID {holder.get('pid', '?')}"
        raise JobsBusy(f"{len(busy)} of {len(records)} job(s) are being run by another process "
                       f"(e.g. {busy[0]['name']}: {who}) and were not started twice; the others are done. "
                       "Rerun the same command once that run has finished"
                       + (" (the notebooks were not run)" if notebooks else ""))
    return record
