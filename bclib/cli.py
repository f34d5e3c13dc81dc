"""The ``bclib`` command line (``bclib --help``; the README's synopsis is :func:`synopsis`).

Mistakes a user can fix (a bad parameter, a missing folder, a damaged
dataset) are printed as one line, ``bclib: error: ...``, with exit status 2;
``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Optional, Sequence

from . import catalogue, variants
from .errors import UserError


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 700x460, got {text!r}") from None
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError("width and height must be at least 16")
    return width, height


def cmd_synth(args) -> int:
    from .data import synth

    if args.rehearsal:
        if args.layout != "breakhis":
            raise UserError("--rehearsal: only the BreakHis layout has a real-size rehearsal archive")
        out = synth.make_breakhis_rehearsal(args.out, seed=args.seed, force=args.force, workers=args.workers,
                                             size=args.size or (700, 460))
    elif args.layout == "breakhis":
        out = synth.make_breakhis(
            args.out, seed=args.seed, patients_per_subtype=synth.EMBEDDED_PATIENTS,
            images_per_magnification=args.images_per_magnification or synth.EMBEDDED_IMAGES_PER_MAGNIFICATION,
            size=args.size or (700, 460), force=args.force, workers=args.workers,
        )
    else:
        out = synth.make_bach(
            args.out, seed=args.seed, images_per_class=args.images_per_class,
            size=args.size or (512, 384), force=args.force, workers=args.workers,
        )
    info = json.loads((Path(out) / synth.MARKER).read_text())
    print(f"synthetic {args.layout} dataset: {info['n_images']} images in {out} (seed {info['seed']})")
    return 0


def cmd_audit(args) -> int:
    from .data.audit import audit
    from .data.index import index_dataset
    from .io import write_json_atomic

    index = index_dataset(args.dataset, args.root, args.task)
    record = audit(index, split=args.split, seed=args.seed, fold=args.fold, fold_policy=args.fold_policy)
    if args.json:
        write_json_atomic(args.json, record)
    else:
        print(json.dumps(record, indent=2))
    stream = sys.stderr if not args.json else sys.stdout
    print(f"{index.provenance()}; {len(index.problems)} problem(s)", file=stream)
    for note in record["notes"] + record.get("split", {}).get("notes", []):
        print(f"note: {note}", file=stream)
    return 0


def cmd_fetch(args) -> int:
    from .data.fetch import fetch

    fetch(args.dataset, args.to, args.url, keep_archive=args.keep_archive, extract=not args.no_extract,
          log=lambda m: print(m, flush=True))
    return 0


def cmd_run(args) -> int:
    from .runner import run_batch, run_notebooks

    only = [part for item in (args.only or []) for part in item.split(",")]
    say = lambda m: print(m, flush=True)  # noqa: E731
    if args.jobs is None and args.executor is None and not args.jobs_only:
        run_notebooks(args.params, only=only or None, overrides=args.set or [], log=say,
                      at_once=args.notebooks_at_once)
    else:
        run_batch(args.params, args.set or [], parallel=args.jobs or 1, executor=args.executor, force=args.force,
                  notebooks=not args.jobs_only, only=only or None, log=say, notebooks_at_once=args.notebooks_at_once)
    return 0


def cmd_plan(args) -> int:
    from .experiment.costs import format_plan
    from .params import load_params

    print(format_plan(load_params(args.params, args.set or [])))
    return 0


def cmd_gan_train(args) -> int:
    from .params import check_runnable, load_params

    params = load_params(args.params, args.set or [])
    check_runnable(params)
    from .gan.workflow import train_from_params
    from .layout import Layout

    out = args.out or Layout.of(params).gan(params.data.setting_folder)
    if args.use_selection:
        from .experiment.gan_sweeps import selection_if_swept

        params, selection = selection_if_swept(params)
        print(f"gamma {params.gan.gamma}, batch {params.gan.batch_size}: "
              + (f"selected by the sweep ({selection['criterion']})" if selection else
                 "the profile's own (no finished sweep / gan_selection.json)"), flush=True)
    trainer = train_from_params(params, out, log=lambda m: print(m, flush=True))
    print(f"cWGAN at {trainer.kimg:.2f} kimg; snapshots, fakes grids and metrics.jsonl in {out}")
    from .gan.snapshots import describe_selection, list_snapshots, select_snapshot

    if list_snapshots(out):
        print(f"selected snapshot: {describe_selection(select_snapshot(out)[1])}")
    return 0


def cmd_gan_generate(args) -> int:
    from .gan.generate import generate
    from .gan.snapshots import describe_selection, select_snapshot

    snapshot, info = select_snapshot(args.snapshot, "latest" if args.latest else "best")
    print(f"generating from {describe_selection(info)}", flush=True)
    truncation = args.truncation if args.truncation is not None else read_truncation(snapshot)
    out = generate(snapshot, args.class_name, args.n, args.seed, args.out, force=args.force,
                   magnification=args.magnification, truncation=truncation)
    classes = ", ".join(args.class_name)
    psi = f" (truncation psi {truncation:g})" if truncation < 1 else ""
    print(f"wrote {args.n} generated images of each of {classes}{psi} and manifest.csv to {out}")
    return 0


def read_truncation(snapshot) -> float:
    """The ``gan.truncation`` the snapshot was trained with (1 for older snapshots)."""
    from .gan.snapshots import read_state

    return float(read_state(snapshot).get("gan", {}).get("truncation", 1.0))


FID_KEYS = ("fid", "kid", "kid_std", "precision", "precision_std", "recall", "recall_std", "pr_n", "swd",
            "n_real", "n_fake", "features")


def _fid_summary(record: dict) -> str:
    def pm(key):
        value, spread = record.get(key), record.get(f"{key}_std")
        return "n/a" if value is None else f"{value:.3f} +/- {spread:.3f}" if spread is not None else f"{value:.3f}"

    fid, kid = record.get("distance_name", "FID"), "KID" if record.get("distance_name", "FID") == "FID" else "KD"
    return (f"{fid} {record['fid']:.4g}, {kid} {record['kid']:.4g} +/- {record['kid_std']:.2g}; precision "
            f"{pm('precision')}, recall {pm('recall')} (equal-size sets of {record.get('pr_n', 'n/a')}); SWD "
            f"{record['swd']:.4g} (x1e3); {record['n_real']} real, {record['n_fake']} generated images")


def cmd_fid(args) -> int:
    from .io import write_json_atomic
    from .metrics.features import extractor_from_settings, folder_images
    from .metrics.score import score_folders

    if args.swd_size < 16 or args.swd_size > 1024 or args.swd_size & (args.swd_size - 1):
        raise UserError(f"--swd-size must be a power of two between 16 and 1024, got {args.swd_size}")
    for folder in (args.real_dir, args.fake_dir):  # a wrong folder is told before a network is built
        folder_images(folder)
    extractor = extractor_from_settings(args.features, args.weights, args.image_size)
    record = score_folders(args.real_dir, args.fake_dir, extractor, args.kid_subsets, args.kid_subset_size,
                           cache_dir=args.cache, crop=args.crop, pr_k=args.pr_k, pr_repeats=args.pr_repeats,
                           swd_size=args.swd_size)
    if args.json:
        write_json_atomic(args.json, record)
    print(_fid_summary(record))
    print(json.dumps({k: record.get(k) for k in FID_KEYS}))
    print(f"note: {record['note']}", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    from .params import check_runnable, load_params
    from .train import train_classifier

    params = load_params(args.params, args.set or [])
    check_runnable(params)
    seed = params.seed if args.seed is None else args.seed
    out = args.out or default_train_out(args.params, args.set or [], params, args.model, args.variant, seed)
    record = train_classifier(params, args.model, args.variant, seed, out, log=lambda m: print(m, flush=True))
    print(f"test accuracy {record['test_accuracy']:.3f} on {record['n_test']} images; outputs in {out}")
    return 0


def default_train_out(params_file, overrides: Sequence[str], params, model: str, variant: str, seed: int) -> Path:
    """Where ``bclib train`` without ``--out`` writes: the folder the job grid (and so the report) has for
    this run, fold/magnification and ``n-<count>`` folders included
    (:func:`bclib.experiment.classifier_jobs.grid_run_dir`).
    A ``--set train.cwgan_images=N`` picks one count of the profile's list, as the grid's jobs do."""
    from .experiment.classifier_jobs import grid_run_dir
    from .params import load_params, parse_override

    rest = [text for text in overrides if parse_override(text)[0] != ["train", "cwgan_images"]]
    profile = load_params(params_file, rest) if len(rest) < len(overrides) else params
    return grid_run_dir(params, model, variant, seed, profile)


def cmd_predict(args) -> int:
    from .evaluation.predict import predict_images
    from .io import write_json_atomic

    results = predict_images(args.model, args.images, args.gradcam)
    if args.json:
        write_json_atomic(args.json, results)
    for record in results:
        if "error" in record:
            print(f"bclib: {record['path']}: {record['error']}", file=sys.stderr)
        else:
            scores = ", ".join(f"{k[2:]}={v:.3f}" for k, v in record.items() if k.startswith("p_"))
            print(f"{record['path']}: {record['pred']} ({scores})")
    failed = sum("error" in r for r in results)
    return 0 if not failed else (2 if failed == len(results) else 1)


class _PlainText(argparse.RawDescriptionHelpFormatter):
    """Help as written (no re-wrapping of the descriptions), with defaults where an option has one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text and action.option_strings:
            text += f" (default: {action.default})"
        return text


