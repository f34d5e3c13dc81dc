"""``bclib run --jobs N``: every job of a profile first (in parallel), then the notebooks."""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

from ..errors import UserError
from ..io import write_json_atomic
from ..layout import Layout
from ..params import check_runnable, load_params
from .notebooks import run_notebooks


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

    params = load_params(params_file, overrides)
    check_runnable(params)
    # Jobs read the resolved parameter file, so they see exactly these overrides.
    from ..io import write_text_atomic

    resolved = write_text_atomic(Layout.of(params).params_file(), params.to_yaml())
    params = load_params(resolved)
    jobs = plan(params)
    pool = executor_for(parallel, executor)
    started = time.time()
    try:
        records = run_jobs(jobs, pool, parallel=len(jobs) if executor else parallel, force=force, log=log)
    finally:
        pool.shutdown(wait=True)
    failed = [r for r in records if r["status"] == "failed"]
    busy = [r for r in records if r["status"] == "busy"]
    if notebooks and not failed and not busy:
        return run_notebooks(resolved, only=only, log=log, jobs=records, at_once=notebooks_at_once)
    status = "failed" if failed else "busy" if busy else "ok"
    manifest = {"profile": params.profile, "params_file": str(resolved), "status": status,
                "wall_s": round(time.time() - started, 2), "jobs": records, "notebooks": []}
    write_json_atomic(Layout.of(params).manifest(), manifest)
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
    return manifest
