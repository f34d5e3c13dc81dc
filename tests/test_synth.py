import csv
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bclib.data import synth
from bclib.data.layouts import BREAKHIS_SUBTYPES
from bclib.errors import UserError
from helpers import breast_dir, photos_dir

BREAKHIS_PATH = re.compile(
    r"^BreaKHis_v1/histology_slides/breast/(benign|malignant)/SOB/([a-z_]+)/"
    r"SOB_([BM])_([A-Z]+)_(\d+)-([0-9]+[A-Z]*)/(40|100|200|400)X/"
    r"SOB_\3_\4-\5-\6-\7-(\d{3})\.png$"
)


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_breakhis_paths_follow_the_real_layout(breakhis_root):
    pngs = sorted(breakhis_root.rglob("*.png"))
    assert len(pngs) == (sum(synth.DEFAULT_PATIENTS.values()) + 1) * 4  # +1: the shared patient
    for path in pngs:
        match = BREAKHIS_PATH.match(path.relative_to(breakhis_root).as_posix())
        assert match, path
        klass, subtype, letter, code = match.group(1, 2, 3, 4)
        assert BREAKHIS_SUBTYPES[subtype] == (klass, code) and letter == klass[0].upper()
    assert {p.parent.name for p in pngs} == {"40X", "100X", "200X", "400X"}


def test_default_size_is_700_by_460_rgb(tmp_path):
    root = synth.make_breakhis(tmp_path / "d", patients_per_subtype={"adenosis": 1, "ductal_carcinoma": 1}, workers=1)
    for path in root.rglob("*.png"):
        with Image.open(path) as image:
            assert image.size == (700, 460) and image.mode == "RGB"


def test_one_patient_is_filed_under_two_subtypes(breakhis_root):
    slides = [p.name for p in breast_dir(breakhis_root).glob("*/SOB/*/*")]
    patients = [name.split("_", 3)[3] for name in slides]
    shared = {p for p in patients if patients.count(p) > 1}
    assert len(shared) == 1
    subtypes = {p.parent.name for p in breast_dir(breakhis_root).glob(f"*/SOB/*/*{shared.pop()}")}
    assert subtypes == {"ductal_carcinoma", "lobular_carcinoma"}


def test_class_balance_is_close_to_the_real_one(breakhis_root):
    pngs = list(breakhis_root.rglob("*.png"))
    benign = sum("/benign/" in p.as_posix() for p in pngs)
    assert 0.27 <= benign / len(pngs) <= 0.36  # real BreakHis: 2480 / 7909 = 31%


