"""The scheduler: independent jobs run in parallel, on this machine or a Dask cluster.

A job is a :class:`bclib.experiment.Job`: ``name``, ``out_dir``, ``params``,
``commands()`` (shell argument lists run one after another), ``outputs_complete()``,
``inputs()`` (fingerprints of files it reads besides the dataset), ``depends_on``
(names of jobs that must finish first), ``code_parts`` (the parts of bclib its
result depends on) and ``is_complete()``. The plan of a profile
(:func:`bclib.experiment.plan`) lists its jobs; :func:`run_jobs` runs them through
any :class:`concurrent.futures.Executor`.

**Skipping.** A job whose outputs are complete and whose key is unchanged is
skipped (keys and manifests: :mod:`bclib.ledger`), so rerunning a batch (after an
interruption, a failure or a change) redoes exactly what is missing, failed or
out of date.

**One run per folder.** A job runs only while it holds its folder's lock
(:mod:`bclib.joblock`, taken here before it is submitted, removed when it ends):
a job another live process is running is ``busy`` (not run, its folder and ledger
untouched, one line naming the holder's host and PID), and so is a job that
depends on it; a lock left by a dead process on this host is taken over. With
the lock held, completeness is checked again, so a job another batch finished a
moment ago is skipped rather than trained twice.

**Where jobs run.** Every job runs as ``python -m bclib.cli ...`` in a
subprocess, so one job's TensorFlow state never leaks into another, a crashing
job cannot take the batch down, and a Dask worker needs nothing but the same
environment and a shared file system.
"""

from __future__ import annotations

import concurrent.futures as futures
import graphlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..backend import QUIET_ENVIRONMENT
from ..errors import UserError
from ..joblock import JobLock, holder_text
from ..ledger import job_key, record_job

# ---------------------------------------------------------------------------
# Running one job (in a worker: a thread here, a process on a Dask worker)


@dataclass(frozen=True)
class JobSpec:
    """What a worker needs to run a job: plain data, so that it pickles to a Dask worker."""

    name: str
    commands: tuple[tuple[str, ...], ...]
    out_dir: str
    key: str


def _argv(command: Sequence[str]) -> list[str]:
    # `bclib ...` runs as `python -m bclib.cli ...` with the worker's interpreter.
    return [sys.executable, "-m", "bclib.cli", *command[1:]] if command[0] == "bclib" else list(command)


def _last_error(log_text: str) -> str:
    lines = [line for line in log_text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("bclib: error:")]
    return (errors or lines or ["no output"])[-1][:500]


