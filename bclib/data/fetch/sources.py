"""Where the real archives come from, and what each must hold once unpacked.

A :class:`Source` is one archive: its address, the checksum its publisher gives (if any), and
the *manifest* of images it must contain. The manifest is what makes a download without a
published checksum (BreakHis) checkable: the real archive's 7,909 file names follow from the
per-folder counts transcribed in ``bclib/reference/breakhis_archive_counts.tsv``. Manifest names
are relative to an *anchor* folder (``histology_slides/breast`` or ``Photos``) rather than to the
archive's top folder, so a mirror that renames the top folder still verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..layouts import BACH_FOLDERS, BREAKHIS_SUBTYPES

# {path relative to the anchor folder, with "/" separators: class name}
Manifest = dict[str, str]


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    archive: str  # the file name the download is saved under
    md5: str | None  # the publisher's checksum of the archive; None when none is published
    md5_provenance: str
    approx_bytes: int  # the archive's size, for the space check when a server sends no length
    unpacked_ratio: float  # unpacked size / archive size, for the space check before downloading
    anchor: tuple[str, ...]  # the folder (trailing path parts) that manifest names are relative to
    manifest_description: str


SOURCES = {
    "breakhis": Source(
        name="breakhis",
        url="http://www.inf.ufpr.br/vri/databases/BreaKHis_v1.tar.gz",
        archive="BreaKHis_v1.tar.gz",
        md5=None,
        md5_provenance="none published by the UFPR laboratory",
        approx_bytes=4_000_000_000,  # eva's dataset page: 4 GB
        unpacked_ratio=1.05,  # PNG files: gzip barely shrinks them
        anchor=("histology_slides", "breast"),
        manifest_description="the real archive's 7,909 file names (bclib/reference/breakhis_archive_counts.tsv)",
    ),
    "bach": Source(
        name="bach",
        url="https://zenodo.org/records/3632035/files/ICIAR2018_BACH_Challenge.zip",
        archive="ICIAR2018_BACH_Challenge.zip",
        md5="8ae1801334aa943c44627c1eef3631b2",
        md5_provenance="kaiko-ai/eva, src/eva/vision/data/datasets/classification/bach.py (not confirmed "
                       "against the Zenodo record itself; docs/decisions.md)",
        approx_bytes=10_400_000_000,  # eva's dataset page: 10.4 GB
        unpacked_ratio=1.25,  # an estimate; the zip's own directory gives the exact figure before unpacking
        anchor=("Photos",),
        manifest_description="the 400 labelled photos, Photos/<class>/<b|is|iv|n>001-100.tif",
    ),
}


@lru_cache(maxsize=1)
def breakhis_manifest() -> Manifest:
    """The real BreakHis archive's 7,909 images, relative to ``histology_slides/breast``."""
    from ...reference import breakhis_archive_counts

    names = {}
    for row in breakhis_archive_counts().itertuples(index=False):
        klass, subtype, folder, magnification, images = row
        code = BREAKHIS_SUBTYPES[subtype][1]
        patient = folder.split("_", 3)[3]  # SOB_B_A_14-22549AB -> 14-22549AB
        for seq in range(1, images + 1):
            name = f"SOB_{klass[0].upper()}_{code}-{patient}-{magnification[:-1]}-{seq:03d}.png"
            names[f"{klass}/SOB/{subtype}/{folder}/{magnification}/{name}"] = klass
    return names


@lru_cache(maxsize=1)
def bach_manifest() -> Manifest:
    """The 400 labelled BACH photos (100 per class, numbered 001-100), relative to ``Photos``."""
    return {f"{folder}/{prefix}{number:03d}.tif": klass
            for folder, (klass, prefix, _) in BACH_FOLDERS.items() for number in range(1, 101)}


def default_manifest(dataset: str) -> Manifest:
    return breakhis_manifest() if dataset == "breakhis" else bach_manifest()
