"""The job ledger: what determines a job's result (its key), and the manifest a finished job leaves.

A job (:class:`bclib.experiment.Job`) has ``name``, ``out_dir``, ``params``,
``commands()``, ``outputs_complete()``, ``inputs()`` and ``code_parts`` (the parts
of bclib its result depends on; empty: all of bclib). Each finished job leaves
``manifest.json`` in its folder with a *key*: a hash of its parameters, the bclib
source code it runs, the versions of the numerical packages, the dataset's
fingerprint and its other inputs. A job is done when its outputs are complete and its key is
unchanged, so a rerun redoes exactly what is missing, failed or out of date.

This module sits below the experiment's jobs (:mod:`bclib.experiment`) and the
scheduler (:mod:`bclib.runner.scheduler`), and imports neither.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional, Sequence

from .io import write_json_atomic
from .provenance import package_versions
from .source_hash import code_version

MANIFEST = "manifest.json"
# The parts of bclib whose code a job's result depends on (see code_version).
SHARED_CODE = ("backend.py", "params.py", "io.py", "data")
GAN_CODE = SHARED_CODE + ("gan", "metrics")
CLASSIFIER_CODE = SHARED_CODE + ("catalogue.py", "variants.py", "models", "train")  # catalogue: each model's backbones,
# fine-tuning; variants: what each variant adds


# ---------------------------------------------------------------------------
# Keys and per-job manifests


# Results computed under one TensorFlow, Keras or NumPy release are not reused under another.
KEYED_PACKAGES = ("tensorflow", "keras", "numpy")


@lru_cache(maxsize=1)
def numeric_packages() -> dict:
    return package_versions(KEYED_PACKAGES)


@lru_cache(maxsize=8)
def _data_fingerprint(root: str) -> str:
    from .data.index import fingerprint_tree

    return fingerprint_tree(root)


def job_key(job) -> str:
    """Hash of what determines a job's outputs: parameters, code, data and other inputs."""
    what = {"name": job.name, "params": job.params.model_dump(mode="json"),
            "code": code_version(tuple(getattr(job, "code_parts", ()))),
            "data": _data_fingerprint(str(job.params.data.root)), "inputs": job.inputs(),
            "packages": numeric_packages()}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_manifest(out_dir: Path) -> Optional[dict]:
    try:
        return json.loads((Path(out_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def is_done(job) -> bool:
    """Outputs complete and recorded by a successful run with the job's current key."""
    if not job.outputs_complete():
        return False
    record = read_manifest(job.out_dir)
    return bool(record) and record.get("status") == "ok" and record.get("key") == job_key(job)


def record_job(job, status: str, wall_s: float, error: Optional[str] = None, key: Optional[str] = None) -> dict:
    """Write the job's ``manifest.json`` (atomically) and return it."""
    record = {"name": job.name, "status": status, "key": key or job_key(job),
              "commands": [" ".join(c) for c in job.commands()], "wall_s": round(wall_s, 2),
              "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    if error:
        record["error"] = error
    Path(job.out_dir).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(job.out_dir) / MANIFEST, record)
    return record


def run_in_process(jobs: Sequence, run: Callable, log: Callable[[str], None] = print,
                   poll_s: float = 5.0) -> None:
    """Run ``jobs`` one after another in this process (what the notebooks do): a complete job is skipped,
    ``run(job)`` does the work of the others, and each finished one is recorded in its ledger. The batch
    runner (:func:`bclib.runner.scheduler.run_jobs`) runs the same jobs as commands, in parallel and in order.

    Each job is trained holding its folder's lock (:mod:`bclib.joblock`): one that another live process is
    running is waited for (one line naming its host and PID), then skipped if that process completed it."""
    from .joblock import JobLock

    for number, job in enumerate(jobs, start=1):
        if job.is_complete():
            log(f"[{number}/{len(jobs)}] {job.name}: complete, skipped")
            continue
        with JobLock(job.out_dir, job.name) as lock:
            lock.wait(lambda message: log(f"[{number}/{len(jobs)}] {message}"), poll_s=poll_s)
            if job.is_complete():  # finished by the process we waited for
                log(f"[{number}/{len(jobs)}] {job.name}: completed by another process, skipped")
                continue
            log(f"[{number}/{len(jobs)}] {job.name}: training")
            started = time.time()
            run(job)
            record_job(job, "ok", time.time() - started)
