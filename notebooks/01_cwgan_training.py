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
# # 01 · Training the cWGAN (the paper's conditional Wasserstein GAN)
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/bclib/bclib/blob/main/notebooks/01_cwgan_training.ipynb)
#
# > **Learning objectives.** After this notebook you can (1) say what a conditional GAN's
# > generator and critic each learn; (2) read loss curves and FD/KID/precision/recall
# > against *kimg*; (3) check generated images for memorisation and for whether they carry
# > their class (*TSTR*).
# >
# > **Run time:** about 2 minutes on 2 CPU cores (smoke profile; it also runs notebook 02's
# > sweep jobs, which the main GAN's settings depend on).
# > **Reads:** the dataset, `gan_selection.json` from the sweep. **Writes:** `gan/` (snapshots,
# > log), `generated/` (images for the classifiers), `tables/01_*`, `figures/01_*`.
# > Terms in *italics* are in the [glossary](../docs/glossary.md).
#
# The paper's first idea is to **make more training images** of the minority
# class (benign) with a generative adversarial network, so that the classifiers
# see a balanced training set. Two networks are trained against each other:
#
# * the **generator** turns random noise *z* plus a class label *y* into an image;
# * the **critic** scores how real an image looks *for that class*.
#
# In a *Wasserstein* GAN the critic does not output a probability; it outputs an
# unbounded score, and the gap between its average score on real and on generated
# images estimates how far apart the two distributions are. That estimate only
# means something while the critic's slope is held in check: WGAN-GP (the smoke
# profile) penalises a gradient norm other than 1 at points between real and
# generated images, with weight `gamma`. StyleGAN2-ADA's R1 penalty (also weighted
# by `gamma`) watches real images only and cannot hold a Wasserstein critic on its
# own, so the real profiles pair it with a hinge loss (first item below). Training
# progress is counted in **kimg**: thousands of real images shown to the critic.
#
# Four more ingredients matter when, as here, there are only a few thousand
# training images (see `docs/gan.md` for the reasons and the measurements):
#
# * the real profiles use a **hinge** critic loss. With R1, which only watches the
#   critic's slope at real images, a plain linear critic loss lets the scores of
#   generated images run off to minus infinity, and training blows up;
# * the critic sees every image, real or generated, through random **augmentations**
#   (flips, 90° turns, shifts, colour/stain jitter, cut-outs) whose strength `p`
#   adapts during training (StyleGAN2-ADA), so it cannot simply memorise the
#   training set;
# * the critic also sees how *varied* a few images are together (a **minibatch
#   standard deviation** feature, as in StyleGAN2), so a generator that draws the same
#   tile again and again is caught;
# * the GAN learns from **square crops** of the 700×460 tiles (a random 460×460 square
#   each time, shrunk to the GAN's size), never from tiles squashed into a square, so
#   nuclei keep their shape and a 90° turn is a true symmetry of what it sees.
#
# Two rules keep this honest:
#
# 1. the GAN only ever sees **training patients** (the trainer refuses any image or
#    patient from the validation or test parts and records which patients it saw);
# 2. we **check for memorisation**: a GAN that copies its training images would
#    add nothing and could leak them.
#
# With the smoke profile the GAN is tiny and trains for an eighth of a kimg on
# synthetic tiles, so its pictures stay colour noise: what you can watch here is the
# machinery, not a GAN that has learnt tissue. (Measured: at 32 px, 3 kimg in about
# a minute gives a pink-and-white palette close to stained tissue, still without
# structure; exercise 4 below.) The machinery is the same as for the
# paper-sized run (`params/breakhis.yaml`, 512×512 pixels, hundreds of kimg on a GPU).

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
import numpy as np
import pandas as pd

from bclib.experiment import gan_sweeps
from bclib.figures import label_provenance, save_figure
from bclib.gan import analysis, training_figures
from bclib.gan.generate import generate
from bclib.gan.models import load_critic, load_generator
from bclib.gan.snapshots import describe_selection, select_snapshot
from bclib.gan.training_images import image_grid, load_images_u8
from bclib.gan.workflow import gan_output_dir, generated_dir, train_from_params
from bclib.io import read_jsonl
from bclib.metrics.features import features_note
from bclib.notebook import readable, save_table, setup
from bclib.tablefile import write_json_table

