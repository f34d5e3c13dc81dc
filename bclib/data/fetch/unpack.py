"""Unpacking an archive that nobody vetted: refuse what could write outside the target, and never
leave a tree that looks complete when it is not.

Everything is unpacked into a hidden temporary folder beside the target (same file system, so the
final move is a rename), checked there, and only then moved into place; an interrupted unpack
leaves hidden debris, which the next run removes. A member that is an absolute path, climbs out
with ``..``, is a link pointing outside, or is a device or FIFO stops the unpack with one line
naming it. Tar archives go through Python's own ``filter="data"`` (PEP 706), after a check of
our own for absolute names and ``..``: that filter silently strips a leading ``/`` (and accepts
``a/../b``) where we want a refusal. Zip archives have no such filter: each member's name, file
type and compression method are checked from the central directory before one byte is written.
"""

from __future__ import annotations

import re
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from ...errors import UserError
from .download import check_space

UNPACKING = ".unpacking-"
# The zip compression methods Python's zipfile reads (stored, deflate, bzip2, lzma).
ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def unsafe_name(name: str) -> str | None:
    """Why a member name must not be unpacked (absolute, or with a ``..`` part), else None."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in re.split(r"[\\/]+", name):
        return "a '..' path component"
    return None


def _refuse(archive: Path, name: str, why: str) -> UserError:
    return UserError(f"{archive.name}: refused to unpack member {name!r}: {why}; nothing was unpacked")


def _tar_members(tar: tarfile.TarFile, archive: Path, bar) -> Iterator[tarfile.TarInfo]:
    for member in tar:  # streaming: members are read as the archive is decompressed
        why = unsafe_name(member.name)
        if why:
            raise _refuse(archive, member.name, why)
        bar.update(1)
        yield member


def _untar(archive: Path, into: Path, progress: bool) -> None:
    with tarfile.open(archive, "r:*") as tar, tqdm(desc=f"unpacking {archive.name}", unit=" files",
                                                  disable=not progress, file=sys.stderr, mininterval=0.5) as bar:
        try:
            tar.extractall(into, members=_tar_members(tar, archive, bar), filter="data")
        except tarfile.FilterError as exc:
            raise _refuse(archive, exc.tarinfo.name, str(exc)) from None
        except (tarfile.ReadError, EOFError) as exc:
            raise UserError(f"{archive.name}: damaged archive ({exc}); delete it and fetch again") from None


def zip_member_problem(info: zipfile.ZipInfo, into: Path) -> str | None:
    """Why one zip member must not be unpacked into ``into``, else None."""
    why = unsafe_name(info.filename)
    if why:
        return why
    if not (into / info.filename).resolve().is_relative_to(into.resolve()):
        return "it resolves outside the target folder"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return "a device, FIFO or socket"
    if info.compress_type not in ZIP_METHODS:
        return (f"compression method {info.compress_type}, which Python's zipfile cannot read (unpack the "
                "archive with 7-Zip and point bclib at the folder)")
    return None


def _unzip(archive: Path, into: Path, progress: bool) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise UserError(f"{archive.name}: damaged archive ({exc}); delete it and fetch again") from None
    with zf:
        members = zf.infolist()
        for info in members:  # every member checked before anything is written
            why = zip_member_problem(info, into)
            if why:
                raise _refuse(archive, info.filename, why)
        check_space(into, sum(i.file_size for i in members), f"unpacking {archive.name}")
        for info in tqdm(members, desc=f"unpacking {archive.name}", unit=" files", disable=not progress,
                         file=sys.stderr, mininterval=0.5):
            zf.extract(info, into)


def remove_stale(folder: Path, archive: Path, log: Callable[[str], None]) -> None:
    """Remove the temporary folders of earlier unpacks of ``archive`` that were interrupted."""
    for stale in folder.glob(f".{archive.name}{UNPACKING}*"):
        log(f"removing an unfinished unpack from an earlier run: {stale.name}")
        shutil.rmtree(stale, ignore_errors=True)


def unpack(archive: Path, folder: Path, progress: bool = True) -> Path:
    """Unpack ``archive`` into a new hidden temporary folder inside ``folder`` and return it.

    On any failure (a refused member, a damaged archive, a full disk, an interrupt) the temporary
    folder is removed before the error goes on.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{archive.name}{UNPACKING}", dir=folder))
    try:
        if zipfile.is_zipfile(archive):
            _unzip(archive, tmp, progress)
        elif tarfile.is_tarfile(archive):
            _untar(archive, tmp, progress)
        else:
            raise UserError(f"{archive.name}: neither a tar nor a zip archive; delete it and fetch again")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def top_entries(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir())


def place(tmp: Path, folder: Path) -> list[str]:
    """Move the unpacked top-level entries from ``tmp`` into ``folder`` (renames), then remove ``tmp``."""
    names = top_entries(tmp)
    taken = [n for n in names if (folder / n).exists() or (folder / n).is_symlink()]
    if taken:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"{folder / taken[0]} already exists and was not fetched by bclib; move it away or "
                        "choose another --to")
    for name in names:
        (tmp / name).rename(folder / name)
    tmp.rmdir()
    return names


