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

# Reference optical-density vectors (red, green, blue) of haematoxylin and
# eosin, as commonly used for colour deconvolution (Ruifrok & Johnston, 2001).
H_REFERENCE = np.array([0.650, 0.704, 0.286])
E_REFERENCE = np.array([0.072, 0.990, 0.105])


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
    def draw(cls, rng: np.random.Generator) -> Stain:
        def vector(reference, spread):
            v = np.clip(reference + rng.normal(0, spread, 3), 0.02, None)
            return v / np.linalg.norm(v)

        # Lamps are near white, many with a colour cast (cyan, green, warm) that
        # tints the whole photo, as on the real tiles.
        lamp = rng.uniform(0.78, 1.0) * (1 + rng.normal(0, 0.08, 3))
        lamp = np.clip(lamp / max(1.0, lamp.max()), 0.7, 1.0)
        return cls(
            h_vector=vector(H_REFERENCE, 0.15),
            e_vector=vector(E_REFERENCE, 0.22),
            h_strength=float(rng.lognormal(-0.25, 0.3)),
            e_strength=float(rng.lognormal(-0.6, 0.45)),
            lamp=lamp,
            blur=float(rng.uniform(0.3, 2.2)),
            vignette=float(rng.uniform(0.0, 0.18)),
            noise=float(rng.uniform(0.004, 0.02)),
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
