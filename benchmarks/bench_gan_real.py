"""The cWGAN on real BreakHis tiles: old against new defaults, with and without ADA (issue #25).

The GAN section of ``params/breakhis.yaml`` (R1, hinge losses, one critic step, lr 0.0025,
Adam betas (0, 0.99), equalised learning rate, EMA, adaptive augmentation) is trained at 64 px
on the real tiles of ``../shared/realdata/breakhis-samples`` (342 tiles of 46 patients; see its
README: the tiles never enter the project, and this script only reads them) - on the training
patients of bclib's patient split - in four settings, each for every seed:

* ``new``: the profile as it is now (gamma auto = 0.0002 x 64^2 / batch, minibatch standard
  deviation, normalised conditioning, random square crops that keep the aspect ratio);
* ``new-noada``: the same without critic augmentation;
* ``old``: the defaults before issue #25 (gamma 1.0, no minibatch standard deviation, raw
  conditioning, tiles squashed to a square; rot90 left out, which the schema now refuses with
  squashed tiles);
* ``old-noada``: the same without critic augmentation.

At every snapshot (``--snapshot-kimg``, default 1) the generator's EMA copy draws, per class,
twice as many images as there are **held-out-patient** real tiles of that class (validation and
test patients: the GAN never saw them), each class from its own latents, and the script records
FID and KID (InceptionV3 at 75 px, untrained unless ``--weights imagenet``: comparable within
this benchmark only), precision and recall on equal-size sets (10 draws) and the SWD on
Laplacian-pyramid patches (no network), per class and pooled, beside the trainer's r_t and
ADA's p. The reference tiles have the geometry each setting trains on: centre squares for
``new``, tiles squashed to a square for ``old``. Target (issue #25): recall at the end at
least 0.8 x its best value in every seed with the new defaults, and SWD falling.

Outputs: ``benchmarks/results/gan_real.json`` (every record) and its Markdown section, and one
PNG per run in ``benchmarks/results/gan_real/`` with generated tiles (the selected snapshot)
above held-out real ones. Those figures hold real tiles: ``benchmarks/results/`` is ignored by
git, and they must stay out of the repository.

Run: ``nice -n 5 .venv/bin/python benchmarks/bench_gan_real.py [--kimg 30] [--seeds 0 1]
[--configs new old ...] [--snapshot-kimg 1] [--full-width] [--weights none|imagenet]``.
Without the real tiles it prints a message and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from common import RESULTS, save  # noqa: E402

from bclib.paths import project_root  # noqa: E402

REAL = project_root().parent / "shared" / "realdata" / "breakhis-samples"
RESOLUTION = 64
SCALED = {"resolution": RESOLUTION, "max_channels": 64, "channel_base": 1024, "latent_dim": 64, "ema_kimg": 2.0,
          "keep_snapshots": 1, "deterministic": False}  # CPU-sized widths, as bench_gan_curve.py
OLD = {"gamma": 1.0, "mbstd_group": 0, "normalized_conditioning": False, "crop": "squash",
       "augment_ops": ["xflip", "translate", "color", "cutout"]}
CONFIGS = {"new": {}, "new-noada": {"augment": "none"}, "old": OLD, "old-noada": {**OLD, "augment": "none"}}
SUMMARY_KEYS = ("fid", "kid", "precision", "recall", "swd", "fid_benign", "recall_benign", "swd_benign")


def _override(key: str, value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True).strip() if isinstance(value, list) else value
    return f"gan.{key}={text}"


def run_params(config: str, seed: int, kimg: float, args, out: Path):
    """params/breakhis.yaml on the real tiles, its GAN section at 64 px with the setting's changes."""
    from bclib.params import load_params

    gan = yaml.safe_load((project_root() / "params" / "breakhis.yaml").read_text())["gan"]
    gan.update({} if args.full_width else SCALED, resolution=RESOLUTION, keep_snapshots=1, deterministic=False,
               total_kimg=kimg, snapshot_kimg=min(args.snapshot_kimg, kimg), **CONFIGS[config])
    overrides = [_override(k, v) for k, v in gan.items() if v is not None and k not in ("gamma_sweep", "batch_sweep")]
    overrides += [f"seed={seed}", f"data.root={REAL}", f"run.output_dir={out}", f"metrics.weights={args.weights}",
                  "metrics.image_size=75"]
    return load_params(project_root() / "params" / "breakhis.yaml", overrides)


