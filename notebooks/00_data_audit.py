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
# # 00 · Data audit: what is in the dataset, and how we split it
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/bclib/bclib/blob/main/notebooks/00_data_audit.ipynb)
#
# > **Learning objectives.** After this notebook you can (1) describe a histopathology
# > dataset by class, subtype, magnification and patient; (2) explain why the split must
# > keep each patient in one part; (3) read a split summary and say what a model must beat.
# >
# > **Run time:** about 10 seconds on 2 CPU cores (smoke profile).
# > **Reads:** the dataset folder named by `data.root` (smoke: the embedded synthetic BreakHis).
# > **Writes:** `outputs/<profile>/audit.json`, `tables/00_*.csv`, `figures/00_*.png`.
# > Terms in *italics* below are in the [glossary](../docs/glossary.md); the [notebook map](../README.md#the-notebooks-at-a-glance)
# > shows how this notebook feeds the others.
#
# Before training anything we look at the data itself. This notebook answers
# four questions that decide whether later numbers can be trusted:
#
# 1. **How many images of each kind are there?** We rebuild the paper's Table 3
#    (images per tumour subtype and magnification) for the dataset found on disk,
#    and put the paper's own counts beside it.
# 2. **How unbalanced are the classes, and how many patients stand behind them?**
#    BreakHis has thousands of images but only 81 patients (in 82 folders: one
#    patient is filed under two subtypes); the number of patients, not images,
#    limits how well a result generalises.
# 3. **Is anything broken?** Unreadable, truncated or misnamed files are listed,
#    not silently dropped.
# 4. **Does the split keep patients apart?** If images of one patient appear in
#    both training and test sets, a model can score well by recognising the
#    patient's stain and tissue rather than the disease.
#
# By default (`params/smoke.yaml`) everything here runs on the **embedded
# synthetic dataset**: procedurally drawn H&E-like tiles filed exactly like the
# real BreakHis archive. Point `data.root` in a parameter file at the real data
# and the same cells audit it. What the synthetic tiles can and cannot teach is
# explained in `docs/synthetic-data.md`.

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
# Papermill replaces this cell when the notebook runs headlessly (`bclib run`).
params_path = "../params/smoke.yaml"

# %% [markdown]
# ## Setup
# `bclib.notebook.setup` reads and validates the parameter file (a typo in a key
# stops here with a message naming it), creates the output folders and fixes
# the random seeds.

# %%
import pandas as pd

from bclib.data import audit as dataset_audit
from bclib.data import audit_figures
from bclib.data.index import index_from_params
from bclib.data.splits import make_split, patient_overlap, split_from_params, split_notes
from bclib.figures import save_figure
from bclib.io import write_json_atomic
from bclib.notebook import save_table, setup
from bclib.reference import archive_table3, paper_table3

session = setup(params_path)
params = session.params
print(f"profile: {params.profile} | dataset: {params.data.dataset} | split: {params.data.split} | seed: {params.seed}")

# %% [markdown]
# ## 1. Index the dataset
# `index_from_params` (`index_dataset` with the profile's dataset, root and task)
# finds every image below the root, reads each one once to make
# sure it decodes, and returns one table row per usable image with its class,
# subtype, magnification and patient. For BreakHis all four come from the file
# name (`SOB_B_A-14-22549AB-40-001.png`: benign, adenosis, patient `14-22549AB`,
# 40X), so the folders do not matter: the official archive at any level, the
# Kaggle copy, a copy sorted by magnification or flattened into one folder, PNG
# or JPEG, all read the same. Folder names that also say a class, subtype or
# magnification are checked against the name, and a disagreement is listed as a
# problem. The index also keeps *notes*: facts that are not errors but change how
# the data should be read, printed under the table.
#
# Two profile switches change what the rest of the compendium sees. `data.task`
# decides the classes: `binary` (benign against malignant, the paper's main
# task) or `subtype`, the eight tumour types coded in the file name (`A` for
# adenosis, `DC` for ductal carcinoma, ...), a much harder problem with few
# patients per class. `data.stain_normalization` (`macenko` or `reinhard`)
# recolours every image towards one reference tile picked from the training
# patients only, so that differences between staining batches do not become a
# shortcut; it is off here.

# %%
index = index_from_params(params)
provenance = index.provenance()
print(provenance)
for note in index.notes:
    print("note:", note)
