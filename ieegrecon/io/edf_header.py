"""The EDF/EDF+/BDF header, checked against the specification before MNE reads the file.

The layout is the one of the EDF specification (Kemp et al. 1992,
Electroencephalogr Clin Neurophysiol 82:391; EDF+: Kemp & Olivan 2003, Clin
Neurophysiol 114:1755) and of BioSemi's 24-bit BDF. The signals themselves
are always read by MNE-Python; this module only checks the fixed-width header
fields MNE would otherwise accept silently (MNE infers the record count from
the file size, so a truncated file reads "fine"). :func:`check_edf_header`
runs the stages in file order: the 256-byte fixed header, the per-signal
fields, the labels, the record size against the file size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..channels import normalize_ch_name
from ..errors import InputError
from .edfplus import ANNOTATION_LABELS

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


@dataclass
class _Fixed:
    """The fixed (first 256 bytes) header fields :func:`check_edf_header` needs."""

    kind: str
    header_bytes: int
    n_records: int
    duration: float
    ns: int


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
        fixed = _check_fixed(f.read(256), size, path)
        sig_head = f.read(256 * fixed.ns)
    fields: dict[str, list[bytes]] = {}
    off = 0
    for name, width in _SIGNAL_FIELDS:
        fields[name] = [sig_head[off + i * width: off + (i + 1) * width] for i in range(fixed.ns)]
        off += width * fixed.ns
    labels = [_ascii(b) for b in fields["label"]]
    for i, lab in enumerate(labels):
        ctrl = control_characters(lab)
        if ctrl:
            raise InputError(f"header out of spec: signal {i + 1} label {lab!r} holds non-printable character(s) "
                             f"{', '.join(ctrl)} (EDF labels are printable ASCII)", path)
    ann = [lab in ANNOTATION_LABELS for lab in labels]
    if fixed.n_records == 0 or fixed.n_records < -1:
        raise InputError(f"header out of spec: number of data records is {fixed.n_records} (must be > 0)", path)
    if fixed.duration < 0 or (fixed.duration == 0 and not all(ann)):
        raise InputError(
            f"header out of spec: data record duration is {fixed.duration:g} s, so the sampling rate is not > 0",
            path)
    n_samples = _check_signals(fields, labels, ann, fixed.kind, path)
    _check_unique_labels(labels, ann, path)
    quirks = _check_size(fixed, n_samples, size, path)
    rates = {round(n / fixed.duration, 6) for n, a in zip(n_samples, ann) if not a} if fixed.duration > 0 else set()
    if len(rates) > 1:
        quirks.append(f"signals at different sampling rates {sorted(rates)} Hz; MNE upsamples all to "
                      f"{max(rates):g} Hz")
    return quirks


def _check_fixed(head: bytes, size: int, path: Path) -> _Fixed:
    """The fixed header's version, header size, record count and duration, number of signals."""
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
    return _Fixed(kind, header_bytes, n_records, duration, ns)


def _check_signals(fields: dict[str, list[bytes]], labels: list[str], ann: list[bool], kind: str,
                   path: Path) -> list[int]:
    """Samples per record of every signal; the physical and digital ranges of the non-annotation ones."""
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
    return n_samples


def _check_unique_labels(labels: list[str], ann: list[bool], path: Path) -> None:
    """Refuse signal labels that repeat after 10-05 normalization (case-insensitive)."""
    keys = [normalize_ch_name(lab).upper() for lab, a in zip(labels, ann) if not a]
    dups = sorted({lab for lab, a in zip(labels, ann) if not a
                   and keys.count(normalize_ch_name(lab).upper()) > 1})
    if dups:
        raise InputError(f"duplicate channel labels {dups} (same name after normalization); labels must be unique",
                         path)


