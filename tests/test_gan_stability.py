"""Issue #17: the real profiles' GAN settings train stably; critic augmentation; conditioning; sweep selection."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

tf = pytest.importorskip("tensorflow")

from bclib.data.index import index_breakhis  # noqa: E402
from bclib.data.splits import make_split  # noqa: E402
from bclib.errors import UserError  # noqa: E402
from bclib.gan import losses  # noqa: E402
from bclib.gan.critic_augment import AdaptiveP, augment  # noqa: E402
from bclib.gan.scoring_hook import FidKidHook  # noqa: E402
from bclib.gan.train import CWGANTrainer  # noqa: E402
from bclib.params import load_params  # noqa: E402

PARAMS = Path(__file__).resolve().parents[1] / "params"


@pytest.fixture(scope="module")
def split(breakhis_root):
    index = index_breakhis(breakhis_root)
    parts = make_split(index, "patient", seed=0)
    return index, parts[parts["part"] == "train"], parts[parts["part"] != "train"]


def profile_params(tmp_path, root, source="breakhis", **gan):
    """``params/<source>.yaml``'s GAN section as it is, with only sizes scaled down for a CPU test."""
    raw = yaml.safe_load((PARAMS / f"{source}.yaml").read_text())
    section = {**raw["gan"], "resolution": 32, "max_channels": 32, "channel_base": 512, "latent_dim": 32,
               "ema_kimg": 0.5, "keep_snapshots": 1, "deterministic": True, **gan}
    text = yaml.safe_dump({"seed": 1, "data": {"dataset": "breakhis", "root": str(root)}, "gan": section,
                           "metrics": {"weights": "none", "image_size": 75, "n_generated": 32, "kid_subsets": 5,
                                       "kid_subset_size": 16},
                           "run": {"output_dir": str(tmp_path / "out")}})
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_params(path)


# -- the real profiles' settings ------------------------------------------------------


def test_profiles_state_a_bounded_critic_loss_and_augmentation():
    for name in ("breakhis", "bach", "colab-gpu", "breakhis-headline"):
        gan = load_params(PARAMS / f"{name}.yaml").gan
        assert gan.penalty == "r1" and gan.g_loss == "hinge"  # the paper's gamma sweep and Eq. 2 keep meaning
        assert gan.d_loss in ("hinge", "logistic") and gan.augment == "ada" and gan.equalized_lr
    # the combination that diverged in issue #17 is refused with a reason
    with pytest.raises(UserError, match="unbounded"):
        load_params(PARAMS / "smoke.yaml", ["gan.penalty=r1", "gan.gamma=1"])


def small_random_extractor(size=32):
    """An untrained two-layer convolutional feature extractor: cheap, and enough to see a GAN improve."""
    from bclib.backend import keras as _keras
    from bclib.metrics.features import FeatureExtractor

    keras = _keras()
    keras.utils.set_random_seed(5)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu")(x)
    x = keras.layers.Conv2D(48, 3, strides=2, activation="relu")(x)
    features = keras.layers.GlobalAveragePooling2D()(x)
    return FeatureExtractor("test-random-conv", size, True, keras.Model(inputs, features), batch_size=64)


def train_profile_gan(tmp_path, split, **gan):
    index, train, held = split
    params = profile_params(tmp_path, index.root, total_kimg=2.4, snapshot_kimg=1.2, **gan)
    hook = FidKidHook(params.metrics)
    hook._extractor = small_random_extractor()
    trainer = CWGANTrainer(params, train, index.class_names, tmp_path / "gan", held_out=held, hooks=[hook],
                           log=lambda m: None)
    return params, hook(trainer, tmp_path), trainer.train()


def test_breakhis_gan_settings_stay_bounded_and_fid_falls(tmp_path, split):
    """breakhis.yaml's GAN section (sizes scaled down) for 2.4 kimg (75 iterations): no divergence, FID falls.

    With the linear critic loss of issue #17 (d_loss wasserstein + R1, forced past the
    schema's check) the same run fails the score bound within the first snapshot.
    """
    params, before, records = train_profile_gan(tmp_path, split)
    assert (params.gan.penalty, params.gan.d_loss, params.gan.g_loss, params.gan.n_critic, params.gan.lr_d) == \
        ("r1", "hinge", "hinge", 1, 0.0025)
    assert len(records) == 2
    for r in records:
        values = [r[k] for k in ("loss_d", "loss_g", "penalty", "grad_norm", "real_score", "fake_score")]
        assert np.all(np.isfinite(values)), r
        assert abs(r["real_score"]) < 10 and abs(r["fake_score"]) < 10, r  # issue #17: D(fake) ran off
        assert r["grad_norm_max"] < 10 and r["loss_g"] < 10, r  # issue #17: grad norm 85, loss_g 42,096
        assert 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1
    # one set of keys for a score, here and in `bclib fid`'s record (bclib.metrics.score)
    assert {"fid", "kid", "kid_std", "precision", "recall", "swd", "n_real", "n_fake"} <= set(records[-1])
    assert "kid_mean" not in records[-1]
    assert records[-1]["fid_benign"] < 0.7 * before["fid_benign"], (before["fid_benign"],
                                                                     [r["fid_benign"] for r in records])
    assert "augment_p" in records[-1] and "rt" in records[-1]