def test_folds_csv_is_patient_wise_and_complete(breakhis_root):
    with open(breakhis_root / "Folds.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["fold", "mag", "grp", "filename"]
    images = {p.relative_to(breakhis_root).as_posix() for p in breakhis_root.rglob("*.png")}
    for fold in "12345":
        fold_rows = [r for r in rows if r["fold"] == fold]
        assert {r["filename"] for r in fold_rows} == images and len(fold_rows) == len(images)
        assert {r["grp"] for r in fold_rows} == {"train", "test"}
        def patient(r):
            return "-".join(Path(r["filename"]).name.split("-")[1:3])
        train = {patient(r) for r in fold_rows if r["grp"] == "train"}
        test = {patient(r) for r in fold_rows if r["grp"] == "test"}
        # Folders are assigned, as in the published folds: the patient filed under two subtypes has one
        # folder on each side of every fold (like 14-13412 in the published fold 1); nobody else is shared.
        folder = lambda r: Path(r["filename"]).parent.parent.name  # noqa: E731
        shared = train & test
        assert len(shared) == 1
        sides = {(folder(r), r["grp"]) for r in fold_rows if patient(r) in shared}
        assert len(sides) == 2 and len({f for f, _ in sides}) == 2
        assert all(r["mag"] + "X" == Path(r["filename"]).parent.name for r in fold_rows)


def test_bach_layout_and_ground_truth(bach_root):
    photos = photos_dir(bach_root)
    names = {folder: sorted(p.name for p in (photos / folder).glob("*.tif")) for folder in synth.BACH_FOLDERS}
    # Numbered like the real photos, a third from the numbers eva's patient-aware division holds out.
    assert names["Benign"] == ["b001.tif", "b026.tif", "b042.tif", "b100.tif"]
    assert names["InSitu"][0] == "is001.tif" and names["Invasive"][0] == "iv001.tif"
    assert names["Normal"][0] == "n001.tif"
    from bclib.reference import bach_published_sides
    for folder, files in names.items():
        sides = [bach_published_sides()[folder][int(name.split(".")[0].lstrip("abinsv"))] for name in files]
        assert sides.count("held_out") == 1 and sides.count("train") == 3
    with open(photos / "microscopy_ground_truth.csv") as fh:
        truth = list(csv.reader(fh))
    assert len(truth) == 16 and truth[0] == ["n001.tif", "Normal"]  # no header line
    assert {label for _, label in truth} == {"Normal", "Benign", "InSitu", "Invasive"}
    with Image.open(photos / "Benign" / "b001.tif") as image:
        assert image.format == "TIFF" and image.size == (64, 48) and image.mode == "RGB"


def test_generation_is_deterministic(tmp_path, breakhis_root):
    again = synth.make_breakhis(tmp_path / "again", seed=0, images_per_magnification=1, size=(96, 64), workers=2)
    assert tree_digest(again) == tree_digest(breakhis_root)
    other = synth.make_breakhis(tmp_path / "other", seed=1, images_per_magnification=1, size=(96, 64), workers=1)
    assert tree_digest(other) != tree_digest(breakhis_root)


def test_idempotent_and_careful_with_foreign_folders(tmp_path, breakhis_root):
    marker = breakhis_root / synth.MARKER
    before = marker.stat().st_mtime_ns
    synth.make_breakhis(breakhis_root, seed=0)  # already complete: nothing is rewritten
    assert marker.stat().st_mtime_ns == before
    assert json.loads(marker.read_text())["layout"] == "breakhis"
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a bclib synthetic dataset"):
        synth.make_breakhis(foreign)
    assert (foreign / "precious.txt").read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mine")]  # no temporary folder left


def _tile_features(path: Path) -> list[float]:
    """Colour and texture summary of one tile, and its share of dark (nuclear) pixels last."""
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=float) / 255
    pixels = rgb.reshape(-1, 3)
    grey = rgb.mean(-1)
    gradient = np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()
    return [*pixels.mean(0), *pixels.std(0), *np.percentile(pixels, [10, 50, 90], axis=0).ravel(),
            (grey > 0.85).mean(), gradient, (grey < 0.45).mean()]


@pytest.fixture(scope="module")
def tile_table(breakhis_root):
    paths = sorted(breakhis_root.rglob("*.png"))
    features = np.array([_tile_features(p) for p in paths])
    malignant = np.array(["/malignant/" in p.as_posix() for p in paths])
    patients = np.array(["-".join(p.name.split("-")[1:3]) for p in paths])
    return features, malignant, patients


