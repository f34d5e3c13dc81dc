"""Data: indexing, splits, image reading, input pipelines and stain normalisation.

Exports resolve on first use, so that importing a light module of the package (``bclib.data.layouts``,
the home of the BreakHis classes and magnifications, which the parameter schema reads) loads neither
pandas nor the image stack."""

from ..lazy_exports import lazy_exports

__all__ = ["STAIN_METHODS", "StainReference", "cached_reference", "choose_reference", "fit_reference", "normalize"]

__getattr__, __dir__ = lazy_exports(__name__, __all__, ("stain",))