def _command(sub, name: str, summary: str, func):
    p = sub.add_parser(name, help=summary, description=summary, formatter_class=_PlainText)
    p.set_defaults(func=func)
    return p


def _params_options(p, out_help: str) -> None:
    p.add_argument("--params", type=Path, required=True, metavar="FILE", help="the parameter profile (params/*.yaml)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one parameter for this run, e.g. train.epochs=3 (repeatable)")
    if out_help:
        p.add_argument("--out", type=Path, default=None, metavar="DIR", help=out_help)


def _add_data_commands(sub) -> None:
    p = _command(sub, "synth", "write the embedded synthetic dataset in a real archive's layout", cmd_synth)
    p.add_argument("--layout", choices=["breakhis", "bach"], required=True, help="which archive's folder layout")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write the dataset into")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (same seed, same images)")
    p.add_argument("--size", type=_size, default=None, metavar="WxH",
                   help="image size (default 700x460 for BreakHis, 512x384 for BACH)")
    p.add_argument("--images-per-magnification", type=int, default=None, metavar="N",
                   help="BreakHis: images per patient and magnification (default: the embedded set's, 1; "
                        "its 104 patients are fixed)")
    p.add_argument("--images-per-class", type=int, default=12, metavar="N", help="BACH: images per class")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="processes drawing images (default: up to 4)")
    p.add_argument("--rehearsal", action="store_true",
                   help="BreakHis at the real archive's size (82 patients, 7,909 tiles, Table 3's counts)")
    p.add_argument("--force", action="store_true", help="draw again even if the dataset exists")

    p = _command(sub, "audit", "count images, patients and problems of a dataset (JSON)", cmd_audit)
    p.add_argument("--dataset", choices=["breakhis", "bach"], required=True, help="which archive")
    p.add_argument("--task", choices=["binary", "subtype"], default="binary",
                   help="BreakHis classes: benign/malignant (binary) or the 8 subtypes")
    p.add_argument("--root", type=Path, required=True, metavar="DIR",
                   help="the dataset folder (any level of its layout)")
    p.add_argument("--split", choices=["patient", "folds", "cv", "image"], default=None,
                   help="also describe this split's train/val/test parts (folds: the published folds; cv: bclib's)")
    p.add_argument("--fold", type=int, choices=range(1, 6), default=1, metavar="N",
                   help="fold 1-5 of --split folds or cv (default 1)")
    p.add_argument("--fold-policy", choices=["strict", "published"], default="strict",
                   help="--split folds: a patient filed twice whose folders a fold puts on both sides: strict sets "
                        "its training images aside, published keeps the fold as published (default strict)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the split")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the JSON here (default: print it)")


