"""Embedded synthetic datasets in the exact on-disk layouts of BreakHis and BACH.

The real datasets cannot be downloaded on the machines that build and test
this project, so bclib draws its own H&E-like tiles and files them exactly as
the real archives do. The same loaders then read both. What the data is for,
and what it cannot show, is explained in ``docs/synthetic-data.md``.

How a tile is drawn
-------------------
:mod:`.tissue` lays out the tissue as haematoxylin and eosin concentration
maps: collagen stroma with oriented fibres, fat, empty background, and the
epithelial architecture typical of the subtype (acini, slit-like ducts,
clefts, tubules, solid nests, in-situ ducts, single-file chains, mucin lakes,
papillary fronds) with nuclei whose size, shape, chromatin and crowding follow
a per-patient *grade*. :mod:`.stain` then renders the maps through the
Beer-Lambert law with the patient's own stain vectors, stain strengths, lamp
colour, focus and vignetting.

The class signal is deliberately subtle and noisy (grades of benign and
malignant patients overlap, each patient mixes architectures), while each
patient's signature (stain, texture, habits) is strong and constant across
their photos. A classifier can therefore score higher by recognising patients
it has seen, which is what an image-level split rewards.

Magnification sets the scale: one tissue unit (about 3 micrometres) takes
1.6 pixels of a 700x460 tile at 40X and 13 pixels at 400X.

Everything is deterministic for a seed: each image has its own random stream
derived from (seed, patient, magnification, sequence number), so the bytes
do not depend on generation order. A ``BCLIB_SYNTHETIC.json`` marker is
written at the top of every generated dataset; loaders look for it and every
output built on such data says it is synthetic.
"""

from ..layouts import BACH_FOLDERS, BREAKHIS_SUBTYPES
from .archive import (
    BACH_UNIT_PIXELS,
    DEFAULT_IMAGES_PER_MAGNIFICATION,
    DEFAULT_PATIENTS,
    EMBEDDED_IMAGES_PER_MAGNIFICATION,
    EMBEDDED_PATIENTS,
    GENERATOR_VERSION,
    MARKER,
    UNIT_PIXELS,
    _image_rng,  # noqa: F401  (the realism benchmark draws tiles with it)
    archive_folders,
    draw_image,
    draw_patient,
    make_bach,
    make_breakhis,
    make_breakhis_rehearsal,
)

__all__ = [
    "BACH_FOLDERS", "BACH_UNIT_PIXELS", "BREAKHIS_SUBTYPES", "DEFAULT_IMAGES_PER_MAGNIFICATION", "DEFAULT_PATIENTS",
    "EMBEDDED_IMAGES_PER_MAGNIFICATION", "EMBEDDED_PATIENTS",
    "GENERATOR_VERSION", "MARKER", "UNIT_PIXELS", "draw_image", "draw_patient", "make_bach", "make_breakhis",
    "make_breakhis_rehearsal", "archive_folders",
]
