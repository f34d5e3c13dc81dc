"""Whether predicted probabilities mean what they say: expected calibration error and temperature scaling.

* :func:`reliability_table` / :func:`expected_calibration_error` - the top-class
  confidence cut into equal-width bins (15 by default, Guo et al. 2017); per bin
  the number of images, their mean confidence and their accuracy. The ECE is the
  image-weighted mean gap between the two.
* :func:`fit_temperature` / :func:`apply_temperature` - temperature scaling: one
  number T > 0 divides the log-probabilities before a softmax. T is fitted by
  minimising the negative log-likelihood on **validation** predictions only;
  the test predictions are then rescaled with it. Dividing by a positive number
  keeps the order of the classes, so no decision (and no accuracy) changes.

Models here write probabilities, not logits; log-probabilities differ from the
logits only by a per-image constant, which a softmax ignores, so scaling them is
scaling the logits.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from .scores import _indices

N_BINS = 15
TEMPERATURE_BOUNDS = (1e-2, 1e2)
# Float32 softmax outputs can be exactly 0; the floor keeps their logarithm finite.
# It sits far below any probability a float32 model resolves next to a confident class.
_FLOOR = 1e-30


def _labels(labels, class_names: Optional[Sequence[str]]) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype.kind in "iu":
        return labels.astype(int)
    if class_names is None:
        raise ValueError("labels are class names: pass class_names to map them to columns")
    return _indices(labels, class_names)


def _checked(probabilities, labels, class_names) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probabilities, dtype=np.float64)
    y = _labels(labels, class_names)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"expected (images, classes) probabilities and one label per image, got {p.shape} "
                         f"and {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError("a label index is outside the probability columns")
    return p, y


def reliability_table(probabilities, labels, n_bins: int = N_BINS,
                      class_names: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Per confidence bin: ``bin``, ``lower``, ``upper``, ``count``, ``confidence`` (mean), ``accuracy``.

    ``probabilities`` is (images, classes); ``labels`` are class indices, or
    names with ``class_names``. The confidence is the highest probability of an
    image, the prediction its class (first class on ties). Bins are equal-width
    and closed on the right, ``(lower, upper]``, the first also holding 0. Every
    bin is listed; an empty one has count 0 and NaN means.
    """
    p, y = _checked(probabilities, labels, class_names)
    confidence, correct = p.max(axis=1), p.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # side="left" puts a confidence equal to an edge in the bin below it: bins closed on the right.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, minlength=n_bins) / count
        accuracy = np.bincount(which, correct.astype(float), minlength=n_bins) / count
    return pd.DataFrame({"bin": np.arange(n_bins), "lower": edges[:-1], "upper": edges[1:], "count": count,
                         "confidence": mean_confidence, "accuracy": accuracy})


def ece_from_table(table: pd.DataFrame) -> float:
    """Expected calibration error of a :func:`reliability_table`: sum over bins of count/N x |accuracy - confidence|."""
    filled = table[table["count"] > 0]
    total = filled["count"].sum()
    if not total:
        raise ValueError("no images: the calibration error is undefined")
    return float((filled["count"] * (filled["accuracy"] - filled["confidence"]).abs()).sum() / total)


def expected_calibration_error(probabilities, labels, n_bins: int = N_BINS,
                               class_names: Optional[Sequence[str]] = None) -> tuple[float, pd.DataFrame]:
    """(ECE, the per-bin table a reliability diagram draws); see :func:`reliability_table` for the bins."""
    table = reliability_table(probabilities, labels, n_bins, class_names)
    return ece_from_table(table), table


def _log_probabilities(probabilities) -> np.ndarray:
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _FLOOR, None))


def apply_temperature(probabilities, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` per image: T > 1 softens the probabilities, T < 1 sharpens them."""
    if not temperature > 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    return softmax(_log_probabilities(probabilities) / temperature, axis=1)


def temperature_nll(probabilities, labels, temperature: float,
                    class_names: Optional[Sequence[str]] = None) -> float:
    """Mean negative log-likelihood of the labels after scaling with ``temperature``."""
    p, y = _checked(probabilities, labels, class_names)
    scaled = log_softmax(_log_probabilities(p) / temperature, axis=1)
    return float(-scaled[np.arange(len(y)), y].mean())


def fit_temperature(val_probabilities, val_labels, class_names: Optional[Sequence[str]] = None,
                    bounds: tuple[float, float] = TEMPERATURE_BOUNDS) -> float:
    """The temperature that minimises the negative log-likelihood of **validation** predictions.

    Pass validation probabilities and labels only: a temperature fitted on the
    test set would make the test calibration look better than it is. The search
    runs over log T (bounded, Brent's method), so T stays positive and a factor
    of two above or below 1 weighs the same.
    """
    p, y = _checked(val_probabilities, val_labels, class_names)
    if not len(y):
        raise ValueError("no validation predictions: the temperature cannot be fitted")
    logp = _log_probabilities(p)
    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        return float(-log_softmax(logp / np.exp(log_t), axis=1)[rows, y].mean())

    result = minimize_scalar(nll, bounds=np.log(bounds), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))


def probability_columns(predictions: pd.DataFrame, class_names: Sequence[str]) -> np.ndarray:
    """The ``p_<class>`` columns of a predictions table as an (images, classes) array."""
    return predictions[[f"p_{c}" for c in class_names]].to_numpy(dtype=np.float64)


def temperature_scaled(predictions: pd.DataFrame, class_names: Sequence[str], temperature: float) -> pd.DataFrame:
    """A copy of a predictions table with its ``p_<class>`` columns rescaled by ``temperature``.

    ``pred`` is left as it is: temperature scaling never changes the most probable class.
    """
    scaled = apply_temperature(probability_columns(predictions, class_names), temperature)
    return predictions.assign(**{f"p_{c}": scaled[:, i] for i, c in enumerate(class_names)})


def calibration_summary(val_predictions: pd.DataFrame, test_predictions: pd.DataFrame,
                        class_names: Sequence[str], n_bins: int = N_BINS) -> dict:
    """Temperature fitted on the validation table; test ECE and NLL before and after scaling with it."""
    temperature = fit_temperature(probability_columns(val_predictions, class_names), val_predictions["label"],
                                  class_names)
    p, y = probability_columns(test_predictions, class_names), test_predictions["label"]
    ece_raw, _ = expected_calibration_error(p, y, n_bins, class_names)
    ece_scaled, _ = expected_calibration_error(apply_temperature(p, temperature), y, n_bins, class_names)
    return {"temperature": temperature, "ece": ece_raw, "ece_scaled": ece_scaled,
            "nll": temperature_nll(p, y, 1.0, class_names), "nll_scaled": temperature_nll(p, y, temperature,
                                                                                           class_names),
            "n_val": int(len(val_predictions)), "n_test": int(len(test_predictions)), "bins": n_bins}
