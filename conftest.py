"""pytest configuration shared by tests/ and the nbval run over notebooks/."""

import os

import pytest


def pytest_configure(config):
    # `make test` runs two workers on two cores, and each TensorFlow process (worker, notebook kernel,
    # `bclib` subprocess) would otherwise use every core for its ops: two processes fighting over two
    # cores. One intra-op thread each: 13% less wall time for two concurrent smoke trainings, with
    # bit-identical predictions (measured; docs/decisions.md "Test suite speed"). Inherited by the
    # workers, the kernels and the commands they start; a value already set is kept.
    workers = getattr(config.option, "numprocesses", None)
    if workers and workers != "auto" and int(workers) > 1:
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")


# Files whose tests take minutes, started first so that no worker is left with one of them at the end
# (measured with `pytest --durations`: the notebooks ~9 min on one worker, the BACH run ~3 min, then these).
LONGEST_FIRST = ("notebooks/", "tests/test_bach_smoke.py", "tests/test_jobs.py", "tests/test_reliability.py",
                 "tests/test_gan.py", "tests/test_models.py")


def pytest_collection_modifyitems(config, items):
    # `make test`'s scheduler hands out whole files in collection order (below); the notebooks keep
    # their own order (00 to 05), as a stable sort leaves it.
    def rank(item):
        path = item.nodeid.split("::")[0]
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)


def pytest_collectstart(collector):
    # nbval: compare only the plain-text results of cells marked NBVAL_CHECK_OUTPUT;
    # HTML renderings, images and stderr (TensorFlow's log lines) vary between machines.
    if getattr(collector, "fspath", None) is not None and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "application/javascript", "image/png", "image/jpeg", "stderr")



@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist; without it, `pytest` runs everything in one process
def pytest_xdist_make_scheduler(config, log):
    """`make test`'s two workers get whole groups, longest first (LONGEST_FIRST): every notebook
    together (nbval runs 00-05 in order in one kernel session each, and each notebook builds on the
    previous one's outputs) and each test file together (its module fixtures are built once).

    xdist's own `xdist_group` mark cannot do this with pytest 9: it renames items through an
    attribute pytest no longer reads, so the groups silently fall apart.
    """
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # xdist would order the files by their number of tests instead

    class ByFileNotebooksTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0]
            return "notebooks" if path.endswith(".ipynb") else path

    return ByFileNotebooksTogether(config, log)
