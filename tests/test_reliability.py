"""Interruptions lose nothing, reruns are identical, the user's environment errors are one line."""

import errno
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from bclib import cli  # noqa: E402
from bclib.params import load_params  # noqa: E402
from bclib.train import train_classifier  # noqa: E402
from helpers import TINY_TRAIN  # noqa: E402

EPOCHS = 60  # cached features make an epoch take milliseconds; enough epochs to kill mid-run twice


def test_killed_classifier_training_resumes_and_loses_nothing(tmp_path, breakhis_root):
    params = tmp_path / "p.yaml"
    params.write_text(TINY_TRAIN.format(root=breakhis_root, out=tmp_path / "out"))
    run = tmp_path / "run"
    bclib = Path(sys.executable).with_name("bclib")
    command = [str(bclib), "train", "--params", str(params), "--model", "mobilenet", "--variant", "none",
               "--set", f"train.epochs={EPOCHS}", "--set", "train.early_stopping_patience=1000",
               "--set", "train.checkpoint_every_s=0", "--set", "train.image_size=32", "--out", str(run)]
    state = run / "checkpoint" / "stage-1" / "state.json"
    rng = np.random.default_rng(7)
    kills = []  # the epoch each killed process had checkpointed
    for number, target in enumerate(sorted(rng.integers(10, EPOCHS - 30, 2))):  # two SIGKILLs at random epochs
        log = tmp_path / f"attempt-{number}.log"
        with log.open("w") as sink:
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
            deadline = time.time() + 300
            done = 0
            while time.time() < deadline and process.poll() is None and done < target:
                try:
                    done = json.loads(state.read_text())["epochs_done"]
                except (OSError, ValueError, KeyError):
                    pass
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
            process.wait()
        kills.append(json.loads(state.read_text())["epochs_done"])  # what the checkpoint holds, not the last poll
        assert not (run / "run.json").exists()  # killed before the end: no result pretends to be complete
        if number:  # a restart that started over would not say so, and would not pass the last kill
            assert "resumed stage 1 from its checkpoint" in log.read_text(), log.read_text()[-2000:]
            assert kills[-1] >= kills[-2]
    assert kills[0] >= 10
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resumed stage 1 from its checkpoint" in result.stdout
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == list(range(1, EPOCHS + 1))  # no epoch repeated or missing
    assert json.loads((run / "run.json").read_text())["epochs_run"] == EPOCHS
    assert not (run / "checkpoint").exists() and not [p for p in run.rglob(".*")]


@pytest.mark.parametrize("every_s, seen_at_epoch_ends", [(0.0, [False, True, True]), (3600.0, [False] * 3)])
def test_epoch_checkpoints_are_written_at_most_every_so_many_seconds(tmp_path, every_s, seen_at_epoch_ends):
    from bclib.train.fitting import ResumableFitter

    state = tmp_path / "checkpoint" / "stage-1" / "state.json"
    seen = []
    looker = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(state.is_file()))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    fitter = ResumableFitter(tmp_path, "tag", [looker], "tiny", lambda message: None, checkpoint_every_s=every_s)
    x, y = np.random.default_rng(0).normal(size=(8, 3)), np.array([0, 1] * 4)
    fitter.fit(1, model, x, y, epochs=3, batch_size=4)
    assert seen == seen_at_epoch_ends  # the looker runs before its own epoch's checkpoint: it sees the one before
    final = json.loads(state.read_text())
    assert final["finished"] and len(final["history"]) == 3  # the end of training is always checkpointed


def test_two_runs_with_the_same_seed_are_identical(tmp_path, breakhis_root):
    outputs = []
    for name in ("first", "second"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(TINY_TRAIN.format(root=breakhis_root, out=tmp_path / name))  # separate feature caches
        train_classifier(load_params(path), "mobilenet", "tradaug", 3, tmp_path / name / "run", log=lambda m: None)
        outputs.append(tmp_path / name / "run")
    for table in ("predictions.csv", "history.csv"):
        assert (outputs[0] / table).read_bytes() == (outputs[1] / table).read_bytes(), table


def test_disk_full_is_one_line(monkeypatch, capsys, breakhis_root, tmp_path):
    import bclib.io

    target = tmp_path / "audit.json"

    def full_disk(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(bclib.io, "write_json_atomic", full_disk)
    code = cli.main(["audit", "--dataset", "breakhis", "--root", str(breakhis_root), "--json", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and err == f"bclib: error: No space left on device ({target})\n"
    assert not target.exists()