def execute(spec: JobSpec) -> dict:
    """Run a job's commands in order; return {"status", "wall_s", "error"}. Never raises for a failed job."""
    out = Path(spec.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    env = {**QUIET_ENVIRONMENT, **os.environ}
    with open(out / "job.log", "w", encoding="utf-8") as log:
        for command in spec.commands:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            result = subprocess.run(_argv(command), stdout=log, stderr=subprocess.STDOUT, env=env)
            if result.returncode != 0:
                log.flush()
                text = (out / "job.log").read_text(encoding="utf-8", errors="replace")
                return {"status": "failed", "wall_s": time.time() - started,
                        "error": f"exit {result.returncode}: {_last_error(text)}"}
    return {"status": "ok", "wall_s": time.time() - started, "error": None}


# ---------------------------------------------------------------------------
# Running many


def executor_for(jobs: int = 1, address: Optional[str] = None):
    """A concurrent.futures executor: threads here (each job is a subprocess) or a Dask cluster's."""
    if address:
        if not address.startswith(("dask://", "tcp://")):
            raise UserError(f"--executor {address}: expected dask://HOST:PORT")
        try:
            from distributed import Client
        except ImportError:
            raise UserError("--executor dask://... needs the 'distributed' package (pip install distributed)") from None
        host, _, port = address.split("://", 1)[1].rpartition(":")
        try:  # a plain TCP check first: a clear answer in seconds instead of the client's long retries
            socket.create_connection((host, int(port)), timeout=5).close()
            client = Client(f"tcp://{host}:{port}", timeout="30s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"--executor {address}: cannot reach the Dask scheduler ({exc})") from None
        return client.get_executor(pure=False)
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: must be at least 1")
    return futures.ThreadPoolExecutor(max_workers=jobs)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """One status line per event over all jobs: done / running / failed / skipped, elapsed, estimate."""

    def __init__(self, total: int, parallel: int, log: Callable[[str], None]):
        self.total, self.parallel, self.log = total, max(1, parallel), log
        self.counts = {"ok": 0, "running": 0, "failed": 0, "skipped": 0, "busy": 0}
        self.walls: list[float] = []
        self.started = time.time()

    def update(self, name: str, event: str, wall_s: Optional[float] = None, note: str = "") -> None:
        if event == "running":
            self.counts["running"] += 1
        else:
            if event in ("ok", "failed") and self.counts["running"]:
                self.counts["running"] -= 1
            self.counts[event] += 1
            if wall_s is not None and event == "ok":
                self.walls.append(wall_s)
        left = self.total - self.counts["ok"] - self.counts["failed"] - self.counts["skipped"] - self.counts["busy"]
        estimate = (f", ~{_clock(sum(self.walls) / len(self.walls) * left / self.parallel)} left"
                    if self.walls and left else "")
        c = self.counts
        busy = f", {c['busy']} busy elsewhere" if c["busy"] else ""
        self.log(f"[{c['ok']} done, {c['running']} running, {c['failed']} failed, {c['skipped']} skipped{busy} of "
                 f"{self.total} | {_clock(time.time() - self.started)} elapsed{estimate}] {name}: {event}"
                 + (f" ({wall_s:.1f} s)" if wall_s is not None else "") + (f" - {note}" if note else ""))


def run_jobs(jobs: Sequence, executor: futures.Executor, parallel: int = 1, force: bool = False,
             log: Callable[[str], None] = print) -> list[dict]:
    """Run ``jobs`` respecting ``depends_on``; return one ``{"name", "status", ...}`` per job, in order.

    Complete, up-to-date jobs are ``skipped`` (unless ``force``); a job whose
    dependency failed is ``failed`` without running; the others run as soon as
    their dependencies are done (``graphlib``'s topological order), at most
    ``parallel`` at a time here (a Dask cluster schedules on its own workers).
    A cycle is refused before anything runs. A job whose folder lock another live
    process holds is ``busy`` (not run, nothing of it written), as is every job
    that depends on it (see the module notes).
    """
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise ValueError("job names must be unique")
    by_name = {job.name: job for job in jobs}
    for job in jobs:
        unknown = [d for d in job.depends_on if d not in by_name]
        if unknown:
            raise ValueError(f"job {job.name} depends on unknown job(s) {unknown}")
    order = graphlib.TopologicalSorter({job.name: job.depends_on for job in jobs})
    try:
        order.prepare()
    except graphlib.CycleError as exc:
        raise ValueError("jobs depend on each other in a cycle: " + " -> ".join(exc.args[1])) from None
    results: dict[str, dict] = {}
    progress = Progress(len(jobs), parallel, log)
    for job in jobs:
        if not force and job.is_complete():
            results[job.name] = {"name": job.name, "status": "skipped", "output": str(job.out_dir)}
            progress.update(job.name, "skipped")
    ready: list[str] = []  # dependencies done, not started yet
    running: dict[futures.Future, tuple] = {}
    try:
        while order.is_active():
            ready += order.get_ready()
            for name in list(ready):
                job = by_name[name]
                failed = [d for d in job.depends_on if results[d]["status"] in ("failed", "busy")]
                if name in results or failed:  # skipped, or not runnable
                    if name not in results:
                        status = results[failed[0]]["status"]
                        error = (f"not run: depends on failed job {failed[0]}" if status == "failed" else
                                 f"not run: depends on job {failed[0]}, running in another process")
                        results[name] = {"name": name, "status": status, "error": error, "output": str(job.out_dir)}
                        progress.update(name, status, note=error)
                    ready.remove(name)
                    order.done(name)
                elif len(running) < max(1, parallel):
                    ready.remove(name)
                    lock = JobLock(job.out_dir, job.name)
                    holder = lock.acquire(log)
                    if holder is not None or (not force and job.is_complete()):
                        # busy: another live process runs it; done: another batch finished it since we looked
                        lock.release()
                        results[name] = _not_run(job, holder, progress)
                        order.done(name)
                        continue
                    try:
                        key = job_key(job)  # computed now: inputs made by dependencies exist only now
                        spec = JobSpec(job.name, tuple(tuple(c) for c in job.commands()), str(job.out_dir), key)
                        running[executor.submit(execute, spec)] = (job, key, lock)
                    except BaseException:
                        lock.release()
                        raise
                    progress.update(job.name, "running")
            if not running:
                continue  # everything ready was settled without running: the next ones may be ready now
            finished, _ = futures.wait(list(running), return_when=futures.FIRST_COMPLETED)
            for future in finished:
                job, key, lock = running.pop(future)
                try:
                    results[job.name] = _settle(job, key, future, progress)
                finally:
                    lock.release()
                order.done(job.name)
    finally:  # interrupted (Ctrl-C, an error here): no lock of ours outlives this call
        for _, _, lock in running.values():
            lock.release()
    return [results[name] for name in names]


def _not_run(job, holder: Optional[dict], progress: "Progress") -> dict:
    """The result of a job left alone: ``busy`` (its lock held by ``holder``) or ``skipped`` (complete)."""
    record = {"name": job.name, "output": str(job.out_dir)}
    if holder is None:
        progress.update(job.name, "skipped", note="completed by another process")
        return record | {"status": "skipped"}
    note = f"running in another process ({holder_text(holder)}), not started twice"
    progress.update(job.name, "busy", note=note)
    return record | {"status": "busy", "error": note, "holder": holder}


def _settle(job, key: str, future: futures.Future, progress: "Progress") -> dict:
    """The result of a finished job, recorded in its ledger."""
    try:
        outcome = future.result()
    except Exception as exc:  # the worker itself failed (e.g. a Dask worker died)
        outcome = {"status": "failed", "wall_s": 0.0, "error": f"worker error: {exc}"}
    if outcome["status"] == "ok" and not job.outputs_complete():
        outcome = {**outcome, "status": "failed", "error": "finished without writing all its outputs"}
    record_job(job, outcome["status"], outcome["wall_s"], outcome.get("error"), key)
    progress.update(job.name, outcome["status"], outcome["wall_s"], outcome.get("error") or "")
    return ({"name": job.name, "status": outcome["status"], "wall_s": round(outcome["wall_s"], 2),
             "output": str(job.out_dir)} | ({"error": outcome["error"]} if outcome.get("error") else {}))
