"""Write EDF+ files with edfio, atomically, and verify them with pyedflib.

Used for every EDF ieegrecon writes: simulated datasets and reconstructed
surrogates. Data come in volts; EDF stores µV (``physical_dimension='uV'``).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import OVERWRITE_HINT, InputError, OutputError
from ..recording import Annotation
from .atomic import atomic_path

#: EDF label field length (EDF spec, 16 ASCII characters).
MAX_LABEL = 16
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")
#: Largest data record we aim for, in bytes (EDF spec recommendation).
_MAX_RECORD_BYTES = 61440
#: Suffixes appended to a surrogate's labels, longest first (the first that fits 16 characters): EDF
#: viewers show only the label beside each trace (EDFbrowser), so the marking is visible there.
SURROGATE_LABEL_SUFFIXES = (" SURROGATE", " SUR")
#: Head-room added on each side of a channel's own extremes (fraction of its span) when the physical
#: range is taken from the signal, so that no sample sits at the digital limits (read as saturation).
RANGE_HEADROOM = 0.02


def surrogate_label(name: str) -> str:
    """``name`` with the surrogate marker of :data:`SURROGATE_LABEL_SUFFIXES` that fits 16 characters.

    A label too long for any suffix is returned unchanged (the recording field
    and the t=0 annotation still mark the file).
    """
    for suffix in SURROGATE_LABEL_SUFFIXES:
        if len(name.strip()) + len(suffix) <= MAX_LABEL:
            return name.strip() + suffix
    return name


def strip_surrogate_label(name: str) -> str:
    """Inverse of :func:`surrogate_label`: the contact name without the marker (other labels unchanged)."""
    raw = name.rstrip()
    for suffix in SURROGATE_LABEL_SUFFIXES:
        if raw.upper().endswith(suffix) and len(raw) > len(suffix):
            return raw[: -len(suffix)].rstrip()
    return name


def signal_range_uv(x_uv: np.ndarray) -> tuple[float, float]:
    """A physical range (µV) from a signal's own extremes, widened by :data:`RANGE_HEADROOM` of its span."""
    lo, hi = float(np.min(x_uv)), float(np.max(x_uv))
    pad = RANGE_HEADROOM * max(hi - lo, 1e-3)
    return lo - pad, hi + pad