class HeldOutScores:
    """Snapshot hook: FID/KID, equal-size precision/recall and SWD against held-out-patient real tiles."""

    def __init__(self, held_u8: np.ndarray, held_labels: np.ndarray, class_names: list[str], extractor):
        self.held, self.labels, self.class_names, self.extractor = held_u8, held_labels, class_names, extractor
        self.real_features = extractor(held_u8)

    def __call__(self, trainer, snapshot_dir) -> dict:
        from bclib.gan.generate import sample

        generator = trainer.generator_ema or trainer.generator
        record, fakes, fake_features = {"classes": []}, [], []
        for k, name in enumerate(self.class_names):
            rows = np.flatnonzero(self.labels == k)
            if len(rows) < 4:
                continue
            images = sample(generator, k, 2 * len(rows), seed=trainer.seed + 20_000 + 1_000 * k,
                            latent_dim=trainer.cfg.latent_dim)
            feats = self.extractor(images)
            record.update(_scores(self.real_features[rows], feats, self.held[rows], images, trainer.seed, f"_{name}"))
            record["classes"].append(name)
            fakes.append(images), fake_features.append(feats)
        record.update(_scores(self.real_features, np.concatenate(fake_features), self.held, np.concatenate(fakes),
                              trainer.seed, ""))
        return record


def _scores(real_f, fake_f, real_u8, fake_u8, seed: int, suffix: str) -> dict:
    from bclib.metrics.manifold import balanced_precision_recall
    from bclib.metrics.score import fid_kid
    from bclib.metrics.swd import swd

    scores = fid_kid(real_f, fake_f, kid_subsets=50, kid_subset_size=min(len(real_f), len(fake_f), 100), seed=seed)
    pr = balanced_precision_recall(real_f, fake_f, k=3, repeats=10, seed=seed)
    out = {"fid": scores["fid"], "kid": scores["kid"], "precision": pr["precision"], "recall": pr["recall"],
           "precision_std": pr["precision_std"], "recall_std": pr["recall_std"], "swd": swd(real_u8, fake_u8)["swd"],
           "n_real": len(real_f), "n_fake": len(fake_f)}
    return {f"{key}{suffix}": value for key, value in out.items()}


def real_split():
    """The real tiles' index and bclib's patient split of them (seed 0): train vs validation + test patients."""
    from bclib.data.index import index_breakhis
    from bclib.data.splits import make_split

    index = index_breakhis(REAL)
    split = make_split(index, "patient", seed=0)
    return index, split[split["part"] == "train"], split[split["part"].isin(["val", "test"])]


def run_one(config: str, seed: int, args, data, extractors: dict) -> dict:
    """Train one setting and seed; its records, timing and the path of its figure."""
    from bclib.gan.snapshots import select_snapshot
    from bclib.gan.train import CWGANTrainer
    from bclib.gan.training_images import load_images_u8
    from bclib.io import read_jsonl

    index, train, held = data
    with tempfile.TemporaryDirectory() as tmp:
        params = run_params(config, seed, args.kimg, args, Path(tmp))
        crop = params.gan.crop
        if crop not in extractors:  # the held-out reference in this setting's geometry, decoded once
            extractors[crop] = HeldOutScores(load_images_u8(held, RESOLUTION, crop=crop),
                                             held["label_index"].to_numpy(), index.class_names, extractors["net"])
        trainer = CWGANTrainer(params, train, index.class_names, Path(tmp) / "gan", held_out=held,
                               hooks=[extractors[crop]], log=lambda m: print(f"  [{config} s{seed}] {m}", flush=True))
        started = time.time()
        trainer.train()
        seconds = time.time() - started
        records = read_jsonl(Path(tmp) / "gan" / "metrics.jsonl")
        snapshot, chosen = select_snapshot(Path(tmp) / "gan")
        figure = save_grid(snapshot, extractors[crop], f"{config}-seed{seed}")
    return {"config": config, "seed": seed, "records": records, "selected": chosen, "seconds": seconds,
            "s_per_kimg": seconds / max(records[-1]["kimg"], 1e-9), "n_train": trainer.n,
            "gamma": params.gan.gamma_value, "figure": str(figure)}


