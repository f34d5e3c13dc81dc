"""The sections of notebook 05's report: each computes its tables, saves them with their provenance, adds them
(with captions) to ``report.html``, and returns what the notebook shows.

Notebook 05 narrates and calls one function per section; the decisions (which table goes into the report,
with which caption, which rule picks the runs a figure shows) live here, where they are tested and where a
change does not require re-executing a committed notebook. The sections share one :class:`ReportContext`:
the session, the report, the provenance line and the runs, plus what earlier sections found (the scores,
the runs chosen on validation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import pandas as pd

from .. import catalogue
from ..experiment import classifier_jobs
from ..figures import save_figure
from ..layout import Layout
from ..notebook import save_table
from . import diagnostic_tables as pro
from . import fold_magnification_tables as zoom_tables
from . import loading, run_overview, selection
from . import run_tables as report_tables
from .report import Report

EARLIER_TABLES = (  # (table, caption, rows); {gan} is the note of the GAN scores' features
    ("00_class_balance", "Images and patients per class in the whole dataset", "one row per class"),
    ("00_split_summary", "The split used by every run", "one row per part of the split"),
    ("01_per_class_scores", "The cWGAN's scores per class at its last snapshot ({gan})",
     "one row per class, their mean, and all classes pooled"),
    ("01_tstr_trts", "Do the cWGAN's images carry their class? A classifier trained on real or generated images, "
                     "tested on the other kind ({gan})", "one row per direction (TRTR: the real reference)"),
    ("02_gamma_sweep", "GAN sweep over the R1/GP weight gamma, best snapshot of each run ({gan})",
     "one row per gamma value"),
    ("02_batch_sweep", "GAN sweep over the batch size, best snapshot of each run ({gan})", "one row per batch size"),
)
EARLIER_FIGURES = (
    ("00_class_balance", "Images per class and magnification: the imbalance the class weights and the cWGAN "
                         "are there to correct"),
    ("01_fakes_over_time", "The cWGAN's images at each snapshot (rows) beside real training images (last row): "
                           "look for tissue structure appearing, not only colour"),
    ("01_training_curves", "The cWGAN's losses and scores against kimg ({gan})"),
)
PROPOSED = catalogue.HEADLINE_MODEL  # the label of the headline model's rows, files and figures
CHOSEN_ROWS = "the proposed model and the best baseline (chosen on validation), their best-validation seed"


@dataclass
class ReportContext:
    """What the sections share: the notebook's session, the report being built, the runs' provenance line,
    the runs of each arm, and what earlier sections computed."""

    session: Any
    report: Report
    provenance: str
    runs: list = field(default_factory=list)
    image_split_runs: list = field(default_factory=list)
    stain_runs: list = field(default_factory=list)
    gan_fold_runs: list = field(default_factory=list)
    scores: Optional[pd.DataFrame] = None
    summary: Optional[pd.DataFrame] = None
    proposed: Any = None  # the best-validation seed of the proposed configuration chosen on validation
    baseline: Any = None  # the same for the best baseline
    split_leakage: Optional[pd.DataFrame] = None  # the memorising classifier's summary (None: no patients)
    probe_provenance: str = ""

    @property
    def params(self):
        return self.session.params

    @property
    def layout(self) -> Layout:
        return Layout(self.session.output_dir)

    @property
    def caveat(self) -> str:
        synthetic = "SYNTHETIC" in self.provenance or "UNTRAINED" in self.provenance
        return (" With synthetic data or untrained backbones (see the provenance line) these numbers only show "
                "that the machinery works." if synthetic else "")

    @property
    def classes(self) -> list[str]:
        return self.proposed.classes if self.proposed else self.runs[0].classes

    @property
    def chosen(self) -> dict:
        return {PROPOSED: self.proposed, "best baseline": self.baseline}

    def save(self, table: pd.DataFrame, name: str, provenance: Optional[str] = None) -> pd.DataFrame:
        save_table(table, name, self.session, provenance or self.provenance)
        return table

    def figure(self, caption: str, fig, name: str) -> None:
        self.report.figure(caption, save_figure(fig, name, self.session.output_dir))

    def bootstrap(self) -> dict:
        """The interval settings every resampled table uses."""
        e = self.params.eval
        return dict(n_resamples=e.bootstrap, confidence=e.confidence, seed=self.params.seed)


def collect(session, jobs: dict) -> ReportContext:
    """The finished runs of each arm (``jobs``: main, leakage, stain, gan_folds) and a report headed by their
    provenance."""
    params = session.params
    provenance = run_overview.run_provenance(run_overview.collect_runs(jobs["main"]), params.data.split)
    report = Report(f"bclib results: {params.data.dataset} ({params.profile} profile)", provenance)
    return ReportContext(session, report, provenance, loading.finished_runs(jobs["main"]),
                         loading.finished_runs(jobs["leakage"]), loading.finished_runs(jobs["stain"]),
                         loading.finished_runs(jobs["gan_folds"]))


def report_jobs(params) -> dict:
    """The classifier jobs whose runs the report reads: the main grid, the image-split runs of the leakage
    comparison, the stain ablation and the GAN question over folds with its controls (each empty unless the
    profile asks)."""
    return {"main": classifier_jobs.classifier_jobs(params, "baselines") + classifier_jobs.classifier_jobs(params,
                                                                                                       "fusion"),
            "leakage": classifier_jobs.leakage_jobs(params), "stain": classifier_jobs.stain_jobs(params),
            "gan_folds": classifier_jobs.gan_fold_jobs(params)}


def missing(jobs: dict) -> str:
    """One line: how many of the report's runs are finished, and which arms lack some (the notebook that
    trains them). The report leaves a missing run's rows out; it never trains."""
    from ..train import run_is_complete

    trained_by = {"main": "notebooks 03 and 04", "leakage": "notebooks 03 and 04", "stain": "notebooks 03 and 04",
                  "gan_folds": "notebook 04"}
    lacking = {arm: sum(not run_is_complete(job.out_dir) for job in arm_jobs) for arm, arm_jobs in jobs.items()}
    total = sum(len(arm_jobs) for arm_jobs in jobs.values())
    gaps = [f"{n} of {arm} (run {trained_by[arm]})" for arm, n in lacking.items() if n]
    return f"{total - sum(lacking.values())} of {total} runs finished" + (f"; missing: {', '.join(gaps)}"
                                                                         if gaps else "")


