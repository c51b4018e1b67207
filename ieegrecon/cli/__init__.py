"""Command-line interface: ``ieegrecon SUBCOMMAND ...``.

Each subcommand lives in its own module and only parses options, calls the
pipeline and renders results; no science here.
"""

from __future__ import annotations

from .app import app


def _register() -> None:
    import importlib

    for mod in ("simulate_cmd", "data_cmd", "recon_cmd", "batch_cmd", "train_cmd", "eval_cmd", "fmri_cmd",
                "atlas_cmd"):
        try:
            importlib.import_module(f"{__name__}.{mod}")
        except ModuleNotFoundError as exc:
            # a subcommand module not written yet; never hide a missing dependency
            if exc.name != f"{__name__}.{mod}":
                raise


_register()


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
