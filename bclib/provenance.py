"""Where a result came from: code version, package versions, machine."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys

from .paths import project_root

# The packages whose versions every manifest records.
RECORDED_PACKAGES = (
    "tensorflow", "keras", "numpy", "pandas", "scipy", "scikit-learn", "scikit-image",
    "pillow", "matplotlib", "seaborn", "pydantic", "papermill", "nbclient", "jupytext", "bclib",
)


def git_commit() -> dict:
    """The repository's HEAD commit and whether the working tree has uncommitted changes."""
    def git(*args):
        try:
            result = subprocess.run(["git", *args], cwd=project_root(), capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions(names=RECORDED_PACKAGES) -> dict:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine() -> dict:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def processor_name() -> str:
    """The CPU's model name (e.g. 'AMD EPYC 7B13'): TensorFlow's CPU results differ between processors, so a
    number is only reproducible together with it. ``platform.processor()`` is empty on most Linux systems."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def tensorflow_threads() -> str:
    """TensorFlow's intra-op thread count as this process runs it (results of near-ties can change with it).

    Read from TensorFlow only if it is already imported: stamping a table must not start TensorFlow."""
    tf = sys.modules.get("tensorflow")
    configured = tf.config.threading.get_intra_op_parallelism_threads() if tf is not None else 0
    if not configured:
        configured = int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 0)
    return str(configured) if configured else f"default ({os.cpu_count()} cores)"


def stamp(what: str) -> dict:
    """Where a table or report came from: ``what`` (its data and weights, e.g. 'SYNTHETIC data | UNTRAINED
    backbones'), the UTC date, the commit, the processor, TensorFlow's version and thread count."""
    commit = git_commit()
    code = (commit["commit"] or "unknown")[:10] + (" (uncommitted changes)" if commit["dirty"] else "")
    return {
        "data and weights": what,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": code,
        "processor": processor_name(),
        "tensorflow": package_versions(("tensorflow",))["tensorflow"] or "not installed",
        "threads": tensorflow_threads(),
    }


def stamp_line(stamped: dict) -> str:
    return " | ".join(f"{key}: {value}" for key, value in stamped.items())