def split(ctx: ReportContext) -> list[str]:
    """What the runs' split says of itself, added to the report; returns its lines."""
    lines = loading.split_description(ctx.runs, ctx.params.data.split, ctx.params.data.fold_policy)
    ctx.report.text("The split", "\n\n".join(lines))
    return lines


def earlier_notebooks(ctx: ReportContext) -> str:
    """The tables and figures notebooks 00-02 saved, with their captions; returns a one-line summary."""
    from ..metrics.features import features_note
    from ..tablefile import read_table

    params, tables, figures = ctx.params, ctx.layout.tables(), ctx.layout.figures()
    gan = features_note(params.metrics.features, params.metrics.weights)
    shown = [name for name, _, _ in EARLIER_TABLES if (tables / f"{name}.csv").is_file()]
    if shown:
        ctx.report.text("What notebooks 00-02 found",
                        "The data audit, the cWGAN and its sweeps, as those notebooks saved them. The GAN scores "
                        f"carry the note of their features ({gan}). Two FIDs can be compared only when the feature "
                        "network, the image size and the numbers of real and generated images are the same: the "
                        "sweep runs of notebook 02 are shorter and scored on other sets than the run of notebook "
                        "01, so their FIDs cannot be set beside each other, nor beside the paper's.")
    for name, caption, rows in EARLIER_TABLES:
        if name in shown:
            table = read_table(tables / f"{name}.csv", index_col=0 if name[:2] != "00" else None)
            ctx.report.table(caption.format(gan=gan), table, name, rows=rows)
    for name, caption in EARLIER_FIGURES:
        if (figures / f"{name}.png").is_file():
            ctx.report.figure(caption.format(gan=gan), figures / f"{name}.png")
    return f"{len(shown)} tables and the figures of notebooks 00-02 added to the report"


