"""Input pipeline speed: bclib's tf.data pipeline against a plain PIL loop and against the proposed model.

All three read the embedded BreakHis-layout tiles (700x460 PNG) and produce 224x224
float images. The model's rate is the proposed fusion model's forward pass (untrained
weights, same arithmetic as trained ones) on the same machine.
Target: the pipeline sustains at least 3x the model's rate, so the model, not the input,
is the bottleneck.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from common import save, timeit  # noqa: E402

from bclib.data.images import load_rgb  # noqa: E402
from bclib.data.index import index_from_params  # noqa: E402
from bclib.data.pipeline import make_dataset  # noqa: E402
from bclib.params import load_params  # noqa: E402
from bclib.paths import project_root  # noqa: E402

SIZE, BATCH = 224, 32


def pil_loop(paths) -> None:
    from PIL import Image

    for path in paths:
        image = Image.fromarray(load_rgb(path)).resize((SIZE, SIZE), Image.Resampling.BILINEAR)
        np.asarray(image, np.float32)


def tf_pipeline(frame) -> None:
    for _ in make_dataset(frame, SIZE, BATCH, cache=False, label_column=None):
        pass


def main(n_images: int = 256, repeats: int = 3) -> None:
    params = load_params(project_root() / "params" / "smoke.yaml")
    frame = index_from_params(params).frame.iloc[:n_images]
    paths = list(frame["path"])
    pil = timeit(lambda: pil_loop(paths), repeats=repeats)
    pipe = timeit(lambda: tf_pipeline(frame), repeats=repeats)

    from bclib.models import build_model

    model = build_model("proposed", 2, SIZE, "none")
    batch = np.random.default_rng(0).uniform(0, 255, (BATCH, SIZE, SIZE, 3)).astype(np.float32)
    model.predict(batch, batch_size=BATCH, verbose=0)  # trace once
    forward = timeit(lambda: model.predict(batch, batch_size=BATCH, verbose=0), repeats=repeats)

    rate = {"pil_loop": n_images / pil["median"], "tf_data": n_images / pipe["median"],
            "proposed_model": BATCH / forward["median"]}
    ratio = rate["tf_data"] / rate["proposed_model"]
    lines = [f"{n_images} tiles of 700x460 to {SIZE}x{SIZE} float32; model batch {BATCH}", "",
             "| path | images/s (median) | run s median (min-max) |", "| --- | --- | --- |",
             f"| plain PIL loop | {rate['pil_loop']:.1f} | {pil['median']:.2f} ({pil['min']:.2f}-{pil['max']:.2f}) |",
             f"| bclib tf.data pipeline | {rate['tf_data']:.1f} | {pipe['median']:.2f} "
             f"({pipe['min']:.2f}-{pipe['max']:.2f}) |",
             f"| proposed model forward | {rate['proposed_model']:.1f} | {forward['median']:.2f} "
             f"({forward['min']:.2f}-{forward['max']:.2f}) |", "",
             f"tf.data / PIL loop: {rate['tf_data'] / rate['pil_loop']:.1f}x; pipeline / model: {ratio:.1f}x "
             f"(target >= 3x: {'met' if ratio >= 3 else 'NOT met'})"]
    text = "\n".join(lines)
    print(text)
    save("pipeline", {"title": "Input pipeline against the model", "rates": rate, "target_met": ratio >= 3,
                      "markdown": text})


if __name__ == "__main__":
    main()