# -- augmentation -----------------------------------------------------------------------


def images(n=6, size=16, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)), tf.float32)


def test_augmentation_off_at_p0_and_deterministic_per_seed():
    x = images()
    np.testing.assert_array_equal(augment(x, 0.0, [1, 2]).numpy(), x.numpy())
    a, b = augment(x, 1.0, [1, 2]).numpy(), augment(x, 1.0, [1, 2]).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, augment(x, 1.0, [1, 3]).numpy())
    assert not np.allclose(a, x.numpy())


def test_each_geometric_operation_is_the_transformation_it_names():
    x = images()
    flipped = augment(x, 1.0, [0, 0], operations=("xflip",)).numpy()
    np.testing.assert_array_equal(flipped, x.numpy()[:, :, ::-1])
    turned = augment(x, 1.0, [0, 1], operations=("rot90",)).numpy()
    for image, out in zip(x.numpy(), turned):  # a rotation by a multiple of 90 degrees, one per image
        assert any(np.array_equal(out, np.rot90(image, k, axes=(0, 1))) for k in range(4))
    shifted = augment(x, 1.0, [0, 2], operations=("translate",)).numpy()
    np.testing.assert_allclose(np.sort(shifted.ravel()).mean(), np.sort(x.numpy().ravel()).mean(), atol=0.05)
    cut = augment(x, 1.0, [0, 3], operations=("cutout",)).numpy()
    zero_share = (cut == 0).all(axis=3).mean(axis=(1, 2))
    assert np.all(zero_share > 0.1) and np.all(zero_share <= 0.26)  # a square of half the side (or clipped)


