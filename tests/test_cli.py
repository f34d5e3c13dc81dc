import json
import os
import subprocess
import sys
from pathlib import Path

from bclib.cli import main
from bclib.data import synth
from helpers import breast_dir, first_image

TINY_TRAIN_NO_OUTPUT = """
seed: 0
data: {{dataset: breakhis, root: {root}}}
train: {{epochs: 1, batch_size: 16, image_size: 64, weights: none, learning_rate: 0.001}}
"""

N_BREAKHIS = (sum(synth.DEFAULT_PATIENTS.values()) + 1) * 4


def run_cli(*args):
    """The installed console script, as a user runs it."""
    bclib = Path(sys.executable).with_name("bclib")
    return subprocess.run([str(bclib), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_audit_breakhis_exact_counts(breakhis_copy, tmp_path):
    first_image(breast_dir(breakhis_copy) / "benign").write_bytes(b"")
    out = tmp_path / "audit.json"
    assert main(["audit", "--dataset", "breakhis", "--root", str(breakhis_copy), "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["dataset"] == "breakhis" and record["synthetic"] is True
    assert record["n_images"] == N_BREAKHIS - 1
    assert record["n_patients"] == sum(synth.DEFAULT_PATIENTS.values())
    patients = synth.DEFAULT_PATIENTS
    benign = sum(patients[s] for s in ("adenosis", "fibroadenoma", "phyllodes_tumor", "tubular_adenoma"))
    assert record["by_class"] == {"benign": benign * 4 - 1, "malignant": N_BREAKHIS - benign * 4}
    assert record["by_subtype"]["adenosis"] == patients["adenosis"] * 4 - 1
    assert record["by_subtype"]["lobular_carcinoma"] == (patients["lobular_carcinoma"] + 1) * 4  # + the shared patient
    assert set(record["by_magnification"]) == {"40X", "100X", "200X", "400X"}
    assert len(record["problems"]) == 1 and record["problems"][0]["problem"].startswith("empty file")
    assert not Path(record["problems"][0]["path"]).is_absolute()
    assert "splits" not in record


def test_audit_with_patient_split(breakhis_root, tmp_path):
    out = tmp_path / "audit.json"
    assert main(["audit", "--dataset", "breakhis", "--root", str(breakhis_root), "--split", "patient",
                 "--seed", "2", "--json", str(out)]) == 0
    splits = json.loads(out.read_text())["splits"]
    assert set(splits) == {"train", "val", "test"}
    assert sum(s["n_images"] for s in splits.values()) == N_BREAKHIS
    sets = [set(s["patients"]) for s in splits.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert all(s["n_patients"] == len(s["patients"]) for s in splits.values())


def test_audit_with_the_subtype_task_counts_and_splits_by_subtype(breakhis_root, tmp_path):
    out = tmp_path / "audit.json"
    assert main(["audit", "--dataset", "breakhis", "--root", str(breakhis_root), "--task", "subtype",
                 "--split", "patient", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    subtypes = set(synth.DEFAULT_PATIENTS)
    assert set(record["by_class"]) == subtypes  # the task's classes, not benign/malignant
    splits = record["splits"]
    for part in ("train", "val", "test"):  # every subtype has >= 3 patients, so it is on every side
        assert set(splits[part]["by_class"]) == subtypes, part
    sets = [set(s["patients"]) for s in splits.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])


def test_audit_bach(bach_root, tmp_path):
    out = tmp_path / "bach.json"
    assert main(["audit", "--dataset", "bach", "--root", str(bach_root), "--split", "patient", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["n_images"] == 16
    assert record["by_class"] == {c: 4 for c in ("normal", "benign", "in_situ", "invasive")}
    assert "n_patients" not in record and record["splits"]["test"]["patients"] is None


def test_audit_without_dataset_is_one_line_and_nonzero(tmp_path):
    result = run_cli("audit", "--dataset", "breakhis", "--root", tmp_path, "--json", tmp_path / "a.json")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no BreakHis dataset here" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "a.json").exists()


def test_run_with_typo_stops_before_running(tmp_path):
    params = tmp_path / "typo.yaml"
    params.write_text(f"data:\n  dataset: breakhis\n  root: {tmp_path}\ntrain:\n  epocs: 3\n")
    result = run_cli("run", "--params", params)
    assert result.returncode == 2
    assert "train.epocs: unknown key" in result.stderr and str(params) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists()


def test_synth_command(tmp_path):
    result = run_cli("synth", "--layout", "bach", "--out", tmp_path / "b", "--images-per-class", "2", "--size", "32x32")
    assert result.returncode == 0, result.stderr
    assert "8 images" in result.stdout
    bad = run_cli("synth", "--layout", "bach", "--out", tmp_path / "c", "--size", "big")
    assert bad.returncode == 2 and "WIDTHxHEIGHT" in bad.stderr


# ---------------------------------------------------------------------------
# The command line a newcomer meets: version, help, synopsis, a quiet console, outputs in the right place


def test_version_and_plain_text_help():
    from bclib import __version__

    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"bclib {__version__}"
    helped = run_cli("--help")
    assert helped.returncode == 0 and "``" not in helped.stdout and "COMMAND" in helped.stdout


def _leaf_parsers(parser, words=("bclib",)):
    import argparse

    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(words), parser
        return
    for name, child in subs[0].choices.items():
        yield from _leaf_parsers(child, words + (name,))


def test_every_option_of_every_command_has_help_text():
    from bclib.cli import build_parser

    missing = [f"{command} {action.option_strings or action.dest}"
               for command, parser in _leaf_parsers(build_parser()) for action in parser._actions
               if not action.help]
    assert not missing, f"options without help text: {missing}"


def test_readme_synopsis_matches_the_parser():
    from bclib.cli import synopsis

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("## The command line", 1)[1].split("```", 2)[1]
    documented = [line.strip() for line in block.strip().splitlines() if line.strip()]
    assert documented == synopsis(), "README's command-line block differs from `bclib.cli.synopsis()`"


def test_train_from_another_folder_is_quiet_and_writes_into_the_profiles_project(tmp_path, breakhis_root):
    project = tmp_path / "study"
    (project / "params").mkdir(parents=True)
    (project / "notebooks").mkdir()
    profile = project / "params" / "elsewhere-check.yaml"
    profile.write_text(TINY_TRAIN_NO_OUTPUT.format(root=breakhis_root))
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    bclib = Path(sys.executable).with_name("bclib")
    result = subprocess.run([str(bclib), "train", "--params", str(profile), "--model", "mobilenet"], cwd=elsewhere,
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    outputs = project / "outputs" / "elsewhere-check"
    assert (outputs / "runs" / "mobilenet" / "none" / "seed-0" / "run.json").is_file()
    assert any((outputs / "cache" / "trunk").iterdir())
    assert not (elsewhere / "outputs").exists()
    installed = Path(__file__).resolve().parents[1] / "outputs" / "elsewhere-check"
    assert not installed.exists(), "outputs went to the installed checkout, not the profile's project"
    noisy = [line for line in (result.stdout + result.stderr).splitlines()
             if line.startswith(("E0000", "I0000", "W0000")) or "absl::InitializeLog" in line]
    assert not noisy, f"TensorFlow log lines on the console: {noisy[:3]}"


def test_plan_loads_no_tensorflow():
    """`bclib plan` and `bclib run`'s scheduler only read the job grid: loading TensorFlow there cost
    ~5 s per command, and once more in every job process before its own work began."""
    code = ("import sys, io, contextlib\n"
            "from bclib.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['plan', '--params', 'params/smoke.yaml']) == 0\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n")
    from bclib.paths import project_root

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=project_root())
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