index.frame[["relpath", "label", "subtype", "magnification", "patient"]].head()

# %% [markdown]
# ## 2. Images per subtype and magnification (the paper's Table 3)
# Each BreakHis slide was photographed at four magnifications, so every subtype
# appears four times. Look at how strongly ductal carcinoma dominates the
# malignant class: a classifier can be "accurate" by leaning on it.

# %%
# NBVAL_CHECK_OUTPUT
if index.dataset == "breakhis":
    table3 = dataset_audit.subtype_magnification_table(index)
    save_table(table3, "00_subtype_by_magnification", session, provenance)
    print(table3.to_string())

# %% [markdown]
# For comparison, the real BreakHis archive's counts (bclib ships its 82 patient
# folders and their image counts as data, `bclib/reference/breakhis_archive_counts.tsv`)
# beside the counts the paper prints (Deebani et al. 2025, Table 3). On the
# embedded synthetic data the totals are much smaller by design; the *shape*
# (four magnifications, ductal carcinoma largest) is what should match.
#
# Read the two columns row by row: they agree everywhere except phyllodes
# tumour and tubular adenoma, whose rows the paper has swapped. The archive has
# 453 phyllodes tumour images (from 3 patients) and 569 tubular adenoma images
# (from 7). A small slip, but a reminder to check a paper's data tables against
# the data before copying them: bclib's rehearsal archive (`bclib synth
# --rehearsal`) is drawn from the archive's own folders, not from the paper's table.

# %%
# NBVAL_CHECK_OUTPUT
if index.dataset == "breakhis":
    archive = archive_table3()
    paper = paper_table3()
    beside = pd.concat({"archive": archive["Total"], "paper (Table 3)": paper["Total"]}, axis=1)
    beside["rows agree"] = (archive == paper.loc[archive.index, archive.columns]).all(axis=1)
    print(beside.to_string())

# %% [markdown]
# ## 3. Class balance and patients
# The share of images per class tells us what a trivial "always predict the
# majority class" model would score. The patient column is the honest sample
# size: a test set of 160 images may hold only a handful of patients.

# %%
# NBVAL_CHECK_OUTPUT
balance = dataset_audit.class_balance(index)
save_table(balance, "00_class_balance", session, provenance)
print(balance.to_string())

# %%
fig = audit_figures.class_balance_figure(index, provenance)
save_figure(fig, "00_class_balance", session.output_dir);

# %% [markdown]
# ## 4. Image sizes, colour modes and problems
# Real archives contain surprises: a grayscale scan, an RGBA export, a file cut
# short by a broken download. Every image is converted to RGB when it is read;
# files that cannot be used at all are listed below with the reason and left out.

# %%
# NBVAL_CHECK_OUTPUT
print(dataset_audit.image_properties(index).to_string(index=False))

# %%
# NBVAL_CHECK_OUTPUT
problems = pd.DataFrame(index.problems, columns=["path", "problem"])
print(f"{len(problems)} problem(s) found")
problems.head(20) if len(problems) else "no problem found: every file was read"

# %% [markdown]
# ## 5. What the tissue looks like
# One example per subtype and magnification (the paper's Figures 2 and 3). As
# the magnification grows we see fewer, larger structures: at 40X dozens of
# glands, at 400X part of one, with single nuclei clearly visible.
#
# Things to look for, on the real data as on the synthetic tiles:
# * **stroma**: pink collagen with fibres running in one direction and thin,
#   spindle-shaped nuclei; white **fat** cells and empty **background**;
# * **benign** subtypes keep an orderly architecture: small round acini
#   (adenosis), slit-like ducts in loose stroma (fibroadenoma), long clefts in
#   crowded stroma (phyllodes tumour), packed small tubules (tubular adenoma).
#   Their nuclei are small, round, evenly dark and sit in one layer;
# * **malignant** subtypes show solid nests (ductal), cells in single file
#   (lobular), pale mucin lakes with floating clusters (mucinous) or branching
#   fronds (papillary). Their nuclei are larger, varied in size and shape, with
#   pale centres and a dark nucleolus;
# * **each patient looks different**: stain colour and strength, focus and lamp
#   colour change from row to row. That is the patient signature a model can
#   learn instead of the disease (section 6).

# %%
fig = audit_figures.samples_figure(index, params.seed, provenance)
save_figure(fig, "00_samples", session.output_dir);

