"""pytest configuration shared by tests/ and the nbval run over notebooks/."""


def pytest_collectstart(collector):
    # nbval: compare only the plain-text results of cells marked NBVAL_CHECK_OUTPUT;
    # HTML renderings, images and stderr (TensorFlow's log lines) vary between machines.
    if getattr(collector, "fspath", None) is not None and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "application/javascript", "image/png", "image/jpeg", "stderr")
