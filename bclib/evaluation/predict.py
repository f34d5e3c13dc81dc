"""``bclib predict``: class probabilities for image files from a saved classifier, optionally with Grad-CAM.

The model is loaded in Keras safe mode (no Python code from the file runs).
Each image goes through the same checks and resizing as training
(:mod:`bclib.data.images` bounds its size before decoding); an unreadable
image gets its own error line and the others are still predicted.
Class names come from the ``run.json`` written beside the model by
``bclib train``; without it they are ``class_0``, ``class_1``, ... A model trained
with ``data.stain_normalization`` has its stain reference in ``run.json`` too,
and every image is normalised onto it before prediction, as in training. Images are made
square as the run made them (``data.geometry`` in ``run.json``: squashed, or their centre
square cut out; runs from before that setting squashed).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import UserError


def load_classifier(model_path: str | Path):
    """(model, class names) from a ``.keras`` file written by ``bclib train``."""
    from .. import models  # noqa: F401  registers bclib's layers for deserialisation
    from ..backend import keras

    path = Path(model_path)
    if path.suffix != ".keras" or not path.is_file():
        raise UserError(f"{path}: not a .keras model file")
    # A .keras file is a zip archive; one cut short (a copy or download interrupted) made Keras say
    # "File not found" for a file that exists.
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path}: the model file is damaged or incomplete (not a whole .keras archive); "
                        "copy it again or retrain the run")
    try:
        model = keras().models.load_model(path, safe_mode=True, compile=False)
    except (ValueError, OSError, TypeError) as exc:
        raise UserError(f"{path}: cannot load the model ({str(exc).splitlines()[0]})") from None
    n_classes = int(model.output_shape[-1])
    record = path.with_name("run.json")
    classes = json.loads(record.read_text()).get("classes") if record.is_file() else None
    if not classes or len(classes) != n_classes:
        classes = [f"class_{i}" for i in range(n_classes)]
    return model, list(classes)


def run_stain_reference(model_path: str | Path):
    """The stain reference recorded in the ``run.json`` beside the model (None when there is none)."""
    from ..data.stain import StainReference

    record = Path(model_path).with_name("run.json")
    stored = json.loads(record.read_text()).get("stain_reference") if record.is_file() else None
    return None if not stored else StainReference.from_json(json.dumps(stored))


def run_image_geometry(model_path: str | Path) -> str:
    """How the run beside the model made its images square (``data.geometry`` in its ``run.json``)."""
    from .tta import run_geometry

    record = Path(model_path).with_name("run.json")
    return run_geometry(json.loads(record.read_text()) if record.is_file() else {})


def expand_folders(paths: Sequence[str | Path]) -> list[Path]:
    """``paths`` with every folder replaced by the image files below it, sorted (e.g. BACH's unlabelled
    ``ICIAR2018_BACH_Challenge_TestDataset/Photos``)."""
    from ..data.images import is_image_name
    from ..data.records import walk_files

    files: list[Path] = []
    for path in map(Path, paths):
        found = [p for p in walk_files(path) if is_image_name(p)] if path.is_dir() else [path]
        if path.is_dir() and not found:
            raise UserError(f"{path}: folder holds no image files")
        files.extend(found)
    return files


def predict_images(model_path: str | Path, image_paths: Sequence[str | Path],
                   gradcam_dir: Optional[str | Path] = None) -> list[dict]:
    """One record per image: ``{"path", "pred", "p_<class>"...}`` or ``{"path", "error"}``; a folder
    stands for the image files below it."""
    from PIL import Image

    from ..data.images import ImageProblem, inspect_image
    from ..data.pipeline import load_batch
    from ..io import atomic_path
    from ..train.decision import decide, run_threshold

    model, classes = load_classifier(model_path)
    size = int(model.input_shape[1])
    stain = run_stain_reference(model_path)
    geometry = run_image_geometry(model_path)  # squash or crop, as in training
    threshold = run_threshold(model_path)  # the run's own decision rule (None: the most probable class)
    results = []
    for path in expand_folders(image_paths):
        try:
            inspect_image(path)
        except (ImageProblem, OSError) as exc:
            results.append({"path": str(path), "error": str(exc)})
            continue
        batch = load_batch([path], size, stain, geometry)
        if gradcam_dir is not None:
            from .gradcam import gradcam, overlay

            heat, probabilities = gradcam(model, batch)
            target = Path(gradcam_dir) / f"{Path(path).stem}_gradcam.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(target) as tmp:
                Image.fromarray(overlay(batch[0], heat[0])).save(tmp, format="PNG")
        else:
            probabilities = model.predict(batch, verbose=0)
        p = np.asarray(probabilities)[0]
        record = {"path": str(path), "pred": decide(p[None, :], classes, threshold)[0]}
        record |= {f"p_{c}": float(v) for c, v in zip(classes, p)}
        if gradcam_dir is not None:
            record["gradcam"] = str(target)
        results.append(record)
    return results
