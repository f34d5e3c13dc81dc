from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bclib.data.index import DatasetIndex, index_bach, index_breakhis
from bclib.data.splits import image_split, make_split, patient_overlap, split_notes
from bclib.errors import UserError


@pytest.fixture(scope="module")
def breakhis_index(breakhis_root):
    return index_breakhis(breakhis_root)


@pytest.mark.parametrize("seed", range(8))
def test_patient_split_never_shares_patients(breakhis_index, seed):
    split = make_split(breakhis_index, "patient", seed=seed)
    assert all(not shared for shared in patient_overlap(split).values())
    for part in ("train", "val", "test"):
        assert set(split.loc[split["part"] == part, "label"]) == {"benign", "malignant"}
    assert set(split["part"]) == {"train", "val", "test"} and len(split) == len(breakhis_index.frame)


def test_patient_split_is_deterministic_and_seeded(breakhis_index):
    a = make_split(breakhis_index, "patient", seed=3)["part"]
    b = make_split(breakhis_index, "patient", seed=3)["part"]
    c = make_split(breakhis_index, "patient", seed=4)["part"]
    assert a.equals(b) and not a.equals(c)


def test_patient_split_sizes_follow_the_fractions(breakhis_index):
    split = make_split(breakhis_index, "patient", seed=0, val_fraction=0.25, test_fraction=0.25)
    shares = split["part"].value_counts(normalize=True)
    assert abs(shares["test"] - 0.25) < 0.12
    assert abs(shares["val"] - 0.75 * 0.25) < 0.12


def test_folds_split_follows_folds_csv(breakhis_index):
    for fold in (1, 3):
        split = make_split(breakhis_index, "folds", seed=0, fold=fold)
        rows = breakhis_index.folds[breakhis_index.folds["fold"] == fold]
        expected_test = set(rows.loc[rows["grp"] == "test", "path"])
        assert set(split.loc[split["part"] == "test", "path"]) == expected_test
        assert all(not shared for shared in patient_overlap(split).values())
        assert (split["part"] == "val").any()


def test_folds_split_without_folds_file_is_refused_and_cv_cuts_patient_folds(breakhis_copy):
    (breakhis_copy / "Folds.csv").unlink()
    with pytest.raises(UserError, match="split folds needs the published folds .* none was found; split: cv"):
        make_split(index_breakhis(breakhis_copy), "folds", seed=0, fold=2)
    split = make_split(index_breakhis(breakhis_copy), "cv", seed=0, fold=2)  # bclib's own StratifiedGroupKFold
    assert set(split["part"]) == {"train", "val", "test"}
    assert all(not shared for shared in patient_overlap(split).values())
    with pytest.raises(UserError, match="split cv has folds 1-5"):
        make_split(index_breakhis(breakhis_copy), "cv", fold=6)


def test_image_split_is_stratified_and_leaks_patients(breakhis_index):
    split = make_split(breakhis_index, "image", seed=0, val_fraction=0.2, test_fraction=0.2)
    test = split[split["part"] == "test"]
    overall = (split["label"] == "benign").mean()
    assert abs((test["label"] == "benign").mean() - overall) < 0.05
    assert len(patient_overlap(split)["train&test"]) > 0  # the leak the patient split prevents


def test_paper_proportions_reproduce_table2_counts():
    frame = pd.DataFrame({
        "label": ["benign"] * 2480 + ["malignant"] * 5429,
        "relpath": [f"f{i}" for i in range(7909)],
        "patient": "",
    })
    split = image_split(frame, seed=0, val_fraction=0.2, test_fraction=0.2, dataset="breakhis", paper_proportions=True)
    counts = pd.crosstab(frame["label"], split)
    assert counts.loc["benign"].to_dict() == {"train": 1924, "val": 481, "test": 75}
    assert counts.loc["malignant"].to_dict() == {"train": 4274, "val": 1070, "test": 85}


def test_magnification_filter(breakhis_index):
    split = make_split(breakhis_index, "patient", seed=0, magnifications=["40X"])
    assert set(split["magnification"]) == {"40X"} and len(split) == len(breakhis_index.frame) // 4
    with pytest.raises(UserError, match="no images at magnification"):
        make_split(DatasetIndex("breakhis", breakhis_index.root, ["benign", "malignant"],
                                breakhis_index.frame.assign(magnification="40X")), "patient", magnifications=["400X"])


def test_bach_patient_split_follows_eva_s_patient_aware_division(bach_root):
    from bclib.reference import bach_published_sides

    index = index_bach(bach_root)
    split = make_split(index, "patient", seed=0, val_fraction=0.25, test_fraction=0.25)
    sides = bach_published_sides()
    side = [sides[folder][int(Path(path).stem.lstrip("abinsv"))]
            for folder, path in zip(split["subtype"], split["path"])]
    held_out = split["part"].to_numpy() == "test"
    assert (held_out == (np.array(side) == "held_out")).all()  # test = eva's held-out photos, nothing else
    assert set(split["part"]) == {"train", "val", "test"}
    for part in ("train", "test"):
        assert set(split.loc[split["part"] == part, "label"]) == set(index.class_names)
    assert "eva" in split_notes(split)[0] and "may share patients with training" in split_notes(split)[0]
    image = make_split(index, "image", seed=0, val_fraction=0.34, test_fraction=0.25)  # the leak lesson
    assert set(image["part"]) == {"train", "val", "test"}


