"""The microscope and the stain: turning stain concentrations into RGB.

A stained section absorbs light. Each stain has an absorption colour (its
*optical density vector*: how strongly it absorbs red, green and blue) and a
concentration per pixel. Beer-Lambert's law gives the light that gets
through::

    I = I0 * 10 ** -(c_H * v_H + c_E * v_E)

with ``I0`` the colour of the lamp. Every patient's slides were cut, stained
and photographed on their own day, so each patient gets their own stain
vectors, stain strengths, lamp colour, focus and vignetting. That is the
"patient signature" a classifier can learn instead of the disease.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Optical-density vectors (red, green, blue) of haematoxylin and eosin. The
# textbook vectors of colour deconvolution (Ruifrok & Johnston, 2001) are
# (0.65, 0.70, 0.29) and (0.07, 0.99, 0.11). On BreakHis photos haematoxylin
# is greyer (it absorbs more blue: Macenko's method finds about (0.62, 0.64,
# 0.47)), and the tissue's colour is set mostly by how much eosin there is:
# the more eosin, the more vivid the photo; a tile with little eosin is a
# pale lilac from the haematoxylin that collagen and cytoplasm take up. The
# vectors below lie between the two, chosen with benchmarks/bench_realism.py.
H_REFERENCE = np.array([0.63, 0.66, 0.41])
E_REFERENCE = np.array([0.20, 0.93, 0.30])


@dataclass(frozen=True)
class Stain:
    """One patient's (or one BACH photo's) staining and imaging conditions."""

    h_vector: np.ndarray   # unit OD vector of haematoxylin
    e_vector: np.ndarray   # unit OD vector of eosin
    h_strength: float      # multiplies haematoxylin concentration
    e_strength: float      # multiplies eosin concentration
    lamp: np.ndarray       # RGB of the light with no tissue (0-1)
    blur: float            # focus: Gaussian sigma in pixels of a 700x460 tile
    vignette: float        # darkening towards the corners
    noise: float           # sensor noise (0-1 scale)

    @classmethod
    def draw(cls, rng: np.random.Generator, h_scale: float = 1.0, e_scale: float = 1.0) -> Stain:
        """A random staining; ``h_scale`` and ``e_scale`` shift the typical dye strengths (see CLASS_DYES)."""
        def vector(reference, spread):
            v = np.clip(reference + rng.normal(0, spread, 3), 0.02, None)
            return v / np.linalg.norm(v)

        # Lamps are near white and bright (the slide's background is white or
        # nearly so on most real photos, often clipped at 255), with a slight
        # colour cast of their own (warm, cyan, green) that tints the whole photo.
        lamp = rng.uniform(0.82, 1.04) * (1 + rng.normal(0, 0.05, 3) + [0.015, -0.005, 0.0])
        lamp = np.clip(lamp, 0.7, 1.0)
        # Labs balance the two dyes differently: slides come out lilac (more haematoxylin) or pink (more eosin).
        balance = rng.standard_normal()
        return cls(
            h_vector=vector(H_REFERENCE, 0.10),
            e_vector=vector(E_REFERENCE, 0.13),
            h_strength=float(h_scale * rng.lognormal(-0.55, 0.26) * np.exp(0.2 * balance)),
            e_strength=float(e_scale * rng.lognormal(-0.8, 0.45) * np.exp(-0.3 * balance)),
            lamp=lamp,
            blur=float(rng.uniform(0.3, 1.5)),
            vignette=float(rng.uniform(0.0, 0.12)),
            noise=float(np.exp(rng.uniform(np.log(0.004), np.log(0.04)))),  # cameras differ: 0.4% to 4%
        )


def render(h: np.ndarray, e: np.ndarray, stain: Stain, rng: np.random.Generator,
           pixel_scale: float = 1.0, image_jitter: float = 0.03) -> np.ndarray:
    """RGB uint8 tile from haematoxylin and eosin concentration maps (optical density units).

    ``pixel_scale`` is the tile's size relative to 700x460 (the focus blur
    scales with it); ``image_jitter`` varies strength slightly per photo.
    """
    sigma = stain.blur * pixel_scale * rng.uniform(0.8, 1.25)
    if sigma > 0.25:
        h = ndimage.gaussian_filter(h, sigma)
        e = ndimage.gaussian_filter(e, sigma)
    hs = stain.h_strength * rng.lognormal(0, image_jitter)
    es = stain.e_strength * rng.lognormal(0, image_jitter)
    od = ((h * hs)[..., None] * stain.h_vector.astype(np.float32)
          + (e * es)[..., None] * stain.e_vector.astype(np.float32))
    rgb = stain.lamp.astype(np.float32) * np.exp(-np.log(10.0) * od)
    rows, cols = h.shape
    y = np.linspace(-1, 1, rows)[:, None]
    x = np.linspace(-1, 1, cols)[None, :]
    shift = rng.normal(0, 0.3, 2)
    illumination = 1.0 - stain.vignette * ((y - shift[0]) ** 2 + (x - shift[1]) ** 2) / 2
    rgb = (rgb * illumination[..., None].astype(np.float32)
           + stain.noise * rng.standard_normal(rgb.shape, dtype=np.float32))
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
