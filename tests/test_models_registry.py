"""The method registry and the model interface (ieegrecon.models.base)."""

from __future__ import annotations

import pytest

from ieegrecon.models import available_methods, get_model_class


def test_registry_lists_builtin_methods():
    assert {"ridge", "source"} <= set(available_methods())
    with pytest.raises(ValueError, match="Allowed values are"):
        get_model_class("nope")


METHOD_MODULES = {"ridge": "ieegrecon.models.ridge", "source": "ieegrecon.models.source",
                  "cast": "ieegrecon.models.cast", "flow": "ieegrecon.models.flow",
                  "ridge0": "ieegrecon.models.ridge_variants", "ridge-cv": "ieegrecon.models.ridge_variants",
                  "ridge-prior": "ieegrecon.models.ridge_variants", "xs-ridge": "ieegrecon.models.xs_ridge",
                  "ridge-gauss": "ieegrecon.models.ridge_gauss"}
#: The methods built on the lagged ridge (they import ieegrecon.models.ridge by design).
ON_RIDGE = {"cast", "flow", "ridge0", "ridge-cv", "ridge-prior", "xs-ridge", "ridge-gauss"}


def _run(code: str) -> str:
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_method_names_lists_every_builtin_method_without_importing_torch_or_a_method():
    out = _run("import sys; from ieegrecon.models.base import method_names, available_methods; "
               "print(method_names(), available_methods(), 'torch' in sys.modules, "
               "sorted(m for m in sys.modules if m.startswith('ieegrecon.models.')))")
    names = ("['cast', 'flow', 'ridge', 'ridge-cv', 'ridge-gauss', 'ridge-prior', 'ridge0', 'source', "
             "'xs-ridge']")
    assert out == (f"{names} {names} False "
                   "['ieegrecon.models.base', 'ieegrecon.models.io', 'ieegrecon.models.patient']")


@pytest.mark.parametrize("method", sorted(METHOD_MODULES))
def test_the_registry_imports_only_the_method_asked_for(method):
    """``get_model_class(m)`` imports m's module (and what it imports), never another method's by name."""
    out = _run(f"import sys; from ieegrecon.models import get_model_class; c = get_model_class({method!r}); "
               f"print(c.__module__, c.method, sorted(m for m in sys.modules if m.startswith('ieegrecon.models.')))")
    module, name, loaded = out.split(" ", 2)
    assert module == METHOD_MODULES[method] and name == method
    others = {m for k, m in METHOD_MODULES.items() if m != METHOD_MODULES[method]}
    if method in ON_RIDGE:
        others.discard("ieegrecon.models.ridge")  # they stack on the lagged ridge (lag prior / location / subclass)
    assert not [m for m in others if f"'{m}'" in loaded], loaded


def test_base_imports_no_method_module():
    """The registry is a static name -> 'module:Class' map: base.py imports no method, not even in a function."""
    import ast
    from pathlib import Path

    import ieegrecon.models.base as base

    tree = ast.parse(Path(base.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported |= {node.module or ""} | {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert not {n.split(".")[-1] for n in imported} & {"cast", "flow", "ridge", "source", "ridge_variants", "xs_ridge",
                                                       "ridge_gauss", "_load_all"}
    assert not hasattr(base, "register")
    assert set(base.BUILTIN_METHODS) == set(METHOD_MODULES)
    for name, target in base.BUILTIN_METHODS.items():
        module, cls = target.split(":")
        assert f"ieegrecon.models.{module}" == METHOD_MODULES[name] and cls.endswith("Model")
