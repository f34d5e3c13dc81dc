"""Distances between sets of images: FID, KID, precision/recall, SWD, and the feature extractors behind them.

- ``distances``  exact Frechet distance and unbiased KID from feature matrices (NumPy, float64)
- ``features``   InceptionV3 pool features or a saved classifier's penultimate layer, cached per image set
- ``manifold``   improved precision and recall (k-NN manifolds, blocked distances; equal-size sets)
- ``swd``        sliced Wasserstein distance on Laplacian-pyramid patches (pixels, no pretrained network)
"""

from .distances import frechet_distance, kernel_inception_distance
from .manifold import balanced_precision_recall, precision_recall
from .swd import swd

__all__ = ["frechet_distance", "kernel_inception_distance", "precision_recall", "balanced_precision_recall", "swd"]
