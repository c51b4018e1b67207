"""Simulated sessions written in the forms real archives use: ds004752 (epoched) and HUP (one mixed file).

``ieegrecon simulate --form`` picks the form (``auto``: from the layout):

- ``'bids'``: ieegrecon's own BIDS (:mod:`ieegrecon.simulate.bids`): continuous
  scalp and iEEG files, ``eeg/`` + ``ieeg/``.
- ``'ds004752'`` (OpenNeuro ds004752, Boran et al. 2020): the continuous
  simulation cut into 8-s trials with the inter-trial interval dropped and
  the trials joined end to end (sidecars ``RecordingType: epoched``,
  ``EpochLength: 8``, an ``events.tsv`` of trials with ``begSample`` /
  ``endSample``), iEEG against a common intracranial reference (world v2's
  quietest shaft), swapped ``low_cutoff``/``high_cutoff`` columns, and EDF
  headers whose start-time seconds read ``60`` (bytes 182-183, as in the real
  download).
- ``'hup'`` (OpenNeuro ds004100, HUP): scalp electrodes (upper-case 10-20
  names), depth contacts and two EKG leads in **one** EDF at 500 Hz, all typed
  ``SEEG``, the layout's ``status`` / ``status_description`` copied (scalp
  electrodes ``bad``, seizure-onset and resected contacts named), and an
  ``electrodes.tsv`` that starts with a byte-order mark, is in
  ``space-fsaverage`` (MNI305) and declares metres while holding millimetres;
  sessions become runs ``task-interictal_run-0K`` of ``ses-presurgery``.
"""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..io.atomic import write_text_atomic
from .core import SimulatedSession
from .layout import Layout

#: Forms ``simulate_dataset`` writes (``'auto'``: :func:`detect_form`).
FORMS = ("bids", "ds004752", "hup", "auto")
#: ds004752 trial length and the inter-trial interval dropped between trials (s).
EPOCH_S, ITI_S = 8.0, 1.0
#: HUP: one sampling rate for every channel (Hz), and its session label.
HUP_SFREQ, HUP_SESSION = 500.0, "presurgery"


def detect_form(layout: Layout) -> str:
    """``'hup'`` (scalp electrodes listed among the iEEG channels), ``'ds004752'`` (epoched sidecar), else ``'bids'``."""
    from ..channels import non_contact_type

    rows = layout.channel_rows or {}
    if any(non_contact_type(n, "seeg") == "eeg" for n, r in rows.items() if r.get("type", "").upper() == "SEEG"):
        return "hup"
    return "ds004752" if layout.epoched else "bids"


def _json(path: Path, obj: dict) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def _tsv(path: Path, header: list[str], rows: list[list], bom: bool = False) -> None:
    lines = ["\t".join(header)] + ["\t".join(str(v) for v in r) for r in rows]
    write_text_atomic(path, ("\ufeff" if bom else "") + "\n".join(lines) + "\n")


def patch_seconds_60(edf: Path) -> None:
    """Write ``60`` into the start time's seconds field (header bytes 182-183), as ds004752's EDFs carry."""
    with open(edf, "r+b") as f:
        f.seek(182)
        f.write(b"60")


