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
# # 02 · Choosing the GAN's settings with FID and KID
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/bclib/bclib/blob/main/notebooks/02_gan_sweeps.ipynb)
#
# > **Learning objectives.** After this notebook you can (1) read a hyper-parameter sweep
# > against the paper's Tables 8 and 9; (2) say why a sweep must change one setting at a
# > time; (3) judge whether two FD/KID values may be compared at all.
# >
# > **Run time:** a few seconds (the sweep's GANs are trained as jobs before the
# > notebooks, or by notebook 01, which needs the sweep's choice).
# > **Reads:** `sweeps/` (one folder per sweep point). **Writes:** `tables/02_*`,
# > `figures/02_*`, `gan_selection.json`. Terms in *italics* are in the [glossary](../docs/glossary.md).
#
# How do we know whether one GAN is better than another? Looking at samples is
# subjective, so the paper scores each configuration with two numbers computed on
# features of a pretrained image network (InceptionV3):
#
# * **FID** (Fréchet Inception Distance) fits a Gaussian to the features of real
#   and of generated images and measures the distance between the two Gaussians.
#   Lower is better. It is biased upwards for small sets, so it must always be
#   reported with the number of images N.
# * **KID** (Kernel Inception Distance) compares the two feature sets with a
#   polynomial kernel and is unbiased, which makes it the safer number for small sets.
# * **Precision and recall** (Kynkäänniemi et al. 2019) split quality into two parts.
#   Around every real image we draw a ball reaching its 3rd-nearest real neighbour;
#   precision is the share of generated images that fall inside some real ball
#   ("do they look real?"). Recall does the same the other way round ("is the
#   variety of real images covered?"). Both run from 0 to 1, higher is better.
#
# The paper's Tables 8 and 9 score the **benign** images it generated, so every
# score here compares one class with itself: real benign training images against
# generated benign images (for BACH, which generates every class, the mean over the
# four classes). A score pooled over both classes would mostly measure the majority
# class, which the GAN is not used for.
#
# The paper sweeps the penalty weight **gamma** (its Table 8) and the **batch
# size** (its Table 9). Each sweep changes one thing: the gamma sweep runs at
# the profile's batch size, and the batch sweep at the profile's gamma
# (`gamma: auto` worked out at that batch size, 1.6384 for BreakHis; each
# table shows the value held fixed). We keep the gamma and batch size of the
# run with the lowest scores. Here each sweep point is an independent training run with its own output folder, so the points can also
# run in parallel (see the README). With the smoke profile the grid is reduced and
# the runs are a fraction of a kimg long, so the numbers show the method at work,
# not real quality. Offline there are no InceptionV3 weights, so the smoke profile
# measures the same distances in the features of an ImageNet-pretrained
# EfficientNet-Lite0 (installed with bclib, no download); the figures call them FD
# and KD, not FID and KID, because FID is defined in Inception's features. FIDs
# from Keras' InceptionV3 weights are in any case not comparable with published
# FIDs, which use the original 2015 TensorFlow graph. The tables keep the column
# names `FID` and `KID`, the names every profile's records share: with the smoke
# profile read them as FD and KD in Lite0 features.
#
# One more caution before setting our sweep beside Table 8: the paper's gamma is the
# weight of the R1 penalty. The smoke profile trains with WGAN-GP (`penalty:
# wgan-gp`), whose weight is also called `gamma` here but weighs a different penalty
# (`docs/gan.md`), so its two points (1 and 10) show the sweep machinery, not a
# repeat of Table 8. The real profiles (`params/breakhis.yaml`) use R1 and the
# paper's gammas.

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
from bclib.data.index import dataset_is_synthetic
from bclib.experiment import gan_sweeps
from bclib.figures import label_provenance, save_figure
from bclib.gan import training_figures
from bclib.metrics.features import distance_name, features_note
from bclib.notebook import readable, save_table, setup
from bclib.reference import paper_table

session = setup(params_path)
params = session.params
jobs = gan_sweeps.sweep_jobs(params)
feature_note = features_note(params.metrics.features, params.metrics.weights)
if jobs:
    print(f"{len(jobs)} sweep jobs: {', '.join(j.name for j in jobs)}")
    print(f"each {params.gan.sweep_kimg or params.gan.total_kimg} kimg; {feature_note}")
else:  # a headline-only profile sweeps nothing
    print("This profile's gan.gamma_sweep and gan.batch_sweep are empty: no sweep to run. The main GAN "
          "(notebook 01) uses the profile's own gamma and batch size; the cells below only say so.")

# %% [markdown]
# ## 1. Run the sweep
# Each job trains the cWGAN from scratch with one setting changed; FID, KID,
# precision and recall are computed at every snapshot against the training split's
# real images. Finished jobs are skipped, so this cell can be re-run after an
# interruption; notebook 01 has usually run the sweep already (it needs the
# selection before training the main GAN), and then this cell only reads the
# results. The equivalent shell command of a job is shown below for running it elsewhere.

