"""Headless execution of the numbered notebooks with papermill.

``bclib run --params params/smoke.yaml`` checks the parameters, the data and
output folders and the notebooks asked for before anything runs
(:mod:`.preparation`), then executes ``notebooks/NN_*.ipynb`` in order into
``outputs/<profile>/notebooks/``. Each notebook receives one papermill
parameter, ``params_path``: the resolved parameter file (overrides applied,
paths absolute) written to ``outputs/<profile>/params.yaml``.

``outputs/<profile>/manifest.json`` (:mod:`.run_manifest`) records each
notebook's status and wall time as it ends. A failing notebook stops the run
(later notebooks build on earlier ones); the error names the notebook and the
cell.

``at_once`` > 1 (``bclib run --notebooks-at-once 2``, what ``make demo`` uses)
runs a notebook beside another when it reads none of the other's outputs
(``READS``): on a 2-core CPU one kernel keeps about one core busy (Python,
graph tracing, small ops), so two kernels use the machine. Every notebook's
numbers are the same either way: each kernel is seeded on its own, and the
caches they share are keyed by content and written by rename.
"""

from __future__ import annotations

import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..errors import UserError
from ..io import atomic_path
from ..layout import Layout
from .run_manifest import RunManifest

# Which notebooks' outputs each notebook reads (its "Reads:" line), by number; a notebook not listed here
# reads every notebook before it. Notebook 03's baselines train without generated images (variants.BASELINE_VARIANTS),
# so it runs beside the GAN notebooks; 02 draws 01's sweep, 04 trains on 01's generated images.
READS = {"00": (), "01": (), "02": ("01",), "03": (), "04": ("01",), "05": ("00", "01", "02", "03", "04")}


def reads(notebook: Path, notebooks: Sequence[Path]) -> set[str]:
    """The numbers of the notebooks among ``notebooks`` whose outputs ``notebook`` reads."""
    number = notebook.name[:2]
    earlier = {p.name[:2] for p in notebooks if p.name[:2] < number}
    return earlier & set(READS[number]) if number in READS else earlier


class NotebookFailed(UserError):
    """A notebook raised; the message names the notebook and the cell."""


@dataclass
class NotebookResult:
    name: str
    status: str  # ok | failed | not run
    wall_s: float = 0.0
    output: Optional[str] = None
    error: Optional[str] = None
    cell: Optional[int] = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def discover(notebooks_dir: Path, only: Optional[Sequence[str]] = None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``), in order, restricted to the ``only`` prefixes."""
    notebooks = sorted(p for p in notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = [o.strip() for o in only if o.strip()]
        unknown = [w for w in wanted if not any(p.name.startswith(w) for p in notebooks)]
        if unknown:
            available = ", ".join(p.name[:2] for p in notebooks) or "none"
            raise UserError(f"--only: no notebook starts with {', '.join(unknown)} (available: {available})")
        notebooks = [p for p in notebooks if any(p.name.startswith(w) for w in wanted)]
    if not notebooks:
        raise UserError(f"{notebooks_dir}: no numbered notebooks (NN_*.ipynb) to run")
    return notebooks


def _failure_text(exc: Exception, executed: Path) -> tuple[str, Optional[int]]:
    """``ename: evalue`` and the failing cell's position in the source notebook (1-based, all cells counted).

    papermill's index counts the parameter cell it injects; that cell is not in
    the notebook the user edits, so it is discounted.
    """
    import nbformat

    index = getattr(exc, "cell_index", None)
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    if index is not None:
        cells = nbformat.read(executed, as_version=4).cells
        injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", [])]
        index -= sum(1 for i in injected if i < index)
    return f"{ename}: {evalue}".strip(), (index + 1 if index is not None else None)


# The kernel logs only errors: at its default level every notebook printed a warning that
# the kernel talks to papermill over unencrypted local TCP, which reads like a fault.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


def execute_one(notebook: Path, target: Path, resolved: Path, notebooks_dir: Path,
                kernel_name: Optional[str]) -> NotebookResult:
    """Execute one notebook with papermill into ``target`` (written atomically); never raises for a failing cell."""
    import papermill  # heavy import, only needed here

    result = NotebookResult(notebook.stem, "running")
    started = time.time()
    with atomic_path(target) as tmp:
        try:
            papermill.execute_notebook(
                str(notebook), str(tmp), parameters={"params_path": str(resolved)},
                kernel_name=kernel_name, cwd=str(notebooks_dir), progress_bar=False,
                log_output=False, extra_arguments=KERNEL_ARGUMENTS,
            )
            result.status = "ok"
        except papermill.PapermillExecutionError as exc:
            result.status = "failed"
            result.error, result.cell = _failure_text(exc, tmp)
    result.wall_s = round(time.time() - started, 2)
    return result


def execute_notebooks(run, manifest: RunManifest, kernel_name: Optional[str] = None, at_once: int = 1,
                      log: Callable[[str], None] = print) -> dict:
    """Execute the notebooks of a prepared run (:class:`bclib.runner.preparation.PreparedRun`), each recorded
    in ``manifest`` as it ends; return the manifest's record. Raise NotebookFailed if one fails."""
    layout = Layout.of(run.params)
    layout.notebooks().mkdir(parents=True, exist_ok=True)
    failure = _execute_all(list(run.notebooks), layout, run.resolved, run.notebooks_dir, kernel_name, manifest,
                           at_once, log)
    record = manifest.finish("failed" if failure else "ok")
    if failure:
        raise NotebookFailed(
            f"notebook {failure.name}.ipynb failed in cell {failure.cell} (counting all cells from 1, markdown "
            f"included): {failure.error} (executed copy: {layout.root / failure.output})"
        )
    log(f"done: {len(run.notebooks)} notebook(s) in {record['wall_s']:.1f} s -> {layout.root}")
    return record


def _execute_all(notebooks: list[Path], layout: Layout, resolved: Path, notebooks_dir: Path,
                 kernel_name: Optional[str], manifest: RunManifest, at_once: int,
                 log: Callable[[str], None]) -> Optional[NotebookResult]:
    """Start each notebook, in number order, once a kernel is free and the notebooks it reads have succeeded;
    after a failure start nothing more and let the running ones finish. Return the first failure."""
    total, waiting, done = len(notebooks), list(enumerate(notebooks, start=1)), set()
    failure: Optional[NotebookResult] = None
    with futures.ThreadPoolExecutor(max_workers=at_once) as pool:
        running: dict = {}
        while waiting or running:
            while failure is None and len(running) < at_once:
                ready = next(((n, nb) for n, nb in waiting if reads(nb, notebooks) <= done), None)
                if ready is None:
                    break
                waiting.remove(ready)
                number, notebook = ready
                log(f"[{number}/{total}] {notebook.name} ...")
                running[pool.submit(execute_one, notebook, layout.executed_notebook(notebook.name), resolved,
                                    notebooks_dir, kernel_name)] = ready
            if not running:
                break
            finished, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: running[f][0]):
                number, notebook = running.pop(future)
                result = future.result()
                result.output = str(layout.executed_notebook(notebook.name).relative_to(layout.root))
                manifest.notebook(number, result.as_dict())
                log(f"[{number}/{total}] {notebook.name}: {result.status} ({result.wall_s:.1f} s)")
                if result.status == "ok":
                    done.add(notebook.name[:2])
                elif failure is None:
                    failure = result
    return failure