# --------------------------------------------------------------------------- ds004752: epoched
def epoch_session(sim: SimulatedSession) -> tuple[SimulatedSession, np.ndarray]:
    """Cut a continuous simulated session into :data:`EPOCH_S` trials, dropping :data:`ITI_S` between them.

    Returns
    -------
    sim : SimulatedSession
        A copy whose ``scalp`` / ``ieeg`` are the trials joined end to end
        (interictal discharges moved with their trial, those in a dropped
        interval removed); the ground-truth arrays stay continuous.
    starts : ndarray, shape (n_trials,)
        Each trial's start in the continuous simulation (s).

    Raises
    ------
    ValueError
        The session is shorter than one trial.
    """
    total = sim.scalp.shape[1] / sim.scalp_sfreq
    n = int((total + ITI_S) // (EPOCH_S + ITI_S))
    if n < 1:
        raise ValueError(f"a ds004752-form session needs at least {EPOCH_S:g} s, got {total:g} s")
    starts = np.arange(n) * (EPOCH_S + ITI_S)

    def cut(x: np.ndarray, fs: float) -> np.ndarray:
        k = int(round(EPOCH_S * fs))
        return np.concatenate([x[:, int(round(t * fs)):int(round(t * fs)) + k] for t in starts], axis=1)

    spikes = [t - s + i * EPOCH_S for t in sim.spike_times for i, s in enumerate(starts) if s <= t < s + EPOCH_S]
    return dataclasses.replace(sim, scalp=cut(sim.scalp, sim.scalp_sfreq), ieeg=cut(sim.ieeg, sim.ieeg_sfreq),
                               spike_times=np.asarray(spikes, float), events=[]), starts


def write_ds004752_sidecars(sdir: Path, stem: str, sim: SimulatedSession, starts: np.ndarray) -> None:
    """Overwrite the session's sidecars in ds004752's form: epoched JSON, trial events, swapped cutoffs."""
    for kind, fs, names in (("eeg", sim.scalp_sfreq, sim.scalp_names), ("ieeg", sim.ieeg_sfreq, sim.contact_names)):
        d = sdir / kind
        side = json.loads((d / f"{stem}_{kind}.json").read_text(encoding="utf-8"))
        side.update({"RecordingType": "epoched", "EpochLength": EPOCH_S, "RecordingDuration": EPOCH_S})
        if kind == "ieeg":
            side["iEEGReference"] = "common intracranial reference"
            side["iEEGReferenceDescription"] = sim.ieeg_reference
        _json(d / f"{stem}_{kind}.json", side)
        k = int(round(EPOCH_S * fs))
        _tsv(d / f"{stem}_events.tsv", ["onset", "duration", "nTrial", "begSample", "endSample", "source_onset"],
             [[f"{i * EPOCH_S + 1 / fs:.6g}", f"{EPOCH_S:g}", i + 1, i * k + 1, (i + 1) * k, f"{t:g}"]
              for i, t in enumerate(starts)])
        _json(d / f"{stem}_events.json", {
            "begSample": {"Description": "first sample of the trial (1-based) in the file"},
            "endSample": {"Description": "last sample of the trial (1-based) in the file"},
            "source_onset": {"Description": "SIMULATED: the trial's start in the continuous simulation "
                                            "(the interval before it was dropped)", "Units": "s"}})
        st = sim.channel_status
        _tsv(d / f"{stem}_channels.tsv",
             ["name", "type", "units", "low_cutoff", "high_cutoff", "sampling_frequency", "status",
              "status_description"],
             [[n, "EEG" if kind == "eeg" else "SEEG", "µV", "1000", "0.5", f"{fs:g}",
               "bad" if n in st else "good", st.get(n, "n/a")] for n in names])
        patch_seconds_60(d / f"{stem}_{kind}.edf")


# --------------------------------------------------------------------------- HUP: one mixed file
def _resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    from scipy.signal import resample_poly

    fr = Fraction(fs_out / fs_in).limit_denominator(1000)
    return x if fr == 1 else resample_poly(x, fr.numerator, fr.denominator, axis=1)


def _ekg(n: int, fs: float, seed: int) -> np.ndarray:
    """Two EKG leads (V): narrow R waves at 60-80 beats/min with 1 % jitter, shape (2, n)."""
    rng = np.random.default_rng(seed)
    rate = rng.uniform(1.0, 1.33)
    beats = np.cumsum(rng.normal(1 / rate, 0.01 / rate, int(n / fs * rate) + 2))
    t = np.arange(n) / fs
    r = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in beats)
    return np.vstack([1e-3 * r, -0.6e-3 * r]) + rng.normal(0, 5e-6, (2, n))


def _hup_rows(layout: Layout, scalp: list[str], contacts: list[str]) -> list[str]:
    """Channel order: the layout's channels.tsv order when it lists them, else scalp, contacts, EKG."""
    have = set(scalp) | set(contacts) | {"EKG1", "EKG2"}
    order = [n for n in (layout.channel_rows or {}) if n in have]
    return order + [n for n in scalp + contacts + ["EKG1", "EKG2"] if n not in order]


