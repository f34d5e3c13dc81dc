"""The paper's published numbers, as data (see ``paper_results.yaml``)."""

from .tables import paper_results, paper_table, paper_table3

__all__ = ["paper_results", "paper_table", "paper_table3"]
