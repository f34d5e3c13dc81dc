"""The README quotes only numbers the committed notebooks computed (tools/update_readme.py)."""

import importlib.util

import pandas as pd

from bclib.evaluation.summary import findings, headline_table, readme_block
from bclib.paths import project_root
from bclib.tablefile import read_provenance, write_table

spec = importlib.util.spec_from_file_location("update_readme", project_root() / "tools" / "update_readme.py")
update_readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update_readme)


def test_the_readme_results_are_the_committed_notebooks_output():
    assert update_readme.readme_block() == update_readme.notebook_block()


def test_the_readme_names_the_machine_its_numbers_came_from():
    block = update_readme.readme_block()
    assert "processor" in block and "commit" in block and "threads" in block


def _scores():
    rows = []
    for model, variant, ba in (("mobilenet", "none", 0.6), ("mobilenet", "tradaug", 0.65), ("proposed", "cwgan", 0.7)):
        rows.append(dict(model=model, variant=variant, seed=0, split="patient", n_patients=20, majority_share=0.71,
                         balanced_accuracy=ba, balanced_accuracy_low=ba - 0.1, balanced_accuracy_high=ba + 0.1))
    rows.append(dict(rows[0], split="image", balanced_accuracy=0.9))
    return pd.DataFrame(rows)


def test_the_block_is_built_from_the_table_files(tmp_path):
    write_table(_scores(), tmp_path / "05_scores.csv", "SYNTHETIC data | UNTRAINED backbones")
    write_table(pd.DataFrame([{"classifier": "1-NN", "repeats": 30, "patient split": 0.65, "image split": 0.81,
                               "gap": 0.16, "low": 0.06, "high": 0.25, "interval above 0": True}]),
                tmp_path / "05_split_leakage.csv", "SYNTHETIC data")
    block = readme_block(tmp_path, "patient")
    assert "0.60 [0.50, 0.70]" in block and "0.70 [0.60, 0.80]" in block and "0.90" not in block  # main split only
    assert "+0.16 [+0.06, +0.25]" in block and "lies above 0" in block
    assert read_provenance(tmp_path / "05_scores.csv")["processor"] in block
    assert list(headline_table(_scores(), "patient").columns) == ["none", "TradAug", "cWGAN"]
    assert len(findings(tmp_path)) == 2


def test_findings_of_a_dataset_without_patient_ids_count_images(tmp_path):
    """BACH names no patients (n_patients empty): the bach-smoke report once failed on int(NaN) here."""
    scores = _scores().assign(n_patients=float("nan"), n_test=16)
    write_table(scores, tmp_path / "05_scores.csv", "SYNTHETIC data | UNTRAINED backbones")
    assert findings(tmp_path)[0].startswith("Test set: 16 images (no patient ids);")
