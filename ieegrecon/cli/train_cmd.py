"""``ieegrecon pretrain``: cross-subject pretraining (and leave-one-subject-out), in one or several processes."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .app import STATE, command, err_console, print_json

#: The command line the user typed, handed to the ranks started by ``--nproc`` (for the model card).
COMMAND_ENV = "IEEGRECON_COMMAND"


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
    nproc: int = typer.Option(1, "--nproc", min=1, help="Train in N processes on this machine "
                              "(DistributedDataParallel: gloo on CPU, nccl with --device cuda; subjects sharded), "
                              "as `torchrun --nproc_per_node N -m ieegrecon.cli pretrain ...` does."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing model."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Pretrain a cross-subject model on paired recordings of many subjects."""
    from ..workflow.pretrain import pretrain_cohort

    cmd = os.environ.get(COMMAND_ENV) or "ieegrecon " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if nproc > 1 and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        from ._launch import launch_local

        args = _rank_args(roots, out=out, method=method, loso=loso, epochs=epochs, seed=seed, device=device,
                          windows_per_epoch=windows_per_epoch, max_minutes=max_minutes, overwrite=overwrite,
                          as_json=as_json)
        raise typer.Exit(launch_local(args, nproc, {COMMAND_ENV: cmd}))
    rank0 = int(os.environ.get("RANK", "0")) == 0
    summary = pretrain_cohort(roots, out, method=method, loso=loso, epochs=epochs, seed=seed, device=device,
                              max_minutes=max_minutes, windows_per_epoch=windows_per_epoch,
                              overwrite=overwrite, command=cmd,
                              say=lambda m: err_console.print(m, markup=False))
    if not rank0:
        return
    if as_json:
        print_json(summary)
    else:
        err_console.print(f"[green]wrote[/] {out} (see {out / 'MODEL_CARD.md'})")


def _rank_args(roots: List[Path], *, out: Path, method: str, loso: bool, epochs: int, seed: int,
               device: Optional[str], windows_per_epoch: Optional[int], max_minutes: Optional[float],
               overwrite: bool, as_json: bool) -> list[str]:
    """The ``ieegrecon`` arguments of one rank: this command's options, without ``--nproc``."""
    args = (["--debug"] if STATE.debug else []) + ["pretrain", *map(str, roots), "--out", str(out),
                                                    "--method", method, "--epochs", str(epochs), "--seed", str(seed)]
    for flag, value in (("--device", device), ("--windows-per-epoch", windows_per_epoch),
                        ("--max-minutes", max_minutes)):
        if value is not None:
            args += [flag, str(value)]
    return args + [flag for flag, on in (("--loso", loso), ("--overwrite", overwrite), ("--json", as_json)) if on]
