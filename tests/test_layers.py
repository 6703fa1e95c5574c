"""The package layers of docs/interfaces.md ("Layers") hold: no import cycle between
packages, the kernel imports nothing above it, the checkers and raftnode no harness.

Two views, because each misses what the other sees: a static graph of every import
statement (also the ones inside functions, which only run on some paths), and a fresh
interpreter per package that imports all of its modules and reports which of our
packages got loaded (what a user of that package really pulls in).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP = ("harness", "nemeses", "workloads", "checkers", "raftnode")
NODES = ("harness.core", *TOP)
# What each layer must never import (directly or through what it imports).
FORBIDDEN = {
    "harness.core": {"harness", "nemeses", "workloads", "checkers", "raftnode"},
    "checkers": {"harness", "harness.core"},
    "raftnode": {"harness", "harness.core"},
}


def node_of(module: str) -> str | None:
    """The layer a module belongs to (harness.core is its own), None if not ours."""
    if module == "harness.core" or module.startswith("harness.core."):
        return "harness.core"
    top = module.split(".")[0]
    return top if top in TOP else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[str]:
    """Absolute names of every module an import statement in `path` names."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                yield ".".join([*base, node.module] if node.module else base)
            elif node.module:
                yield node.module


def static_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {node: set() for node in NODES}
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            source = node_of(module_name(path))
            assert source is not None
            for name in imported_modules(path):
                target = node_of(name)
                if target is not None and target != source:
                    graph[source].add(target)
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def test_the_package_graph_has_no_cycle_and_keeps_the_layers() -> None:
    graph = static_graph()
    for node in NODES:
        assert node not in reachable(graph, node), f"import cycle through {node}: {graph}"
    for node, forbidden in FORBIDDEN.items():
        assert not reachable(graph, node) & forbidden, f"{node} imports {graph[node]}"
    # the graph is not trivially empty: the layering is what the doc's picture shows
    assert graph["nemeses"] == {"harness.core"} and graph["workloads"] == {"harness.core"}
    assert {"harness.core", "nemeses", "workloads", "checkers", "raftnode"} <= graph["harness"]
    # so that importing the kernel (harness.core) does not pull in the composition root
    assert list(imported_modules(ROOT / "harness" / "__init__.py")) == []


LOAD_ALL = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
if hasattr(package, "__path__"):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("package", NODES)
def test_importing_a_package_alone_loads_only_the_layers_below(package: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_ALL, package],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    # importing harness.core runs harness/__init__.py: it imports nothing (checked below)
    modules = [m for m in json.loads(proc.stdout) if m != "harness"]
    loaded = {node_of(m) for m in modules} - {None, package}
    assert not loaded & FORBIDDEN.get(package, set()), sorted(loaded)
    assert loaded <= reachable(static_graph(), package), sorted(loaded)