# %% [markdown]
# A closer look: two benign and two malignant tiles at the highest magnification,
# at full resolution. Compare nuclear size, shape, darkness and crowding; notice
# that the classes overlap, and that stain colour says more about the patient
# than about the diagnosis.

# %%
fig = audit_figures.closeup_figure(index, params.seed, provenance)
save_figure(fig, "00_closeup", session.output_dir);

# %% [markdown]
# ## 6. The split: are patients kept apart?
# bclib splits **by patient** by default: all images of a patient go to one of
# train, validation or test, and the class proportions are kept similar in each
# part. With `data.task: subtype` every subtype that has at least three patients
# gets one in each part (phyllodes tumour has only three in the whole archive).
# The table shows images per class and the number of patients per part; any
# note under it says something the numbers alone do not.
#
# Two other ways to split are worth knowing. `data.split: folds` uses the five
# folds the BreakHis authors published (`Folds.csv` or `dsfold1.txt` ...
# `dsfold5.txt`), the protocol most BreakHis papers report. One patient,
# 14-13412, is filed twice in the archive (under ductal and under lobular
# carcinoma), and a published fold can put one of its folders in training and
# the other in test. With `data.fold_policy: strict` (the default) bclib sets
# that patient's training images aside, so the test set stays exactly as
# published and no test patient was seen in training; `published` keeps the fold
# as it is and says so. BACH publishes no patient ids, but an evaluation
# framework (kaiko-ai/eva) published a division of its 400 photos in which no
# patient is on both sides; bclib's BACH test part is eva's held-out side.

# %%
# NBVAL_CHECK_OUTPUT
split = split_from_params(index, params)
summary = dataset_audit.split_summary(split, index.class_names)
save_table(summary, "00_split_summary", session, provenance)
print(summary.to_string())
for note in split_notes(split):
    print("note:", note)

# %%
# NBVAL_CHECK_OUTPUT
overlap = patient_overlap(split)
if not index.has_patients:
    print("This dataset publishes no patient ids: each image is its own group.")
for pair, shared in overlap.items():
    print(f"patients shared by {pair}: {len(shared)}")

# %% [markdown]
# For contrast, the **image-level** split that the paper used. Images are shuffled
# without regard to who they came from, so the same patients turn up in training
# and in test. Any accuracy measured this way partly rewards recognising patients.
# Notebook 05 measures how much that inflates the scores.

# %%
# NBVAL_CHECK_OUTPUT
image_split = make_split(index, "image", params.seed, params.data.val_fraction, params.data.test_fraction)
for pair, shared in patient_overlap(image_split).items():
    print(f"image-level split, patients shared by {pair}: {len(shared)}")

# %% [markdown]
# ## 7. The audit record
# Everything above is also written as one JSON file next to the figures, the
# same record `bclib audit` produces on the command line.

# %%
record = dataset_audit.audit(index, split=params.data.split, seed=params.seed,
                             val_fraction=params.data.val_fraction, test_fraction=params.data.test_fraction,
                             fold=params.data.fold, fold_policy=params.data.fold_policy)
audit_path = write_json_atomic(session.output_dir / "audit.json", record)
print(f"wrote {audit_path.name}: {record['n_images']} images, {len(record['problems'])} problem(s)")

# %% [markdown]
# ## What to take away
# * The classes are unbalanced (about one benign image for two malignant), which
#   is why the paper synthesises extra benign images with a GAN (notebook 01).
# * There are far fewer patients than images. Every result in this compendium is
#   therefore reported with uncertainty, and on a patient-disjoint test set.
# * If the problem list above is not empty, check those files before training:
#   they are excluded from every later step.

# %% [markdown]
# ## Exercises
# Worked solutions: `solutions/solutions_00_data_audit.py` (the test suite runs them).
#
# 1. How many images does a patient contribute, on average and at most, in each class?
#    Why does that make an image-level score lean towards some patients?
# 2. Check, from the split table, that no patient is in two parts. What would you find
#    on an image-level split (`--set data.split=image`)?
# 3. What accuracy does always answering the test part's largest class give? Which
#    measure in later notebooks is immune to that answer, and why?
# 4. *Try next:* set `data.magnifications: [400X]` in a copy of the profile and rerun this
#    notebook. Which numbers change, and which (the patients) do not?
