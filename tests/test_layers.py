"""The layers of the package (docs/architecture.md), checked from the source.

Every module's AST is walked (imports inside functions included, relative imports
resolved): no import cycle between scalefit modules; the numeric core imports only the
standard library, numpy, scipy, other core modules and scalefit.errors; nothing imports a
higher layer; nothing imports torch. And no submodule shadows a public name.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
import types
from pathlib import Path

import pytest

import scalefit

PKG = Path(scalefit.__file__).resolve().parent

# Layers, bottom up: a module may import modules of its own layer or lower ones only.
LAYERS = [
    ("scalefit._version", 0), ("scalefit.errors", 0), ("scalefit.core", 0),
    ("scalefit.interrupt", 0), ("scalefit.streams", 2), ("scalefit.options", 1),
    ("scalefit.selection", 1),
    ("scalefit.render.format", 1), ("scalefit.render.tables", 1), ("scalefit.render", 1),
    ("scalefit.table", 2), ("scalefit.column_names", 2), ("scalefit.grouping", 2),
    ("scalefit.quality", 2),
    ("scalefit.files", 2), ("scalefit.progress", 2), ("scalefit.threads", 2),
    ("scalefit.schema", 2), ("scalefit.synthetic", 2), ("scalefit.isoflop_table", 2),
    ("scalefit.statuses", 2),
    ("scalefit.laws", 2), ("scalefit.optima_table", 2), ("scalefit.readers", 2),
    ("scalefit.row_scan", 2), ("scalefit.row_checks", 2),
    ("scalefit.extract", 2), ("scalefit.noise_plan", 2), ("scalefit.sweep_set", 2),
    ("scalefit.fit_notes", 2),
    ("scalefit.schedule_spec", 2), ("scalefit.curve_table", 2), ("scalefit.curves", 4),
    ("scalefit.results", 3), ("scalefit.render.", 3), ("scalefit.backtests", 3),
    ("scalefit.pipeline", 4), ("scalefit.estimate", 4), ("scalefit.chinchilla", 4),
    ("scalefit.isoflop", 4), ("scalefit.joint", 4),
    ("scalefit.planning", 3), ("scalefit.planning.next", 4), ("scalefit.backtest_table", 4),
    ("scalefit.cli", 5), ("scalefit.__main__", 6),
]
CORE_EXTERNAL = {"numpy", "scipy", "__future__"}


def layer(module: str) -> int:
    if module == "scalefit":  # the package's face: lazy public names, above everything
        return 7
    best = None
    for prefix, n in LAYERS:  # the longest matching prefix wins
        hit = module == prefix or module.startswith(prefix if prefix.endswith(".")
                                                    else prefix + ".")
        if hit and (best is None or len(prefix) > len(best[0])):
            best = (prefix, n)
    if best is None:
        raise AssertionError(f"{module}: not placed in a layer (add it to LAYERS)")
    return best[1]


def modules(root: Path, package: str) -> dict[str, Path]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, relative ones resolved."""
    is_pkg = path.name == "__init__.py"
    pkg = name if is_pkg else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            out.append((prefix, node.lineno))
            out += [(f"{prefix}.{a.name}", node.lineno) for a in node.names
                    if f"{prefix}.{a.name}" in known]
    return out


def problems(root: Path, package: str = "scalefit") -> list[str]:
    known = modules(root, package)
    found, edges = [], {m: set() for m in known}
    stdlib = set(sys.stdlib_module_names)
    for name, path in known.items():
        for target, line in imports(name, path, known):
            top = target.split(".")[0]
            where = f"{path.relative_to(root.parent)}:{line}"
            if top == "torch":
                found.append(f"{where}: imports torch")
            if name.startswith(f"{package}.core"):
                inside = target.startswith(f"{package}.core") or target == f"{package}.errors"
                if top == package and not inside:
                    found.append(f"{where}: the core imports {target}")
                elif top != package and top not in stdlib | CORE_EXTERNAL:
                    found.append(f"{where}: the core imports {target}")
            if target in known and target != package and target != name:
                edges[name].add(target)
                if layer(target) > layer(name):
                    found.append(f"{where}: {name} (layer {layer(name)}) imports {target} "
                                 f"(layer {layer(target)}): an upward import")
    state: dict = {}

    def visit(u, stack):
        state[u] = 1
        stack.append(u)
        for v in sorted(edges[u]):
            if state.get(v) == 1:
                found.append("import cycle: " + " -> ".join(stack[stack.index(v):] + [v]))
            elif not state.get(v):
                visit(v, stack)
        stack.pop()
        state[u] = 2

    for m in sorted(known):
        if not state.get(m):
            visit(m, [])
    return found


def test_the_package_keeps_its_layers():
    assert problems(PKG) == []


def test_render_takes_results_as_values_and_imports_no_result_class():
    """Results call render for their text; render reads what they hold (duck-typed), so
    no arrow runs back from render/ to results/ (or to the planner)."""
    known = modules(PKG, "scalefit")
    found = [f"{name}:{line} imports {target}" for name, path in known.items()
             if name.startswith("scalefit.render")
             for target, line in imports(name, path, known)
             if target.startswith(("scalefit.results", "scalefit.planning"))]
    assert found == []


def test_the_check_finds_cycles_core_imports_and_upward_imports(tmp_path):
    root = tmp_path / "scalefit"
    for rel, text in {
        "__init__.py": "",
        "errors.py": "",
        "core/__init__.py": "",
        "core/laws.py": "import pandas\nfrom ..errors import X\n",
        "core/optimum.py": "def f():\n    from ..table import load_runs\n",
        "table.py": "from .pipeline import fit\n",
        "pipeline.py": "from .table import load_runs\nimport torch\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    found = "\n".join(problems(root))
    assert "the core imports pandas" in found
    assert "the core imports scalefit.table" in found  # an import inside a function
    assert "import cycle: scalefit.table -> scalefit.pipeline -> scalefit.table" in found
    assert "scalefit.table (layer 2) imports scalefit.pipeline (layer 4)" in found
    assert "imports torch" in found


def test_public_names_cannot_be_shadowed():
    public = dict(scalefit._LAZY)
    names = {m.name.split(".")[-1] for m in pkgutil.iter_modules(scalefit.__path__)}
    assert not names & set(public), "a submodule carries a public name"
    for m in pkgutil.walk_packages(scalefit.__path__, "scalefit."):
        if not m.name.endswith("__main__"):
            importlib.import_module(m.name)
    for name, (module, attr) in public.items():
        value = getattr(scalefit, name)
        assert not isinstance(value, types.ModuleType), name
        assert value is getattr(importlib.import_module(module), attr), name
    assert callable(scalefit.transfer) and callable(scalefit.fit)


@pytest.mark.parametrize("name", ["scalefit.core.laws", "scalefit.core.decisions",
                                  "scalefit.core.chinchilla"])
def test_importing_the_core_loads_no_pandas(name):
    import subprocess

    code = f"import sys, {name}; print('pandas' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
