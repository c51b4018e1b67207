"""Validate inputs before anything is computed from them.

Each check raises :class:`~ieegrecon.errors.InputError` with a one-line
message naming the file and the problem, or returns human-readable quirks
for oddities that do not prevent use. :func:`~ieegrecon.io.read.read_recording`
runs :func:`~ieegrecon.io.edf_header.check_edf_header` (the EDF/BDF header
against the specification), :func:`check_duplicate_labels`,
:func:`check_finite`, :func:`find_bad_channels` (as quirks) and
:func:`check_units`; the pipeline runs :func:`check_min_duration`, :func:`check_min_sfreq`,
:func:`check_enough_good_scalp` and excludes the bad channels (``Recording.bads``: those
:func:`find_bad_channels` names and those marked ``status=bad`` in a BIDS channels.tsv).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..recording import Recording

#: A channel whose standard deviation is below this (volts) is flat (0.1 µV:
#: well under any amplifier's noise floor of ~0.5-1 µV RMS).
FLAT_STD_V = 1e-7
#: A channel with at least this fraction of its samples pinned at its own
#: minimum or maximum value is saturated (clipped at the amplifier/ADC range).
SATURATED_FRACTION = 0.05
#: Largest plausible robust amplitude of scalp EEG in volts (10 mV); above it
#: the file's µV/V scaling is wrong.
MAX_SCALP_AMPLITUDE_V = 0.01
#: Shortest recording (s) the pipeline accepts: one analysis window.
MIN_DURATION_S = 2.0
#: Fewest good scalp channels calibration accepts once bad channels are dropped.
MIN_GOOD_SCALP = 4

def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line for an error message: ``'ParserError: Expected 7 fields'``."""
    txt = str(exc).strip()
    first = txt.splitlines()[0][:limit] if txt else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def check_duplicate_labels(names: list[str], path: str | Path | None, original: list[str] | None = None) -> None:
    """Refuse duplicate channel names (after normalization).

    Parameters
    ----------
    names : list of str
        Normalized names.
    path : path-like | None
        The file, for the message.
    original : list of str | None
        The labels as in the file, same order, to name in the message.

    Raises
    ------
    InputError
        Naming each duplicated name and the original labels that map to it.
    """
    original = original or names
    groups: dict[str, list[str]] = {}
    for o, n in zip(original, names):
        groups.setdefault(n, []).append(o)
    dups = {n: o for n, o in groups.items() if len(o) > 1}
    if dups:
        txt = "; ".join(f"{n!r} from {o}" for n, o in dups.items())
        raise InputError(f"duplicate channel labels after normalization: {txt}; labels must be unique", path)


def check_finite(data: np.ndarray, names: list[str], types: list[str], path: str | Path | None) -> list[str]:
    """Refuse NaN/Inf samples in EEG or intracranial channels; note them elsewhere.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Samples (volts).
    names, types : list of str
        Channel names and MNE types.
    path : path-like | None
        The file, for the message.

    Returns
    -------
    quirks : list of str
        One entry when other channels (misc, stim...) hold NaN/Inf.

    Raises
    ------
    InputError
        Naming the EEG/intracranial channels with NaN/Inf and their count.
    """
    from ..recording import INTRACRANIAL_TYPES

    bad = ~np.isfinite(data)
    if not bad.any():
        return []
    counts = bad.sum(axis=1)
    phys = [(n, int(c)) for n, t, c in zip(names, types, counts) if c and t in ("eeg",) + INTRACRANIAL_TYPES]
    if phys:
        raise InputError(f"NaN/Inf samples in {len(phys)} channel(s): "
                         + ", ".join(f"{n} ({c} samples)" for n, c in phys[:5]), path)
    other = [n for n, c in zip(names, counts) if c]
    return [f"NaN/Inf samples in non-EEG channel(s) {other[:5]} (not used)"]


def find_bad_channels(rec: "Recording") -> dict[str, str]:
    """Flat or saturated EEG / intracranial channels, with the reason.

    Parameters
    ----------
    rec : Recording
        Volts.

    Returns
    -------
    dict
        Channel name -> reason (``'flat: SD 0.0 µV < 0.1 µV'`` or
        ``'saturated: 12.0% of samples at its maximum'``); channels of other
        types are not examined.

    Notes
    -----
    Flat: standard deviation below :data:`FLAT_STD_V`. Saturated: at least
    :data:`SATURATED_FRACTION` of the samples equal to the channel's own
    minimum or maximum (an ADC or amplifier range hit: EDF stores clipped
    samples at the digital extremes). The same two criteria as the
    "flat"/"clipping" checks of common EEG pipelines (e.g. PREP,
    Bigdely-Shamlo et al. 2015, Front Neuroinform 9:16).
    """
    from ..recording import INTRACRANIAL_TYPES

    bad: dict[str, str] = {}
    for name, typ, x in zip(rec.ch_names, rec.ch_types, rec.data):
        if typ not in ("eeg",) + INTRACRANIAL_TYPES or x.size == 0 or not np.all(np.isfinite(x)):
            continue
        with np.errstate(over="ignore", invalid="ignore"):  # absurd physical ranges overflow: not flat
            sd = float(np.std(x))
        if sd < FLAT_STD_V:
            bad[name] = f"flat: SD {sd * 1e6:.3g} µV < {FLAT_STD_V * 1e6:g} µV"
            continue
        for end, value in (("maximum", x.max()), ("minimum", x.min())):
            frac = float(np.count_nonzero(x == value)) / x.size
            if frac >= SATURATED_FRACTION:
                bad[name] = f"saturated: {100 * frac:.1f}% of samples at its {end} ({value * 1e6:.4g} µV)"
                break
    return bad


