"""``ieegrecon simulate``: paired scalp/iEEG BIDS dataset from real layouts."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from .._checks import check_option, check_positive
from .app import command, err_console, out_console, print_json


@command("simulate")
def simulate(
    layout: Path = typer.Option(..., "--layout", help="BIDS root, BIDS session folder or electrodes.tsv."),
    out: Path = typer.Option(..., "--out", help="Output BIDS root."),
    subjects: int = typer.Option(1, "--subjects", min=1, help="Simulated subjects (layouts are cycled)."),
    sessions: int = typer.Option(2, "--sessions", min=1, help="Sessions per subject."),
    minutes: float = typer.Option(1.0, "--minutes", help="Minutes per session."),
    seed: int = typer.Option(0, "--seed", help="Master seed (same seed, same output)."),
    scalp_sfreq: float = typer.Option(200.0, "--scalp-sfreq", help="Scalp EEG sampling rate (Hz)."),
    ieeg_sfreq: float = typer.Option(2000.0, "--ieeg-sfreq", help="iEEG sampling rate (Hz)."),
    no_artifacts: bool = typer.Option(False, "--no-artifacts", help="No line noise, blinks or muscle."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into an existing output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    form: str = typer.Option("bids", "--form", help="How sessions are written: bids (ieegrecon's BIDS), ds004752 "
                             "(8-s trials joined end to end, common intracranial reference, start-time seconds "
                             "60), hup (scalp, contacts and EKG in one EDF typed SEEG, electrodes in fsaverage "
                             "declared m holding mm), or auto (the layout's own form)."),
    world: str = typer.Option("v2", "--world", help="Simulated world: v2 (references as recorded, shaft fields, "
                              "IEDs, predictable nonlinearity, v2 artifacts, sessions that differ) or v1 (the "
                              "original linear-Gaussian world)."),
) -> None:
    """Simulate paired scalp EEG and iEEG (TVB dynamics, MNE sphere model) as a BIDS dataset."""
    from ..simulate import simulate_dataset

    for name, value in (("minutes", minutes), ("scalp_sfreq", scalp_sfreq), ("ieeg_sfreq", ieeg_sfreq)):
        check_positive(name, value)
    check_option("world", world, ("v1", "v2"))
    check_option("form", form, ("bids", "ds004752", "hup", "auto"))
    t0 = time.perf_counter()
    folders = simulate_dataset(
        layout, out, n_subjects=subjects, minutes=minutes, seed=seed, n_sessions=sessions,
        scalp_sfreq=scalp_sfreq, ieeg_sfreq=ieeg_sfreq, artifacts=not no_artifacts, overwrite=overwrite, world=world,
        form=form,
        progress=None if as_json else (lambda msg: err_console.print(msg, markup=False, soft_wrap=True)),
    )
    elapsed = time.perf_counter() - t0
    if as_json:
        print_json({"out": str(out), "sessions": [str(f) for f in folders], "seed": seed,
                    "minutes": minutes, "scalp_sfreq": scalp_sfreq, "ieeg_sfreq": ieeg_sfreq,
                    "artifacts": not no_artifacts, "world": world, "form": form, "elapsed_s": round(elapsed, 2)})
    else:
        out_console.print(f"wrote {len(folders)} sessions to {out} in {elapsed:.1f} s (SIMULATED data)",
                          markup=False)
