"""A 40 kimg cWGAN run at 64 px with the *real profiles'* GAN settings, on the embedded data.

The GAN section of ``params/breakhis.yaml`` (R1 with gamma 1, hinge critic and
generator losses, one critic step per generator step, lr 0.0025, Adam betas
(0, 0.99), equalised learning rate, adaptive augmentation) is trained on the
embedded synthetic BreakHis tiles with only the sizes scaled down to run on a
CPU: 64 px, the smoke profile's width and latent size, an EMA half-life of 2 kimg.
FID/KID/precision/recall come from the smoke profile's untrained InceptionV3 at
75 px (comparable within this run only).

Issue #17 recorded what the same settings did with the linear (Wasserstein)
critic loss: loss_g 42,096, R1 12,177 and critic gradient norm 85 at 5 kimg,
flat magenta fakes and FID stuck at 94. This script shows the curve now.

Run: ``nice -n 5 .venv/bin/python benchmarks/bench_gan_curve.py [KIMG]`` (~15-30 s/kimg on 2 cores).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))

from common import save  # noqa: E402

from bclib.gan.workflow import train_from_params  # noqa: E402
from bclib.params import load_params  # noqa: E402
from bclib.paths import project_root  # noqa: E402

SCALED = {"resolution": 64, "max_channels": 64, "channel_base": 1024, "latent_dim": 64, "ema_kimg": 2.0,
          "snapshot_kimg": 5.0, "keep_snapshots": 1, "deterministic": False}


def profile_gan_params(kimg: float, source: str = "breakhis", metrics_overrides=None):
    """smoke.yaml (data, untrained metrics) with the GAN section of ``params/<source>.yaml`` scaled to CPU size."""
    root = project_root() / "params"
    gan = yaml.safe_load((root / f"{source}.yaml").read_text())["gan"]
    gan.update(SCALED, total_kimg=kimg)
    overrides = [f"gan.{k}={yaml.safe_dump(v, default_flow_style=True).strip()}" if isinstance(v, list)
                 else f"gan.{k}={v}" for k, v in gan.items() if v is not None]
    overrides += list(metrics_overrides or ["metrics.n_generated=256", "metrics.kid_subset_size=100"])
    return load_params(root / "smoke.yaml", overrides)


def main(kimg: float = 40.0) -> None:
    params = profile_gan_params(kimg)
    with tempfile.TemporaryDirectory() as tmp:
        params.run.output_dir = Path(tmp)
        trainer = train_from_params(params, Path(tmp) / "gan", log=lambda m: print(m, flush=True))
        from bclib.io import read_jsonl

        records = read_jsonl(Path(tmp) / "gan" / "metrics.jsonl")
    keys = ["kimg", "loss_d", "loss_g", "real_score", "fake_score", "grad_norm", "grad_norm_max", "d_param_grad_norm",
            "augment_p", "rt", "fid", "fid_benign", "kid_benign", "precision_benign", "recall_benign", "wall_s"]
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    for r in records:
        lines.append("| " + " | ".join("-" if r.get(k) is None else f"{r[k]:.4g}" for k in keys) + " |")
    g = [r["grad_norm_max"] for r in records]
    fids = [r["fid_benign"] for r in records]
    summary = (f"\n{trainer.n} training images, breakhis.yaml GAN settings at 64 px: critic input-gradient norm "
               f"(R1's) between {min(r['grad_norm'] for r in records):.3g} and {max(g):.3g} (largest single "
               f"iteration); benign FID {fids[0]:.1f} at {records[0]['kimg']:.0f} kimg -> {min(fids):.1f} (best) -> "
               f"{fids[-1]:.1f} at {records[-1]['kimg']:.0f} kimg; "
               f"{records[-1]['wall_s'] / records[-1]['kimg']:.1f} s/kimg.")
    text = "\n".join(lines) + summary
    print(text)
    save("gan_curve", {"title": f"cWGAN with the real profiles' GAN settings, {kimg:g} kimg at 64 px (CPU)",
                       "records": records, "markdown": text})


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 40.0)
