import re
import shutil

import numpy as np
import pytest
from PIL import Image

from bclib.data import synth
from bclib.data.images import load_rgb
from bclib.data.index import index_bach, index_breakhis, index_dataset
from bclib.errors import UserError
from helpers import bomb_png, breast_dir, first_image, photos_dir, tissue_like, truncate, write_png

N_BREAKHIS = (sum(synth.DEFAULT_PATIENTS.values()) + 1) * 4


def problems_by_name(index):
    return {p["path"].rsplit("/", 1)[-1]: p["problem"] for p in index.problems}


def test_breakhis_index_counts_labels_and_patients(breakhis_root):
    index = index_breakhis(breakhis_root)
    frame = index.frame
    assert len(frame) == N_BREAKHIS and index.problems == [] and index.synthetic
    assert frame["patient"].nunique() == sum(synth.DEFAULT_PATIENTS.values())
    assert set(frame["magnification"]) == {"40X", "100X", "200X", "400X"}
    assert frame["patient"].str.fullmatch(r"1[34]-\d+[A-Z]*").all()
    row = frame.iloc[0]
    name = row["relpath"].rsplit("/", 1)[-1]  # SOB_B_A-14-22549AB-40-001.png
    _, year, slide, mag, _ = name.split("-")
    assert row["patient"] == f"{year}-{slide}" and row["magnification"] == f"{mag}X"
    benign_patients = sum(n for s, n in synth.DEFAULT_PATIENTS.items() if synth.BREAKHIS_SUBTYPES[s][0] == "benign")
    assert (frame["label"] == "benign").sum() == benign_patients * 4
    assert list(frame.columns[:7]) == ["path", "relpath", "label", "label_index", "subtype", "magnification", "patient"]
    assert frame.loc[frame["label"] == "malignant", "label_index"].eq(1).all()


def test_patient_under_two_subtypes_is_one_patient(breakhis_root):
    frame = index_breakhis(breakhis_root).frame
    subtypes = frame.groupby("patient")["subtype"].nunique()
    assert (subtypes == 2).sum() == 1
    shared = subtypes.idxmax()
    assert set(frame.loc[frame["patient"] == shared, "subtype"]) == {"ductal_carcinoma", "lobular_carcinoma"}


@pytest.mark.parametrize("level", ["", "BreaKHis_v1", "BreaKHis_v1/histology_slides",
                                   "BreaKHis_v1/histology_slides/breast"])
def test_root_at_any_level(breakhis_root, level):
    index = index_dataset("breakhis", breakhis_root / level)
    assert len(index.frame) == N_BREAKHIS and index.synthetic
    assert index.folds is not None and len(index.folds) == 5 * N_BREAKHIS


