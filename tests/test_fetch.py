"""`bclib fetch`: downloads over the loopback interface only, from a small HTTP server started here
(with Range support written in the handler, and switches to cut a transfer or ignore Range), serving
archives of small trees in the real layouts (the real archive's names, tiny noise images)."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
import urllib.error
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from archive_trees import archive_names, official_relpath
from bclib.cli import main
from bclib.data.fetch import Transfer, bach_manifest, breakhis_manifest, fetch
from bclib.data.fetch import download as download_module
from bclib.data.fetch import unpack as unpack_module
from bclib.errors import UserError

QUIET = Transfer(retries=0, backoff_s=0.0, chunk=4096, progress=False)
BREAST = "BreaKHis_v1/histology_slides/breast/"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Loopback only: a proxy from the environment must not see these requests."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


# ---------------------------------------------------------------------------
# Archives: the real layouts, a few images each, noise pixels (so gzip cannot shrink them to nothing)


def noise_image(seed: int, fmt: str) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def breakhis_images() -> list[dict]:
    """The real archive's first 40X image of every patient folder: 82 images, both classes."""
    return [i for i in archive_names() if i["mag"] == "40X" and i["name"].endswith("-001.png")]


def breakhis_manifest_of(images) -> dict[str, str]:
    return {official_relpath(i).removeprefix(BREAST): i["class"] for i in images}


def add_file(tar: tarfile.TarFile, name: str, data: bytes, **fields) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data))


