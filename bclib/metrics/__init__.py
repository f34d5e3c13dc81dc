"""Distances between sets of images: FID and KID, and the feature extractors behind them.

- ``distances``  exact Frechet distance and unbiased KID from feature matrices (NumPy, float64)
- ``features``   InceptionV3 pool features or a saved classifier's penultimate layer, cached per image set
- ``manifold``   improved precision and recall (k-NN manifolds, blocked distances)
- ``gan_hook``   FID/KID/precision/recall at every cWGAN snapshot
"""

from .distances import frechet_distance, kernel_inception_distance
from .manifold import precision_recall

__all__ = ["frechet_distance", "kernel_inception_distance", "precision_recall"]