def test_no_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no BreakHis dataset here"):
        index_breakhis(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        index_breakhis(tmp_path / "missing")
    with pytest.raises(UserError, match="no BACH dataset here"):
        index_bach(tmp_path)
    with pytest.raises(UserError, match="unknown dataset"):
        index_dataset("camelyon", tmp_path)


def test_layout_without_images_is_a_clear_error(tmp_path):
    (tmp_path / "breast" / "benign" / "SOB" / "adenosis").mkdir(parents=True)
    with pytest.raises(UserError, match="holds no readable images"):
        index_breakhis(tmp_path)


def test_damaged_and_odd_files(breakhis_copy):
    breast = breast_dir(breakhis_copy)
    slide_dir = first_image(breast / "benign").parent  # .../SOB_B_A_13-xxxx/100X
    prefix = first_image(breast / "benign").name.rsplit("-", 1)[0]
    name = lambda seq: slide_dir / f"{prefix}-{seq}.png"  # noqa: E731

    name(101).write_bytes(b"")                                   # zero bytes
    shutil.copy(first_image(breast / "malignant"), name(102))    # a valid tile under a new name: kept
    truncate(write_png(name(103), tissue_like(200, 300)), 0.4)   # truncated
    name(104).write_text("this is not an image")                 # text named .png
    write_png(name(105), tissue_like()[..., 0])                  # grayscale: kept
    write_png(name(106), np.dstack([tissue_like(), np.full((64, 96), 128, np.uint8)]))  # RGBA: kept
    Image.fromarray(tissue_like()).convert("P").save(name(107))  # palette: kept
    Image.fromarray((np.arange(64 * 96).reshape(64, 96) * 10).astype(np.uint16)).save(name(108))  # 16-bit: kept
    write_png(name(109), tissue_like(1, 1))                      # 1x1
    bomb_png(name(110))                                          # huge header
    write_png(slide_dir / "scan_0001.png", tissue_like())        # wrong naming pattern
    (slide_dir / "notes.txt").write_text("ignored")              # not an image: ignored silently
    (slide_dir / f"._{prefix}-111.png").write_bytes(b"\0\0")    # macOS metadata: ignored silently

    index = index_breakhis(breakhis_copy)
    problems = problems_by_name(index)
    assert "empty file" in problems[name(101).name]
    assert "truncated" in problems[name(103).name]
    assert "not a readable image" in problems[name(104).name]
    assert "too small" in problems[name(109).name]
    assert "too large" in problems[name(110).name]
    assert "is not a BreakHis name" in problems["scan_0001.png"]
    assert "notes.txt" not in problems and not any(k.startswith("._") for k in problems)
    kept = set(index.frame["relpath"].str.rsplit("/", n=1).str[-1])
    for seq in (102, 105, 106, 107, 108):
        assert name(seq).name in kept
    assert len(index.frame) == N_BREAKHIS + 5
    assert all(p["problem"].endswith("skipped") for p in index.problems)
    for seq in (105, 106, 107, 108):
        pixels = load_rgb(name(seq))
        assert pixels.shape == (64, 96, 3) and pixels.dtype == np.uint8
    sixteen = load_rgb(name(108))
    assert sixteen.max() > 200  # scaled down from 16 bits, not clipped to white or black
    assert len(np.unique(sixteen)) > 50


def test_structural_problems_are_reported(breakhis_copy):
    breast = breast_dir(breakhis_copy)
    for path in (breast / "benign" / "SOB" / "tubular_adenoma").rglob("*.png"):
        path.unlink()
    slide = next((breast / "malignant" / "SOB" / "papillary_carcinoma").iterdir())
    shutil.rmtree(slide / "400X")
    mislabeled = first_image(breast / "benign" / "SOB" / "adenosis")
    shutil.move(mislabeled, mislabeled.with_name(mislabeled.name.replace("SOB_B_A-", "SOB_M_DC-")))
    index = index_breakhis(breakhis_copy)
    text = {p["path"]: p["problem"] for p in index.problems}
    assert any("subtype folder has no images" in v for k, v in text.items() if k.endswith("tubular_adenoma"))
    assert text[slide.relative_to(breakhis_copy).as_posix()] == "slide has no 400X folder(s)"
    assert any("folder 'benign' says benign, the file name says malignant" in v for v in text.values())
    assert "tubular_adenoma" not in set(index.frame["subtype"])
    # One line for the Folds.csv rows whose images are gone: tubular adenoma, the 400X image and the
    # renamed file's old name (its new name is listed above with its own reason).
    tubular = synth.DEFAULT_PATIENTS["tubular_adenoma"] * 4
    assert re.fullmatch(rf"lists {tubular + 2} image\(s\) that are not in this copy \(e\.g\. SOB_\S+\.png\); "
                        r"their rows are ignored", text["Folds.csv"])


def test_bach_index(bach_root):
    index = index_bach(bach_root)
    assert index.class_names == ["normal", "benign", "in_situ", "invasive"]
    assert index.frame["label"].value_counts().to_dict() == {c: 4 for c in index.class_names}
    assert index.problems == [] and index.synthetic and not index.has_patients
    assert (index.frame["patient"] == "").all()
    for level in ("ICIAR2018_BACH_Challenge", "ICIAR2018_BACH_Challenge/Photos"):
        assert len(index_bach(bach_root / level).frame) == 16


def test_bach_ground_truth_disagreements(bach_copy):
    photos = photos_dir(bach_copy)
    truth = photos / "microscopy_ground_truth.csv"
    lines = truth.read_text().splitlines()
    lines = [line for line in lines if not line.startswith("b026.tif")]  # b026 missing from the CSV
    lines = [("n001.tif,Invasive" if line.startswith("n001.tif") else line) for line in lines]  # label conflict
    lines.append("iv999.tif,Invasive")  # names a file that does not exist
    truth.write_text("\n".join(lines) + "\n")
    index = index_bach(bach_copy)
    problems = problems_by_name(index)
    assert "label taken from its folder" in problems["b026.tif"]
    assert "ground truth says invasive" in problems["n001.tif"]
    assert "file is missing" in problems["iv999.tif"]
    labels = dict(zip(index.frame["relpath"].str.rsplit("/", n=1).str[-1], index.frame["label"]))
    assert labels["b026.tif"] == "benign" and "n001.tif" not in labels
    assert len(index.frame) == 15


def test_bach_without_ground_truth_uses_folders(bach_copy):
    (photos_dir(bach_copy) / "microscopy_ground_truth.csv").unlink()
    shutil.rmtree(photos_dir(bach_copy) / "InSitu")
    (photos_dir(bach_copy) / "Normal" / "n001.tif").write_bytes(b"")
    index = index_bach(bach_copy)
    problems = problems_by_name(index)
    assert "class folder 'InSitu' is missing" in problems["InSitu"]
    assert "empty file" in problems["n001.tif"]
    assert len(index.frame) == 11


def test_real_data_is_not_called_synthetic(breakhis_copy):
    for marker in breakhis_copy.rglob(synth.MARKER):
        marker.unlink()
    index = index_breakhis(breakhis_copy)
    assert not index.synthetic and "real data" in index.provenance()


def test_bach_converted_to_png_matches_the_ground_truth_by_stem(bach_copy):
    """Users convert the 2048x1536 TIFFs to PNG or JPEG; the CSV still says b001.tif."""
    for tif in sorted(photos_dir(bach_copy).rglob("*.tif")):
        with Image.open(tif) as image:
            image.save(tif.with_suffix(".png" if tif.name[0] in "bn" else ".jpg"))
        tif.unlink()
    index = index_bach(bach_copy)
    assert index.problems == [] and len(index.frame) == 16
    assert set(index.frame["relpath"].str.rsplit(".", n=1).str[-1]) == {"png", "jpg"}


def test_bach_unlabelled_test_set_is_refused_with_one_line(tmp_path):
    photos = tmp_path / "ICIAR2018_BACH_Challenge_TestDataset" / "Photos"
    for k in range(3):
        write_png(photos / f"test{k}.png", tissue_like())
    with pytest.raises(UserError, match=r"BACH challenge's unlabelled test set \(3 photos .* `bclib predict`"):
        index_bach(tmp_path)


def test_predict_takes_a_folder_for_its_images(tmp_path):
    from bclib.evaluation.predict import expand_folders

    for k in (2, 0, 1):
        write_png(tmp_path / "Photos" / f"test{k}.png", tissue_like())
    (tmp_path / "Photos" / "readme.txt").write_text("not an image")
    assert [p.name for p in expand_folders([tmp_path / "Photos"])] == ["test0.png", "test1.png", "test2.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="folder holds no image files"):
        expand_folders([tmp_path / "empty"])


def test_second_index_of_an_unchanged_dataset_decodes_nothing(breakhis_copy, monkeypatch):
    import bclib.data.records as records

    decoded = []
    real_inspect = records.inspect_image
    monkeypatch.setattr(records, "inspect_image", lambda path: decoded.append(path) or real_inspect(path))
    first = index_dataset("breakhis", breakhis_copy)
    assert len(decoded) == len(first.frame)
    decoded.clear()
    again = index_dataset("breakhis", breakhis_copy, task="subtype")  # another task: relabelled, not re-read
    assert decoded == [] and again.task == "subtype" and len(again.frame) == len(first.frame)
    assert again.folds is not None and again.notes == first.notes
    # Anything the index depends on changes its key: a rewritten image, or the folds file above the root.
    image = first_image(breast_dir(breakhis_copy))
    image.write_bytes(b"")
    changed = index_dataset("breakhis", breakhis_copy)
    assert len(decoded) == len(first.frame) and len(changed.frame) == len(first.frame) - 1
    inner = breakhis_copy / "BreaKHis_v1"  # Folds.csv sits above this root
    assert index_dataset("breakhis", inner).folds is not None
    decoded.clear()
    (breakhis_copy / "Folds.csv").unlink()
    assert index_dataset("breakhis", inner).folds is None and decoded


def test_index_cache_entries_are_json_and_round_trip(breakhis_root, tmp_path, monkeypatch):
    """The cache holds no pickle (a shared cache folder must not be able to run code), and an entry read back is
    the index that was stored, column types included."""
    import pandas as pd

    from bclib.data.index import index_dataset
    from bclib.data.index_cache import index_from_json, index_to_json

    monkeypatch.setenv("BCLIB_CACHE_DIR", str(tmp_path / "cache"))
    built = index_dataset("breakhis", breakhis_root, "binary")
    entries = list((tmp_path / "cache" / "index").iterdir())
    assert [p.suffix for p in entries] == [".json"]
    assert not entries[0].read_bytes().startswith(b"\x80")  # not a pickle
    back = index_from_json(index_to_json(built))
    pd.testing.assert_frame_equal(back.frame, built.frame.reset_index(drop=True))
    pd.testing.assert_frame_equal(back.folds, built.folds.reset_index(drop=True))
    assert (back.class_names, back.notes, back.problems, back.synthetic, back.root, back.task, back.folds_source) == (
        built.class_names, built.notes, built.problems, built.synthetic, built.root, built.task, built.folds_source)
    again = index_dataset("breakhis", breakhis_root, "binary")  # read from the entry
    pd.testing.assert_frame_equal(again.frame, back.frame)
