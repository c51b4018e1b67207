"""ieegrecon.evaluation: its modules import one another one way (no cycle, imports inside functions included),
and none imports the removed flat modules (``pipeline``, ``evaluate``, ``evaluate_report``)."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "ieegrecon" / "evaluation"
REMOVED = ("ieegrecon.pipeline", "ieegrecon.evaluate", "ieegrecon.evaluate_report")


def _imports(path: Path) -> set[str]:
    """Absolute names of everything ``path`` imports (anywhere in the file), relative imports resolved."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ["ieegrecon", "evaluation"][: 3 - node.level] if node.level else []
            src = ".".join(base + ([node.module] if node.module else []))
            out.update(f"{src}.{a.name}" for a in node.names)
    return out


def _edges() -> dict[str, set[str]]:
    mods = {p.stem for p in PKG.glob("*.py") if p.stem != "__init__"}
    edges = {}
    for m in mods:
        names = _imports(PKG / f"{m}.py")
        edges[m] = {n.split(".")[2] for n in names
                    if n.startswith("ieegrecon.evaluation.") and n.split(".")[2] in mods} - {m}
        edges[m].discard("__init__")
    return edges


def test_no_import_cycle_between_evaluation_modules():
    edges = _edges()
    assert {"config", "data", "protocol", "ceilings", "posterior", "stats", "cache", "run", "report"} <= set(edges)
    done: set[str] = set()

    def visit(m: str, path: tuple[str, ...]) -> None:
        assert m not in path, f"import cycle: {' -> '.join(path + (m,))}"
        if m in done:
            return
        for n in sorted(edges[m]):
            visit(n, path + (m,))
        done.add(m)

    for m in sorted(edges):
        visit(m, ())
    # every import of ieegrecon.evaluation names one of its modules, never the package (which imports them all)
    for p in PKG.glob("*.py"):
        if p.stem != "__init__":
            names = [n for n in _imports(p) if n.startswith("ieegrecon.evaluation")]
            assert all(n.count(".") >= 2 and n.split(".")[2] in edges for n in names), (p.name, names)


def test_no_removed_module_is_imported():
    for p in PKG.glob("*.py"):
        bad = [n for n in _imports(p) if any(n == r or n.startswith(r + ".") for r in REMOVED)]
        assert not bad, (p.name, bad)


def test_modules_are_small():
    for p in PKG.glob("*.py"):
        assert len(p.read_text(encoding="utf-8").splitlines()) <= 450, p.name