# %%
if jobs:
    print(" ".join(jobs[0].command()))
    gan_sweeps.run_sweep_jobs(jobs)
records = gan_sweeps.sweep_records(jobs) if jobs else None
kinds = [k for k in ("gamma", "batch") if jobs and (records["kind"] == k).any()]
kind_of_data = "SYNTHETIC data" if dataset_is_synthetic(params.data.root) else "real data"
provenance = f"{params.data.dataset} ({kind_of_data}) | {feature_note}"

# %% [markdown]
# ## 2. FID, KID, precision and recall against kimg
# One curve per sweep value, scored on the class(es) the profile generates, with
# a point per snapshot. Early snapshots usually score badly; look for the setting
# whose curve goes lowest and stays there, not for a single lucky point. In the
# bottom row, circles on solid lines are precision and crosses on dashed lines
# recall. A run shorter than two snapshots has no curve: the smoke profile's sweep
# runs are that short, so here the figure shows where each setting ended, with
# the swept value on the x axis, and the real profiles draw the curves. Mind the
# y axis: differences of a few units in a distance of several hundred are noise
# at this size.

# %%
scored_on = records["scored_on"].dropna().iloc[0] if jobs and "scored_on" in records else "all classes"
if kinds:
    fig = training_figures.sweep_figure(records, kinds, distance_name(params.metrics.features), scored_on)
    label_provenance(fig, provenance)
    save_figure(fig, "02_fid_kid_vs_kimg", session.output_dir)

# %% [markdown]
# ## 3. The tables, beside the paper's
# For each sweep value we keep its best snapshot (lowest FID), in the layout of the
# paper's Tables 8 and 9, with the number of real and generated images behind each
# score. The paper's own values follow; they come from a 512-pixel GAN trained for
# hundreds of kimg on real BreakHis images, so only the *ranking* is comparable in
# spirit, not the values.

# %%
# NBVAL_CHECK_OUTPUT
gamma_table = gan_sweeps.sweep_table(records, "gamma") if "gamma" in kinds else None
batch_table = gan_sweeps.sweep_table(records, "batch") if "batch" in kinds else None
if gamma_table is not None:
    save_table(gamma_table, "02_gamma_sweep", session, provenance)
    print(gamma_table[["gamma", "N real", "N generated", "scored on"]].to_string(index=False))
if batch_table is not None:
    save_table(batch_table, "02_batch_sweep", session, provenance)
    print(batch_table[["batch size", "N real", "N generated", "scored on"]].to_string(index=False))

# %%
readable(gamma_table, 4) if gamma_table is not None else "no gamma sweep in this profile"

# %%
paper_table("table8_gamma_sweep")

# %%
readable(batch_table, 4) if batch_table is not None else "no batch-size sweep in this profile"

# %%
paper_table("table9_batch_sweep")

# %% [markdown]
# ## 4. The selection used downstream
# We keep the gamma and batch size of the one sweep run, from either table,
# with the lowest FID of the generated class (KID breaks ties), so the main
# GAN is trained with a configuration the sweep actually trained. We write
# them to `gan_selection.json`. Notebook 01 reads
# it through `gan_sweeps.selected_params` and trains the main GAN with that gamma and
# batch size. With runs this short the choice is close to arbitrary, whatever
# the features; with the real profile it is the paper's procedure.

# %%
selection = (gan_sweeps.select_configuration(records, jobs, session.output_dir / "gan_selection.json", note=provenance)
             if kinds else {"gamma": params.gan.gamma, "batch_size": params.gan.batch_size,
                            "criterion": "the profile's own values (no sweep)"})
readable({k: v for k, v in selection.items() if k in ("gamma", "batch_size", "criterion")})

# %% [markdown]
# ## What to take away
# * FID and KID need the number of images next to them, and KID is the safer
#   score for small sets. Precision and recall say *why* a score is bad: unrealistic
#   images (low precision) or missing variety (low recall).
# * Score the class you will use: a pooled score is dominated by the majority class.
# * Distances from different feature networks (or different weights of the same
#   network) cannot be compared: this compendium's numbers are comparable with each
#   other, not with published FIDs.
# * A sweep is only as good as its longest runs: short runs rank settings by how
#   fast they start, not where they end.

# %% [markdown]
# ## Exercises
# Worked solutions: `solutions/solutions_02_gan_sweeps.py` (the test suite runs them).
#
# 1. Compute the R1 weight that `gamma: auto` gives at batch sizes 16, 32, 64 and 128.
#    What would a batch sweep that left gamma on auto be comparing?
# 2. From a sweep table, pick the point with the lowest FID. Was that point trained, or
#    is it a combination of two sweeps' winners?
# 3. *Try next:* add a third value to `gan.gamma_sweep` and run `bclib plan` on your
#    profile: how many new jobs does the plan add, and why not more?