def headline_scores(ctx: ReportContext) -> pd.DataFrame:
    """Every run's scores with intervals (``05_scores``); sets ``ctx.scores``."""
    ctx.scores = ctx.save(report_tables.run_scores(ctx.runs + ctx.image_split_runs, ctx.params.eval.bootstrap,
                                                   ctx.params.eval.confidence, ctx.params.seed), "05_scores")
    shown = report_tables.with_interval(ctx.scores)
    ctx.report.text("Headline scores", "Each measure as estimate [95% interval]; the interval resamples test "
                    "patients (a patient drawn twice counts twice).")
    ctx.report.table("Scores per run", shown, "05_scores",
                     rows="every finished run: one row per model, variant, seed and split; nothing selected")
    return shown


def over_seeds(ctx: ReportContext) -> pd.DataFrame:
    """Mean and sd over seeds (``05_scores_over_seeds``); sets ``ctx.summary``."""
    ctx.summary = ctx.save(report_tables.over_seeds(ctx.scores), "05_scores_over_seeds")
    if ctx.summary["seeds"].max() > 1:
        ctx.report.table("Mean ± standard deviation over seeds", report_tables.with_spread(ctx.summary),
                         "05_scores_over_seeds", rows="one row per model, variant and split: mean ± sd over its "
                         "seeds; the per-seed rows are 'Scores per run' (05_scores)")
    else:
        ctx.report.text(None, "One seed per configuration: no spread between seeds to show (train.seeds lists "
                        "more).")
    return report_tables.with_spread(ctx.summary)


def patient_rates(ctx: ReportContext) -> pd.DataFrame:
    """The patient-level rate per magnification, one column per run."""
    rates = report_tables.patient_rates_table(ctx.runs)
    if not rates.empty:
        ctx.save(rates, "05_patient_rate_per_magnification")
        ctx.report.table("Patient-level recognition rate per magnification", rates.T.rename_axis("run"),
                         "05_patient_rate_per_magnification", rows="one row per run, every seed; one column per "
                         "magnification and all together (the CSV has them the other way round)")
    return rates


def table14(ctx: ReportContext) -> pd.DataFrame:
    """The proposed model's accuracy per variant beside the paper's Table 14 and its own confusion counts."""
    table = ctx.save(report_tables.accuracy_beside_table14(ctx.summary, ctx.params.data.dataset, ctx.scores),
                     "05_table14_beside_paper")
    ctx.report.text("The paper's claims beside this run",
                    "The paper's numbers come from ImageNet-pretrained networks on the real archive and an "
                    "image-level split; ours from this profile's data, weights and patient split. Only a real run "
                    "with the real profile makes the two columns comparable; with synthetic data or untrained "
                    "networks they are not. The paper's Table 14 and the accuracy its own confusion counts imply "
                    "(Tables 11 and 12) disagree: on BreakHis Table 11 gives the same 159 of 160 for TradAug with "
                    "and without cWGAN images, where Table 14 claims +3.5 points.")
    ctx.report.table("Proposed model accuracy (%) per variant: paper's Table 14 and this run", table,
                     "05_table14_beside_paper", digits=1,
                     rows="one row per variant of the proposed model; ours = mean over seeds on the patient split, "
                          "with the run's 95% patient-bootstrap interval (one seed) or the sd over seeds (several)")
    return table


