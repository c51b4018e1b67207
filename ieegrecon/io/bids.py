"""BIDS sessions (scalp ``eeg/`` + intracranial ``ieeg/``).

Signals are read by :func:`ieegrecon.io.read.read_recording` (MNE), the
sidecars by :mod:`ieegrecon.io.sidecars` (pandas), contact positions by
:func:`ieegrecon.io.electrodes.read_electrodes` (MNI metres).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..channels import BIDS_TYPES, OLD_TO_NEW, STANDARD_1020_19, non_contact_type, normalize_ch_name
from ..errors import InputError
from ..recording import INTRACRANIAL_TYPES, Recording
from .electrodes import Electrodes, read_electrodes
from .read import SUPPORTED_EXTENSIONS, read_recording
from .sidecars import channels_tsv_quirks, check_field, json_object, read_channels_tsv
from .validate import bad_channels_quirk, one_line


@dataclass
class BidsSession:
    """One BIDS session: scalp and intracranial recordings plus sidecars.

    Attributes
    ----------
    scalp, ieeg : Recording | None
        ``None`` when the folder holds no signal file of that kind.
    subject, session : str
        BIDS labels without ``sub-``/``ses-`` (session ``''`` when absent).
    quirks : list of str
    electrodes : Electrodes | None
    channels : dict
        ``'eeg'`` / ``'ieeg'`` -> channels.tsv rows keyed by name.
    path : Path
    """

    scalp: Recording | None
    ieeg: Recording | None
    subject: str
    session: str
    quirks: list[str] = field(default_factory=list)
    electrodes: Electrodes | None = None
    channels: dict = field(default_factory=dict)
    path: Path | None = None


def find_sessions(root: str | Path) -> list[Path]:
    """BIDS session folders under ``root`` that contain ``eeg/`` and/or ``ieeg/``.

    Subject folders are returned when a subject has no ``ses-`` level;
    ``root`` itself is returned when it is such a folder.

    Raises
    ------
    InputError
        If ``root`` is not a folder or holds no session.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("not a folder", root)

    def has_data(d: Path) -> bool:
        return (d / "eeg").is_dir() or (d / "ieeg").is_dir()

    if has_data(root):
        return [root]
    out: list[Path] = []
    subs = [root] if root.name.startswith("sub-") else sorted(root.glob("sub-*"))
    for sub in subs:
        if not sub.is_dir():
            continue
        if has_data(sub):
            out.append(sub)
        out += [s for s in sorted(sub.glob("ses-*")) if s.is_dir() and has_data(s)]
    if not out:
        raise InputError("no BIDS session with eeg/ or ieeg/ found", root)
    return out


def _signal_file(folder: Path, suffix: str) -> tuple[Path | None, list[str]]:
    if not folder.is_dir():
        return None, []
    files = sorted(p for p in folder.glob(f"*_{suffix}.*") if p.suffix.lower() in SUPPORTED_EXTENSIONS)
    # interictal runs first (HUP, ds004100: task-ictal runs hold seizures; calibration wants the background)
    files.sort(key=lambda p: "task-interictal" not in p.name)
    quirks = []
    if len(files) > 1:
        quirks.append(f"{folder.name}/: {len(files)} runs; only {files[0].name} is read")
    return (files[0] if files else None), quirks


