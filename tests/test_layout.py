"""bclib/layout.py owns every path under outputs/<profile>/ (issue #39 item 1): the folders stay where users
have them, the job grid and the GAN workflow agree with it, `bclib train` without --out writes where the report
reads, and no other module joins a layout name onto output_dir itself."""

import ast
from pathlib import Path

import pytest

from bclib import layout as layout_module
from bclib.cli import default_train_out, main
from bclib.experiment.classifier_jobs import classifier_jobs, gan_fold_jobs, leakage_jobs, pretraining_jobs, stain_jobs
from bclib.layout import Layout
from bclib.params import load_params

PACKAGE = Path(__file__).resolve().parents[1] / "bclib"

# Modules that still build their own paths, each with what is left to do. Remove an entry when it asks the layout.
NOT_YET = {
}
# Names a module outside the layout never joins onto anything (too distinctive to mean another folder).
LAYOUT_ONLY = {layout_module.CACHE, layout_module.SWEEPS, layout_module.GAN_SELECTION,
               *(name for name in layout_module.TOP_LEVEL if name.startswith(layout_module.RUNS))}


def _from_output_dir(node, aliases: set[str]) -> bool:
    """``x.output_dir``, ``output_dir``, a name bound to either, or ``Path(<one of these>)``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "output_dir"
    if isinstance(node, ast.Name):
        return node.id == "output_dir" or node.id in aliases
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Path" and node.args:
        return _from_output_dir(node.args[0], aliases)
    return False


def layout_joins(source: str) -> list[int]:
    """Lines of ``source`` that join a literal name onto output_dir, or a layout-only name onto anything."""
    tree = ast.parse(source)
    aliases = set()
    for node in ast.walk(tree):  # out = params.output_dir (anywhere in the module: names are few and local)
        if isinstance(node, ast.Assign) and _from_output_dir(node.value, aliases):
            aliases |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    lines = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)):
            continue
        literal = isinstance(node.right, (ast.Constant, ast.JoinedStr))
        if literal and _from_output_dir(node.left, aliases) or \
                isinstance(node.right, ast.Constant) and node.right.value in LAYOUT_ONLY:
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_layout_joins_its_names_onto_output_dir():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "layout.py" or relative.startswith(tuple(NOT_YET)):
            continue
        found += [f"bclib/{relative}:{line}" for line in layout_joins(path.read_text())]
    assert not found, "paths under outputs/<profile>/ built outside bclib/layout.py (ask Layout):\n" + "\n".join(found)


@pytest.mark.parametrize("planted", [
    'out = params.output_dir / "runs" / args.model / args.variant / f"seed-{seed}"',
    'folder = self.params.output_dir / "cache" / "trunk"',
    'out = params.output_dir\nwrite_json_atomic(out / "manifest.json", manifest)',
    'target = Path(output_dir) / "figures" / f"{name}.png"',
    'tables = ctx.session.output_dir / "tables"',
    'folder = root / "runs-stain" / method',
    'path = params.output_dir / f"{kind}-{value:g}"',
])
def test_the_scan_finds_a_planted_join(planted):
    assert layout_joins(planted), planted
    cli = (PACKAGE / "cli.py").read_text()
    assert layout_joins(cli + "\n\ndef planted(params, args, seed):\n    " + planted.replace("\n", "\n    ") + "\n")


def test_the_scan_leaves_layout_calls_and_other_folders_alone():
    clean = ('out = Layout.of(params).classifier_run(model, variant, seed)\n'
             'record = run_dir / "run.json"\n'
             'own = project_root() / "notebooks"\n'
             'stain = Layout.of(params).cache("stain") / key\n')
    assert layout_joins(clean) == []


def test_every_folder_stays_where_users_have_it(tmp_path):
    """The folders as they were before the layout owned them (users have outputs on disk)."""
    root = tmp_path / "outputs" / "p"
    at = Layout(root)
    assert at.params_file() == root / "params.yaml" and at.manifest() == root / "manifest.json"
    assert at.executed_notebook("03_baselines.ipynb") == root / "notebooks" / "03_baselines.ipynb"
    assert (at.tables(), at.figures(), at.figure("05_roc")) == (root / "tables", root / "figures",
                                                                  root / "figures" / "05_roc.png")
    assert [at.cache(k) for k in ("trunk", "stain", "features", "controls")] == \
        [root / "cache" / k for k in ("trunk", "stain", "features", "controls")]
    with pytest.raises(ValueError):
        at.cache("trunks")
    assert at.classifier_run("proposed", "none", 0) == root / "runs" / "proposed" / "none" / "seed-0"
    assert at.classifier_run("proposed", "cwgan", 1, "fold-2/mag-40X/", 500) == \
        root / "runs" / "fold-2" / "mag-40X" / "proposed" / "cwgan" / "n-500" / "seed-1"
    assert Layout.run(at.gan_fold_runs("fold-3/"), "m", "cwgan", 0, "balance") == \
        root / "runs-gan-folds" / "fold-3" / "m" / "cwgan" / "n-balance" / "seed-0"
    assert at.stain_runs("macenko") == root / "runs-stain" / "macenko"
    assert at.image_split_runs() == root / "runs-image-split"
    assert at.pretraining_runs("none") == root / "runs-pretraining" / "none"
    assert (at.gan(), at.gan("fold-1/"), at.generated("mag-40X/")) == (root / "gan", root / "gan" / "fold-1",
                                                                         root / "generated" / "mag-40X")
    assert at.sweep_point("gamma", 10.0) == root / "sweeps" / "gamma-10"
    assert at.sweep_point("batch", 8) == root / "sweeps" / "batch-8"
    assert at.gan_selection() == root / "gan_selection.json"


PROFILE = """
seed: 0
data: {{dataset: breakhis, root: {root}, split: cv, folds: [1, 2], fold: 2}}
gan: {{resolution: 32, batch_size: 4, latent_dim: 8, n_critic: 2, total_kimg: 0.016, snapshot_kimg: 0.016,
       max_channels: 16, channel_base: 256, target_class: benign, n_generate: 4, gamma_sweep: [1, 10]}}
