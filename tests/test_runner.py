import json
from pathlib import Path

import nbformat
import pytest

from bclib.errors import UserError
from bclib.runner import NotebookFailed, run_notebooks


def notebook(path: Path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('params_path = "unset"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path, breakhis_root):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    notebook(notebooks / "00_first.ipynb",
             "from bclib.params import load_params\np = load_params(params_path)",
             "(p.output_dir / 'first.txt').write_text(str(p.train.epochs))")
    notebook(notebooks / "01_second.ipynb", "print('second ran')")
    (notebooks / "README.ipynb").write_text("{}")  # not numbered: never run
    params = tmp_path / "params.yaml"
    params.write_text(f"seed: 0\ndata:\n  dataset: breakhis\n  root: {breakhis_root}\n"
                      f"run:\n  profile: t\n  output_dir: {tmp_path / 'out'}\n")
    return tmp_path, notebooks, params


def test_runs_notebooks_in_order_and_writes_manifest(project):
    tmp_path, notebooks, params = project
    messages = []
    manifest = run_notebooks(params, overrides=["train.epochs=4"], notebooks_dir=notebooks, log=messages.append)
    out = tmp_path / "out"
    assert (out / "first.txt").read_text() == "4"  # override reached the notebook
    assert sorted(p.name for p in (out / "notebooks").iterdir()) == ["00_first.ipynb", "01_second.ipynb"]
    saved = json.loads((out / "manifest.json").read_text())
    assert saved == json.loads(json.dumps(manifest))
    assert saved["status"] == "ok" and [n["status"] for n in saved["notebooks"]] == ["ok", "ok"]
    assert saved["params"]["train"]["epochs"] == 4 and saved["overrides"] == ["train.epochs=4"]
    assert len(saved["data"]["fingerprint"]) == 16 and saved["packages"]["papermill"]
    assert "commit" in saved["git"] and all(n["wall_s"] >= 0 for n in saved["notebooks"])
    assert any("[1/2]" in m for m in messages) and any("[2/2]" in m for m in messages)
    executed = nbformat.read(out / "notebooks" / "01_second.ipynb", 4)
    assert "second ran" in executed.cells[-1].outputs[0]["text"]


def test_only_selects_notebooks(project):
    tmp_path, notebooks, params = project
    manifest = run_notebooks(params, only=["01"], notebooks_dir=notebooks, log=lambda m: None)
    assert [n["name"] for n in manifest["notebooks"]] == ["01_second"]
    with pytest.raises(UserError, match="no notebook starts with 07"):
        run_notebooks(params, only=["07"], notebooks_dir=notebooks, log=lambda m: None)


def test_failure_names_notebook_and_cell(project):
    tmp_path, notebooks, params = project
    notebook(notebooks / "01_second.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    notebook(notebooks / "02_third.ipynb", "print('never')")
    with pytest.raises(NotebookFailed) as err:
        run_notebooks(params, notebooks_dir=notebooks, log=lambda m: None)
    message = str(err.value)
    assert "01_second.ipynb" in message and "cell 4" in message and "broken on purpose" in message
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert [n["status"] for n in manifest["notebooks"]] == ["ok", "failed", "not run"]
    assert (tmp_path / "out" / "notebooks" / "01_second.ipynb").exists()  # the executed copy, with the error
    assert not [p for p in (tmp_path / "out" / "notebooks").iterdir() if p.name.startswith(".")]


def test_headline_profile_with_empty_sweeps_and_no_baselines_runs_its_notebooks(tmp_path, breakhis_root):
    """`train.models: [proposed]` with empty sweeps is a valid headline-only run: notebooks 02 and 03
    say they have nothing to do instead of failing."""
    from bclib.paths import notebooks_dir

    params = tmp_path / "headline.yaml"
    params.write_text(f"seed: 0\ndata:\n  dataset: breakhis\n  root: {breakhis_root}\n"
                      f"train: {{models: [proposed], variants: [none]}}\n"
                      f"gan: {{gamma_sweep: [], batch_sweep: []}}\n"
                      f"run:\n  profile: headline\n  output_dir: {tmp_path / 'out'}\n")
    manifest = run_notebooks(params, only=["02", "03"], notebooks_dir=notebooks_dir(), log=lambda m: None)
    assert [n["status"] for n in manifest["notebooks"]] == ["ok", "ok"]
    executed = (tmp_path / "out" / "notebooks" / "03_baselines.ipynb").read_text()
    assert "nothing to train" in executed
    assert "no sweep to run" in (tmp_path / "out" / "notebooks" / "02_gan_sweeps.ipynb").read_text()


def test_two_kernels_at_once_run_real_notebooks(project):
    """papermill from two threads: both notebooks execute (00 and 01 read nothing of each other)."""
    tmp_path, notebooks, params = project
    manifest = run_notebooks(params, notebooks_dir=notebooks, log=lambda m: None, at_once=2)
    assert [n["status"] for n in manifest["notebooks"]] == ["ok", "ok"]
    assert (tmp_path / "out" / "first.txt").exists()


@pytest.fixture
def fake_kernels(tmp_path, breakhis_root, monkeypatch):
    """The six numbered notebooks, executed by a stand-in that records when each starts and ends."""
    import threading
    import time

    from bclib.runner import notebooks as runner

    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ["00_audit", "01_gan", "02_sweeps", "03_baselines", "04_proposed", "05_report"]:
        notebook(folder / f"{name}.ipynb", "pass")
    params = tmp_path / "params.yaml"
    params.write_text(f"seed: 0\ndata:\n  dataset: breakhis\n  root: {breakhis_root}\n"
                      f"run:\n  profile: t\n  output_dir: {tmp_path / 'out'}\n")
    events, lock, failing = [], threading.Lock(), set()

    def execute(notebook_path, target, resolved, notebooks_dir, kernel_name):
        number = notebook_path.name[:2]
        with lock:
            events.append(("start", number))
        time.sleep({"01": 0.4, "03": 0.1}.get(number, 0.05))
        target.write_text("{}")
        with lock:
            events.append(("end", number))
        return runner.NotebookResult(notebook_path.stem, "failed" if number in failing else "ok", error="x", cell=1)

    monkeypatch.setattr(runner, "execute_one", execute)
    return params, folder, events, failing


def _starts_after(events, number, others):
    """Whether ``number`` started only after every notebook in ``others`` had ended."""
    start = events.index(("start", number))
    return all(("end", o) in events[:start] for o in others)


def test_notebooks_at_once_respect_what_each_reads(fake_kernels):
    params, folder, events, _ = fake_kernels
    manifest = run_notebooks(params, notebooks_dir=folder, log=lambda m: None, at_once=2)
    assert [n["status"] for n in manifest["notebooks"]] == ["ok"] * 6
    assert ("start", "03") in events[:events.index(("end", "01"))]  # the baselines beside the GAN
    assert _starts_after(events, "02", ["01"]) and _starts_after(events, "04", ["01"])
    assert _starts_after(events, "05", ["00", "01", "02", "03", "04"])
    running, most = set(), 0
    for event, number in events:
        running = running | {number} if event == "start" else running - {number}
        most = max(most, len(running))
    assert most == 2  # never more kernels than asked for


def test_one_at_a_time_is_number_order(fake_kernels):
    params, folder, events, _ = fake_kernels
    run_notebooks(params, notebooks_dir=folder, log=lambda m: None)
    assert events == [(e, n) for n in ["00", "01", "02", "03", "04", "05"] for e in ("start", "end")]


def test_a_failure_starts_nothing_more_and_lets_the_running_finish(fake_kernels):
    params, folder, events, failing = fake_kernels
    failing.add("03")  # fails while 01 is still running
    with pytest.raises(NotebookFailed, match="03_baselines"):
        run_notebooks(params, notebooks_dir=folder, log=lambda m: None, at_once=2)
    assert ("end", "01") in events and ("start", "02") not in events and ("start", "05") not in events
    statuses = {n["name"][:2]: n["status"] for n in json.loads((params.parent / "out" / "manifest.json").read_text())
                ["notebooks"]}
    assert statuses == {"00": "ok", "01": "ok", "02": "not run", "03": "failed", "04": "not run", "05": "not run"}


def test_a_notebook_missing_from_the_table_reads_every_earlier_one(tmp_path):
    from bclib.runner.notebooks import reads

    names = [tmp_path / f"{n}.ipynb" for n in ["00_a", "01_b", "03_c", "04_d", "06_extra"]]
    assert reads(names[4], names) == {"00", "01", "03", "04"}
    assert reads(names[3], names) == {"01"} and reads(names[2], names) == set()
    assert reads(names[3], [names[0], names[3]]) == set()  # --only 00,04: 01 is not part of this run


def test_the_table_of_reads_covers_the_committed_notebooks():
    """Every numbered notebook has an entry, and notebook 03 (run beside the GAN notebooks) trains no variant
    that uses generated images."""
    from bclib.paths import notebooks_dir
    from bclib.runner.notebooks import READS
    from bclib.variants import BASELINE_VARIANTS, variant

    assert set(READS) == {p.name[:2] for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb")}
    assert not any(variant(v).uses_gan for v in BASELINE_VARIANTS) and "01" not in READS["03"]


def test_zero_notebooks_at_once_is_one_line_before_anything_is_written(fake_kernels):
    params, folder, events, _ = fake_kernels
    with pytest.raises(UserError, match="--notebooks-at-once must be at least 1, got 0"):
        run_notebooks(params, notebooks_dir=folder, log=lambda m: None, at_once=0)
    assert not events and not (params.parent / "out").exists()
