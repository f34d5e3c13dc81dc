from pathlib import Path

import pytest
import yaml

from bclib.errors import UserError
from bclib.params import Params, check_runnable, load_params
from bclib.paths import project_root
from bclib.variants import variant

PARAMS_DIR = project_root() / "params"


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


MINIMAL = "seed: 1\ndata:\n  dataset: breakhis\n  root: data\n"


@pytest.mark.parametrize("name", ["smoke", "breakhis", "bach"])
def test_every_profile_validates(name):
    params = load_params(PARAMS_DIR / f"{name}.yaml")
    assert params.profile == name
    raw = yaml.safe_load((PARAMS_DIR / f"{name}.yaml").read_text())
    assert set(raw) == {"seed", "data", "gan", "metrics", "train", "eval", "run"}


def test_real_profiles_carry_the_papers_settings():
    breakhis = load_params(PARAMS_DIR / "breakhis.yaml")
    assert breakhis.gan.resolution == 512 and breakhis.gan.lr_g == breakhis.gan.lr_d == 0.0025  # Table 7
    assert breakhis.gan.gamma_sweep == [0.5, 1.0, 1.5, 1.55, 2.0, 5.0]  # Table 8
    assert breakhis.gan.batch_sweep == [16, 32, 64, 128]  # Table 9
    assert breakhis.gan.n_generate == 640
    assert (breakhis.train.learning_rate, breakhis.train.batch_size, breakhis.train.epochs) == (1e-4, 32, 50)
    assert breakhis.train.early_stopping_patience == 10  # Table 10
    bach = load_params(PARAMS_DIR / "bach.yaml")
    assert (bach.train.learning_rate, bach.train.batch_size, bach.train.epochs) == (1e-3, 32, 200)  # Table 13
    assert bach.data.dataset == "bach"


def test_smoke_profile_is_offline_and_synthetic():
    smoke = load_params(PARAMS_DIR / "smoke.yaml")
    # every backbone random; the only pretrained weights are EfficientNet-Lite0's, which install offline
    assert smoke.train.weights == "none"
    assert smoke.metrics.features == smoke.eval.pretraining_models[0] == "efficientnet-lite0"
    assert smoke.data.root == (project_root() / "data" / "synthetic" / "breakhis").resolve()


def test_typo_names_file_and_key(tmp_path):
    path = write(tmp_path, MINIMAL + "train:\n  epocs: 3\n")
    with pytest.raises(UserError) as err:
        load_params(path)
    message = str(err.value)
    assert str(path) in message and "train.epocs" in message and "unknown key" in message
    assert "did you mean 'train.epochs'" in message
    assert "\n" not in message


def test_unknown_section_is_refused(tmp_path):
    with pytest.raises(UserError, match="trian: unknown key"):
        load_params(write(tmp_path, MINIMAL + "trian:\n  epochs: 3\n"))


@pytest.mark.parametrize(
    "snippet, key",
    [
        ("train:\n  epochs: ten\n", "train.epochs"),
        ("train:\n  learning_rate: -0.1\n", "train.learning_rate"),
        ("train:\n  batch_size: 0\n", "train.batch_size"),
        ("gan:\n  gamma: -1\n", "gan.gamma"),
        ("gan:\n  resolution: 100\n", "gan.resolution"),
        ("gan:\n  penalty: wgan\n", "gan.penalty"),
        ("data:\n  dataset: breakhis\n  root: d\n  split: patients\n", "data.split"),
    ],
)
def test_bad_values_are_refused_with_the_key(tmp_path, snippet, key):
    text = snippet if snippet.startswith("data:") else MINIMAL + snippet
    with pytest.raises(UserError) as err:
        load_params(write(tmp_path, text))
    assert key in str(err.value)


def test_power_of_two_reason_is_given(tmp_path):
    with pytest.raises(UserError, match="power of two"):
        load_params(write(tmp_path, MINIMAL + "gan:\n  resolution: 96\n"))


def test_missing_required_key(tmp_path):
    with pytest.raises(UserError, match="data.dataset: required key is missing"):
        load_params(write(tmp_path, "data:\n  root: x\n"))


def test_overrides(tmp_path):
    path = write(tmp_path, MINIMAL)
    params = load_params(path, ["train.epochs=3", "data.split=image", "gan.gamma_sweep=[1, 2]"])
    assert params.train.epochs == 3 and params.data.split == "image" and params.gan.gamma_sweep == [1.0, 2.0]
    with pytest.raises(UserError, match="train.epocs: unknown key"):
        load_params(path, ["train.epocs=3"])
    with pytest.raises(UserError, match="KEY=VALUE"):
        load_params(path, ["train.epochs"])


