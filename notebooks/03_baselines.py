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

# %% [markdown]
# *On Google Colab* the next cell fetches the compendium, installs bclib (keeping
# Colab's own TensorFlow and Keras) and draws the embedded synthetic data; pick
# `params/colab-gpu.yaml` below for a GPU-sized run. Elsewhere it does nothing.

# %%
import os, subprocess, sys  # noqa: E401, I001
if "google.colab" in sys.modules:
    REPOSITORY, HOME = "https://github.com/bclib/bclib", "/content/bclib"
    if not os.path.isdir(HOME):
        subprocess.run(f"git clone -q --depth 1 {REPOSITORY} {HOME} && cd {HOME} && pip install -q -e . && "
                       "bclib synth --layout breakhis --out data/synthetic/breakhis && "
                       "bclib synth --layout bach --out data/synthetic/bach", shell=True, check=True)
    sys.path.insert(0, HOME)  # an editable install is seen by new Python processes only; this one needs the path
    os.chdir(f"{HOME}/notebooks")

# %% tags=["parameters"]
params_path = "../params/smoke.yaml"

# %%
from bclib.figures import save_figure
from bclib.notebook import save_table, setup
from bclib.train import jobs as classifier_jobs

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
    runs = classifier_jobs.collect_runs(jobs)
    provenance = classifier_jobs.run_provenance(runs, params.data.split)
    print(provenance)

# %% [markdown]
# ## 2. Learning curves
# Solid lines are the training set, dashed lines the validation patients (the
# paper's Figures 5 and 6 show the same for its model). A validation curve that
# stays flat while the training curve improves means the head is learning to
# recognise training images, not the disease.

# %%
if jobs:
    fig = classifier_jobs.learning_curves(jobs, provenance)
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
table = classifier_jobs.accuracy_table(runs) if jobs else None
if jobs:
    save_table(table, "03_baseline_accuracy", session)
table

# %% [markdown]
# ## What to take away
# * Every baseline shares the same head and the same data; only the backbone and
#   the augmentation change, so differences are attributable to them.
# * Accuracy on a handful of test patients moves a lot from one seed or split to
#   the next; notebook 05 puts intervals on these numbers.
