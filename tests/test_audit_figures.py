"""Notebook 00's figures, drawn by bclib.data.audit_figures from the index alone."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from bclib.data import audit_figures  # noqa: E402
from bclib.data.index import index_bach, index_breakhis  # noqa: E402


@pytest.fixture(scope="module")
def breakhis(breakhis_root):
    return index_breakhis(breakhis_root)


def test_the_balance_bars_are_the_counts_in_magnification_order(breakhis):
    fig = audit_figures.class_balance_figure(breakhis, "SYNTHETIC data")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["40X", "100X", "200X", "400X"]  # not 100X first
    counts = breakhis.frame.groupby(["label", "magnification"]).size()
    bars = [round(p.get_height()) for p in ax.patches]  # one container per class, in column (label) order
    assert bars == [counts[label][m] for label in ("benign", "malignant") for m in ("40X", "100X", "200X", "400X")]
    assert any("SYNTHETIC" in t.get_text() for t in fig.texts)  # the provenance label
    plt.close(fig)


def test_closeups_are_two_of_each_class_at_the_highest_magnification_drawn_with_the_seed(breakhis):
    picks = audit_figures.closeup_picks(breakhis, seed=0)
    assert sorted(picks["label"]) == ["benign", "benign", "malignant", "malignant"]
    assert set(picks["magnification"]) == {"400X"}
    assert picks.equals(audit_figures.closeup_picks(breakhis, seed=0))
    assert not picks.equals(audit_figures.closeup_picks(breakhis, seed=1))
    fig = audit_figures.closeup_figure(breakhis, 0, "SYNTHETIC data")
    titles = [ax.get_title() for ax in fig.axes]
    assert all(f"patient {p}" in t for p, t in zip(picks["patient"], titles))
    plt.close(fig)


def test_a_dataset_without_magnifications_gets_one_bar_and_one_closeup_per_class(bach_root):
    bach = index_bach(bach_root)
    fig = audit_figures.class_balance_figure(bach, "SYNTHETIC data")
    assert len(fig.axes[0].patches) == len(bach.class_names)
    assert len(audit_figures.closeup_picks(bach, seed=0)) == len(bach.class_names)
    plt.close(fig)
    plt.close(audit_figures.samples_figure(bach, 0, "SYNTHETIC data"))
