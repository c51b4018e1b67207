"""``ieegrecon batch``: reconstruct a whole archive on dask.distributed, resumably."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..errors import UsageError
from .app import command, err_console, print_json


@command("batch")
def batch_cmd(
    inputs: List[Path] = typer.Argument(..., help="A manifest .tsv (column 'input', optional 'output', 'report'), "
                                        "or scalp EEG files."),
    model: Path = typer.Option(..., "--model", help="Patient model folder from `ieegrecon calibrate`."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: <stem>_recon.edf per input, "
                             "batch_manifest.tsv and batch_summary.json."),
    report: Optional[Path] = typer.Option(None, "--report", help="Folder of per-input reports (REPORT/<stem>/)."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Worker processes of a local dask cluster "
                                "(one thread each)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running dask scheduler "
                                            "(tcp://HOST:8786) to run on instead of a local cluster."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs this batch did not write."),
    samples: int = typer.Option(0, "--samples", help="Posterior samples, ridge-gauss or flow models (as reconstruct)."),
    anonymize: bool = typer.Option(False, "--anonymize", help="As reconstruct --anonymize."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Reconstruct many recordings, one dask task each; a rerun does only what is not finished."""
    from ..workflow.batch import run_batch
    from ..workflow.manifest import read_inputs

    if len(inputs) == 1 and inputs[0].suffix.lower() in (".tsv", ".txt"):
        rows = read_inputs(inputs[0])
    elif any(p.suffix.lower() == ".tsv" for p in inputs):
        raise UsageError("give one manifest .tsv, or scalp EEG files, not both")
    else:
        rows = [{"input": str(p)} for p in inputs]
    with Progress(TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), TextColumn("{task.description}"), console=err_console, transient=True,
                  disable=not err_console.is_interactive) as prog:
        bar = prog.add_task("", total=len(rows))

        def update(done: int, total: int, task) -> None:
            prog.update(bar, completed=done, description=escape(Path(task.input).name))
            if task.status == "failed":
                prog.console.print(f"ieegrecon: error: {task.error}", markup=False, soft_wrap=True)

        summary = run_batch(rows, model, out, report=report, overwrite=overwrite, anonymize=anonymize,
                            samples=samples, workers=workers, scheduler=scheduler, progress=update)
    d = summary.to_dict()
    if as_json:
        print_json(d)
    else:
        err_console.print(f"ieegrecon: batch: {d['done']} of {d['total']} done ({d['ran']} run now, "
                          f"{d['skipped']} already finished), {d['failed']} failed, {d['seconds']:.1f} s; "
                          f"state in {escape(d['manifest'])}", soft_wrap=True)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)
