"""The paper's numbers as data, with the inconsistency between its Tables 11 and 14 recorded and shown."""

import numpy as np
import pandas as pd

from bclib.evaluation.run_tables import accuracy_beside_table14
from bclib.reference import paper_results, paper_table


def test_the_recorded_inconsistency_between_tables_11_and_14_holds():
    t11 = paper_table("table11_breakhis_per_class")
    counts = t11[(t11["bclib_model"] == "proposed") & (t11["class"] == "benign")].set_index("bclib_variant")
    columns = ["TP", "TN", "FP", "FN"]
    assert counts.loc["tradaug", columns].tolist() == counts.loc["tradaug+cwgan", columns].tolist()
    t14 = paper_table("table14_proposed_accuracy").query("dataset == 'breakhis'").set_index("bclib_variant")
    assert t14.loc["tradaug+cwgan", "accuracy"] - t14.loc["tradaug", "accuracy"] == np.float64(99.6 - 96.1)
    possible = {round(100 * k / 160, 1) for k in range(161)}
    assert 96.1 not in possible and 99.6 not in possible  # not a count out of 160 test images
    assert "contradicts Table 11" in paper_results()["table14_proposed_accuracy"]["inconsistency"]


def test_table_14_is_shown_beside_the_accuracy_its_own_counts_imply():
    summary = pd.DataFrame(columns=["accuracy_mean", "accuracy_std", "seeds"],
                           index=pd.MultiIndex.from_tuples([], names=["model", "variant", "split"]))
    table = accuracy_beside_table14(summary, "breakhis")
    assert table.loc["tradaug", "paper_accuracy_%"] == 96.1
    assert table.loc["tradaug", "paper_counts_accuracy_%"] == table.loc["tradaug+cwgan", "paper_counts_accuracy_%"]
    assert table.loc["tradaug", "paper_counts_accuracy_%"] == 100 * 159 / 160
