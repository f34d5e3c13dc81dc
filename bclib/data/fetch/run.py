"""``bclib fetch breakhis|bach``: download, check, unpack safely, verify, record; each stage a function.

The stages and what each leaves behind if it stops:

1. download to ``<archive>.part`` (resumable; a full disk removes it), renamed when complete;
2. the checksum, where one is published (BACH's MD5): a mismatch removes the archive;
3. unpack into a hidden temporary folder (removed on any failure);
4. verify the unpacked tree against the manifest there: a failure removes the tree and the archive;
5. move the tree into place, then write the record (``BCLIB_FETCH_<dataset>.json``) last;
6. delete the archive unless ``keep_archive``.

A rerun finds the record and its tree and does nothing; one after an interruption resumes the
download or starts the unpack again from the kept archive.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Optional

from ...errors import UserError
from ...paths import project_root
from .download import Digests, Space, Transfer, check_space, download, file_digests, local_path, offline_hint
from .record import read_record, record_path, write_record
from .sources import SOURCES, Manifest, Source, default_manifest
from .unpack import place, remove_stale, unpack
from .verify import verify_tree

# Marks "use the source's published checksum" (None means: check none).
PUBLISHED = "published"


def default_folder(dataset: str) -> Path:
    """Where the real-data profiles look (``params/<dataset>.yaml``: ``data.root: ../data/real/<dataset>``)."""
    return project_root() / "data" / "real" / dataset


def _already_done(folder: Path, source: Source, extract: bool) -> Optional[dict]:
    record = read_record(folder, source.name)
    if record is None:
        return None
    if record.get("extracted"):
        done = all((folder / name).exists() for name in record.get("folders", []))
    else:
        done = not extract and (folder / source.archive).is_file()
    return record if done else None


def _fetch_archive(source: Source, url: str, folder: Path, extract: bool, transfer: Transfer,
                   log: Callable[[str], None]) -> tuple[Path, Digests]:
    archive = folder / source.archive
    if archive.is_file():  # complete (only a whole download gets this name), kept by an earlier run
        log(f"{archive} is already here (from an earlier run); checking it")
        if extract:
            check_space(folder, int(archive.stat().st_size * source.unpacked_ratio), f"unpacking {archive.name}")
        return archive, file_digests(archive).digests()
    path = local_path(url)
    log(f"fetching {source.name} from {path or url} into {folder}")
    space = Space(ratio=source.unpacked_ratio if extract else 0.0, approx_bytes=source.approx_bytes)
    hint = offline_hint(url, source.archive, source.name)
    return archive, download(url, archive, transfer, space, hint, log)


def _check_md5(archive: Path, digests: Digests, md5: Optional[str], log: Callable[[str], None]) -> bool:
    """True when a checksum was expected and matched; a mismatch removes the archive and stops."""
    if md5 is None:
        return False
    if digests.md5 != md5.lower():
        archive.unlink(missing_ok=True)
        raise UserError(f"{archive.name}: MD5 {digests.md5} differs from the expected {md5.lower()}: not the "
                        "published archive (a damaged download or a different file); it was removed")
    log(f"{archive.name}: MD5 {digests.md5} matches the published checksum")
    return True


def _unpack_and_verify(archive: Path, folder: Path, source: Source, manifest: Manifest, progress: bool,
                       log: Callable[[str], None]):
    remove_stale(folder, archive, log)
    tmp = unpack(archive, folder, progress)
    try:
        log(f"verifying the unpacked images against {len(manifest):,} expected names")
        result = verify_tree(tmp, source.anchor, manifest)
        if not result.ok:
            archive.unlink(missing_ok=True)
            raise UserError(f"{archive.name} does not hold the expected {source.name} images: {result.problems()}; "
                            "the unpacked files and the archive were removed")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"verified: {result.summary()}")
    return place(tmp, folder), result


def fetch(dataset: str, to: str | Path | None = None, url: Optional[str] = None, keep_archive: bool = False,
          extract: bool = True, *, manifest: Optional[Manifest] = None, md5: Optional[str] = PUBLISHED,
          transfer: Transfer = Transfer(), log: Callable[[str], None] = print) -> dict:
    """Fetch, verify and unpack the real ``dataset`` (``breakhis`` or ``bach``) into ``to``; return its record.

    ``url`` replaces the publisher's address (a mirror, or ``file://`` for a copy fetched elsewhere);
    ``manifest`` replaces the real archive's list of images (tests verify small archives with their own);
    ``md5`` replaces the published checksum (None: check none). ``extract=False`` stops after the
    download and checksum (the archive is kept).
    """
    if dataset not in SOURCES:
        raise UserError(f"unknown dataset {dataset!r}: expected one of {', '.join(SOURCES)}")
    source = SOURCES[dataset]
    folder = Path(to) if to is not None else default_folder(dataset)
    folder.mkdir(parents=True, exist_ok=True)
    done = _already_done(folder, source, extract)
    if done is not None:
        log(f"{dataset} is already fetched and verified in {folder} (record {record_path(folder, dataset).name}, "
            f"{done.get('fetched')}); nothing to do")
        return done
    url = url or source.url
    archive, digests = _fetch_archive(source, url, folder, extract, transfer, log)
    matched = _check_md5(archive, digests, source.md5 if md5 == PUBLISHED else md5, log)
    record = {"dataset": dataset, "url": url, "archive": source.archive, "size": digests.size, "md5": digests.md5,
              "sha256": digests.sha256, "md5_published": matched,
              "md5_provenance": source.md5_provenance if matched and md5 == PUBLISHED else None}
    if not extract:
        record = write_record(folder, {**record, "extracted": False, "archive_kept": True})
        log(f"downloaded {archive} ({digests.size:,} bytes); not unpacked (--no-extract)")
        return record
    names, result = _unpack_and_verify(archive, folder, source, manifest or default_manifest(dataset),
                                       transfer.progress, log)
    record = write_record(folder, {**record, "extracted": True, "archive_kept": keep_archive, "folders": names,
                                   "manifest": source.manifest_description if manifest is None else
                                   f"a manifest of {len(manifest):,} names given by the caller",
                                   "verification": result.as_record()})
    if not keep_archive:  # after the record: an interruption here leaves a complete, recorded tree
        archive.unlink(missing_ok=True)
    log(f"{dataset}: {result.summary()}; in {folder} ({', '.join(names)}); record {record_path(folder, dataset)}")
    return record