def _add_fetch_command(sub) -> None:
    p = _command(sub, "fetch", "download, verify and unpack a real archive (resumable; safe unpacking)", cmd_fetch)
    p.add_argument("dataset", choices=["breakhis", "bach"], metavar="breakhis|bach", help="which archive")
    p.add_argument("--to", type=Path, default=None, metavar="DIR",
                   help="folder to fetch into (default: data/real/<dataset> of this checkout, where "
                        "params/breakhis.yaml and params/bach.yaml look)")
    p.add_argument("--url", default=None, metavar="URL",
                   help="a mirror, or file:///PATH of a copy fetched on another machine (default: the publisher's)")
    p.add_argument("--keep-archive", action="store_true", help="keep the archive after unpacking it")
    p.add_argument("--no-extract", action="store_true",
                   help="download (and check the published checksum) only; keeps the archive")


def _add_run_command(sub) -> None:
    p = _command(sub, "run", "execute the numbered notebooks headlessly with papermill (jobs first with --jobs)",
                 cmd_run)
    _params_options(p, "")
    p.add_argument("--only", action="append", metavar="NN,NN", help="notebook prefixes to run, e.g. --only 00,01")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="first run the independent jobs (GAN, sweep points, classifiers), N at a time")
    p.add_argument("--executor", default=None, metavar="dask://HOST:PORT",
                   help="run the jobs on an existing Dask distributed cluster instead")
    p.add_argument("--force", action="store_true", help="rerun jobs even if complete and up to date")
    p.add_argument("--jobs-only", action="store_true", help="run the jobs, not the notebooks")
    p.add_argument("--notebooks-at-once", type=int, default=1, metavar="N",
                   help="run up to N notebooks at a time, each once the notebooks it reads are done (make demo: 2, "
                        "for a 2-core CPU; keep 1 on a single GPU)")

    p = _command(sub, "plan", "list the jobs a profile will run, with estimates of time and disk", cmd_plan)
    _params_options(p, "")


