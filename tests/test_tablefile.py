"""Every result table says where its numbers came from (bclib.tablefile)."""

import re

import pandas as pd
import pytest

from bclib.paths import project_root
from bclib.tablefile import read_provenance, read_table, write_json_table, write_table

STAMP_KEYS = {"data and weights", "date", "commit", "processor", "tensorflow", "threads"}


def test_a_table_file_carries_its_provenance_and_reads_back_whole(tmp_path):
    table = pd.DataFrame({"model": ["a#b", "c"], "score": [0.5, 0.25]})
    path = write_table(table, tmp_path / "t.csv", "SYNTHETIC data | UNTRAINED backbones", index=False)
    provenance = read_provenance(path)
    assert set(provenance) == STAMP_KEYS
    assert provenance["data and weights"] == "SYNTHETIC data | UNTRAINED backbones"
    assert path.read_text().startswith("# data and weights: SYNTHETIC data")
    pd.testing.assert_frame_equal(read_table(path), table)  # a '#' inside a cell survives


def test_a_json_result_carries_the_same_provenance(tmp_path):
    path = write_json_table({"accuracy": 0.5}, tmp_path / "p.json", "real data | ImageNet backbones")
    assert set(read_provenance(path)) == STAMP_KEYS


def test_a_table_without_provenance_is_refused(tmp_path):
    with pytest.raises(ValueError, match="provenance"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv", " ")
    assert not (tmp_path / "t.csv").exists()


def test_notebooks_write_tables_only_through_the_stamping_helpers():
    """A table written with to_csv or write_json_atomic would carry no provenance."""
    for script in sorted((project_root() / "notebooks").glob("0*.py")):
        text = script.read_text()
        assert not re.search(r"\.to_csv\(", text), f"{script.name}: write tables with save_table"
        for line in text.splitlines():
            if "write_json_atomic(" in line:
                assert "tables" not in line, f"{script.name}: write JSON tables with write_json_table: {line}"
