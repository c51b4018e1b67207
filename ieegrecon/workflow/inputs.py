"""Inputs of the workflow: files -> Recording pairs -> contacts with regions -> PairedSegment.

Reads the scalp and intracranial recordings of a patient (one file holding
both, a BIDS session, or two files), attaches contact positions, maps
contacts to atlas regions, matches scalp channels to a model's, and
preprocesses both into a :class:`~ieegrecon.models.base.PairedSegment` at the
model's rate.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..channels import is_reference_name, normalize_ch_name, strip_label
from ..errors import InputError, ModelInputMismatch, UsageError
from ..io.validate import check_enough_good_scalp, check_min_duration
from ..models.base import ContactInfo, PairedSegment
from ..preprocessing import Preprocessing, apply_preprocessing
from ..recording import INTRACRANIAL_TYPES, Recording


def is_simulated(rec: Recording) -> bool:
    """Whether a recording was produced by ``ieegrecon simulate`` (its marking)."""
    if any(a.description.upper().startswith("SIMULATED") for a in rec.annotations):
        return True
    if rec.source_path and str(rec.source_path).lower().endswith((".edf", ".bdf")):
        from ..io.edf import recording_field

        return "SIMULATED" in recording_field(rec.source_path)
    return False


# --------------------------------------------------------------------------- inputs
def load_paired_recordings(patient: str | Path, *, ieeg: str | Path | None = None,
                           electrodes: str | Path | None = None,
                           ieeg_channels: str | None = None) -> tuple[Recording, Recording]:
    """Read a patient's simultaneous scalp EEG and iEEG.

    Parameters
    ----------
    patient : path-like
        A BIDS session folder (``eeg/`` + ``ieeg/``), or one file holding both
        scalp and intracranial channels, or the scalp file when ``ieeg`` is given.
    ieeg : path-like | None
        Separate intracranial file, recorded simultaneously.
    electrodes : path-like | None
        Contact positions (BIDS ``electrodes.tsv``, session, or FIF + transform);
        overrides positions found in the inputs.
    ieeg_channels : str | None
        Regular expression naming intracranial channels in a mixed file.

    Returns
    -------
    scalp : Recording
        Scalp EEG channels only (type ``'eeg'``).
    intracranial : Recording
        Intracranial contacts only, positions in MNI metres where known.

    Raises
    ------
    InputError
        When a file is unreadable or holds no scalp / intracranial channels,
        or when its bad channels (flat, saturated, ``status=bad`` in a BIDS
        channels.tsv; all dropped) leave fewer than 4 good scalp channels.
    """
    from ..io.bids import read_bids_session
    from ..io.read import read_recording

    patient = Path(patient)
    if not patient.exists():
        raise InputError("no such file or folder", patient)
    if patient.is_dir():
        if ieeg is not None:
            raise UsageError("the 'ieeg' parameter is only for a scalp file, not a BIDS session folder")
        ses = read_bids_session(patient)
        if ses.scalp is None:
            raise InputError("BIDS session has no scalp EEG recording (eeg/*_eeg.*)", patient)
        if ses.ieeg is None:
            raise InputError("BIDS session has no intracranial recording (ieeg/*_ieeg.*)", patient)
        scalp_rec, ieeg_rec = ses.scalp, ses.ieeg
    else:
        rec = read_recording(patient, ieeg_channels=ieeg_channels)
        scalp_rec = rec
        ieeg_rec = read_recording(Path(ieeg), ieeg_channels=ieeg_channels) if ieeg is not None else rec
        if ieeg is not None and electrodes is not None:
            ieeg_rec = _contacts_from_electrodes(ieeg_rec, electrodes)
    check_enough_good_scalp(scalp_rec)  # bad: flat, saturated or status=bad in channels.tsv
    if not _same_gaps(scalp_rec.gaps, ieeg_rec.gaps):
        # calibration pairs samples by position: different EDF+D gaps would pair different moments
        raise InputError(f"the scalp and intracranial recordings have different recording gaps "
                         f"({len(scalp_rec.gaps)} vs {len(ieeg_rec.gaps)}, EDF+D); calibration needs simultaneous "
                         "samples: export both without gaps", ieeg_rec.source_path)
    scalp = _good_channels(scalp_rec.pick_types(("eeg",)))
    if not scalp.ch_names:
        raise InputError("no usable scalp EEG channels found", scalp_rec.source_path)
    intra = _good_channels(ieeg_rec.pick_types(INTRACRANIAL_TYPES))
    if not intra.ch_names:
        raise InputError("no usable intracranial channels found (name them with the 'ieeg_channels' parameter, a regex)",
                         ieeg_rec.source_path)
    check_min_duration(scalp)
    check_min_duration(intra)
    if electrodes is not None:
        intra = _attach_positions(intra, electrodes)
    return scalp, intra


def _contacts_from_electrodes(rec: Recording, electrodes: str | Path) -> Recording:
    """A separate iEEG file's channels that the electrodes file lists are contacts.

    Plain EDF carries no channel types, and clinical exports label contacts
    like ``'EEG LA1-Ref'`` (typed ``misc`` by the label rule). A label whose
    core (:func:`ieegrecon.channels.strip_label`) is a contact of the
    electrodes file is typed ``'seeg'`` (unless already intracranial) and
    takes the electrodes file's name.
    """
    from ..io.electrodes import read_electrodes

    listed = set(read_electrodes(electrodes).names)
    names, types = list(rec.ch_names), list(rec.ch_types)
    renamed = dict(rec.renamed)
    for i, (n, t) in enumerate(zip(rec.ch_names, rec.ch_types)):
        core = strip_label(n)
        if n not in listed and (core not in listed or core in names):
            continue
        if n not in listed:
            names[i] = core
            renamed[n] = core
        if t not in INTRACRANIAL_TYPES:
            types[i] = "seeg"
    if names == rec.ch_names and types == rec.ch_types:
        return rec
    bads = {names[rec.ch_names.index(k)]: v for k, v in rec.bads.items() if k in rec.ch_names}
    return replace(rec, ch_names=names, ch_types=types, renamed=renamed, bads=bads)


def _same_gaps(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
    """Whether two recordings' EDF+D gaps (onset, duration in s) agree to a microsecond."""
    return len(a) == len(b) and bool(np.allclose(np.reshape(a, (-1, 2)), np.reshape(b, (-1, 2)), atol=1e-6))


