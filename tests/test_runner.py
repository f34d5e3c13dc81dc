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
