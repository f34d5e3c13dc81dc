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
# # 05 · Results: our numbers beside the paper's, with their uncertainty
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/bclib/bclib/blob/main/notebooks/05_results_report.ipynb)
#
# Notebooks 03 and 04 trained the classifiers. This notebook scores them all
# from their saved test predictions and puts each score next to the number the
# paper reports for the same model. Three habits run through it:
#
# * **Every number has an interval.** The paper's BreakHis test set has 160 images
#   (one image = 0.6 accuracy points), its BACH test set 40 (one image = 2.5
#   points). We resample whole *patients* (all of a patient's images together)
#   to get 95% bootstrap intervals, because images of one patient are not
#   independent evidence.
# * **Differences are tested.** Two models scored on the same images are
#   compared with McNemar's test, which looks only at the images on which they
#   disagree.
# * **Leakage is measured, not assumed.** The same model is trained once on a
#   patient-disjoint split and once on an image-level split (the protocol most
#   BreakHis papers use). The gap between the two is how much a leaked patient
#   inflates accuracy.
#
# Everything ends up in `report.md` / `report.html` in the output folder, with
# each table as CSV and each figure as PNG.

# %% [markdown]
# *On Google Colab* the next cell fetches the compendium, installs bclib (keeping
# Colab's own TensorFlow and Keras) and draws the embedded synthetic data; pick
# `params/colab-gpu.yaml` below for a GPU-sized run. Elsewhere it does nothing.

# %%
import os, subprocess, sys  # noqa: E401
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
from bclib.data.images import load_rgb
from bclib.data.pipeline import load_batch
from bclib.evaluation import figures as eval_figures
from bclib.evaluation import report as rep
from bclib.evaluation.gradcam import gradcam
from bclib.evaluation.predict import load_classifier
from bclib.figures import save_figure
from bclib.notebook import save_table, setup
from bclib.train import jobs as classifier_jobs

session = setup(params_path)
params = session.params
dataset = params.data.dataset
main_jobs = classifier_jobs.classifier_jobs(params, "baselines") + classifier_jobs.classifier_jobs(params, "proposed")
leak_jobs = classifier_jobs.leakage_jobs(params)

# %% [markdown]
# ## 1. Collect the runs
# Runs finished by notebooks 03 and 04 are only read. The image-split runs for
# the leakage comparison are trained here if they are missing.

# %%
classifier_jobs.run_classifier_jobs(main_jobs + leak_jobs)
runs = rep.finished_runs(main_jobs)
image_split_runs = rep.finished_runs(leak_jobs)
provenance = classifier_jobs.run_provenance(classifier_jobs.collect_runs(main_jobs), params.data.split)
report = rep.Report(f"bclib results: {dataset} ({params.profile} profile)", provenance)

# %%
# NBVAL_CHECK_OUTPUT
print(f"{len(runs)} runs on the {params.data.split} split, {len(image_split_runs)} on the image split")
print(provenance)

# %% [markdown]
# ## 2. Headline scores with 95% intervals
# One row per run. `patient_level_rate` is BreakHis' own measure: for each test
# patient the share of their images classified correctly, averaged over
# patients, so a patient with many images does not dominate. Look at the width
# of the intervals before comparing rows: with a few test patients they are wide.

# %%
scores = rep.run_scores(runs + image_split_runs, params.eval.bootstrap, params.eval.confidence, params.seed)
shown = rep.with_interval(scores)
save_table(scores, "05_scores", session)
report.text("Headline scores", "Each measure as estimate [95% interval]; the interval resamples test patients.")
report.table("Scores per run", shown, "05_scores")
shown

# %% [markdown]
# Over seeds: the mean and the standard deviation of each measure. The spread
# between seeds is a second, independent look at how stable a number is.

# %%
summary = rep.over_seeds(scores)
save_table(summary, "05_scores_over_seeds", session)
report.table("Mean and standard deviation over seeds", summary, "05_scores_over_seeds")
summary

# %% [markdown]
# ## 3. The paper's Table 14 beside ours
# The paper reports one accuracy per variant of its model. Ours is the mean
# over seeds on the patient-disjoint test set. With synthetic data and
# untrained backbones (the smoke profile) the two columns are not comparable;
# the table is here so that a real run fills in the right-hand side.

# %%
table14 = rep.accuracy_beside_table14(summary, dataset)
save_table(table14, "05_table14_beside_paper", session)
report.text("The paper's claims beside this run")
report.table("Proposed model accuracy (%) per variant: paper's Table 14 and this run", table14,
             "05_table14_beside_paper")
table14

# %% [markdown]
# ## 4. Per-class tables in the paper's layout (its Tables 11 and 12)
# One-vs-rest counts and scores per class, then their average, for our best
# proposed-model run and our best baseline, each next to the paper's row for
# the same model and variant (empty where the paper has no such row).

# %%
proposed, baseline = rep.best_run(runs, proposed=True), rep.best_run(runs, proposed=False)
for label, run in (("proposed", proposed), ("best baseline", baseline)):
    if run is None:
        continue
    table = rep.per_class_beside_paper(run, dataset)
    save_table(table, f"05_per_class_{label.replace(' ', '_')}", session)
    report.table(f"Per-class scores, {label}: {run.name}", table, f"05_per_class_{label.replace(' ', '_')}")
    display(table.round(3))

