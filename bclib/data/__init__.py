"""Data: indexing, splits, image reading, input pipelines and stain normalisation."""

from .stain import METHODS as STAIN_METHODS
from .stain import StainReference, cached_reference, choose_reference, fit_reference, normalize

__all__ = ["STAIN_METHODS", "StainReference", "cached_reference", "choose_reference", "fit_reference", "normalize"]
