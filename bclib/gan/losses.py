"""GAN losses and penalties (TensorFlow backend).

Conventions (critic score D(x, y): higher means "more real"):

* critic loss (``gan.d_loss``):
  * ``wasserstein``: mean D(fake) - mean D(real). Linear in the scores, so it only
    stays bounded when the penalty constrains the critic everywhere (WGAN-GP) or a
    drift term ``drift * mean D(real)^2`` (Karras et al. 2018) pins the scores.
    With R1 alone (which only looks at real images) nothing stops D(fake) from
    running off to minus infinity: the divergence reported in issue #17.
  * ``hinge``: mean max(0, 1 - D(real)) + mean max(0, 1 + D(fake)) (Lim & Ye 2017;
    BigGAN). The critic stops pushing a sample once it is beyond the margin, so the
    scores stay near [-1, 1]; it is the critic counterpart of Eq. 2's hinge.
  * ``logistic``: non-saturating logistic loss, softplus(D(fake)) + softplus(-D(real))
    (Goodfellow et al. 2014; StyleGAN2-ADA's default with R1).
* ``wgan-gp`` penalty (Gulrajani et al. 2017): mean (||grad_x D(x_hat)||_2 - 1)^2 on
  x_hat = eps * real + (1 - eps) * fake with eps ~ U[0, 1] drawn **per sample**.
  (A popular Keras example draws eps from a normal distribution, which puts
  interpolates outside the segment between the two images; that is not the method.)
* ``r1`` penalty (Mescheder et al. 2018): 0.5 * mean ||grad_x D(real)||^2, so that
  ``gamma * penalty`` is StyleGAN2-ADA's ``gamma / 2 * ||grad||^2``.
* generator ``wasserstein``: -mean D(fake); ``hinge``: mean max(0, 1 - D(fake)); ``logistic``:
  mean softplus(-D(fake)) (the non-saturating loss).

  ``hinge`` is the paper's Eq. 2 as written, L_G = E[max(0, 1 - D(G(z, y), y))], not the usual hinge
  generator loss of the hinge GAN (Lim & Ye 2017; SAGAN, BigGAN), which is the linear -mean D(fake), i.e.
  this module's ``wasserstein`` generator loss. The two have the same gradient while D(fake) < 1; Eq. 2
  stops pushing a generated image once the critic scores it beyond the real margin (D >= 1), where the
  usual form keeps pushing. The real profiles train Eq. 2 (``g_loss: hinge``) with the hinge critic loss
  and R1 (``d_loss: hinge``, ``penalty: r1``): "hinge loss with R1", a StyleGAN2-ADA-style objective, not
  a Wasserstein GAN; ``wgan-gp`` with the linear losses (``wasserstein``) is the paper's named method,
  kept for the smoke profiles.
* critic gap (logged as ``critic_gap``, :func:`critic_gap`): mean D(real) - mean D(fake), how far apart the
  critic puts the two batches. Under WGAN-GP it estimates the Wasserstein-1 distance (the negative of the
  linear critic loss); under hinge + R1 it is only a separation in score units (a hinge critic's scores sit
  near [-1, 1], so a gap near 2 means the critic tells them apart).
* feature matching: squared distance between the mean critic features of a
  real and a fake batch (Salimans et al. 2016), weighted by ``lambda_feat``.

Each penalty also returns the mean gradient norm, which the trainer logs.
"""

from __future__ import annotations

from typing import Callable

from ..backend import tensorflow

tf = tensorflow()

Critic = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]  # (images, labels) -> scores (batch, 1)


def critic_wasserstein(real_scores, fake_scores):
    """The linear (Wasserstein) critic loss: mean D(fake) - mean D(real) = -:func:`critic_gap`."""
    return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)


def critic_gap(real_scores, fake_scores):
    """mean D(real) - mean D(fake): the logged ``critic_gap`` (a Wasserstein-1 estimate only under WGAN-GP)."""
    return tf.reduce_mean(real_scores) - tf.reduce_mean(fake_scores)


def critic_loss(real_scores, fake_scores, kind: str):
    """The critic's adversarial loss (penalties and drift are added by the caller)."""
    if kind == "wasserstein":
        return critic_wasserstein(real_scores, fake_scores)
    if kind == "hinge":
        return tf.reduce_mean(tf.nn.relu(1.0 - real_scores)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_scores))
    if kind == "logistic":
        return tf.reduce_mean(tf.nn.softplus(fake_scores)) + tf.reduce_mean(tf.nn.softplus(-real_scores))
    raise ValueError(f"unknown critic loss {kind!r}")


def drift_penalty(real_scores):
    """mean D(real)^2: keeps a linear critic loss from drifting (ProGAN's epsilon term)."""
    return tf.reduce_mean(tf.square(real_scores))


def _gradient_norms(critic: Critic, images, labels):
    with tf.GradientTape() as tape:
        tape.watch(images)
        scores = critic(images, labels)
    grads = tape.gradient(scores, images)
    return tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)


def gradient_penalty(critic: Critic, real, fake, labels, eps=None, seed=None):
    """Two-sided WGAN-GP penalty; ``eps`` (batch,) in [0, 1] or drawn U[0, 1] with a stateless ``seed``."""
    batch = tf.shape(real)[0]
    if eps is None:
        eps = tf.random.stateless_uniform([batch], seed=seed if seed is not None else [0, 0], dtype=real.dtype)
    eps = tf.reshape(tf.cast(eps, real.dtype), [-1, 1, 1, 1])
    interpolates = eps * real + (1.0 - eps) * fake
    norms = _gradient_norms(critic, interpolates, labels)
    return tf.reduce_mean(tf.square(norms - 1.0)), tf.reduce_mean(norms)


def r1_penalty(critic: Critic, real, labels):
    """Zero-centred penalty on real images: 0.5 * mean ||grad||^2."""
    norms = _gradient_norms(critic, real, labels)
    return 0.5 * tf.reduce_mean(tf.square(norms)), tf.reduce_mean(norms)


def generator_loss(fake_scores, kind: str):
    if kind == "wasserstein":
        return -tf.reduce_mean(fake_scores)
    if kind == "hinge":
        return tf.reduce_mean(tf.nn.relu(1.0 - fake_scores))
    if kind == "logistic":
        return tf.reduce_mean(tf.nn.softplus(-fake_scores))
    raise ValueError(f"unknown generator loss {kind!r}")


def feature_matching(real_features, fake_features):
    diff = tf.reduce_mean(real_features, axis=0) - tf.reduce_mean(fake_features, axis=0)
    return tf.reduce_sum(tf.square(diff))
