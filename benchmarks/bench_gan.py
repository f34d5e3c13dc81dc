"""cWGAN speed: seconds per kimg at the smoke resolution on CPU (and at 512 px on a GPU, if any).

Run: ``.venv/bin/python benchmarks/bench_gan.py`` (``make bench`` runs every script).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import save, timeit  # noqa: E402

from bclib.data.index import index_from_params  # noqa: E402
from bclib.data.splits import split_from_params  # noqa: E402
from bclib.gan.train import CWGANTrainer  # noqa: E402
from bclib.params import load_params  # noqa: E402
from bclib.paths import project_root  # noqa: E402


def seconds_per_kimg(overrides: list[str], steps: int = 3, repeats: int = 3) -> dict:
    params = load_params(project_root() / "params" / "smoke.yaml", overrides)
    index = index_from_params(params)
    split = split_from_params(index, params)
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        trainer = CWGANTrainer(params, split[split["part"] == "train"], index.class_names, out,
                               held_out=split[split["part"] != "train"], log=lambda m: None)
        timing = timeit(lambda: [trainer.step() for _ in range(steps)], repeats=repeats)
        per_kimg = 1000.0 / (trainer.images_per_iteration * steps)
    return {k: (v * per_kimg if k in ("median", "min", "max") else v) for k, v in timing.items()}


def main() -> None:
    import tensorflow as tf

    rows = {"cpu_smoke_64px": seconds_per_kimg([])}
    rows["cpu_smoke_64px_xla"] = seconds_per_kimg(["gan.xla=true"])
    if tf.config.list_physical_devices("GPU"):
        big = ["gan.resolution=512", "gan.channel_base=16384", "gan.max_channels=512", "gan.batch_size=32",
               "gan.latent_dim=512", "gan.n_critic=1", "gan.penalty=r1"]
        rows["gpu_512px"] = seconds_per_kimg(big, steps=5)
        rows["gpu_512px_bf16"] = seconds_per_kimg(big + ["gan.mixed_precision=true"], steps=5)
    lines = ["| configuration | s/kimg median | min | max |", "| --- | --- | --- | --- |"]
    lines += [f"| {k} | {v['median']:.2f} | {v['min']:.2f} | {v['max']:.2f} |" for k, v in rows.items()]
    base = rows["cpu_smoke_64px"]["median"]
    lines.append(f"\nXLA / plain on CPU: {rows['cpu_smoke_64px_xla']['median'] / base:.2f}x the time")
    if "gpu_512px" in rows:
        ratio = rows['gpu_512px_bf16']['median'] / rows['gpu_512px']['median']
        lines.append(f"bf16 / fp32 at 512 px: {ratio:.2f}x the time")
    else:
        lines.append("No GPU on this machine: the 512 px rows need one.")
    text = "\n".join(lines)
    print(text)
    save("gan", {"title": "cWGAN training speed (seconds per kimg)", "rows": rows, "markdown": text})


if __name__ == "__main__":
    main()
