"""Classifier training: one epoch on cached frozen-backbone outputs against recomputing the backbone.

Same data (the embedded synthetic BreakHis training split), same model (MobileNet baseline at
the smoke size), same batch size. Target: the cached path at least 5x faster per epoch.
The one-off cost of filling the cache is reported too: it is paid once per image, then
shared by every epoch, variant and seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import save, timeit  # noqa: E402

from bclib.data.index import index_from_params  # noqa: E402
from bclib.data.pipeline import make_dataset  # noqa: E402
from bclib.data.splits import split_from_params  # noqa: E402
from bclib.models import build_model, calibrate_untrained_batchnorm, trunk_and_top  # noqa: E402
from bclib.params import load_params  # noqa: E402
from bclib.paths import project_root  # noqa: E402
from bclib.train.store import StoreReader, write_store  # noqa: E402


def main(model_name: str = "mobilenet", repeats: int = 3) -> None:
    import keras

    params = load_params(project_root() / "params" / "smoke.yaml")
    cfg = params.train
    index = index_from_params(params)
    split = split_from_params(index, params)
    train = split[split["part"] == "train"]
    labels = train["label_index"].to_numpy()
    keras.utils.set_random_seed(0)
    model = build_model(model_name, 2, cfg.image_size, "none")
    trunk, top = trunk_and_top(model)
    calibrate_untrained_batchnorm(
        trunk, next(iter(make_dataset(train.iloc[:64], cfg.image_size, 64, label_column=None))))
    images = make_dataset(train, cfg.image_size, cfg.batch_size, cache=True)  # decoded once: only the backbone is timed
    list(images)

    import tempfile

    folder = Path(tempfile.mkdtemp()) / "store"
    fill = timeit(lambda: write_store(trunk, train, cfg.image_size, folder), repeats=1, warmup=0)
    stored = StoreReader([write_store(trunk, train, cfg.image_size, folder)]).dataset(labels, cfg.batch_size,
                                                                                     shuffle=True)
    for m in (model, top):
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    cached = timeit(lambda: top.fit(stored, epochs=1, verbose=0), repeats=repeats)
    full = timeit(lambda: model.fit(images, epochs=1, verbose=0), repeats=repeats)
    ratio = full["median"] / cached["median"]
    text = "\n".join([
        f"Model {model_name}, {len(train)} training images at {cfg.image_size}px, batch {cfg.batch_size}",
        "",
        "| path | epoch median s | min | max |", "| --- | --- | --- | --- |",
        f"| recompute frozen backbone | {full['median']:.2f} | {full['min']:.2f} | {full['max']:.2f} |",
        f"| stored backbone outputs (float16 on disk, streamed) | {cached['median']:.3f} | {cached['min']:.3f} "
        f"| {cached['max']:.3f} |",
        "",
        f"Speed-up per epoch: {ratio:.1f}x (target >= 5x: {'met' if ratio >= 5 else 'NOT met'}); "
        f"filling the cache once: {fill['median']:.2f} s",
    ])
    print(text)
    save("train", {"title": "Classifier epoch: cached vs recomputed backbone", "cached_s": cached, "full_s": full,
                   "cache_fill_s": fill, "speedup": ratio, "markdown": text})


if __name__ == "__main__":
    main()