session = setup(params_path)
profile_params = session.params

# %% [markdown]
# ## 0. Which gamma and batch size?
# The paper picks the penalty weight gamma and the batch size by a sweep (its
# Tables 8 and 9, notebook 02). The main GAN should be trained with the winner, so
# the sweep runs first: `ensure_selection` trains every sweep point that is not
# finished yet, ranks them by the FID of the class we will generate (benign for
# BreakHis; the mean over classes for BACH) and writes `gan_selection.json`. The
# parameters below are the profile's with that choice applied. Notebook 02 shows
# the sweep's tables and curves.

# %%
params, selection = gan_sweeps.ensure_selection(profile_params, log=print)
gan = params.gan
if selection:
    print(f"selected by the sweep ({selection['criterion']}): gamma {gan.gamma}, batch {gan.batch_size}")
else:
    print("no sweep in this profile: its own gamma and batch size are used")
print(f"profile {params.profile}: {gan.resolution}px, batch {gan.batch_size}, {gan.total_kimg} kimg, "
      f"penalty {gan.penalty} (gamma {gan.gamma_value:.4g}{' = auto' if gan.gamma == 'auto' else ''}), "
      f"critic loss {gan.d_loss}, generator loss {gan.g_loss}, augmentation {gan.augment}, {gan.crop} crops")

# %% [markdown]
# ## 1. Train (or resume)
# `train_from_params` indexes the dataset, makes the profile's patient-disjoint
# split and trains on the training part only. If the output folder already holds
# snapshots, training resumes from the newest complete one, so re-running this
# cell after an interruption loses nothing. The sweep point the sweep selected was
# trained with exactly these settings, only for fewer kimg: it *is* the start of
# this run, so training continues from its last snapshot instead of repeating
# those kimg (the log says "continuing ..."; `continued_from.json` in the GAN's
# folder records it). The result is the same, bit for bit, as starting from zero.

# %%
trainer = train_from_params(params)

# %%
# NBVAL_CHECK_OUTPUT
out = gan_output_dir(params)
records = read_jsonl(out / "metrics.jsonl")
feature_note = features_note(params.metrics.features, params.metrics.weights)
provenance = f"{trainer.provenance} | cWGAN {gan.resolution}px, {trainer.kimg:.2f} kimg | {feature_note}"
print(f"trained on {trainer.n} images of {len(trainer.patients)} training patients")

# %%
# Not checked by nbval: the sweep's choice of gamma (and so the point the main run continues and the kimg of
# its last snapshot) rests on near-ties of an eighth-kimg run, which the processor and TensorFlow's thread
# count can tip either way.
print(f"{len(records)} snapshot records, last at {records[-1]['kimg']} kimg")

# %% [markdown]
# ## 2. How training went
# Read the seven panels (the eighth box says which features the distances use) like this:
#
# * **Losses.** The critic's and generator's losses only mean something relative to
#   each other and to the current opponent, so expect them to wander. With WGAN-GP
#   (the smoke profile) the critic's loss is mean D(generated) - mean D(real) plus the
#   penalty: it turns negative as soon as the critic tells the two apart, and how far
#   it falls is not bounded, so a critic loss of -10 or -80 is not in itself a problem.
#   What must not happen is losses running away together with a gradient norm that
#   keeps growing: that is divergence.
# * **Gradient norm.** How steeply the critic's score changes when an input image
#   changes. WGAN-GP pulls it towards 1; with R1 it should stay small. A norm that
#   keeps growing (issue #17 saw 85) means the critic has become a cliff the
#   generator cannot learn from.
# * **Augmentation p and r_t.** r_t is the share of real images the critic calls real
#   minus the share it calls fake. When it climbs above the target (0.6) the critic is
#   starting to memorise, and the adaptive scheme raises p. (Flat at 0 when the
#   profile has no augmentation.)
# * **FID and KID.** Distances between generated and real images in the features of
#   an image network, per class and pooled; lower is better. They should fall. The
#   names FID and KID belong to InceptionV3's features; the smoke profile measures the
#   same two distances in the features of an ImageNet-pretrained EfficientNet-Lite0
#   (the one pretrained network that installs offline), so the panels say **FD** and
#   **KD (EfficientNet-Lite0)** instead. The tables and the snapshot-selection lines
#   keep the record names `fid` and `kid`, which every profile shares: here, read them
#   as FD and KD.
# * **Precision and recall.** Precision: the share of generated images that land among
#   real ones (do they look real?). Recall: the share of real images that have a
#   generated image nearby (is the variety covered?). A generator that makes a few
#   perfect images has high precision and low recall: FID alone would hide that. Both
#   are computed on sets of equal size (the larger one subsampled, ten times). The
#   pooled precision can sit above both classes' own: pooled, a generated image counts
#   as realistic if it lands near a real image of *either* class. After an eighth of
#   a kimg the images are colour noise: recall is 0 and precision low.
# * **SWD.** The sliced Wasserstein distance between small patches of real and
#   generated images at several scales (a Laplacian pyramid): it needs no trained
#   network, so it means the same thing in every profile, with or without pretrained
#   weights. Lower is better.

