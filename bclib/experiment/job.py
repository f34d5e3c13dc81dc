"""What every job of the experiment is: the protocol the plan, the scheduler and the ledger rely on.

A job is one unit of the experiment with its own output folder: the GAN of a split, a sweep point, a
classifier run. The scheduler (:mod:`bclib.runner.scheduler`) runs its ``commands()`` in a subprocess, a
notebook runs it in-process (each kind's ``run_*_jobs``), and the ledger (:mod:`bclib.ledger`) keys its
result by its parameters, ``code_parts``, dataset and ``inputs()``, so that a rerun redoes exactly what is
missing or out of date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from ..ledger import is_done


@runtime_checkable
class Job(Protocol):
    """The job protocol. ``name`` is unique within a plan (and names the job on the command line and in
    the manifests); ``depends_on`` names the jobs that must finish first."""

    name: str
    out_dir: Path
    params: object
    depends_on: tuple[str, ...]
    code_parts: tuple[str, ...]  # the parts of bclib the result depends on (see bclib.source_hash)

    def commands(self) -> list[list[str]]:
        """The shell argument lists that do the job, run one after another (``bclib ...`` or any program)."""

    def outputs_complete(self) -> bool:
        """Every output the job writes is there (says nothing of which parameters made them)."""

    def inputs(self) -> dict:
        """Fingerprints of the files it reads besides the dataset (e.g. the generated images' manifest)."""

    def is_complete(self) -> bool:
        """Outputs complete and made with the current parameters, code, data and inputs."""


class LedgerCompletion:
    """``is_complete`` as the ledger decides it, for the job kinds of this package."""

    def is_complete(self) -> bool:
        return is_done(self)