def bad_channels_quirk(bad: dict[str, str]) -> str:
    """One quirk line listing bad channels (for ``Recording.quirks``)."""
    return (f"{len(bad)} bad channel(s), excluded from calibration and reconstruction: "
            + "; ".join(f"{n} ({r})" for n, r in list(bad.items())[:8]) + ("; ..." if len(bad) > 8 else ""))


def check_enough_good_scalp(rec: "Recording", minimum: int = MIN_GOOD_SCALP) -> None:
    """Refuse a recording whose bad scalp channels leave fewer than ``minimum`` good ones.

    Parameters
    ----------
    rec : Recording
        With ``bads`` (flat, saturated, or ``status=bad`` in a BIDS channels.tsv).
    minimum : int
        Good scalp (``'eeg'``) channels needed.

    Raises
    ------
    InputError
        Naming the bad channels and their count; recordings with no bad
        scalp channel are not judged here.
    """
    scalp = [n for n, t in zip(rec.ch_names, rec.ch_types) if t == "eeg"]
    bad = [n for n in scalp if n in rec.bads]
    if bad and len(scalp) - len(bad) < minimum:
        why = "; ".join(f"{n}: {rec.bads[n]}" for n in bad[:4]) + ("; ..." if len(bad) > 4 else "")
        raise InputError(f"{len(bad)} of {len(scalp)} scalp channels are bad ({why}), "
                         f"{len(scalp) - len(bad)} remain, fewer than the "
                         f"{minimum} needed", rec.source_path)


def check_min_duration(rec: "Recording", seconds: float = MIN_DURATION_S) -> None:
    """Refuse a recording shorter than ``seconds`` (one analysis window).

    Raises
    ------
    InputError
        ``'recording is 1.5 s long, shorter than the 2 s needed'``.
    """
    if rec.duration < seconds:
        raise InputError(f"recording is {rec.duration:.3g} s long ({rec.n_times} samples at {rec.sfreq:g} Hz), "
                         f"shorter than the {seconds:g} s needed (one analysis window)", rec.source_path)


def check_min_sfreq(rec: "Recording", model_sfreq: float) -> None:
    """Refuse a recording sampled below half the model's rate.

    Recordings are resampled to the model's rate, but resampling up cannot
    restore the band above the recording's Nyquist frequency: below half the
    model's rate, more than half of the band the model reads is missing, and
    a surrogate computed from it would be silently wrong. (100 Hz for a 200-Hz
    model: older clinical systems still pass.)

    Parameters
    ----------
    rec : Recording
    model_sfreq : float
        The model's rate in Hz.

    Raises
    ------
    InputError
        ``'sampled at 20 Hz, below the 100 Hz this model needs ...'``.
    """
    if rec.sfreq < model_sfreq / 2:
        raise InputError(f"sampled at {rec.sfreq:g} Hz, below the {model_sfreq / 2:g} Hz this model needs (it works "
                         f"at {model_sfreq:g} Hz; upsampling cannot restore the band above {rec.sfreq / 2:g} Hz)",
                         rec.source_path)


def scalp_amplitude(rec: "Recording") -> float | None:
    """Median over scalp channels of the median absolute deviation about each channel's median (volts).

    DC offsets (BioSemi BDF, DC-coupled amplifiers) do not count; None
    without scalp (``'eeg'``) channels.
    """
    idx = [i for i, t in enumerate(rec.ch_types) if t == "eeg"]
    if not idx or rec.n_times == 0:
        return None
    x = rec.data[idx]
    x = x[np.all(np.isfinite(x), axis=1)]
    if not len(x):
        return None
    return float(np.median(np.median(np.abs(x - np.median(x, axis=1, keepdims=True)), axis=1)))


def check_units(rec: "Recording") -> None:
    """Refuse scalp EEG whose amplitudes cannot be volts-scaled EEG.

    Only scalp (``'eeg'``) channels are judged: intracranial files with
    arbitrary units (e.g. py-neuromodulation's test data) still read, with a
    quirk from the reader.

    Raises
    ------
    InputError
        When :func:`scalp_amplitude` exceeds :data:`MAX_SCALP_AMPLITUDE_V`
        (10 mV): the file's µV/V scaling is wrong.
    """
    amp = scalp_amplitude(rec)
    if amp is not None and amp > MAX_SCALP_AMPLITUDE_V:
        raise InputError(
            f"implausible units: median scalp EEG amplitude is {amp:.3g} V (> {MAX_SCALP_AMPLITUDE_V * 1e3:g} mV); "
            "the file's µV/V scaling is wrong (physical dimension or range)", rec.source_path)