# %%
fig = training_figures.training_curves(records, trainer.class_names)
label_provenance(fig, provenance)
save_figure(fig, "01_training_curves", session.output_dir);

# %% [markdown]
# The same scores for the last snapshot, one row per class. Each class's row compares
# its real training images with generated images *of that class*; the pooled row
# generates the classes in the proportions of the real training set, so the two
# sides are the same mixture.

# %%
scores = training_figures.per_class_scores(records[-1], trainer.class_names)
save_table(scores.reset_index(), "01_per_class_scores", session, provenance)
print(feature_note)
readable(scores, 4)

# %% [markdown]
# **Before reading these numbers as quality:** with the smoke profile the distances,
# precision and recall are computed in the features of EfficientNet-Lite0 trained on
# ImageNet photographs, at 96 px (`metrics.image_size`). Those features have learnt
# edges, textures and colours, so a smaller distance does mean generated images closer
# to the real ones in what such a network sees; but the network has never seen tissue,
# and the number is not an FID: it cannot be set beside the paper's FID of 16.1, nor
# beside an FID of any other project. Two such distances are only comparable when they
# come from the same feature network and weights, the same image size and the same
# numbers of real and generated images (the Fréchet distance is biased upwards for
# small sets); notebook 02's sweep points are shorter runs scored on other sets, so
# their distances cannot be set beside these either. After an eighth of a kimg the
# images above are still mostly colour, whatever the numbers say.

# %% [markdown]
# ## 3. What the generator draws, over time
# Each grid uses the *same* random latents at every snapshot, one row per class,
# so differences between grids show learning, not new noise. Compare the colour,
# the density of dark nuclei and the texture with the real tiles in the last row.

# %%
rng = np.random.default_rng(params.seed)
real_rows = [trainer.images[rng.choice(np.flatnonzero(trainer.labels == k), 8)]
             for k in range(len(trainer.class_names))]
fig = training_figures.fakes_over_time(out, records, image_grid(real_rows), trainer.class_names)
label_provenance(fig, provenance)
save_figure(fig, "01_fakes_over_time", session.output_dir);

# %% [markdown]
# ## Which snapshot is used from here on
# Quality can fall late in training, so the snapshot used below (and for the
# classifiers' synthetic images) is not simply the last one: it is the **selected**
# snapshot, the one with the lowest FID of the class we generate, which is how the
# sweep tables of notebook 02 pick a snapshot too. The trainer never deletes it.

# %%
snapshot, chosen = select_snapshot(out)
print(f"selected snapshot: {chosen['snapshot']} at {chosen['kimg']:g} kimg ({chosen['criterion']})")
# What the figures and tables below are made from: the selected snapshot, not the last one.
selected = (f"{trainer.provenance} | cWGAN {gan.resolution}px, selected snapshot {chosen['kimg']:g} kimg | "
            f"{feature_note}")

