"""The cWGAN's training loop, in kimg, with atomic snapshots, resume and a metrics log.

:class:`CWGANTrainer` orchestrates the pieces, each in the module of its role: the
networks (:func:`bclib.gan.models.build_networks`), the conditioning
(:mod:`bclib.gan.conditions`), the training images and fakes grids
(:mod:`bclib.gan.training_images`), the real batches (:mod:`bclib.gan.batches`), the loss
with its R1 phase (:class:`bclib.gan.loss.CWGANLoss`), the snapshot files and
resume checks (:mod:`bclib.gan.checkpointing`) and the training-set record
(:mod:`bclib.gan.image_provenance`). What stays here: the iteration (critic steps,
generator step, EMA), its random streams and counters, and the loop that writes
a snapshot every ``snapshot_kimg``.

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

Leakage guard (:func:`bclib.gan.image_provenance.guard_training_split`): the trainer accepts
training-split images only and refuses any image or patient that also belongs to the
validation or test parts. The exact
training set (patients, images, a content fingerprint) is written to
``training_set.json`` (:mod:`bclib.gan.image_provenance`) and every snapshot records
the fingerprint: a folder whose snapshots were trained on another training set
(another seed, split, fold or changed data) is never resumed; that old run is
moved aside and training starts afresh.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from ..backend import keras as _keras
from ..backend import set_determinism, tensorflow
from ..errors import UserError
from ..io import append_jsonl, atomic_directory
from ..progress import ProgressLines
from . import batches, checkpointing, losses
from . import conditions as conditioning
from .critic_augment import AdaptiveP
from .image_provenance import describe_training_set, guard_training_split, start_afresh_if_stale, write_training_set
from .loss import CWGANLoss
from .models import Networks, build_networks
from .snapshots import METRICS, best_snapshot_name, latest_snapshot, list_snapshots, read_state
from .training_images import save_fakes_grid, square_view, training_images

tf = tensorflow()
keras = _keras()

IMAGE_CACHE = "training-images"  # the decoded training images (a row file), inside the output folder
Hook = Callable[["CWGANTrainer", Path], dict]


class CWGANTrainer:
    """Train (or resume) a cWGAN on the training split; see the module docstring."""

    def __init__(self, params, train: pd.DataFrame, class_names: list[str], out_dir: str | Path,
                 held_out: Optional[pd.DataFrame] = None, hooks: Sequence[Hook] = (),
                 log: Callable[[str], None] = print, provenance: str = "",
                 continue_from: Optional[Path] = None):
        self.params = params
        self.continue_from = continue_from  # a shorter run's snapshot to start from (checkpointing.adopt_snapshots)
        self.cfg = cfg = params.gan
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

        set_determinism(self.seed, deterministic_ops=cfg.deterministic)
        # the stored images; self.images: what scores and checks see (square, r x r)
        self.image_file = training_images(train, cfg.resolution, self.out / IMAGE_CACHE, crop=cfg.crop)
        self.images = square_view(self.image_file, cfg.resolution)
        self.labels = train["label_index"].to_numpy().astype(np.int32)
        # What G and D are conditioned on: the class, or (class, magnification) pairs.
        self.magnifications: list[str] = []
        self.conditions = self.labels.copy()
        if cfg.condition_magnification:
            self.magnifications, self.conditions = conditioning.magnification_conditions(train, self.labels)
        self.source_size = [int(train["width"].median()), int(train["height"].median())]
        self.n = len(self.images)
        self._labels_tf = tf.constant(self.conditions.reshape(-1, 1))

        self.generator, self.critic, self.generator_ema = build_networks(cfg, len(self.condition_names), log)
        self.loss = CWGANLoss(cfg, self.generator, self.critic)
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
        self._resume_or_start_afresh()

    def _resume_or_start_afresh(self) -> None:
        """Continue the newest complete snapshot in the output folder, if it is of this run."""
        checkpointing.remove_interrupted(self.out)
        # Snapshots of another training set (other patients, maybe today's test ones) are never resumed.
        mine = self.cfg.model_dump(mode="json")
        states = {s: read_state(s) for s in list_snapshots(self.out)}
        changes = {s: checkpointing.network_change(state["gan"], mine) for s, state in states.items()}
        start_afresh_if_stale(self.out, self.training_set["fingerprint"], states, changes, self.log)
        write_training_set(self.out, self.training_set)
        resumed = latest_snapshot(self.out)
        if resumed is None and self.continue_from is not None:
            resumed = checkpointing.adopt_snapshots(self.continue_from, self.out, self.training_set["fingerprint"],
                                                    mine, self.log)
        if resumed is not None:
            self._restore(resumed)

    @property
    def networks(self) -> Networks:
        return Networks(self.generator, self.critic, self.generator_ema)

    @property
    def kimg(self) -> float:
        return self.images_seen / 1000.0

    @property
    def images_per_iteration(self) -> int:
        return self.cfg.batch_size * self.cfg.n_critic

    @property
    def condition_names(self) -> list[str]:
        """One name per conditioning index: the classes, or 'class@magnification'."""
        return conditioning.condition_names(self.class_names, self.magnifications)

    def class_conditions(self, class_index: int, n: int) -> list[tuple[int, int]]:
        """(condition index, count) pairs that make ``n`` images of a class: spread over the magnifications as
        the class's training images are, when conditioned on them (:mod:`bclib.gan.conditions`)."""
        return conditioning.class_conditions(self.conditions, self.labels, len(self.magnifications), class_index, n)

    @property
    def augment_p(self) -> float:
        if self.cfg.augment == "none":
            return 0.0
        return self.ada.p if self.ada is not None else float(self.cfg.augment_p)

    # -- one iteration ---------------------------------------------------------

    @staticmethod
    def _seed(step_seed, *keys):
        """An independent stateless seed for each (iteration, critic step, purpose)."""
        for key in keys:
            step_seed = tf.random.experimental.stateless_fold_in(step_seed, key)
        return step_seed

    def ema_beta(self) -> float:
        """The EMA's decay for the next step: half-life ``ema_kimg``, but (ramp-up, as StyleGAN2-ADA) at most
        ``ema_rampup`` times the images seen so far, so the average forgets the initial weights early on
        (0 on the first step: the average starts as the live generator)."""
        cfg = self.cfg
        half_life = cfg.ema_kimg * 1000.0
        if cfg.ema_rampup is not None:
            half_life = min(half_life, self.images_seen * cfg.ema_rampup)
        return 0.5 ** (cfg.batch_size / max(half_life, 1e-8))

    def _train_step(self, real_u8, labels, step_seed, p, ema_beta=None):
        """``n_critic`` critic updates, one generator update and the EMA; the iteration's mean statistics.

        The seeds' purpose keys (1: critic latents, 2: WGAN-GP's eps, 3: generator latents, 4/5/6: the
        augmentation of real / fake / the generator step's fakes) fix the random streams: keep them."""
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
            grads, d = self.loss.critic_gradients(real, fake, y, p, self._seed(step_seed, j, 4),
                                                  self._seed(step_seed, j, 5), self._seed(step_seed, j, 2))
            real_features = d.real_features
            self.opt_d.apply(grads, self.critic.trainable_variables)
            values = {"loss_d": d.loss, "adversarial_d": d.adversarial,
                      "critic_gap": losses.critic_gap(d.real_scores, d.fake_scores),  # was "wasserstein", negated
                      "penalty": d.penalty, "grad_norm": d.grad_norm, "real_score": tf.reduce_mean(d.real_scores),
                      "fake_score": tf.reduce_mean(d.fake_scores), "rt": tf.reduce_mean(tf.sign(d.real_scores)),
                      "d_param_grad_norm": tf.linalg.global_norm(grads)}
            for key in keys:
                stats[key] += values[key] / cfg.n_critic

        y = labels[-1]
        # after the critic's last update, so that the generator pass's 512 px activations are not held beside it
        with tf.control_dependencies([stats["d_param_grad_norm"]]):
            z = tf.random.stateless_normal([batch, cfg.latent_dim], seed=self._seed(step_seed, cfg.n_critic, 3))
        loss_g, grads = self.loss.generator_gradients(z, y, p, self._seed(step_seed, cfg.n_critic, 6), real_features)
        self.opt_g.apply(grads, self.generator.trainable_variables)
        if self.generator_ema is not None:
            beta = self.ema_beta() if ema_beta is None else ema_beta  # a tensor in the compiled step: no retrace
            for ema, live in zip(self.generator_ema.trainable_variables, self.generator.trainable_variables):
                ema.assign(beta * ema + (1.0 - beta) * live)
        stats["loss_g"] = loss_g
        stats["g_param_grad_norm"] = tf.linalg.global_norm(grads)
        return stats

    def _batch_indices(self) -> np.ndarray:
        """Indices of the next ``n_critic * batch_size`` real images: a fresh permutation per epoch."""
        return batches.batch_indices(self.seed, self.images_seen, self.n, self.cfg.n_critic, self.cfg.batch_size)

    def real_batch(self, idx: np.ndarray) -> np.ndarray:
        """The real images ``idx`` (n_critic, batch) as uint8 squares (:func:`bclib.gan.batches.real_batch`)."""
        return batches.real_batch(self.image_file, idx, self.cfg.resolution, self.seed, self.iteration)

    def step(self) -> dict:
        idx = self._batch_indices()
        real = tf.constant(self.real_batch(idx))
        labels = tf.gather(self._labels_tf, tf.constant(idx))
        step_seed = tf.constant([self.seed, self.iteration], dtype=tf.int32)
        p = self.augment_p
        beta = tf.constant(self.ema_beta() if self.generator_ema is not None else 0.0, tf.float32)
        stats = {k: float(v) for k, v in self._step(real, labels, step_seed, tf.constant(p, tf.float32),
                                                    beta).items()}
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
        name = checkpointing.snapshot_folder_name(self.images_seen)
        with atomic_directory(self.out / name) as tmp:
            checkpointing.save_networks(tmp, self.networks, (self.opt_g, self.opt_d))
            grid_name = checkpointing.fakes_grid_name(self.images_seen)
            self.save_fakes_grid(self.out / grid_name)
            record = {**record, "snapshot": name, "fakes": grid_name}
            for hook in self.hooks:
                record.update(hook(self, tmp))
            checkpointing.write_state(tmp, self._state(record))  # written last: the snapshot is complete
        append_jsonl(self.out / METRICS, record)
        # the selected (best) snapshot survives pruning, beside the latest keep_snapshots ones and the earliest
        checkpointing.prune_snapshots(self.out, self.cfg.keep_snapshots,
                                      best_snapshot_name(self.out, self.cfg.target_class))
        return record

    def _state(self, record: dict) -> dict:
        """A snapshot's ``state.json``: the counters needed to continue and what generation needs to know."""
        return {
            "images_seen": self.images_seen, "kimg": self.kimg, "iteration": self.iteration,
            "wall_s": self.wall_s, "seed": self.seed, "class_names": self.class_names,
            "magnifications": self.magnifications, "condition_names": self.condition_names,
            "condition_shares": {c: [[int(i), int(n)] for i, n in self.class_conditions(k, 1000)]
                                 for k, c in enumerate(self.class_names)},
            "augment": self.ada.state() if self.ada is not None else {"p": self.augment_p},
            "source_size": self.source_size, "gan": self.cfg.model_dump(mode="json"),
            "gamma_value": self.cfg.gamma_value,
            "metrics": self.params.metrics.model_dump(mode="json"),  # what the scoring hook was asked to compute
            "provenance": self.provenance, "training_set": self.training_set["fingerprint"],
            "record": record,
        }

    def _restore(self, snapshot: Path) -> None:
        """Continue from ``snapshot``: weights, optimizers, counters, ADA's p and the metrics log."""
        state = read_state(snapshot)
        checkpointing.check_resumable(snapshot, state, self.class_names, self.training_set["fingerprint"],
                                      self.cfg.model_dump(mode="json"))
        checkpointing.restore_networks(snapshot, self.networks, (self.opt_g, self.opt_d))
        self.images_seen, self.iteration = int(state["images_seen"]), int(state["iteration"])
        self.wall_s = float(state["wall_s"])
        checkpointing.repair_metrics(self.out, state["record"])
        self.log(f"resumed from {snapshot.name} at {self.kimg:.2f} kimg")
        # the adaptive augmentation's p (and its partial interval) at the snapshot
        if self.ada is not None and "augment" in state and "signs" in state["augment"]:
            self.ada.load(state["augment"])

    def save_fakes_grid(self, path: Path) -> Path:
        """The fakes grid of the EMA generator (else the generator) from the fixed latents, one row per condition."""
        return save_fakes_grid(self.generator_ema or self.generator, self._fixed_z, len(self.condition_names), path)
