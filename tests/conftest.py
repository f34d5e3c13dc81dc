"""Shared fixtures: tiny synthetic datasets in the real layouts, made once per test session."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bclib.data import synth
from helpers import TINY_TRAIN

# Dataset indexes are cached on disk (bclib.data.index_cache): keep the suite's own, in a folder of this
# test process (and of the commands it starts), never in the user's ~/.cache.
os.environ["BCLIB_CACHE_DIR"] = tempfile.mkdtemp(prefix="bclib-test-cache-")

# Small tiles keep the suite fast; layouts and naming are identical to the defaults.
TINY_BREAKHIS = dict(images_per_magnification=1, size=(96, 64), workers=1)
TINY_BACH = dict(images_per_class=4, size=(64, 48), workers=1)


def built_once(tmp_path_factory, name: str, build) -> Path:
    """``build(folder)`` run once for the whole test run, its folder shared by `make test`'s two workers.

    A session fixture is otherwise built once per xdist worker: the trained run below cost each worker
    ~10 CPU-seconds of a suite that is CPU-bound. The first worker to ask builds under an exclusive lock
    (pytest-xdist's documented recipe, with ``fcntl`` for the lock); the other waits and reuses the
    finished folder. What is built must be read-only to the tests (they damage copies, never these).
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: an ordinary session fixture
        return build(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent / f"built-once-{name}"  # the run's folder, above the workers'
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, also if build() raised
        done = shared / ".built"
        if not done.is_file():
            shutil.rmtree(shared, ignore_errors=True)  # a build that failed half-way is redone, not reused
            shared.mkdir()
            result = build(shared)
            done.write_text(str(result.relative_to(shared)))
        return shared / done.read_text()


@pytest.fixture(scope="session")
def breakhis_root(tmp_path_factory) -> Path:
    """Read-only tiny BreakHis archive: 24 patients (+1 filed under two subtypes), 4 magnifications."""
    return built_once(tmp_path_factory, "bh", lambda folder: synth.make_breakhis(folder / "breakhis", seed=0,
                                                                                **TINY_BREAKHIS))


@pytest.fixture(scope="session")
def bach_root(tmp_path_factory) -> Path:
    return built_once(tmp_path_factory, "bach", lambda folder: synth.make_bach(folder / "bach", seed=0, **TINY_BACH))


@pytest.fixture
def breakhis_copy(breakhis_root, tmp_path) -> Path:
    """A private copy a test may damage."""
    return Path(shutil.copytree(breakhis_root, tmp_path / "breakhis"))


@pytest.fixture
def bach_copy(bach_root, tmp_path) -> Path:
    return Path(shutil.copytree(bach_root, tmp_path / "bach"))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, breakhis_root):
    """`bclib train` of MobileNet (untrained, 64 px, TradAug) on the tiny BreakHis set: <tmp>/run holds its outputs."""

    def train(tmp: Path) -> Path:
        params = tmp / "p.yaml"
        params.write_text(TINY_TRAIN.format(root=breakhis_root, out=tmp / "out"))
        bclib = Path(sys.executable).with_name("bclib")
        result = subprocess.run([str(bclib), "train", "--params", str(params), "--model", "mobilenet",
                                 "--variant", "tradaug", "--out", str(tmp / "run")], capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        return tmp

    return built_once(tmp_path_factory, "train", train)
