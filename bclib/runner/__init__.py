"""Running the analysis headlessly: independent jobs first (in parallel if asked), then the notebooks.

* :mod:`bclib.runner.scheduler` - the jobs of the plan (:mod:`bclib.experiment`) run in
  dependency order, skipped when done, on a local thread pool or a Dask cluster;
* :mod:`bclib.runner.notebooks` - the numbered notebooks, executed in order with papermill;
* :mod:`bclib.runner.preparation` - what is checked before a run writes anything, and its resolved
  ``params.yaml``;
* :mod:`bclib.runner.run_manifest` - ``outputs/<profile>/manifest.json``, one layout for every run;
* :mod:`bclib.runner.batch` - ``bclib run``: the jobs (with ``--jobs``), then the notebooks.

``bclib run --params P`` runs the notebooks (which train what is missing, one job
after another); ``bclib run --params P --jobs 4`` first runs every job four at a
time, then the notebooks, which find the jobs done and only report.
"""

from .batch import JobsFailed, run_batch, run_notebooks
from .notebooks import NotebookFailed, NotebookResult, discover

__all__ = ["NotebookFailed", "NotebookResult", "discover", "run_notebooks", "run_batch", "JobsFailed"]