def _good_channels(rec: Recording) -> Recording:
    """Drop the channels the reader found flat or saturated (``rec.bads``, also in its quirks)."""
    return rec.pick([n for n in rec.ch_names if n not in rec.bads]) if rec.bads else rec


def _attach_positions(intra: Recording, electrodes: str | Path) -> Recording:
    from dataclasses import replace

    from ..io.electrodes import read_electrodes

    el = read_electrodes(electrodes)
    pos = dict(zip(el.names, el.positions))
    missing = [n for n in intra.ch_names if n not in pos]
    if len(missing) == len(intra.ch_names):
        raise InputError(f"none of the {len(missing)} contacts is listed in the electrodes file", electrodes)
    arr = np.array([pos.get(n, [np.nan] * 3) for n in intra.ch_names], float)
    return replace(intra, positions=arr, coord_frame="mni")


def map_regions(intra: Recording, atlas: str = "desikan_killiany"):
    """Atlas regions of the contacts (a DataFrame, one row per contact; see :mod:`ieegrecon.atlas`)."""
    from ..atlas import map_contacts

    pos = intra.positions if (intra.positions is not None and intra.coord_frame == "mni") else \
        np.full((len(intra.ch_names), 3), np.nan)
    return map_contacts(intra.ch_names, pos, atlas=atlas)


def contact_info(intra: Recording, regions) -> ContactInfo:
    """Build the model's :class:`ContactInfo` from contacts and their regions table."""
    pos = intra.positions if (intra.positions is not None and intra.coord_frame == "mni") else \
        np.full((len(intra.ch_names), 3), np.nan)
    return ContactInfo(list(intra.ch_names), pos, list(regions["region_key"].astype(str)),
                       list(regions["depth_class"].astype(str)))


