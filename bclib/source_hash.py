"""A hash of bclib's own source files: the part of a cache key that says which code made a result."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

# Source and the data files shipped beside it (reference tables, throughput figures).
SOURCE_SUFFIXES = (".py", ".yaml", ".tsv")


@lru_cache(maxsize=16)
def code_version(parts: tuple[str, ...] = ()) -> str:
    """sha256 (16 hex digits) over the bclib source files a job runs: ``parts`` are sub-packages or
    modules of bclib (all of bclib when empty). Editing, say, the report code then leaves the
    classifier runs valid, while any change to the training code makes them run again."""
    package = Path(__file__).resolve().parent
    roots = [package / part for part in parts] or [package]
    files = sorted({p for root in roots for p in ([root] if root.is_file() else root.rglob("*"))
                    if p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts})
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