def save_grid(snapshot: Path, reference: HeldOutScores, name: str) -> Path:
    """Generated tiles of each class (the selected snapshot) above held-out real tiles of that class."""
    from PIL import Image

    from bclib.gan.generate import sample
    from bclib.gan.models import load_generator
    from bclib.gan.training_images import image_grid
    from bclib.io import atomic_path

    generator = load_generator(snapshot)
    rows = []
    for k in range(len(reference.class_names)):
        real = reference.held[np.flatnonzero(reference.labels == k)[:8]]
        rows += [sample(generator, k, 8, seed=99, latent_dim=generator.input_shape[0][-1]), real]
    path = RESULTS / "gan_real" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(image_grid(rows)).save(tmp, format="PNG")
    return path


def summarise(run: dict) -> dict:
    records = [r for r in run["records"] if r.get("recall") is not None]
    recall = [r["recall"] for r in records]
    swd = [r["swd"] for r in records]
    best = int(np.argmax(recall))
    return {"config": run["config"], "seed": run["seed"], "recall_end": recall[-1], "recall_best": recall[best],
            "recall_best_kimg": records[best]["kimg"], "recall_held": recall[-1] >= 0.8 * recall[best],
            "precision_end": records[-1]["precision"], "swd_first": swd[0], "swd_best": min(swd), "swd_end": swd[-1],
            "fid_first": records[0]["fid"], "fid_end": records[-1]["fid"], "p_end": records[-1].get("augment_p"),
            "rt_end": records[-1].get("rt"), "selected_kimg": run["selected"]["kimg"], "s_per_kimg": run["s_per_kimg"]}


def markdown(runs: list[dict], args) -> str:
    rows = [summarise(r) for r in runs]
    keys = list(rows[0])
    lines = [f"{runs[0]['n_train']} training tiles (training patients of the real samples), 64 px, "
             f"{args.kimg:g} kimg per run, Inception features: {args.weights} (75 px); precision/recall on "
             "equal-size sets against held-out-patient tiles; SWD x 1e3. recall_held: end >= 0.8 x best.", "",
             "| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[k]) for k in keys) + " |")
    lines += ["", "Per-kimg curves (pooled recall / SWD):", ""]
    for run in runs:
        curve = ", ".join(f"{r['kimg']:g}: {r['recall']:.2f}/{r['swd']:.0f}" for r in run["records"])
        lines.append(f"* {run['config']} seed {run['seed']}: {curve}")
    lines += ["", "Figures (generated above held-out real tiles; not for the repository): "
              + ", ".join(Path(r["figure"]).name for r in runs) + " in benchmarks/results/gan_real/."]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return str(value)
    return f"{value:.4g}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kimg", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--snapshot-kimg", type=float, default=1.0)
    parser.add_argument("--full-width", action="store_true", help="breakhis.yaml's own widths (for a GPU)")
    parser.add_argument("--weights", choices=["none", "imagenet"], default="none")
    args = parser.parse_args(argv)
    if not REAL.is_dir():
        print(f"bench_gan_real: skipped: no real tiles at {REAL} (see issue #25); nothing written")
        return 0
    from bclib.metrics.features import extractor_from_settings

    data = real_split()
    extractors = {"net": extractor_from_settings("inception", args.weights, 75)}
    runs = []
    for seed in args.seeds:  # seed-major: an interrupted run still has every setting of the first seed
        for config in args.configs:
            runs.append(run_one(config, seed, args, data, extractors))
            text = markdown(runs, args)  # saved after every run, so a long benchmark stopped early keeps its part
            save("gan_real", {"title": f"cWGAN on real BreakHis tiles: old vs new defaults, with and without ADA "
                                       f"({args.kimg:g} kimg at 64 px)", "runs": runs, "args": vars(args),
                              "markdown": text, "complete": len(runs) == len(args.seeds) * len(args.configs)})
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
