"""Traditional augmentation (TradAug, the paper's Table 5) and optional HED stain jitter.

Table 5 lists ImageDataGenerator-style settings; each is read as follows
(``docs/model.md`` repeats this):

=================  ======  ==========================================================
setting            paper   as implemented with keras.layers
=================  ======  ==========================================================
horizontal flip    True    RandomFlip
vertical flip      True    RandomFlip
rotation range     95      RandomRotation: +/-95 degrees (factor 95/360)
zoom range         2       ImageDataGenerator would zoom by [1-2, 1+2] = [-1, 3], which is
                           impossible; read as "up to 2x in or out": RandomZoom(-0.5, 1.0)
shear range        0.5     ImageDataGenerator's unit is degrees: 0.5 degrees, kept literally
                           (RandomShear with factor tan(0.5 deg) = 0.0087); nearly a no-op
width shift        0.4     RandomTranslation: +/-40% of the width
height shift       0.4     RandomTranslation: +/-40% of the height
=================  ======  ==========================================================

Areas uncovered by a transform are filled by reflection (tissue continues).
"""

from __future__ import annotations

import math

import numpy as np
from skimage.color import hed2rgb, rgb2hed

from ..backend import keras as _keras

keras = _keras()


def tradaug_layer(seed: int = 0):
    layers = keras.layers
    shear = math.tan(math.radians(0.5))
    return keras.Sequential([
        layers.RandomFlip("horizontal_and_vertical", seed=seed),
        layers.RandomRotation(95 / 360, fill_mode="reflect", seed=seed + 1),
        layers.RandomZoom((-0.5, 1.0), fill_mode="reflect", seed=seed + 2),
        layers.RandomShear(x_factor=shear, y_factor=shear, fill_mode="reflect", seed=seed + 3),
        layers.RandomTranslation(0.4, 0.4, fill_mode="reflect", seed=seed + 4),
    ], name="tradaug")


def hed_jitter(image: np.ndarray, rng: np.random.Generator, sigma: float = 0.03) -> np.ndarray:
    """Perturb haematoxylin, eosin and DAB concentrations (Tellez et al. 2018): float [0, 255] in and out."""
    hed = rgb2hed(np.clip(image / 255.0, 0, 1))
    alpha = rng.uniform(1 - sigma, 1 + sigma, 3)
    beta = rng.uniform(-sigma, sigma, 3)
    rgb = hed2rgb(hed * alpha + beta * np.abs(hed).mean(axis=(0, 1)))
    return (np.clip(rgb, 0, 1) * 255.0).astype(np.float32)