def test_augmentation_is_differentiable():
    x = images()
    weights = tf.constant(np.random.default_rng(1).normal(size=(16, 16, 3)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(augment(x, 1.0, [4, 5]) * weights)
    grad = tape.gradient(out, x)
    assert grad is not None and np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).sum() > 0


def test_critic_sees_real_and_fake_through_the_same_augmentation(tmp_path, split):
    """Every critic input - real, fake in D's step, fake in G's step - goes through the one augment
    pipeline with the same p; only the random draws differ."""
    index, train, held = split
    params = profile_params(tmp_path, index.root, total_kimg=0.064, augment="diffaug", augment_p=0.7,
                            ema_kimg=None)
    trainer = CWGANTrainer(params, train, index.class_names, tmp_path / "gan", held_out=held, log=lambda m: None)
    calls = []
    original = trainer.loss.augment

    def spy(images, p, seed):
        calls.append((tuple(images.shape[1:]), float(p), tuple(np.asarray(seed))))
        return original(images, p, seed)

    trainer.loss.augment = spy
    trainer._step = trainer._train_step  # eager, so the spy sees each call's values
    trainer.step()
    # real (D's adversarial pass), fake (D step), real again (D's R1 pass), fake (G step)
    assert len(calls) == 4
    assert {c[0] for c in calls} == {(32, 32, 3)} and [c[1] for c in calls] == pytest.approx([0.7] * 4)
    assert calls[0][2] == calls[2][2]  # R1 sees the very images the adversarial pass saw
    assert len({c[2] for c in calls}) == 3  # otherwise independent draws


def test_ada_moves_p_towards_the_target():
    ada = AdaptiveP(target=0.6, speed_kimg=1.0, interval=2)
    for _ in range(4):
        ada.observe(sign_sum=64 * 0.9, count=64, batch_images=64)  # r_t = 0.9: critic overfits
    assert ada.p == pytest.approx(4 * 64 / 1000)
    for _ in range(2):
        ada.observe(sign_sum=64 * 0.1, count=64, batch_images=64)  # r_t = 0.1: too much augmentation
    assert ada.p == pytest.approx(2 * 64 / 1000)
    for _ in range(20):
        ada.observe(sign_sum=-64, count=64, batch_images=64)
    assert ada.p == 0.0  # clipped
    restored = AdaptiveP(0.6, 1.0, 2)
    ada.observe(64, 64, 64)
    restored.load(ada.state())
    assert restored.p == ada.p and restored.signs == ada.signs


def test_ada_in_the_trainer_raises_p_for_an_overfitting_critic(tmp_path, split):
    index, train, held = split
    params = profile_params(tmp_path, index.root, total_kimg=0.256, ada_kimg=1.0, ada_interval=1, ema_kimg=None)
    trainer = CWGANTrainer(params, train, index.class_names, tmp_path / "gan", held_out=held, log=lambda m: None)
    real_sign = {"rt": 1.0}
    step = trainer._train_step  # eager: compiling the augmented step would cost more than the test
    trainer._step = lambda *a: {**step(*a), **real_sign}  # the critic calls every real image real
    ps = [trainer.step()["augment_p"] for _ in range(3)]
    assert ps[0] == 0.0 and ps[1] > ps[0] and ps[2] > ps[1]
    real_sign["rt"] = -1.0
    assert trainer.step()["augment_p"] > trainer.augment_p  # and lowers it when the critic is fooled


def test_ada_probability_survives_a_resume(tmp_path, split):
    index, train, held = split
    params = profile_params(tmp_path, index.root, total_kimg=0.064, snapshot_kimg=0.032, ada_kimg=1.0,
                            ada_interval=3, ema_kimg=None)
    trainer = CWGANTrainer(params, train, index.class_names, tmp_path / "gan", held_out=held, log=lambda m: None)
    step = trainer._train_step
    trainer._step = lambda *a: {**step(*a), "rt": 1.0}  # eager, and a critic that calls every real image real
    trainer.train(stop_after_kimg=0.032)  # one iteration: p still 0, one of three observations pending
    for _ in range(2):
        trainer.step()  # two more: the interval completes and p rises
    saved = trainer.ada.state()
    trainer.snapshot({"kimg": trainer.kimg})
    resumed = CWGANTrainer(params, train, index.class_names, tmp_path / "gan", held_out=held, log=lambda m: None)
    assert saved["p"] > 0 and resumed.ada.state() == saved and resumed.augment_p == trainer.augment_p


# -- conditioning ------------------------------------------------------------------------


def test_magnification_conditioning_and_generation(tmp_path, split):
    from bclib.gan.generate import generate

    index, train, held = split
    params = profile_params(tmp_path, index.root, total_kimg=0.032, snapshot_kimg=0.032, condition_magnification=True,
                            augment="none", ema_kimg=None)
    trainer = CWGANTrainer(params, train, index.class_names, tmp_path / "gan", held_out=held, log=lambda m: None)
    assert trainer.condition_names[:2] == ["benign@40X", "benign@100X"] and len(trainer.condition_names) == 8
    assert sum(c for _, c in trainer.class_conditions(0, 10)) == 10
    trainer._step = trainer._train_step  # one eager iteration is cheaper than compiling the step
    trainer.train()
    out = generate(tmp_path / "gan", "malignant", 3, seed=0, out_dir=tmp_path / "g", magnification="400X")
    manifest = pd.read_csv(out / "manifest.csv")
    assert list(manifest["magnification"]) == ["400X"] * 3 and list(manifest["class"]) == ["malignant"] * 3
    mixed = pd.read_csv(generate(tmp_path / "gan", "benign", 8, seed=0, out_dir=tmp_path / "h") / "manifest.csv")
    assert len(mixed) == 8 and mixed["magnification"].nunique() > 1
    with pytest.raises(UserError, match="the snapshot knows 40X"):
        generate(tmp_path / "gan", "benign", 2, seed=0, out_dir=tmp_path / "x", magnification="1000X")


def test_target_class_accepts_a_name_a_list_or_null(tmp_path):
    params = load_params(PARAMS / "smoke.yaml")
    assert params.gan.target_classes(["benign", "malignant"]) == ["benign"]
    params.gan.target_class = ["InSitu", "Normal"]
    assert params.gan.target_classes(["Benign", "InSitu", "Invasive", "Normal"]) == ["InSitu", "Normal"]
    params.gan.target_class = None
    assert params.gan.target_classes(["a", "b"]) == ["a", "b"]


# -- issue #14: the sweep ranks on the generated class and feeds the main run ----------------


def sweep_fixture(tmp_path, target):
    import json

    from bclib.experiment import gan_sweeps as sweeps

    params = load_params(PARAMS / "smoke.yaml", [f"run.output_dir={tmp_path}", f"gan.target_class={target}"])
    jobs = sweeps.sweep_jobs(params, kinds=("gamma",))
    # gamma 1: better pooled FID (driven by the majority class); gamma 10: better benign FID
    scores = {1.0: {"fid": 10.0, "fid_benign": 40.0, "fid_malignant": 5.0},
              10.0: {"fid": 20.0, "fid_benign": 15.0, "fid_malignant": 30.0}}
    for job in jobs:
        job.out_dir.mkdir(parents=True)
        s = scores[job.value]
        record = {"kimg": 0.5, **s, "kid": s["fid"] / 100, "kid_std": 0.0, "n_real": 264, "n_fake": 100,
                  "classes": ["benign", "malignant"], "precision": 0.5, "recall": 0.5}
        for c in ("benign", "malignant"):
            record.update({f"kid_{c}": s[f"fid_{c}"] / 100, f"kid_std_{c}": 0.0, f"n_real_{c}": 80,
                           f"n_fake_{c}": 64, f"precision_{c}": 0.4, f"recall_{c}": 0.3})
        (job.out_dir / "metrics.jsonl").write_text(json.dumps(record) + "\n")
    return params, jobs


def test_sweep_ranks_on_the_target_class_and_the_main_run_uses_the_selection(tmp_path):
    from bclib.experiment import gan_sweeps as sweeps

    params, jobs = sweep_fixture(tmp_path, "benign")
    records = sweeps.sweep_records(jobs)
    table = sweeps.sweep_table(records, "gamma")
    assert list(table["FID"]) == [40.0, 15.0] and set(table["scored on"]) == {"benign"}
    assert list(table["N generated"]) == [64, 64] and list(table["precision"]) == [0.4, 0.4]
    choice = sweeps.select_configuration(records, jobs, tmp_path / sweeps.SELECTION_FILE)
    assert choice["gamma"] == 10.0 and "benign" in choice["criterion"]  # the pooled FID would pick gamma 1

    chosen, selection = sweeps.selected_params(params)
    assert selection["gamma"] == 10.0 and chosen.gan.gamma == 10.0
    assert sweeps.selection_if_swept(params)[0].gan.gamma == 10.0  # what `bclib gan train --use-selection` uses
    untouched, none = sweeps.selected_params(load_params(PARAMS / "smoke.yaml", [f"run.output_dir={tmp_path / 'x'}"]))
    assert none is None and untouched.gan.gamma == params.gan.gamma


def test_sweep_over_every_class_ranks_on_the_class_mean(tmp_path):
    from bclib.experiment import gan_sweeps as sweeps

    params, jobs = sweep_fixture(tmp_path, "null")
    table = sweeps.sweep_table(sweeps.sweep_records(jobs), "gamma")
    assert list(table["FID"]) == [pytest.approx(22.5), pytest.approx(22.5)]
    assert set(table["scored on"]) == {"benign, malignant"}


def test_a_batch_point_equal_to_a_gamma_point_is_trained_once_and_fills_both_tables(tmp_path):
    import json

    from bclib.experiment import gan_sweeps as sweeps

    params = load_params(PARAMS / "smoke.yaml", [f"run.output_dir={tmp_path}", "gan.gamma=10",
                                                 "gan.batch_size=16", "gan.gamma_sweep=[1, 10]",
                                                 "gan.batch_sweep=[8, 16]"])
    jobs = sweeps.sweep_jobs(params)
    assert [j.name for j in jobs] == ["gamma-1", "gamma-10", "batch-8"]  # batch 16 at gamma 10 = gamma-10
    for fid, job in zip([30.0, 20.0, 25.0], jobs):
        job.out_dir.mkdir(parents=True)
        (job.out_dir / "metrics.jsonl").write_text(json.dumps({"kimg": 0.5, "fid": fid, "kid": fid / 100}) + "\n")
    records = sweeps.sweep_records(jobs)
    assert list(sweeps.sweep_table(records, "batch")["FID"]) == [25.0, 20.0]
    assert list(sweeps.sweep_table(records, "gamma")["FID"]) == [30.0, 20.0]
    choice = sweeps.select_configuration(records, jobs)
    assert choice["batch_size"] == 16 and choice["batch_run"]["output"].endswith("gamma-10")


def test_the_batch_sweep_holds_gamma_at_the_profiles_gamma_point(tmp_path):
    """Issue #40: with gamma auto (breakhis.yaml) every batch point trains at the gamma auto gives at the
    profile's batch size (1.6384 at 512 px, batch 32), not at 3.28 ... 0.41; the command line says so."""
    from bclib.experiment import gan_sweeps as sweeps

    params = load_params(PARAMS / "breakhis.yaml", [f"run.output_dir={tmp_path}"])
    assert params.gan.gamma == "auto"
    batch = [j for j in sweeps.sweep_jobs(params) if j.kind == "batch"]
    assert [j.batch_size for j in batch] == [16, 32, 64, 128]
    assert len({j.gamma for j in batch}) == 1 and batch[0].gamma == pytest.approx(0.0002 * 512**2 / 32)
    for job in batch:  # the job's own command line reproduces the gamma it is planned at
        sets = job.command()[job.command().index("--set"):job.command().index("--out")][1::2]
        assert load_params(PARAMS / "breakhis.yaml", sets).gan.gamma_value == job.gamma
    gamma = [j for j in sweeps.sweep_jobs(params) if j.kind == "gamma"]
    assert {j.batch_size for j in gamma} == {32}
    assert "GAN sweep batch: 16, 32, 64, 128 at gamma 1.6384 (fixed" in "\n".join(sweeps.describe_sweeps(params))


def test_the_selection_is_a_configuration_the_sweep_trained(tmp_path):
    """Best gamma (1, at batch 32) and best batch (16, at gamma 1.6384) come from different runs: the
    selection is one run's (gamma, batch), never (1, 16), and the main GAN is trained with it."""
    import json

    from bclib.experiment import gan_sweeps as sweeps

    params = load_params(PARAMS / "breakhis.yaml", [f"run.output_dir={tmp_path}", "gan.gamma_sweep=[1, 5]",
                                                    "gan.batch_sweep=[16, 64]"])
    jobs = sweeps.sweep_jobs(params)
    fids = {"gamma-1": 12.0, "gamma-5": 30.0, "batch-16": 10.0, "batch-64": 25.0}
    for job in jobs:
        job.out_dir.mkdir(parents=True)
        fid = fids[job.name]
        (job.out_dir / "metrics.jsonl").write_text(json.dumps({"kimg": 20, "fid": fid, "kid": fid / 100}) + "\n")
    records = sweeps.sweep_records(jobs)
    batch_table = sweeps.sweep_table(records, "batch")
    assert list(batch_table["gamma"]) == [pytest.approx(1.6384)] * 2  # the table states the gamma held fixed
    assert list(sweeps.sweep_table(records, "gamma")["batch size"]) == [32, 32]
    choice = sweeps.select_configuration(records, jobs, tmp_path / sweeps.SELECTION_FILE)
    trained = {(j.gamma, j.batch_size) for j in jobs}
    assert (choice["gamma"], choice["batch_size"]) in trained
    assert (choice["gamma"], choice["batch_size"]) == (pytest.approx(1.6384), 16)  # batch-16: lowest FID
    assert choice["run"]["output"].endswith("batch-16")
    chosen, _ = sweeps.selected_params(params)
    assert (chosen.gan.gamma_value, chosen.gan.batch_size) == (choice["gamma"], 16)

    fids.update({"gamma-1": 8.0})  # now the gamma point wins: gamma 1 at the profile's batch 32
    (jobs[0].out_dir / "metrics.jsonl").write_text(json.dumps({"kimg": 20, "fid": 8.0, "kid": 0.08}) + "\n")
    choice = sweeps.select_configuration(sweeps.sweep_records(jobs), jobs)
    assert (choice["gamma"], choice["batch_size"]) == (1.0, 32)


def test_bounded_critic_losses():
    real, fake = tf.constant([[2.0], [0.0]]), tf.constant([[-3.0], [1.0]])
    assert losses.critic_loss(real, fake, "hinge").numpy() == pytest.approx((0 + 1) / 2 + (0 + 2) / 2)
    expected = np.mean(np.log1p(np.exp([-3.0, 1.0]))) + np.mean(np.log1p(np.exp([-2.0, 0.0])))
    assert losses.critic_loss(real, fake, "logistic").numpy() == pytest.approx(expected, rel=1e-6)
    assert losses.generator_loss(fake, "logistic").numpy() == pytest.approx(np.mean(np.log1p(np.exp([3.0, -1.0]))),
                                                                             rel=1e-6)
    assert losses.drift_penalty(real).numpy() == pytest.approx(2.0)