def write_hup_run(root: Path, sim: SimulatedSession, sub: str, run: int, *, overwrite: bool = False) -> Path:
    """Write one simulated session as a HUP interictal run (one EDF: scalp + contacts + EKG, all SEEG).

    Returns the session folder ``sub-XX/ses-presurgery``.
    """
    from ..io.edf import write_edf
    from ..io.edf_verify import verify_edf
    from ..io.electrodes import mni305_to_mni152
    from ..recording import Annotation

    lay = sim.layout
    sdir = root / f"sub-{sub}" / f"ses-{HUP_SESSION}"
    d = sdir / "ieeg"
    d.mkdir(parents=True, exist_ok=True)
    stem = f"sub-{sub}_ses-{HUP_SESSION}_task-interictal_acq-seeg_run-{run:02d}"
    fs = HUP_SFREQ
    scalp = _resample(sim.scalp, sim.scalp_sfreq, fs)
    ieeg = _resample(sim.ieeg, sim.ieeg_sfreq, fs)
    n = min(scalp.shape[1], ieeg.shape[1])
    sig = {**dict(zip(sim.scalp_names, scalp[:, :n])), **dict(zip(sim.contact_names, ieeg[:, :n])),
           **dict(zip(("EKG1", "EKG2"), _ekg(n, fs, sim.seed * 1000 + sim.subject_index * 10 + run)))}
    names = _hup_rows(lay, list(sim.scalp_names), list(sim.contact_names))
    data = np.vstack([sig[c] for c in names])
    note = (f"SIMULATED: ieegrecon digital twin (HUP form), seed {sim.seed}, subject {sim.subject_index}, "
            f"session {sim.session_index}, layout {lay.name}")
    edf = d / f"{stem}_ieeg.edf"
    write_edf(edf, data, fs, names, annotations=[Annotation(0.0, 0.0, note)],
              recording_additional=["SIMULATED", "ieegrecon"], overwrite=overwrite)
    verify_edf(edf, names, data.shape[1], fs, data)
    rows = lay.channel_rows or {}
    st = sim.channel_status
    scalp_set = set(sim.scalp_names)

    def status(c: str) -> tuple[str, str]:
        r = rows.get(c, {})
        bad = c in st or r.get("status", "") == "bad" or (not r and (c in scalp_set or c.startswith("EKG")))
        desc = r.get("status_description", "n/a") or "n/a"
        return ("bad" if bad else "good"), (st[c] if c in st and desc == "n/a" else desc)

    _tsv(d / f"{stem}_channels.tsv", ["name", "type", "units", "low_cutoff", "high_cutoff", "description",
                                      "sampling_frequency", "status", "status_description"],
         [[c, "SEEG", "µV", "0.0", "250.0", "StereoEEG", f"{fs:g}", *status(c)] for c in names])
    _json(d / f"{stem}_ieeg.json", {
        "TaskName": "interictal", "Manufacturer": "n/a", "PowerLineFrequency": 50, "SamplingFrequency": fs,
        "SoftwareFilters": "n/a", "RecordingDuration": round(n / fs, 3), "RecordingType": "continuous",
        "iEEGReference": "n/a", "SEEGChannelCount": len(names), "EEGChannelCount": 0, "ECGChannelCount": 0,
        "TaskDescription": note + " (PowerLineFrequency 50: the simulated mains; HUP's own files say 60)"})
    pos = dict(zip(sim.contact_names, mni305_to_mni152(sim.contact_pos, inverse=True) * 1e3))
    el_stem = f"sub-{sub}_ses-{HUP_SESSION}_acq-seeg_space-fsaverage"
    _tsv(d / f"{el_stem}_electrodes.tsv", ["name", "x", "y", "z", "size"],
         [[c, *([f"{v:.6g}" for v in pos[c]] if c in pos else ["n/a"] * 3), "n/a"] for c in names], bom=True)
    _json(d / f"{el_stem}_coordsystem.json", {
        "iEEGCoordinateSystem": "fsaverage",
        "iEEGCoordinateSystemDescription": "Defined by FreeSurfer (MNI305). SIMULATED: the layout's MNI152 "
                                           "positions taken back to MNI305, written in mm as HUP does",
        "iEEGCoordinateUnits": "m"})
    scans = sorted({p.relative_to(sdir).as_posix() for p in d.glob("*_ieeg.edf")})
    _tsv(sdir / f"sub-{sub}_ses-{HUP_SESSION}_scans.tsv", ["filename"], [[s] for s in scans], bom=True)
    return sdir
