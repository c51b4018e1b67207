"""Validate inputs before anything is computed from them.

Each check raises :class:`~ieegrecon.errors.InputError` with a one-line
message naming the file and the problem, or returns human-readable quirks
for oddities that do not prevent use. :func:`~ieegrecon.io.read.read_recording`
runs :func:`check_edf_header`, :func:`check_duplicate_labels`,
:func:`check_finite`, :func:`find_bad_channels` (as quirks) and
:func:`check_units`; the pipeline runs :func:`check_min_duration`, :func:`check_min_sfreq`,
:func:`check_enough_good_scalp` and excludes the bad channels (``Recording.bads``: those
:func:`find_bad_channels` names and those marked ``status=bad`` in a BIDS channels.tsv).

The EDF/BDF header layout checked here is the one of the EDF specification
(Kemp et al. 1992, Electroencephalogr Clin Neurophysiol 82:391; EDF+: Kemp &
Olivan 2003, Clin Neurophysiol 114:1755) and of BioSemi's 24-bit BDF. The
signals themselves are always read by MNE-Python; this module only checks
the fixed-width header fields MNE would otherwise accept silently (MNE infers
the record count from the file size, so a truncated file reads "fine").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..channels import normalize_ch_name
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

_SIGNAL_FIELDS = (  # (name, width) of the per-signal header fields, in file order
    ("label", 16), ("transducer", 80), ("physical_dimension", 8), ("physical_min", 8),
    ("physical_max", 8), ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80),
    ("n_samples", 8), ("reserved", 32),
)
_DIGITAL_LIMITS = {"EDF": (-32768, 32767), "BDF": (-8388608, 8388607)}


def signal_field_spans(header: bytes) -> list[tuple[int, int]]:
    """(offset, width) in bytes of every per-signal field of an EDF/BDF header, in file order.

    Parameters
    ----------
    header : bytes
        The file's first ``256 * (ns + 1)`` bytes (at least 256: ``ns`` is read from bytes 252-256).
    """
    ns = int(header[252:256])
    spans, off = [], 256
    for _, width in _SIGNAL_FIELDS:
        spans += [(off + i * width, width) for i in range(ns)]
        off += width * ns
    return spans


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line for an error message: ``'ParserError: Expected 7 fields'``."""
    txt = str(exc).strip()
    first = txt.splitlines()[0][:limit] if txt else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _ascii(raw: bytes) -> str:
    return raw.decode("latin-1").strip()


def edf_kind(head: bytes) -> str:
    """'BDF' or 'EDF' from the header's version field (byte 0).

    BioSemi's BDF starts with ``b'\\xffBIOSEMI'``, EDF/EDF+ with ``b'0       '``:
    the file's content decides, whatever its extension says.
    """
    return "BDF" if head[:1] == b"\xff" else "EDF"


def control_characters(label: str) -> list[str]:
    """Control characters (code point < 32 or 127..159) in a label, as ``repr`` strings."""
    return [repr(c) for c in dict.fromkeys(label) if ord(c) < 32 or 127 <= ord(c) < 160]


def _int_field(raw: bytes, what: str, path: Path) -> int:
    txt = _ascii(raw)
    try:
        return int(txt)
    except ValueError:
        raise InputError(f"corrupted header: {what} is {txt!r}, not an integer", path) from None


def _float_field(raw: bytes, what: str, path: Path) -> float:
    txt = _ascii(raw)
    try:
        value = float(txt)
    except ValueError:
        raise InputError(f"corrupted header: {what} is {txt!r}, not a number", path) from None
    if not np.isfinite(value):
        raise InputError(f"corrupted header: {what} is {txt!r}, not a finite number", path)
    return value


