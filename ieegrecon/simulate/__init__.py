"""Paired scalp EEG / iEEG simulation on real electrode layouts (``ieegrecon simulate``).

Regional dynamics from The Virtual Brain (Jansen-Rit masses on TVB's
76-region connectome), spread into dipole patches placed anatomically in MNI
space (AAL atlas), projected to the scalp through MNE's three-shell sphere
model and to the contacts through the infinite-medium dipole formula, with
noise, artifacts and local activity the scalp cannot see. See
``docs/simulation.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import OutputError
from .core import SimulatedSession, simulate_session
from .layout import Layout, load_layouts
from .world import WorldConfig, resolve_world, with_features

__all__ = ["Layout", "SimulatedSession", "WorldConfig", "load_layouts", "resolve_world", "simulate_dataset",
           "simulate_session", "with_features"]


def simulate_dataset(
    layout: str | Path,
    out_dir: str | Path,
    *,
    n_subjects: int = 1,
    minutes: float = 1.0,
    seed: int = 0,
    n_sessions: int = 2,
    scalp_sfreq: float = 200.0,
    ieeg_sfreq: float = 2000.0,
    artifacts: bool = True,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    world: str | WorldConfig = "v1",
    form: str = "bids",
) -> list[Path]:
    """Simulate a BIDS dataset of paired scalp EEG and iEEG.

    Simulated subject ``i`` uses layout ``i % n_layouts`` of ``layout``.

    Parameters
    ----------
    layout : path-like
        BIDS root, BIDS session folder or electrodes.tsv (see :func:`load_layouts`).
    out_dir : path-like
        Output BIDS root (created).
    n_subjects, n_sessions : int
        Subjects to simulate and sessions per subject.
    minutes : float
        Duration of each session (min).
    seed : int
        Master seed; same seed, same output.
    scalp_sfreq, ieeg_sfreq : float
        Sampling rates (Hz).
    artifacts : bool
        Add line noise, blinks and muscle bursts.
    overwrite : bool
        Write into an existing, non-empty ``out_dir`` (files are replaced).
    progress : callable | None
        Called with a one-line message after each session.
    world : {'v1', 'v2'} | WorldConfig
        Which simulated world (:mod:`ieegrecon.simulate.world`); ``'v1'`` is
        the default of the Python API (so existing callers get the same
        numbers), ``ieegrecon simulate`` defaults to ``'v2'``.
    form : {'bids', 'ds004752', 'hup', 'auto'}
        How the sessions are written (:mod:`ieegrecon.simulate.forms`):
        ieegrecon's BIDS (default), OpenNeuro ds004752's epoched form, HUP's
        single mixed file (sessions become runs of one session), or ``'auto'``:
        the form of each subject's layout (:func:`~ieegrecon.simulate.forms.detect_form`).

    Returns
    -------
    list of Path
        Session folders written, in order.

    Raises
    ------
    InputError
        Layout missing or invalid.
    OutputError
        ``out_dir`` exists and is not empty without ``overwrite``, or is a file.
    ValueError
        Non-positive counts, duration or rates.
    """
    from .bids import write_dataset_files
    from .forms import FORMS

    if form not in FORMS:
        raise ValueError(f"Invalid value for the 'form' parameter: allowed values are {', '.join(FORMS)}, "
                         f"but got {form!r} instead.")
    if n_subjects < 1 or n_sessions < 1 or minutes <= 0 or scalp_sfreq <= 0 or ieeg_sfreq <= 0:
        raise ValueError("subjects, sessions, minutes and sampling rates must be positive")
    cfg = resolve_world(world)
    layouts = load_layouts(layout)
    from .._checks import check_out_path
    from ..io.atomic import output_errors

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError("output exists and is a file", out)
    # with --overwrite, only a dataset ieegrecon simulated is written into; never one overlapping the layout
    check_out_path(out, overwrite=overwrite, inputs=(layout,), kind="dataset")
    with output_errors(out):
        out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    subjects = []
    width = max(2, len(str(n_subjects)))
    for i in range(n_subjects):
        lay = layouts[i % len(layouts)]
        sub = f"{i + 1:0{width}d}"
        for k in range(n_sessions):
            sim = simulate_session(lay, minutes=minutes, seed=seed, subject_index=i, session_index=k,
                                   scalp_sfreq=scalp_sfreq, ieeg_sfreq=ieeg_sfreq, artifacts=artifacts, world=cfg)
            kind = _write_form(out, sim, sub, k, form)
            written.append(kind[1])
            if progress is not None:
                progress(f"sub-{sub} ses-{k + 1:02d}: layout {lay.name}, {len(sim.scalp_names)} scalp channels, "
                         f"{len(sim.contact_names)} contacts, {minutes:g} min, {kind[0]} form")
        subjects.append({"participant_id": f"sub-{sub}", "layout": lay.name,
                         "layout_electrodes": str(lay.electrodes_tsv), "seed": seed,
                         "alpha_hz": f"{sim.params['alpha_hz']:.3f}",
                         "head_radius_mm": f"{sim.params['head_radius_m'] * 1000:.2f}"})
    write_dataset_files(out, subjects)
    return list(dict.fromkeys(written))


def _write_form(out: Path, sim: SimulatedSession, sub: str, k: int, form: str) -> tuple[str, Path]:
    """Write session ``k`` of a subject in ``form``; (the form used, the session folder)."""
    from .bids import write_session
    from .forms import detect_form, epoch_session, write_ds004752_sidecars, write_hup_run

    form = detect_form(sim.layout) if form == "auto" else form
    if form == "hup":
        return form, write_hup_run(out, sim, sub, k + 1, overwrite=True)
    if form == "bids":
        return form, write_session(out, sim, sub, f"{k + 1:02d}", overwrite=True)
    ep, starts = epoch_session(sim)
    sdir = write_session(out, ep, sub, f"{k + 1:02d}", overwrite=True)
    write_ds004752_sidecars(sdir, f"sub-{sub}_ses-{k + 1:02d}_task-sim_run-01", ep, starts)
    return form, sdir
