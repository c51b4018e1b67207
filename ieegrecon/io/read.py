"""Read any signal file MNE can read into a :class:`~ieegrecon.recording.Recording`.

Everything goes through :func:`mne.io.read_raw` (EDF, EDF+, EDF+D, BDF,
BrainVision, FIF, EEGLAB); nothing is parsed by hand except the 256-byte EDF
header's *reserved* field, read to tell EDF+C from EDF+D. When the file sits
in a BIDS folder next to a ``*_channels.tsv``, channel types come from that
table. Labels are normalized to 10-05 names (:mod:`ieegrecon.channels`), and
every rename and oddity is reported in ``Recording.renamed`` / ``quirks``.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import tempfile
import warnings
import weakref
from pathlib import Path

import numpy as np

from ..channels import BIDS_TYPES, STANDARD_1020_19, guess_ch_type, non_contact_type, normalize_ch_names
from ..errors import InputError
from ..recording import CH_TYPES, INTRACRANIAL_TYPES, Annotation, LazyData, Recording, sha256_file
from .edf import strip_surrogate_label
from .sidecars import bids_channels_tsv, channels_tsv_quirks, clinical_notes, epoch_boundaries, \
    read_channels_tsv, retyped_quirks
from .edf_header import check_edf_header, control_characters, edf_kind, patched_start_time, start_time_fix
from .validate import bad_channels_quirk, check_duplicate_labels, check_finite, check_units, find_bad_channels, \
    one_line

#: File extensions :func:`read_recording` accepts (lower case).
SUPPORTED_EXTENSIONS = (".edf", ".bdf", ".vhdr", ".fif", ".set", ".gdf")
#: Seconds checked for NaN/units/bad channels when a file is read lazily.
LAZY_CHECK_S = 600.0
_TIMEKEEPING = re.compile(r"^[+-]\d+(\.\d*)?$")


def open_raw(path: Path, preload: bool = True, kind: str | None = None):
    """MNE Raw of ``path``; ``kind`` ('EDF'/'BDF') forces the EDF or BDF reader whatever the extension.

    MNE picks its reader (and so the sample width, 16 or 24 bit) by extension and
    refuses another extension. A file whose content disagrees with its name is
    read through a symbolic link named with the right extension, in a private
    temporary folder that lives as long as the Raw (the input is never copied
    or written).
    """
    import mne

    target, tmp = path, None
    patched = patched_start_time(path, preload, kind)
    if patched is not None:  # an out-of-range start time (ds004752's seconds=60): read a patched copy
        target, tmp = patched
        kind = kind or ("BDF" if path.suffix.lower() == ".bdf" else "EDF")
    elif kind is not None and path.suffix.lower() != "." + kind.lower():
        tmp = tempfile.TemporaryDirectory(prefix="ieegrecon-")
        target = Path(tmp.name) / f"{path.stem}.{kind.lower()}"
        try:
            os.symlink(path.resolve(), target)
        except OSError as exc:
            tmp.cleanup()
            raise InputError(f"is {kind} but named {path.suffix!r} and cannot be linked under the right extension "
                             f"({exc.strerror or type(exc).__name__}); rename it .{kind.lower()}", path) from None
    reader = mne.io.read_raw if target is path else {"EDF": mne.io.read_raw_edf, "BDF": mne.io.read_raw_bdf}[kind]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MNE's header nuisances are reported as quirks instead
            raw = reader(target, preload=preload, verbose="error")
    except Exception as exc:  # noqa: BLE001 - wrap every reader failure into one line
        if tmp is not None:
            tmp.cleanup()
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read as EEG ({type(exc).__name__}: {msg})", path) from None
    if tmp is not None:
        if preload:
            tmp.cleanup()
        else:  # lazy reads go through the link: remove it when the Raw goes
            weakref.finalize(raw, tmp.cleanup)
    if raw.n_times == 0 or len(raw.ch_names) == 0:
        raise InputError("file holds no samples or no channels", path)
    bad = {lab: control_characters(lab) for lab in raw.ch_names if control_characters(lab)}
    if bad:
        lab = next(iter(bad))
        raise InputError(f"channel label {lab!r} holds non-printable character(s) {', '.join(bad[lab])}", path)
    return raw


def read_recording(
    path: str | Path,
    *,
    ieeg_channels: str | None = None,
    ch_types: dict[str, str] | None = None,
    preload: bool = True,
) -> Recording:
    """Read a signal file into a :class:`Recording` (volts), typing every channel.

    Parameters
    ----------
    path : path-like
        EDF/EDF+/EDF+D, BDF, BrainVision ``.vhdr``, FIF or EEGLAB ``.set``.
    ieeg_channels : str | None
        Regular expression; labels it matches (``re.search`` on the original
        label) are intracranial (``'seeg'``). Use it to split a single file
        holding both scalp and intracranial channels.
    ch_types : dict | None
        Original or normalized label -> MNE type, overriding everything else.
    preload : bool
        Load all samples (default). With False, ``data`` is a
        :class:`~ieegrecon.recording.LazyData` view read chunk by chunk, and
        the sample checks (NaN/Inf, units, flat/saturated channels) look at
        the first :data:`LAZY_CHECK_S` seconds only (said in ``quirks``).

    Returns
    -------
    Recording
        ``data`` in volts, shape (n_channels, n_times); ``ch_names`` normalized
        (originals in ``renamed``); ``ch_types`` by
        :data:`ieegrecon.channels.TYPING_RULE`; positions from the file's
        montage when it has one (``coord_frame`` 'head' or 'mri'); annotations;
        ``source_sha256``; ``quirks``.

    Raises
    ------
    InputError
        Missing, unreadable, truncated or empty file; EDF/BDF header out of
        spec (:func:`~ieegrecon.io.edf_header.check_edf_header`); duplicate
        labels after normalization; NaN/Inf samples in EEG or intracranial
        channels; scalp amplitudes that cannot be volts
        (:func:`~ieegrecon.io.validate.check_units`); bad ``ieeg_channels``
        regex; unknown type in ``ch_types``; a label holding control
        characters (NUL...); a BIDS channels.tsv repeating a name. Flat or
        saturated channels are not errors: they are listed in ``bads`` and
        ``quirks`` (:func:`~ieegrecon.io.validate.find_bad_channels`), as are
        the channels marked ``status=bad`` in the BIDS channels.tsv beside
        the file.

    Notes
    -----
    EDF or BDF is decided by the header's version field, not the extension
    (an EDF named ``.bdf`` is read as EDF, with a quirk).
    Reading is done by MNE-Python (Gramfort et al. 2013, ``mne.io.read_raw``).
    """
    path = Path(path)
    pattern = _check_request(path, ieeg_channels, ch_types)
    quirks: list[str] = []
    head = _edf_head(path, quirks)
    subtype = head[192:236].decode("ascii", "replace").strip() or None  # 'EDF+C', 'EDF+D', 'BDF+C'...
    raw = open_raw(path, preload, edf_kind(head) if head else None)
    orig = _file_labels(raw, head, quirks)
    bids_rows, tsv = _bids_channel_rows(path, orig, quirks)
    new_names, types, renamed = _names_and_types(orig, raw.get_channel_types(), bids_rows, ch_types, pattern,
                                                 path, quirks)
    data = _checked_samples(raw, new_names, types, path, preload, quirks)
    annotations, gaps = _annotations_and_gaps(path, raw, subtype, quirks)
    _amplitude_quirk(data, types, quirks)
    positions, frame = _positions(raw, types)
    meas_date = raw.info["meas_date"]
    if isinstance(meas_date, tuple):  # very old MNE
        meas_date = _dt.datetime.fromtimestamp(meas_date[0], _dt.timezone.utc)
    try:
        rec = Recording(
            data=data, sfreq=float(raw.info["sfreq"]), ch_names=new_names, ch_types=types,
            positions=positions, coord_frame=frame, annotations=annotations, meas_date=meas_date,
            source_path=str(path), source_sha256=sha256_file(path), renamed=renamed, quirks=quirks,
            gaps=gaps,
        )
    except ValueError as exc:  # anything the header checks let through
        raise InputError(f"invalid recording ({one_line(exc)})", path) from None
    check_units(rec)
    rec.boundaries, trial_quirk = epoch_boundaries(path, rec.sfreq, rec.n_times)
    if trial_quirk:
        rec.quirks.append(trial_quirk)
    _mark_bads(rec, orig, bids_rows, tsv)
    if not preload:
        rec.data = LazyData(raw)
    return rec


# --------------------------------------------------------------------------- the stages, in reading order
def _check_request(path: Path, ieeg_channels: str | None, ch_types: dict[str, str] | None) -> re.Pattern | None:
    """Refuse a missing file, an unknown extension, a bad regex or type; the compiled ``ieeg_channels``.

    Raises
    ------
    InputError
    """
    if not path.is_file():
        raise InputError("no such file", path)
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise InputError(
            f"unsupported extension {path.suffix!r}; expected one of {', '.join(SUPPORTED_EXTENSIONS)}", path
        )
    try:
        pattern = re.compile(ieeg_channels) if ieeg_channels else None
    except re.error as exc:
        raise InputError(f"Invalid value for the 'ieeg_channels' parameter: not a regular expression "
                         f"({exc}), but got {ieeg_channels!r} instead.", path) from None
    for k, v in (ch_types or {}).items():
        if v not in CH_TYPES:
            raise InputError(f"channel {k!r}: unknown type {v!r}; allowed: {', '.join(CH_TYPES)}", path)
    return pattern


def _edf_head(path: Path, quirks: list[str]) -> bytes:
    """The 256-byte fixed header of an EDF/BDF, checked (:func:`check_edf_header`); ``b""`` for other formats.

    Appends the header's quirks, and one when the version field (EDF vs BDF)
    disagrees with the extension.
    """
    if path.suffix.lower() not in (".edf", ".bdf"):
        return b""
    try:
        quirks += check_edf_header(path)  # MNE reads truncated/out-of-spec headers silently
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError as exc:
        raise InputError(f"cannot open ({exc.strerror or type(exc).__name__})", path) from None
    fix = start_time_fix(head) if len(head) == 256 else None
    if fix is not None:
        quirks.append(fix[1])
    kind = edf_kind(head) if head else None  # the version field decides EDF vs BDF, not the extension
    if kind is not None and path.suffix.lower() != "." + kind.lower():
        quirks.append(f"the header's version field says {kind} but the file is named {path.suffix!r}: "
                      f"read as {kind} ({'24' if kind == 'BDF' else '16'}-bit samples)")
    return head


def _file_labels(raw, head: bytes, quirks: list[str]) -> list[str]:
    """The file's channel labels, with ieegrecon's ``' SURROGATE'`` marker stripped in its own surrogates.

    A surrogate's labels carry ``' SURROGATE'`` (shown beside each trace in
    EDF viewers): they are matched on the contact. Only in ieegrecon's own
    surrogates (SURROGATE in the EDF+ recording field); other files keep
    their labels.
    """
    labels = list(raw.ch_names)
    orig = [strip_surrogate_label(n) for n in labels] if b"SURROGATE" in head[88:168] else labels
    if orig != labels:
        quirks.append(f"{sum(a != b for a, b in zip(orig, labels))} label(s) carry the surrogate marker "
                      "(' SURROGATE'), stripped to the contact name")
    return orig


def _bids_channel_rows(path: Path, orig: list[str],
                       quirks: list[str]) -> tuple[dict[str, dict[str, str]], Path | None]:
    """Rows of the BIDS channels.tsv beside ``path`` (empty without one) and its path."""
    tsv = bids_channels_tsv(path)
    if tsv is None:
        return {}, None
    rows = read_channels_tsv(tsv)
    quirks += channels_tsv_quirks(rows, tsv)
    missing = [n for n in orig if n not in rows]
    if missing:
        quirks.append(f"{tsv.name}: {len(missing)} channel(s) of the signal file are not listed: {missing[:5]}")
    return rows, tsv


def _names_and_types(orig: list[str], file_types: list[str], bids_rows: dict[str, dict[str, str]],
                     ch_types: dict[str, str] | None, pattern: re.Pattern | None, path: Path,
                     quirks: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    """Channel types by :data:`~ieegrecon.channels.TYPING_RULE` and normalized names (10-05 for scalp).

    Returns
    -------
    ch_names : list of str
        Scalp labels normalized to 10-05 names; intracranial contacts keep their own label.
    ch_types : list of str
    renamed : dict
        Original -> new label, for each label that changed.

    Raises
    ------
    InputError
        Duplicate labels after normalization.
    """
    new_names, renamed = normalize_ch_names(orig)
    types: list[str] = []
    for o, n, ft in zip(orig, new_names, file_types):
        explicit = (ch_types or {}).get(o, (ch_types or {}).get(n))
        if explicit:
            types.append(explicit)
        elif o in bids_rows and bids_rows[o]["type"].upper() in BIDS_TYPES:  # scalp/EKG typed SEEG (HUP): by name
            types.append(non_contact_type(o, BIDS_TYPES[bids_rows[o]["type"].upper()]))
        else:
            types.append(guess_ch_type(o, file_type=ft if ft in CH_TYPES else "misc", ieeg_pattern=pattern))
    quirks += retyped_quirks(orig, types, bids_rows)
    for i, t in enumerate(types):  # intracranial contacts keep their own label (never renamed to a scalp site)
        if t in INTRACRANIAL_TYPES and new_names[i] != orig[i]:
            renamed.pop(orig[i], None)
            new_names[i] = orig[i].strip()
    if renamed:
        old = {o: n for o, n in renamed.items() if o.strip().upper() in ("T3", "T4", "T5", "T6")
               or re.search(r"\b(T3|T4|T5|T6)\b", o, re.IGNORECASE)}
        quirks.append(f"{len(renamed)} label(s) normalized to 10-05 names, e.g. "
                      + ", ".join(f"{o!r}->{n!r}" for o, n in list(renamed.items())[:4]))
        if old:
            quirks.append("old 10-20 names mapped to 10-10: "
                          + ", ".join(f"{o.strip()}->{n}" for o, n in old.items()))
    check_duplicate_labels(new_names, path, orig)
    eeg_names = {n for n, t in zip(new_names, types) if t == "eeg"}
    if eeg_names:
        miss = [c for c in STANDARD_1020_19 if c not in eeg_names]
        if miss:
            quirks.append(f"{len(miss)} of the 19 standard 10-20 channels missing: {' '.join(miss)}")
    return new_names, types, renamed


def _checked_samples(raw, names: list[str], types: list[str], path: Path, preload: bool,
                     quirks: list[str]) -> np.ndarray:
    """Samples in volts, shape (n_channels, n_times), checked for NaN/Inf (:func:`check_finite`).

    Lazily (``preload=False``): the first :data:`LAZY_CHECK_S` seconds only, said in a quirk.
    """
    if preload:
        data = raw.get_data()  # volts
    else:
        data = raw.get_data(stop=min(raw.n_times, int(LAZY_CHECK_S * raw.info["sfreq"])))
        if data.shape[1] < raw.n_times:
            quirks.append(f"read lazily: sample checks (NaN, units, flat/saturated) cover the first "
                          f"{LAZY_CHECK_S:g} s of {raw.n_times / raw.info['sfreq']:g} s")
    quirks += check_finite(data, names, types, path)
    return data


def _amplitude_quirk(data: np.ndarray, types: list[str], quirks: list[str]) -> None:
    """Say when the median channel SD of EEG/intracranial channels exceeds 10 mV (wrong unit scaling)."""
    phys = [i for i, t in enumerate(types) if t in ("eeg",) + INTRACRANIAL_TYPES
            and np.all(np.isfinite(data[i]))]
    if not phys:
        return
    with np.errstate(over="ignore", invalid="ignore"):  # absurd physical ranges: inf, judged below
        sd = float(np.median(np.std(data[phys], axis=1)))
    if sd > 0.01:
        quirks.append(f"median channel standard deviation is {sd:.3g} V (> 10 mV): implausible for EEG in "
                      "volts; the file's unit scaling is probably wrong, treat amplitudes as relative")


def _mark_bads(rec: Recording, orig: list[str], bids_rows: dict[str, dict[str, str]], tsv: Path | None) -> None:
    """``rec.bads``: channels marked ``status=bad`` in the BIDS channels.tsv, then flat/saturated ones."""
    status_bad = {n: _status_reason(bids_rows[o], tsv) for o, n in zip(orig, rec.ch_names)
                  if o in bids_rows and str(bids_rows[o].get("status", "")).strip().lower() == "bad"}
    retyped = [n for o, n, t in zip(orig, rec.ch_names, rec.ch_types) if n in status_bad and t == "eeg"
               and BIDS_TYPES.get(bids_rows[o]["type"].upper()) in INTRACRANIAL_TYPES]
    if retyped:  # HUP marks its scalp electrodes bad for iEEG review: judged on their samples instead
        for n in retyped:
            status_bad.pop(n)
        rec.quirks.append(f"status=bad in {tsv.name if tsv else 'channels.tsv'} ignored for {len(retyped)} scalp "
                          f"electrode(s) typed as intracranial ({' '.join(retyped[:8])}"
                          f"{' ...' if len(retyped) > 8 else ''}): judged on their samples (flat/saturated)")
    rec.bads = {**status_bad, **find_bad_channels(rec)}
    rec.channel_notes = clinical_notes(orig, rec.ch_names, bids_rows)
    if rec.bads:
        rec.quirks.append(bad_channels_quirk(rec.bads))


def _annotations_and_gaps(path: Path, raw, subtype: str | None,
                          quirks: list[str]) -> tuple[list[Annotation], list[tuple[float, float]]]:
    """Annotations on the sample time base and the recording's gaps (appends quirks).

    EDF+/BDF+ files: parsed from the annotation signal record by record
    (:mod:`ieegrecon.io.edfplus`): each record's time-keeping TAL gives its
    start, so gaps of EDF+D files are found and every annotation is placed on
    the concatenated-sample time base (its wall-clock onset kept in
    ``wall_onset``); one inside a gap is placed where the samples resume, one
    outside the recording at its nearest end, each listed in a quirk; none
    is dropped. Other formats: MNE's annotations.
    """
    from .edfplus import read_edfplus_timeline, wall_to_sample_time

    timeline = None
    if path.suffix.lower() in (".edf", ".bdf"):  # None when there is no annotation signal
        try:
            timeline = read_edfplus_timeline(path)
        except (ValueError, OSError, IndexError, OverflowError) as exc:
            quirks.append(f"EDF+ annotation signal unreadable ({exc}); annotations as MNE reads them, "
                          "record gaps not checked")
    if timeline is None:
        return [Annotation(float(a["onset"]), float(a["duration"]), str(a["description"]))
                for a in raw.annotations if not _TIMEKEEPING.match(str(a["description"]))], []
    quirks += timeline.quirks
    sfreq = float(raw.info["sfreq"])
    total = raw.n_times / sfreq
    gaps = [(g, d) for g, d in timeline.gaps() if g < total]
    t0 = float(timeline.record_starts[0])
    annotations: list[Annotation] = []
    misplaced: dict[str, list[str]] = {"gap": [], "before": [], "after": []}
    for on, dur, text in timeline.annotations:
        wall = on - t0
        onset, where = wall_to_sample_time(wall, gaps, total)
        if where:
            misplaced[where].append(f"{text!r} at {wall:g} s")
        annotations.append(Annotation(onset, dur, text, None if abs(onset - wall) < 1e-9 else wall))
    annotations.sort(key=lambda a: a.onset)
    back = np.diff(timeline.record_starts) < timeline.record_duration - 1e-6
    if back.any():
        quirks.append(f"{int(back.sum())} EDF+ data record(s) start before the previous one ends (first: record "
                      f"{int(np.argmax(back)) + 1}); read as contiguous")
    if gaps:
        quirks.append(f"{subtype or 'EDF+'} (discontinuous): {len(gaps)} gap(s) between data records, "
                      f"{sum(d for _, d in gaps):g} s in all: "
                      + "; ".join(f"{d:g} s at {g:g} s (wall clock {g + sum(x for h, x in gaps if h < g):g} s)"
                                  for g, d in gaps[:10]) + (" ..." if len(gaps) > 10 else ""))
    elif subtype and subtype.endswith("+D") and len(timeline.record_starts) > 1:
        quirks.append(f"{subtype} (discontinuous) in the header, but every data record starts where the "
                      "previous one ends: no gap")
    names = {"gap": "inside a recording gap (placed where the samples resume)",
             "before": "before the first data record (placed at 0 s)",
             "after": "after the last data record (placed at the end)"}
    for where, items in misplaced.items():
        if items:
            quirks.append(f"{len(items)} annotation(s) {names[where]}: " + ", ".join(items[:5])
                          + (" ..." if len(items) > 5 else ""))
    return annotations, gaps


def _status_reason(row: dict[str, str], tsv: Path | None) -> str:
    """Why a channel marked ``status=bad`` in a BIDS channels.tsv is bad (its ``status_description``)."""
    desc = str(row.get("status_description", "")).strip()
    name = tsv.name if tsv is not None else "channels.tsv"
    return f"status=bad in {name}" + (f": {desc}" if desc and desc.lower() != "n/a" else "")


def _positions(raw, types: list[str]) -> tuple[np.ndarray | None, str]:
    """Contact positions stored in the file (FIF digitization), in metres."""
    from mne.io.constants import FIFF

    locs = np.array([ch["loc"][:3] for ch in raw.info["chs"]], dtype=float)
    ok = np.all(np.isfinite(locs), axis=1) & np.any(locs != 0, axis=1)
    if not ok.any():
        return None, "unknown"
    frames = {ch["coord_frame"] for ch, k in zip(raw.info["chs"], ok) if k}
    frame = "unknown"
    if frames == {FIFF.FIFFV_COORD_HEAD}:
        frame = "head"
    elif frames == {FIFF.FIFFV_COORD_MRI}:
        frame = "mri"
    locs[~ok] = np.nan
    return locs, frame
