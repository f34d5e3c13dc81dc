"""Scoring predictions and saying how sure the scores are.

* :mod:`.scores` - the paper's per-class table, headline measures (one function,
  :func:`statistic`, computes each), patient-level recognition rates;
* :mod:`.diagnosis` - patient decisions from image probabilities (mean
  probability, majority vote), per magnification and pooled;
* :mod:`.calibration` - expected calibration error, reliability tables and
  temperature scaling fitted on validation predictions;
* :mod:`.tta` - test-time augmentation over the eight dihedral views;
* :mod:`.uncertainty` - the patient (cluster) bootstrap, paired comparisons of
  two runs and of many paired runs (patients and training runs resampled together),
  McNemar's test on patient-level decisions, patient-level accuracy with its interval;
* :mod:`.effects` - the effect of adding cWGAN images (with minus without), pooled over folds and
  seeds, with a bootstrap that draws the patients once across folds and resamples seeds (GAN and
  classifier), a declared primary endpoint and Holm-adjusted verdicts;
* :mod:`.fold_magnification_tables` - the cross-validation (per-fold, mean ± sd) and per-magnification tables;
* :mod:`.diagnostic_tables` - notebook 05's patient-diagnosis, calibration and TTA tables of the chosen runs;
* :mod:`.loading` - finished runs as the report reads them; :mod:`.selection` - what is chosen on
  validation (the proposed model's configuration, the best baseline and encoder, the pairs compared);
  :mod:`.run_tables` - notebook 05's tables; :mod:`.report_sections` - which tables and figures the report
  holds, with their captions; :mod:`.report` - report.md and report.html; :mod:`.result_figures` its
  figures (reliability diagrams among them); :mod:`.run_overview` - notebooks 03-04's view of the runs they
  trained (a row per run, learning curves); :mod:`.summary` - the findings in a few lines (README, conclusion).
"""

from .calibration import (
    apply_temperature,
    calibration_summary,
    ece_from_table,
    expected_calibration_error,
    fit_temperature,
    reliability_table,
    temperature_nll,
    temperature_scaled,
)
from .diagnosis import RULES, patient_accuracy, patient_diagnoses
from .diagnostic_tables import (
    calibration_table,
    patient_diagnosis_table,
    reliability_tables,
    saved_model_views,
    tta_table,
    validation_predictions,
    with_intervals,
)
from .effects import gan_effect_table, pooled_difference
from .fold_magnification_tables import fold_table, magnification_table, run_fold, shown_fold_table
from .scores import (
    MEASURES,
    TABLE_COLUMNS,
    headline_metrics,
    patient_level_rate,
    patient_level_rates,
    per_class_table,
    statistic,
)
from .tta import dihedral_transforms, tta_model, tta_probabilities
from .uncertainty import (
    bootstrap_interval,
    bootstrap_values,
    clusters,
    mcnemar_test,
    paired_bootstrap,
    patient_accuracy_interval,
    patient_accuracy_table,
    patient_decisions,
    patient_mcnemar,
    resample_clusters,
    two_sample_bootstrap,
)

__all__ = [
    "MEASURES", "RULES", "TABLE_COLUMNS", "apply_temperature", "bootstrap_interval", "bootstrap_values",
    "calibration_summary", "calibration_table", "clusters", "dihedral_transforms", "gan_effect_table",
    "pooled_difference", "ece_from_table",
    "expected_calibration_error", "fit_temperature", "fold_table", "headline_metrics", "magnification_table",
    "mcnemar_test", "paired_bootstrap", "patient_accuracy",
    "patient_accuracy_interval", "patient_accuracy_table", "patient_decisions", "patient_diagnoses",
    "patient_diagnosis_table",
    "patient_level_rate", "patient_level_rates", "patient_mcnemar", "per_class_table",
    "reliability_table", "reliability_tables", "resample_clusters", "run_fold", "saved_model_views",
    "shown_fold_table", "statistic",
    "temperature_nll", "temperature_scaled", "tta_model", "tta_probabilities", "tta_table", "two_sample_bootstrap",
    "validation_predictions", "with_intervals",
]
