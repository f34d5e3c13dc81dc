"""bclib: helper library of the breast-cancer histopathology compendium.

The notebooks in ``notebooks/`` tell the story; this package holds the logic
they call. Sub-packages mirror the stages of the analysis:

- ``bclib.data``     dataset layouts, loaders, splits, tf.data pipelines, synthetic data
- ``bclib.params``   the typed parameter schema behind ``params/*.yaml``
- ``bclib.runner``   headless execution of the numbered notebooks (papermill)
- ``bclib.cli``      the ``bclib`` command line
"""

__version__ = "0.1.0"
