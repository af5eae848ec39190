"""The package's imports run one way: no import loops, and no module imports one of a higher
layer. Imports inside functions count too (a lazy import is still a dependency); the graph is
read from the source with `ast`, so nothing is imported here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

ARCHITECTURE = SRC.parent / "docs" / "architecture.md"


def _layers() -> list[list[str]]:
    """The layers, lowest first, from the table in docs/architecture.md (the one place they
    are written): each row's backquoted module names."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    start, end = "<!-- layers:start -->", "<!-- layers:end -->"
    rows = [line for line in text[text.index(start):text.index(end)].splitlines()
            if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    layers = [re.findall(r"`([a-z_.]+)`", row.split("|")[3]) for row in rows]
    assert [int(row.split("|")[1]) for row in rows] == list(range(len(rows)))
    return layers


LAYERS = _layers()


def _modules() -> dict[str, Path]:
    mods = {}
    for path in (SRC / "wise").rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def _graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the package modules it imports, wherever in the file the import is."""
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                for a in node.names:                 # `from wise.x import y`: module y or x
                    deps.add(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base)
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def _layer(name: str) -> int | None:
    """The layer listing `name` or a package holding it (`wise` itself names the package's
    __init__ only, not everything in it)."""
    for i, layer in enumerate(LAYERS):
        if any(name == entry or (entry != "wise" and name.startswith(entry + "."))
               for entry in layer):
            return i
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_layers_are_read_from_the_architecture_page():
    assert LAYERS[0][0] == "wise.errors" and LAYERS[-1] == ["wise.testing"]
    assert LAYERS[-2] == ["wise.cli", "wise.__main__", "wise"]
    assert ["wise.features"] in LAYERS and len(LAYERS) == 14
    assert _layer("wise") == _layer("wise.cli") < _layer("wise.testing.kill_resume")


def test_the_graph_is_read():
    graph = _graph(_modules())
    assert {"wise.train", "wise.checkpoint"} <= graph["wise.crossval"]
    assert "wise.features.cache" in graph["wise.batching"]     # `from wise.features.cache import`
    assert "wise.plots" in graph["wise.predict"]            # a function-level import counts


def test_no_import_loops():
    assert _cycles(_graph(_modules())) == []


def test_every_module_has_a_layer():
    missing = sorted(m for m in _modules() if _layer(m) is None)
    assert not missing, f"place these modules in a layer of docs/architecture.md: {missing}"


def test_no_module_imports_a_higher_layer():
    graph = _graph(_modules())
    upward = sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                    if _layer(m) is not None and _layer(d) is not None
                    and _layer(d) > _layer(m))
    assert upward == []


def test_the_library_never_imports_its_test_helpers():
    # wise.testing is the top layer, so this follows from the check above: said once more,
    # by name, because it is what lets the helpers need the test extra.
    graph = _graph(_modules())
    testing = [m for m in graph if _layer(m) == _layer("wise.testing")]
    users = sorted(f"{m} -> {d}" for m, deps in graph.items() if m not in testing
                   for d in deps if d in testing)
    assert users == []
