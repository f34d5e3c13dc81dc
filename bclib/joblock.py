"""One run per output folder: a lock file that says who is running a job.

Two ``bclib run`` of one profile started together used to train every job twice into the same folders
(issue #39). A job now runs only while its folder holds ``job.lock``, created atomically
(``O_CREAT | O_EXCL``: of two processes creating it at once, exactly one succeeds) and holding the
owner's host, process id, job name and start time; it is removed when the job ends, failed or not.

A lock whose owner is a live process means the job is running elsewhere: the batch runner skips it
(status ``busy``) and a notebook waits for it, each with one line naming the job, host and PID. A lock
left by a process that died (same host, no such PID: a killed or pre-empted run) is stale and is taken
over, with a line saying so. A lock of another host cannot be checked from here and is always respected;
delete the file by hand if that host is gone.

Taking over is itself serialised by a second ``O_EXCL`` file (``job.lock.takeover``), held for the few
microseconds of "read the lock again, still the same dead owner, remove it", so that two processes
finding the same stale lock never remove each other's fresh one. No third-party package is needed
(``filelock`` is not installed and its locks carry no owner).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import time
from pathlib import Path
from typing import Callable, Optional

LOCK_FILE = "job.lock"
TAKEOVER_SUFFIX = ".takeover"
UNREADABLE_STALE_S = 30.0  # a lock file still empty after this long was left by a crash between create and write


def holder_text(holder: dict) -> str:
    return f"host {holder.get('host', '?')}, PID {holder.get('pid', '?')}"


def _read(path: Path) -> Optional[dict]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


class JobLock:
    """The lock of one job folder. :meth:`acquire` returns None when this process now holds it, else the
    record of the live holder; :meth:`release` removes it (only if it is still this process's)."""

    def __init__(self, folder: str | os.PathLike, name: str = ""):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.name = name or self.folder.name
        self.record: Optional[dict] = None  # ours, while held

    def acquire(self, log: Callable[[str], None] = print) -> Optional[dict]:
        self.folder.mkdir(parents=True, exist_ok=True)
        holder: dict = {}
        for _ in range(20):  # each round either creates the lock, finds a live holder, or clears a stale one
            record = {"host": socket.gethostname(), "pid": os.getpid(), "job": self.name,
                      "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
                self.record = record
                return None
            found = _read(self.path)
            if found is None:
                if not self.path.exists():
                    continue  # released meanwhile: try again
                if _age_s(self.path) < UNREADABLE_STALE_S:
                    time.sleep(0.05)  # being written this instant
                    holder = {"host": "?", "pid": "?"}
                    continue
            elif not self._stale(found):
                return found
            if self._take_over(found):
                what = holder_text(found) if found else "an unreadable lock"
                log(f"{self.name}: stale lock ({what}, no such process) taken over")
            holder = found or holder
        return holder or {"host": "?", "pid": "?"}

    @staticmethod
    def _stale(holder: dict) -> bool:
        if holder.get("host") != socket.gethostname():
            return False  # another machine's process cannot be checked from here
        try:
            pid = int(holder.get("pid"))
        except (TypeError, ValueError):
            return True
        return not pid_alive(pid)

    def _take_over(self, stale: Optional[dict]) -> bool:
        """Remove the lock if it still is ``stale`` (None: unreadable), under the takeover file."""
        guard = self.path.with_name(LOCK_FILE + TAKEOVER_SUFFIX)
        try:
            fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _age_s(guard) > UNREADABLE_STALE_S:  # left by a process killed in these few microseconds
                guard.unlink(missing_ok=True)
            else:
                time.sleep(0.05)
            return False
        os.close(fd)
        try:
            if _read(self.path) != stale:
                return False  # someone else took it over (or released it) first
            self.path.unlink(missing_ok=True)
            return True
        finally:
            guard.unlink(missing_ok=True)

    def release(self) -> None:
        if self.record is not None and _read(self.path) == self.record:
            self.path.unlink(missing_ok=True)
        self.record = None

    def wait(self, log: Callable[[str], None] = print, poll_s: float = 5.0) -> None:
        """Acquire, waiting while a live process holds the lock (one line when the wait starts)."""
        holder = self.acquire(log)
        if holder is not None:
            log(f"{self.name}: running in another process ({holder_text(holder)}); waiting for it to finish")
        while holder is not None:
            time.sleep(poll_s)
            holder = self.acquire(log)

    def __enter__(self) -> "JobLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
