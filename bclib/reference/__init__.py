"""The paper's published numbers, as data (see ``paper_results.yaml``)."""

from .tables import (
    archive_table3,
    bach_published_sides,
    breakhis_archive_counts,
    paper_results,
    paper_table,
    paper_table3,
)

__all__ = ["archive_table3", "bach_published_sides", "breakhis_archive_counts", "paper_results", "paper_table",
           "paper_table3"]