# %% [markdown]
# ## 5. Are the differences real?
# McNemar's exact test on the images where two runs disagree. A p-value above
# 0.05 means the data cannot tell the two apart, whatever their accuracies say.

# %%
named = {r.name: r for r in runs}
pairs = [(a, b) for a, b in rep.comparison_pairs(runs) if a in named and b in named]
mcnemar = rep.mcnemar_table(named, pairs)
save_table(mcnemar, "05_mcnemar", session)
report.table("McNemar tests between runs on the same test images", mcnemar, "05_mcnemar")
mcnemar

# %% [markdown]
# ## 6. How much does an image-level split inflate accuracy?
# The same model, trained the same way, evaluated on two splits. On the
# image-level split, images of a test patient were also in training, so the model
# can recognise the patient (their staining, their tissue) rather than the
# disease. The gap is the size of that shortcut on this data. Read it against the
# two intervals: with one seed and a handful of test patients it can even come
# out negative, which only says the shortcut is smaller than the noise here.

# %%
leakage = rep.leakage_table(scores[scores["split"] == params.data.split], scores[scores["split"] == "image"])
save_table(leakage, "05_leakage", session)
report.text("Leakage", "Accuracy of the same model on a patient-disjoint and an image-level split.")
report.table("Patient split against image split", leakage, "05_leakage")
leakage

# %% [markdown]
# ## 7. Figures
# **Confusion matrices** (the paper's Figure 7): rows are the truth, columns the
# prediction; the per-magnification panels show whether one zoom level carries
# most of the errors.

# %%
classes = proposed.classes if proposed else runs[0].classes
for label, run in (("proposed", proposed), ("baseline", baseline)):
    if run is not None:
        fig = eval_figures.confusion_matrices(run.predictions, classes, provenance, title=run.name)
        report.figure(f"Confusion matrices, {run.name}", save_figure(fig, f"05_confusion_{label}", session.output_dir))

# %% [markdown]
# **ROC curves** (Figures 8 and 9): how the true-positive rate trades against the
# false-positive rate as the decision threshold moves. A curve along the dotted
# diagonal is guessing.

# %%
curves = {r.name: r.predictions for r in runs if r.record["seed"] == params.train.seeds[0]
          and (r.record["model"] == "proposed" or r is baseline)}
fig = eval_figures.roc_curves(curves, classes, provenance)
report.figure("ROC curves", save_figure(fig, "05_roc", session.output_dir))

# %% [markdown]
# **Learning curves** (Figures 5 and 6) of every run, training solid and validation dashed.

# %%
fig = classifier_jobs.learning_curves(main_jobs, provenance)
report.figure("Learning curves", save_figure(fig, "05_learning_curves", session.output_dir))

# %% [markdown]
# **Real beside generated** (Figure 10): training images of the cWGAN's class
# above images the cWGAN made for that class.

# %%
real_paths, generated_paths = rep.real_and_generated(params, 6)
if generated_paths:
    fig = eval_figures.real_beside_generated(real_paths, generated_paths, load_rgb, provenance)
    report.figure("Real (top) and cWGAN-generated (bottom) images",
                  save_figure(fig, "05_real_vs_generated", session.output_dir))

# %% [markdown]
# **Grad-CAM**: where in the image the evidence for the predicted class lies,
# for the proposed model and the best baseline. Warm colours mark regions that
# raised the class score. On real data a trustworthy model looks at nuclei and
# glands, not at the slide background or a staining artefact. With untrained
# backbones the maps say little; they are here to show the machinery works.

# %%
for label, run in (("proposed", proposed), ("baseline", baseline)):
    if run is None or params.eval.gradcam_images == 0:
        continue
    examples = rep.balanced_examples(run.predictions, params.eval.gradcam_images)
    model, _ = load_classifier(run.folder / "model.keras")
    images = load_batch(examples["path"], int(model.input_shape[1]))
    heat, _ = gradcam(model, images)
    titles = [f"{t} -> {p}" for t, p in zip(examples["label"], examples["pred"])]
    fig = eval_figures.gradcam_figure(images, heat, titles, run.record["model"], provenance)
    report.figure(f"Grad-CAM, {run.name}", save_figure(fig, f"05_gradcam_{label}", session.output_dir))
    del model  # the fusion model holds three backbones: free it before loading the next

# %% [markdown]
# ## 8. Write the report

# %%
md_path, html_path = report.write(session.output_dir)
print(f"wrote {md_path.name} and {html_path.name} with {len(report.sections)} sections")

# %% [markdown]
# ## What to take away
# * Read each of our numbers with its interval, and the paper's with the size of
#   its test set in mind: a 1-point difference on 160 images is two images.
# * A model is better than another only where McNemar's test says the data can
#   tell them apart.
# * The gap between the image-level and the patient-level split is the part of a
#   published accuracy that comes from recognising patients rather than disease.
