"""The cWGAN's loss object (bclib.gan.loss): its R1 phase is losses.r1_penalty, taken through the augmentation."""

from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from bclib.gan import losses  # noqa: E402
from bclib.gan.loss import CWGANLoss  # noqa: E402
from bclib.gan.models import build_critic, build_generator  # noqa: E402
from bclib.params import load_params  # noqa: E402

PARAMS = Path(__file__).resolve().parents[1] / "params"


@pytest.fixture(scope="module")
def small():
    """A 32 px critic and generator, the real profile's objective (hinge + R1) with diffaug at p = 0.7."""
    cfg = load_params(PARAMS / "breakhis.yaml", ["gan.augment=diffaug", "gan.gamma=2.0", "gan.drift=0.001"]).gan
    critic = build_critic(32, 2, max_channels=16, channel_base=256, mbstd_group=2)
    generator = build_generator(32, 8, 2, max_channels=16, channel_base=256)
    real = tf.random.stateless_uniform([4, 32, 32, 3], seed=[1, 2], minval=-1, maxval=1)
    fake = tf.random.stateless_uniform([4, 32, 32, 3], seed=[3, 4], minval=-1, maxval=1)
    y = tf.constant([[0], [1], [0], [1]], tf.int32)
    return CWGANLoss(cfg, generator, critic), real, fake, y


def textbook_r1(scores, images):
    """0.5 * mean ||grad_x D(x)||^2 written out, independent of bclib.gan.losses."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(scores(images))
    grads = tape.gradient(total, images)
    return 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))


def test_the_loss_objects_r1_is_losses_r1_penalty_through_the_augmentation(small):
    loss, real, fake, y = small
    p, seed_real, seed_fake = tf.constant(0.7), tf.constant([5, 6], tf.int32), tf.constant([7, 8], tf.int32)
    penalty, grad_norm = loss.r1(real, y, p, seed_real)

    def seen(images, labels):  # the critic as the trainer's step sees the real images
        return loss.critic([loss.augment(images, p, seed_real), labels], training=True)[0]

    expected, expected_norm = losses.r1_penalty(seen, real, y)
    assert float(penalty) == pytest.approx(float(expected), rel=1e-6)
    assert float(grad_norm) == pytest.approx(float(expected_norm), rel=1e-6)
    # the gradient is taken with respect to the images before augmentation (as StyleGAN2-ADA), through the
    # same draws as the adversarial pass (the augmentation is a function of its seed)
    assert float(penalty) == pytest.approx(float(textbook_r1(lambda x: seen(x, y), real)), rel=1e-5)
    assert float(penalty) > 0

    # the critic step's two phases (adversarial, then R1) report that penalty and sum to the one-pass gradient
    grads, step = loss.critic_gradients(real, fake, y, p, seed_real, seed_fake, seed_fake)
    assert float(step.penalty) == pytest.approx(float(expected), rel=1e-6)
    assert float(step.loss) == pytest.approx(float(step.adversarial) + 2.0 * float(expected), rel=1e-6)
    variables = loss.critic.trainable_variables
    with tf.GradientTape() as tape:
        real_scores, _ = loss.critic([loss.augment(real, p, seed_real), y], training=True)
        fake_scores, _ = loss.critic([loss.augment(fake, p, seed_fake), y], training=True)
        one_pass = (losses.critic_loss(real_scores, fake_scores, "hinge") + 0.001 * losses.drift_penalty(real_scores)
                    + 2.0 * losses.r1_penalty(seen, real, y)[0])
    for got, want in zip(grads, tape.gradient(one_pass, variables)):
        np.testing.assert_allclose(tf.convert_to_tensor(got).numpy(), tf.convert_to_tensor(want).numpy(),
                                   rtol=1e-4, atol=1e-6)


def test_the_ema_ramps_up_as_in_stylegan2_ada():
    """Issue #40 item 8: without the ramp-up an early snapshot's EMA generator is mostly its initial weights."""
    from types import SimpleNamespace

    from bclib.gan.train import CWGANTrainer

    def beta(images_seen, rampup):
        cfg = SimpleNamespace(ema_kimg=10.0, ema_rampup=rampup, batch_size=16)
        return CWGANTrainer.ema_beta(SimpleNamespace(cfg=cfg, images_seen=images_seen))

    assert beta(0, 0.05) == 0.0  # the first step copies the live generator
    assert beta(1000, 0.05) == pytest.approx(0.5 ** (16 / 50))  # half-life 5% of the images seen
    assert beta(10**6, 0.05) == pytest.approx(0.5 ** (16 / 10000))  # then the full 10 kimg
    assert beta(0, None) == pytest.approx(0.5 ** (16 / 10000))  # off: the full half-life from the start
