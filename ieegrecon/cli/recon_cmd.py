"""``ieegrecon calibrate`` and ``ieegrecon reconstruct``."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.markup import escape
from rich.table import Table

from ..errors import IeegreconError, UsageError
from ..io.atomic import output_errors
from ..models.base import method_names
from .app import STATE, command, err_console, out_console, print_json


@contextmanager
def _progress(total_label: str) -> Iterator:
    """A rich progress bar on stderr; yields ``update(message, fraction)``.

    Shown only on an interactive terminal: rich's Progress prints an empty line
    when it stops on a non-interactive console (pipe, log file), which would
    precede every one-line error.
    """
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err_console, transient=True,
                  disable=not err_console.is_interactive) as prog:
        task = prog.add_task(total_label, total=1.0)

        def update(message: str, fraction: float) -> None:
            prog.update(task, description=f"{total_label}: {message}", completed=fraction)

        yield update


@command("calibrate")
def calibrate_cmd(
    patient: List[Path] = typer.Argument(..., help="BIDS session folder, or EDF with scalp+iEEG, or scalp file with "
                                         "--ieeg; several (in time order), or a BIDS subject folder with several "
                                         "sessions: pooled for calibration, joined end to end."),
    method: str = typer.Option("ridge", "--method", "-m", help=" | ".join(method_names()) + "."),
    minutes: Optional[float] = typer.Option(
        None, "--minutes", help="Calibration minutes from the start (fractions allowed; 0 = zero-shot). "
        "Default: all but the last 20 % (at least 10 s), which is held out."),
    line_freq: Optional[float] = typer.Option(
        None, "--line-freq", help="Mains frequency to notch, 50 or 60 Hz (stored in the model). "
        "Default: the BIDS sidecar's PowerLineFrequency, else 50."),
    drop_references: bool = typer.Option(
        False, "--drop-references", help="Leave ear/mastoid references (A1, A2, M1, M2) out of the model's inputs, "
        "so that recordings without ear electrodes (10-10 caps, HUP) fit it; they carry temporal-lobe "
        "signal, so this costs accuracy (example: median held-out r 0.61 -> 0.51)."),
    out: Path = typer.Option(..., "--out", "-o", help="Patient model folder to write."),
    ieeg: Optional[Path] = typer.Option(None, "--ieeg", help="Simultaneous intracranial file."),
    electrodes: Optional[Path] = typer.Option(None, "--electrodes", help="Contact positions (electrodes.tsv, BIDS session, FIF)."),
    ieeg_channels: Optional[str] = typer.Option(None, "--ieeg-channels", help="Regex naming intracranial channels in a mixed file."),
    pretrained: Optional[Path] = typer.Option(None, "--model", help="Pretrained model folder (cast)."),
    atlas: str = typer.Option("desikan_killiany", "--atlas", help="Atlas for contact regions."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing patient model."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Calibrate a patient model on the first M minutes of a paired recording (or of several, pooled)."""
    from ..workflow.calibrate import calibrate
    from ..workflow.confidence import reliability_class

    with _progress("calibrate") as update:
        res = calibrate(patient if len(patient) > 1 else patient[0], method=method, minutes=minutes, out=out,
                        ieeg=ieeg, electrodes=electrodes,
                        ieeg_channels=ieeg_channels, pretrained=pretrained, atlas=atlas, line_freq=line_freq,
                        drop_references=drop_references, overwrite=overwrite, seed=seed, progress=update)
    rows = res.regions.to_dict("records")
    prov = res.patient.provenance
    mains = res.patient.preprocessing.line_freq
    source = {"--line-freq": "--line-freq", "default": "default; --line-freq 60 for 60-Hz mains"}.get(
        prov.line_freq_source, f"from the {prov.line_freq_source}")
    used = ("" if minutes is None else f"calibrated on {prov.minutes:g} min; ") + \
        f"{res.evaluation}; mains notch {mains:g} Hz ({source})"
    if not as_json:
        err_console.print(f"ieegrecon: {used}", markup=False, soft_wrap=True)
    if as_json:
        print_json({"model": str(res.out), "method": res.method, "evaluation": res.evaluation,
                    "minutes": prov.minutes, "line_freq": mains,
                    "line_freq_source": prov.line_freq_source,
                    "simulated_data": prov.simulated_data,
                    "contacts": [{"name": r["name"], "region_key": r["region_key"],
                                  "depth_class": r["depth_class"], "heldout_r": res.r.get(r["name"])}
                                 for r in rows]})
        return
    table = Table(title=escape(f"{res.method} patient model -> {res.out}  ({res.evaluation})"))
    for col in ("contact", "region", "depth", "held-out r", "reliability"):
        table.add_column(col)
    for r in rows:
        v = res.r.get(r["name"])
        table.add_row(escape(str(r["name"])), escape(str(r["region_key"])), str(r["depth_class"]),
                      "n/a" if v is None else f"{v:.2f}", reliability_class(v))
    out_console.print(table)
    if prov.simulated_data:
        out_console.print("[bold yellow]Calibration data are SIMULATED (ieegrecon digital twin).[/]")


