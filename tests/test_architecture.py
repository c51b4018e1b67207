"""Architecture rules of issue #15, measured on the source with ast (imports inside functions included).

* no import cycle between ieegrecon modules (``from . import x`` counts as importing ``x``);
* no module of ieegrecon over 450 lines;
* no ``import typer`` outside ``ieegrecon/cli/``.

They hold for the whole package (and, separately, for the layers rebuilt first, so that a
failure names the layer).
"""

from __future__ import annotations

import ast
from pathlib import Path


PKG = Path(__file__).resolve().parents[1] / "ieegrecon"
MAX_LINES = 450
#: Parts already rebuilt: held to every rule now.
REBUILT = ("ieegrecon.models", "ieegrecon.atlas", "ieegrecon.headmodel", "ieegrecon.metrics",
           "ieegrecon.fmri.model", "ieegrecon.cli.atlas_cmd")


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = p.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _target(name: str) -> str | None:
    """The ieegrecon module ``name`` refers to (the longest known prefix), or None."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        cand = ".".join(parts[:i])
        if cand in MODULES:
            return cand
    return None


def import_edges() -> dict[str, set[str]]:
    """Module -> ieegrecon modules it imports, anywhere in the file."""
    edges: dict[str, set[str]] = {}
    for mod, path in MODULES.items():
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                src = _resolve(mod, node)
                names = [f"{src}.{a.name}" for a in node.names]  # a submodule, or a name of ``src``
            else:
                continue
            for n in names:
                if n.startswith("ieegrecon"):
                    t = _target(n)
                    if t is not None and t != mod:
                        out.add(t)
        edges[mod] = out
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _rebuilt(mod: str) -> bool:
    return any(mod == r or mod.startswith(r + ".") for r in REBUILT)


def _long_modules() -> dict[str, int]:
    return {m: n for m, p in MODULES.items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}


def test_the_import_graph_sees_function_level_and_package_relative_imports():
    edges = import_edges()
    assert "ieegrecon.models.base" in edges["ieegrecon.models.io"]
    assert "ieegrecon.models._cast_nn" in edges["ieegrecon.models.cast"]  # imported inside CastModel._build
    assert "ieegrecon.models._cast_train" in edges["ieegrecon.models.cast"]  # ``from . import _cast_train``
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_touches_the_rebuilt_layers():
    bad = [c for c in cycles(import_edges()) if any(_rebuilt(m) for m in c)]
    assert not bad, bad


def test_no_import_cycles():
    assert cycles(import_edges()) == []


def test_rebuilt_modules_are_at_most_450_lines():
    long = {m: n for m, n in _long_modules().items() if _rebuilt(m)}
    assert not long, long


def test_no_module_over_450_lines():
    assert _long_modules() == {}


def test_typer_only_in_the_cli():
    edges_typer = []
    for mod, path in MODULES.items():
        if mod.startswith("ieegrecon.cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "typer" for a in node.names):
                edges_typer.append(mod)
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "typer" and not node.level:
                edges_typer.append(mod)
    assert not edges_typer, edges_typer
