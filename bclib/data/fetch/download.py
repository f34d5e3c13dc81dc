"""One archive from a URL to a local file: resumable, retried, checked for space, never half-named.

The bytes go to ``<archive>.part``; only a complete transfer is renamed to the archive's name,
so a file with the final name is always whole. A rerun (or a retry after a dropped connection)
asks the server for the missing bytes only (an HTTP ``Range`` request); a server that answers
with the whole file instead is detected from its status (200, not 206) and the download starts
again from byte zero rather than appending a second copy. ``file://`` URLs (a copy fetched on
another machine) take the same path, reading from the offset directly.

MD5 and SHA-256 are computed while the bytes arrive (seeded from the bytes already there when
resuming), so a multi-gigabyte archive is not read a second time just to be hashed.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import re
import shutil
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from tqdm import tqdm

from ...errors import UserError

# Server answers that say "try again later"; any other HTTP error is final.
TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}
# Write failures that mean the disk (or the user's quota) is full.
DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


class Transient(Exception):
    """A failure worth retrying: a dropped or refused connection, a timeout, a busy server."""


@dataclass(frozen=True)
class Transfer:
    """How hard to try: retries with exponential back-off, socket timeout, chunk size, progress bar."""

    retries: int = 5
    backoff_s: float = 2.0
    timeout_s: float = 60.0
    chunk: int = 1 << 20
    progress: bool = True


@dataclass
class Digests:
    size: int
    md5: str
    sha256: str


class _Hashes:
    def __init__(self):
        self.md5, self.sha256, self.size = hashlib.md5(), hashlib.sha256(), 0

    def update(self, data: bytes) -> None:
        self.md5.update(data)
        self.sha256.update(data)
        self.size += len(data)

    def digests(self) -> Digests:
        return Digests(self.size, self.md5.hexdigest(), self.sha256.hexdigest())


def file_digests(path: Path, chunk: int = 1 << 20, upto: Optional[int] = None) -> _Hashes:
    """MD5 and SHA-256 of ``path`` (of its first ``upto`` bytes), read in chunks: memory stays flat."""
    hashes = _Hashes()
    with open(path, "rb") as fh:
        while upto is None or hashes.size < upto:
            data = fh.read(chunk if upto is None else min(chunk, upto - hashes.size))
            if not data:
                break
            hashes.update(data)
    return hashes


def gigabytes(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e7 else f"{n / 1e6:.2f} MB"


def check_space(folder: Path, need: int, what: str) -> None:
    """Refuse to start when ``folder``'s file system has less than ``need`` bytes free."""
    free = shutil.disk_usage(folder).free
    if free < need:
        raise UserError(f"not enough free space in {folder}: {what} needs {gigabytes(need)}, "
                        f"{gigabytes(free)} free; free some space or choose another --to")


