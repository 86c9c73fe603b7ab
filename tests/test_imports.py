"""gpusim's modules import each other without a cycle, and so do its
subpackages (``gpusim.io``, ``gpusim.analysis``, ...: a subpackage is one
node; each top-level module, ``gpusim.config``, is a node of its own).

Every import counts, those inside functions too: a deferred import hides a
cycle from Python but not from a reader, who still has to hold both modules
in mind at once.  Importing a package counts as importing its
``__init__``; ``from pkg import name`` counts as importing ``pkg.name`` when
that is a module of gpusim.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gpusim

ROOT = Path(gpusim.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """gpusim module -> the gpusim modules it imports."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in files and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_gpusim_modules_import_each_other_without_a_cycle():
    graph = import_graph()
    assert "gpusim.abi" in graph["gpusim.state"] and "gpusim.state" in graph["gpusim.engine.backend"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def package_graph(graph: dict[str, set[str]], subpackages: set[str] | None = None) -> dict[str, set[str]]:
    """``graph`` with every subpackage's modules merged into one node
    (default: gpusim's subpackages)."""
    if subpackages is None:
        subpackages = {_module_name(p) for p in ROOT.rglob("__init__.py")} - {"gpusim"}

    def node(module: str) -> str:
        head = ".".join(module.split(".")[:2])
        return head if head in subpackages else module

    merged: dict[str, set[str]] = {}
    for a, targets in graph.items():
        merged.setdefault(node(a), set()).update(node(b) for b in targets if node(b) != node(a))
        for b in targets:
            merged.setdefault(node(b), set())
    return merged


def test_package_graph_merges_subpackages():
    graph = {"gpusim.a.x": {"gpusim.b.y"}, "gpusim.b.y": {"gpusim.core"}, "gpusim.b.z": {"gpusim.a.w"},
             "gpusim.a.w": set(), "gpusim.core": set()}
    merged = package_graph(graph, {"gpusim.a", "gpusim.b"})
    assert merged == {"gpusim.a": {"gpusim.b"}, "gpusim.b": {"gpusim.core", "gpusim.a"}, "gpusim.core": set()}
    assert find_cycle(merged) == ["gpusim.a", "gpusim.b", "gpusim.a"]
    assert find_cycle(graph) is None  # no module-level cycle: only the subpackage level sees it


def test_gpusim_subpackages_import_each_other_without_a_cycle():
    merged = package_graph(import_graph())
    assert "gpusim.sweepdir" in merged["gpusim.analysis"], "the sweep's data sit below its analysis"
    cycle = find_cycle(merged)
    assert cycle is None, "import cycle between subpackages: " + " -> ".join(cycle)
