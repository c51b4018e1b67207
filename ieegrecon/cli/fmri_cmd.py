"""``ieegrecon fmri``, ``fmri-simulate``, ``fmri-train``, ``fmri-evaluate``: EEG-conditioned BOLD on fsaverage5."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from .._checks import check_out_path, check_positive, check_range
from .app import command, err_console, out_console, print_json


@command("fmri")
def fmri(
    eeg: Path = typer.Argument(..., help="Scalp EEG file (EDF, BDF, BrainVision, FIF...)."),
    model: Path = typer.Option(..., "--model", help="fMRI model folder (config.json + model.safetensors)."),
    out: Path = typer.Option(..., "--out", help="X.func.gii (writes X.lh/X.rh.func.gii) or X.nii.gz."),
    tr: float = typer.Option(0.8, "--tr", help="Repetition time (s); must match the model."),
    known_bold: Path | None = typer.Option(None, "--known-bold", help="Measured frames: X.lh.func.gii (pair)."),
    known_frames: str | None = typer.Option(None, "--known-frames",
                                               help="Their indices: '0,5,10-20' or a text file."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Generate SURROGATE BOLD frames from EEG; measured frames are kept exactly."""
    from ..fmri.pipeline import eeg_to_bold

    check_positive("tr", tr)
    from ..fmri.io import hemi_paths

    targets = [out] if out.name.endswith((".nii", ".nii.gz")) else list(hemi_paths(out))
    for t in targets:  # before computing
        check_out_path(t, overwrite=overwrite, inputs=(eeg, model, known_bold), kind="bold")
    t0 = time.perf_counter()
    res = eeg_to_bold(eeg, model, out, tr=tr, known_bold=known_bold, known_frames=known_frames,
                      overwrite=overwrite)
    summary = {"outputs": [str(p) for p in res.outputs], "n_frames": res.n_frames, "n_known": res.n_known,
               "tr": res.tr, "kernel": res.kernel, "elapsed_s": round(time.perf_counter() - t0, 2),
               **{k: res.meta[k] for k in ("model_sha256", "input_sha256")}}
    if as_json:
        print_json(summary)
    else:
        kept = f"{res.n_known} measured frames kept exactly" if res.n_known else "EEG-only, no measured frames"
        out_console.print(f"wrote {', '.join(summary['outputs'])}: {res.n_frames} frames ({kept}) - SURROGATE",
                          markup=False)


@command("fmri-simulate")
def fmri_simulate(
    out: Path = typer.Argument(..., help="Output folder."),
    seed: int = typer.Option(0, "--seed", help="Subject seed."),
    duration: float = typer.Option(60.0, "--duration", help="Seconds."),
    tr: float = typer.Option(0.8, "--tr", help="Repetition time (s)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing files."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Simulate one subject: eeg.edf (19 channels) and bold.lh/rh.func.gii (truth)."""
    from ..fmri.io import write_bold
    from ..fmri.simulate import simulate_subject
    from ..io.edf import write_edf

    check_positive("tr", tr)
    check_range("duration", duration, low=tr, low_inclusive=False)
    for t, kind in ((out / "eeg.edf", "edf"), (out / "bold.lh.func.gii", "bold"), (out / "bold.rh.func.gii", "bold")):
        check_out_path(t, overwrite=overwrite, kind=kind)
    out.mkdir(parents=True, exist_ok=True)
    sub = simulate_subject(duration, seed, tr=tr)
    write_edf(out / "eeg.edf", sub.eeg, sub.sfreq, sub.ch_names, overwrite=overwrite,
              recording_additional=["SIMULATED"])
    files = write_bold(out / "bold.func.gii", sub.bold, tr=tr, overwrite=overwrite,
                       meta={"simulated": "true", "seed": seed})
    summary = {"eeg": str(out / "eeg.edf"), "bold": [str(f) for f in files], "n_frames": sub.n_frames}
    if as_json:
        print_json(summary)
    else:
        out_console.print(f"wrote {summary['eeg']} and {len(files)} GIFTI files ({sub.n_frames} frames)",
                          markup=False)


@command("fmri-train")
def fmri_train(
    out: Path = typer.Argument(..., help="Model folder to write."),
    subjects: int = typer.Option(12, "--subjects", min=1, help="Simulated training subjects (docs/fmri.md uses 12)."),
    duration: float = typer.Option(240.0, "--duration", help="Seconds per subject."),
    tr: float = typer.Option(0.8, "--tr", help="Repetition time (s)."),
    seed: int = typer.Option(0, "--seed", help="Master seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing model."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Train an fMRI model on simulated subjects (seeds seed*1000 + i)."""
    from ..fmri.mesh import load_fsaverage5
    from ..fmri.model import FmriModel
    from ..fmri.simulate import simulate_subject

    check_out_path(out, overwrite=overwrite, kind="model")
    mesh = load_fsaverage5()
    subs = []
    for i in range(subjects):
        if not as_json:
            err_console.print(f"simulating subject {i + 1}/{subjects}", markup=False)
        subs.append(simulate_subject(duration, seed * 1000 + i, tr=tr, mesh=mesh))
    m = FmriModel(subs[0].ch_names, tr).fit([s.eeg for s in subs], subs[0].sfreq,
                                             [mesh.vertex_to_parcel(s.bold) for s in subs],
                                             vertex_bolds=[s.bold for s in subs], mesh=mesh, seed=seed)
    m.save(out, overwrite=overwrite)
    if as_json:
        print_json({"model": str(out), **m.config()})
    else:
        out_console.print(f"wrote {out} (alpha {m.alpha:g}, mu {m.mu:g}, kernel {m.kernel})", markup=False)


@command("fmri-evaluate")
def fmri_evaluate(
    subjects: int = typer.Option(12, "--subjects", min=1, help="Training subjects (docs/fmri.md uses 12)."),
    test_subjects: int = typer.Option(5, "--test-subjects", min=1,
                                      help="Held-out subjects (per sealed seed with --sealed)."),
    seed: int = typer.Option(0, "--seed", min=0, max=999, help="Development master seed (0-999)."),
    duration: float = typer.Option(240.0, "--duration", help="Seconds per subject."),
    sealed: bool = typer.Option(False, "--sealed", help="Test on the sealed seeds 50021 and 50023 "
                                "(final reports only; docs/evaluation.md)."),
) -> None:
    """Reproducible evaluation on held-out simulated subjects: a Markdown table, then the JSON results."""
    from ..fmri.evaluate import evaluate

    check_positive("duration", duration)
    res = evaluate(subjects, test_subjects, seed, duration, sealed=sealed)
    lines = ["| gaps | missing | method | Pearson r | MSE (%²) | SSIM |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['pattern']} | {r['missing']:.0%} | {r['method']} | {r['r']:.3f} | {r['mse']:.4f} | "
              + ("- |" if r["ssim"] is None else f"{r['ssim']:.3f} |") for r in res["rows"]]
    typer.echo("\n".join(lines))
    typer.echo(json.dumps(res, indent=1))
