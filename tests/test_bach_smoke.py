"""The 4-class path end to end: `params/bach-smoke.yaml` runs notebooks 00-05 on the embedded BACH data.

The committed notebooks are executed by nbval on the BreakHis smoke profile; this
test executes the same notebooks (papermill, as `bclib run` does) on the BACH
profile, so the conditional GAN over four classes, per-class FID/KID, 4-class
classifiers, the Table 12 layout and the 4-class ROC run on every `make test`.
"""

import pandas as pd
import pytest

from bclib.paths import project_root
from bclib.runner import run_notebooks
from bclib.tablefile import read_table

BACH_CLASSES = ["benign", "in_situ", "invasive", "normal"]


@pytest.fixture(scope="module")
def bach_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bach-smoke") / "out"
    manifest = run_notebooks(project_root() / "params" / "bach-smoke.yaml", overrides=[f"run.output_dir={out}"],
                             log=lambda message: None)
    return out, manifest


def test_every_notebook_runs_on_the_four_class_profile(bach_run):
    out, manifest = bach_run
    assert [n["name"][:2] for n in manifest["notebooks"]] == ["00", "01", "02", "03", "04", "05"]
    assert manifest["status"] == "ok", [n.get("error") for n in manifest["notebooks"]]


def test_the_gan_generates_every_class_and_is_scored_per_class(bach_run):
    out, _ = bach_run
    generated = pd.read_csv(out / "generated" / "manifest.csv")
    assert sorted(generated["class"].unique()) == BACH_CLASSES
    assert (generated["class"].value_counts() == 8).all()  # gan.n_generate per class
    per_class = read_table(out / "tables" / "01_per_class_scores.csv")
    assert set(BACH_CLASSES) <= set(per_class["class"])


def test_classifiers_predict_four_classes_and_the_report_follows_table_12(bach_run):
    out, _ = bach_run
    predictions = pd.read_csv(next((out / "runs" / "mobilenet" / "none").rglob("predictions.csv")))
    assert sorted(c for c in predictions if c.startswith("p_")) == sorted(f"p_{c}" for c in BACH_CLASSES)
    assert predictions.filter(like="p_").sum(axis=1).round(4).eq(1).all()
    # the profile trains a baseline only (make test's budget): the report's per-class table is the best baseline's
    table = read_table(out / "tables" / "05_per_class_best_baseline.csv", header=None)  # 3 header rows
    assert set(BACH_CLASSES) <= set(table[0].astype(str))
    assert (out / "figures" / "05_roc.png").stat().st_size > 0
    assert "BACH" in (out / "report.md").read_text() or "bach" in (out / "report.md").read_text()


def test_the_numbers_follow_the_patient_aware_split_and_are_finite(bach_run):
    import json
    import math
    from pathlib import Path

    from bclib.reference import bach_published_sides

    out, _ = bach_run
    sides = bach_published_sides()
    photos = sorted((project_root() / "data" / "synthetic" / "bach").rglob("*.tif"))
    held_out = sum(sides[p.parent.name][int(p.stem.lstrip("abinsv"))] == "held_out" for p in photos)
    for record in map(lambda f: json.loads(Path(f).read_text()), (out / "runs").rglob("run.json")):
        assert record["n_test"] == held_out  # test = eva's held-out photos of the embedded set, nothing else
        assert 0.0 <= record["test_accuracy"] <= 1.0 and record["decision_threshold"] is None  # 4 classes: argmax
    per_class = read_table(out / "tables" / "01_per_class_scores.csv")
    assert all(math.isfinite(v) and v >= 0 for v in per_class["fid"])


def test_report_html_opened_alone_shows_every_figure_and_fits_the_page(bach_run, tmp_path):
    from browser import check_page, chromium

    if chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium): report.html not opened in a browser")
    out, _ = bach_run
    seen = check_page(out / "report.html", tmp_path, width=1280)
    assert seen["images"] >= 3 and seen["broken"] == [], seen["broken"]
    widest = max(seen["tables"])
    assert widest <= seen["width"], f"a table is {widest} px wide on a {seen['width']} px page"


def test_every_table_file_and_the_report_say_where_their_numbers_came_from(bach_run):
    from bclib.tablefile import read_provenance

    out, _ = bach_run
    files = sorted((out / "tables").iterdir())
    assert len(files) > 10
    keys = {"data and weights", "date", "commit", "processor", "tensorflow", "threads"}
    missing = [f.name for f in files if set(read_provenance(f)) != keys]
    assert not missing, f"tables without provenance: {missing}"
    assert all("SYNTHETIC" in read_provenance(f)["data and weights"] for f in files)
    html = (out / "report.html").read_text()
    for heading in ("<dt>date</dt>", "<dt>commit</dt>", "<dt>processor</dt>", "<dt>threads</dt>", "<nav>",
                    "id='conclusion'>Conclusion</h2>"):
        assert heading in html, heading
