"""Is the unpacked tree the archive we meant to fetch? Names, pixels and class counts against a manifest.

BreakHis has no published checksum, so the check is on the contents: every name of the manifest
(by default the real archive's 7,909) must be present below the anchor folder and decode in full
(the same check every loader runs, :func:`bclib.data.images.inspect_image`, one file at a time so
memory stays flat); the images per class must match the manifest's (2,480 benign and 5,429 malignant
for the real archive); and no image may be there that the manifest does not name. The result names
what is missing, undecodable or extra.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..images import ImageProblem, inspect_image, is_image_name
from ..records import fingerprint_files
from .sources import Manifest

SHOWN = 5  # names quoted in a one-line error


@dataclass
class Verification:
    expected: int
    anchor: Optional[str]  # the anchor folder found, relative to the unpacked tree
    present: int = 0
    missing: list[str] = field(default_factory=list)
    undecodable: list[tuple[str, str]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    by_class: dict[str, int] = field(default_factory=dict)
    expected_by_class: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""  # bclib's fingerprint of the verified images (an index of them gives the same)

    @property
    def ok(self) -> bool:
        return (self.anchor is not None and not self.missing and not self.undecodable and not self.extra
                and self.by_class == self.expected_by_class)

    def summary(self) -> str:
        classes = ", ".join(f"{k} {v:,}" for k, v in self.by_class.items())
        return f"{self.present:,} of {self.expected:,} expected images present and decodable ({classes})"

    def problems(self) -> str:
        """One line naming what is wrong (the first few names of each kind)."""
        if self.anchor is None:
            return "the folder the images should be in was not found in the archive"

        def some(items):
            return ", ".join(items[:SHOWN]) + (f" and {len(items) - SHOWN:,} more" if len(items) > SHOWN else "")

        parts = []
        if self.missing:
            parts.append(f"{len(self.missing):,} missing ({some(self.missing)})")
        if self.undecodable:
            reasons = [f"{name}: {why}" for name, why in self.undecodable]
            parts.append(f"{len(self.undecodable):,} not decodable ({some(reasons)})")
        if self.extra:
            parts.append(f"{len(self.extra):,} extra ({some(self.extra)})")
        if self.by_class != self.expected_by_class:
            parts.append(f"images per class {self.by_class}, expected {self.expected_by_class}")
        return "; ".join(parts)

    def as_record(self) -> dict:
        return {"expected": self.expected, "present_and_decodable": self.present, "by_class": self.by_class,
                "expected_by_class": self.expected_by_class, "missing": self.missing,
                "undecodable": [f"{n}: {r}" for n, r in self.undecodable], "extra": self.extra,
                "fingerprint": self.fingerprint}


def find_anchor(tree: Path, anchor: tuple[str, ...], depth: int = 4) -> Optional[Path]:
    """The first folder below ``tree`` (at most ``depth`` levels down) whose path ends with ``anchor``."""
    for top, dirs, _ in os.walk(tree):
        here = Path(top)
        level = len(here.relative_to(tree).parts)
        if level >= len(anchor) and here.parts[-len(anchor):] == anchor:
            return here
        if level >= depth:
            dirs[:] = []
        dirs.sort()
    return None


def _images_below(folder: Path):
    """(relative posix name, path) of every image file below ``folder``, streamed."""
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if is_image_name(name):
                path = Path(top) / name
                yield path.relative_to(folder).as_posix(), path


def verify_tree(tree: Path, anchor: tuple[str, ...], manifest: Manifest) -> Verification:
    """Check the unpacked ``tree`` against ``manifest`` (names relative to the ``anchor`` folder)."""
    result = Verification(expected=len(manifest), anchor=None,
                          expected_by_class=dict(sorted(Counter(manifest.values()).items())))
    base = find_anchor(tree, anchor)
    if base is None:
        return result
    result.anchor = base.relative_to(tree).as_posix()
    seen, classes, good = set(), Counter(), []
    for name, path in _images_below(base):
        if name not in manifest:
            result.extra.append(name)
            continue
        seen.add(name)
        try:
            inspect_image(path)
        except ImageProblem as exc:
            result.undecodable.append((name, str(exc)))
            continue
        classes[manifest[name]] += 1
        good.append(path)
    result.missing = sorted(set(manifest) - seen)
    result.present = len(good)
    result.by_class = {k: classes.get(k, 0) for k in result.expected_by_class}
    result.fingerprint = fingerprint_files(good)
    return result
