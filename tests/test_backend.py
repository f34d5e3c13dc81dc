"""bclib.backend: how a process that loads TensorFlow through bclib ends."""

import subprocess
import sys
import textwrap
from pathlib import Path


def test_a_process_that_loaded_tensorflow_skips_the_exit_collection_and_its_exit_handlers_still_run(tmp_path):
    """``gc.freeze`` runs at exit (the collector's last pass has nothing left to walk), also when
    TensorFlow was imported before bclib asked for it; the exit handlers that clean up (here a
    temporary folder's ``weakref.finalize``) still run, and a file written with ``with`` is whole."""
    code = textwrap.dedent(f"""
        import atexit, gc, tempfile
        # registered first, so it runs last: after bclib's handler
        atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0, flush=True))
        import tensorflow
        from bclib.backend import keras
        keras()
        left = tempfile.TemporaryDirectory(dir={str(tmp_path)!r})  # never cleaned up by hand
        left.self = left  # a reference cycle: only the finalizer's exit handler removes the folder
        print(left.name, flush=True)
        with open({str(tmp_path / "written.txt")!r}, "w") as out:
            out.write("whole")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    folder, verdict = result.stdout.strip().splitlines()[-2:]
    assert verdict == "frozen at exit: True"
    assert not Path(folder).exists()
    assert (tmp_path / "written.txt").read_text() == "whole"
