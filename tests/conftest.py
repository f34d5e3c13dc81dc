"""Shared fixtures: tiny synthetic datasets in the real layouts, made once per test session."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def breakhis_root(tmp_path_factory) -> Path:
    """Read-only tiny BreakHis archive: 24 patients (+1 filed under two subtypes), 4 magnifications."""
    return synth.make_breakhis(tmp_path_factory.mktemp("bh") / "breakhis", seed=0, **TINY_BREAKHIS)


@pytest.fixture(scope="session")
def bach_root(tmp_path_factory) -> Path:
    return synth.make_bach(tmp_path_factory.mktemp("bach") / "bach", seed=0, **TINY_BACH)


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
    tmp = tmp_path_factory.mktemp("train")
    params = tmp / "p.yaml"
    params.write_text(TINY_TRAIN.format(root=breakhis_root, out=tmp / "out"))
    bclib = Path(sys.executable).with_name("bclib")
    result = subprocess.run([str(bclib), "train", "--params", str(params), "--model", "mobilenet",
                             "--variant", "tradaug", "--out", str(tmp / "run")], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return tmp
