"""cWGAN: losses, conditioning, snapshots, resume, determinism, leakage guard, generation."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

tf = pytest.importorskip("tensorflow")

from bclib.data.index import index_breakhis, index_generated  # noqa: E402
from bclib.data.splits import make_split  # noqa: E402
from bclib.errors import UserError  # noqa: E402
from bclib.gan import losses  # noqa: E402
from bclib.gan.generate import generate  # noqa: E402
from bclib.gan.image_provenance import guard_training_split  # noqa: E402
from bclib.gan.models import build_critic, build_generator  # noqa: E402
from bclib.gan.snapshots import list_snapshots  # noqa: E402
from bclib.gan.train import CWGANTrainer  # noqa: E402
from bclib.io import read_jsonl  # noqa: E402
from bclib.params import load_params  # noqa: E402

TINY_GAN = """
seed: 3
data: {{dataset: breakhis, root: {root}}}
gan: {{resolution: 32, batch_size: 4, latent_dim: 8, n_critic: 2, total_kimg: {total}, snapshot_kimg: 0.016,
       max_channels: 16, channel_base: 256, keep_snapshots: 10, ema_kimg: 0.05}}
metrics: {{weights: none, image_size: 75, n_generated: 8, kid_subsets: 2, kid_subset_size: 8}}
run: {{output_dir: {out}}}
"""


def tiny_params(tmp_path, root, total=0.048, name="p.yaml"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    path.write_text(TINY_GAN.format(root=root, total=total, out=tmp_path / "out"))
    return load_params(path)


@pytest.fixture(scope="module")
def split(breakhis_root):
    index = index_breakhis(breakhis_root)
    return index, make_split(index, "patient", seed=0)


def train_part(split):
    index, parts = split
    return parts[parts["part"] == "train"], parts[parts["part"] != "train"]


# -- losses -------------------------------------------------------------------


def linear_critic(weights):
    w = tf.constant(weights, tf.float32)
    return lambda images, labels: tf.reduce_sum(images * w, axis=[1, 2, 3])[:, None]


def test_gradient_penalty_of_a_linear_critic_is_known():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 4, 3)).astype(np.float32)
    real = tf.constant(rng.normal(size=(5, 4, 4, 3)), tf.float32)
    fake = tf.constant(rng.normal(size=(5, 4, 4, 3)), tf.float32)
    labels = tf.zeros((5, 1), tf.int32)
    norm = np.linalg.norm(w)
    penalty, grad_norm = losses.gradient_penalty(linear_critic(w), real, fake, labels, seed=[1, 2])
    np.testing.assert_allclose(penalty.numpy(), (norm - 1) ** 2, rtol=1e-5)
    np.testing.assert_allclose(grad_norm.numpy(), norm, rtol=1e-5)
    r1, _ = losses.r1_penalty(linear_critic(w), real, labels)
    np.testing.assert_allclose(r1.numpy(), 0.5 * norm**2, rtol=1e-5)


def test_interpolation_weights_are_uniform_per_sample():
    """With D(x) = <w, x>, D(x_hat) = eps * D(real) + (1 - eps) * D(fake), so eps can be read back."""
    captured = {}
    w = tf.ones((2, 2, 1))

    def critic(images, labels):
        captured["interpolates"] = images
        return tf.reduce_sum(images * w, axis=[1, 2, 3])[:, None]

    real, fake = tf.ones((4000, 2, 2, 1)), tf.zeros((4000, 2, 2, 1))
    losses.gradient_penalty(critic, real, fake, tf.zeros((4000, 1), tf.int32), seed=[5, 6])
    eps = captured["interpolates"].numpy().reshape(4000, -1)
    assert np.allclose(eps, eps[:, :1])  # one eps per sample, shared by its pixels
    eps = eps[:, 0]
    assert eps.min() >= 0 and eps.max() <= 1
    assert abs(eps.mean() - 0.5) < 0.02 and abs(eps.var() - 1 / 12) < 0.01  # U[0, 1]


def test_generator_losses():
    scores = tf.constant([[2.0], [0.5], [-1.0]])
    np.testing.assert_allclose(losses.generator_loss(scores, "wasserstein").numpy(), -0.5)
    np.testing.assert_allclose(losses.generator_loss(scores, "hinge").numpy(), (0 + 0.5 + 2.0) / 3)
    np.testing.assert_allclose(losses.critic_wasserstein(tf.constant([1.0, 3.0]), tf.constant([0.0])).numpy(), -2.0)
    # the logged critic gap is mean D(real) - mean D(fake): the negated linear critic loss, positive when the
    # critic scores real images higher (issue #40: the column was called `wasserstein` and logged that loss)
    np.testing.assert_allclose(losses.critic_gap(tf.constant([1.0, 3.0]), tf.constant([0.0])).numpy(), 2.0)
    real, fake = tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([[0.0, 0.0]])
    np.testing.assert_allclose(losses.feature_matching(real, fake).numpy(), 2.0**2 + 3.0**2)


# -- models ---------------------------------------------------------------------


@pytest.mark.parametrize("resolution", [32, 64])
def test_shapes_and_conditioning(resolution):
    generator = build_generator(resolution, 8, 2, max_channels=16, channel_base=256)
    critic = build_critic(resolution, 2, max_channels=16, channel_base=256)
    z = tf.random.stateless_normal([3, 8], seed=[0, 1])
    a = generator([z, tf.zeros([3, 1], tf.int32)])
    b = generator([z, tf.ones([3, 1], tf.int32)])
    assert a.shape == (3, resolution, resolution, 3)
    assert np.abs(a.numpy()).max() <= 1.0
    assert np.abs(a.numpy() - b.numpy()).mean() > 1e-4  # the label changes the image
    s0, features = critic([a, tf.zeros([3, 1], tf.int32)])
    s1, _ = critic([a, tf.ones([3, 1], tf.int32)])
    assert s0.shape == (3, 1) and features.shape[0] == 3
    assert not np.allclose(s0.numpy(), s1.numpy())  # ...and the critic's score
    assert not any("batch_normalization" in layer.name for layer in critic.layers)


def test_resolution_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        build_generator(48, 8, 2)


# -- leakage guard ----------------------------------------------------------------


def test_guard_refuses_validation_or_test_images(split):
    _, parts = split
    with pytest.raises(UserError, match="from the test part"):
        guard_training_split(parts[parts["part"].isin(["train", "test"])])
    train, held = train_part(split)
    assert guard_training_split(train, held) == sorted(train["patient"].unique())


def test_guard_refuses_an_image_split(split):
    index, _ = split
    parts = make_split(index, "image", seed=0)
    train, held = parts[parts["part"] == "train"], parts[parts["part"] != "train"]
    with pytest.raises(UserError, match="patient-disjoint"):
        guard_training_split(train, held)


# -- training, snapshots, resume, determinism -------------------------------------------


def final_weights(out: Path):
    from bclib.gan.models import load_critic, load_generator
    from bclib.gan.snapshots import latest_snapshot

    snapshot = latest_snapshot(out)
    return load_generator(snapshot, prefer_ema=False).get_weights() + load_critic(snapshot).get_weights()


def test_train_snapshot_resume_equals_uninterrupted(tmp_path, split):
    train, held = train_part(split)
    index, _ = split
    straight = CWGANTrainer(tiny_params(tmp_path / "a", index.root), train, index.class_names,
                            tmp_path / "a" / "gan", held_out=held, log=lambda m: None)
    straight.train()
    records = read_jsonl(tmp_path / "a" / "gan" / "metrics.jsonl")
    assert [r["kimg"] for r in records] == [0.016, 0.032, 0.048]
    assert {"loss_d", "loss_g", "penalty", "grad_norm", "critic_gap", "wall_s", "fakes"} <= set(records[0])
    assert "wasserstein" not in records[0]  # the column says what it is (issue #40): a gap, not a distance
    assert records[0]["critic_gap"] == pytest.approx(records[0]["real_score"] - records[0]["fake_score"], abs=1e-4)
    assert (tmp_path / "a" / "gan" / records[-1]["fakes"]).is_file()
    patients = json.loads((tmp_path / "a" / "gan" / "training_patients.json").read_text())["patients"]
    assert patients == sorted(train["patient"].unique())

    out = tmp_path / "b" / "gan"
    first = CWGANTrainer(tiny_params(tmp_path / "b", index.root), train, index.class_names, out,
                         held_out=held, log=lambda m: None)
    first.train(stop_after_kimg=0.032)
    assert [s.name for s in list_snapshots(out)] == ["snapshot-000000016", "snapshot-000000032"]
    # A run of the same settings continues that shorter run (as the main GAN continues its sweep point).
    lines = []
    continued = CWGANTrainer(tiny_params(tmp_path / "c", index.root), train, index.class_names, tmp_path / "c" / "gan",
                             held_out=held, log=lines.append, continue_from=out / "snapshot-000000032")
    continued.train()
    assert any(line.startswith("continuing gan's snapshot-000000032") for line in lines), lines
    assert [r["kimg"] for r in read_jsonl(tmp_path / "c" / "gan" / "metrics.jsonl")] == [0.016, 0.032, 0.048]
    assert json.loads((tmp_path / "c" / "gan" / "continued_from.json").read_text())["kimg"] == pytest.approx(0.032)
    for a, b in zip(final_weights(tmp_path / "a" / "gan"), final_weights(tmp_path / "c" / "gan")):
        np.testing.assert_array_equal(a, b)
    (out / ".snapshot-000000040.tmpjunk").mkdir()  # debris of a run killed while writing
    resumed = CWGANTrainer(tiny_params(tmp_path / "b", index.root), train, index.class_names, out,
                           held_out=held, log=lambda m: None)
    assert resumed.kimg == pytest.approx(0.032) and resumed.iteration == first.iteration
    assert not list(out.glob(".snapshot-*"))
    resumed.train()
    assert [r["kimg"] for r in read_jsonl(out / "metrics.jsonl")] == [0.016, 0.032, 0.048]
    for a, b in zip(final_weights(tmp_path / "a" / "gan"), final_weights(out)):
        np.testing.assert_array_equal(a, b)  # bit-identical on CPU with op determinism


def test_the_main_run_continues_the_sweep_point_of_its_settings(tmp_path, breakhis_root, monkeypatch):
    """The selected sweep point is the main run's first kimg: train_from_params hands its newest snapshot to
    the trainer to continue (that continuing equals training from scratch is pinned in
    test_train_snapshot_resume_equals_uninterrupted). Other settings, another seed, other metrics, a longer
    point or a main folder with snapshots of its own are never continued."""
    from bclib.gan import train as gan_train
    from bclib.gan.checkpointing import snapshot_to_continue
    from bclib.gan.workflow import gan_output_dir, train_from_params
    from bclib.layout import Layout

    path = tmp_path / "p.yaml"
    path.write_text(TINY_GAN.format(root=breakhis_root, total=0.048, out=tmp_path / "out"))
    main = load_params(path, ["metrics.during_training=false"])
    point = load_params(path, ["metrics.during_training=false", "gan.total_kimg=0.032"])
    snapshot = Layout.of(point).sweep_point("gamma", point.gan.gamma_value) / "snapshot-000000032"
    snapshot.mkdir(parents=True)
    (snapshot / "state.json").write_text(json.dumps({"seed": point.seed, "kimg": 0.032,
                                                     "gan": point.gan.model_dump(mode="json"),
                                                     "metrics": point.metrics.model_dump(mode="json")}))
    out = gan_output_dir(main)
    assert snapshot_to_continue(main, out) == snapshot
    assert snapshot_to_continue(load_params(path, ["metrics.during_training=false", "gan.gamma=1"]), out) is None
    assert snapshot_to_continue(load_params(path, ["metrics.during_training=false", "seed=4"]), out) is None
    assert snapshot_to_continue(load_params(path, []), out) is None  # scored otherwise: its records would mislead
    assert snapshot_to_continue(load_params(path, ["metrics.during_training=false", "gan.total_kimg=0.016"]),
                                out) is None  # the point is longer than the run
    given = []

    class Recorder:
        def __init__(self, *args, continue_from=None, **kwargs):
            given.append(continue_from)

        def train(self, stop_after_kimg=None):
            return []

    monkeypatch.setattr(gan_train, "CWGANTrainer", Recorder)
    train_from_params(main, log=lambda m: None)
    (out / "snapshot-000000016").mkdir(parents=True)
    (out / "snapshot-000000016" / "state.json").write_text("{}")
    train_from_params(main, log=lambda m: None)  # its own snapshots: resumed, nothing adopted
    assert given == [snapshot, None]


def test_a_different_architecture_is_never_resumed_it_starts_afresh(tmp_path, split):
    """After a change of architecture setting (or of bclib's defaults) the old snapshots are moved aside,
    kept, and training starts from scratch, as for another training set; a job rerun never stops on them."""
    train, held = train_part(split)
    index, _ = split
    out = tmp_path / "gan"
    CWGANTrainer(tiny_params(tmp_path, index.root, total=0.016), train, index.class_names, out,
                 held_out=held, log=lambda m: None).train()
    old = list_snapshots(out)
    changes = {}
    for key, value, said in (("latent_dim", 16, "gan.latent_dim 8 (now 16)"),
                             ("equalized_lr", True, "gan.equalized_lr False (now True)")):  # same shapes, other meaning
        changes[key] = value
        params = tiny_params(tmp_path, index.root, total=0.016)  # the old run's length: kimg 0 says it restarted
        for k, v in changes.items():
            setattr(params.gan, k, v)
        messages = []
        trainer = CWGANTrainer(params, train, index.class_names, out, held_out=held, log=messages.append)
        assert trainer.kimg == 0 and list_snapshots(out) == []
        assert any(said in m and "starting afresh" in m for m in messages), messages
        trainer.train()
    assert sorted(p.name for p in out.glob("superseded-*/snapshot-*")) >= sorted(p.name for p in old)
    kept = sorted(out.glob("superseded-*/snapshot-*"))[0]  # a snapshot restored directly is still refused
    with pytest.raises(UserError, match="cannot resume: trained with gan.latent_dim 8 \\(now 16\\)"):
        params = tiny_params(tmp_path, index.root, total=0.032)
        params.gan.latent_dim = 16
        CWGANTrainer(params, train, index.class_names, tmp_path / "other", held_out=held,
                     log=lambda m: None)._restore(kept)


def test_killed_training_continues_with_nothing_lost(tmp_path, breakhis_root):
    params = tmp_path / "p.yaml"
    params.write_text(TINY_GAN.format(root=breakhis_root, total=0.064, out=tmp_path / "out"))
    out = tmp_path / "gan"
    bclib = Path(sys.executable).with_name("bclib")
    command = [str(bclib), "gan", "train", "--params", str(params), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(list_snapshots(out)) < 2 and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = [r["kimg"] for r in read_jsonl(out / "metrics.jsonl")]
    assert before and before[-1] < 0.064
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resumed from snapshot-" in result.stdout
    kimgs = [r["kimg"] for r in read_jsonl(out / "metrics.jsonl")]
    assert kimgs == sorted(set(kimgs)) and kimgs[-1] == pytest.approx(0.064)
    assert kimgs[: len(before) - 1] == before[:-1]
    assert not list(out.glob(".*"))
    last = read_jsonl(out / "metrics.jsonl")[-1]  # FID/KID from the snapshot hook, with N and the features used
    assert last["fid"] >= 0 and {"fid_benign", "kid_malignant", "n_real", "n_fake", "precision_benign",
                                 "recall", "fid_class_mean"} <= set(last)
    assert last["features"] == "inceptionv3-untrained-75" and last["n_fake_benign"] == last["n_fake_malignant"] == 8
    # pooled fakes follow the real class proportions: the larger class uses all 8, the other fewer
    assert last["n_fake"] == 8 + min(8, int(8 * min(last["n_real_benign"], last["n_real_malignant"])
                                            / max(last["n_real_benign"], last["n_real_malignant"])))


# -- generation ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory, split):
    tmp_path = tmp_path_factory.mktemp("gen")
    train, held = train_part(split)
    index, _ = split
    out = tmp_path / "gan"
    CWGANTrainer(tiny_params(tmp_path, index.root, total=0.016), train, index.class_names, out,
                 held_out=held, log=lambda m: None).train()
    return out


def test_generate_is_deterministic_and_readable(tmp_path, trained):
    a = generate(trained, "benign", 3, seed=7, out_dir=tmp_path / "a")
    b = generate(trained, "benign", 3, seed=7, out_dir=tmp_path / "b")
    c = generate(trained, "benign", 3, seed=8, out_dir=tmp_path / "c")
    files = sorted((a / "benign").glob("*.png"))
    assert len(files) == 3
    same = [(f.read_bytes() == (b / "benign" / f.name).read_bytes()) for f in files]
    assert all(same)
    assert files[0].read_bytes() != next((c / "benign").glob("*.png")).read_bytes()
    index = index_generated(a, ["benign", "malignant"])
    assert len(index.frame) == 3 and set(index.frame["label"]) == {"benign"} and index.synthetic
    # square crops of the 96x64 source tiles (gan.crop: random): written as squares of the short side
    assert (index.frame["width"] == 64).all() and (index.frame["height"] == 64).all()
    manifest = (a / "manifest.csv").read_text().splitlines()
    fingerprint = json.loads((trained / "training_set.json").read_text())["fingerprint"]
    assert manifest[0] == "file,class,seed,snapshot,kimg,gan_training_set"
    assert manifest[1].endswith(f",7,snapshot-000000016,0.016,{fingerprint}")


def test_generate_refuses_unknown_class_and_busy_folder(tmp_path, trained):
    with pytest.raises(UserError, match="the snapshot knows benign, malignant"):
        generate(trained, "normal", 2, 0, tmp_path / "x")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("precious")
    with pytest.raises(UserError, match="not empty"):
        generate(trained, "benign", 2, 0, tmp_path / "busy")
    with pytest.raises(UserError, match="no complete cWGAN snapshot"):
        generate(tmp_path, "benign", 2, 0, tmp_path / "y")
    assert os.listdir(tmp_path / "busy") == ["thesis.tex"]


def test_generate_several_classes_into_one_set(tmp_path, trained):
    one = generate(trained, "benign", 2, seed=7, out_dir=tmp_path / "one")
    both = generate(trained, "benign,malignant", 2, seed=7, out_dir=tmp_path / "both")
    manifest = pd.read_csv(both / "manifest.csv")
    assert sorted(manifest["class"].value_counts().items()) == [("benign", 2), ("malignant", 2)]
    # the first class is drawn exactly as when it is generated alone
    for name in pd.read_csv(one / "manifest.csv")["file"]:
        assert (one / name).read_bytes() == (both / name).read_bytes()
    index = index_generated(both, ["benign", "malignant"])
    assert sorted(index.frame["label"].unique()) == ["benign", "malignant"]


def test_r1_two_pass_gradient_equals_the_one_pass_gradient(tmp_path, split):
    """The memory-saving split of the critic step (adversarial pass, then R1 pass) changes no gradient."""
    index, _ = split
    train, held = train_part(split)
    tiny_params(tmp_path, index.root, name="r1.yaml")
    params = load_params(tmp_path / "r1.yaml", [
        "gan.penalty=r1", "gan.d_loss=hinge", "gan.gamma=2.0", "gan.augment=none"])
    trainer = CWGANTrainer(params, train, index.class_names, tmp_path / "out", held_out=held, log=lambda m: None)
    real = tf.random.stateless_uniform([4, 32, 32, 3], seed=[1, 2], minval=-1, maxval=1)
    fake = tf.random.stateless_uniform([4, 32, 32, 3], seed=[3, 4], minval=-1, maxval=1)
    y = tf.constant([[0], [1], [0], [1]], tf.int32)
    p, seed = tf.constant(0.0), tf.constant([0, 0], tf.int32)
    grads, parts = trainer.loss.critic_gradients(real, fake, y, p, seed, seed, seed)

    variables = trainer.critic.trainable_variables
    with tf.GradientTape() as tape:  # the textbook one-pass form: adversarial + gamma * R1 in one loss
        with tf.GradientTape() as inner:
            inner.watch(real)
            real_scores, _ = trainer.critic([real, y], training=True)
            total = tf.reduce_sum(real_scores)
        grads_x = inner.gradient(total, real)
        r1 = 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(grads_x), axis=[1, 2, 3]))
        fake_scores, _ = trainer.critic([fake, y], training=True)
        loss = losses.critic_loss(real_scores, fake_scores, "hinge") + 2.0 * r1
    expected = tape.gradient(loss, variables)
    assert float(parts[0]) == pytest.approx(float(loss), rel=1e-5)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(tf.convert_to_tensor(got).numpy(), tf.convert_to_tensor(want).numpy(),
                                   rtol=1e-4, atol=1e-6)


# -- issue #25: minibatch standard deviation, normalised conditioning, truncation ----------------


def test_minibatch_stddev_couples_only_the_images_of_one_group():
    """Groups of 4 in a batch of 8: image j is in group j mod 2 (StyleGAN2's layout). Changing one image
    changes the appended maps of its own group's images and of no other image."""
    from bclib.gan.models import MinibatchStdDev

    layer = MinibatchStdDev(group_size=4, channels=2)
    x = np.random.default_rng(0).normal(size=(8, 4, 4, 6)).astype(np.float32)
    out = layer(tf.constant(x)).numpy()
    assert out.shape == (8, 4, 4, 8)
    np.testing.assert_array_equal(out[..., :6], x)
    group = x[[1, 3, 5, 7]].reshape(4, 4, 4, 2, 3)  # channels split into 2 parts of 3
    expected = np.sqrt(group.var(axis=0) + 1e-8).mean(axis=(0, 1, 3))  # one value per part
    np.testing.assert_allclose(out[3, 0, 0, 6:], expected, rtol=1e-5)
    assert np.allclose(out[..., 6:], out[:, :1, :1, 6:])  # constant maps

    perturbed = x.copy()
    perturbed[1] += np.random.default_rng(1).normal(size=(4, 4, 6)).astype(np.float32)
    changed = np.abs(layer(tf.constant(perturbed)).numpy()[..., 6:] - out[..., 6:]).max(axis=(1, 2, 3)) > 1e-6
    assert changed.tolist() == [False, True, False, True, False, True, False, True]
    odd = layer(tf.constant(x[:6])).numpy()  # 4 does not divide 6: groups of 3 (j mod 2 again)
    assert odd.shape == (6, 4, 4, 8) and np.allclose(odd[0, 0, 0, 6:], odd[4, 0, 0, 6:])


def _activations(model, layer_names, inputs):
    from bclib.backend import keras as _keras

    keras = _keras()
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in layer_names])
    outputs = probe(inputs)
    return [np.asarray(a) for a in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def test_normalized_conditioning_keeps_class_and_z_on_comparable_scales_at_init():
    """StyleGAN2's conditioning: at initialisation the class embedding and z enter the generator with
    the same second moment, and the critic's projection term has the size of its unconditional term."""
    latent, n = 32, 64
    generator = build_generator(32, latent, 2, max_channels=64, channel_base=1024, equalized_lr=True,
                                normalized_conditioning=True)
    z = tf.random.stateless_normal([n, latent], seed=[0, 1])
    labels = tf.constant(np.arange(n).reshape(-1, 1) % 2, tf.int32)
    (code,) = _activations(generator, ["conditioning"], [z, labels])
    z_rms, class_rms = np.sqrt(np.mean(code[:, :latent] ** 2)), np.sqrt(np.mean(code[:, latent:] ** 2))
    assert 0.5 < class_rms / z_rms < 2, (z_rms, class_rms)  # raw Keras embedding: ~0.03 of z's

    # the critic's projection e_y . phi / sqrt(d), e_y at unit second moment, has the size of phi itself - the
    # expected size of the unconditional term w . phi (equalised w ~ N(0, 1 / d)) - over many classes
    classes = 32
    critic = build_critic(32, classes, max_channels=64, channel_base=1024, equalized_lr=True, mbstd_group=4,
                          normalized_conditioning=True)
    images = tf.random.stateless_uniform([4 * classes, 32, 32, 3], seed=[2, 3], minval=-1, maxval=1)
    labels = tf.constant(np.arange(4 * classes).reshape(-1, 1) % classes, tf.int32)
    features, projection = _activations(critic, ["features", "score_projection"], [images, labels])
    ratio = np.sqrt(np.mean(projection**2)) / np.sqrt(np.mean(features**2))
    assert 0.5 < ratio < 2, ratio  # without the 1/sqrt(d): sqrt(64) = 8; Keras' raw embedding: ~0.2


def test_truncation_moves_the_latent_towards_its_mean(trained):
    from bclib.gan.generate import sample
    from bclib.gan.models import load_generator
    from bclib.gan.snapshots import latest_snapshot

    generator = load_generator(latest_snapshot(trained))
    plain = sample(generator, 0, 4, seed=1, latent_dim=8)
    np.testing.assert_array_equal(sample(generator, 0, 4, seed=1, latent_dim=8, truncation=1.0), plain)
    mean_image = sample(generator, 0, 4, seed=1, latent_dim=8, truncation=0.0)
    assert all(np.array_equal(image, mean_image[0]) for image in mean_image)  # psi 0: one image per class
    assert not np.array_equal(mean_image[0], sample(generator, 1, 1, seed=1, latent_dim=8, truncation=0.0)[0])
    half = sample(generator, 0, 4, seed=1, latent_dim=8, truncation=0.5).astype(float)
    spread = [np.abs(images - images.mean(0)).mean() for images in (plain.astype(float), half)]
    assert spread[1] < spread[0]
    np.testing.assert_array_equal(sample(generator, 0, 4, seed=1, latent_dim=8), plain)  # psi put back
    with pytest.raises(UserError, match="truncation must be between 0 and 1"):
        sample(generator, 0, 2, seed=1, latent_dim=8, truncation=1.5)


# -- issue #25: the snapshot generation uses is the one the tables select --------------------------


def scripted_fid_hook(values):
    """A snapshot hook that reports the given benign FIDs in turn (and the fields the tables read)."""
    values = list(values)

    def hook(trainer, snapshot_dir):
        fid = values.pop(0)
        record = {"fid": fid, "kid": fid / 100, "classes": ["benign", "malignant"]}
        for c, value in (("benign", fid), ("malignant", 50.0)):
            record.update({f"fid_{c}": value, f"kid_{c}": value / 100, f"kid_std_{c}": 0.0})
        return record

    return hook


def test_generation_uses_the_snapshot_the_tables_select(tmp_path, split, capsys):
    """Benign FID 5, 1, 3, 4 over four snapshots with keep_snapshots 1: the best (kimg 0.032) is older
    than the one kept by pruning. It survives (as does the earliest, for the early-snapshot control), the
    sweep table names it, and generation uses it."""
    from bclib.cli import main
    from bclib.experiment import gan_sweeps as sweeps
    from bclib.gan.snapshots import ranked_scores, select_snapshot

    train, held = train_part(split)
    index, _ = split
    params = tiny_params(tmp_path, index.root, total=0.064)
    params.gan.keep_snapshots, params.gan.target_class = 1, "benign"
    out = tmp_path / "gan"
    trainer = CWGANTrainer(params, train, index.class_names, out, held_out=held,
                           hooks=[scripted_fid_hook([5, 1, 3, 4])], log=lambda m: None)
    trainer.train()
    assert [s.name for s in list_snapshots(out)] == ["snapshot-000000016", "snapshot-000000032",
                                                     "snapshot-000000064"]
    snapshot, info = select_snapshot(out)
    assert snapshot.name == "snapshot-000000032" and info["kimg"] == 0.032 and info["fid"] == 1.0
    assert "benign" in info["criterion"]
    assert select_snapshot(out, "latest")[0].name == "snapshot-000000064"

    records = pd.DataFrame([{"kind": "gamma", "value": 1.0, **r, **ranked_scores(r, ["benign"])}
                            for r in read_jsonl(out / "metrics.jsonl")])
    table = sweeps.sweep_table(records, "gamma")
    assert table.loc[0, "snapshot"] == "snapshot-000000032" and table.loc[0, "kimg"] == 0.032

    manifest = pd.read_csv(generate(out, "benign", 2, seed=0, out_dir=tmp_path / "best") / "manifest.csv")
    assert set(manifest["snapshot"]) == {"snapshot-000000032"} and set(manifest["kimg"]) == {0.032}
    latest = pd.read_csv(generate(out, "benign", 2, seed=0, out_dir=tmp_path / "latest", which="latest")
                         / "manifest.csv")
    assert set(latest["snapshot"]) == {"snapshot-000000064"}
    capsys.readouterr()
    assert main(["gan", "generate", "--snapshot", str(out), "--class", "benign", "--n", "2",
                 "--out", str(tmp_path / "cli")]) == 0
    said = capsys.readouterr().out
    assert "generating from snapshot-000000032 (0.032 kimg): lowest FID of benign" in said and "FID 1" in said
    assert set(pd.read_csv(tmp_path / "cli" / "manifest.csv")["snapshot"]) == {"snapshot-000000032"}


def test_non_finite_losses_stop_training_with_one_clear_line(tmp_path, split):
    train, held = train_part(split)
    index, _ = split
    out = tmp_path / "gan"
    trainer = CWGANTrainer(tiny_params(tmp_path, index.root, total=0.048), train, index.class_names, out,
                           held_out=held, log=lambda m: None)
    trainer.train(stop_after_kimg=0.016)
    step = trainer._step
    trainer._step = lambda *a: {**step(*a), "loss_d": tf.constant(float("nan"))}
    with pytest.raises(UserError, match=r"stopped at 0\.016 kimg \(iteration 2\): loss_d nan; nothing was written "
                                        r"for this iteration \(last snapshot: snapshot-000000016"):
        trainer.train()
    assert [s.name for s in list_snapshots(out)] == ["snapshot-000000016"]
    assert [r["kimg"] for r in read_jsonl(out / "metrics.jsonl")] == [0.016]


# -- issue #25: square crops that keep the tiles' aspect ratio -------------------------------------


def test_training_crops_are_squares_of_unsquashed_tiles(tmp_path, split):
    """The 96x64 tiles are stored at 32 px keeping their aspect (32 x 48) and every image shown to the
    critic is a 32 x 32 window of its strip, at a random place drawn from (seed, iteration)."""
    from PIL import Image

    train, held = train_part(split)
    index, _ = split
    trainer = CWGANTrainer(tiny_params(tmp_path, index.root), train, index.class_names, tmp_path / "gan",
                           held_out=held, log=lambda m: None)
    stored = trainer.image_file[:]
    assert stored.shape[1:] == (32, 48, 3) and trainer.images.shape[1:] == (32, 32, 3)
    tile = np.asarray(Image.open(train["path"].iloc[0]).convert("RGB").resize((48, 32), Image.LANCZOS), float)
    assert np.abs(stored[0].astype(float) - tile).mean() < 8  # the tile itself, not a squashed copy
    np.testing.assert_array_equal(trainer.images[:], stored[:, :, 8:40])  # scores see the centre squares

    idx = trainer._batch_indices()
    batch = trainer.real_batch(idx)
    assert batch.shape == (2, 4, 32, 32, 3)
    offsets = [next(o for o in range(17) if np.array_equal(image, stored[row][:, o:o + 32]))
               for image, row in zip(batch.reshape(-1, 32, 32, 3), idx.ravel())]
    assert len(set(offsets)) > 1  # random places, not the centre every time
    np.testing.assert_array_equal(trainer.real_batch(idx), batch)  # the same for a resumed run
    with pytest.raises(UserError, match="a 90-degree turn is not a symmetry"):
        load_params(tmp_path / "p.yaml", ["gan.crop=squash", "gan.augment=diffaug"])


def test_scores_draw_independent_latents_for_each_class():
    """The pooled scores join every class's generated images: each class must have its own latents,
    or the pooled set counts one draw several times. A stub generator whose image depends on z only
    shows whether two classes got the same z."""
    from types import SimpleNamespace

    from bclib.gan.scoring_hook import FidKidHook

    class ZOnly:
        layers: list = []

        def __call__(self, inputs, training=False):
            z, _ = inputs
            return tf.tile(tf.tanh(z[:, :3])[:, None, None, :], [1, 2, 2, 1])

    trainer = SimpleNamespace(generator_ema=None, generator=ZOnly(), seed=0, cfg=SimpleNamespace(latent_dim=4),
                              class_conditions=lambda k, n: [(k, n)])
    hook = FidKidHook(None)
    first, second = hook.fake_images(trainer, 0, 16), hook.fake_images(trainer, 1, 16)
    assert first.shape == (16, 2, 2, 3) and not (first == second).all(axis=(1, 2, 3)).any()
    np.testing.assert_array_equal(hook.fake_images(trainer, 0, 16), first)  # fixed latents per class


def test_closest_pairs_show_each_training_tile_once_with_a_unit():
    import matplotlib.pyplot as plt

    from bclib.gan.training_figures import closest_pairs

    generated, training = np.zeros((5, 4, 4, 3), np.uint8), np.zeros((3, 4, 4, 3), np.uint8)
    table = pd.DataFrame({"generated": range(5), "nearest_pixel": [0, 0, 0, 1, 2],
                          "pixel_distance": [1.0, 2.0, 3.0, 4.0, 5.0]})
    fig = closest_pairs(generated, training, table, k=6)
    titles = [ax.get_title() for ax in fig.axes[:3]]
    assert len(fig.axes) == 6  # three distinct training tiles, not six copies of tile 0
    assert titles[0] == f"rms {1.0 / np.sqrt(32 * 32 * 3):.3f}" and "root-mean-square" in fig._suptitle.get_text()
    plt.close(fig)


def test_a_sweep_of_single_snapshot_runs_is_drawn_against_the_swept_value_from_zero():
    import matplotlib.pyplot as plt

    from bclib.gan.training_figures import sweep_figure

    records = pd.DataFrame({"kind": ["gamma", "gamma"], "value": [1.0, 10.0], "kimg": [0.16, 0.16],
                            "fid_ranked": [817.34, 817.26], "kid_ranked": [1.59, 1.58],
                            "precision_ranked": [0.0, 0.0], "recall_ranked": [0.0, 0.0]})
    fig = sweep_figure(records, ["gamma"], "FD (EfficientNet-Lite0)", "benign")
    fd_axis = fig.axes[0]
    assert [t.get_text() for t in fd_axis.get_xticklabels()] == ["1", "10"]
    assert fd_axis.get_ylim()[0] == 0  # a 0.08 difference in 817 is not drawn as a ranking
    assert "0.16 kimg" in fig.axes[2].get_xlabel()
    plt.close(fig)
