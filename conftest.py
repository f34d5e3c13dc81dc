"""pytest configuration shared by tests/ and the nbval run over notebooks/."""

import pytest


def pytest_collectstart(collector):
    # nbval: compare only the plain-text results of cells marked NBVAL_CHECK_OUTPUT;
    # HTML renderings, images and stderr (TensorFlow's log lines) vary between machines.
    if getattr(collector, "fspath", None) is not None and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "application/javascript", "image/png", "image/jpeg", "stderr")


def pytest_collection_modifyitems(config, items):
    """Schedule for `make test`'s two workers (pytest-xdist, `--dist loadgroup`).

    Every test file is one group, so a module's fixtures are built once; all
    notebooks are one group, so nbval runs 00-05 in order in one worker (each
    builds on the previous one's outputs). The notebooks and the BACH smoke run,
    the two longest groups, come first so that they start at once on separate
    workers while the unit tests fill the gaps. Without xdist the marks do nothing.
    """
    def rank(item):
        path = str(item.fspath)
        return 0 if path.endswith(".ipynb") else 1 if path.endswith("test_bach_smoke.py") else 2

    for item in items:
        group = "notebooks" if str(item.fspath).endswith(".ipynb") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=rank)  # stable: the order within each group is kept