def _cv_correct(features, labels, groups=None) -> np.ndarray:
    """Per-tile correctness under 5-fold cross-validation of an RBF support-vector classifier;
    folds keep patients together when ``groups`` is given."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if groups is None:
        folds = StratifiedKFold(5, shuffle=True, random_state=0).split(features, labels)
    else:
        folds = StratifiedGroupKFold(5, shuffle=True, random_state=0).split(features, labels, groups)
    right = np.zeros(len(labels), bool)
    for train, test in folds:
        model = make_pipeline(StandardScaler(), SVC(C=3.0)).fit(features[train], labels[train])
        right[test] = model.predict(features[test]) == labels[test]
    return right


def _cv_accuracy(features, labels, groups=None) -> float:
    return float(_cv_correct(features, labels, groups).mean())


def test_malignant_tiles_carry_more_dark_nuclei_but_overlap(tile_table):
    features, malignant, _ = tile_table
    dark = features[:, -1]
    assert dark[malignant].mean() > 2 * dark[~malignant].mean()
    # ...but the classes overlap: many benign tiles are darker than a typical malignant one.
    assert np.mean(dark[~malignant] > np.median(dark[malignant])) > 0.05


def test_class_is_not_trivially_separable_on_new_patients(tile_table):
    """Colour and texture statistics do not solve the task for patients never seen in training."""
    features, malignant, patients = tile_table
    assert _cv_accuracy(features, malignant, groups=patients) < 0.85


def test_image_split_beats_patient_split(tile_table):
    """The demo's central lesson: letting a patient's photos into both training and test inflates accuracy,
    by more than the patients' own variation can explain (the gap's patient-bootstrap interval excludes zero)."""
    import pandas as pd

    from bclib.evaluation import statistic, two_sample_bootstrap

    features, malignant, patients = tile_table

    def predictions(right):
        return pd.DataFrame({"patient": patients, "label": "m", "pred": np.where(right, "m", "b")})

    gap = two_sample_bootstrap(predictions(_cv_correct(features, malignant)),
                               predictions(_cv_correct(features, malignant, groups=patients)),
                               statistic("accuracy", ["b", "m"]), n_resamples=1000)
    assert gap["difference"] > 0.1
    assert gap["low"] > 0


def test_patients_have_a_recognisable_stain_signature(breakhis_root):
    """Nearest neighbour on colour statistics finds the same patient far above chance: image splits leak."""
    paths = sorted(breakhis_root.rglob("*.png"))
    feats, patients = [], []
    for path in paths:
        pixels = np.asarray(Image.open(path), dtype=float).reshape(-1, 3)
        feats.append(np.r_[np.percentile(pixels, [50, 90], axis=0).ravel()])
        patients.append("-".join(path.name.split("-")[1:3]))
    feats = np.array(feats)
    feats = (feats - feats.mean(0)) / feats.std(0)
    dist = ((feats[:, None] - feats[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    hits = np.mean([patients[i] == patients[j] for i, j in enumerate(dist.argmin(1))])
    chance = 1 / len(set(patients))
    assert hits > 5 * chance


def test_rehearsal_archive_is_the_real_archive_s_folders_and_counts(monkeypatch, tmp_path):
    """Planned, not drawn (drawing 7,909 tiles takes tens of minutes): every real folder, name and count."""
    from collections import Counter

    import bclib.data.synth.archive as archive
    from bclib.reference import archive_table3, breakhis_archive_counts

    planned = []
    monkeypatch.setattr(archive, "_run_jobs", lambda jobs, workers: planned.extend(jobs))
    monkeypatch.setattr(archive, "_write_folds", lambda *args: None)
    monkeypatch.setattr(archive, "_finish", lambda *args: None)
    archive.make_breakhis_rehearsal(tmp_path / "rehearsal")
    assert len(planned) == 7909
    folders = Counter((job[5].parent.parent.name, f"{job[5].parent.name}") for job in planned)
    real = breakhis_archive_counts()
    assert folders == {(f, m): n for f, m, n in zip(real["patient_folder"], real["magnification"], real["images"])}
    assert len({f for f, _ in folders}) == 82 and len({job[3] for job in planned}) == 81  # 14-13412 twice
    table = archive_table3()
    counts = Counter((job[0], job[4][4]) for job in planned)
    for subtype in table.index.drop("Total"):
        for mag in ("40X", "100X", "200X", "400X"):
            assert counts[(subtype, int(mag[:-1]))] == table.loc[subtype, mag]
    assert table.loc["phyllodes_tumor", "Total"] == 453 and table.loc["tubular_adenoma", "Total"] == 569
    names = {job[5].name for job in planned}
    assert "SOB_M_LC-14-13412-40-032.png" in names and "SOB_B_A-14-22549AB-40-029.png" in names