def _check_size(fixed: _Fixed, n_samples: list[int], size: int, path: Path) -> list[str]:
    """Compare the data records the header announces with the bytes the file holds; quirks."""
    header_bytes, n_records = fixed.header_bytes, fixed.n_records
    record_bytes = sum(n_samples) * (3 if fixed.kind == "BDF" else 2)
    n_complete, extra = divmod(size - header_bytes, record_bytes)
    if n_records == -1:
        if n_complete == 0:
            raise InputError("truncated: number of data records is -1 (recording not closed) and the file "
                             "holds no complete data record", path)
        return [f"number of data records is -1 (recording not closed); {n_complete} complete record(s) "
                "read from the file size"]
    if n_complete < n_records:
        raise InputError(
            f"truncated: the header announces {n_records} data records of {record_bytes} bytes, the file holds "
            f"{n_complete} complete record(s) ({size} of {header_bytes + n_records * record_bytes} bytes)", path)
    if n_complete > n_records or extra:
        raise InputError(
            f"size mismatch: the header announces {n_records} data records of {record_bytes} bytes "
            f"({sum(n_samples)} samples per record), {header_bytes + n_records * record_bytes} bytes in all, but the "
            f"file holds {size} ({size - header_bytes - n_records * record_bytes:+d}): a samples-per-record or "
            "record-count field does not match the data, which would be read misaligned", path)
    return []


def start_time_fix(head: bytes) -> tuple[bytes, str] | None:
    """Repair an out-of-range start time (header bytes 176-184), e.g. the seconds=60 of ds004752.

    OpenNeuro ds004752's EDFs carry start times whose seconds field reads
    ``60``; MNE refuses them ("second must be in 0..59"). The fields are read
    as written and carried over (60 s -> next minute, 60 min -> next hour,
    24 h -> next day), the way the recording system meant them.

    Parameters
    ----------
    head : bytes
        The 256-byte fixed header.

    Returns
    -------
    (bytes, str) | None
        The corrected 256-byte header (``dd.mm.yyhh.mm.ss`` at 168-184, and an
        EDF+ ``Startdate`` when the day changes) and a one-line quirk; None when
        the date/time is valid or not parseable (left to the reader).
    """
    import datetime as dt

    try:
        dd, mo, yy = (int(v) for v in head[168:176].decode("ascii").split("."))
        hh, mi, ss = (int(v) for v in head[176:184].decode("ascii").split("."))
    except (ValueError, UnicodeDecodeError):
        return None
    if 0 <= hh <= 23 and 0 <= mi <= 59 and 0 <= ss <= 59:
        return None
    if not (0 <= hh <= 24 and 0 <= mi <= 60 and 0 <= ss <= 60):
        return None
    year = 1900 + yy if yy >= 85 else 2000 + yy  # EDF spec: 85-99 -> 19xx
    try:
        t = dt.datetime(year, mo, dd) + dt.timedelta(hours=hh, minutes=mi, seconds=ss)
    except ValueError:
        return None
    fixed = bytearray(head[:256])
    fixed[168:184] = t.strftime("%d.%m.%y%H.%M.%S").encode("ascii")
    old_day = f"Startdate {dt.date(year, mo, dd):%d-%b-%Y}".upper().encode("ascii")
    at = bytes(fixed[88:168]).upper().find(old_day)
    if at >= 0 and t.date() != dt.date(year, mo, dd):  # EDF+: readers take the date from the recording field
        fixed[88 + at:88 + at + len(old_day)] = f"Startdate {t:%d-%b-%Y}".upper().encode("ascii")
    which = ", ".join(n for n, v, hi in (("hours", hh, 23), ("minutes", mi, 59), ("seconds", ss, 59)) if v > hi)
    quirk = (f"EDF header start time {head[176:184].decode('ascii')} has {which} out of range (as in OpenNeuro "
             f"ds004752; MNE refuses it): read as {t:%d.%m.%Y %H:%M:%S} through a patched copy, the file is unchanged")
    return bytes(fixed), quirk


def patched_start_time(path: Path, preload: bool, kind: str | None):
    """An EDF/BDF whose header start time is out of range, as a patched copy; None when it is valid.

    Returns
    -------
    (target, tmp) | None
        ``target``: an in-memory copy (``preload``) or a copy in a private
        temporary folder ``tmp`` (lazy reads), its header corrected by
        :func:`start_time_fix`. The input is never written.
    """
    import io
    import shutil
    import tempfile

    if kind is None and path.suffix.lower() not in (".edf", ".bdf"):
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    fix = start_time_fix(head) if len(head) == 256 else None
    if fix is None:
        return None
    data = bytearray(path.read_bytes()) if preload else None
    if preload:
        data[:256] = fix[0]
        return io.BytesIO(bytes(data)), None
    tmp = tempfile.TemporaryDirectory(prefix="ieegrecon-")
    target = Path(tmp.name) / f"{path.stem}.{(kind or path.suffix[1:]).lower()}"
    shutil.copyfile(path, target)
    with open(target, "r+b") as f:
        f.write(fix[0])
    return target, tmp