def _add_model_commands(sub) -> None:
    p = _command(sub, "train", "train one classifier (model x variant x seed)", cmd_train)
    _params_options(p, "output folder (default: the job grid's, outputs/<profile>/runs/[fold-<k>/][mag-<m>/]"
                       "<model>/<variant>/[n-<count>/]seed-<s>)")
    names = catalogue.model_names()
    p.add_argument("--model", required=True, metavar="NAME",
                   help=f"{', '.join(names[:-1])} or {names[-1]} (bclib/catalogue.py)")
    p.add_argument("--variant", choices=variants.NAMES, default="none",
                   help="training-set variant (bclib/variants.py; the last four are the GAN's controls)")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="model seed (default: the profile's seed)")

    p = _command(sub, "predict", "class probabilities (and Grad-CAM overlays) for images from a saved model",
                 cmd_predict)
    p.add_argument("--model", type=Path, required=True, metavar="RUN/model.keras",
                   help="a model.keras written by bclib train")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                   help="image files to classify (a folder: every image below it)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the results here")
    p.add_argument("--gradcam", type=Path, default=None, metavar="DIR", help="write heatmap overlays here")

    p = _command(sub, "fid", "FID, KID, precision/recall and SWD between two folders of images", cmd_fid)
    p.add_argument("real_dir", type=Path, metavar="REAL_DIR", help="folder of real images")
    p.add_argument("fake_dir", type=Path, metavar="FAKE_DIR", help="folder of generated images")
    p.add_argument("--features", default="inception", metavar="inception|efficientnet-lite0|ENCODER|MODEL.keras",
                   help="feature extractor: InceptionV3, EfficientNet-Lite0 (ImageNet weights offline, with "
                        "bclib[pretrained]), a foundation encoder (phikon-v2, dinov2-large) or a saved classifier")
    p.add_argument("--weights", default="imagenet", metavar="imagenet|none|FOLDER",
                   help="the extractor's weights: 'imagenet' = pretrained (an encoder's published checkpoint), "
                        "'none' = untrained, for offline use; an encoder also takes a checkpoint folder")
    p.add_argument("--image-size", type=int, default=None, metavar="PX",
                   help="extractor input size (default: the extractor's own: 299 for InceptionV3, 224 for "
                        "EfficientNet-Lite0 and the encoders)")
    p.add_argument("--kid-subsets", type=int, default=100, metavar="N", help="KID: number of random subsets")
    p.add_argument("--kid-subset-size", type=int, default=1000, metavar="N", help="KID: images per subset")
    p.add_argument("--pr-k", type=int, default=3, metavar="K", help="precision/recall: neighbours of the k-NN balls")
    p.add_argument("--pr-repeats", type=int, default=10, metavar="R",
                   help="precision/recall: draws of the larger set cut to the smaller one's size")
    p.add_argument("--swd-size", type=int, default=64, metavar="PX", help="SWD: images resized to PX x PX")
    p.add_argument("--crop", choices=["squash", "centre"], default="squash",
                   help="each image whole, resized to a square, or its centre square (use centre to compare "
                        "square generated images with 700x460 tiles)")
    p.add_argument("--cache", type=Path, default=None, metavar="DIR", help="folder to cache features in")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the result here")


