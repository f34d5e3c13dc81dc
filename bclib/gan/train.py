"""Training the cWGAN in kimg, with atomic snapshots, resume and a metrics log.

Progress is counted in **kimg**: thousands of real images shown to the critic
(each iteration shows ``batch_size * n_critic`` of them). Every
``snapshot_kimg`` the trainer writes, into its output folder:

* ``snapshot-<images seen, 9 digits>/`` with ``generator.keras``, ``critic.keras``
  (and ``generator_ema.keras``), ``optimizers.npz`` and ``state.json`` (the
  counters needed to continue). The folder is assembled under a temporary name
  and renamed into place, so a snapshot either exists whole or not at all;
* ``fakes-<images seen>.png``: a grid drawn from fixed latents, one row per class;
* one JSON line appended to ``metrics.jsonl``: kimg, losses, penalty, gradient
  norm, ``critic_gap`` (mean D(real) - mean D(fake); a Wasserstein estimate only under
  WGAN-GP), wall time (plus whatever snapshot hooks add, e.g. FID/KID). Logs written
  before issue #40 call the negated gap ``wasserstein`` (mean D(fake) - mean D(real));
  no bclib code reads either column.

Starting the trainer on a folder that holds snapshots resumes from the newest
complete one. Random numbers are drawn statelessly from (seed, iteration), and
the order of real images from (seed, epoch), so an interrupted and resumed run
performs exactly the same updates as an uninterrupted one; with TensorFlow's op
determinism on (CPU) the weights are bit-identical. On GPUs some kernels have no
deterministic implementation, and XLA may fuse differently after a restart, so
there only the statistics are guaranteed.

Leakage guard (:func:`bclib.gan.provenance.guard_training_split`): the trainer accepts
training-split images only and refuses any image or patient that also belongs to the
validation or test parts. The exact
training set (patients, images, a content fingerprint) is written to
``training_set.json`` (:mod:`bclib.gan.provenance`) and every snapshot records
the fingerprint: a folder whose snapshots were trained on another training set
(another seed, split, fold or changed data) is never resumed; that old run is
moved aside and training starts afresh.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from ..backend import keras as _keras
from ..backend import mixed_precision_policy, set_determinism, tensorflow
from ..errors import UserError
from ..io import append_jsonl, atomic_directory, atomic_path, read_jsonl, write_text_atomic
from ..progress import ProgressLines
from . import losses
from .augment import AdaptiveP, augment
from .conditions import apportion
from .images import CentreSquares, image_grid, to_uint8, training_images
from .models import build_critic, build_generator, load_critic, load_generator
from .provenance import describe_training_set, guard_training_split, start_afresh_if_stale, write_training_set
from .snapshots import SNAPSHOT_PREFIX, best_snapshot_name, latest_snapshot, list_snapshots, read_state

tf = tensorflow()
keras = _keras()

IMAGE_CACHE = "training-images"  # the decoded training images (a row file), inside the output folder
Hook = Callable[["CWGANTrainer", Path], dict]


# ---------------------------------------------------------------------------
# The trainer


class CWGANTrainer:
    """Train (or resume) a cWGAN on the training split; see the module docstring."""

    def __init__(self, params, train: pd.DataFrame, class_names: list[str], out_dir: str | Path,
                 held_out: Optional[pd.DataFrame] = None, hooks: Sequence[Hook] = (),
                 log: Callable[[str], None] = print, provenance: str = ""):
        self.params = params
        self.cfg = params.gan
        self.seed = int(params.seed)
        self.class_names = list(class_names)
        self.out = Path(out_dir)
        self.hooks = list(hooks)
        self.log = log
        self.provenance = provenance
        self.patients = guard_training_split(train, held_out)
        if train.empty:
            raise UserError("GAN training refused: the training split is empty")
        self.training_set = describe_training_set(train, self.class_names)
        self.out.mkdir(parents=True, exist_ok=True)

        set_determinism(self.seed, deterministic_ops=params.gan.deterministic)
        cfg = self.cfg
        # the stored images; self.images: what scores and checks see (square, r x r)
        self.image_file = training_images(train, cfg.resolution, self.out / IMAGE_CACHE, crop=cfg.crop)
        wide = self.image_file.row_shape[1] > cfg.resolution
        self.images = CentreSquares(self.image_file) if wide else self.image_file
        self.labels = train["label_index"].to_numpy().astype(np.int32)
        # What G and D are conditioned on: the class, or (class, magnification) pairs.
        self.magnifications: list[str] = []
        self.conditions = self.labels.copy()
        if cfg.condition_magnification:
            if "magnification" not in train.columns:
                raise UserError("gan.condition_magnification: this dataset has no magnifications")
            from ..data.layouts import BREAKHIS_MAGNIFICATIONS as MAGNIFICATIONS

            present = set(train["magnification"].astype(str))
            self.magnifications = [m for m in MAGNIFICATIONS if m in present] + sorted(present - set(MAGNIFICATIONS))
            mag_index = train["magnification"].astype(str).map(self.magnifications.index).to_numpy()
            self.conditions = (self.labels * len(self.magnifications) + mag_index).astype(np.int32)
        self.source_size = [int(train["width"].median()), int(train["height"].median())]
        self.n = len(self.images)
        self._labels_tf = tf.constant(self.conditions.reshape(-1, 1))

        self._build_networks(len(self.condition_names))
        self.opt_g = keras.optimizers.Adam(cfg.lr_g, beta_1=cfg.beta1, beta_2=cfg.beta2)
        self.opt_d = keras.optimizers.Adam(cfg.lr_d, beta_1=cfg.beta1, beta_2=cfg.beta2)
        self.opt_g.build(self.generator.trainable_variables)
        self.opt_d.build(self.critic.trainable_variables)

        self.images_seen = 0
        self.iteration = 0
        self.wall_s = 0.0
        self.ada = AdaptiveP(cfg.ada_target, cfg.ada_kimg, cfg.ada_interval) if cfg.augment == "ada" else None
        self._fixed_z = tf.random.stateless_normal([8, cfg.latent_dim], seed=[self.seed, 424242])
        # No tensor-dependent Python control flow in the step, so AutoGraph is not needed.
        self._step = tf.function(self._train_step, jit_compile=bool(cfg.xla), autograph=False)

        for stale in self.out.glob(f".{SNAPSHOT_PREFIX}*"):  # a snapshot interrupted while being written
            shutil.rmtree(stale, ignore_errors=True)
        # Snapshots of another training set (other patients, maybe today's test ones) are never resumed.
        start_afresh_if_stale(self.out, self.training_set["fingerprint"], list_snapshots(self.out), read_state,
                              self.log, other_network=self._other_network)
        write_training_set(self.out, self.training_set)
        resumed = latest_snapshot(self.out)
        if resumed is not None:
            self._restore(resumed)
            self._restore_augment(resumed)

    def _build_networks(self, k: int) -> None:
        """Generator, critic and EMA generator for ``k`` conditions, under the compute policy asked for."""
        cfg = self.cfg
        # bfloat16 compute (float32 weights and outputs) when asked: meant for GPUs; no loss scaling needed.
        previous_policy = keras.mixed_precision.dtype_policy()
        policy = mixed_precision_policy(cfg.mixed_precision)  # bfloat16 only where the GPU has it
        if cfg.mixed_precision and policy == "float32":
            self.log("gan.mixed_precision: this GPU has no bfloat16 units; training in float32")
        if policy != "float32":
            keras.mixed_precision.set_dtype_policy(policy)
        try:
            self.generator = self._new_generator(k)
            self.critic = build_critic(cfg.resolution, k, cfg.max_channels, cfg.channel_base, cfg.equalized_lr,
                                       cfg.mbstd_group, cfg.mbstd_channels, cfg.normalized_conditioning)
            self.generator_ema = None
            if cfg.ema_kimg:
                self.generator_ema = self._new_generator(k)
                self.generator_ema.set_weights(self.generator.get_weights())
        finally:
            keras.mixed_precision.set_dtype_policy(previous_policy)

    def _new_generator(self, conditions: int):
        cfg = self.cfg
        return build_generator(cfg.resolution, cfg.latent_dim, conditions, cfg.max_channels, cfg.channel_base,
                               cfg.equalized_lr, cfg.normalized_conditioning)

    # -- one iteration ---------------------------------------------------------

    @property
    def kimg(self) -> float:
        return self.images_seen / 1000.0

    @property
    def images_per_iteration(self) -> int:
        return self.cfg.batch_size * self.cfg.n_critic

    @property
    def condition_names(self) -> list[str]:
        """One name per conditioning index: the classes, or 'class@magnification'."""
        if not self.magnifications:
            return list(self.class_names)
        return [f"{c}@{m}" for c in self.class_names for m in self.magnifications]

    def class_conditions(self, class_index: int, n: int) -> list[tuple[int, int]]:
        """(condition index, count) pairs that make ``n`` images of a class.

        Without magnification conditioning this is [(class_index, n)]; with it, the n
        images are spread over the magnifications in the proportions of that class's
        training images, so a per-class score compares like with like.
        """
        if not self.magnifications:
            return [(class_index, n)]
        m = len(self.magnifications)
        counts = np.bincount(self.conditions[self.labels == class_index] - class_index * m, minlength=m)
        return [(class_index * m + j, c) for j, c in enumerate(apportion(counts, n)) if c > 0]

    @property
    def augment_p(self) -> float:
        if self.cfg.augment == "none":
            return 0.0
        return self.ada.p if self.ada is not None else float(self.cfg.augment_p)

    def _augment(self, images, p, seed):
        if self.cfg.augment == "none":
            return images
        operations = tuple(self.cfg.augment_ops)
        # ADA starts at p = 0 and may stay there for a long time: skip the work, not just its effect
        return tf.cond(p > 0, lambda: augment(images, p, seed, operations=operations), lambda: tf.identity(images))

    @staticmethod
    def _seed(step_seed, *keys):
        """An independent stateless seed for each (iteration, critic step, purpose)."""
        for key in keys:
            step_seed = tf.random.experimental.stateless_fold_in(step_seed, key)
        return step_seed

    def _adversarial_d(self, real_scores, fake_scores):
        loss = losses.critic_loss(real_scores, fake_scores, self.cfg.d_loss)
        if self.cfg.drift > 0:
            loss += self.cfg.drift * losses.drift_penalty(real_scores)
        return loss

    def _critic_grads_r1(self, real, fake, y, p, seed_real, seed_fake):
        """The critic's gradients with R1, in two passes whose sum is the gradient of adversarial + gamma * R1.

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
        cfg = self.cfg
        variables = self.critic.trainable_variables
        with tf.GradientTape() as tape:
            real_scores, real_features = self.critic([self._augment(real, p, seed_real), y], training=True)
            fake_scores, _ = self.critic([self._augment(fake, p, seed_fake), y], training=True)
            adversarial = self._adversarial_d(real_scores, fake_scores)
        grads_main = tape.gradient(adversarial, variables)
        with tf.control_dependencies([g for g in grads_main if g is not None]):
            real = tf.identity(real)
        with tf.GradientTape() as tape:
            with tf.GradientTape() as inner:
                inner.watch(real)
                real_aug = self._augment(real, p, seed_real)  # R1 through the augmentation, as StyleGAN2-ADA
                score_sum = tf.reduce_sum(self.critic([real_aug, y], training=True)[0])
            grads_x = inner.gradient(score_sum, real)
            norms = tf.sqrt(tf.reduce_sum(tf.square(grads_x), axis=[1, 2, 3]) + 1e-12)
            penalty = 0.5 * tf.reduce_mean(tf.square(norms))
            weighted = cfg.gamma_value * penalty
        grads_reg = tape.gradient(weighted, variables)
        grads = [_add_gradients(a, b) for a, b in zip(grads_main, grads_reg)]
        return grads, (adversarial + weighted, adversarial, penalty, tf.reduce_mean(norms), real_scores,
                       fake_scores, real_features)

    def _critic_grads_gp(self, real, fake, y, p, seed_real, seed_fake, seed_eps):
        """The critic's gradients with the WGAN-GP penalty (one pass: the penalty is on interpolates)."""
        with tf.GradientTape() as tape:
            real_aug, fake_aug = self._augment(real, p, seed_real), self._augment(fake, p, seed_fake)
            real_scores, real_features = self.critic([real_aug, y], training=True)
            fake_scores, _ = self.critic([fake_aug, y], training=True)
            penalty, grad_norm = losses.gradient_penalty(
                lambda images, labels: self.critic([images, labels], training=True)[0],
                real_aug, fake_aug, y, seed=seed_eps)
            adversarial = self._adversarial_d(real_scores, fake_scores)
            loss_d = adversarial + self.cfg.gamma_value * penalty
        grads = tape.gradient(loss_d, self.critic.trainable_variables)
        return grads, (loss_d, adversarial, penalty, grad_norm, real_scores, fake_scores, real_features)

    def _train_step(self, real_u8, labels, step_seed, p):
        cfg = self.cfg
        batch = cfg.batch_size
        keys = ("loss_d", "adversarial_d", "critic_gap", "penalty", "grad_norm", "real_score", "fake_score",
                "rt", "d_param_grad_norm")
        stats = {key: 0.0 for key in keys}
        real_features = None
        for j in range(cfg.n_critic):
            real = tf.cast(real_u8[j], tf.float32) / 127.5 - 1.0
            y = labels[j]
            z = tf.random.stateless_normal([batch, cfg.latent_dim], seed=self._seed(step_seed, j, 1))
            fake = tf.cast(self.generator([z, y], training=True), tf.float32)
            seed_real, seed_fake = self._seed(step_seed, j, 4), self._seed(step_seed, j, 5)
            if cfg.penalty == "r1":
                grads, parts = self._critic_grads_r1(real, fake, y, p, seed_real, seed_fake)
            else:
                grads, parts = self._critic_grads_gp(real, fake, y, p, seed_real, seed_fake,
                                                     self._seed(step_seed, j, 2))
            loss_d, adversarial, penalty, grad_norm, real_scores, fake_scores, real_features = parts
            self.opt_d.apply(grads, self.critic.trainable_variables)
            values = {"loss_d": loss_d, "adversarial_d": adversarial,
                      "critic_gap": losses.critic_gap(real_scores, fake_scores),  # was "wasserstein", negated
                      "penalty": penalty, "grad_norm": grad_norm, "real_score": tf.reduce_mean(real_scores),
                      "fake_score": tf.reduce_mean(fake_scores), "rt": tf.reduce_mean(tf.sign(real_scores)),
                      "d_param_grad_norm": tf.linalg.global_norm(grads)}
            for key in keys:
                stats[key] += values[key] / cfg.n_critic

        y = labels[-1]
        # after the critic's last update, so that the generator pass's 512 px activations are not held beside it
        with tf.control_dependencies([stats["d_param_grad_norm"]]):
            z = tf.random.stateless_normal([batch, cfg.latent_dim], seed=self._seed(step_seed, cfg.n_critic, 3))
        with tf.GradientTape() as tape:
            fake = self.generator([z, y], training=True)
            fake_aug = self._augment(tf.cast(fake, tf.float32), p, self._seed(step_seed, cfg.n_critic, 6))
            fake_scores, fake_features = self.critic([fake_aug, y], training=True)
            loss_g = losses.generator_loss(fake_scores, cfg.g_loss)
            if cfg.lambda_feat > 0:
                loss_g += cfg.lambda_feat * losses.feature_matching(tf.stop_gradient(real_features), fake_features)
        grads = tape.gradient(loss_g, self.generator.trainable_variables)
        self.opt_g.apply(grads, self.generator.trainable_variables)
        if self.generator_ema is not None:
            beta = 0.5 ** (batch / (cfg.ema_kimg * 1000.0))
            for ema, live in zip(self.generator_ema.trainable_variables, self.generator.trainable_variables):
                ema.assign(beta * ema + (1.0 - beta) * live)
        stats["loss_g"] = loss_g
        stats["g_param_grad_norm"] = tf.linalg.global_norm(grads)
        return stats

    def _batch_indices(self) -> np.ndarray:
        """Indices of the next ``n_critic * batch_size`` real images: a fresh permutation per epoch."""
        positions = self.images_seen + np.arange(self.images_per_iteration)
        epochs, offsets = np.divmod(positions, self.n)
        out = np.empty_like(positions)
        for epoch in np.unique(epochs):
            order = np.random.default_rng([self.seed, 7, int(epoch)]).permutation(self.n)
            mask = epochs == epoch
            out[mask] = order[offsets[mask]]
        return out.reshape(self.cfg.n_critic, self.cfg.batch_size)

    def real_batch(self, idx: np.ndarray) -> np.ndarray:
        """The real images ``idx`` (n_critic, batch) as uint8 squares: stored squares as they are, or for
        ``crop: random`` a random square of each stored strip, drawn from (seed, iteration)."""
        images = self.image_file.gather(idx.ravel())
        side, width = self.cfg.resolution, images.shape[2]
        if width > side:
            offsets = np.random.default_rng([self.seed, 11, self.iteration]).integers(0, width - side + 1, len(images))
            columns = offsets[:, None] + np.arange(side)
            images = np.take_along_axis(images, columns[:, None, :, None], axis=2)
        return images.reshape(*idx.shape, side, side, images.shape[-1])

    def step(self) -> dict:
        idx = self._batch_indices()
        real = tf.constant(self.real_batch(idx))
        labels = tf.gather(self._labels_tf, tf.constant(idx))
        step_seed = tf.constant([self.seed, self.iteration], dtype=tf.int32)
        p = self.augment_p
        stats = {k: float(v) for k, v in self._step(real, labels, step_seed, tf.constant(p, tf.float32)).items()}
        if self.cfg.stop_on_nonfinite:
            self._stop_if_nonfinite(stats)
        stats["augment_p"] = p
        if self.ada is not None:
            count = self.images_per_iteration
            self.ada.observe(stats["rt"] * count, count, count)
        self.images_seen += self.images_per_iteration
        self.iteration += 1
        return stats

    def _stop_if_nonfinite(self, stats: dict) -> None:
        """One clear error line, before anything is written, when a loss or the penalty is NaN or infinite."""
        bad = {k: stats[k] for k in ("loss_d", "loss_g", "penalty", "grad_norm") if not np.isfinite(stats[k])}
        if not bad:
            return
        latest = latest_snapshot(self.out)
        where = f"{latest.name} ({read_state(latest)['kimg']:g} kimg)" if latest is not None else "none yet"
        values = ", ".join(f"{k} {v}" for k, v in bad.items())
        raise UserError(f"cWGAN training stopped at {self.kimg:.3f} kimg (iteration {self.iteration}): {values}; "
                        f"nothing was written for this iteration (last snapshot: {where}); lower gan.lr_d/"
                        f"gan.lr_g or raise gan.gamma, or set gan.stop_on_nonfinite: false to go on anyway")

    # -- the loop ---------------------------------------------------------------

    def train(self, stop_after_kimg: Optional[float] = None) -> list[dict]:
        """Train until ``total_kimg`` (or ``stop_after_kimg``); return the metrics records written."""
        cfg = self.cfg
        target = min(cfg.total_kimg, stop_after_kimg) if stop_after_kimg else cfg.total_kimg
        next_snapshot = (np.floor(self.kimg / cfg.snapshot_kimg + 1e-9) + 1) * cfg.snapshot_kimg
        running: dict[str, list] = {}
        records = []
        if self.kimg >= target:
            self.log(f"already at {self.kimg:.2f} kimg (target {target}); nothing to do")
            return records
        self.log(f"training cWGAN {cfg.resolution}px ({cfg.crop} crops) on {self.n} images from "
                 f"{len(self.patients)} patients, from {self.kimg:.2f} to {target} kimg, {cfg.penalty} gamma "
                 f"{cfg.gamma_value:.4g}" + (" (auto: 0.0002 x resolution^2 / batch)" if cfg.gamma == "auto" else ""))
        t_last = time.time()
        # counted in images shown to the critic (1 kimg = 1000), with the time left
        progress = ProgressLines(int(round(target * 1000)), "cWGAN", "img", self.log,
                                 start=int(round(self.kimg * 1000)))
        while self.kimg < target - 1e-9:
            for key, value in self.step().items():
                running.setdefault(key, []).append(value)
            progress.update(self.images_per_iteration)
            if self.kimg >= min(next_snapshot, target) - 1e-9:
                self.wall_s += time.time() - t_last
                t_last = time.time()
                record = {"kimg": round(self.kimg, 3), "iteration": self.iteration,
                          **{k: float(np.mean(v)) for k, v in running.items()},
                          "grad_norm_max": float(np.max(running["grad_norm"])),
                          "augment_p": self.augment_p, "wall_s": round(self.wall_s, 2)}
                running = {}
                records.append(self.snapshot(record))
                self.log(f"  kimg {record['kimg']:.2f}: loss_d {record['loss_d']:.3f} loss_g {record['loss_g']:.3f} "
                         f"penalty {record['penalty']:.3f} ({self.wall_s:.0f} s)")
                next_snapshot += cfg.snapshot_kimg
        return records

    # -- snapshots -------------------------------------------------------------

    def snapshot(self, record: dict) -> dict:
        """Write snapshot, fakes grid and metrics line for the current state; return the record."""
        name = f"{SNAPSHOT_PREFIX}{self.images_seen:09d}"
        with atomic_directory(self.out / name) as tmp:
            self.generator.save(tmp / "generator.keras")
            self.critic.save(tmp / "critic.keras")
            if self.generator_ema is not None:
                self.generator_ema.save(tmp / "generator_ema.keras")
            arrays = {f"g{i:04d}": v.numpy() for i, v in enumerate(self.opt_g.variables)}
            arrays.update({f"d{i:04d}": v.numpy() for i, v in enumerate(self.opt_d.variables)})
            np.savez(tmp / "optimizers.npz", **arrays)
            grid_name = f"fakes-{self.images_seen:09d}.png"
            self.save_fakes_grid(self.out / grid_name)
            record = {**record, "snapshot": name, "fakes": grid_name}
            for hook in self.hooks:
                record.update(hook(self, tmp))
            state = {
                "images_seen": self.images_seen, "kimg": self.kimg, "iteration": self.iteration,
                "wall_s": self.wall_s, "seed": self.seed, "class_names": self.class_names,
                "magnifications": self.magnifications, "condition_names": self.condition_names,
                "condition_shares": {c: [[int(i), int(n)] for i, n in self.class_conditions(k, 1000)]
                                     for k, c in enumerate(self.class_names)},
                "augment": self.ada.state() if self.ada is not None else {"p": self.augment_p},
                "source_size": self.source_size, "gan": self.cfg.model_dump(mode="json"),
                "gamma_value": self.cfg.gamma_value,
                "provenance": self.provenance, "training_set": self.training_set["fingerprint"],
                "record": record,
            }
            write_text_atomic(tmp / "state.json", json.dumps(state, indent=2))  # written last
        append_jsonl(self.out / "metrics.jsonl", record)
        # the selected (best) snapshot survives pruning, beside the latest keep_snapshots ones and the earliest
        # (the early-snapshot control trains on its images: bclib.variants)
        best = best_snapshot_name(self.out, self.cfg.target_class)
        snapshots = list_snapshots(self.out)
        for old in snapshots[1:-self.cfg.keep_snapshots]:
            if old.name != best:
                shutil.rmtree(old, ignore_errors=True)
        return record

    def _other_network(self, state: dict) -> Optional[str]:
        """Why the networks of a snapshot's ``state`` are not the ones this run builds (None: they are)."""
        mine = self.cfg.model_dump(mode="json")
        # equalized_lr keeps every weight's shape but changes its meaning; snapshots older than a key had
        # the behaviour it names off (or, for crop, squashed tiles)
        older = {"equalized_lr": False, "condition_magnification": False, "normalized_conditioning": False,
                 "mbstd_group": 0, "mbstd_channels": 1, "crop": "squash"}
        for key in ("resolution", "latent_dim", "max_channels", "channel_base", "equalized_lr",
                    "condition_magnification", "normalized_conditioning", "mbstd_group", "mbstd_channels", "crop"):
            if state["gan"].get(key, older.get(key)) != mine[key]:
                return f"gan.{key} {state['gan'].get(key, older.get(key))} (now {mine[key]})"
        return None

    def _restore(self, snapshot: Path) -> None:
        state = read_state(snapshot)
        other = self._other_network(state)
        if other is not None:  # only a snapshot folder given directly gets here: it is not moved aside
            raise UserError(f"{snapshot}: cannot resume: trained with {other}; use a new output folder")
        if state["class_names"] != self.class_names:
            raise UserError(f"{snapshot}: cannot resume: classes were {state['class_names']}, now {self.class_names}")
        if state.get("training_set") != self.training_set["fingerprint"]:
            raise UserError(f"{snapshot}: cannot resume: trained on training set {state.get('training_set')}, "
                            f"now {self.training_set['fingerprint']}")
        self.generator.set_weights(load_generator(snapshot, prefer_ema=False).get_weights())
        self.critic.set_weights(load_critic(snapshot).get_weights())
        if self.generator_ema is not None:
            source = snapshot / "generator_ema.keras"
            weights = load_generator(snapshot, prefer_ema=source.is_file()).get_weights()
            self.generator_ema.set_weights(weights)
        with np.load(snapshot / "optimizers.npz") as arrays:
            for prefix, optimizer in (("g", self.opt_g), ("d", self.opt_d)):
                for i, variable in enumerate(optimizer.variables):
                    variable.assign(arrays[f"{prefix}{i:04d}"])
        self.images_seen, self.iteration = int(state["images_seen"]), int(state["iteration"])
        self.wall_s = float(state["wall_s"])
        self._repair_metrics(state["record"])
        self.log(f"resumed from {snapshot.name} at {self.kimg:.2f} kimg")

    def _restore_augment(self, snapshot: Path) -> None:
        """The adaptive augmentation's p (and its partial interval) at the snapshot."""
        state = read_state(snapshot)
        if self.ada is not None and "augment" in state and "signs" in state["augment"]:
            self.ada.load(state["augment"])

    def _repair_metrics(self, last: dict) -> None:
        """Make metrics.jsonl end with the resumed snapshot's record (drop lines written after it)."""
        path = self.out / "metrics.jsonl"
        records = [r for r in read_jsonl(path) if r.get("kimg", 0) < last["kimg"] - 1e-9] + [last]
        with atomic_path(path) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in records))

    def save_fakes_grid(self, path: Path) -> Path:
        generator = self.generator_ema or self.generator
        rows = []
        for label in range(len(self.condition_names)):
            y = tf.fill([self._fixed_z.shape[0], 1], label)
            rows.append(to_uint8(generator([self._fixed_z, y], training=False)))
        from PIL import Image

        with atomic_path(path) as tmp:
            Image.fromarray(image_grid(rows)).save(tmp, format="PNG")
        return path


def _add_gradients(a, b):
    """a + b for two gradients of one variable, either of which may be None or IndexedSlices (embeddings)."""
    if a is None or b is None:
        return b if a is None else a
    return tf.convert_to_tensor(a) + tf.convert_to_tensor(b)
