"""The package's shape: one role per module, ``__init__`` files that only export, no import cycles,
short functions, and code that ruff finds clean. These are the promises docs/decisions.md makes to a
reader of the code."""

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bclib"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
LONGEST_FUNCTION = 80  # lines, docstring included


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """bclib modules that ``path`` imports anywhere (top level or inside functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("bclib")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("bclib"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}
    known = {module_name(p) for p in MODULES}
    return {m for m in found if m in known} - {name}


def test_no_import_cycles():
    graph = {module_name(p): imported_modules(p) for p in MODULES}
    # A package's __init__ re-exports its own modules; that edge alone is not a cycle.
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".") and not m == name}
    visiting, done, cycles = set(), set(), []

    def visit(node, trail):
        if node in done:
            return
        if node in visiting:
            cycles.append(trail[trail.index(node):] + [node])
            return
        visiting.add(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, trail + [nxt])
        visiting.discard(node)
        done.add(node)

    for name in sorted(graph):
        visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


def _code_lines(tree: ast.Module) -> int:
    """Statements other than the docstring, imports and ``__all__``."""
    count = 0
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            continue
        count += node.end_lineno - node.lineno + 1
    return count


@pytest.mark.parametrize("path", [p for p in MODULES if p.name == "__init__.py"], ids=lambda p: module_name(p))
def test_init_files_only_export(path):
    assert _code_lines(ast.parse(path.read_text())) <= 3, f"{path} holds code; move it to a module by role"


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{module_name(path)}.{node.name} ({length} lines)")
    assert not long, "functions over 80 lines: " + ", ".join(long)


def test_ruff_finds_nothing():
    """`make lint` inside the suite (a second or so): pyflakes, pycodestyle and import order as configured
    in pyproject.toml's [tool.ruff], over the package, tests, benchmarks, tools and notebooks."""
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed: `pip install -r requirements.txt` (or `make lint`)")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=PACKAGE.parent,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-1000:]


# The catalogue names the models; the Keras builders in bclib/models/ need the names of the layers and
# backbones they assemble. Everything else refers to a model through the catalogue (by role or entry).
MAY_SPELL_MODEL_NAMES = ("catalogue.py", "models/")


def test_no_module_outside_the_catalogue_spells_a_models_name():
    from bclib import catalogue

    names = set(catalogue.model_names())
    spelled = []
    for path in MODULES:
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(MAY_SPELL_MODEL_NAMES):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                spelled.append(f"{relative}:{node.lineno}: {node.value!r}")
    assert not spelled, "model names outside the catalogue:\n" + "\n".join(spelled)


def test_no_two_subpackages_import_each_other():
    """Layers: where one subpackage uses another, the other never reaches back (issue #39: gan imported metrics
    for its scores and metrics imported gan for its sampler; the scoring hook now lives in gan)."""
    def package_of(name: str) -> str:
        parts = name.split(".")
        return ".".join(parts[:2]) if len(parts) > 2 or (PACKAGE / parts[-1]).is_dir() else name

    edges = {(package_of(module_name(p)), package_of(m)) for p in MODULES for m in imported_modules(p)}
    both_ways = sorted({tuple(sorted(e)) for e in edges if e[0] != e[1] and (e[1], e[0]) in edges})
    assert not both_ways, f"subpackages that import each other: {both_ways}"


def test_module_files_have_unique_role_names():
    """Issue #39: nine pairs of modules shared a file name (jobs, tables, report, ...); a reader searching for
    `jobs.py` should find one file."""
    from collections import Counter

    names = Counter(p.name for p in MODULES if p.name != "__init__.py")
    assert not [name for name, n in names.items() if n > 1], [name for name, n in names.items() if n > 1]