def scalp_array(scalp: Recording, names: list[str] | None, prep: Preprocessing, *,
                drop_references: bool = False) -> tuple[np.ndarray, list[str]]:
    """Pick, order and preprocess scalp channels.

    Parameters
    ----------
    scalp : Recording
        Scalp EEG (names already normalized by the reader).
    names : list of str | None
        Channels the model needs, in order; None keeps every channel.
    prep : Preprocessing
    drop_references : bool
        With ``names=None``, leave out ear/mastoid references
        (:data:`ieegrecon.channels.REFERENCE_NAMES`).

    Returns
    -------
    data : ndarray, shape (n_scalp, n_times_out)
        Volts at ``prep.sfreq``.
    names : list of str

    Raises
    ------
    ModelInputMismatch
        If channels the model needs are absent.
    InputError
        If ``drop_references`` leaves no channel.
    """
    if names is None:
        names = scalp_names(scalp, drop_references)
    picked = scalp.pick(match_scalp_channels(scalp, names))
    return apply_preprocessing(picked.data, picked.sfreq, prep, reference=True), list(names)


def match_scalp_channels(scalp: Recording, names: list[str]) -> list[str]:
    """Labels of ``scalp`` that hold the model's channels ``names``, in that order.

    Raises
    ------
    ModelInputMismatch
        Naming the channels the model needs that are absent.
    """
    by_norm = {normalize_ch_name(n): n for n in scalp.ch_names}
    missing = [n for n in names if normalize_ch_name(n) not in by_norm]
    if missing:
        raise ModelInputMismatch(_missing_text(missing, len(by_norm), True), scalp.source_path)
    return [by_norm[normalize_ch_name(n)] for n in names]


def _missing_text(missing: list[str], n_present: int, patient_model: bool = False) -> str:
    """One short line naming the missing channels (not the whole list present)."""
    hint = ("; to use recordings without ear electrodes, recalibrate with --drop-references"
            if patient_model and all(is_reference_name(n) for n in missing) else "")
    return (f"the model needs scalp channel(s) {', '.join(map(repr, missing))} that are absent "
            f"({n_present} scalp channels present){hint}")


def make_segment(scalp: Recording, intra: Recording, contacts: ContactInfo, prep: Preprocessing,
                 subject: str = "patient", *, drop_references: bool = False) -> PairedSegment:
    """Preprocess simultaneous scalp EEG and iEEG into one :class:`PairedSegment`.

    Both are resampled to ``prep.sfreq`` and cut to their common length
    (they are assumed to start together, as in ds004752). ``drop_references``
    leaves ear/mastoid reference channels out of the scalp set (calibration does).
    A recording in pieces (trials of an epoched file, EDF+D gaps, pooled
    sessions: :func:`piece_times`) is preprocessed piece by piece, each with
    its mirror image as context (the border rule of
    :func:`~ieegrecon.workflow.chunking.predict_chunked`), so no filter runs
    across a boundary; :func:`make_segment_pieces` also returns where the pieces lie.
    """
    return make_segment_pieces(scalp, intra, contacts, prep, subject, drop_references=drop_references)[0]


#: Context (s) mirrored on both sides of a piece (trial, EDF+D segment) before it is filtered.
PIECE_MARGIN_S = 2.0


def piece_times(scalp: Recording, intra: Recording) -> list[float]:
    """Seconds (sample time base) where either recording starts a new contiguous piece.

    Pieces are cut at EDF+D gaps (``Recording.gaps``), trial boundaries of
    epoched recordings and session joins (``Recording.boundaries``), of
    either recording; empty for two continuous recordings.
    """
    cuts = set()
    for rec in (scalp, intra):
        cuts |= {round(a / rec.sfreq, 6) for a, _ in rec.segments()[1:]}
    return sorted(cuts)


def piece_bounds(cuts: list[float], n_times: int, sfreq: float) -> list[tuple[int, int]]:
    """``[(start, stop))`` samples at ``sfreq`` of the pieces between ``cuts`` (s), tiling ``[0, n_times)``."""
    edges = [0] + [c for c in (int(round(t * sfreq)) for t in cuts) if 0 < c < n_times] + [n_times]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _preprocess_pieces(rec: Recording, cuts: list[float], prep: Preprocessing, *, reference: bool
                       ) -> list[np.ndarray]:
    """Each piece of ``rec`` preprocessed on its own, in order.

    A piece is resampled to ``prep.sfreq`` alone, extended by its mirror image
    (:data:`PIECE_MARGIN_S` each side, mains sinusoids continued), filtered
    and referenced, and its own samples kept.
    """
    from ..preprocessing import extend_by_reflection, resample

    fs = prep.sfreq
    m = int(round(PIECE_MARGIN_S * fs))
    out = []
    for a, b in piece_bounds(cuts, rec.n_times, rec.sfreq):
        x = resample(np.asarray(rec.data[:, a:b], float), rec.sfreq, fs)
        y = apply_preprocessing(extend_by_reflection(x, m, m, sfreq=fs, line_freq=prep.line_freq), fs, prep,
                                reference=reference)
        out.append(y[:, m:m + x.shape[1]])
    return out