# %% [markdown]
# ## 4. Does the GAN copy its training images?
# For every generated image we find the closest training image, by pixels (both
# shrunk to 32×32) and by the critic's internal features. As a yardstick, the same
# distance is measured between each training image and its nearest *other*
# training image. Generated images that sit much closer to one training image than
# training images sit to each other would be copies.

# %%
generator, critic = load_generator(snapshot), load_critic(snapshot)  # the selected snapshot
print(describe_selection(chosen))
from bclib.gan.generate import sample  # noqa: E402

generated = np.concatenate([sample(generator, k, 32, seed=params.seed, latent_dim=gan.latent_dim)
                            for k in range(len(trainer.class_names))])
nearest = analysis.nearest_training_images(generated, trainer.images, critic)
reference = analysis.training_nn_distances(trainer.images, critic)
summary = pd.DataFrame({
    "generated to nearest training image": nearest[["pixel_distance", "feature_distance"]].median(),
    "training image to nearest other training image": reference.median(),
}).T.round(3)
save_table(summary, "01_memorisation_distances", session, selected)
readable(summary)

# %%
fig = training_figures.closest_pairs(generated, trainer.images, nearest)
label_provenance(fig, selected)
save_figure(fig, "01_closest_pairs", session.output_dir);

# %% [markdown]
# ## 5. The critic as a classifier
# The paper suggests the trained discriminator can be reused as a classifier. We
# test that cheaply: freeze the critic, take its feature vector for each image,
# fit a logistic regression on the training split and score it on the **test
# split** (patients the GAN never saw). The probe's regularisation is chosen by
# cross-validation across training *patients*: with few patients an unregularised
# probe learns each patient's stain instead of the class. Compare the accuracy with
# the share of the majority class, which is what always guessing it achieves.

# %%
from bclib.data.index import index_from_params  # noqa: E402
from bclib.data.splits import split_from_params  # noqa: E402

index = index_from_params(params)
split = split_from_params(index, params)
test = split[split["part"] == "test"]
train = split[split["part"] == "train"]
test_images = load_images_u8(test, gan.resolution, crop=gan.crop)
probe = analysis.critic_linear_probe(critic, trainer.images, trainer.labels, test_images,
                                     test["label_index"].to_numpy(), train_groups=train["patient"], seed=params.seed)
probe["majority_class_share"] = float(test["label"].value_counts(normalize=True).max())
write_json_table(probe, session.tables_dir / "01_critic_probe.json", selected)
readable(probe)

# %% [markdown]
# Read this number with its context. A critic trained for an eighth of a kimg on synthetic
# tiles (the smoke profile) has not learned much about tissue, and with a handful
# of training patients its features can even separate *patients* better than
# classes, so on new patients a probe can do no better than the majority share
# (`majority_class_share` above: always answering the larger class), or even worse.
# The claim is only worth testing on the real data with the paper-sized GAN.

# %% [markdown]
# ## 6. Do the generated images carry their class? (TSTR and TRTS)
# FID and precision/recall compare generated and real images as two clouds of
# points; they do not ask whether an image generated *as benign* looks benign,
# which is all a classifier trained on it cares about. So we ask a classifier.
# In the feature space the FID uses, one logistic regression is trained three
# times: on the real training images and tested on the real test patients (the
# reference, **TRTR**); on the images generated above, labelled with the class
# they were asked for, and tested on the same real test patients (**TSTR**:
# train on synthetic, test on real); and on the real training images, tested on
# the generated ones (**TRTS**). TSTR close to the reference means the generated
# images teach the class as well as real ones; TSTR near 0.5 means they teach
# nothing, whatever their FID. A high TRTS with a low TSTR is the sign of images
# that each look like one typical member of their class and little else.
#
# TRTR learns from the whole real training split, TSTR from 32 generated images
# per class, so part of any gap would only be the size of the training set. The
# **size-matched TRTR** row is the fair reference for TSTR: 32 real training
# images per class, drawn ten times (mean and standard deviation). The
# regularisation of each classifier is chosen on folds that keep a patient's
# images together.

# %%
from bclib.metrics.features import extractor_from_settings  # noqa: E402
from bclib.metrics.transfer import transfer_scores  # noqa: E402