def _add_gan_commands(sub) -> None:
    gan = sub.add_parser("gan", help="train the cWGAN or generate images with it", formatter_class=_PlainText,
                         description="train the cWGAN or generate images with it").add_subparsers(
        dest="gan_command", required=True, metavar="{train,generate}")
    p = _command(gan, "train", "train (or resume) the cWGAN on the training split", cmd_gan_train)
    _params_options(p, "output folder (default: outputs/<profile>/gan/[fold-<k>/][mag-<m>/])")
    p.add_argument("--use-selection", action="store_true",
                   help="train with the gamma and batch size of the profile's gan_selection.json (written from "
                        "the finished sweep if missing); for the main GAN, never for a sweep point")
    p = _command(gan, "generate", "write labelled images from a snapshot", cmd_gan_generate)
    p.add_argument("--snapshot", type=Path, required=True, metavar="PATH",
                   help="a snapshot folder, or a training output folder: its selected snapshot (the lowest FID "
                        "of the generated class, the one the sweep tables rank)")
    p.add_argument("--latest", action="store_true", help="with a training folder, its latest snapshot instead")
    p.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="truncation psi in [0, 1] (1: none; default: the profile's gan.truncation, recorded in "
                        "the snapshot)")
    p.add_argument("--class", dest="class_name", required=True, action="append", metavar="NAME",
                   help="class to generate (repeat, or join with commas, for several)")
    p.add_argument("--magnification", default=None, metavar="MAG",
                   help="e.g. 200X, for a GAN trained with gan.condition_magnification (default: training mix)")
    p.add_argument("--n", type=int, required=True, metavar="N", help="number of images")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="latent seed")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write the images into")
    p.add_argument("--force", action="store_true", help="replace an earlier generated folder")


DESCRIPTION = """bclib: the command line of the breast-cancer histopathology compendium.

Errors you can fix (a bad parameter, a missing folder, a damaged dataset) print
one line, 'bclib: error: ...', and exit with status 2; --debug shows the
traceback. 'bclib COMMAND --help' describes each command."""


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="bclib", description=DESCRIPTION, formatter_class=_PlainText)
    parser.add_argument("--version", action="version", version=f"bclib {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="full tracebacks, and TensorFlow's own log lines, for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_data_commands(sub)
    _add_fetch_command(sub)
    _add_run_command(sub)
    _add_model_commands(sub)
    _add_gan_commands(sub)
    return parser


def _usage_item(action) -> str:
    if action.option_strings:
        option = max(action.option_strings, key=len)
        if action.nargs == 0:
            item = option
        else:
            item = f"{option} {action.metavar or '|'.join(map(str, action.choices or [])) or action.dest.upper()}"
        return item if action.required else f"[{item}]"
    name = action.metavar or action.dest.upper()
    return f"{name}..." if action.nargs == "+" else name


def synopsis() -> list[str]:
    """One line per command, as the README's command-line section shows them."""
    lines = []

    def walk(parser, words):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if subs:
            for name, child in subs[0].choices.items():
                walk(child, words + [name])
            return
        items = [_usage_item(a) for a in parser._actions if not isinstance(a, argparse._HelpAction)]
        lines.append(" ".join(words + items))

    walk(build_parser(), ["bclib"])
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.debug:
        from .backend import quiet_environment

        quiet_environment()
    try:
        return args.func(args)
    except UserError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"bclib: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bclib: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, permissions: the user's environment, not a bug
        if args.debug:
            traceback.print_exc()
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"bclib: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