def test_bach_photos_not_named_as_published_are_refused_for_the_patient_split(bach_copy):
    photo = next((bach_copy / "ICIAR2018_BACH_Challenge" / "Photos" / "Benign").glob("*.tif"))
    photo.rename(photo.with_name("scan_7.tif"))
    with pytest.raises(UserError, match="not named like the published photos .* use split: image"):
        make_split(index_bach(bach_copy), "patient")


def test_unknown_split_is_refused(breakhis_index):
    with pytest.raises(UserError, match="unknown split"):
        make_split(breakhis_index, "random")
    np.testing.assert_equal(len(breakhis_index.frame) > 0, True)


def test_folds_csv_fold_that_shares_a_patient_is_refused(breakhis_copy):
    """A hand-edited (or mis-generated) Folds.csv puts one test patient's 40X images in training."""
    folds_csv = breakhis_copy / "Folds.csv"
    folds = pd.read_csv(folds_csv)
    index = index_breakhis(breakhis_copy)
    test_rows = index.folds[(index.folds["fold"] == 1) & (index.folds["grp"] == "test")]
    patient = index.frame.set_index("path").loc[test_rows["path"].iloc[0], "patient"]
    moved = (folds["fold"] == 1) & folds["filename"].str.contains(f"-{patient}-40-", regex=False)
    assert moved.any()
    folds.loc[moved, "grp"] = "train"
    folds.to_csv(folds_csv, index=False)
    with pytest.raises(UserError, match=f"fold 1 is not patient-disjoint: 1 patient.*{patient}"):
        make_split(index_breakhis(breakhis_copy), "folds", fold=1)
    make_split(index_breakhis(breakhis_copy), "folds", fold=2)  # the other folds are untouched


@pytest.mark.parametrize("method", ["patient", "cv"])
def test_every_magnification_is_tested_on_the_same_patients(breakhis_index, method):
    """Issue #40: patients are split once, on every magnification, then filtered, so the 40X and the 400X
    models of magnification_protocol per_magnification are tested (and validated) on the same patients:
    the unfiltered split's, where the patient has images at that magnification. Some patients here lack
    400X images (as a patient of the real archive may), which changes the groups a filter-first split sees."""
    frame = breakhis_index.frame
    patients = sorted(frame["patient"].unique())
    no_400 = frame["patient"].isin(patients[::3]) & (frame["magnification"] == "400X")
    index = DatasetIndex("breakhis", breakhis_index.root, breakhis_index.class_names,
                         frame[~no_400].reset_index(drop=True))
    for seed, fold in ((0, 1), (1, 3), (2, 5)):
        full = make_split(index, method, seed=seed, fold=fold)

        def patients_in(split, part):
            return set(split.loc[split["part"] == part, "patient"])

        for part in ("val", "test"):
            by_zoom = {}
            for zoom in ("40X", "400X"):
                split = make_split(index, method, seed=seed, fold=fold, magnifications=[zoom])
                assert set(split["magnification"]) == {zoom}
                has_zoom = set(index.frame.loc[index.frame["magnification"] == zoom, "patient"])
                by_zoom[zoom] = patients_in(split, part)
                assert by_zoom[zoom] == patients_in(full, part) & has_zoom, (method, seed, part, zoom)
            assert by_zoom["400X"] == by_zoom["40X"] - set(patients[::3]), (method, seed, part)


def test_accession_grouping_keeps_folders_of_one_accession_number_on_one_side():
    """Issue #40 item 8: BreakHis folders 14-22549AB/CD/G share an accession number; with data.patient_id
    accession they are one patient, so a patient split never puts them on two sides."""
    from bclib.data.index import by_accession
    from bclib.data.records import DatasetIndex
    from bclib.data.splits import make_split

    rows = [{"path": f"/x/{p}/{i}.png", "relpath": f"{p}/{i}.png", "label": label, "subtype": "x",
             "magnification": "40X", "patient": p, "width": 700, "height": 460}
            for k in range(24) for label in [("benign", "malignant")[k % 2]]
            for p in (f"14-{1000 + k}AB", f"14-{1000 + k}CD") for i in range(2)]
    frame = pd.DataFrame(rows)
    frame["label_index"] = (frame["label"] == "malignant").astype("int64")
    frame["user_folder"] = ""
    folders = DatasetIndex("breakhis", Path("/x"), ["benign", "malignant"], frame)
    grouped = by_accession(folders)
    assert grouped.frame["patient"].nunique() == 24 and folders.frame["patient"].nunique() == 48
    assert "24 accession number(s) join several slide folders" in grouped.notes[-1]
    split = make_split(grouped, "patient", 0, 0.2, 0.2)
    sides = split.assign(accession=split["path"].str.split("/").str[2].str[:7]).groupby("accession")["part"]
    assert (sides.nunique() == 1).all()  # every accession on one side
    by_folder = make_split(folders, "patient", 0, 0.2, 0.2)
    crossing = by_folder.assign(accession=by_folder["patient"].str[:7]).groupby("accession")["part"].nunique()
    assert (crossing > 1).any()  # by folder, some accession numbers straddle the split: the check has teeth
