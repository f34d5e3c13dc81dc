"""Does installing bclib (and its extras) leave a Colab-like TensorFlow/Keras stack alone?

Colab ships its own TensorFlow, Keras and NumPy builds; the project promises that `pip install`
of bclib never replaces them (docs/decisions.md, "Colab"). This script checks it for real: it
builds a throw-away virtual environment holding Colab's versions, installs this checkout with
each requested extra the way the Colab cell does, and compares the versions before and after.

    python tools/check_colab_install.py                      # downloads the pinned stack
    python tools/check_colab_install.py --wheels DIR         # or installs it from wheels in DIR
    python tools/check_colab_install.py --extras foundation dask

It needs the package index (bclib's own dependencies are fetched from it) and about 2 GB of disk.
Exit status 0 when every pinned package kept its version, 1 otherwise. Not part of `make test`:
the install is ~1 GB of downloads and minutes of unpacking.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

# Colab's stack at the time of writing (TensorFlow 2.19.0, Keras 3.10.0, NumPy 2.0.2). tensorflow-cpu
# stands in for the GPU build: same version and requirements, a quarter of the download.
COLAB_PINS = {"tensorflow-cpu": "2.19.0", "keras": "3.10.0", "numpy": "2.0.2"}
WATCHED = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "tensorboard", "ml-dtypes", "h5py", "protobuf")
REPO = Path(__file__).resolve().parents[1]


def installed(python: Path) -> dict[str, str]:
    listing = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"],
                             check=True, capture_output=True, text=True).stdout
    return {row["name"].lower().replace("_", "-"): row["version"] for row in json.loads(listing)}


def pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                   check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder of pre-downloaded wheels for the pinned stack")
    parser.add_argument("--extras", nargs="*", default=["", "foundation", "pretrained"],
                        help="extras to install in turn ('' = plain bclib); default: plain, foundation, pretrained")
    args = parser.parse_args()
    build_existed = (REPO / "build").exists()  # a non-editable install builds the wheel in REPO/build

    with tempfile.TemporaryDirectory(prefix="colab-like-") as tmp:
        env = Path(tmp) / "env"
        venv.create(env, with_pip=True)
        python = env / "bin" / "python"
        pins = [f"{name}=={version}" for name, version in COLAB_PINS.items()]
        source = ["--no-index", "--find-links", str(args.wheels)] if args.wheels else []
        print(f"installing the Colab-like stack: {' '.join(pins)}", flush=True)
        pip(python, *source, *pins)
        before = installed(python)
        failures = 0
        for extra in args.extras:
            target = f"{REPO}[{extra}]" if extra else str(REPO)
            print(f"pip install {target}", flush=True)
            pip(python, target)
            after = installed(python)
            for name in WATCHED:
                if before.get(name) != after.get(name):
                    failures += 1
                    print(f"  CHANGED {name}: {before.get(name)} -> {after.get(name)}")
                elif name in before:
                    print(f"  kept {name} {before[name]}")
            added = sorted(set(after) - set(before))
            print(f"  {len(added)} package(s) added: {', '.join(added)}")
            before = after
        check = ("import bclib, keras, tensorflow as tf; "
                 "print('  imports: bclib', bclib.__version__, '| tensorflow', tf.__version__, "
                 "'| keras', keras.__version__)")
        if subprocess.run([str(python), "-c", check]).returncode:
            failures += 1
            print("  FAILED: bclib, keras or tensorflow does not import")
        if not build_existed:
            shutil.rmtree(REPO / "build", ignore_errors=True)
        print("OK: the pinned stack was left alone" if not failures else f"FAILED: {failures} change(s)")
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