@command("reconstruct")
def reconstruct_cmd(
    scalp: List[Path] = typer.Argument(..., help="Scalp EEG file(s): EDF/EDF+/BDF/BrainVision/FIF/EEGLAB."),
    model: Path = typer.Option(..., "--model", help="Patient model folder from `ieegrecon calibrate`."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .edf (one input) or folder (several)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Report folder (report.json, regions.tsv, report.html)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    samples: int = typer.Option(0, "--samples", help="Posterior bands (ridge-gauss models, the default sampler, or flow); EDF holds the median, "
                                 "<out>_uncertainty.h5 the 5-95 % band. ridge-gauss: exact Gaussian quantiles, any "
                                 "length (the sidecar holds each contact's offsets from the EDF's trace), K > 0 only "
                                 "turns them on; flow: quantiles of K draws, outputs up to 1 h."),
    anonymize: bool = typer.Option(False, "--anonymize", help="Do not copy the input's start date/time (patient field is always anonymous)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Reconstruct iEEG surrogates (EDF+) from scalp EEG with a patient model."""
    from ..models.io import load_patient_model
    from ..workflow.reconstruct import check_calibrated, reconstruct_file

    many = len(scalp) > 1
    results: list = []
    failures: list = []
    try:
        stems = [p.stem for p in scalp]
        clash = sorted({s for s in stems if stems.count(s) > 1})
        if many and clash:  # out/<stem>_recon.edf and report/<stem> would be written twice: refuse before any work
            same = [str(p) for p in scalp if p.stem == clash[0]]
            raise UsageError(f"inputs {', '.join(same)} share the name {clash[0]!r}; their outputs "
                             f"{out / (clash[0] + '_recon.edf')} would collide: rename them or run them separately")
        mdl, patient_model = load_patient_model(model, sampling=samples > 0)  # no torch for a flow's point estimate
        check_calibrated(mdl, patient_model)
        if many and out.suffix.lower() == ".edf":
            raise UsageError(f"--out {out} is a file but {len(scalp)} inputs were given; pass a folder")
        if not many and out.suffix.lower() != ".edf" and not out.is_dir():
            raise UsageError(f"--out {out} must end in .edf (or be an existing folder)")
        if many and out.exists() and not out.is_dir():
            raise UsageError(f"--out {out} is an existing file but {len(scalp)} inputs were given; pass a folder")
        if many or out.is_dir():
            with output_errors(out):
                out.mkdir(parents=True, exist_ok=True)
    except IeegreconError as err:
        if as_json:  # every input failed: the summary still goes to stdout
            print_json({"model": str(model), "outputs": [], "failures": [
                _failure(k, p, err, anonymize) for k, p in enumerate(scalp)]})
        raise
    for k, path in enumerate(scalp):
        target = out / f"{path.stem}_recon.edf" if (many or out.is_dir()) else out
        rep_dir = None if report is None else (report / path.stem if many else report)
        try:
            with _progress(f"[{k + 1}/{len(scalp)}] {path.name}") as update:
                res = reconstruct_file(path, mdl, patient_model, target, report_dir=rep_dir, overwrite=overwrite,
                                       forbidden=tuple(scalp), anonymize=anonymize, samples=samples, progress=update)
            results.append(res.to_dict())
            if not as_json:
                err_console.print(f"[green]wrote[/] {escape(res.output)} ({len(res.ch_names)} contacts, "
                                  f"{res.n_times / res.sfreq:.1f} s at {res.sfreq:g} Hz)"
                                  + (f"; report {escape(res.report)}" if res.report else ""))
                for note in res.notes:
                    err_console.print(f"  note: {note}", markup=False)
        except IeegreconError as err:
            if STATE.debug:
                raise
            failures.append(_failure(k, path, err, anonymize))
            if not many:
                if as_json:
                    print_json({"model": str(model), "outputs": results, "failures": failures})
                raise
            err_console.print(f"ieegrecon: error: {err}", markup=False, soft_wrap=True)
    if as_json:
        print_json({"model": str(model), "outputs": results, "failures": failures})
    if failures:
        err_console.print(f"ieegrecon: {len(failures)} of {len(scalp)} inputs failed", markup=False)
        raise typer.Exit(max(f["exit_code"] for f in failures))


def _failure(k: int, path: Path, err: IeegreconError, anonymize: bool) -> dict:
    """One failed input for the --json summary; with --anonymize neither its path nor its name."""
    if anonymize:
        return {"input": f"input {k + 1}", "error": err.message, "exit_code": err.exit_code}
    return {"input": str(path), "error": str(err), "exit_code": err.exit_code}