def local_path(url: str) -> Optional[Path]:
    """The file a ``file://`` URL (or a plain path) names; None for network URLs."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme in ("http", "https"):
        return None
    if not parsed.scheme or len(parsed.scheme) == 1:  # a bare path (or a Windows drive letter)
        return Path(url)
    raise UserError(f"--url {url}: expected an http://, https:// or file:// address")


def offline_hint(url: str, archive: str, dataset: str) -> str:
    return (f"download {url} on a machine with network access, copy it here and run "
            f"`bclib fetch {dataset} --url file:///PATH/TO/{archive}`")


def _open_local(path: Path, offset: int):
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise UserError(f"--url: {path}: no such file") from None
    total = os.fstat(fh.fileno()).st_size
    start = offset if offset <= total else 0
    fh.seek(start)
    return fh, total, start


def _content_range(header: Optional[str]) -> tuple[Optional[int], Optional[int]]:
    """(first byte, total size) from a Content-Range header such as ``bytes 100-199/200`` or ``bytes */200``."""
    match = re.match(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", header or "")
    if not match:
        return None, None
    first, total = match.groups()
    return (int(first) if first else None), (int(total) if total and total != "*" else None)


def _request(url: str, offset: int, timeout: float):
    from ... import __version__

    headers = {"User-Agent": f"bclib/{__version__} (+https://github.com/bclib/bclib)"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _open_http(url: str, offset: int, timeout: float, hint: str):
    """(response, total size or None, first byte it carries); ``first`` is 0 when the server ignored Range."""
    try:
        response = _request(url, offset, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # our partial file is not shorter than the server's: complete or stale
            _, total = _content_range(exc.headers.get("Content-Range"))
            if total == offset:
                return None, total, offset
            return _open_http(url, 0, timeout, hint)
        if exc.code in TRANSIENT_HTTP:
            raise Transient(f"HTTP {exc.code} {exc.reason}") from None
        raise UserError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, socket.gaierror):  # no name resolution: offline, or a wrong host
            raise UserError(f"cannot reach {urllib.parse.urlparse(url).hostname} ({exc.reason.strerror or exc.reason}):"
                            f" this machine looks offline; {hint}") from None
        raise Transient(str(exc.reason)) from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise Transient(f"{type(exc).__name__}: {exc}") from None
    if response.status == 206:
        first, total = _content_range(response.headers.get("Content-Range"))
        if first == offset:
            return response, total, offset
        response.close()  # a range we did not ask for
        if not offset:
            raise Transient("the server sent part of the file to a request for all of it")
        return _open_http(url, 0, timeout, hint)
    length = response.headers.get("Content-Length")
    return response, (int(length) if length and length.isdigit() else None), 0


def _open_part(path: Path, start: int):
    """The partial file, cut to ``start`` bytes and positioned there for appending."""
    fh = open(path, "r+b" if path.exists() else "wb")
    fh.truncate(start)
    fh.seek(start)
    return fh


def _copy(stream, part: Path, start: int, total: Optional[int], hashes: _Hashes, transfer: Transfer) -> None:
    """Append ``stream`` to ``part`` from byte ``start``, hashing and showing a bar (size, speed, time left)."""
    bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=part.name[:-5],
               disable=not transfer.progress, mininterval=0.5, file=sys.stderr, dynamic_ncols=True)
    try:
        with _open_part(part, start) as out:
            while True:
                try:
                    data = stream.read(transfer.chunk)
                except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                    raise Transient(f"connection lost after {hashes.size:,} bytes ({type(exc).__name__})") from None
                if not data:
                    break
                out.write(data)
                hashes.update(data)
                bar.update(len(data))
    finally:
        bar.close()


@dataclass(frozen=True)
class Space:
    """What the disk must hold besides the archive: ``ratio`` times its size once unpacked (0: not unpacked);
    ``approx_bytes`` stands in for the size when the server does not say it."""

    ratio: float = 0.0
    approx_bytes: int = 0

    def needed(self, total: Optional[int], start: int) -> int:
        size = total if total is not None else self.approx_bytes
        return max(size - start, 0) + int(size * self.ratio)


def _attempt(url: str, part: Path, space: Space, transfer: Transfer, hint: str,
             log: Callable[[str], None]) -> Digests:
    """One try: open at the bytes already there, check space, copy to the end; Transient if cut short."""
    offset = part.stat().st_size if part.exists() else 0
    path = local_path(url)
    stream, total, start = _open_local(path, offset) if path else _open_http(url, offset, transfer.timeout_s, hint)
    if offset and start == 0:
        log(f"{url}: the server does not resume downloads; starting again from the first byte")
    elif offset:
        log(f"resuming {part.name} after {gigabytes(offset)}")
    hashes = file_digests(part, upto=start) if start else _Hashes()
    if stream is None:  # the partial file already held every byte
        return hashes.digests()
    with stream:
        check_space(part.parent, space.needed(total, start), "the download and unpacking")
        _copy(stream, part, start, total, hashes, transfer)
    if total is not None and hashes.size != total:
        raise Transient(f"connection closed after {hashes.size:,} of {total:,} bytes")
    return hashes.digests()


def download(url: str, target: Path, transfer: Transfer, space: Space, hint: str,
             log: Callable[[str], None] = print) -> Digests:
    """Fetch ``url`` into ``target`` through ``target.part``; retried with back-off, resumed where possible.

    A full disk removes the partial file and stops with one line; so does a final HTTP error.
    """
    part = target.with_name(target.name + ".part")
    for attempt in range(transfer.retries + 1):
        try:
            digests = _attempt(url, part, space, transfer, hint, log)
            break
        except Transient as exc:
            if attempt == transfer.retries:
                kept = (f"; the partial download {part} is kept: rerun the same command to resume"
                        if part.exists() and part.stat().st_size else "")
                raise UserError(f"cannot download {url}: {exc} (after {attempt + 1} tries){kept}; {hint}") from None
            wait = transfer.backoff_s * 2 ** attempt
            log(f"{url}: {exc}; trying again in {wait:.0f} s (retry {attempt + 1} of {transfer.retries})")
            time.sleep(wait)
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            part.unlink(missing_ok=True)
            raise UserError(f"the disk holding {target.parent} filled up during the download ({exc.strerror}); "
                            "the partial file was removed: free space and rerun") from None
    os.replace(part, target)
    return digests
