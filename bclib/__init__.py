"""bclib: helper library of the breast-cancer histopathology compendium.

The notebooks in ``notebooks/`` tell the story; this package holds the logic
they call. Sub-packages mirror the stages of the analysis:

- ``bclib.data``        dataset layouts, loaders, splits, tf.data pipelines, synthetic data, audit
- ``bclib.params``      the typed parameter schema behind ``params/*.yaml``
- ``bclib.catalogue``   the one list of models (names, kinds, backbones, feature widths), without TensorFlow
- ``bclib.gan``         the conditional WGAN: models, losses, training, generation, sweeps, checks
- ``bclib.metrics``     FID and KID and their feature extractors
- ``bclib.models``      backbone registry, baselines and the multi-scale fusion model
- ``bclib.train``       classifier training, TradAug, the ablation job grid
- ``bclib.evaluation``  per-class tables, headline measures, patient-level rate, uncertainty
- ``bclib.runner``      headless execution of the numbered notebooks (papermill)
- ``bclib.cli``         the ``bclib`` command line
"""

__version__ = "0.1.0"
