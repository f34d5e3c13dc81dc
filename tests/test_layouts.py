"""The real BreakHis archive in the layouts users have, from its 7,909 real file names (tiny pixels).

Each tree holds every image of the real archive (1,820 for a 400X-only copy); the index must find
them all with the labels their names carry, whatever the folders, and read the published folds
in both forms, with patient 14-13412 (filed under two subtypes) handled and named.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import archive_trees as at
from bclib.cli import main
from bclib.data.audit import audit
from bclib.data.index import index_breakhis
from bclib.data.splits import make_split, patient_overlap, split_notes
from bclib.errors import UserError

IMAGES = at.archive_names()
EXPECTED = pd.DataFrame(IMAGES).set_index("name")


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    """The official tree with the published-form Folds.csv beside BreaKHis_v1 (read-only)."""
    root = tmp_path_factory.mktemp("archive") / "breakhis"
    at.write_tree(root, IMAGES, at.official_relpath, at.tiny_image())
    at.write_folds_csv(root / "Folds.csv", at.published_folds(IMAGES), at.official_relpath)
    return root


@pytest.fixture(scope="session")
def archive_index(archive):
    return index_breakhis(archive)


def assert_read_in_full(index, images=IMAGES):
    """Every image, once, with the class, subtype, magnification and patient of its name; nothing else."""
    frame = index.frame.assign(name=index.frame["path"].map(lambda p: Path(p).with_suffix(".png").name))
    assert len(frame) == len(images) and frame["name"].is_unique
    expected = EXPECTED.loc[frame["name"]]
    assert (frame["label"].to_numpy() == expected["class"].to_numpy()).all()
    assert (frame["subtype"].to_numpy() == expected["subtype"].to_numpy()).all()
    assert (frame["magnification"].to_numpy() == expected["mag"].to_numpy()).all()
    assert (frame["patient"].to_numpy() == expected["patient"].to_numpy()).all()
    assert frame["patient"].nunique() == len({i["patient"] for i in images})


@pytest.mark.parametrize("level", ["", "BreaKHis_v1", "BreaKHis_v1/histology_slides",
                                   "BreaKHis_v1/histology_slides/breast"])
def test_official_archive_at_every_root_level(archive, archive_index, level):
    index = index_breakhis(archive / level) if level else archive_index
    assert_read_in_full(index)
    assert index.problems == [] and len(index.folds) == 5 * at.N_ARCHIVE
    assert index.fingerprint() == archive_index.fingerprint()  # the root level does not matter
    assert any(at.SHARED_PATIENT in note for note in index.notes)


def relayout(archive: Path, root: Path, relpath) -> Path:
    return at.link_tree(archive, root, IMAGES, relpath)


LAYOUTS = {
    "magnification-first": lambda i: f"BreakHist_Dataset/{i['mag']}/{i['class'].title()}/{i['subtype']}/{i['name']}",
    "subtype-flat": lambda i: f"breast/{i['subtype']}/{i['name']}",
    "class-subtype-magnification": lambda i: f"{i['class']}/{i['subtype']}/{i['mag']}/{i['name']}",
    "class-flat": lambda i: f"data/breakhis/{i['class']}/{i['name']}",
    "flat": lambda i: f"all/{i['name']}",
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_reorganised_copies_are_read_by_file_name(archive, archive_index, tmp_path, layout):
    index = index_breakhis(relayout(archive, tmp_path / layout, LAYOUTS[layout]))
    assert_read_in_full(index)
    assert index.problems == [] and index.folds is None
    assert index.fingerprint() == archive_index.fingerprint()


def test_kaggle_copy_reads_its_folds_for_every_fold(archive, tmp_path, capsys):
    """Kaggle: Folds.csv beside BreaKHis_v1/BreaKHis_v1/, its file names relative to the inner folder."""
    root = tmp_path / "kaggle"
    relayout(archive, root, lambda i: "BreaKHis_v1/" + at.official_relpath(i))
    shutil.copy(archive / "Folds.csv", root / "Folds.csv")
    inner = index_breakhis(root / "BreaKHis_v1/BreaKHis_v1/histology_slides/breast")  # Folds.csv four levels up
    assert inner.problems == [] and len(inner.folds) == 5 * at.N_ARCHIVE
    index = index_breakhis(root)
    assert_read_in_full(index)
    assert index.problems == [] and len(index.folds) == 5 * at.N_ARCHIVE
    for fold in range(1, 6):
        record = audit(index, split="folds", fold=fold)
        assert record["split"]["method"] == "folds" and record["split"]["fold"] == fold
        assert any(at.SHARED_PATIENT in note for note in record["split"]["notes"])
        assert record["published_folds"] == "Folds.csv"
        assert record["n_patients"] == 81 and record["n_patient_folders"] == 82
    out = tmp_path / "audit.json"  # the command a user types, once
    assert main(["audit", "--dataset", "breakhis", "--root", str(root), "--split", "folds",
                 "--fold", "5", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["split"]["fold"] == 5
    assert f"note: fold 5: patient {at.SHARED_PATIENT} is filed twice" in capsys.readouterr().out


def test_dsfold_files_are_the_same_folds(archive, tmp_path):
    root = tmp_path / "ufpr"
    relayout(archive, root, at.official_relpath)
    at.write_dsfolds(root, at.published_folds(IMAGES))
    index = index_breakhis(root)
    assert index.folds_source == ", ".join(f"dsfold{k}.txt" for k in range(1, 6))
    reference = index_breakhis(archive)
    for fold in (1, 4):
        mine, theirs = make_split(index, "folds", fold=fold), make_split(reference, "folds", fold=fold)
        tested = lambda s: set(s.loc[s["part"] == "test", "path"].map(lambda p: Path(p).name))  # noqa: E731
        assert tested(mine) == tested(theirs)


def test_fold_policy_strict_keeps_the_test_set_and_published_says_so(archive):
    index = index_breakhis(archive)
    strict = make_split(index, "folds", fold=1)
    assert all(not shared for shared in patient_overlap(strict).values())
    shared = strict[strict["patient"] == at.SHARED_PATIENT]
    assert (shared.loc[shared["subtype"] == "lobular_carcinoma", "part"] == "test").all()  # as published
    assert (shared.loc[shared["subtype"] == "ductal_carcinoma", "part"] == "unused").all()  # set aside
    assert "fold_policy strict set its 123 training images aside" in split_notes(strict)[0]
    published = make_split(index, "folds", fold=1, fold_policy="published")
    assert patient_overlap(published)["train&test"] | patient_overlap(published)["val&test"] == {at.SHARED_PATIENT}
    assert "on both sides, as published" in split_notes(published)[0]
    published_test = set(published.loc[published["part"] == "test", "path"])
    assert published_test == set(strict.loc[strict["part"] == "test", "path"])


def test_jpeg_copy_with_png_folds(archive, tmp_path):
    root = at.write_tree(tmp_path / "jpeg", IMAGES, at.official_relpath, at.tiny_image("JPEG"), suffix=".jpg")
    shutil.copy(archive / "Folds.csv", root / "Folds.csv")
    index = index_breakhis(root)
    assert_read_in_full(index)
    assert index.problems == [] and len(index.folds) == 5 * at.N_ARCHIVE


def test_symlinked_class_folder_loses_nothing_and_a_loop_ends(archive, tmp_path):
    root = tmp_path / "linked"
    relayout(archive, root, at.official_relpath)
    breast = root / "BreaKHis_v1" / "histology_slides" / "breast"
    elsewhere = tmp_path / "elsewhere" / "malignant"
    shutil.move(breast / "malignant", elsewhere)
    os.symlink(elsewhere, breast / "malignant")
    os.symlink(breast, breast / "benign" / "SOB" / "loop")  # a link back up: walked once, not forever
    index = index_breakhis(root)
    assert_read_in_full(index)
    assert index.problems == []


def test_user_made_train_test_copy_of_one_magnification_is_reported_not_used(archive, tmp_path):
    """`BreaKHis 400X/train|test/<class>/`: 1,820 images; one patient sits in both folders."""
    at400 = [i for i in IMAGES if i["mag"] == "400X"]
    side = {f: ("test" if n % 3 == 0 else "train") for n, f in enumerate(sorted({i["folder"] for i in at400}))}
    leaked = next(f for f, where in side.items() if where == "train")
    place = lambda i: ("test" if i["folder"] == leaked and i["name"].endswith("1.png") else side[i["folder"]])  # noqa
    root = at.link_tree(archive, tmp_path / "copy", at400,
                        lambda i: f"BreaKHis 400X/{place(i)}/{i['class']}/{i['name']}")
    index = index_breakhis(root)
    assert_read_in_full(index, at400)
    assert len(index.frame) == 1820 and index.problems == []
    out = tmp_path / "audit.json"
    assert main(["audit", "--dataset", "breakhis", "--root", str(root), "--split", "patient",
                 "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    folders_of = {}
    for i in at400:
        folders_of.setdefault(i["patient"], set()).add(place(i))
    several = sorted(p for p, sides in folders_of.items() if len(sides) > 1)
    leaked_patient = leaked.split("_", 3)[3]
    assert leaked_patient in several and at.SHARED_PATIENT in several  # its two folders fell apart
    assert record["user_folders"]["patients_in_several"] == several
    assert set(record["user_folders"]["folders"]) == {"train", "test"}
    assert any("user-made folders" in note and "does not use them" in note for note in record["notes"])
    split = make_split(index, "patient")  # bclib's patient split, not the folders'
    assert all(not shared for shared in patient_overlap(split).values())


def test_folder_that_contradicts_the_name_and_foreign_images_are_listed(archive, tmp_path):
    root = relayout(archive, tmp_path / "mixed", LAYOUTS["magnification-first"])
    image = next(i for i in IMAGES if i["subtype"] == "adenosis" and i["mag"] == "40X")
    wrong = root / "BreakHist_Dataset/40X/Benign/fibroadenoma" / image["name"]
    shutil.move(root / LAYOUTS["magnification-first"](image), wrong)
    (root / "scans").mkdir()
    shutil.copy(archive / at.official_relpath(IMAGES[1]), root / "scans" / "IMG_0001.png")
    index = index_breakhis(root)
    problems = {Path(p["path"]).name: p["problem"] for p in index.problems}
    assert len(index.frame) == at.N_ARCHIVE - 1 and len(problems) == 2
    assert problems[image["name"]] == ("folder 'fibroadenoma' says fibroadenoma, the file name says adenosis; "
                                       "skipped")
    assert "is not a BreakHis name" in problems["IMG_0001.png"]


def test_subtype_split_puts_every_subtype_with_three_patients_in_every_part(archive):
    index = index_breakhis(archive, task="subtype")
    patients = index.frame.groupby("label")["patient"].nunique()
    assert patients["phyllodes_tumor"] == 3  # the smallest: still in all three parts
    for seed in range(5):
        split = make_split(index, "patient", seed=seed)
        present = split.groupby("label")["part"].agg(set)
        assert all(present[s] == {"train", "val", "test"} for s in patients.index if patients[s] >= 3), seed
        assert all(not shared for shared in patient_overlap(split).values())


def test_folds_without_a_folds_file_is_one_clear_line(archive, tmp_path, capsys):
    root = relayout(archive, tmp_path / "nofolds", LAYOUTS["flat"])
    assert main(["audit", "--dataset", "breakhis", "--root", str(root), "--split", "folds"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "split folds needs the published folds" in err[0] and "split: cv" in err[0]
    with pytest.raises(UserError, match="no BreakHis dataset here .* none named SOB_"):
        (tmp_path / "other").mkdir()
        shutil.copy(archive / at.official_relpath(IMAGES[0]), tmp_path / "other" / "scan.png")
        index_breakhis(tmp_path / "other")
