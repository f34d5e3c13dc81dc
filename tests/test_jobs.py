"""The batch runner: dependencies, skipping, failures, resuming, --jobs and a Dask cluster."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bclib.experiment import plan
from bclib.ledger import is_done, job_key
from bclib.params import load_params
from bclib.runner.scheduler import executor_for, run_jobs

# -- the scheduler, on jobs that are one-line Python commands -----------------------------


@dataclass
class ScriptJob:
    name: str
    out_dir: Path
    params: object = field(repr=False)
    code: str = ""
    depends_on: tuple = ()

    def commands(self):
        return [[sys.executable, "-c", self.code]]

    def outputs_complete(self):
        return (self.out_dir / "done").is_file()

    def inputs(self):
        return {}

    code_parts = ()

    def is_complete(self):
        return is_done(self)


@pytest.fixture
def params(tmp_path, breakhis_root):
    path = tmp_path / "p.yaml"
    path.write_text(f"seed: 0\ndata: {{dataset: breakhis, root: {breakhis_root}}}\n"
                    f"run: {{output_dir: {tmp_path / 'out'}}}\n")
    return load_params(path)


def script_job(tmp_path, params, name, body="pass", depends_on=()):
    out = tmp_path / "jobs" / name
    log = tmp_path / "order.txt"
    code = (f"import pathlib, time; log = pathlib.Path({str(log)!r}); "
            f"log.open('a').write('start {name}\\n'); {body}; time.sleep(0.2); "
            f"pathlib.Path({str(out)!r}, 'done').write_text('ok'); log.open('a').write('end {name}\\n')")
    return ScriptJob(name, out, params, code, tuple(depends_on))


def test_dependencies_run_first_failures_propagate_and_reruns_skip(tmp_path, params):
    jobs = [script_job(tmp_path, params, "b", depends_on=["a"]),
            script_job(tmp_path, params, "a"),
            script_job(tmp_path, params, "c"),
            script_job(tmp_path, params, "broken", body="raise SystemExit('bclib: error: broken on purpose')"),
            script_job(tmp_path, params, "after-broken", depends_on=["broken"])]
    messages = []
    with executor_for(2) as pool:
        records = run_jobs(jobs, pool, parallel=2, log=messages.append)
    status = {r["name"]: r["status"] for r in records}
    assert status == {"b": "ok", "a": "ok", "c": "ok", "broken": "failed", "after-broken": "failed"}
    order = (tmp_path / "order.txt").read_text().split("\n")
    assert order.index("end a") < order.index("start b")
    assert "start after-broken" not in order
    errors = {r["name"]: r.get("error", "") for r in records}
    assert errors["broken"] == "exit 1: bclib: error: broken on purpose"
    assert errors["after-broken"] == "not run: depends on failed job broken"
    manifest = json.loads((tmp_path / "jobs" / "a" / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["key"] == job_key(jobs[1])
    assert any("done" in m and "elapsed" in m and "failed" in m for m in messages)  # one progress line per event

    (tmp_path / "order.txt").unlink()
    broken = script_job(tmp_path, params, "broken")  # fixed
    with executor_for(2) as pool:
        again = run_jobs(jobs[:3] + [broken, jobs[4]], pool, parallel=2, log=lambda m: None)
    assert {r["name"]: r["status"] for r in again} == {
        "b": "skipped", "a": "skipped", "c": "skipped", "broken": "ok", "after-broken": "ok"}
    assert set((tmp_path / "order.txt").read_text().split()) == {"start", "end", "broken", "after-broken"}


def test_changed_parameters_or_forgotten_outputs_make_a_job_run_again(tmp_path, params):
    job = script_job(tmp_path, params, "a")
    with executor_for(1) as pool:
        run_jobs([job], pool, log=lambda m: None)
    assert is_done(job)
    changed = script_job(tmp_path, load_params(params._source, ["train.epochs=7"]), "a")
    assert job_key(changed) != job_key(job) and not is_done(changed)
    (job.out_dir / "done").unlink()
    assert not is_done(job)


def test_jobs_run_in_process_skip_complete_ones_and_are_recorded(tmp_path, params):
    from bclib.ledger import run_in_process

    class InProcess(ScriptJob):
        def is_complete(self):
            return is_done(self)

    first, second = (InProcess(j.name, j.out_dir, params, j.code) for j in
                     (script_job(tmp_path, params, "first"), script_job(tmp_path, params, "second")))
    ran, messages = [], []

    def run(job):
        ran.append(job.name)
        job.out_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(job.commands()[0], check=True)

    run_in_process([first], run, messages.append)
    run_in_process([first, second], run, messages.append)
    assert ran == ["first", "second"]  # "first" was complete and recorded the second time
    assert "[1/2] first: complete, skipped" in messages and is_done(second)


def test_cycles_and_unknown_dependencies_are_refused(tmp_path, params):
    with executor_for(1) as pool:
        independent = script_job(tmp_path, params, "z")
        with pytest.raises(ValueError, match="cycle: (x -> y -> x|y -> x -> y)"):
            run_jobs([independent, script_job(tmp_path, params, "x", depends_on=["y"]),
                      script_job(tmp_path, params, "y", depends_on=["x"])], pool, log=lambda m: None)
        assert not (independent.out_dir / "done").exists()  # the cycle is refused before any job runs
        with pytest.raises(ValueError, match="unknown"):
            run_jobs([script_job(tmp_path, params, "x", depends_on=["nope"])], pool, log=lambda m: None)


# -- real jobs: a two-point gamma sweep, through `bclib run` -------------------------------------

TINY_BATCH = """
seed: 0
data: {{dataset: breakhis, root: {root}, image_size: 32}}
gan: {{resolution: 32, batch_size: 4, latent_dim: 8, n_critic: 1, total_kimg: 0.008, snapshot_kimg: 0.008,
       max_channels: 16, channel_base: 256, gamma_sweep: [1, 10], sweep_kimg: 0.008}}