def count_clipped(x: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    """Samples of ``x`` outside ``[lo, hi]`` and the index of the first one (0 when there is none)."""
    out = (x < lo) | (x > hi)
    return int(np.count_nonzero(out)), int(np.argmax(out))


def clipping_text(n_clipped: dict[str, int], first_s: float | None = None) -> str | None:
    """The annotation that says how much was clipped, or None when nothing was.

    Parameters
    ----------
    n_clipped : dict
        Channel -> samples clipped.
    first_s : float | None
        Time of the first clipped sample in seconds.
    """
    hit = {k: v for k, v in n_clipped.items() if v}
    if not hit:
        return None
    worst = max(hit, key=hit.get)
    when = f", first at {first_s:.2f} s" if first_s is not None else ""
    return (f"CLIPPED: {sum(hit.values())} samples in {len(hit)} channels at the physical range limits"
            f" (most: {worst.strip()} {hit[worst]}{when})")


@dataclass
class EdfWriteReport:
    """What :func:`write_edf` did.

    Attributes
    ----------
    path : Path
        The file written.
    n_clipped : dict
        Channel -> number of samples outside its physical range (clipped).
    physical_range_uv : dict
        Channel -> (min, max) in µV written to the header.
    padded_samples : int
        Samples appended (zeros) to complete the last data record; an
        annotation marks them.
    data_record_duration : float
        Seconds per EDF data record.
    """

    path: Path
    n_clipped: dict[str, int] = field(default_factory=dict)
    physical_range_uv: dict[str, tuple[float, float]] = field(default_factory=dict)
    padded_samples: int = 0
    data_record_duration: float = 1.0


def check_edf_labels(ch_names: Sequence[str]) -> None:
    """Check labels fit EDF: ≤ 16 printable ASCII characters, unique.

    Raises
    ------
    OutputError
        Naming the first offending label.
    """
    for name in ch_names:
        if not name or not _PRINTABLE.match(name):
            raise OutputError(f"channel label {name!r} is not printable ASCII, as EDF requires")
        if len(name) > MAX_LABEL:
            raise OutputError(f"channel label {name!r} exceeds the EDF label length: {len(name)} > {MAX_LABEL}")
    stripped = [n.strip() for n in ch_names]
    dups = sorted({n for n in stripped if stripped.count(n) > 1})
    if dups:
        raise OutputError(f"duplicate channel labels {dups}; EDF labels must be unique")


def _record_samples(n_times: int, sfreq: float, n_channels: int) -> tuple[int, int]:
    """Samples per data record and samples of padding needed.

    Prefers 1-s records (the EDF norm) when ``sfreq`` is an integer; otherwise
    the largest divisor of ``n_times`` that keeps records under 61440 bytes.
    """
    if float(sfreq).is_integer():
        k = int(sfreq)
        return k, (-n_times) % k
    limit = max(1, _MAX_RECORD_BYTES // (2 * max(1, n_channels)))
    for k in range(min(limit, n_times), 0, -1):
        if n_times % k == 0 and (k / sfreq) >= 0.1:
            return k, 0
    raise OutputError(f"cannot fit {n_times} samples at {sfreq} Hz into EDF data records")


def write_edf(
    path: str | Path,
    data: np.ndarray,
    sfreq: float,
    ch_names: Sequence[str],
    *,
    meas_date: _dt.datetime | None = None,
    annotations: Iterable[Annotation] = (),
    physical_range_uv: Sequence[tuple[float, float]] | None = None,
    patient_code: str = "X",
    recording_additional: Sequence[str] = (),
    transducer: str = "",
    prefiltering: str = "",
    overwrite: bool = False,
    forbidden: Iterable[str | Path] = (),
    verify: Callable[[Path], None] | None = None,
) -> EdfWriteReport:
    """Write signals to an EDF+C file, atomically.

    The file is written to a temporary name in the target folder, fsynced,
    then renamed into place, so an interrupted run leaves no partial output.

    Parameters
    ----------
    path : path-like
        Output ``.edf`` path.
    data : ndarray, shape (n_channels, n_times) | row source
        Signals in volts; or an object with ``shape`` and ``row_source = True``
        whose ``data[i]`` reads channel ``i`` (e.g.
        :class:`~ieegrecon.io.edf_stream.ChannelSpill`): then only one
        channel's samples are held as floats at a time (the file's int16
        samples are built in memory by edfio).
    sfreq : float
        Sampling frequency in Hz (all channels).
    ch_names : sequence of str
        Labels (≤ 16 printable ASCII characters, unique).
    meas_date : datetime | None
        Start date/time; ``None`` writes EDF's anonymous date.
    annotations : iterable of Annotation
        Written as EDF+ annotations (onset/duration in s).
    physical_range_uv : sequence of (min, max) | None
        Per-channel physical range in µV; samples outside are clipped,
        counted and announced by a ``CLIPPED: ...`` annotation at t=0
        (:func:`clipping_text`). ``None`` (what surrogates use): each
        channel's own extremes widened by :data:`RANGE_HEADROOM`, rounded
        outwards, so nothing is clipped and no sample sits at a digital limit.
    patient_code : str
        EDF+ patient code (``'X'`` = anonymous).
    recording_additional : sequence of str
        Extra words in the EDF+ recording field (e.g. ``'SURROGATE'``).
    transducer, prefiltering : str
        EDF signal header fields.
    overwrite : bool
        Replace an existing file.
    forbidden : iterable of path-like
        Paths that must not be written (the inputs).
    verify : callable | None
        ``verify(tmp_path)`` on the finished file before it is published (e.g.
        :func:`~ieegrecon.io.edf_verify.verify_edf`); an exception leaves ``path`` as it was.

    Returns
    -------
    EdfWriteReport

    Raises
    ------
    OutputError
        Output exists (without ``overwrite``), equals an input, is not
        writable, or labels do not fit EDF.
    """
    import edfio

    path = Path(path)
    data = _check_write_request(path, data, ch_names, overwrite=overwrite, forbidden=forbidden)
    n_times = data.shape[1]
    rec_len, pad = _record_samples(n_times, sfreq, len(ch_names))
    report = EdfWriteReport(path=path, padded_samples=pad, data_record_duration=rec_len / sfreq)
    signals, first_clip = _edf_signals(data, sfreq, ch_names, physical_range_uv, pad, report,
                                       transducer=transducer, prefiltering=prefiltering)
    ann = [edfio.EdfAnnotation(a.onset, a.duration if a.duration > 0 else None, _ascii(a.description))
           for a in annotations]
    clipped = clipping_text(report.n_clipped, None if first_clip is None else first_clip / sfreq)
    if clipped:
        ann.append(edfio.EdfAnnotation(0.0, None, clipped))
    if pad:
        ann.append(edfio.EdfAnnotation(n_times / sfreq, pad / sfreq,
                                       f"PADDING: {pad} zero samples complete the last EDF record"))
    startdate = meas_date.date() if meas_date else None
    starttime = meas_date.time().replace(tzinfo=None, microsecond=0) if meas_date else None
    edf = edfio.Edf(
        signals,
        patient=edfio.Patient(code=_edf_word(patient_code)),
        recording=edfio.Recording(startdate=startdate, additional=[_edf_word(w) for w in recording_additional]),
        starttime=starttime,
        data_record_duration=rec_len / sfreq,
        annotations=ann,
    )
    with atomic_path(path) as tmp:
        edf.write(tmp)
        if verify is not None:  # on the finished temporary: a file that fails is never published
            verify(tmp)
    return report


def _check_write_request(path: Path, data: np.ndarray, ch_names: Sequence[str], *, overwrite: bool,
                         forbidden: Iterable[str | Path]) -> np.ndarray:
    """``data`` as floats, shape (n_channels, n_times), once the output and the labels are known to be writable.

    Raises
    ------
    OutputError
        The output is an input, exists without ``overwrite``, its folder is
        missing; no samples; labels that do not fit EDF.
    ValueError
        Rows and labels differ in number; NaN or Inf samples.
    """
    for f in forbidden:
        if Path(f).resolve() == path.resolve():
            raise OutputError("output path is one of the inputs; refusing to overwrite an input", path)
    if path.exists() and not overwrite:
        raise OutputError(f"output exists; {OVERWRITE_HINT}", path)
    if not path.parent.is_dir():
        raise OutputError("output folder does not exist", path.parent)
    if not getattr(data, "row_source", False):
        data = np.asarray(data, dtype=float)
    n_ch, n_times = data.shape
    if n_ch != len(ch_names):
        raise ValueError(f"{n_ch} rows of data but {len(ch_names)} labels")
    if n_times == 0:
        raise OutputError("nothing to write: zero samples", path)
    check_edf_labels(ch_names)
    if not getattr(data, "row_source", False):
        _check_finite(data)
    return data


def _check_finite(data: np.ndarray) -> None:
    if not np.all(np.isfinite(data)):
        raise ValueError("data contain NaN or Inf; refusing to write them to EDF")


def _edf_signals(data, sfreq: float, ch_names: Sequence[str],
                 physical_range_uv: Sequence[tuple[float, float]] | None, pad: int, report: EdfWriteReport, *,
                 transducer: str, prefiltering: str) -> tuple[list, int | None]:
    """One ``edfio.EdfSignal`` per channel (µV, clipped to its physical range, padded to whole records).

    ``data`` (V) is read one channel at a time. Fills ``report.n_clipped``
    and ``report.physical_range_uv``; returns the signals and the first
    clipped sample (None: none clipped).
    """
    import edfio

    signals = []
    first_clip: int | None = None
    rows = getattr(data, "row_source", False)
    for i, name in enumerate(ch_names):
        x = np.asarray(data[i], dtype=float)
        if rows:
            _check_finite(x)
        x = x * 1e6
        if physical_range_uv is None:
            lo, hi = signal_range_uv(x)
        else:
            lo, hi = (float(v) for v in physical_range_uv[i])
        lo, hi = _edf_range(lo, hi)
        n_clip, k = count_clipped(x, lo, hi)
        if n_clip:
            first_clip = k if first_clip is None else min(first_clip, k)
        x = np.clip(x, lo, hi)
        if pad:
            x = np.concatenate([x, np.zeros(pad)]) if lo <= 0 <= hi else np.concatenate([x, np.full(pad, lo)])
        report.n_clipped[name] = n_clip
        report.physical_range_uv[name] = (lo, hi)
        signals.append(
            edfio.EdfSignal(
                x, sfreq, label=name, physical_dimension="uV", physical_range=(lo, hi),
                transducer_type=transducer, prefiltering=prefiltering,
            )
        )
    return signals, first_clip


def _edf_range(lo: float, hi: float) -> tuple[float, float]:
    """A physical range that fits EDF's 8-character fields and is never empty."""
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise ValueError("physical range must be finite")
    if hi - lo < 1e-3:
        lo, hi = lo - 1.0, hi + 1.0
    # round outwards to 8-character decimal representations
    for digits in range(4, -1, -1):
        lo_r = np.floor(lo * 10**digits) / 10**digits
        hi_r = np.ceil(hi * 10**digits) / 10**digits
        if len(_fmt(lo_r)) <= 8 and len(_fmt(hi_r)) <= 8:
            return float(lo_r), float(hi_r)
    raise OutputError(f"amplitude range [{lo:.3g}, {hi:.3g}] µV does not fit EDF's 8-character fields")


def _fmt(v: float) -> str:
    s = f"{v:f}".rstrip("0").rstrip(".")
    return s if s not in ("-0", "") else "0"


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def _edf_word(text: str) -> str:
    """EDF+ header subfields: ASCII, no spaces."""
    return re.sub(r"\s+", "_", _ascii(text)) or "X"


def recording_field(path: str | Path) -> str:
    """The EDF/BDF header's local recording field (bytes 88-168), or ``""`` when there is none to read.

    ieegrecon marks what it writes there (``SURROGATE``, ``SIMULATED``); never raises.
    """
    try:
        return read_edf_header_text(path)[88:168]
    except (InputError, OSError):
        return ""


def read_edf_header_text(path: str | Path) -> str:
    """The 256-byte fixed EDF header as text (for checks and ``info``).

    Raises
    ------
    InputError
        If the file is shorter than an EDF header.
    """
    with open(path, "rb") as f:
        head = f.read(256)
    if len(head) < 256:
        raise InputError("file is shorter than an EDF header (256 bytes)", path)
    return head.decode("ascii", "replace")
