"""Result tables on disk: a CSV whose first lines say where its numbers came from.

Every table a notebook saves starts with ``# key: value`` lines (data and weights,
date, commit, processor, TensorFlow version and threads; see
:func:`bclib.provenance.stamp`), then an ordinary CSV. A table copied out of
``outputs/`` on its own still says that it was computed on synthetic data with
untrained weights, on which machine, from which commit. :func:`read_table` reads
it back; ``pd.read_csv(path, comment="#")`` would also drop a ``#`` inside a cell,
so the header is parsed here and only the leading lines are skipped.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from .io import atomic_path, write_json_atomic
from .provenance import stamp

PROVENANCE_KEY = "provenance"


def _header(stamped: dict) -> str:
    return "".join(f"# {key}: {str(value).replace(chr(10), ' ')}\n" for key, value in stamped.items())


def write_table(table: pd.DataFrame, path: str | Path, provenance: str, index: bool = True) -> Path:
    """Write ``table`` as a CSV headed by its provenance (written, then renamed).

    ``provenance``: the data and weights behind the numbers, e.g. 'SYNTHETIC data | UNTRAINED backbones'."""
    if not provenance or not str(provenance).strip():
        raise ValueError(f"{path}: a table needs its provenance (the data and weights its numbers come from)")
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(_header(stamp(str(provenance))))
            table.to_csv(handle, index=index)
    return path


def write_json_table(record: dict, path: str | Path, provenance: str) -> Path:
    """A result kept as JSON (e.g. a probe's scores), with the same provenance under ``"provenance"``."""
    return write_json_atomic(path, {**record, PROVENANCE_KEY: stamp(str(provenance))})


def _split(path: Path) -> tuple[dict, str]:
    text = Path(path).read_text(encoding="utf-8")
    provenance, lines = {}, text.splitlines(keepends=True)
    body_start = 0
    for body_start, line in enumerate(lines):
        if not line.startswith("# "):
            break
        key, _, value = line[2:].rstrip("\r\n").partition(": ")
        provenance[key] = value
    else:
        body_start = len(lines)
    return provenance, "".join(lines[body_start:])


def read_provenance(path: str | Path) -> dict:
    """The provenance of a table file (CSV header lines or the JSON ``"provenance"`` entry); {} if it has none."""
    path = Path(path)
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8")).get(PROVENANCE_KEY, {})
    return _split(path)[0]


def read_table(path: str | Path, **read_csv_options) -> pd.DataFrame:
    """The table of a file written by :func:`write_table` (or of a plain CSV)."""
    return pd.read_csv(io.StringIO(_split(Path(path))[1]), **read_csv_options)
