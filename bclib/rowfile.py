"""Arrays too large for memory, kept on disk as ``.npy`` files and read back a few rows at a time.

A row file is an ordinary ``.npy`` file (``np.load`` opens it), written row block
by row block (:class:`RowFileWriter`) and read with plain positioned reads
(:class:`RowFile`). Reads deliberately avoid ``mmap``: the pages of a memory map
count towards a process's resident memory as they are touched, so a map over a
whole training set grows to the size of the set during one epoch; a positioned
read leaves the data in the operating system's page cache instead, which the
system reclaims under pressure. Used for the classifiers' trunk-output stores and
for the cWGAN's training images.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np


class RowFileWriter:
    """Appends rows to a ``.npy`` file whose header promises ``rows`` rows of ``shape`` and ``dtype``."""

    def __init__(self, path: Path, rows: int, shape: Sequence[int], dtype):
        self.dtype, self.path, self.expected, self.written = np.dtype(dtype), Path(path), rows, 0
        self.file = open(path, "wb")
        np.lib.format.write_array_header_1_0(
            self.file, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                        "shape": (rows, *shape)})

    def append(self, block: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())
        self.written += len(block)

    def close(self) -> None:
        self.file.close()
        if self.written != self.expected:
            raise ValueError(f"{self.path}: wrote {self.written} rows, the header promised {self.expected}")


class RowFile:
    """Read-only rows of a ``.npy`` file: ``len``, ``shape``, ``file[a:b]``, ``file[indices]``, ``file[mask]``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            self.offset = f.tell()
        if fortran:
            raise ValueError(f"{self.path}: Fortran-ordered arrays are not row files")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_shape = self.shape[1:]
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, fd: int, start: int, count: int) -> np.ndarray:
        data = os.pread(fd, count * self.row_bytes, self.offset + start * self.row_bytes)
        return np.frombuffer(data, self.dtype).reshape(count, *self.row_shape)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self.gather([key])[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    return self._read(fd, start, max(0, stop - start)).copy()
                finally:
                    os.close(fd)
            key = np.arange(start, stop, step)
        key = np.asarray(key)
        if key.dtype == bool:
            key = np.flatnonzero(key)
        return self.gather(key)

    def gather(self, rows) -> np.ndarray:
        """Rows in the order asked (any order, repeats allowed)."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        out = np.empty((len(rows), *self.row_shape), self.dtype)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for i, row in enumerate(rows):
                out[i] = self._read(fd, int(row), 1)[0]
        finally:
            os.close(fd)
        return out

    def view(self, rows) -> "RowView":
        return RowView(self, np.asarray(rows, dtype=np.int64))

    def content_id(self) -> str:
        stat = os.stat(self.path)
        return f"{self.path}:{stat.st_size}:{stat.st_mtime_ns}"


class RowView:
    """Some rows of a :class:`RowFile`, sliceable like an array (what the FID feature pass needs)."""

    def __init__(self, source: RowFile, rows: np.ndarray):
        self.source, self.rows = source, rows
        self.shape = (len(rows), *source.row_shape)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key) -> np.ndarray:
        return self.source.gather(self.rows[key])

    @property
    def fingerprint(self) -> str:
        """Names these rows' contents (the file's identity and the row numbers) for feature caches."""
        digest = hashlib.sha256(self.source.content_id().encode())
        digest.update(self.rows.tobytes())
        return digest.hexdigest()[:16]