def test_relative_paths_follow_the_file(tmp_path):
    params = load_params(write(tmp_path, MINIMAL + "run:\n  output_dir: out\n"))
    assert params.data.root == (tmp_path / "data").resolve()
    assert params.output_dir == (tmp_path / "out").resolve()
    assert isinstance(params, Params)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(UserError, match="parameter file not found"):
        load_params(tmp_path / "nope.yaml")
    with pytest.raises(UserError, match="not valid YAML at line 2"):
        load_params(write(tmp_path, "seed: 1\ndata: {root: [}\n"))


def test_fractions_must_leave_training_data(tmp_path):
    with pytest.raises(UserError, match="val_fraction"):
        load_params(write(tmp_path,
                          MINIMAL.replace("root: data", "root: data\n  val_fraction: 0.5\n  test_fraction: 0.5")))


def test_check_runnable(tmp_path):
    params = load_params(write(tmp_path, MINIMAL + "run:\n  output_dir: out\n"))
    with pytest.raises(UserError, match="data.root: folder does not exist"):
        check_runnable(params)
    (tmp_path / "data").mkdir()
    check_runnable(params)
    assert (tmp_path / "out").is_dir() and not any((tmp_path / "out").iterdir())
    (tmp_path / "blocker").write_text("a file, not a folder")
    params = load_params(write(tmp_path, MINIMAL + "run:\n  output_dir: blocker/out\n"))
    with pytest.raises(UserError, match="run.output_dir: cannot write"):
        check_runnable(params)


def test_resolved_params_round_trip(tmp_path):
    params = load_params(write(tmp_path, MINIMAL), ["train.epochs=7"])
    resolved = write(tmp_path, params.to_yaml(), "resolved.yaml")
    again = load_params(resolved)
    assert again.model_dump() == params.model_dump() | {"run": again.model_dump()["run"]}
    assert again.profile == "p" and again.train.epochs == 7


def test_cwgan_variant_without_generated_images_is_refused_before_anything_runs(tmp_path):
    from bclib.errors import UserError
    from bclib.params import load_params

    bach = Path(__file__).resolve().parents[1] / "params" / "bach.yaml"
    with pytest.raises(UserError, match="generates no images"):
        load_params(bach, ["gan.n_generate=0"])
    with pytest.raises(UserError, match="generates no images"):
        load_params(bach, ["gan.target_class=[]"])
    assert load_params(bach, ["gan.n_generate=0", "train.variants=[none, tradaug]"]).gan.n_generate == 0


def test_a_sweep_without_scores_is_refused(tmp_path):
    # A sweep ranks its runs by FID; with no scores during training notebook 02 failed on a missing column.
    with pytest.raises(UserError, match="gan.gamma_sweep: a sweep ranks its runs by FID"):
        load_params(write(tmp_path, MINIMAL), ["gan.gamma_sweep=[1, 10]", "metrics.during_training=false"])
    unswept = load_params(write(tmp_path, MINIMAL), ["gan.gamma_sweep=[]", "gan.batch_sweep=[]",
                                                     "metrics.during_training=false"])
    assert not unswept.metrics.during_training


def test_profiles_with_gan_images_give_real_tiles_the_gans_geometry():
    """Issue #40 item 1: every profile that adds cWGAN images (a cwgan variant or eval.gan_folds) makes real tiles
    square the way the GAN cuts its images (data.geometry crop, with a GAN that crops: gan.crop random or centre),
    so no arm of a GAN comparison sees unsquashed tissue only in its generated, benign images."""
    checked = []
    for path in sorted(PARAMS_DIR.glob("*.yaml")):
        params = load_params(path)
        if any(variant(v).adds_images for v in params.train.variants) or params.eval.gan_folds:
            assert params.data.geometry == "crop" and params.gan.crop != "squash", path.name
            checked.append(path.stem)
    # bach-smoke trains no cWGAN variant (make test's budget): its classifiers see no generated images
    assert {"smoke", "breakhis", "breakhis-gan-folds", "breakhis-headline", "bach"} <= set(checked)
    assert Params.model_validate(yaml.safe_load(MINIMAL)).data.geometry == "squash"  # the paper's resize
