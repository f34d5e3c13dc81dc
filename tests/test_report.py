"""Notebook 05's building blocks: Grad-CAM, the report tables beside the paper, report files, `bclib predict`."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from bclib.evaluation.gradcam import gradcam, overlay  # noqa: E402
from bclib.evaluation.loading import Run, load_run  # noqa: E402
from bclib.evaluation.report import Report  # noqa: E402
from bclib.evaluation.run_tables import (  # noqa: E402
    accuracy_beside_table14,
    encoders_beside_models,
    leakage_shown,
    leakage_table,
    mcnemar_table,
    over_seeds,
    paired_table,
    patient_rates_table,
    per_class_beside_paper,
    run_scores,
    stain_ablation_table,
    with_interval,
    with_spread,
)
from bclib.evaluation.selection import (  # noqa: E402
    best_run,
    choose_on_validation,
    comparison_pairs,
    validation_score,
)
from helpers import bomb_png, write_png  # noqa: E402

# -- Grad-CAM ------------------------------------------------------------------------


def _brightness_model(weight_for_class_0: float):
    """trunk: mean brightness per 4x4 cell (one channel); top: average pooling -> dense over 2 classes."""
    image = keras.Input((16, 16, 3))
    trunk_in = keras.Input((16, 16, 3))
    cells = keras.layers.AveragePooling2D(4)(trunk_in)
    brightness = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer=keras.initializers.Constant(1 / 3))(cells)
    trunk = keras.Model(trunk_in, brightness, name="trunk")
    top_in = keras.Input((4, 4, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(top_in)
    dense = keras.layers.Dense(2, activation="softmax", kernel_initializer=keras.initializers.Constant(
        [[weight_for_class_0, -weight_for_class_0]]), bias_initializer="zeros")(pooled)
    top = keras.Model(top_in, dense, name="top")
    return keras.Model(image, top(trunk(image)))


def test_gradcam_points_at_the_region_that_raises_the_class_score():
    images = np.zeros((1, 16, 16, 3), np.float32)
    images[0, :8, :8] = 1.0  # a bright top-left quadrant
    heat, probabilities = gradcam(_brightness_model(0.5), images, class_index=np.array([0]))
    assert heat.shape == (1, 16, 16) and heat.max() == pytest.approx(1.0)
    assert heat[0, :6, :6].mean() > 0.8 and heat[0, 10:, 10:].max() < 0.05
    # Brightness lowers class 1's score: its map has no positive evidence anywhere.
    heat_other, _ = gradcam(_brightness_model(0.5), images, class_index=np.array([1]))
    assert heat_other.max() == 0.0
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)


def test_overlay_blends_in_uint8():
    image = np.full((8, 8, 3), 200, np.float32)
    blended = overlay(image, np.zeros((8, 8)), alpha=0.5)
    assert blended.dtype == np.uint8 and blended.shape == (8, 8, 3)
    # heat 0 is jet's darkest blue (0, 0, 127.5): half of 200 plus half of it, channel by channel
    np.testing.assert_array_equal(blended[0, 0], [100, 100, 163])
    hot = overlay(image, np.ones((8, 8)), alpha=0.5)[0, 0]  # heat 1 is jet's dark red (127.5, 0, 0)
    np.testing.assert_array_equal(hot, [163, 100, 100])
    np.testing.assert_array_equal(overlay(image, np.zeros((8, 8)), alpha=0.0), image.astype(np.uint8))


# -- report tables ---------------------------------------------------------------------


def _run(model, variant, seed, split, correct, classes=("benign", "malignant")):
    """A fake run of 8 test images of 4 patients; ``correct`` says which predictions are right."""
    labels = ["benign", "benign", "malignant", "malignant"] * 2
    preds = [label if ok else ("malignant" if label == "benign" else "benign") for label, ok in zip(labels, correct)]
    frame = pd.DataFrame({"path": [f"img{i}.png" for i in range(8)],
                          "patient": ["p1", "p1", "p2", "p2", "p3", "p3", "p4", "p4"],
                          "magnification": ["40X", "100X"] * 4, "label": labels, "pred": preds})
    frame["p_malignant"] = [0.9 if p == "malignant" else 0.1 for p in preds]
    frame["p_benign"] = 1 - frame["p_malignant"]
    record = {"model": model, "variant": variant, "seed": seed, "split": split, "classes": list(classes)}
    return Run(Path("."), record, frame)


def test_run_scores_give_intervals_around_each_estimate_and_seed_means():
    runs = [_run("proposed", "none", s, "patient", [True] * 7 + [False]) for s in (0, 1)]
    scores = run_scores(runs, n_resamples=200)
    assert list(scores["accuracy"]) == [0.875, 0.875]
    assert (scores["accuracy_low"] <= scores["accuracy"]).all()
    assert (scores["accuracy"] <= scores["accuracy_high"]).all()
    assert scores["patient_level_rate"].iloc[0] == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    summary = over_seeds(scores)
    assert summary.loc[("proposed", "none", "patient"), "accuracy_mean"] == 0.875
    assert summary.loc[("proposed", "none", "patient"), "accuracy_std"] == 0.0
    table14 = accuracy_beside_table14(summary, "breakhis")
    assert table14.loc["none", "our_accuracy_%"] == 87.5 and table14.loc["none", "paper_accuracy_%"] == 98.8
    assert np.isnan(table14.loc["cwgan", "paper_accuracy_%"])  # the paper has no cWGAN-only row
    assert "our_low_%" not in table14  # two seeds: their spread, not one run's interval
    one_seed = run_scores(runs[:1], n_resamples=200)
    beside = accuracy_beside_table14(over_seeds(one_seed), "breakhis", one_seed)
    assert beside.loc["none", "our_low_%"] == 100 * one_seed["accuracy_low"].iloc[0]
    assert beside.loc["none", "our_low_%"] <= 87.5 <= beside.loc["none", "our_high_%"]


def test_a_run_that_calls_every_test_patient_one_class_is_flagged_with_the_majority_share():
    # patients p1, p3 benign, p2, p4 malignant; "all malignant" = right on p2 and p4, wrong on p1 and p3
    always_malignant = _run("proposed", "none", 0, "patient", [False, False, True, True] * 2)
    mostly_malignant = _run("proposed", "none", 1, "patient", [True, True, True, True, False, False, True, True])
    learns = _run("proposed", "none", 2, "patient", [True] * 8)
    scores = run_scores([always_malignant, mostly_malignant, learns], n_resamples=50)
    assert list(scores["one_class"]) == [True, False, False]
    assert list(scores["majority_share"]) == [0.5, 0.5, 0.5]
    assert scores["balanced_accuracy"].iloc[0] == 0.5
    shown = with_interval(scores)
    assert shown["warning"].iloc[0].startswith("ONE CLASS") and shown["warning"].iloc[2] == ""


def test_per_class_table_sits_beside_the_papers_row_for_the_same_model():
    table = per_class_beside_paper(_run("densenet201", "none", 0, "patient", [True] * 8), "breakhis")
    assert list(table.index) == ["benign", "malignant", "Average"]
    assert table.loc["benign", ("TP", "paper")] == 72 and table.loc["benign", ("TP", "ours")] == 4
    assert list(table.columns[:3]) == [("TP", "ours"), ("TP", "ours sd"), ("TP", "paper")]  # beside the paper's
    no_row = per_class_beside_paper(_run("proposed", "cwgan", 0, "patient", [True] * 8), "breakhis")
    assert no_row.xs("paper", axis=1, level=1).isna().all().all()


def test_leakage_and_mcnemar_tables():
    patient = run_scores([_run("mobilenet", "none", 0, "patient", [True] * 6 + [False] * 2)], n_resamples=50)
    image = run_scores([_run("mobilenet", "none", 0, "image", [True] * 8)], n_resamples=50)
    gap = leakage_table(patient, image)
    assert gap["gap_image_minus_patient"].iloc[0] == pytest.approx(0.25) and "gap_low" not in gap
    runs = [_run("mobilenet", "none", 0, "patient", [True] * 6 + [False] * 2),
            _run("mobilenet", "none", 0, "image", [True] * 8)]
    gap = leakage_table(patient, image, runs, n_resamples=200)
    assert gap["gap_low"].iloc[0] <= 0.25 <= gap["gap_high"].iloc[0]
    assert gap["gap_high"].iloc[0] <= 1.0 and gap["gap_low"].iloc[0] >= 0.0  # the image run is always right
    shown = leakage_shown(gap)
    assert shown["patient split"].iloc[0].startswith("0.750 [")
    assert shown["image split"].iloc[0] == "1.000 [1.000, 1.000]"
    assert shown["gap (image - patient)"].iloc[0].startswith("+0.250 [+")
    a = _run("a", "none", 0, "patient", [True] * 8)
    b = _run("b", "none", 0, "patient", [True] * 4 + [False] * 4)
    result = mcnemar_table({"a": a, "b": b}, [("a", "b")])  # on patients: p3 and p4 are wrong in b
    assert result["units"].iloc[0] == 4 and result["only_a_correct"].iloc[0] == 2
    assert result["p_value"].iloc[0] == pytest.approx(0.5)
    b.predictions["path"] = b.predictions["path"][::-1].to_numpy()
    with pytest.raises(ValueError, match="same test images"):
        mcnemar_table({"a": a, "b": b}, [("a", "b")])


def _validated(run, val_accuracy, val_loss=0.4):
    """Give a fake run a history: the lowest validation loss (kept weights) is at epoch 2."""
    run.history = pd.DataFrame({"epoch": [1, 2, 3], "stage": 1, "loss": [1.0, 0.5, 0.3],
                                "val_loss": [0.9, val_loss, val_loss + 0.2],
                                "val_accuracy": [0.5, val_accuracy, 0.99]})
    return run


def test_best_baseline_is_chosen_on_validation_even_when_test_disagrees():
    """DenseNet is better on test, MobileNet on validation: the report must show MobileNet."""
    half = [True, True, True, True, True, True, False, False]
    runs = [_validated(_run("proposed", "tradaug+cwgan", s, "patient", [True] * 8), 0.7) for s in (0, 1)]
    runs += [_validated(_run("densenet201", "none", s, "patient", [True] * 8), 0.6) for s in (0, 1)]
    runs += [_validated(_run("mobilenet", "none", 0, "patient", half), 0.8),
             _validated(_run("mobilenet", "none", 1, "patient", [True] * 7 + [False]), 0.85)]
    assert validation_score(runs[-1]) == {"val_loss": 0.4, "val_accuracy": 0.85, "epoch": 2}  # not epoch 3's 0.99
    choice = choose_on_validation(runs, proposed=False)
    assert choice.name == "mobilenet/none" and [r.record["seed"] for r in choice.runs] == [0, 1]
    assert "validation accuracy" in choice.rule and choice.best_seed.record["seed"] == 1
    assert best_run(runs, proposed=False) is choice.best_seed
    assert ("proposed/tradaug+cwgan/seed-0", "mobilenet/none/seed-0") in comparison_pairs(runs)
    table = per_class_beside_paper(choice.runs, "breakhis")  # mean and sd over the two seeds
    assert table.loc["benign", ("TP", "ours")] == 4 and table.loc["malignant", ("TP", "ours")] == 2.5
    assert table.loc["malignant", ("TP", "ours sd")] == pytest.approx(np.std([2, 3], ddof=1))
    spread = with_spread(over_seeds(run_scores(choice.runs, n_resamples=20)))
    assert spread.loc[("mobilenet", "none", "patient"), "accuracy"] == "0.812 ± 0.088"


def test_proposed_gap_is_compared_with_proposed_and_never_picked_as_the_best_baseline():
    """Table 6 read literally (proposed-gap) is the other reading of the fusion model, not a baseline."""
    runs = [_validated(_run("proposed", v, 0, "patient", [True] * 8), 0.7) for v in ("none", "tradaug+cwgan")]
    runs += [_validated(_run("proposed-gap", v, 0, "patient", [True] * 8), 0.95) for v in ("none", "tradaug+cwgan")]
    runs += [_validated(_run("mobilenet", "none", 0, "patient", [True] * 6 + [False] * 2), 0.6)]
    assert choose_on_validation(runs, proposed=False).name == "mobilenet/none"  # despite gap's 0.95
    assert choose_on_validation(runs, proposed=True).name == "proposed/tradaug+cwgan"
    pairs = comparison_pairs(runs)
    assert ("proposed/none/seed-0", "proposed-gap/none/seed-0") in pairs
    assert ("proposed/tradaug+cwgan/seed-0", "proposed-gap/tradaug+cwgan/seed-0") in pairs


def test_stain_ablation_pairs_each_normalised_run_with_the_same_run_without():
    plain = _run("proposed", "none", 0, "patient", [True] * 6 + [False] * 2)
    normalised = _run("proposed", "none", 0, "patient", [True] * 8)
    normalised.record["params"] = {"data": {"stain_normalization": "macenko"}}
    other_seed = _run("proposed", "none", 1, "patient", [True] * 8)  # no partner: left out
    other_seed.record["params"] = {"data": {"stain_normalization": "macenko"}}
    assert normalised.name == "proposed/none/seed-0 [macenko]" and plain.name == "proposed/none/seed-0"
    table = stain_ablation_table([plain], [normalised, other_seed], n_resamples=100)
    assert list(table["a"]) == ["proposed/none/seed-0 [macenko]"] and list(table["b"]) == ["proposed/none/seed-0"]
    assert table["difference"].iloc[0] == pytest.approx(0.25)  # p4's two images go right with normalisation
    assert table["low"].iloc[0] <= 0.25 <= table["high"].iloc[0]


def test_paired_table_and_patient_rates_per_magnification():
    a = _run("a", "none", 0, "patient", [True] * 8)
    b = _run("b", "none", 0, "patient", [True] * 6 + [False] * 2)  # b wrong on both images of p4
    table = paired_table({"a": a, "b": b}, [("a", "b")], n_resamples=400)
    row = table.iloc[0]
    assert row["difference"] == pytest.approx(0.25) and row["units"] == 4
    assert row["low"] == 0.0 and row["only_a_correct"] == 1 and row["mcnemar_p"] == 1.0
    rates = patient_rates_table([b])
    assert list(rates.index) == ["40X", "100X", "all"] and rates.loc["all", b.name] == pytest.approx(0.75)


def test_report_writes_markdown_and_html_with_tables_and_figures(tmp_path):
    (tmp_path / "figures").mkdir()
    png = write_png(tmp_path / "figures" / "f.png", np.zeros((8, 8, 3), np.uint8))
    report = Report("Title", "SYNTHETIC data | UNTRAINED backbones")
    report.text("Section", "First paragraph.\n\nSecond <paragraph>.")
    report.table("A table", pd.DataFrame({"x": [0.12345], "count": [47.0], "sd": [np.nan]}), "a_table",
                 rows="one row per run")
    with pytest.raises(ValueError, match="how its rows were chosen"):
        report.table("Unexplained", pd.DataFrame({"x": [1]}), rows="")
    report.figure("A figure", png)
    md, page = report.write(tmp_path)
    text = md.read_text()
    assert "> data and weights: SYNTHETIC data" in text and "| 0.123 |" in text
    assert "![A figure](figures/f.png)" in text
    assert "(`tables/a_table.csv`) - our side: SYNTHETIC data | UNTRAINED backbones" in text  # every table says
    assert "*Rows: one row per run*" in text
    html = page.read_text()
    assert "Rows: one row per run" in html and "<table" in html
    assert "Second &lt;paragraph&gt;." in html
    import base64

    embedded = "src='data:image/png;base64," + base64.b64encode(png.read_bytes()).decode() + "' alt='A figure'"
    assert embedded in html  # report.html opened on its own shows the figure
    assert " 47 |" in text and "47.000" not in text + html and "sd" not in text  # counts as integers, empty sd left out


def test_the_report_says_when_where_and_from_which_commit_and_has_contents_and_a_conclusion(tmp_path):
    from bclib.provenance import git_commit, processor_name

    report = Report("Title", "SYNTHETIC data")
    report.text("The split", "Who is tested.")
    report.text("Leakage", "How much an image split flatters.")
    report.conclude(["The image split flatters a memorising classifier.", ""])
    md, page = report.write(tmp_path)
    html, text = page.read_text(), md.read_text()
    for key, value in (("commit", git_commit()["commit"][:10]), ("processor", processor_name())):
        assert f"<dt>{key}</dt><dd>{value}" in html and f"{key}: {value}" in text
    assert "<dt>date</dt>" in html and "<dt>threads</dt>" in html and "<dt>tensorflow</dt>" in html
    assert "<a href='#the-split'>The split</a>" in html and "id='the-split'" in html  # contents link to sections
    assert "1. [The split](#the-split)" in text and "3. [Conclusion](#conclusion)" in text
    assert html.index("id='conclusion'") > html.index("id='leakage'")  # the conclusion comes last
    assert "<li>The image split flatters a memorising classifier.</li>" in html and "<li></li>" not in html


def test_the_per_class_average_row_shows_blank_counts_not_missing_markers(tmp_path):
    report = Report("Title", "SYNTHETIC data")
    table = per_class_beside_paper(_run("densenet201", "none", 0, "patient", [True] * 8), "breakhis")
    report.table("Per class", table, rows="one run")
    md, page = report.write(tmp_path)
    text, html = md.read_text(), page.read_text()
    assert "<NA>" not in text and "&lt;NA&gt;" not in html and " nan " not in text.lower() + html.lower()
    cells = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:]] for line in text.splitlines()
             if line.startswith("| benign") or line.startswith("| Average")}
    assert cells["benign"][0] == "4" and cells["Average"][0] == ""  # TP (ours): an integer; none on the Average row


# -- bclib predict ----------------------------------------------------------------------


def test_predict_on_a_saved_model_scores_good_images_and_names_bad_ones(trained_run, tmp_path):
    run = trained_run / "run"
    test_images = pd.read_csv(run / "predictions.csv")
    good = list(test_images["path"].iloc[:2])
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    huge = bomb_png(tmp_path / "huge.png")  # a decompression-bomb header: refused before decoding
    bclib = Path(sys.executable).with_name("bclib")
    result = subprocess.run([str(bclib), "predict", "--model", str(run / "model.keras"), *good, str(bad), str(huge),
                             "--json", str(tmp_path / "out.json"), "--gradcam", str(tmp_path / "cam")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr  # some images failed, the others were predicted
    assert f"{bad}: not a readable image" in result.stderr and "Traceback" not in result.stderr
    records = json.loads((tmp_path / "out.json").read_text())
    assert [r["path"] for r in records] == good + [str(bad), str(huge)]
    for record, (_, row) in zip(records[:2], test_images.iloc[:2].iterrows()):
        assert record["pred"] == row["pred"]  # same preprocessing as training's test predictions
        assert record["p_malignant"] == pytest.approx(row["p_malignant"], abs=1e-4)
        assert Path(record["gradcam"]).is_file()
    assert records[2] == {"path": str(bad), "error": "not a readable image (unknown or corrupt format)"}
    assert "too large" in records[3]["error"]


def test_predict_refuses_a_file_that_is_not_a_model(tmp_path):
    fake = tmp_path / "model.keras"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    bclib = Path(sys.executable).with_name("bclib")
    result = subprocess.run([str(bclib), "predict", "--model", str(fake), "x.png"], capture_output=True, text=True,
                            timeout=120)
    last = result.stderr.strip().splitlines()[-1]  # TensorFlow may log above it
    assert result.returncode == 2 and last.startswith(f"bclib: error: {fake}: the model file is damaged or incomplete")
    assert "Traceback" not in result.stderr


def test_load_run_reads_patient_ids_as_text(tmp_path):
    frame = _run("m", "none", 0, "patient", [True] * 8).predictions.assign(patient="0012")
    frame.to_csv(tmp_path / "predictions.csv", index=False)
    (tmp_path / "run.json").write_text(json.dumps({"model": "m", "variant": "none", "seed": 0, "split": "patient",
                                                   "classes": ["benign", "malignant"]}))
    assert load_run(tmp_path).predictions["patient"].iloc[0] == "0012"


def test_split_description_names_the_fold_policy_and_each_recorded_note_once():
    from bclib.evaluation.loading import Run, split_description

    note = "fold 2: patient 14-13412 is filed twice ...; fold_policy strict set its 95 training images aside"
    runs = [Run(Path(f"r{k}"), {"split": "folds", "split_notes": [note] if k else []}, pd.DataFrame())
            for k in range(3)]
    assert split_description(runs, "folds", "strict") == [
        "Split: folds (the published folds, fold_policy strict).", note]
    assert split_description(runs[:1], "patient", "strict") == ["Split: patient."]


def test_an_encoder_is_never_the_best_baseline_but_is_chosen_and_compared_on_its_own():
    """A foundation encoder answers another question: it has its own validation choice and its own pair."""
    runs = [_validated(_run("proposed", "tradaug+cwgan", 0, "patient", [True] * 8), 0.7)]
    runs += [_validated(_run("mobilenet", "none", 0, "patient", [True] * 6 + [False] * 2), 0.6)]
    runs += [_validated(_run("phikon-v2", "none", 0, "patient", [True] * 8), 0.95),
             _validated(_run("phikon-v2-head", "none", 0, "patient", [True] * 8), 0.9, val_loss=0.3)]
    assert choose_on_validation(runs, proposed=False).name == "mobilenet/none"  # despite phikon's 0.95
    encoder = choose_on_validation(runs, proposed=False, encoders=True)
    assert encoder.name == "phikon-v2/none" and "best encoder" in encoder.rule
    pairs = comparison_pairs(runs)
    assert pairs[-2:] == [("proposed/tradaug+cwgan/seed-0", "mobilenet/none/seed-0"),
                          ("proposed/tradaug+cwgan/seed-0", "phikon-v2/none/seed-0")]


def test_encoders_are_shown_beside_the_headline_and_the_best_baseline_with_eva_as_reference():
    runs = [_validated(_run("proposed", "tradaug+cwgan", 0, "patient", [True] * 8), 0.7)]
    runs += [_validated(_run("mobilenet", "none", 0, "patient", [True] * 6 + [False] * 2), 0.6),
             _validated(_run("densenet201", "none", 0, "patient", [True] * 4 + [False] * 4), 0.5)]
    runs += [_validated(_run("phikon-v2", "none", 0, "patient", [True] * 7 + [False]), 0.9)]
    table = encoders_beside_models(run_scores(runs, n_resamples=20), runs, "breakhis")
    assert list(table["model"]) == ["proposed", "mobilenet", "phikon-v2"]  # densenet201 was not chosen
    assert table["eva_probe_balanced_accuracy"].tolist()[2] == 0.713  # eva's leaderboard, owkin_phikon_v2
    assert pd.isna(table["eva_probe_balanced_accuracy"].tolist()[0])
    assert table["balanced_accuracy"].str.match(r"^\d\.\d{3} \[").all()


def test_report_tables_have_reader_headers_no_row_numbers_and_no_nan(tmp_path):
    report = Report("Title", "SYNTHETIC data")
    report.table("Scores", pd.DataFrame({"balanced_accuracy": [0.71234, np.nan], "model": ["a", "b"]}),
                 rows="one row per run")
    md, page = report.write(tmp_path)
    text, html = md.read_text(), page.read_text()
    assert "balanced accuracy" in text and "balanced accuracy" in html
    assert "balanced_accuracy" not in text + html and "nan" not in text.lower() + html.lower()
    assert "0.712" in text and "0.712" in html and "0.71234" not in html
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    assert table_lines[2].split("|")[1].strip() == "0.712"  # the first column is the data, not a row number 0


def test_a_one_row_table_read_back_from_its_file_shows_no_row_number(tmp_path):
    """A saved table read with index_col=0 has row numbers 0..n-1; pandas makes that a RangeIndex for two rows
    but a plain Index for one, and the report showed an 'index' column for the one-row batch sweep."""
    from bclib.tablefile import read_table, write_table

    write_table(pd.DataFrame({"kimg": [0.08], "FID": [1051.6]}), tmp_path / "one.csv", "SYNTHETIC data")
    table = read_table(tmp_path / "one.csv", index_col=0)
    report = Report("Title", "SYNTHETIC data")
    report.table("Sweep", table, rows="one row per batch size")
    header = next(line for line in report.write(tmp_path)[0].read_text().splitlines() if line.startswith("|"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == ["kimg", "FID"]