metrics: {{during_training: true, weights: none}}
train: {{models: [mobilenet, proposed], variants: [none, cwgan], seeds: [0, 1], cwgan_images: [0, 2, balance]}}
eval: {{leakage_models: [mobilenet], stain_models: [mobilenet], stain_ablation: [macenko],
        pretraining_models: [mobilenet], gan_folds: []}}
run: {{output_dir: {out}}}
"""


@pytest.fixture
def profile(tmp_path, breakhis_root):
    path = tmp_path / "p.yaml"
    path.write_text(PROFILE.format(root=breakhis_root, out=tmp_path / "out"))
    return path


def test_the_job_grid_and_the_gan_workflow_ask_the_layout(profile):
    from bclib.experiment.gan_sweeps import SELECTION_FILE, sweep_jobs
    from bclib.gan.workflow import gan_output_dir, generated_dir

    params = load_params(profile)
    at = Layout.of(params)
    for job in classifier_jobs(params, "fusion") + classifier_jobs(params, "baselines"):
        dose = job.dose.removeprefix("n-").rstrip("/") or None
        setting = job.params.data.setting_folder
        assert job.out_dir == at.classifier_run(job.model, job.variant, job.seed, setting, dose)
    assert {j.out_dir.parent.parent.parent for j in stain_jobs(params)} == {at.stain_runs("macenko")}
    assert {j.out_dir.parent.parent.parent for j in leakage_jobs(params)} == {at.image_split_runs()}
    assert {j.out_dir.parents[2] for j in pretraining_jobs(params)} == \
        {at.pretraining_runs("imagenet"), at.pretraining_runs("none")}
    with_folds = load_params(profile, ["data.split=folds", "data.folds=null", "eval.gan_folds=[1, 3]"])
    assert {j.out_dir.parents[3 if j.dose else 2] for j in gan_fold_jobs(with_folds)} == \
        {Layout.of(with_folds).gan_fold_runs(f"fold-{k}/") for k in (1, 3)}
    # bclib/gan/ still builds these itself (another change moves it onto the layout): they must agree
    one_magnification = ["data.magnification_protocol=per_magnification", "data.magnifications=[40X]"]
    for setting in (params, load_params(profile, ["data.folds=null"]), load_params(profile, one_magnification)):
        folder = setting.data.setting_folder
        assert gan_output_dir(setting) == Layout.of(setting).gan(folder)
        assert generated_dir(setting) == Layout.of(setting).generated(folder)
    assert [j.out_dir for j in sweep_jobs(params, ("gamma",))] == [at.sweep_point("gamma", g) for g in (1, 10)]
    assert at.gan_selection() == params.output_dir / SELECTION_FILE


def _grid_job(profile, sets, model, variant, seed, dose):
    """The job of the profile's grid (its own list of counts: the grid's jobs set one with --set)."""
    params = load_params(profile, [s for s in sets if not s.startswith("train.cwgan_images=")])
    jobs = classifier_jobs(params, "fusion") + classifier_jobs(params, "baselines")
    return next(j for j in jobs if (j.model, j.variant, j.seed, j.params.data.fold, j.params.train.cwgan_images)
                == (model, variant, seed, params.data.fold, dose))


@pytest.mark.parametrize("model, variant, sets, dose", [
    ("proposed", "cwgan", ["train.cwgan_images=2"], 2),
    ("proposed", "cwgan", ["train.cwgan_images=balance"], "balance"),
    ("proposed", "none", [], [0, 2, "balance"]),
    ("mobilenet", "none", ["data.fold=1"], [0, 2, "balance"]),
])
def test_bclib_train_without_out_writes_where_the_job_grid_and_the_report_look(profile, model, variant, sets,
                                                                                  dose):
    """The drift this fixes: the default dropped the fold folder and the n-<count> folder of the grid."""
    params = load_params(profile, sets)
    job = _grid_job(profile, sets, model, variant, 1, dose)
    assert default_train_out(profile, sets, params, model, variant, 1) == job.out_dir
    before = params.output_dir / "runs" / model / variant / "seed-1"  # the old default: not where the grid is
    assert job.out_dir != before


def test_the_train_command_uses_that_folder(profile, monkeypatch, tmp_path):
    import bclib.train

    written = []

    def fake_train(params, model, variant, seed, out, log=None):
        written.append(Path(out))
        return {"test_accuracy": 0.5, "n_test": 1}

    monkeypatch.setitem(vars(bclib.train), "train_classifier", fake_train)  # no lazy import of TensorFlow
    sets = ["train.cwgan_images=2"]
    assert main(["train", "--params", str(profile), "--set", sets[0], "--model", "proposed", "--variant", "cwgan",
                 "--seed", "1"]) == 0
    params = load_params(profile, sets)
    assert written == [_grid_job(profile, sets, "proposed", "cwgan", 1, 2).out_dir]
    assert written[0] == params.output_dir / "runs" / "fold-2" / "proposed" / "cwgan" / "n-2" / "seed-1"


def test_a_profile_of_one_count_has_no_count_folder_in_the_grid_or_by_default(profile):
    profile.write_text(profile.read_text().replace("cwgan_images: [0, 2, balance]", "cwgan_images: 2"))
    params = load_params(profile)
    job = _grid_job(profile, [], "proposed", "cwgan", 0, 2)
    assert job.out_dir == params.output_dir / "runs" / "fold-2" / "proposed" / "cwgan" / "seed-0"
    assert default_train_out(profile, [], params, "proposed", "cwgan", 0) == job.out_dir
