"""The package layout (docs/layout.md): imports run one way, from the front ends down to the
networks, with no cycle even through imports inside functions; old module paths still import."""

from __future__ import annotations

import ast
import importlib
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import pytest

import adain

PACKAGE = Path(adain.__file__).resolve().parent
# Each sub-package may import only those below it.  The package root (adain.load, adain.load_method)
# is a facade over the methods that the front ends may use.
RANKS = {"core": 0, "nn": 1, "inference": 2, "methods": 3, "": 3.5, "train": 4, "evaluation": 5, "cli": 6,
         "__main__": 7}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_modules(name: str) -> set[str]:
    """Every adain module that `name` imports anywhere in its code (top level, functions, methods):
    `from adain.x import y` counts as adain.x.y when y is a module, else as adain.x."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    return {name: imported_modules(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def sub_package(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_import_graph_sees_function_level_imports():
    graph = import_graph()
    # adain.load imports the AdaIN method inside the function: it must still count
    assert "adain.methods.adain" in graph["adain"]
    assert "adain.core.errors" in graph["adain.nn.functional"]


def test_no_import_cycle_in_the_package():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = import_graph()
    graph["adain.core.errors"] = graph["adain.core.errors"] | {"adain.cli.main"}  # the lowest imports the highest
    assert any("adain.core.errors" in component and "adain.cli.main" in component for component in cycles(graph))


def test_imports_run_down_the_layers():
    upward = sorted(f"{name} -> {target}" for name, targets in import_graph().items() for target in targets
                    if RANKS[sub_package(target)] > RANKS[sub_package(name)])
    assert upward == []


def test_the_top_level_is_a_few_sub_packages():
    entries = sorted(path.name for path in PACKAGE.iterdir() if not path.name.startswith((".", "__pycache__")))
    assert len(entries) <= 10, entries
    assert set(RANKS) - {"", "__main__"} <= set(entries)


def test_the_decoder_inputs_are_built_in_one_place():
    definitions = [name for name, path in MODULES.items() if "def decoder_inputs(" in path.read_text()]
    assert definitions == ["adain.nn.model"]
    callers = {name for name, path in MODULES.items() if ".decoder_inputs(" in path.read_text()}
    assert callers >= {"adain.nn.model", "adain.inference.tiling.passes", "adain.train.objectives",
                       "adain.evaluation.reconstruction"}


@pytest.mark.parametrize("old", ["adain.tiling", "adain.functional", "adain.weights", "adain.training",
                                 "adain.superres.factors", "adain.api", "adain.losses"])
def test_an_old_module_path_imports_the_new_module_with_a_warning(old):
    sys.modules.pop(old, None)
    new = adain.moved_to(old)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)


def test_every_old_module_path_names_a_module_that_exists():
    for old, new in adain.MOVED_MODULES.items():
        assert new in MODULES, f"{old} → {new}"
        assert old not in MODULES, f"{old} exists again: drop it from MOVED_MODULES"


def test_the_public_api_names_resolve_lazily():
    assert callable(adain.load) and callable(adain.load_method)
    assert adain.SHIPPED_DECODER.is_file()
    assert adain.Stylizer.__name__ == "Stylizer"
