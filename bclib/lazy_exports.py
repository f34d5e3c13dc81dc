"""A package's exports resolved on first use (PEP 562).

For packages where some modules load TensorFlow (seconds) and others do not: ``bclib plan`` and
``bclib run``'s scheduler read ``bclib.train.run_record`` (a job's completeness), and an ``__init__`` that
imported every export eagerly would load TensorFlow in those processes for nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import Callable, Sequence


def lazy_exports(package: str, names: Sequence[str], modules: Sequence[str]) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package``: each of ``names`` is taken from the first of its
    submodules ``modules`` (in that order) that defines it, when it is first asked for."""
    exported = frozenset(names)

    def __getattr__(name: str):
        if name in exported:
            for module in modules:
                found = getattr(import_module(f".{module}", package), name, None)
                if found is not None:
                    return found
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(exported)

    return __getattr__, __dir__
