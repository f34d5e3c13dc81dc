"""Small file helpers shared by every stage: atomic writes and JSON lines.

Everything bclib writes goes through these, so an interrupted run never
leaves a half-written file behind: content goes to a temporary file in the
same folder first and is then renamed over the target (an atomic operation
on POSIX file systems).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success.

    The temporary file keeps the target's suffix (or ``suffix``) so that
    libraries choosing a format from the file name (PIL, matplotlib, Keras)
    still work. On any exception the temporary file is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix if suffix is not None else target.suffix,
        dir=target.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes 0600 files; give the result the usual permissions
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, keep_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; on success it replaces ``target`` by a rename.

    The temporary folder is named ``.<target name>.<random>`` so that a crash leaves
    only such hidden debris, never a partial ``target``. On any exception it is removed.

    ``keep_existing``: ``target`` is a cache named by its content, so a copy that another
    process finished first is the same; keep it (its readers may have files open) and drop ours.
    Two kernels of ``bclib run --notebooks-at-once`` can write one store at the same time.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
        if target.exists():
            if keep_existing:
                shutil.rmtree(tmp)
                return
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:  # another writer's folder arrived between the check and the rename
            if not (keep_existing and target.exists()):
                raise
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(target: str | os.PathLike, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_json_atomic(target: str | os.PathLike, obj: Any) -> Path:
    return write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def append_jsonl(target: str | os.PathLike, record: dict) -> None:
    """Append one JSON object as one line, flushed and fsynced.

    A single short ``write`` of one line with O_APPEND is not torn by a crash
    in practice; readers skip a trailing partial line anyway (``read_jsonl``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, default=str) + "\n"
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read JSON lines, ignoring a trailing line cut short by a crash."""
    records = []
    path = Path(path)
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
