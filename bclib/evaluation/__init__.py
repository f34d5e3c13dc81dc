"""Scoring predictions and saying how sure the scores are.

* :mod:`.scores` - the paper's per-class table, headline measures (one function,
  :func:`statistic`, computes each), patient-level recognition rates;
* :mod:`.uncertainty` - the patient (cluster) bootstrap, paired comparisons of
  two runs and McNemar's test on patient-level decisions;
* :mod:`.report` - notebook 05's tables and report files.
"""

from .scores import (
    MEASURES,
    TABLE_COLUMNS,
    headline_metrics,
    patient_level_rate,
    patient_level_rates,
    per_class_table,
    statistic,
)
from .uncertainty import (
    bootstrap_interval,
    bootstrap_values,
    clusters,
    mcnemar_test,
    paired_bootstrap,
    patient_decisions,
    patient_mcnemar,
    resample_clusters,
    two_sample_bootstrap,
)

__all__ = [
    "MEASURES", "TABLE_COLUMNS", "bootstrap_interval", "bootstrap_values", "clusters", "headline_metrics",
    "mcnemar_test", "paired_bootstrap", "patient_decisions", "patient_level_rate", "patient_level_rates",
    "patient_mcnemar", "per_class_table", "resample_clusters", "statistic", "two_sample_bootstrap",
]
