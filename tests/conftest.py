"""Shared fixtures: tiny synthetic datasets in the real layouts, made once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bclib.data import synth

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