features = extractor_from_settings(params.metrics.features, params.metrics.weights, params.metrics.image_size)
generated_labels = np.repeat(np.arange(len(trainer.class_names)), 32)  # 32 of each class, in class order
transfer = transfer_scores((features(trainer.images), trainer.labels),
                           (features(test_images), test["label_index"].to_numpy()),
                           (features(generated), generated_labels), trainer.class_names, seed=params.seed,
                           train_groups=train["patient"].to_numpy())
save_table(transfer, "01_tstr_trts", session, selected)
print(f"features: {features.name} | {features.note}")
readable(transfer)

# %% [markdown]
# On the smoke profile these images are mostly colour after an eighth of a kimg of
# training, and the test set holds about 20 patients, so a difference of 0.1
# between rows is within noise. The features are ImageNet-pretrained
# (EfficientNet-Lite0), so the real reference row (TRTR) shows how well a linear
# classifier separates the classes in them; TSTR is the row to compare with it. On
# the real profiles this table is the first thing to check before believing that
# cWGAN images help.

# %% [markdown]
# ## 7. The synthetic training images for the classifiers
# Finally we generate the labelled set that notebooks 03 and 04 add to the
# training data in their `cwgan` variants: `gan.n_generate` images of each class
# in `gan.target_class` (the paper adds 640 benign images to BreakHis; for BACH,
# where every class has 100 photos, a null `target_class` generates all four). They come
# from the selected snapshot above and are written as PNGs, squares the size of a crop
# of the source tiles (460×460 for BreakHis), with a `manifest.csv` recording the
# snapshot, its kimg and the seed of every file.

# %%
# NBVAL_CHECK_OUTPUT
to_generate = params.generated_classes  # gan.target_class among the task's classes; null: every class (BACH)
if gan.n_generate and to_generate:
    written = generate(out, to_generate, gan.n_generate, seed=params.seed,
                       out_dir=generated_dir(params), force=True, truncation=gan.truncation)
    manifest = pd.read_csv(written / "manifest.csv")
    names = ", ".join(f"'{c}'" for c in to_generate)
    print(f"{len(manifest)} {names} images in {written.relative_to(session.output_dir)}/")
else:
    print("This profile generates no images here (gan.n_generate is 0).")

# %%
# Not checked by nbval: which snapshot was selected depends on near-ties (see the cell after training).
if gan.n_generate and to_generate:
    print(f"from {manifest['snapshot'].iloc[0]} ({manifest['kimg'].iloc[0]:g} kimg, the selected snapshot)")

# %% [markdown]
# ## What to take away
# * The losses and gradient norm show whether training is stable; FID, KID,
#   precision, recall and SWD measure how good and how varied the images are, class by
#   class. The main GAN was trained with the gamma and batch size the sweep chose, and
#   everything after training used its selected snapshot, named above with its kimg.
# * The memorisation table is the check to read before trusting synthetic images:
#   generated images should be no closer to the training set than training
#   images are to each other.
# * TSTR asks the question the classifiers depend on: do the generated images
#   teach the class they were generated as? Read it against the real reference row.
# * The GAN trained on training patients only; the test patients only scored it
#   (the critic probe and TSTR) and trained nothing, so the test split stays a fair
#   judge for the classifiers that later train on these images.

# %% [markdown]
# ## Exercises
# Worked solutions: `solutions/solutions_01_cwgan_training.py` (the test suite runs them).
#
# 1. Draw two samples of the same Gaussian at three sizes and compute their Fréchet
#    distance. Why is it above 0, and what does that mean for comparing FIDs computed
#    on different numbers of images?
# 2. Do the same with KID, and with a shifted second sample. Which of the two distances
#    can come out negative, and why is that a good sign rather than a bug?
# 3. The training set has 30% benign and 70% malignant images. How many generated
#    images of each class would balance it?
# 4. *Try next:* in a copy of the smoke profile set `gan.resolution: 32`,
#    `gan.total_kimg: 3`, `gan.snapshot_kimg: 1` and `gan.lr_g`/`gan.lr_d: 0.0003`, and
#    rerun (about a minute of GAN training on 2 cores). At which snapshot do the fakes
#    first carry the tiles' palette, and is there any structure yet?
