"""Distances between sets of images: FID and KID, and the feature extractors behind them.

- ``distances``  exact Frechet distance and unbiased KID from feature matrices (NumPy, float64)
- ``features``   InceptionV3 pool features or a saved classifier's penultimate layer, cached per image set
- ``gan_hook``   FID/KID at every cWGAN snapshot
"""

from .distances import frechet_distance, kernel_inception_distance

__all__ = ["frechet_distance", "kernel_inception_distance"]