metrics: {{weights: none, image_size: 75, n_generated: 8, kid_subsets: 2, kid_subset_size: 4, precision_recall: false,
          swd: false}}
train: {{models: [], variants: [none]}}
eval: {{leakage_models: []}}
run: {{output_dir: {out}}}
"""


def batch_params(tmp_path, root, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(TINY_BATCH.format(root=root, out=tmp_path / name))
    return path


def bclib_run(params_path, *args, timeout=600):
    bclib = Path(sys.executable).with_name("bclib")
    return subprocess.run([str(bclib), "run", "--params", str(params_path), "--jobs-only", *args],
                          capture_output=True, text=True, timeout=timeout)


def statuses(out_dir):
    return {j["name"]: j["status"] for j in json.loads((out_dir / "manifest.json").read_text())["jobs"]}


def test_plan_lists_sweep_points_and_classifier_runs(tmp_path, breakhis_root):
    params = load_params(batch_params(tmp_path, breakhis_root, "plan"))
    assert [j.name for j in plan(params)] == ["gamma-1", "gamma-10"]
    with_gan = load_params(batch_params(tmp_path, breakhis_root, "plan"),
                           ["train.models=[mobilenet, proposed, proposed-gap]", "train.variants=[none, cwgan]",
                            "gan.target_class=benign", "gan.n_generate=4",
                            "eval.leakage_models=[mobilenet]"])
    jobs = {j.name: j for j in plan(with_gan)}
    assert list(jobs)[0] == "gan" and jobs["proposed/cwgan/seed-0"].depends_on == ("gan",)
    assert "mobilenet/cwgan/seed-0" not in jobs  # baselines: none and tradaug only
    assert jobs["proposed-gap/cwgan/seed-0"].depends_on == ("gan",)  # both fusion models: every variant
    from bclib.experiment.costs import plan_costs

    groups, _, _ = plan_costs(with_gan)
    assert groups["proposed-gap"].jobs == 2 and groups["proposed-gap"].disk_gb > 0
    assert jobs["image-split/mobilenet/none/seed-0"].params.data.split == "image"


def test_plan_command_prints_every_group_and_the_total_of_the_jobs_it_would_run(tmp_path, breakhis_root):
    path = batch_params(tmp_path, breakhis_root, "plan")
    text = path.read_text().replace("train: {models: [], variants: [none]}",
                                    "train: {models: [mobilenet, proposed], variants: [none, cwgan]}")
    path.write_text(text.replace("gamma_sweep: [1, 10]", "gamma_sweep: [1, 10], batch_sweep: [4, 8], gamma: 10, "
                                                         "target_class: benign, n_generate: 4"))
    bclib = Path(sys.executable).with_name("bclib")
    shown = subprocess.run([str(bclib), "plan", "--params", str(path)], capture_output=True, text=True,
                           timeout=300, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in shown.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| group") and not line.startswith("| ---")}
    # gamma 1, gamma 10 (= batch 4 at gamma 10), batch 8; the GAN; mobilenet none; proposed none and cwgan
    assert rows == {"cWGAN (train + generate)": "1", "GAN sweep: gamma": "2", "GAN sweep: batch": "1",
                    "baseline mobilenet": "1", "proposed": "2", "**total**": "7"}, shown.stdout
    assert len(plan(load_params(path))) == 7


def test_parallel_jobs_then_a_rerun_skips_every_completed_job(tmp_path, breakhis_root):
    params_path = batch_params(tmp_path, breakhis_root, "local")
    first = bclib_run(params_path, "--jobs", "2")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert statuses(tmp_path / "local") == {"gamma-1": "ok", "gamma-10": "ok"}
    assert "running" in first.stdout and "elapsed" in first.stdout
    # one manifest layout for every kind of run (bclib.runner.run_manifest): a jobs-only run says what it ran on
    manifest = json.loads((tmp_path / "local" / "manifest.json").read_text())
    provenance = {"params", "overrides", "git", "packages", "machine", "data", "started", "finished", "wall_s"}
    assert provenance <= set(manifest)
    assert manifest["status"] == "ok" and manifest["params_file"] == str(params_path.resolve())
    assert manifest["wall_s"] >= max(j["wall_s"] for j in manifest["jobs"])  # the run's time counts its jobs
    again = bclib_run(params_path, "--jobs", "2")
    assert again.returncode == 0
    assert set(statuses(tmp_path / "local").values()) == {"skipped"}
    # `--force` reruns complete, up-to-date jobs; then the notebooks run and find every job done.
    bclib = Path(sys.executable).with_name("bclib")
    forced = subprocess.run([str(bclib), "run", "--params", str(params_path), "--jobs", "2", "--force", "--only", "02"],
                            capture_output=True, text=True, timeout=600)
    assert forced.returncode == 0, forced.stdout[-2000:] + forced.stderr[-2000:]
    assert statuses(tmp_path / "local") == {"gamma-1": "ok", "gamma-10": "ok"}
    executed = (tmp_path / "local" / "notebooks" / "02_gan_sweeps.ipynb").read_text()
    assert "gamma-1: complete, skipped" in executed and "gamma-10: complete, skipped" in executed
    assert ": training" not in executed  # the notebook trained nothing again


def test_complete_sweep_points_are_read_without_loading_tensorflow(tmp_path, breakhis_root):
    """Notebook 02 after notebook 01 (or after `bclib run`) finds every sweep point complete: skipping them
    must not load TensorFlow (~5 CPU-s in every such kernel, for nothing)."""
    code = ("import json, sys\n"
            "from bclib.params import load_params\n"
            "from bclib.experiment.gan_sweeps import sweep_jobs, run_sweep_jobs\n"
            "from bclib.ledger import record_job\n"
            f"jobs = sweep_jobs(load_params({str(batch_params(tmp_path, breakhis_root, 'read'))!r}))\n"
            "for job in jobs:\n"
            "    job.out_dir.mkdir(parents=True)\n"
            "    (job.out_dir / 'metrics.jsonl').write_text(json.dumps({'kimg': job.params.gan.total_kimg}) + '\\n')\n"
            "    record_job(job, 'ok', 0.0)\n"
            "lines = []\n"
            "run_sweep_jobs(jobs, log=lines.append)\n"
            "print(json.dumps([lines, sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)]))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert lines == ["[1/2] gamma-1: complete, skipped", "[2/2] gamma-10: complete, skipped"]
    assert loaded == []


def test_a_wrong_only_is_refused_before_any_job_runs(tmp_path, breakhis_root):
    from bclib.errors import UserError
    from bclib.runner import run_batch

    previous = tmp_path / "only" / "params.yaml"  # the resolved parameters of an earlier run of the profile
    previous.parent.mkdir()
    previous.write_text("an earlier run's parameters\n")
    with pytest.raises(UserError, match="--only: no notebook starts with 9"):
        run_batch(batch_params(tmp_path, breakhis_root, "only"), ["gan.n_critic=2"], only=["9"], log=lambda m: None)
    assert not (tmp_path / "only" / "sweeps").exists()  # no job started
    assert previous.read_text() == "an earlier run's parameters\n"  # and nothing of the earlier run overwritten


def test_the_notebooks_import_the_job_modules_by_their_names():
    """`from bclib.experiment import classifier_jobs` (notebooks 03-04) must give the module, not the function of
    the same name."""
    import inspect

    from bclib.experiment import classifier_jobs, gan_jobs, gan_sweeps

    assert all(inspect.ismodule(m) for m in (classifier_jobs, gan_jobs, gan_sweeps))


def test_jobs_run_on_a_dask_cluster(tmp_path, breakhis_root):
    distributed = pytest.importorskip("distributed")
    params_path = batch_params(tmp_path, breakhis_root, "dask")
    # one sweep point: the cluster, not the number of jobs, is what this test is about
    params_path.write_text(params_path.read_text().replace("gamma_sweep: [1, 10]", "gamma_sweep: [1]"))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = bclib_run(params_path, "--executor", cluster.scheduler_address.replace("tcp://", "dask://"))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert set(statuses(tmp_path / "dask").values()) == {"ok"}


def test_an_unreachable_dask_scheduler_is_one_line(tmp_path, breakhis_root):
    result = bclib_run(batch_params(tmp_path, breakhis_root, "nodask"), "--executor", "dask://127.0.0.1:9",
                       timeout=120)  # port 9 (discard): nothing listens there
    assert result.returncode == 2 and "cannot reach the Dask scheduler" in result.stderr.strip().splitlines()[-1]


def test_a_killed_batch_resumes_without_redoing_finished_jobs(tmp_path, breakhis_root):
    params_path = batch_params(tmp_path, breakhis_root, "killed")
    out = tmp_path / "killed"
    bclib = Path(sys.executable).with_name("bclib")
    process = subprocess.Popen([str(bclib), "run", "--params", str(params_path), "--jobs-only", "--jobs", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first_done = out / "sweeps" / "gamma-1" / "manifest.json"
    deadline = time.time() + 300
    while time.time() < deadline and not first_done.is_file() and process.poll() is None:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # the runner and the job it is running, as a pre-empted machine would
    process.wait()
    assert first_done.is_file()
    finished_at = json.loads(first_done.read_text())["finished"]
    result = bclib_run(params_path, "--jobs", "1")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    status = statuses(out)
    assert status["gamma-1"] == "skipped" and set(status.values()) <= {"ok", "skipped"}
    assert json.loads(first_done.read_text())["finished"] == finished_at  # not redone


@pytest.mark.parametrize("profile", sorted((Path(__file__).resolve().parents[1] / "params").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_job_of_every_committed_profile_formats_as_strings(profile, tmp_path):
    """`bclib run --jobs` never puts a non-string (e.g. a null target class) into a command line; every job of
    every kind follows the one job protocol the scheduler and the ledger rely on, under a name of its own."""
    from bclib.experiment import Job
    from bclib.params import load_params

    params = load_params(profile, [f"run.output_dir={tmp_path}"])
    jobs = plan(params)
    assert jobs
    assert len({job.name for job in jobs}) == len(jobs)
    for job in jobs:
        assert isinstance(job, Job), f"{job.name} ({type(job).__name__}) lacks part of the job protocol"
        for command in job.commands():
            assert all(isinstance(word, str) and word for word in command), (job.name, command)
    gan_jobs = [j for j in jobs if j.name == "gan"]
    if params.data.dataset == "bach" and gan_jobs:  # null target_class: every BACH class is generated
        generate = gan_jobs[0].commands()[1]
        assert generate[generate.index("--class") + 1] == "normal,benign,in_situ,invasive"
