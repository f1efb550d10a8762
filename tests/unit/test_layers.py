"""The package's import graph: no cycles, and the CLI's contract covers every room.

import-linter enforces layer contracts (pyproject.toml); a cycle between two
modules of one room is no contract it has, so this test finds every cycle in
the module graph of ``orchestrator`` with grimp (which import-linter uses)
and names it. Imports under ``if TYPE_CHECKING:`` never run and are left out.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp

import orchestrator

ROOT = Path(__file__).resolve().parents[2]

#: Import cycles tolerated for now: none (issue 14 broke the last two).
KNOWN_CYCLES: list[frozenset[str]] = []
#: what the CLI may import besides orchestrator.api (see pyproject.toml)
CLI_MAY_IMPORT = {"api", "cli", "errors", "states"}


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components of more than one module (each holds a cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def module_graph() -> dict[str, set[str]]:
    """Who imports whom. A submodule's import of its own package (``from
    orchestrator.store import rows`` in ``store/postgres.py``) is left out: the
    package is imported before any of its submodules in any case."""
    built = grimp.build_graph("orchestrator", exclude_type_checking_imports=True, cache_dir=None)
    return {
        module: {
            m
            for m in built.find_modules_directly_imported_by(module)
            if m in built.modules and not module.startswith(m + ".")
        }
        for module in built.modules
    }


def test_strongly_connected_finds_a_cycle_and_ignores_a_chain() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [{"a", "b", "c"}]


def test_no_import_cycle_inside_orchestrator() -> None:
    graph = module_graph()
    cycles = [c for c in strongly_connected(graph) if frozenset(c) not in KNOWN_CYCLES]
    named = [" <-> ".join(sorted(cycle)) for cycle in cycles]
    assert not named, f"import cycles: {named}"


def test_a_new_cycle_is_found_and_named() -> None:
    graph = module_graph()
    graph["orchestrator.states"].add("orchestrator.errors")
    graph["orchestrator.errors"].add("orchestrator.states")
    cycles = [c for c in strongly_connected(graph) if frozenset(c) not in KNOWN_CYCLES]
    assert {"orchestrator.errors", "orchestrator.states"} in cycles


def test_the_cli_contract_forbids_every_other_room() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (cli,) = [c for c in contracts if c.get("source_modules") == ["orchestrator.cli"]]
    package = Path(orchestrator.__file__).parent
    rooms = {
        path.stem if path.suffix == ".py" else path.name
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    forbidden = {name.removeprefix("orchestrator.") for name in cli["forbidden_modules"]}
    assert rooms - CLI_MAY_IMPORT == forbidden


#: "small modules with one job each (about 500 lines at most)"; a little slack
#: so a docstring line does not fail the build, none for a module that grew a room
MAX_MODULE_LINES = 520


def test_no_module_is_over_about_500_lines() -> None:
    package = Path(orchestrator.__file__).parent
    sizes = {
        str(path.relative_to(package.parent)): len(path.read_text().splitlines())
        for path in package.rglob("*.py")
    }
    too_big = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not too_big, f"split these modules (over {MAX_MODULE_LINES} lines): {too_big}"