def check_edf_header(path: str | Path) -> list[str]:
    """Check an EDF/EDF+/BDF header against the specification and the file size.

    Parameters
    ----------
    path : path-like
        An ``.edf`` or ``.bdf`` file (opened read-only).

    Returns
    -------
    quirks : list of str
        Tolerated oddities: record count ``-1`` (recording not closed),
        signals at different rates.

    Raises
    ------
    InputError
        Header shorter than 256 bytes or than announced (truncated); a
        non-numeric field; number of signals ≤ 0; header size not
        ``256 * (ns + 1)``; number of data records 0 or < -1; record
        duration ≤ 0 (sampling rate ≤ 0); samples per record ≤ 0; physical
        minimum == maximum; digital minimum ≥ maximum or outside the 16-bit
        (EDF) / 24-bit (BDF) range; duplicate labels (after 10-05
        normalization, case-insensitive); a label holding control characters
        (NUL...); fewer data bytes than the header announces (truncated
        file); more data bytes than announced (a samples-per-record or
        record-count field that does not match the data: every channel would
        be read misaligned). The EDF/BDF kind comes from the version field
        (:func:`edf_kind`), not from the extension.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise InputError(f"truncated: {len(head)} bytes, shorter than an EDF/BDF header (256 bytes)", path)
        kind = edf_kind(head)
        if kind == "EDF" and _ascii(head[:8]) != "0":
            raise InputError(f"not an EDF file: version field is {_ascii(head[:8])!r}, expected '0'", path)
        header_bytes = _int_field(head[184:192], "number of header bytes", path)
        n_records = _int_field(head[236:244], "number of data records", path)
        duration = _float_field(head[244:252], "data record duration", path)
        ns = _int_field(head[252:256], "number of signals", path)
        if ns <= 0:
            raise InputError(f"header out of spec: number of signals is {ns} (must be > 0)", path)
        if header_bytes != 256 * (ns + 1):
            raise InputError(
                f"corrupted header: number of header bytes is {header_bytes}, but {ns} signals need "
                f"256 * ({ns} + 1) = {256 * (ns + 1)}", path)
        if size < header_bytes:
            raise InputError(f"truncated: {size} bytes, shorter than its {header_bytes}-byte header", path)
        sig_head = f.read(256 * ns)
    fields: dict[str, list[bytes]] = {}
    off = 0
    for name, width in _SIGNAL_FIELDS:
        fields[name] = [sig_head[off + i * width: off + (i + 1) * width] for i in range(ns)]
        off += width * ns
    labels = [_ascii(b) for b in fields["label"]]
    for i, lab in enumerate(labels):
        ctrl = control_characters(lab)
        if ctrl:
            raise InputError(f"header out of spec: signal {i + 1} label {lab!r} holds non-printable character(s) "
                             f"{', '.join(ctrl)} (EDF labels are printable ASCII)", path)
    ann = [lab in ("EDF Annotations", "BDF Annotations") for lab in labels]
    quirks: list[str] = []
    if n_records == 0 or n_records < -1:
        raise InputError(f"header out of spec: number of data records is {n_records} (must be > 0)", path)
    if duration < 0 or (duration == 0 and not all(ann)):
        raise InputError(
            f"header out of spec: data record duration is {duration:g} s, so the sampling rate is not > 0", path)
    lo_lim, hi_lim = _DIGITAL_LIMITS[kind]
    n_samples = []
    for i, lab in enumerate(labels):
        what = f"signal {i + 1} ({lab!r})"
        n = _int_field(fields["n_samples"][i], f"{what} samples per record", path)
        if n <= 0:
            raise InputError(f"header out of spec: {what} has {n} samples per data record (must be > 0)", path)
        n_samples.append(n)
        pmin = _float_field(fields["physical_min"][i], f"{what} physical minimum", path)
        pmax = _float_field(fields["physical_max"][i], f"{what} physical maximum", path)
        dmin = _int_field(fields["digital_min"][i], f"{what} digital minimum", path)
        dmax = _int_field(fields["digital_max"][i], f"{what} digital maximum", path)
        if ann[i]:
            continue
        if pmin == pmax:
            raise InputError(f"header out of spec: {what} physical minimum == maximum ({pmin:g}): "
                             "no scaling to physical units is possible", path)
        if dmin >= dmax:
            raise InputError(f"header out of spec: {what} digital minimum {dmin} ≥ digital maximum {dmax}", path)
        if dmin < lo_lim or dmax > hi_lim:
            raise InputError(f"header out of spec: {what} digital range [{dmin}, {dmax}] exceeds the "
                             f"{kind} sample range [{lo_lim}, {hi_lim}]", path)
    keys = [normalize_ch_name(lab).upper() for lab, a in zip(labels, ann) if not a]
    dups = sorted({lab for lab, a in zip(labels, ann) if not a
                   and keys.count(normalize_ch_name(lab).upper()) > 1})
    if dups:
        raise InputError(f"duplicate channel labels {dups} (same name after normalization); labels must be unique",
                         path)
    record_bytes = sum(n_samples) * (3 if kind == "BDF" else 2)
    n_complete, extra = divmod(size - header_bytes, record_bytes)
    if n_records == -1:
        if n_complete == 0:
            raise InputError("truncated: number of data records is -1 (recording not closed) and the file "
                             "holds no complete data record", path)
        quirks.append(f"number of data records is -1 (recording not closed); {n_complete} complete record(s) "
                      "read from the file size")
    elif n_complete < n_records:
        raise InputError(
            f"truncated: the header announces {n_records} data records of {record_bytes} bytes, the file holds "
            f"{n_complete} complete record(s) ({size} of {header_bytes + n_records * record_bytes} bytes)", path)
    elif n_complete > n_records or extra:
        raise InputError(
            f"size mismatch: the header announces {n_records} data records of {record_bytes} bytes "
            f"({sum(n_samples)} samples per record), {header_bytes + n_records * record_bytes} bytes in all, but the "
            f"file holds {size} ({size - header_bytes - n_records * record_bytes:+d}): a samples-per-record or "
            "record-count field does not match the data, which would be read misaligned", path)
    rates = {round(n / duration, 6) for n, a in zip(n_samples, ann) if not a} if duration > 0 else set()
    if len(rates) > 1:
        quirks.append(f"signals at different sampling rates {sorted(rates)} Hz; MNE upsamples all to "
                      f"{max(rates):g} Hz")
    return quirks


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
