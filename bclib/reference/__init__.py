"""The paper's published numbers, as data (see ``paper_results.yaml``)."""

from .tables import (
    archive_table3,
    bach_published_sides,
    breakhis_archive_counts,
    eva_linear_probe,
    eva_reference,
    paper_results,
    paper_table,
    paper_table3,
)

__all__ = ["archive_table3", "bach_published_sides", "breakhis_archive_counts", "eva_linear_probe", "eva_reference",
           "paper_results", "paper_table", "paper_table3"]
