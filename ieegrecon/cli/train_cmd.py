"""``ieegrecon pretrain``: cross-subject pretraining (and leave-one-subject-out)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .app import command, err_console, print_json


@command("pretrain")
def pretrain_cmd(
    roots: List[Path] = typer.Argument(..., help="BIDS root(s) with paired scalp EEG + iEEG sessions."),
    out: Path = typer.Option(..., "--out", "-o", help="Model folder to write (e.g. models/NAME)."),
    method: str = typer.Option("cast", "--method", "-m", help="Cross-subject method."),
    loso: bool = typer.Option(False, "--loso", help="Leave-one-subject-out folds first (out/folds/, MODEL_CARD.md)."),
    epochs: int = typer.Option(20, "--epochs", help="Maximum epochs."),
    windows_per_epoch: Optional[int] = typer.Option(None, "--windows-per-epoch", min=1,
                                                    help="Training windows drawn per epoch (default: all)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (deterministic training)."),
    device: Optional[str] = typer.Option(None, "--device", help="'cpu' or 'cuda' (default: CPU; a GPU is never required)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Use at most this many minutes per session."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing model."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Pretrain a cross-subject model on paired recordings of many subjects."""
    from ..workflow.pretrain import pretrain_cohort

    cmd = "ieegrecon " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    summary = pretrain_cohort(roots, out, method=method, loso=loso, epochs=epochs, seed=seed, device=device,
                              max_minutes=max_minutes, windows_per_epoch=windows_per_epoch,
                              overwrite=overwrite, command=cmd,
                              say=lambda m: err_console.print(m, markup=False))
    if as_json:
        print_json(summary)
    else:
        err_console.print(f"[green]wrote[/] {out} (see {out / 'MODEL_CARD.md'})")