def per_class(ctx: ReportContext) -> tuple[Optional[pd.DataFrame], list[pd.DataFrame]]:
    """The proposed configuration and the best baseline, chosen on validation, each in the paper's per-class
    layout; sets ``ctx.proposed`` and ``ctx.baseline`` (their best-validation seeds). Returns the baseline
    candidates and the per-class tables."""
    split, dataset = ctx.params.data.split, ctx.params.data.dataset
    choices = {PROPOSED: selection.choose_on_validation(ctx.runs, proposed=True, split=split),
               "best baseline": selection.choose_on_validation(ctx.runs, proposed=False, split=split)}
    candidates = choices["best baseline"].candidates if choices["best baseline"] else None
    if candidates is not None:
        ctx.report.table("Baseline candidates and their validation scores", ctx.save(candidates,
                         "05_baseline_candidates"), "05_baseline_candidates", rows="one row per baseline "
                         "configuration on the main split: validation means over seeds, best first")
    tables = []
    for label, choice in ((k, v) for k, v in choices.items() if v is not None):
        stem = f"05_per_class_{label.replace(' ', '_')}"
        tables.append(ctx.save(report_tables.per_class_beside_paper(choice.runs, dataset), stem))
        ctx.save(report_tables.per_class_per_seed(choice.runs), f"{stem}_per_seed")
        ctx.report.table(f"Per-class scores, {label}: {choice.name}", tables[-1], stem,
                         rows=f"{choice.rule}; 'ours' = mean, 'ours sd' = sd over its {len(choice.runs)} seed(s); "
                              f"per-seed rows in {stem}_per_seed.csv")
    ctx.proposed = choices[PROPOSED].best_seed if choices[PROPOSED] else None
    ctx.baseline = choices["best baseline"].best_seed if choices["best baseline"] else None
    return candidates, tables


def paired(ctx: ReportContext) -> pd.DataFrame:
    """Paired comparisons (patient bootstrap of the difference, McNemar on patient decisions) between runs
    scored on the same test images."""
    named = {r.name: r for r in ctx.runs}
    pairs = [(a, b) for a, b in selection.comparison_pairs(ctx.runs) if a in named and b in named]
    e = ctx.params.eval
    table = ctx.save(report_tables.paired_table(named, pairs, e.bootstrap, e.confidence, ctx.params.seed),
                     "05_paired_tests")
    ctx.report.table("Paired comparisons between runs on the same test images", table, "05_paired_tests",
                     rows="per seed: each proposed variant against the proposed model without augmentation, and the "
                          "proposed headline configuration against the baseline and the foundation encoder chosen "
                          "on validation")
    return table


def gan_effect(ctx: ReportContext) -> tuple[pd.DataFrame, list[str]]:
    """The effect of the GAN arms and their controls (``05_gan_effect``, per fold ``05_gan_effect_by_fold``),
    the figure of the GAN arm above its controls, and one line per primary-endpoint verdict."""
    from ..variants import variant
    from .effects import effect_figure, gan_effect_table, primary_lines

    runs, options = ctx.runs + ctx.gan_fold_runs, dict(ctx.bootstrap(),
                                                       primary_endpoint=ctx.params.eval.primary_endpoint)
    by_fold = gan_effect_table(runs, ctx.params.data.dataset, per_fold=True, **options)
    if not len(by_fold):
        return by_fold, ["no model has runs with and without cWGAN images: no effect table"]
    # the pooled rows are the per-fold table's "all" rows: same draws, same Holm families (computed once)
    effects = by_fold[by_fold["fold"] == "all"].drop(columns="fold").reset_index(drop=True)
    ctx.save(effects, "05_gan_effect")
    ctx.save(by_fold, "05_gan_effect_by_fold")
    ctx.report.text("Does adding cWGAN images help?",
                    "With minus without cWGAN images, same model and test patients, averaged over folds and seeds; "
                    "the interval draws the test patients once across folds and resamples the seeds within each "
                    "fold. The patient-level rate is the primary endpoint; every verdict is Holm-adjusted over "
                    "counts of GAN images and measures (p_holm). Each protocol is a row of its own; under folds "
                    "every fold has its own GAN, trained on that fold's training patients. An interval that "
                    "contains zero means these patients cannot tell a help from a harm of that size, not that the "
                    "GAN has no effect. Controls (eval.gan_controls) add as many images of each class as the GAN "
                    "arm but not realistic GAN images of the class: real copies, TradAug copies, the GAN's images "
                    "for a random class, its earliest snapshot's images.")
    ctx.report.table("Effect of adding cWGAN images (with minus without)", effects, "05_gan_effect",
                     rows="one row per model, protocol, contrast (the GAN arms, then each control against none), "
                          "count of images and measure, pooled over every fold and seed with both runs (per fold: "
                          "tables/05_gan_effect_by_fold.csv); paper: Table 14's accuracy difference for the "
                          "proposed model")
    if effects["contrast"].map(lambda c: variant(c.split(" - ")[0]).control).any():
        ctx.figure("The GAN arm beside its controls (primary endpoint)", effect_figure(effects, ctx.provenance),
                   "05_gan_controls")
    return effects, primary_lines(effects)


