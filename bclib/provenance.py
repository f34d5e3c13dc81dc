"""Where a result came from: code version, package versions, machine."""

from __future__ import annotations

import importlib.metadata
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