def make_segment_pieces(scalp: Recording, intra: Recording, contacts: ContactInfo, prep: Preprocessing,
                        subject: str = "patient", *, drop_references: bool = False
                        ) -> tuple[PairedSegment, list[tuple[int, int]]]:
    """:func:`make_segment` and its pieces: ``[(start, stop))`` samples at ``prep.sfreq`` (one for a continuous pair).

    Raises
    ------
    InputError
        The two recordings are in pieces of different lengths (trials that do not match).
    """
    cuts = piece_times(scalp, intra)
    if not cuts:  # one continuous pair: processed whole (bit-for-bit as before pieces existed)
        x, names = scalp_array(scalp, None, prep, drop_references=drop_references)
        y = apply_preprocessing(intra.data, intra.sfreq, prep, reference=False)
        n = min(x.shape[1], y.shape[1])
        return PairedSegment(x[:, :n], y[:, :n], prep.sfreq, names, contacts, subject), [(0, n)]
    names = scalp_names(scalp, drop_references)
    picked = scalp.pick(match_scalp_channels(scalp, names))
    xs = _preprocess_pieces(picked, cuts, prep, reference=True)
    ys = _preprocess_pieces(intra, cuts, prep, reference=False)
    if len(xs) != len(ys):
        raise InputError(f"the scalp and intracranial recordings are in {len(xs)} and {len(ys)} pieces (trials, "
                         "gaps): calibration needs simultaneous samples", intra.source_path)
    bounds, start = [], 0
    for k, (x, y) in enumerate(zip(xs, ys)):
        n = min(x.shape[1], y.shape[1])
        xs[k], ys[k] = x[:, :n], y[:, :n]
        bounds.append((start, start + n))
        start += n
    return (PairedSegment(np.concatenate(xs, 1), np.concatenate(ys, 1), prep.sfreq, names, contacts, subject),
            bounds)


def scalp_names(scalp: Recording, drop_references: bool = False) -> list[str]:
    """Normalized names of the scalp channels a new model takes (ear/mastoid references left out on request).

    Raises
    ------
    InputError
        If ``drop_references`` leaves no channel.
    """
    names = [normalize_ch_name(n) for n in scalp.ch_names if not (drop_references and is_reference_name(n))]
    if not names:
        raise InputError("only reference channels (A1/A2/M1/M2) among the scalp channels", scalp.source_path)
    return names


def subset_scalp(seg: PairedSegment, names: list[str]) -> PairedSegment:
    """The segment with only the scalp channels ``names``, in that order.

    Raises
    ------
    ModelInputMismatch
        If some are absent.
    """
    have = {normalize_ch_name(n): i for i, n in enumerate(seg.scalp_names)}
    missing = [n for n in names if normalize_ch_name(n) not in have]
    if missing:
        raise ModelInputMismatch("pretrained model: " + _missing_text(missing, len(have)))
    idx = [have[normalize_ch_name(n)] for n in names]
    return PairedSegment(seg.scalp[idx], seg.ieeg, seg.sfreq, list(names), seg.contacts, seg.subject)


LINE_FREQS = (50.0, 60.0)


def bids_line_freq(session: str | Path) -> float | None:
    """``PowerLineFrequency`` of a BIDS session's scalp (else iEEG) sidecar, or None.

    Parameters
    ----------
    session : path-like
        A BIDS session folder (``eeg/*_eeg.json``, ``ieeg/*_ieeg.json``); a file gives None.

    Returns
    -------
    float | None
        Hz, when a sidecar states a number.
    """
    import json

    session = Path(session)
    if not session.is_dir():
        return None
    for pattern in ("eeg/*_eeg.json", "ieeg/*_ieeg.json"):
        for side in sorted(session.glob(pattern)):
            try:
                value = json.loads(side.read_text(encoding="utf-8-sig")).get("PowerLineFrequency")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(value, (int, float)) and value > 0:
                return float(value)
    return None
