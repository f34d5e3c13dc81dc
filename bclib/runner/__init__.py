"""Running the analysis headlessly: independent jobs first (in parallel if asked), then the notebooks.

* :mod:`bclib.runner.scheduler` - the jobs of the plan (:mod:`bclib.experiment`) run in
  dependency order, skipped when done, on a local thread pool or a Dask cluster;
* :mod:`bclib.runner.notebooks` - the numbered notebooks, executed in order with papermill.

``bclib run --params P`` runs the notebooks (which train what is missing, one job
after another); ``bclib run --params P --jobs 4`` first runs every job four at a
time, then the notebooks, which find the jobs done and only report.
"""

from .batch import JobsFailed, run_batch
from .notebooks import NotebookFailed, NotebookResult, discover, run_notebooks

__all__ = ["NotebookFailed", "NotebookResult", "discover", "run_notebooks", "run_batch", "JobsFailed"]