def encoders(ctx: ReportContext) -> pd.DataFrame:
    """Foundation-encoder runs beside the headline model and the best baseline."""
    table = ctx.save(report_tables.encoders_beside_models(ctx.scores, ctx.runs, ctx.params.data.dataset),
                     "05_encoders")
    if table["model"].map(lambda m: m in catalogue.encoder_models()).any():
        ctx.report.text("Foundation encoders", "Frozen encoders with a linear probe (or the baselines' head) beside "
                        "the headline model and the best baseline; eva's published linear-probe balanced accuracy "
                        "for the same encoder is a reference only (eva's splits differ).")
        ctx.report.table("Foundation encoders beside the models chosen on validation", table, "05_encoders",
                         rows="the encoder runs, the proposed headline configuration and the best baseline, main "
                              "split")
    return table


def split_leakage_probe(ctx: ReportContext, repeats: int = 30) -> tuple[Optional[pd.DataFrame], str]:
    """The memorising classifier over repeated patient-disjoint and image-level splits (``05_split_leakage``
    and its figure; :func:`leakage` puts them in the report); None and the reason where the images name no
    patients (BACH)."""
    from .split_leakage import NO_PATIENTS, split_leakage_figure, split_leakage_from_params, split_leakage_summary

    repeated = split_leakage_from_params(ctx.params, repeats=repeats)
    if repeated is None:
        return None, NO_PATIENTS
    ctx.probe_provenance = f"{ctx.provenance.split(' | ')[0]} | no network: colour statistics"  # no weights
    ctx.split_leakage = ctx.save(split_leakage_summary(repeated, ctx.params.eval.confidence), "05_split_leakage",
                                 ctx.probe_provenance)
    save_figure(split_leakage_figure(repeated, ctx.probe_provenance), "05_split_leakage", ctx.session.output_dir)
    return ctx.split_leakage, ""


def leakage(ctx: ReportContext) -> pd.DataFrame:
    """The leakage section of the report: the memorising classifier (if :func:`split_leakage_probe` ran), then
    the same model trained on the patient split and on an image-level split (``05_leakage``)."""
    scores, e = ctx.scores, ctx.params.eval
    table = ctx.save(report_tables.leakage_table(scores[scores["split"] == ctx.params.data.split],
                                                 scores[scores["split"] == "image"], ctx.runs + ctx.image_split_runs,
                                                 e.bootstrap, e.confidence, ctx.params.seed), "05_leakage")
    ctx.report.text("Leakage", "How much an image-level split flatters a model. First the mechanism: a "
                    "1-nearest-neighbour classifier on colour statistics over 30 random splits of each kind "
                    "(interval: corrected resampled t, Nadeau and Bengio 2003). Then the same trained model on a "
                    "patient-disjoint and an image-level split.")
    if ctx.split_leakage is not None:
        ctx.report.table("A memorising classifier on patient-disjoint and image-level splits", ctx.split_leakage,
                         "05_split_leakage", provenance=ctx.probe_provenance, rows="one row: mean balanced "
                         "accuracy over the repetitions and the gap, estimate and 95% interval")
        ctx.report.figure("Each random split's balanced accuracy under the two kinds of split",
                          ctx.session.figures_dir / "05_split_leakage.png")
    ctx.report.table("Patient split against image split", report_tables.leakage_shown(table), "05_leakage",
                     rows="one row per model and seed trained on both splits (eval.leakage_models, variant none); "
                          "test accuracy, estimate [95% interval]")
    return table


