"""``bclib plan``: what a profile will run and roughly what it will cost, before anything runs.

Counts come from the job planner (:func:`bclib.experiment.plan`), sizes from the
dataset when it is there (else the archive's published size), and times from the
throughput figures in ``bclib/reference/throughput.yaml``, which name the machine
they were measured on. The figures are rough on purpose: they tell an hour from a
day and a gigabyte from a terabyte, not minutes.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .. import catalogue
from ..params import Params
from ..variants import variant
from .gan_jobs import GanJob
from .gan_sweeps import SweepJob, describe_sweeps
from .planner import plan

# throughput.yaml's fusion_trunk_images_per_s_224 was measured on this model's trunk; other trunks are
# scaled from it by keras.io's relative backbone costs.
MEASURED_TRUNK = catalogue.HEADLINE_MODEL


@lru_cache(maxsize=1)
def throughput() -> dict:
    return yaml.safe_load((Path(__file__).resolve().parents[1] / "reference" / "throughput.yaml").read_text())


@dataclass
class Cost:
    jobs: int = 0
    cpu_hours: float = 0.0
    gpu_hours: float = 0.0  # nan where no GPU basis exists
    disk_gb: float = 0.0

    def add(self, other: "Cost") -> None:
        self.jobs += other.jobs
        self.cpu_hours += other.cpu_hours
        self.gpu_hours += other.gpu_hours
        self.disk_gb += other.disk_gb


def dataset_size(params: Params) -> tuple[int, str]:
    """Images in the dataset, and where the number comes from."""
    from ..data.index import index_from_params
    from ..errors import UserError

    try:
        index = index_from_params(params)
        return len(index.frame), f"indexed in {params.data.root}"
    except UserError:
        return throughput()["dataset_images"][params.data.dataset], "the archive's published size (data not found)"


def _trunk_speed(model: str, size: int) -> tuple[float, float]:
    """Images per second through a frozen trunk (CPU measured/scaled, GPU scaled by keras.io's ratio)."""
    t = throughput()
    if catalogue.entry(model).encoder:  # measured at the encoder's own input size; no GPU basis yet
        return t["encoder_cpu_images_per_s"][catalogue.entry(model).backbones[0]], float("nan")
    cpu_ms, gpu_ms = t["keras_io_ms"]["cpu"], t["keras_io_ms"]["gpu"]
    parts = catalogue.entry(model).backbones
    measured_cpu = sum(cpu_ms[b] for b in catalogue.entry(MEASURED_TRUNK).backbones)
    cpu = t["fusion_trunk_images_per_s_224"] * measured_cpu / sum(cpu_ms[b] for b in parts) * (224 / size) ** 2
    gpu = cpu * sum(cpu_ms[b] for b in parts) / sum(gpu_ms[b] for b in parts)
    return cpu, gpu


def classifier_cost(job, n_images: int, seen_trunks: set) -> Cost:
    cfg, data = job.params.train, job.params.data
    size = cfg.image_size
    if data.dataset == "breakhis" and data.magnifications:  # roughly a quarter of the images per magnification
        n_images = n_images * len(data.magnifications) / 4
    n_test = n_images * data.test_fraction
    n_train = (n_images - n_test) * (1 - data.val_fraction)
    kind = variant(job.variant)
    if kind.adds_images:
        n_train += job.params.gan.n_generate
    cpu_rate, gpu_rate = _trunk_speed(job.model, size)
    trunk = (job.model, job.seed if cfg.weights == "none" else None, data.split, tuple(data.magnifications or ()))
    extracted = 0.0 if trunk in seen_trunks else n_images  # one store per trunk serves every variant
    seen_trunks.add(trunk)
    spec = catalogue.entry(job.model)
    # a frozen encoder stores its TradAug copies whatever tradaug_mode says, and is never fine-tuned
    online = kind.tradaug and cfg.tradaug_mode == "online" and not spec.encoder
    copies = cfg.tradaug_copies - 1 if kind.tradaug and not online else 0
    extracted += copies * n_train
    image_passes = cfg.epochs * n_train if online else 0.0
    if not spec.encoder:
        image_passes += 3 * cfg.fine_tune_epochs * n_train  # forward and backward through the unfrozen trunk
    t = throughput()
    top_rate = t[spec.top_throughput]
    if spec.taps:  # a top on spatial maps: its work grows with the pixels (measured at 224 px)
        top_rate *= (224 / size) ** 2
    top_seconds = 0.0 if online else cfg.epochs * n_train * (1 + copies) / top_rate
    cpu = (extracted + image_passes) / cpu_rate + top_seconds
    gpu = (extracted + image_passes) / gpu_rate + top_seconds * cpu_rate / gpu_rate
    disk = (extracted * spec.floats_per_image(size) * 2) / 1e9
    return Cost(1, cpu / 3600, gpu / 3600, disk)


def gan_cost(job) -> Cost:
    gan = job.params.gan
    # Time grows with pixels and, roughly, with the width of the networks (measured at 64 px, width 64).
    width = min(gan.max_channels, gan.channel_base // 8) / 64
    seconds = gan.total_kimg * throughput()["gan_s_per_kimg_64"] * (gan.resolution / 64) ** 2 * width
    # Two 3x3 convolutions per resolution level and network; a snapshot holds G, its EMA and D (3 copies)
    # plus Adam's two moments for G and D (4 more), in float32.
    levels = [2 ** k for k in range(2, gan.resolution.bit_length())]
    per_network = sum(2 * 9 * min(gan.max_channels, gan.channel_base // r) ** 2 for r in levels)
    snapshot_gb = per_network * 7 * 4 / 1e9
    # the latest keep_snapshots, plus the selected (lowest-FID) one when it is older (bclib.gan.snapshots)
    return Cost(1, seconds / 3600, float("nan"), snapshot_gb * (gan.keep_snapshots + 1))


def _group(job) -> str:
    if isinstance(job, GanJob):  # one row per split: a GAN per fold is a job per fold
        split = job.name.removeprefix("gan").strip("/")
        return f"cWGAN {split} (train + generate)" if split else "cWGAN (train + generate)"
    if isinstance(job, SweepJob):
        return f"GAN sweep: {job.kind}"
    prefix = next((label for start, label in (("image-split", "image-split "), ("gan-folds", "GAN folds "))
                   if job.group.startswith(start)), "")
    return f"{prefix}{job.model if catalogue.entry(job.model).kind == 'fusion' else 'baseline ' + job.model}"


def plan_costs(params: Params) -> tuple[OrderedDict, int, str]:
    n_images, source = dataset_size(params)
    groups: OrderedDict[str, Cost] = OrderedDict()
    seen: set = set()
    for job in plan(params):
        cost = gan_cost(job) if isinstance(job, (GanJob, SweepJob)) else classifier_cost(job, n_images, seen)
        groups.setdefault(_group(job), Cost()).add(cost)
    return groups, n_images, source


def _hours(value: float) -> str:
    if value != value:  # nan
        return "not measured"
    if value < 1:
        return f"{value * 60:.0f} min" if value * 60 >= 1 else "< 1 min"
    return f"{value:.1f} h" if value < 10 else f"{value:.0f} h"


def format_plan(params: Params) -> str:
    groups, n_images, source = plan_costs(params)
    t = throughput()
    total = Cost()
    lines = [f"profile {params.profile}: {n_images} images ({source}), classifiers at {params.train.image_size} px, "
             f"GAN at {params.gan.resolution} px", "",
             "| group | jobs | CPU time | GPU time | disk |", "| --- | --- | --- | --- | --- |"]
    for name, cost in groups.items():
        total.add(cost)
        lines.append(f"| {name} | {cost.jobs} | {_hours(cost.cpu_hours)} | {_hours(cost.gpu_hours)} | "
                     f"{cost.disk_gb:.1f} GB |")
    lines.append(f"| **total** | {total.jobs} | {_hours(total.cpu_hours)} | {_hours(total.gpu_hours)} | "
                 f"{total.disk_gb:.1f} GB |")
    if any(name.startswith("GAN sweep") for name in groups):
        lines += ["", *describe_sweeps(params)]
    lines += ["", f"CPU times: from figures measured on {t['measured_on']}, scaled by image size and by "
              "keras.io's relative backbone costs.",
              "GPU times: the CPU figures scaled by keras.io's GPU/CPU inference ratio per backbone, a rough "
              "guide until a GPU is measured; no GPU figure exists for the cWGAN or the foundation encoders yet "
              "('not measured'); the encoders' CPU figure was measured at their own 224 px input.",
              "Memory: no step holds the dataset in memory (trunk outputs and images stream from disk); "
              "benchmarks/bench_scale.py measures peak memory against dataset size.",
              "Disk: trunk-output stores (float16) and GAN snapshots; outputs/<profile>/cache can be deleted "
              "after a run."]
    return "\n".join(lines)