def breakhis_tar(path: Path, images, extra: tuple[tarfile.TarInfo, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for k, image in enumerate(images):
            add_file(tar, official_relpath(image), noise_image(k, "PNG"))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path


def bach_zip(path: Path, extra: tuple[zipfile.ZipInfo, ...] = ()) -> tuple[Path, dict[str, str]]:
    """Two photos of each class, named as the real ones; returns the archive and its manifest."""
    manifest = {name: klass for name, klass in bach_manifest().items() if re.search(r"00[12]\.tif$", name)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, name in enumerate(sorted(manifest)):
            zf.writestr(f"ICIAR2018_BACH_Challenge/Photos/{name}", noise_image(k, "TIFF"))
        zf.writestr("ICIAR2018_BACH_Challenge/Photos/microscopy_ground_truth.csv", "b001.tif,Benign\n")
        for info in extra:
            zf.writestr(info, b"/etc/passwd")
    return path, manifest


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archives")
    images = breakhis_images()
    tar = breakhis_tar(folder / "BreaKHis_v1.tar.gz", images)
    zipped, bach = bach_zip(folder / "ICIAR2018_BACH_Challenge.zip")
    return {"breakhis": tar, "breakhis_manifest": breakhis_manifest_of(images), "bach": zipped,
            "bach_manifest": bach, "bach_md5": hashlib.md5(zipped.read_bytes()).hexdigest()}


# ---------------------------------------------------------------------------
# The loopback server


class ArchiveServer:
    """Serves one payload at /<name>; counts the bytes it sends and records the Range headers it gets."""

    def __init__(self, payload: bytes, name: str, honour_range: bool = True, cut_at: int | None = None):
        self.payload, self.honour_range, self.cut_at = payload, honour_range, cut_at
        self.served, self.ranges, self.requests = 0, [], 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests += 1
                wanted = self.headers.get("Range")
                server.ranges.append(wanted)
                start, total = 0, len(server.payload)
                if wanted and server.honour_range:
                    start = int(re.fullmatch(r"bytes=(\d+)-", wanted).group(1))
                    if start >= total:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{total}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(total - start))
                self.end_headers()
                body = server.payload[start:]
                if server.cut_at is not None and start < server.cut_at:
                    body, server.cut_at = body[: server.cut_at - start], None  # once: then the line drops
                self.wfile.write(body)
                server.served += len(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(archives, dataset, **options) -> ArchiveServer:
    path = archives[dataset]
    return ArchiveServer(path.read_bytes(), path.name, **options)


def fetch_small(archives, dataset, to, url, **options):
    """fetch() of the small archive against its own manifest (and, for BACH, its own MD5)."""
    extra = {"md5": archives["bach_md5"]} if dataset == "bach" else {}
    return fetch(dataset, to, url, manifest=archives[f"{dataset}_manifest"], **{"transfer": QUIET, **extra,
                                                                                  **options})


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def file_url(path: Path) -> str:
    return path.resolve().as_uri()


# ---------------------------------------------------------------------------
# What "verified" means


def test_the_default_manifest_is_the_real_archives_7909_names():
    names = breakhis_manifest()
    assert len(names) == 7909
    assert Counter(names.values()) == {"benign": 2480, "malignant": 5429}
    assert set(names) == {official_relpath(i).removeprefix(BREAST) for i in archive_names()}
    bach = bach_manifest()
    assert len(bach) == 400 and set(Counter(bach.values()).values()) == {100}
    assert "Benign/b001.tif" in bach and "Invasive/iv100.tif" in bach


def test_contents_are_checked_against_the_manifest_and_what_is_wrong_is_named(archives, tmp_path):
    images = breakhis_images()
    damaged = tmp_path / "BreaKHis_v1.tar.gz"
    with tarfile.open(damaged, "w:gz") as tar:
        for k, image in enumerate(images[1:]):  # the first image missing
            add_file(tar, official_relpath(image), noise_image(k, "PNG")[: 60 if k == 0 else None])  # one truncated
        add_file(tar, BREAST + "benign/SOB/adenosis/SOB_B_A_14-22549AB/40X/SOB_B_A-14-22549AB-40-999.png",
                 noise_image(99, "PNG"))  # one extra
    to = tmp_path / "data"
    with pytest.raises(UserError) as refused:
        fetch("breakhis", to, file_url(damaged), manifest=breakhis_manifest_of(images), transfer=QUIET)
    message = str(refused.value)
    assert f"1 missing ({official_relpath(images[0]).removeprefix(BREAST)})" in message
    assert "1 not decodable" in message and images[1]["name"] in message
    assert "1 extra" in message and "40-999.png" in message
    assert "images per class" in message
    assert leftovers(to) == []  # nothing that looks valid: no tree, no archive, no record, no temporary folder


# ---------------------------------------------------------------------------
# A complete fetch, then the audit reads its record


def test_fetch_over_http_then_audit_reads_the_record(archives, tmp_path, monkeypatch, capsys):
    to = tmp_path / "real" / "breakhis"
    with serve(archives, "breakhis") as server:
        record = fetch_small(archives, "breakhis", to, server.url, transfer=Transfer(progress=True, chunk=4096))
    assert server.served == archives["breakhis"].stat().st_size
    assert "B/s" in capsys.readouterr().err  # the progress bar: size, speed, time left
    assert leftovers(to) == ["BCLIB_FETCH_breakhis.json", "BreaKHis_v1"]  # the archive was not kept
    saved = json.loads((to / "BCLIB_FETCH_breakhis.json").read_text())
    assert saved == record and saved["url"] == server.url and saved["folders"] == ["BreaKHis_v1"]
    assert saved["sha256"] == hashlib.sha256(archives["breakhis"].read_bytes()).hexdigest()
    assert saved["size"] == archives["breakhis"].stat().st_size and saved["fetched"] and saved["bclib_version"]
    assert saved["verification"]["by_class"] == {"benign": 24, "malignant": 58}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for root in (to, to / "BreaKHis_v1" / "histology_slides"):  # the root at any level of the tree
        out = elsewhere / "audit.json"
        assert main(["audit", "--dataset", "breakhis", "--root", str(root), "--json", str(out)]) == 0
        audit = json.loads(out.read_text())
        assert audit["fetched"]["url"] == server.url and audit["fetched"]["verified"]
        assert audit["fetched"]["unchanged_since"] and audit["fetched"]["n_verified"] == 82
        assert any(n.startswith("fetched with bclib") and "82 of 82" in n for n in audit["notes"])
        assert "note: fetched with bclib" in capsys.readouterr().out


def test_bach_zip_is_checked_against_its_md5_and_audited(archives, tmp_path):
    to = tmp_path / "bach"
    with serve(archives, "bach") as server:
        record = fetch_small(archives, "bach", to, server.url, keep_archive=True)
    assert record["md5"] == archives["bach_md5"] and record["md5_published"]
    assert leftovers(to) == ["BCLIB_FETCH_bach.json", "ICIAR2018_BACH_Challenge", "ICIAR2018_BACH_Challenge.zip"]
    out = tmp_path / "audit.json"
    assert main(["audit", "--dataset", "bach", "--root", str(to), "--json", str(out)]) == 0
    audit = json.loads(out.read_text())
    assert audit["n_images"] == 8 and audit["fetched"]["md5_published"]
    assert any("matched the published checksum" in n for n in audit["notes"])


def test_the_command_from_another_folder_then_audit(archives, tmp_path):
    """The issue's check: `bclib fetch breakhis --url file:///...` then `bclib audit`, as a user types them.
    The real 7,909-name manifest is the default, so the archive holds all of them (tiny images)."""
    images = archive_names()
    tar = tmp_path / "copy" / "BreaKHis_v1.tar.gz"
    tar.parent.mkdir()
    png = noise_image(0, "PNG")
    with tarfile.open(tar, "w:gz") as archive:
        for image in images:
            add_file(archive, official_relpath(image), png)
    bclib = Path(sys.executable).with_name("bclib")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = lambda *a: subprocess.run([str(bclib), *map(str, a)], cwd=elsewhere, capture_output=True,  # noqa: E731
                                    text=True, timeout=120)
    fetched = run("fetch", "breakhis", "--url", file_url(tar), "--to", tmp_path / "data")
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    assert "7,909 of 7,909 expected images present and decodable (benign 2,480, malignant 5,429)" in fetched.stdout
    audited = run("audit", "--dataset", "breakhis", "--root", tmp_path / "data", "--json", "audit.json")
    assert audited.returncode == 0, audited.stderr[-2000:]
    assert json.loads((elsewhere / "audit.json").read_text())["fetched"]["n_verified"] == 7909
    again = run("fetch", "breakhis", "--url", file_url(tar), "--to", tmp_path / "data")
    assert again.returncode == 0 and "nothing to do" in again.stdout


# ---------------------------------------------------------------------------
# Interrupted transfers


def test_a_transfer_cut_half_way_resumes_where_it_stopped(archives, tmp_path):
    size = archives["breakhis"].stat().st_size
    half = size // 2
    to = tmp_path / "data"
    with serve(archives, "breakhis", cut_at=half) as server:
        with pytest.raises(UserError, match="is kept: rerun the same command to resume"):
            fetch_small(archives, "breakhis", to, server.url)
        assert leftovers(to) == ["BreaKHis_v1.tar.gz.part"] and (to / "BreaKHis_v1.tar.gz.part").stat().st_size == half
        served_before = server.served
        fetch_small(archives, "breakhis", to, server.url)
    assert server.ranges == [None, f"bytes={half}-"]
    assert server.served - served_before == size - half  # the bytes already there were not sent again
    assert leftovers(to) == ["BCLIB_FETCH_breakhis.json", "BreaKHis_v1"]


def test_a_dropped_connection_is_retried_and_resumed_within_one_run(archives, tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr(download_module.time, "sleep", waits.append)
    size = archives["breakhis"].stat().st_size
    with serve(archives, "breakhis", cut_at=size // 3) as server:
        fetch_small(archives, "breakhis", tmp_path, server.url, transfer=Transfer(retries=2, backoff_s=1.5,
                                                                                   progress=False))
    assert server.served == size and server.ranges == [None, f"bytes={size // 3}-"]
    assert waits == [1.5]  # backed off once


def test_a_server_that_ignores_range_restarts_the_download_cleanly(archives, tmp_path, capsys):
    size = archives["breakhis"].stat().st_size
    (tmp_path / "BreaKHis_v1.tar.gz.part").write_bytes(b"\0" * (size // 2))  # bytes that must not be kept
    with serve(archives, "breakhis", honour_range=False) as server:
        record = fetch_small(archives, "breakhis", tmp_path, server.url, keep_archive=True)
    assert server.ranges == [f"bytes={size // 2}-"] and server.served == size
    assert (tmp_path / "BreaKHis_v1.tar.gz").read_bytes() == archives["breakhis"].read_bytes()
    assert record["verification"]["present_and_decodable"] == 82
    assert "does not resume downloads; starting again" in capsys.readouterr().out


def test_an_interrupted_unpack_leaves_no_tree_and_the_rerun_uses_the_kept_archive(archives, tmp_path, monkeypatch):
    real_members = unpack_module._tar_members

    def interrupted(tar, archive, bar):
        for k, member in enumerate(real_members(tar, archive, bar)):
            if k == 20:
                raise KeyboardInterrupt
            yield member

    monkeypatch.setattr(unpack_module, "_tar_members", interrupted)
    with serve(archives, "breakhis") as server:
        with pytest.raises(KeyboardInterrupt):
            fetch_small(archives, "breakhis", tmp_path, server.url)
        assert leftovers(tmp_path) == ["BreaKHis_v1.tar.gz"]  # complete archive; no tree, temp folder or record
        monkeypatch.undo()
        (tmp_path / ".BreaKHis_v1.tar.gz.unpacking-killed").mkdir()  # what a killed process leaves
        fetch_small(archives, "breakhis", tmp_path, server.url)
        assert server.requests == 1  # not downloaded again
    assert leftovers(tmp_path) == ["BCLIB_FETCH_breakhis.json", "BreaKHis_v1"]


def test_a_second_run_finds_everything_in_place_and_does_nothing(archives, tmp_path, capsys):
    with serve(archives, "breakhis") as server:
        first = fetch_small(archives, "breakhis", tmp_path, server.url)
        capsys.readouterr()
        second = fetch_small(archives, "breakhis", tmp_path, server.url)
        assert server.requests == 1
    assert second == first and "already fetched and verified" in capsys.readouterr().out


def test_no_extract_downloads_only_and_a_later_run_unpacks_the_kept_archive(archives, tmp_path):
    with serve(archives, "bach") as server:
        record = fetch_small(archives, "bach", tmp_path, server.url, extract=False)
        assert not record["extracted"] and leftovers(tmp_path) == ["BCLIB_FETCH_bach.json",
                                                                  "ICIAR2018_BACH_Challenge.zip"]
        fetch_small(archives, "bach", tmp_path, server.url)
        assert server.requests == 1
    assert leftovers(tmp_path) == ["BCLIB_FETCH_bach.json", "ICIAR2018_BACH_Challenge"]


# ---------------------------------------------------------------------------
# Refusals


def test_a_wrong_checksum_is_refused_and_nothing_valid_is_left(archives, tmp_path):
    with serve(archives, "bach") as server:
        with pytest.raises(UserError, match="MD5 [0-9a-f]{32} differs from the expected 0{32}.*removed"):
            fetch_small(archives, "bach", tmp_path, server.url, md5="0" * 32)
    assert leftovers(tmp_path) == []


def _tar_member(kind: str, outside: Path) -> tarfile.TarInfo:
    if kind == "dotdot":
        info = tarfile.TarInfo("BreaKHis_v1/../../evil.png")
    elif kind == "absolute":
        info = tarfile.TarInfo(str(outside / "evil.png"))
    elif kind == "symlink":
        info = tarfile.TarInfo("BreaKHis_v1/escape")
        info.type, info.linkname = tarfile.SYMTYPE, "../../.."
    else:
        info = tarfile.TarInfo("BreaKHis_v1/pipe")
        info.type = tarfile.FIFOTYPE
    info.size = 5 if info.isfile() else 0
    return info


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "fifo"])
def test_a_tar_member_that_escapes_the_target_is_refused(tmp_path, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    member = _tar_member(kind, outside)
    tar = breakhis_tar(tmp_path / "evil" / "BreaKHis_v1.tar.gz", breakhis_images()[:3], extra=(member,))
    to = tmp_path / "a" / "b"
    with pytest.raises(UserError) as refused:
        fetch("breakhis", to, file_url(tar), manifest=breakhis_manifest_of(breakhis_images()[:3]), transfer=QUIET)
    message = str(refused.value)
    assert "refused to unpack member" in message and repr(member.name) in message and "\n" not in message
    assert leftovers(to) == ["BreaKHis_v1.tar.gz"]  # no tree, no temporary folder, no record
    assert leftovers(outside) == [] and leftovers(tmp_path / "a") == ["b"] and not (tmp_path / "evil.png").exists()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_a_zip_member_that_escapes_the_target_is_refused(tmp_path, kind):
    name = {"dotdot": "ICIAR2018_BACH_Challenge/../../evil.tif", "absolute": "/tmp/evil.tif",
            "symlink": "ICIAR2018_BACH_Challenge/escape"}[kind]
    info = zipfile.ZipInfo(name)
    if kind == "symlink":
        info.external_attr = (0o120777 << 16)  # S_IFLNK: a link to /etc/passwd
    zipped, manifest = bach_zip(tmp_path / "evil" / "ICIAR2018_BACH_Challenge.zip", extra=(info,))
    to = tmp_path / "a" / "b"
    with pytest.raises(UserError) as refused:
        fetch("bach", to, file_url(zipped), manifest=manifest, md5=None, transfer=QUIET)
    assert "refused to unpack member" in str(refused.value) and repr(name) in str(refused.value)
    assert leftovers(to) == ["ICIAR2018_BACH_Challenge.zip"]
    assert leftovers(tmp_path / "a") == ["b"] and not (tmp_path / "evil.tif").exists()


# ---------------------------------------------------------------------------
# Disk space and the network


def test_too_little_free_space_stops_before_the_first_byte_is_written(archives, tmp_path, monkeypatch):
    size = archives["breakhis"].stat().st_size
    need = size + int(size * 1.05)  # the archive, and BreakHis's unpacked size (PNG files: 1.05 times)
    free = {"bytes": need - 1}
    monkeypatch.setattr(download_module.shutil, "disk_usage", lambda path: SimpleNamespace(free=free["bytes"]))
    with serve(archives, "breakhis") as server:
        with pytest.raises(UserError, match="not enough free space in .*: the download and unpacking needs"):
            fetch_small(archives, "breakhis", tmp_path, server.url)
        assert leftovers(tmp_path) == []  # not even a .part file
        free["bytes"] = need
        fetch_small(archives, "breakhis", tmp_path, server.url)


def test_a_disk_that_fills_during_the_download_leaves_nothing_half_written(archives, tmp_path, monkeypatch):
    real_open = download_module._open_part

    class FillsUp:
        def __init__(self, fh):
            self.fh, self.written = fh, 0

        def write(self, data):
            if self.written + len(data) > 10_000:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.written += len(data)
            return self.fh.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(download_module, "_open_part", lambda path, start: FillsUp(real_open(path, start)))
    with serve(archives, "breakhis") as server:
        with pytest.raises(UserError, match="filled up during the download .*partial file was removed"):
            fetch_small(archives, "breakhis", tmp_path, server.url)
    assert leftovers(tmp_path) == []


def test_offline_the_command_fails_in_one_line_that_says_how_to_fetch_elsewhere(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(download_module.time, "sleep", lambda s: None)
    def no_network(request, timeout):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(download_module.urllib.request, "urlopen", no_network)
    assert main(["fetch", "breakhis", "--to", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("bclib: error: cannot reach www.inf.ufpr.br")
    assert "offline" in err and "bclib fetch breakhis --url file:///" in err
    assert leftovers(tmp_path) == []


def test_a_refused_connection_is_retried_then_named(tmp_path, monkeypatch):
    monkeypatch.setattr(download_module.time, "sleep", lambda s: None)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(UserError, match=r"cannot download .*\(after 3 tries\).*--url file:///"):
        fetch("bach", tmp_path, f"http://127.0.0.1:{port}/x.zip", transfer=Transfer(retries=2, progress=False))


# ---------------------------------------------------------------------------
# Where users are: the notebooks' Colab cell


def test_the_colab_cell_fetches_into_google_drive_when_asked(tmp_path, monkeypatch):
    """The first cell, run as on Colab with FETCH = "breakhis" and Drive mounted: it calls `bclib fetch`
    into Drive and links the folder where params/breakhis.yaml looks. Elsewhere (FETCH = None) it does not."""
    import nbformat

    from bclib.paths import project_root

    notebook = nbformat.read(project_root() / "notebooks" / "00_data_audit.ipynb", as_version=4)
    cell = next(c.source for c in notebook.cells if c.cell_type == "code")
    assert 'FETCH = None' in cell
    home, drive = tmp_path / "content" / "bclib", tmp_path / "content" / "drive" / "MyDrive"
    (home / "notebooks").mkdir(parents=True)  # already cloned: the cell goes straight to the fetch
    drive.mkdir(parents=True)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **options: calls.append(command))
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for fetch_value in ("None", '"breakhis"'):
        source = (cell.replace("FETCH = None", f"FETCH = {fetch_value}").replace("/content/bclib", str(home))
                  .replace("/content/drive/MyDrive", str(drive)))
        exec(compile(source, "colab-cell", "exec"), {})
    target = drive / "bclib-data" / "breakhis"
    assert calls == [["bclib", "fetch", "breakhis", "--to", str(target)]]
    assert (home / "data" / "real" / "breakhis").is_symlink()
    assert os.readlink(home / "data" / "real" / "breakhis") == str(target)