def pretraining(ctx: ReportContext) -> pd.DataFrame:
    """ImageNet against random weights for ``eval.pretraining_models`` (``05_pretraining``); the full table."""
    from .pretraining import pretraining_provenance, pretraining_shown, pretraining_table

    table = pretraining_table(loading.finished_runs(classifier_jobs.pretraining_jobs(ctx.params)), **ctx.bootstrap())
    if len(table):
        provenance = pretraining_provenance(ctx.params)
        ctx.save(table, "05_pretraining", provenance)
        ctx.report.text("What pretraining buys", "The same backbone with ImageNet weights and with random weights; "
                        "only the trunk's starting weights differ (eval.pretraining_models).")
        ctx.report.table("ImageNet against random weights",
                         pretraining_shown(table, confidence=ctx.params.eval.confidence), "05_pretraining",
                         rows="one row per model and measure; the mean over seeds of each arm and their difference, "
                              "estimate [interval] from a bootstrap over test patients and seeds",
                         provenance=provenance)
    return table


def stain_ablation(ctx: ReportContext) -> Optional[pd.DataFrame]:
    """Each stain normalisation of ``eval.stain_ablation`` against the same run without (None: none asked)."""
    if not ctx.stain_runs:
        return None
    e = ctx.params.eval
    table = ctx.save(report_tables.stain_ablation_table(ctx.runs, ctx.stain_runs, e.bootstrap, e.confidence,
                                                        ctx.params.seed), "05_stain_ablation")
    ctx.report.table("Stain normalisation against none (a: normalised, b: the same run without)", table,
                     "05_stain_ablation", rows="one row per model and seed of eval.stain_models (variant none), per "
                     "method of eval.stain_ablation; paired patient bootstrap and McNemar")
    return table


def patient_diagnosis(ctx: ReportContext) -> pd.DataFrame:
    """Patient decisions (mean-probability and vote rules) beside image accuracy, for the chosen runs."""
    diagnosis = ctx.save(pro.patient_diagnosis_table(ctx.chosen, **ctx.bootstrap()), "05_patient_diagnosis")
    shown = pro.with_intervals(diagnosis, ["image_accuracy", "mean_rule", "vote_rule"])
    ctx.report.text("Patient diagnosis", "Share of test patients diagnosed right under the mean-probability and the "
                    "majority-vote rule, beside image-level accuracy; estimate [95% interval], patients resampled."
                    + ctx.caveat)
    ctx.report.table("Patient-level diagnostic accuracy beside image-level accuracy", shown, "05_patient_diagnosis",
                     rows=f"{CHOSEN_ROWS}; one row per magnification and all pooled (pooled only without "
                          "magnifications)")
    return shown


