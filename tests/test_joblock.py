"""One run per output folder (issue #39 item 7): a job runs only while it holds its folder's lock.

Cheap: the jobs are one-line Python commands; a "live other process" is this test process itself and a
"dead one" a subprocess that has already exited.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bclib.joblock import LOCK_FILE, JobLock
from bclib.ledger import is_done, record_job, run_in_process
from bclib.params import load_params
from bclib.runner.scheduler import executor_for, run_jobs


@dataclass
class Job:
    name: str
    out_dir: Path
    params: object = field(repr=False)
    code: str = ""
    depends_on: tuple = ()

    def commands(self):
        return [[sys.executable, "-c", self.code]]

    def outputs_complete(self):
        return (self.out_dir / "done").is_file()

    def inputs(self):
        return {}

    def is_complete(self):
        return is_done(self)


@pytest.fixture
def params(tmp_path, breakhis_root):
    path = tmp_path / "p.yaml"
    path.write_text(f"seed: 0\ndata: {{dataset: breakhis, root: {breakhis_root}}}\n"
                    f"run: {{output_dir: {tmp_path / 'out'}}}\n")
    return load_params(path)


def job(tmp_path, params, name, body="pass", depends_on=()):
    out = tmp_path / "jobs" / name
    code = f"import pathlib; {body}; pathlib.Path({str(out)!r}, 'done').write_text('ok')"
    return Job(name, out, params, code, tuple(depends_on))


def hold(folder: Path, pid: int, host: str | None = None) -> dict:
    record = {"host": host or socket.gethostname(), "pid": pid, "job": "elsewhere", "started": "2026-01-01T00:00:00"}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_FILE).write_text(json.dumps(record))
    return record


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_job_locked_by_a_live_process_is_not_run_and_the_line_names_its_holder(tmp_path, params):
    busy, after, free = (job(tmp_path, params, "busy"), job(tmp_path, params, "after", depends_on=["busy"]),
                         job(tmp_path, params, "free"))
    held = hold(busy.out_dir, os.getpid())  # this test process: alive
    messages = []
    with executor_for(1) as pool:
        records = run_jobs([busy, after, free], pool, log=messages.append)
    status = {r["name"]: r["status"] for r in records}
    assert status == {"busy": "busy", "after": "busy", "free": "ok"}
    line = next(m for m in messages if "busy:" in m and "running in another process" in m)
    assert f"host {held['host']}, PID {os.getpid()}" in line and "busy elsewhere" in line
    assert not (busy.out_dir / "done").exists() and not (busy.out_dir / "manifest.json").exists()  # untouched
    assert json.loads((busy.out_dir / LOCK_FILE).read_text()) == held  # the holder's lock is left alone
    assert not (after.out_dir / "done").exists()
    assert not (free.out_dir / LOCK_FILE).exists()  # released after the job


def test_a_stale_lock_of_a_dead_process_is_taken_over_and_every_lock_is_gone_after_its_job(tmp_path, params):
    stale, broken = job(tmp_path, params, "stale"), job(tmp_path, params, "broken", body="raise SystemExit(3)")
    pid = dead_pid()
    hold(stale.out_dir, pid)
    messages = []
    with executor_for(2) as pool:
        records = run_jobs([stale, broken], pool, parallel=2, log=messages.append)
    assert {r["name"]: r["status"] for r in records} == {"stale": "ok", "broken": "failed"}
    assert f"stale: stale lock (host {socket.gethostname()}, PID {pid}, no such process) taken over" in messages
    assert is_done(stale)
    assert not (stale.out_dir / LOCK_FILE).exists() and not (broken.out_dir / LOCK_FILE).exists()  # also on failure


def test_another_hosts_lock_is_respected_and_only_the_owner_releases(tmp_path):
    hold(tmp_path / "a", dead_pid(), host="some-other-machine")  # its PID cannot be checked from here
    assert JobLock(tmp_path / "a").acquire(lambda m: None)["host"] == "some-other-machine"
    mine, theirs = JobLock(tmp_path / "b"), JobLock(tmp_path / "b")
    assert mine.acquire() is None and theirs.acquire()["pid"] == os.getpid()
    theirs.release()  # not its lock: nothing removed
    assert (tmp_path / "b" / LOCK_FILE).exists()
    mine.release()
    assert not (tmp_path / "b" / LOCK_FILE).exists()


def test_a_job_another_batch_finished_while_we_waited_to_start_it_is_not_run_again(tmp_path, params):
    class FinishedMeanwhile(Job):
        looks = 0

        def outputs_complete(self):  # incomplete when the batch starts, complete by the time it is started
            FinishedMeanwhile.looks += 1
            return FinishedMeanwhile.looks > 1

    late = FinishedMeanwhile("late", tmp_path / "jobs" / "late", params, "raise SystemExit('ran twice')")
    record_job(late, "ok", 1.0)
    with executor_for(1) as pool:
        records = run_jobs([late], pool, log=lambda m: None)
    assert records[0]["status"] == "skipped" and not (late.out_dir / "job.log").exists()


def test_a_notebook_waits_for_a_job_running_elsewhere_then_skips_it_if_that_run_completed_it(tmp_path, params):
    other = job(tmp_path, params, "other")
    hold(other.out_dir, os.getpid())

    def the_other_process_finishes():
        time.sleep(0.3)
        (other.out_dir / "done").write_text("ok")
        record_job(other, "ok", 0.3)
        (other.out_dir / LOCK_FILE).unlink()

    finisher = threading.Thread(target=the_other_process_finishes)
    finisher.start()
    ran, messages = [], []
    run_in_process([other], ran.append, messages.append, poll_s=0.05)
    finisher.join()
    assert ran == []
    assert any("other: running in another process" in m and "waiting" in m for m in messages), messages
    assert "[1/1] other: completed by another process, skipped" in messages
