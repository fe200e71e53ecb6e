"""The code's structure, checked by parsing it (docs/ARCHITECTURE.md is the map).

- no import cycle between the project's modules, imports inside functions included;
- floors: ``s3t_sim`` imports neither ``s3t_train`` nor ``analysis``; ``s3t_train`` does not
  import ``analysis`` (the command line lives in ``analysis.cli``, on the top floor);
- project code is reached by ordinary imports: no ``importlib``/``__import__``, no
  ``try/except ImportError`` around a project import;
- no module over 450 lines, no function over 80.
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("s3t_sim", "s3t_train", "analysis")
FLOOR = {"s3t_sim": 0, "s3t_train": 1, "analysis": 2}
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), filename=str(path)) for name, path in MODULES.items()}


def _resolve(module: str, node: ast.AST) -> list[str]:
    """Project modules that an ``import``/``from ... import`` node loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = module.split(".")
        if not MODULES[module].name == "__init__.py":
            base = base[:-1]
        base = base[: len(base) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source.split(".")[0] not in PACKAGES:
        return []
    targets = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in MODULES]
    if len(targets) < len(node.names) and source in MODULES:
        targets.append(source)
    return targets


def _import_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(MODULES)
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(name, node):
                    if target != name:
                        graph.add_edge(name, target)
    return graph


def test_the_tree_is_found():
    assert {"analysis.cli", "s3t_sim.output"} <= set(MODULES)


def test_no_import_cycle():
    graph = _import_graph()
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"modules importing each other in a circle: {cycles}"


def test_imports_point_down():
    upward = [
        f"{a} -> {b}"
        for a, b in _import_graph().edges
        if FLOOR[b.split(".")[0]] > FLOOR[a.split(".")[0]]
    ]
    assert not upward, f"imports from a lower package to a higher one: {upward}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_dynamic_or_guarded_project_imports(name):
    tree = TREES[name]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert called not in ("import_module", "__import__"), f"{name}:{node.lineno} imports dynamically"
        if isinstance(node, ast.Try):
            catches = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            if catches & {"ImportError", "ModuleNotFoundError"}:
                guarded = [t for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom)) for t in _resolve(name, n)]
                assert not guarded, f"{name}:{node.lineno} guards a project import with try/except ImportError"


@pytest.mark.parametrize("path", sorted((ROOT / "bench").glob("*.py")), ids=lambda p: p.name)
def test_benchmarks_import_project_code_by_name(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert called not in ("import_module", "__import__"), f"bench/{path.name}:{node.lineno} imports dynamically"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_sizes(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines (at most {MAX_MODULE_LINES})"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(TREES[name])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{name}: functions over {MAX_FUNCTION_LINES} lines: {long}"