def per_magnification(ctx: ReportContext) -> Optional[pd.DataFrame]:
    """The chosen runs scored on each magnification's test images (None: no magnifications)."""
    chosen = [run for run in (ctx.proposed, ctx.baseline) if run is not None]
    if not (chosen and "magnification" in chosen[0].predictions and ctx.params.data.dataset == "breakhis"):
        return None
    zooms = ctx.save(zoom_tables.magnification_table(chosen, **ctx.bootstrap()), "05_per_magnification")
    shown = pro.with_intervals(zooms, [c[: -len("_low")] for c in zooms.columns if c.endswith("_accuracy_low")])
    ctx.report.table("Test accuracy per magnification (estimate [95% interval], patients resampled)",
                     shown[[c for c in shown.columns if not c.endswith(("_images", "_patient_level_rate"))]],
                     "05_per_magnification", rows=f"{CHOSEN_ROWS}; an 'independent' run is one model for all "
                     "magnifications, scored on each one's images." + ctx.caveat)
    return shown


def folds(ctx: ReportContext) -> Optional[pd.DataFrame]:
    """Scores per fold and their mean ± sd (None: the profile runs one split)."""
    if not ctx.params.data.folds:
        return None
    table = ctx.save(zoom_tables.fold_table(ctx.runs), "05_folds")
    ctx.report.table("Scores per fold, and mean ± sd across folds", zoom_tables.shown_fold_table(table), "05_folds",
                     rows="every finished run of every fold; summary rows average a fold's seeds first")
    return zoom_tables.shown_fold_table(table)


def calibration(ctx: ReportContext) -> pd.DataFrame:
    """ECE before and after temperature scaling, and a reliability diagram per chosen run."""
    from . import result_figures as eval_figures

    table = ctx.save(pro.calibration_table(ctx.chosen), "05_calibration")
    ctx.report.text("Calibration", "Test ECE (15 equal-width confidence bins) before and after temperature scaling; "
                    "the temperature is fitted on each run's validation predictions, never on the test set."
                    + ctx.caveat)
    ctx.report.table("Calibration of the test probabilities, raw and temperature-scaled", table, "05_calibration",
                     rows=f"{CHOSEN_ROWS}; a run without validation predictions says so in 'note'")
    for label, run in ((PROPOSED, ctx.proposed), ("baseline", ctx.baseline)):
        if run is not None:
            fig = eval_figures.reliability_diagram(pro.reliability_tables(run), ctx.provenance, title=run.name)
            ctx.figure(f"Reliability diagram, {run.name}: a line on the diagonal means the stated confidence is the "
                       "share correct; a line below it, an over-confident model", fig, f"05_reliability_{label}")
    return table


def tta(ctx: ReportContext) -> Optional[pd.DataFrame]:
    """Accuracy with and without test-time augmentation (None: ``eval.tta`` off)."""
    if not ctx.params.eval.tta:
        return None
    table = ctx.save(pro.tta_table(ctx.chosen), "05_tta")
    ctx.report.table("Test accuracy without and with test-time augmentation (the views that are symmetries of the "
                     "tiles)", table, "05_tta", rows=f"{CHOSEN_ROWS}; 'changed' counts test images whose decision "
                     "TTA changes")
    return table


def gradcam_figures(ctx: ReportContext) -> None:
    """Grad-CAM of half hits and half errors of each chosen run."""
    from ..data.pipeline import load_batch
    from . import result_figures as eval_figures
    from .gradcam import gradcam
    from .predict import load_classifier
    from .tta import run_geometry

    for label, run in ((PROPOSED, ctx.proposed), ("baseline", ctx.baseline)):
        if run is None or ctx.params.eval.gradcam_images == 0:
            continue
        examples = loading.balanced_examples(run.predictions, ctx.params.eval.gradcam_images)
        model, _ = load_classifier(run.folder / "model.keras")
        images = load_batch(examples["path"], int(model.input_shape[1]), geometry=run_geometry(run.record))
        heat, _ = gradcam(model, images)
        titles = [f"{'hit' if t == p else 'ERROR'}: true {t}\npredicted {p}"
                  for t, p in zip(examples["label"], examples["pred"])]
        ctx.figure(f"Grad-CAM, {run.name}: warm colours mark the regions that raised the predicted class's score; "
                   "half hits, half errors where the run made enough; each title gives the true and the predicted "
                   "class; the colour bar runs from no evidence (0) to the image's strongest (1)",
                   eval_figures.gradcam_figure(images, heat, titles, run.record["model"], ctx.provenance),
                   f"05_gradcam_{label}")
        del model  # the fusion model holds three backbones: free it before loading the next


