"""The tree shows the architecture, and keeps showing it: shared/ by concept, dependencies one
way, each port reached through its public module, modules of a readable size."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"
MAX_TOP_LEVEL_MODULES = 8
MAX_LINES = 350
LONG_NOTE = "Long because"  # a module over MAX_LINES says why in its docstring
# Each port's interface module, reached from outside its package only through the package.
PORT_INTERFACES = {"shared.store.base": "shared.store", "shared.bus.base": "shared.bus",
                   "shared.ai.ports": "shared.ai"}  # fmt: skip
# Adapters are chosen in one place.
ADAPTERS = {
    "shared.store.sqlite_store", "shared.store.firestore_store", "shared.store.firestore_codec",
    "shared.bus.local_bus", "shared.bus.pubsub_bus",
    "shared.ai.gemini", "shared.ai.local_embedder", "shared.ai.offline_writer",
    "shared.ai.guarded", "shared.ai.resilience",
}  # fmt: skip
# Who may import an adapter from outside its package, and why.
ADAPTER_USERS = {
    "shared.wiring": "the one place that picks adapters from settings",
    "shared.catalog.watch": "the local stack's ingest, on the in-process bus by definition",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(*folders: str) -> list[Path]:
    return sorted(
        p for f in folders for p in (ROOT / f).rglob("*.py") if "__pycache__" not in p.parts
    )


def imports(path: Path) -> Iterator[str]:
    """Every module a file imports, at any depth (inside functions and TYPE_CHECKING too: a
    dependency is a dependency, whenever it is loaded). `from shared import wiring` imports
    the module shared.wiring; `from shared.store import Store` imports shared.store itself."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{a.name}" for a in node.names]
            found = [m for m in submodules if is_module(m)]
            yield from found
            if len(found) < len(submodules):
                yield node.module


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in python_files("shared")}
    return {
        name: {m for m in imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_shared_modules() -> None:
    edges = graph()
    assert len(edges) > 50  # the walk found the package
    assert cycles(edges) == []


def test_a_package_init_imports_none_of_its_importers() -> None:
    """Inside a package, modules import each other directly, never through their own
    `__init__` (which would make the package's public face depend on its insides' order)."""
    edges = graph()
    for name, deps in edges.items():
        package = name.rsplit(".", 1)[0]
        if name.count(".") >= 2 and package in deps:
            pytest.fail(f"{name} imports its own package {package}")


def test_shared_holds_few_top_level_modules() -> None:
    top = sorted(p.name for p in SHARED.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_every_package_says_what_it_owns() -> None:
    for init in SHARED.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 40, (
            f"{init.relative_to(ROOT)} has no docstring saying what it owns"
        )


@pytest.mark.parametrize("folder", ["shared", "functions", "scripts"])
def test_modules_stay_readable(folder: str) -> None:
    for path in python_files(folder):
        lines = len(path.read_text().splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert lines <= MAX_LINES or LONG_NOTE in doc, (
            f"{path.relative_to(ROOT)}: {lines} lines and no '{LONG_NOTE}' note in its docstring"
        )


@pytest.mark.parametrize("folder", ["shared", "functions", "scripts", "bench", "tests"])
def test_ports_are_imported_through_their_public_module(folder: str) -> None:
    for path in python_files(folder):
        name = module_name(path)
        for module in set(imports(path)):
            public = PORT_INTERFACES.get(module)
            if public and name != public and not name.startswith(public + "."):
                pytest.fail(f"{name} imports {module}: import {public} instead")


@pytest.mark.parametrize("folder", ["shared", "functions"])
def test_adapters_are_chosen_in_one_place(folder: str) -> None:
    for path in python_files(folder):
        name = module_name(path)
        for module in set(imports(path)) & ADAPTERS:
            own = name.startswith(module.rsplit(".", 1)[0] + ".")
            assert own or name in ADAPTER_USERS, f"{name} imports the adapter {module}"
