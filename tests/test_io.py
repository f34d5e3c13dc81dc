import json

import pytest

from bclib.io import append_jsonl, atomic_path, read_jsonl, write_json_atomic


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "result.json"
    write_json_atomic(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"v": 2, "half')
            raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_temporary_file_keeps_the_suffix(tmp_path):
    with atomic_path(tmp_path / "figure.png") as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
    assert (tmp_path / "figure.png").read_bytes() == b"x"


def test_jsonl_reader_ignores_a_torn_last_line(tmp_path):
    log = tmp_path / "metrics.jsonl"
    append_jsonl(log, {"kimg": 1})
    append_jsonl(log, {"kimg": 2})
    with open(log, "a") as fh:
        fh.write('{"kimg": 3, "lo')
    assert read_jsonl(log) == [{"kimg": 1}, {"kimg": 2}]


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        target = write_json_atomic(tmp_path / "r.json", {})
    finally:
        os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o644


def test_atomic_directory_replaces_whole_or_not_at_all(tmp_path):
    from bclib.io import atomic_directory

    target = tmp_path / "snapshot"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "a.txt").write_text("2")
            raise RuntimeError("killed")
    assert (target / "a.txt").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]
    assert target.stat().st_mode & 0o700 == 0o700


def test_a_content_named_folder_finished_by_another_writer_is_kept(tmp_path):
    """Two kernels writing one trunk store: the second keeps the first's folder (whose files a reader may
    hold open) instead of deleting it, whether it was there before ours started or arrived while ours was written."""
    from bclib.io import atomic_directory

    target = tmp_path / "store"
    with atomic_directory(target, keep_existing=True) as tmp:
        (tmp / "tap0.npy").write_text("first")
    inode = target.stat().st_ino
    with atomic_directory(target, keep_existing=True) as tmp:
        (tmp / "tap0.npy").write_text("second")
    assert target.stat().st_ino == inode and (target / "tap0.npy").read_text() == "first"
    late = tmp_path / "late"
    with atomic_directory(late, keep_existing=True) as tmp:
        (tmp / "tap0.npy").write_text("ours")
        late.mkdir()  # another writer's rename lands while ours is being written
        (late / "tap0.npy").write_text("theirs")
    assert (late / "tap0.npy").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late", "store"]  # no hidden debris
