"""The cWGAN's objective as one object: the critic's and the generator's loss for the configured
``gan.d_loss`` / ``gan.g_loss`` / ``gan.penalty``, with drift and feature matching.

:class:`CWGANLoss` holds the networks and the critic augmentation and turns a batch into gradients; the
training loop (:mod:`bclib.gan.train`) draws the batches and seeds, applies the gradients and keeps the
counters. The formulas themselves are :mod:`bclib.gan.losses`' functions: the critic's R1 term is
:func:`bclib.gan.losses.r1_penalty` taken through the augmentation, so the penalty that trains the critic
and the one the tests check are one implementation. As in StyleGAN2-ADA, R1 is a phase of its own: with
``penalty: r1`` the critic's gradients come from a main (adversarial) pass and a regularisation pass.
"""

from __future__ import annotations

from typing import NamedTuple

from ..backend import tensorflow
from . import losses
from .critic_augment import augment

tf = tensorflow()


class CriticStep(NamedTuple):
    """What one critic update computed: its total and adversarial loss, the penalty and the mean gradient
    norm it constrains, the scores of the real and fake batch, and the real images' critic features."""

    loss: tf.Tensor
    adversarial: tf.Tensor
    penalty: tf.Tensor
    grad_norm: tf.Tensor
    real_scores: tf.Tensor
    fake_scores: tf.Tensor
    real_features: tf.Tensor


class CWGANLoss:
    """Critic and generator losses of the networks ``generator`` and ``critic`` under the settings ``cfg``
    (``params.gan``); every critic input goes through :meth:`augment`."""

    def __init__(self, cfg, generator, critic):
        self.cfg = cfg
        self.generator = generator
        self.critic = critic

    def augment(self, images, p, seed):
        """The critic's input augmentation with probability ``p`` (the same pipeline for real and fake)."""
        if self.cfg.augment == "none":
            return images
        operations = tuple(self.cfg.augment_ops)
        # ADA starts at p = 0 and may stay there for a long time: skip the work, not just its effect
        return tf.cond(p > 0, lambda: augment(images, p, seed, operations=operations), lambda: tf.identity(images))

    def critic_adversarial(self, real_scores, fake_scores):
        """``gan.d_loss``, plus ``drift * mean D(real)^2`` when drift is on."""
        loss = losses.critic_loss(real_scores, fake_scores, self.cfg.d_loss)
        if self.cfg.drift > 0:
            loss += self.cfg.drift * losses.drift_penalty(real_scores)
        return loss

    def r1(self, real, y, p, seed_real):
        """R1 (0.5 * mean ||grad_x D||^2, and the mean norm) on the real images as the critic sees them:
        through the augmentation with the adversarial pass's seed, as StyleGAN2-ADA."""
        return losses.r1_penalty(lambda images, labels: self.critic([self.augment(images, p, seed_real), labels],
                                                                    training=True)[0], real, y)

    def critic_gradients(self, real, fake, y, p, seed_real, seed_fake, seed_eps):
        """The critic's gradients for one batch and a :class:`CriticStep`; ``seed_eps`` draws WGAN-GP's
        interpolation weights (unused under R1)."""
        if self.cfg.penalty == "r1":
            return self._critic_gradients_r1(real, fake, y, p, seed_real, seed_fake)
        return self._critic_gradients_gp(real, fake, y, p, seed_real, seed_fake, seed_eps)

    def _critic_gradients_r1(self, real, fake, y, p, seed_real, seed_fake):
        """Two passes whose gradients sum to the gradient of adversarial + gamma * R1.

        Pass 1 is the adversarial loss on real and fake images; pass 2 the R1 term,
        whose double backpropagation through the real images' forward pass is the
        largest memory cost of the step. Run one after the other (the control
        dependency), the two passes' activations are never held at once: at 512 px
        this is what keeps host memory within 8 GB on a CPU (issue #13). The real
        images go through the same augmentation (same seed, so the same draws) in
        both passes, so the sum is the gradient of the one-pass loss, at the price of
        a second forward pass over the real images. StyleGAN2 splits its critic step
        into a main and a regularisation pass too.
        """
        variables = self.critic.trainable_variables
        with tf.GradientTape() as tape:
            real_scores, real_features = self.critic([self.augment(real, p, seed_real), y], training=True)
            fake_scores, _ = self.critic([self.augment(fake, p, seed_fake), y], training=True)
            adversarial = self.critic_adversarial(real_scores, fake_scores)
        grads_main = tape.gradient(adversarial, variables)
        with tf.control_dependencies([g for g in grads_main if g is not None]):
            real = tf.identity(real)
        with tf.GradientTape() as tape:
            penalty, grad_norm = self.r1(real, y, p, seed_real)
            weighted = self.cfg.gamma_value * penalty
        grads_reg = tape.gradient(weighted, variables)
        grads = [add_gradients(a, b) for a, b in zip(grads_main, grads_reg)]
        return grads, CriticStep(adversarial + weighted, adversarial, penalty, grad_norm, real_scores, fake_scores,
                                 real_features)

    def _critic_gradients_gp(self, real, fake, y, p, seed_real, seed_fake, seed_eps):
        """One pass: the WGAN-GP penalty is on interpolates of the augmented real and fake images."""
        with tf.GradientTape() as tape:
            real_aug, fake_aug = self.augment(real, p, seed_real), self.augment(fake, p, seed_fake)
            real_scores, real_features = self.critic([real_aug, y], training=True)
            fake_scores, _ = self.critic([fake_aug, y], training=True)
            penalty, grad_norm = losses.gradient_penalty(
                lambda images, labels: self.critic([images, labels], training=True)[0],
                real_aug, fake_aug, y, seed=seed_eps)
            adversarial = self.critic_adversarial(real_scores, fake_scores)
            loss_d = adversarial + self.cfg.gamma_value * penalty
        grads = tape.gradient(loss_d, self.critic.trainable_variables)
        return grads, CriticStep(loss_d, adversarial, penalty, grad_norm, real_scores, fake_scores, real_features)

    def generator_gradients(self, z, y, p, seed_fake, real_features):
        """The generator's loss (``gan.g_loss``, plus ``lambda_feat`` x feature matching against the last
        critic step's real features) and its gradients."""
        cfg = self.cfg
        with tf.GradientTape() as tape:
            fake = self.generator([z, y], training=True)
            fake_aug = self.augment(tf.cast(fake, tf.float32), p, seed_fake)
            fake_scores, fake_features = self.critic([fake_aug, y], training=True)
            loss_g = losses.generator_loss(fake_scores, cfg.g_loss)
            if cfg.lambda_feat > 0:
                loss_g += cfg.lambda_feat * losses.feature_matching(tf.stop_gradient(real_features), fake_features)
        return loss_g, tape.gradient(loss_g, self.generator.trainable_variables)


def add_gradients(a, b):
    """a + b for two gradients of one variable, either of which may be None or IndexedSlices (embeddings)."""
    if a is None or b is None:
        return b if a is None else a
    return tf.convert_to_tensor(a) + tf.convert_to_tensor(b)
