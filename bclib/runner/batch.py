"""``bclib run``: the notebooks of a profile, in order; with ``--jobs N`` (or a Dask ``--executor``) every job of
its plan first, in parallel, then the notebooks, which find the jobs done."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..errors import UserError
from .notebooks import NotebookResult, execute_notebooks
from .preparation import PreparedRun, prepare_run
from .run_manifest import RunManifest


def _manifest(run: PreparedRun) -> RunManifest:
    return RunManifest(run.params, run.params_file, run.overrides,
                       [NotebookResult(p.stem, "not run").as_dict() for p in run.notebooks])


def run_notebooks(
    params_file: str | os.PathLike,
    only: Optional[Sequence[str]] = None,
    overrides: Sequence[str] = (),
    notebooks_dir: Optional[Path] = None,
    kernel_name: Optional[str] = None,
    log: Callable[[str], None] = print,
    at_once: int = 1,
) -> dict:
    """Execute the notebooks (``at_once`` kernels at a time, each notebook once the notebooks it reads are
    done); return the manifest. Raise NotebookFailed if one fails."""
    run = prepare_run(params_file, overrides, only, notebooks_dir=notebooks_dir, at_once=at_once)
    return execute_notebooks(run, _manifest(run), kernel_name, at_once, log)


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

    # Jobs read the resolved file (exactly these overrides); a wrong --only is refused before any job runs.
    run = prepare_run(params_file, overrides, only, notebooks=notebooks, at_once=notebooks_at_once)
    jobs = plan(run.params)
    pool = executor_for(parallel, executor)
    manifest = _manifest(run)
    try:
        records = run_jobs(jobs, pool, parallel=len(jobs) if executor else parallel, force=force, log=log)
    finally:
        pool.shutdown(wait=True)
    failed = [r for r in records if r["status"] == "failed"]
    busy = [r for r in records if r["status"] == "busy"]
    manifest.jobs(records)
    if notebooks and not failed and not busy:
        return execute_notebooks(run, manifest, at_once=notebooks_at_once, log=log)
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