def _sidecar_quirks(folder: Path, kind: str) -> tuple[dict, list[str]]:
    """channels.tsv rows and quirks found in the sidecars of ``folder``."""
    quirks: list[str] = []
    tsvs = sorted(folder.glob("*_channels.tsv"))
    rows: dict = {}
    if tsvs:
        rows = read_channels_tsv(tsvs[0])
        quirks += channels_tsv_quirks(rows, tsvs[0])
        if kind == "eeg":
            names = [n for n, r in rows.items() if BIDS_TYPES.get(r["type"].upper()) == "eeg"]
            old = [n for n in names if n.strip().upper() in OLD_TO_NEW]
            if old:
                quirks.append(f"{tsvs[0].name}: old 10-20 names {' '.join(old)} (read as "
                              f"{' '.join(OLD_TO_NEW[n.upper()] for n in old)})")
            norm = {normalize_ch_name(n) for n in names}
            miss = [c for c in STANDARD_1020_19 if c not in norm]
            if miss:
                quirks.append(f"{tsvs[0].name}: {len(names)} scalp channels; {len(miss)} of the 19 "
                              f"standard 10-20 channels missing: {' '.join(miss)}")
    for js in sorted(folder.glob(f"*_{kind}.json"))[:1]:
        try:
            meta = json.loads(js.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            quirks.append(f"{js.name}: unreadable JSON ({one_line(exc)})")
            continue
        meta = json_object(meta, js)
        for key in ("RecordingType", "EpochLength", "SamplingFrequency"):
            check_field(meta, key, js)
        if str(meta.get("RecordingType", "")).lower() == "epoched":
            quirks.append(f"{js.name}: RecordingType 'epoched' (EpochLength {meta.get('EpochLength', 'n/a')} s): "
                          "trials are joined end to end in one file; filters, lags and held-out splits stay "
                          "within trials")
        ref = str(meta.get("iEEGReference", ""))
        if kind == "ieeg" and "common" in ref.lower():
            quirks.append(f"{js.name}: iEEGReference {ref!r}: every contact is recorded against one shared "
                          "intracranial reference (not bipolar, not average): its own activity is in every "
                          "channel; read as recorded")
    if kind == "ieeg" and rows:
        quirks += _mixed_file_quirks(rows, tsvs[0])
    return rows, quirks


def _mixed_file_quirks(rows: dict, tsv: Path) -> list[str]:
    """HUP-style sidecars: 10-20 scalp electrodes and ECG leads listed (and typed) as intracranial channels."""
    scalp = [n for n, r in rows.items() if non_contact_type(n, BIDS_TYPES.get(r["type"].upper(), "misc")) == "eeg"]
    ecg = [n for n, r in rows.items() if non_contact_type(n, BIDS_TYPES.get(r["type"].upper(), "misc")) == "ecg"]
    if not scalp:
        return []
    bad = [n for n in scalp if rows[n].get("status", "").strip().lower() == "bad"]
    return [f"{tsv.name}: scalp EEG and iEEG in one file: {len(scalp)} 10-20 scalp electrodes typed "
            f"{rows[scalp[0]]['type']} ({' '.join(scalp[:6])}{' ...' if len(scalp) > 6 else ''}; {len(bad)} marked "
            f"status=bad) found by name{f', ECG lead(s) {ecg} kept out of both sides' if ecg else ''}"]


def _said_by_sidecar(quirk: str, side: list[str]) -> bool:
    """Whether the reader's ``quirk`` (old 10-20 names, missing standard channels) repeats a channels.tsv line."""
    return any(key in quirk and any(key in x for x in side)
               for key in ("old 10-20 names", "standard 10-20 channels missing"))


#: The reader's line listing bad channels (:func:`~ieegrecon.io.validate.bad_channels_quirk`): one per session.
_BAD_LINE = re.compile(r"^\d+ bad channel\(s\), excluded from calibration and reconstruction: ")
#: The reader's line of renamed labels; rewritten per file without the old 10-20 names (said on their own line).
_RENAMED_LINE = re.compile(r"^\d+ label\(s\) normalized to 10-05 names")
#: A channels.tsv line of swapped cutoffs (:func:`~ieegrecon.io.sidecars.channels_tsv_quirks`).
_SWAPPED_LINE = re.compile(r"^(?P<file>.+?): low_cutoff \((?P<lo>[^)]*)\) > high_cutoff \((?P<hi>[^)]*)\) for "
                           r"(?P<n>\d+/\d+) channels: the columns are swapped \(read as a (?P<band>.+?) band-pass\)$")


def _renamed_line(rec: Recording) -> str | None:
    """The labels ``rec`` renamed other than old 10-20 names (those have their own line), or None."""
    other = {o: n for o, n in rec.renamed.items() if o.strip().upper() not in OLD_TO_NEW}
    if not other:
        return None
    return f"{len(other)} label(s) normalized to 10-05 names, e.g. " + ", ".join(
        f"{o!r}->{n!r}" for o, n in list(other.items())[:4])


def _file_quirks(rec: Recording, kind: str, side: list[str], recs: dict) -> list[str]:
    """A signal file's quirks in the session list, less what a sidecar or the session says on its own line.

    Left out: the trial structure of the iEEG file when a scalp file has it,
    lines repeating a channels.tsv line, and bad channels (one line per
    session, :func:`_session_lines`); the renamed-labels line leaves out the
    old 10-20 names.
    """
    out = []
    for x in rec.quirks:
        if (x.startswith("epoched:") and kind == "ieeg" and recs.get("eeg") is not None) \
                or _said_by_sidecar(x, side) or _BAD_LINE.match(x):
            continue
        if _RENAMED_LINE.match(x):
            x = _renamed_line(rec)
        if x is not None:
            out.append(x)
    return out


def _session_lines(quirks: list[str], recs: dict) -> list[str]:
    """Quirks said once per session: swapped cutoffs, bad channels, a mixed file, epoched sidecars, no signal.

    The swapped cutoffs of ``eeg/`` and ``ieeg/`` go on one line, as do the
    bad channels of both recordings (ECG leads already said to be kept out of
    both sides are not listed again) and folders without a signal file; of
    the two sidecars saying ``RecordingType: epoched`` the first is kept.
    HUP's mixed-file line of channels.tsv is left out once the signal file has
    said the same per channel kind.
    """
    quirks = list(dict.fromkeys(quirks))
    swapped = [m for m in map(_SWAPPED_LINE.match, quirks) if m]
    if len(swapped) > 1:
        files = " and ".join(dict.fromkeys(m["file"] for m in swapped))
        line = (f"{'eeg/ and ieeg/ ' if len(swapped) == 2 else ''}{files}: low_cutoff > high_cutoff for "
                f"{' and '.join(m['n'] for m in swapped)} channels: the columns are swapped (read as a "
                f"{' and '.join(dict.fromkeys(m['band'] for m in swapped))} band-pass)")
        at = quirks.index(swapped[0].string)
        quirks = [q for q in quirks if not _SWAPPED_LINE.match(q)]
        quirks.insert(at, line)
    if any("are 10-20 scalp electrodes by name" in q for q in quirks):
        quirks = [q for q in quirks if "scalp EEG and iEEG in one file" not in q]
    epoched = [q for q in quirks if "RecordingType 'epoched'" in q]
    quirks = [q for q in quirks if q not in epoched[1:]]  # eeg.json and ieeg.json say it alike
    empty = [q for q in quirks if q.endswith("/: no signal file (sidecars only)")]
    if len(empty) > 1:
        quirks[quirks.index(empty[0])] = f"{', '.join(q.split(':')[0] for q in empty)}: no signal file (sidecars only)"
        quirks = [q for q in quirks if q not in empty[1:]]
    ecg_said = any("ECG lead" in q and "kept out of both" in q for q in quirks)
    bad: dict[str, str] = {}
    for rec in {id(r): r for r in recs.values() if r is not None}.values():  # HUP: one file for both sides
        types = dict(zip(rec.ch_names, rec.ch_types))
        bad.update({n: r for n, r in rec.bads.items() if not (ecg_said and types.get(n) == "ecg")})
    return quirks + ([bad_channels_quirk(bad)] if bad else [])


def _one_epoch_line(quirks: list[str], recs: dict) -> list[str]:
    """Drop the sidecar's 'epoched' line when a signal file's trial structure was found (said once)."""
    if any(r is not None and r.boundaries for r in recs.values()):
        return [q for q in quirks if "RecordingType 'epoched'" not in q]
    return quirks


def _sfreq_of(rows: dict) -> float | None:
    vals = {r.get("sampling_frequency") for r in rows.values()} - {None, "", "n/a"}
    try:
        return float(sorted(vals)[0]) if vals else None
    except ValueError:
        return None


def read_bids_session(session_dir: str | Path) -> BidsSession:
    """Read one BIDS session folder (``eeg/`` and/or ``ieeg/``).

    Parameters
    ----------
    session_dir : path-like
        ``.../sub-XX/ses-YY`` (or ``.../sub-XX`` without sessions).

    Returns
    -------
    BidsSession
        ``ieeg`` carries positions in MNI metres from ``electrodes.tsv``
        (``coord_frame='mni'``); contacts absent from the table get NaN.

    Raises
    ------
    InputError
        Not a session folder, or an unreadable signal / sidecar file.
    """
    d = Path(session_dir)
    if not ((d / "eeg").is_dir() or (d / "ieeg").is_dir()):
        raise InputError("not a BIDS session folder (no eeg/ or ieeg/ inside)", d)
    if d.name.startswith("ses-"):
        subject, session = d.parent.name.removeprefix("sub-"), d.name.removeprefix("ses-")
    else:
        subject, session = d.name.removeprefix("sub-"), ""
    quirks: list[str] = []
    channels: dict = {}
    recs: dict[str, Recording | None] = {}
    for kind in ("eeg", "ieeg"):
        folder = d / kind
        if not folder.is_dir():
            recs[kind] = None
            continue
        rows, side = _sidecar_quirks(folder, kind)
        channels[kind] = rows
        quirks += side
        f, q = _signal_file(folder, kind)
        quirks += q
        if f is None:
            quirks.append(f"{kind}/: no signal file (sidecars only)")
            recs[kind] = None
        else:
            recs[kind] = read_recording(f)
            quirks += _file_quirks(recs[kind], kind, side, recs)
    quirks = _session_lines(_one_epoch_line(quirks, recs), recs)
    mixed = recs.get("ieeg")
    if recs.get("eeg") is None and mixed is not None and "eeg" in mixed.ch_types:
        recs["eeg"] = mixed  # HUP: scalp electrodes in the iEEG file; load_paired_recordings splits by type
    sf = {k: _sfreq_of(v) for k, v in channels.items()}
    if sf.get("eeg") and sf.get("ieeg") and sf["eeg"] != sf["ieeg"]:
        quirks.append(f"scalp EEG at {sf['eeg']:g} Hz and iEEG at {sf['ieeg']:g} Hz: resample before pairing")
    electrodes = None
    if (d / "ieeg").is_dir() and list((d / "ieeg").glob("*_electrodes.tsv")):
        electrodes = read_electrodes(d)
        quirks += electrodes.quirks
    ieeg = recs.get("ieeg")
    if ieeg is not None and electrodes is not None:
        quirks += attach_positions(ieeg, electrodes)
    return BidsSession(scalp=recs.get("eeg"), ieeg=ieeg, subject=subject, session=session,
                       quirks=list(dict.fromkeys(quirks)), electrodes=electrodes, channels=channels, path=d)


def attach_positions(ieeg: Recording, electrodes: Electrodes) -> list[str]:
    """Set ``ieeg.positions`` (MNI metres, NaN for contacts without a row) from ``electrodes``.

    Returns
    -------
    list of str
        A quirk naming the intracranial channels that have no row.
    """
    pos = np.full((len(ieeg.ch_names), 3), np.nan)
    idx = {n: i for i, n in enumerate(electrodes.names)}
    for i, n in enumerate(ieeg.ch_names):
        if n in idx:
            pos[i] = electrodes.positions[idx[n]]
    ieeg.positions, ieeg.coord_frame = pos, "mni"
    missing = [n for n, t in zip(ieeg.ch_names, ieeg.ch_types) if t in INTRACRANIAL_TYPES and n not in idx]
    if missing:
        return [f"{len(missing)} intracranial channel(s) have no row in electrodes.tsv: {missing[:5]}"]
    return []


def paired_session(session_dir: str | Path) -> bool:
    """Whether a session holds simultaneous scalp EEG and iEEG: ``eeg/`` + ``ieeg/``, or one mixed iEEG file.

    A HUP session (OpenNeuro ds004100) has ``ieeg/`` only, its channels.tsv
    listing 10-20 scalp electrodes among the contacts (found by name,
    :func:`ieegrecon.channels.non_contact_type`). The evaluation's subject
    discovery calls this instead of testing for both folders.
    """
    d = Path(session_dir)
    if not (d / "ieeg").is_dir():
        return False
    if (d / "eeg").is_dir():
        return True
    for tsv in sorted((d / "ieeg").glob("*_channels.tsv"))[:1]:
        rows = read_channels_tsv(tsv)
        return any(non_contact_type(n, BIDS_TYPES.get(r["type"].upper(), "misc")) == "eeg" for n, r in rows.items())
    return False
