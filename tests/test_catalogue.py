"""bclib.catalogue, the one list of models: adding a model is one entry, and what reads the list sees it."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from bclib import catalogue
from bclib.catalogue import ModelEntry

ROOT = Path(__file__).resolve().parents[1]
TWIN = "twinnet"

PROFILE = """
seed: 0
data: {{dataset: breakhis, root: {root}}}
train: {{models: [mobilenet], epochs: 1, image_size: 64, weights: none}}
run: {{output_dir: {out}}}
"""


@pytest.fixture
def twin():
    """A throw-away baseline on MobileNet's backbone, registered in the catalogue only, removed afterwards."""
    added = catalogue.register(ModelEntry(TWIN, "MobileNet (twin)", "baseline", ("mobilenet",), (1024,)))
    yield added
    catalogue.unregister(TWIN)
    assert TWIN not in catalogue.model_names()


def _profile(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(PROFILE.format(root=tmp_path / "no-data", out=tmp_path / "out"))
    return path


def _train_help() -> str:
    from bclib.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = " ".join(sub.choices["train"].format_help().split())
    return text.replace("- ", "-")  # argparse may break a line after a name's hyphen


def test_catalogue_imports_no_tensorflow():
    code = ("import sys, bclib.catalogue, bclib.params; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_lookups_and_refusals():
    names = catalogue.model_names()
    assert names[:2] == ("densenet201", "nasnetmobile") and set(catalogue.fusion_models()) == {"proposed",
                                                                                               "proposed-gap"}
    assert set(catalogue.baseline_models()) | set(catalogue.fusion_models()) == set(names)
    assert [e.name for e in catalogue.entries()] == list(names)
    assert catalogue.entry("densenet201").label == "DenseNet-201"
    assert [catalogue.entry(n).keras_name for n in ("proposed", "proposed-gap", "vgg16")] == [
        "proposed", "proposed_gap", "baseline_vgg16"]
    with pytest.raises(ValueError, match=r"unknown model 'alexnet' \(known: densenet201, .*proposed-gap, .*vit-tiny"):
        catalogue.entry("alexnet")
    with pytest.raises(ValueError, match="already in the catalogue"):
        catalogue.register(catalogue.entry("vgg16"))
    with pytest.raises(ValueError, match="unknown backbone"):
        catalogue.register(ModelEntry("wide", "Wide", "fusion", ("vgg16", "alexnet", "mobilenet"), (1, 2, 3)))
    with pytest.raises(ValueError, match="built in"):
        catalogue.unregister("vgg16")


def test_fine_tuning_rules_and_store_sizes():
    proposed, gap, vgg = (catalogue.entry(n) for n in ("proposed", "proposed-gap", "vgg16"))
    assert proposed.backbone_of("nasnetmobile_shallow") == "nasnetmobile" and gap.backbone_of("vgg16") == "vgg16"
    assert proposed.layers_kept_frozen("densenet201", 700, 0.7) == 200
    assert proposed.layers_kept_frozen("nasnetmobile", 700, 0.7) == 700  # not listed: stays frozen
    assert vgg.layers_kept_frozen("vgg16", 100, 0.7) == 70
    assert proposed.floats_per_image(224) == 28 ** 2 * 264 + 14 ** 2 * 1024 + 7 ** 2 * 1920
    assert gap.floats_per_image(224) == sum(catalogue.entry(b).features[0] for b in gap.backbones) == 3488


def test_a_registered_model_is_accepted_planned_and_listed(twin, tmp_path):
    from bclib.experiment.classifier_jobs import classifier_jobs
    from bclib.experiment.costs import plan_costs
    from bclib.params import load_params

    params = load_params(_profile(tmp_path), [f"train.models=[{TWIN}, proposed]"])
    assert params.train.models == [TWIN, "proposed"]
    assert [j.name for j in classifier_jobs(params, "baselines")] == [f"{TWIN}/none/seed-0"]
    groups, _, _ = plan_costs(params)
    assert groups[f"baseline {TWIN}"].jobs == 1 and groups[f"baseline {TWIN}"].disk_gb > 0
    mobilenet, _, _ = plan_costs(load_params(_profile(tmp_path), ["train.models=[mobilenet]"]))
    assert groups[f"baseline {TWIN}"].cpu_hours == pytest.approx(mobilenet["baseline mobilenet"].cpu_hours)
    assert f"vit-tiny-head or {TWIN} (bclib/catalogue.py)" in _train_help()


def test_an_unknown_model_is_refused_by_the_schema(tmp_path):
    from bclib.errors import UserError
    from bclib.params import load_params

    with pytest.raises(UserError, match=f"unknown model.*{TWIN}"):
        load_params(_profile(tmp_path), [f"train.models=[{TWIN}]"])
    assert TWIN not in _train_help() and "vit-tiny or vit-tiny-head" in _train_help()


def test_paper_rows_name_the_catalogue_entries():
    from bclib.reference import paper_table

    for table in ("table11_breakhis_per_class", "table12_bach_per_class"):
        rows = paper_table(table)
        for model, name in set(zip(rows["model"], rows["bclib_model"])):
            row = catalogue.entry(name).paper_row
            assert row and (model == row if catalogue.entry(name).kind == "baseline" else
                            model.split(" + ")[0] in (row, row.replace("Model", "Method")))


def test_keras_builders_agree_with_the_catalogue(twin):
    """backbones.py, fusion.py, gap_fusion.py and registry.py hold Keras builders keyed by catalogue names."""
    from bclib.models import BACKBONES, FUSION_TAPS, GAP_BACKBONES, build_model
    from bclib.models.encoders import ENCODERS
    from bclib.models.gap_fusion import GAP_DEFAULT_THIRD
    from bclib.models.registry import FUSION_BUILDERS

    used = {b for e in catalogue.entries() if not e.encoder for b in e.backbones}
    assert used == set(BACKBONES), "every backbone a model uses has a Keras builder, and no other"
    assert all(spec.name == key and key in catalogue.baseline_models() for key, spec in BACKBONES.items())
    for name in catalogue.encoder_models():  # each encoder model names a known architecture of its width
        spec = catalogue.entry(name)
        assert spec.kind == "baseline" and spec.features == (ENCODERS[spec.backbones[0]].embedding_size,)
    assert set(FUSION_BUILDERS) == set(catalogue.fusion_models())
    assert {b for b, _, _ in FUSION_TAPS} == set(catalogue.entry("proposed").backbones)
    assert (*GAP_BACKBONES, GAP_DEFAULT_THIRD) == catalogue.entry("proposed-gap").backbones
    assert {e.name for e in catalogue.BUILT_IN} == set(catalogue.model_names()) - {TWIN}
    model = build_model(TWIN, 2, 32, "none")  # the one registered entry is enough to build it
    assert model.name == f"baseline_{TWIN}" and model.get_layer("trunk").get_layer("mobilenet") is not None