def confusion_figures(ctx: ReportContext) -> None:
    """Confusion matrices of each chosen run (the paper's Figure 7), overall and per magnification."""
    from . import result_figures as eval_figures

    ctx.report.text("Figures", "One run per figure unless it says otherwise: of the configurations chosen on "
                    "validation, the seed with the best validation score.")
    for label, run in ((PROPOSED, ctx.proposed), ("baseline", ctx.baseline)):
        if run is not None:
            ctx.figure(f"Confusion matrices, {run.name}: rows are the truth, columns the prediction; a model that "
                       "gives everyone one class fills a single column",
                       eval_figures.confusion_matrices(run.predictions, ctx.classes, ctx.provenance, title=run.name),
                       f"05_confusion_{label}")


def roc_figure(ctx: ReportContext) -> None:
    """ROC curves of the proposed variants and the best baseline, first seed (the paper's Figures 8 and 9)."""
    from . import result_figures as eval_figures

    curves = {r.name: r.predictions for r in ctx.runs if r.record["seed"] == ctx.params.train.seeds[0]
              and (r.record["model"] == PROPOSED or r is ctx.baseline)}
    ctx.figure("ROC curves of the proposed variants and the best baseline: the further a curve bows above the "
               "dotted diagonal (guessing), the better the scores rank the classes, whatever the threshold",
               eval_figures.roc_curves(curves, ctx.classes, ctx.provenance), "05_roc")


def learning_curves_figure(ctx: ReportContext, jobs) -> None:
    """Learning curves of every run of ``jobs``, one column per model (the paper's Figures 5 and 6)."""
    ctx.figure("Learning curves of every run, one column per model, training solid and validation dashed: a "
               "validation curve that stays flat while training improves is a model memorising its training "
               "patients; one at or below the dotted majority-class share has learnt nothing a constant answer "
               "would not give", run_overview.learning_curves(jobs, ctx.provenance), "05_learning_curves")


def real_vs_generated_figure(ctx: ReportContext, n: int = 6) -> None:
    """Training images of the generated class above the GAN's images of it (the paper's Figure 10)."""
    from ..data.images import load_rgb
    from . import result_figures as eval_figures

    real_paths, generated_paths = loading.real_and_generated(ctx.params, n)
    if generated_paths:
        ctx.figure("Real training images (top) and cWGAN-generated images (bottom) of the generated class: compare "
                   "colour, texture and structure; a smoke-length GAN makes coloured noise",
                   eval_figures.real_beside_generated(real_paths, generated_paths, load_rgb, ctx.provenance),
                   "05_real_vs_generated")


def conclude(ctx: ReportContext) -> str:
    """The conclusion from the saved tables, then report.md and report.html written; returns a line saying so."""
    from .summary import conclusion_lines

    tables = ctx.layout.tables()
    ctx.report.conclude(conclusion_lines(tables, "SYNTHETIC" in ctx.provenance or "UNTRAINED" in ctx.provenance))
    md_path, html_path = ctx.report.write(ctx.session.output_dir)
    return f"wrote {md_path.name} and {html_path.name} with {len(ctx.report.sections)} sections and a conclusion"


__all__ = ["ReportContext", "collect", "earlier_notebooks", "headline_scores", "over_seeds", "patient_rates",
           "table14", "per_class", "paired", "gan_effect", "encoders", "split_leakage_probe", "leakage",
           "pretraining", "stain_ablation", "patient_diagnosis", "per_magnification", "folds", "calibration", "tta",
           "gradcam_figures", "conclude", "report_jobs", "missing", "split", "confusion_figures", "roc_figure",
           "learning_curves_figure", "real_vs_generated_figure"]
