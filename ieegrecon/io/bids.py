"""BIDS sessions (scalp ``eeg/`` + intracranial ``ieeg/``) and electrode positions.

Signals are read by :func:`ieegrecon.io.read.read_recording` (MNE), the TSV
sidecars with pandas, entities with mne-bids. Electrode positions always come
out in MNI metres (``coord_frame='mni'``): from a BIDS ``electrodes.tsv``
(with or without its ``coordsystem.json``), or from a FIF file whose contacts
are in head coordinates plus the subject's FreeSurfer ``talairach.xfm``
(MNE's sEEG tutorial route: head -> MRI with ``mne.coreg.estimate_head_mri_t``
or a given ``-trans.fif``, then MRI -> MNI with ``mne.read_talxfm``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..channels import BIDS_TYPES, OLD_TO_NEW, STANDARD_1020_19, normalize_ch_name
from ..errors import InputError
from ..recording import INTRACRANIAL_TYPES, Recording
from .read import (
    SUPPORTED_EXTENSIONS,
    channels_tsv_quirks,
    read_channels_tsv,
    read_recording,
)
from .validate import one_line

#: iEEG/EEG coordinate systems that are MNI-like templates (BIDS appendix).
MNI_SYSTEMS = re.compile(r"^(MNI|ICBM|fsaverage|fsLR|IXI549Space|Talairach)", re.IGNORECASE)


@dataclass
class Electrodes:
    """Contact positions in MNI space.

    Attributes
    ----------
    names : list of str, length n_contacts
    positions : ndarray, shape (n_contacts, 3)
        MNI coordinates in metres (NaN where the source had ``n/a``).
    coord_frame : str
        Always ``'mni'``.
    quirks : list of str
    source : str
        File or folder they were read from.
    table : pandas.DataFrame | None
        The source table's other columns (e.g. ``AnatomicalLocation``).
    mri_positions : ndarray, shape (n_contacts, 3) | None
        For the FIF route: positions in the subject's FreeSurfer surface RAS (metres).
    subject, subjects_dir : str | None, Path | None
        For the FIF route: the FreeSurfer subject used.
    ch_types : list of str | None
        Channel types when known (FIF route, or BIDS channels.tsv).
    """

    names: list[str]
    positions: np.ndarray
    coord_frame: str = "mni"
    quirks: list[str] = field(default_factory=list)
    source: str = ""
    table: object | None = None
    mri_positions: np.ndarray | None = None
    subject: str | None = None
    subjects_dir: Path | None = None
    ch_types: list[str] | None = None


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
            _check_field(meta, key, js)
        if str(meta.get("RecordingType", "")).lower() == "epoched":
            quirks.append(f"{js.name}: RecordingType 'epoched' (EpochLength {meta.get('EpochLength', 'n/a')} s): "
                          "trials are joined end to end in one file; do not filter across trial boundaries")
    return rows, quirks


#: Types of the BIDS sidecar fields ieegrecon reads (JSON ``null`` is always allowed).
SIDECAR_FIELDS: dict[str, tuple[type, ...]] = {
    "RecordingType": (str,), "EpochLength": (int, float), "SamplingFrequency": (int, float),
    "iEEGCoordinateSystem": (str,), "EEGCoordinateSystem": (str,),
    "iEEGCoordinateUnits": (str,), "EEGCoordinateUnits": (str,),
}


def json_object(value: object, path: Path) -> dict:
    """``value`` if it is a JSON object (dict), else InputError naming the file.

    Raises
    ------
    InputError
        ``'JSON sidecar is a list, not an object'``.
    """
    if not isinstance(value, dict):
        raise InputError(f"JSON sidecar is a {type(value).__name__}, not an object ({{...}})", path)
    return value


def _check_field(meta: dict, key: str, path: Path) -> None:
    """Refuse a sidecar field of the wrong JSON type (numbers: finite, not booleans)."""
    v = meta.get(key)
    if v is None:
        return
    types = SIDECAR_FIELDS[key]
    ok = isinstance(v, types) and not isinstance(v, bool)
    if ok and isinstance(v, float) and not np.isfinite(v):
        ok = False
    if not ok:
        want = "a string" if types == (str,) else "a finite number"
        raise InputError(f"field {key!r} is {json.dumps(v)[:40]} ({type(v).__name__}), expected {want}", path)


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
        rows, q = _sidecar_quirks(folder, kind)
        channels[kind] = rows
        quirks += q
        f, q = _signal_file(folder, kind)
        quirks += q
        if f is None:
            quirks.append(f"{kind}/: no signal file (sidecars only)")
            recs[kind] = None
        else:
            recs[kind] = read_recording(f)
            quirks += recs[kind].quirks
    sf = {k: _sfreq_of(v) for k, v in channels.items()}
    if sf.get("eeg") and sf.get("ieeg") and sf["eeg"] != sf["ieeg"]:
        quirks.append(f"scalp EEG at {sf['eeg']:g} Hz and iEEG at {sf['ieeg']:g} Hz: resample before pairing")
    electrodes = None
    if (d / "ieeg").is_dir() and list((d / "ieeg").glob("*_electrodes.tsv")):
        electrodes = read_electrodes(d)
        quirks += electrodes.quirks
    ieeg = recs.get("ieeg")
    if ieeg is not None and electrodes is not None:
        pos = np.full((len(ieeg.ch_names), 3), np.nan)
        idx = {n: i for i, n in enumerate(electrodes.names)}
        for i, n in enumerate(ieeg.ch_names):
            if n in idx:
                pos[i] = electrodes.positions[idx[n]]
        missing = [n for n, t in zip(ieeg.ch_names, ieeg.ch_types) if t in INTRACRANIAL_TYPES and n not in idx]
        if missing:
            quirks.append(f"{len(missing)} intracranial channel(s) have no row in electrodes.tsv: {missing[:5]}")
        ieeg.positions, ieeg.coord_frame = pos, "mni"
    return BidsSession(scalp=recs.get("eeg"), ieeg=ieeg, subject=subject, session=session,
                       quirks=list(dict.fromkeys(quirks)), electrodes=electrodes, channels=channels, path=d)


# --------------------------------------------------------------------------
# electrodes
# --------------------------------------------------------------------------

def read_electrodes(
    path: str | Path,
    *,
    trans: str | Path | None = None,
    subjects_dir: str | Path | None = None,
    subject: str | None = None,
) -> Electrodes:
    """Contact positions in MNI metres from a BIDS table, a session folder or a FIF file.

    Parameters
    ----------
    path : path-like
        A BIDS ``*_electrodes.tsv``, a session folder holding ``ieeg/*_electrodes.tsv``,
        or a FIF (any MNE-readable file) whose contacts are in head or MRI coordinates.
    trans : path-like | None
        FIF route only: the head -> MRI ``-trans.fif``. ``None`` estimates it from
        fsaverage fiducials (``mne.coreg.estimate_head_mri_t``), as MNE's sEEG tutorial does.
    subjects_dir : path-like | None
        FIF route only: FreeSurfer subjects folder. ``None`` looks next to the file.
    subject : str | None
        FIF route only: FreeSurfer subject; ``None`` takes the only subject in
        ``subjects_dir`` that has ``mri/transforms/talairach.xfm``.

    Returns
    -------
    Electrodes

    Raises
    ------
    InputError
        Unreadable table; an empty/n/a or duplicate contact name; an
        infinite coordinate; no row with three finite coordinates; a
        coordsystem.json that is not a JSON object or whose system/units
        fields are not strings; coordinates not in an MNI-like space; no
        FreeSurfer subject / transform for a FIF.
    """
    path = Path(path)
    if path.is_dir():
        cands = sorted(path.glob("ieeg/*_electrodes.tsv")) or sorted(path.glob("*_electrodes.tsv"))
        if not cands:
            raise InputError("no *_electrodes.tsv in this folder or its ieeg/", path)
        el = _read_electrodes_tsv(cands[0])
        if len(cands) > 1:
            el.quirks.append(f"{len(cands)} electrodes.tsv files; only {cands[0].name} is read")
        return el
    if not path.is_file():
        raise InputError("no such file", path)
    if path.suffix.lower() == ".tsv":
        return _read_electrodes_tsv(path)
    return _read_electrodes_fif(path, trans=trans, subjects_dir=subjects_dir, subject=subject)


def _read_electrodes_tsv(path: Path) -> Electrodes:
    import pandas as pd

    try:
        df = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read electrodes.tsv ({one_line(exc)})", path) from None
    if not {"name", "x", "y", "z"} <= set(df.columns):
        raise InputError("electrodes.tsv needs columns name, x, y, z", path)
    try:
        xyz = df[["x", "y", "z"]].astype(float).to_numpy()
    except ValueError as exc:
        raise InputError(f"non-numeric coordinates ({one_line(exc)})", path) from None
    quirks: list[str] = []
    blank = [i + 2 for i, n in enumerate(df["name"]) if pd.isna(n) or not str(n).strip()]
    if blank:
        raise InputError(f"line(s) {blank[:5]} have an empty or n/a contact name", path)
    names = [str(n).strip() for n in df["name"]]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InputError(f"duplicate contact names {dups[:5]}{' ...' if len(dups) > 5 else ''} "
                         f"({len(dups)} name(s) on more than one row); names must be unique", path)
    inf = [n for n, row in zip(names, xyz) if np.isinf(row).any()]
    if inf:
        raise InputError(f"infinite coordinate(s) for contact(s) {inf[:5]}", path)
    if not np.all(np.isfinite(xyz), axis=1).any():
        raise InputError(f"no row holds three finite coordinates ({len(names)} row(s), all x/y/z n/a or NaN)", path)
    space = re.search(r"_space-([A-Za-z0-9]+)", path.name)
    prefix = path.name.split("_electrodes.tsv")[0]
    cs_files = sorted(path.parent.glob(f"{prefix}_coordsystem.json")) or sorted(path.parent.glob("*_coordsystem.json"))
    system, units = None, None
    if cs_files:
        try:
            cs = json.loads(cs_files[0].read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise InputError(f"unreadable coordsystem.json ({one_line(exc)})", cs_files[0]) from None
        cs = json_object(cs, cs_files[0])
        for key in ("iEEGCoordinateSystem", "EEGCoordinateSystem", "iEEGCoordinateUnits", "EEGCoordinateUnits"):
            _check_field(cs, key, cs_files[0])
        system = cs.get("iEEGCoordinateSystem") or cs.get("EEGCoordinateSystem")
        units = cs.get("iEEGCoordinateUnits") or cs.get("EEGCoordinateUnits")
        if not (system and MNI_SYSTEMS.match(system)):
            if space and MNI_SYSTEMS.match(space.group(1)):
                quirks.append(f"{cs_files[0].name}: coordinate system {system!r}, but the file name says "
                              f"space-{space.group(1)}: read as MNI")
                system = "MNI"
            else:
                raise InputError(f"coordinates are in {system!r}, not an MNI template space; "
                                 "give a FIF with talairach.xfm instead", path)
    else:
        desc = ""
        js = path.with_suffix(".json")
        if js.is_file():
            try:
                desc = json.dumps(json.loads(js.read_text(encoding="utf-8-sig")))
            except (OSError, ValueError):
                desc = ""
        if "MNI" in desc.upper():
            quirks.append(f"{path.name}: no coordsystem.json; MNI inferred from {js.name} "
                          "(its x/y/z descriptions say 'MNI coordinate')")
        elif space and MNI_SYSTEMS.match(space.group(1)):
            quirks.append(f"{path.name}: no coordsystem.json; MNI inferred from space-{space.group(1)}")
        else:
            raise InputError("no coordsystem.json and nothing says the coordinates are MNI", path)
        system = "MNI"
    finite = xyz[np.all(np.isfinite(xyz), axis=1)]
    span = float(np.max(np.abs(finite))) if finite.size else 0.0
    if units is None:
        units = "mm" if span > 1.0 else "m"
        quirks.append(f"{path.name}: no coordinate units given; {units} inferred from the values (max |coord| {span:g})")
    scale = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}.get(str(units).lower())
    if scale is None:
        raise InputError(f"unknown coordinate units {units!r}", path)
    if span * scale > 0.2:
        raise InputError(f"coordinates up to {span:g} {units} are outside any head; wrong units?", path)
    pos = xyz * scale
    n_nan = int(np.sum(~np.all(np.isfinite(xyz), axis=1)))
    if n_nan:
        quirks.append(f"{path.name}: {n_nan} row(s) without coordinates (n/a): "
                      f"{[n for n, ok in zip(names, np.all(np.isfinite(xyz), axis=1)) if not ok][:5]}")
    if "AnatomicalLocation" in df.columns:
        n_nl = int((df["AnatomicalLocation"].astype(str) == "no_label_found").sum())
        if n_nl:
            quirks.append(f"{path.name}: {n_nl}/{len(df)} contacts have AnatomicalLocation 'no_label_found'")
    quirks += side_quirks(names, pos, path.name)
    types = None
    chtsv = sorted(path.parent.glob("*_channels.tsv"))
    if chtsv:
        rows = read_channels_tsv(chtsv[0])
        types = [BIDS_TYPES.get(rows[n]["type"].upper(), "misc") if n in rows else "seeg" for n in names]
    extra = df.drop(columns=["name", "x", "y", "z"])
    return Electrodes(names=names, positions=pos, quirks=quirks, source=str(path), table=extra, ch_types=types)


def contact_side(name: str) -> str | None:
    """'L'/'R' implied by a contact label, or None.

    Understands ``LEFT``/``RIGHT`` words (``ECOG_RIGHT_0``) and the ds004752
    convention of a side letter ending the electrode name (``mAHL1`` -> L).
    """
    up = name.upper()
    if re.search(r"(^|_)LEFT(_|$)", up):
        return "L"
    if re.search(r"(^|_)RIGHT(_|$)", up):
        return "R"
    m = re.match(r"^m?[A-Za-z]+?([LR])\d+$", name)
    return m.group(1) if m else None


def side_quirks(names: list[str], positions: np.ndarray, source: str) -> list[str]:
    """Report contacts whose label's side disagrees with the sign of x (MNI: x<0 is left)."""
    bad = []
    for n, p in zip(names, positions):
        s = contact_side(n)
        if s is None or not np.isfinite(p[0]) or abs(p[0]) < 1e-3:
            continue
        if (s == "L") != (p[0] < 0):
            bad.append(f"{n} (x={p[0] * 1e3:+.1f} mm)")
    if not bad:
        return []
    return [f"{source}: {len(bad)} contact(s) whose Left/Right name disagrees with the sign of x: "
            + ", ".join(bad[:6])]


def _find_subject(subjects_dir: Path) -> str:
    subs = sorted(p.parent.parent.parent.name for p in subjects_dir.glob("*/mri/transforms/talairach.xfm"))
    if len(subs) != 1:
        raise InputError(f"expected one FreeSurfer subject with mri/transforms/talairach.xfm, found {subs}; "
                         "set the 'subject' parameter", subjects_dir)
    return subs[0]


def _read_electrodes_fif(path: Path, *, trans, subjects_dir, subject) -> Electrodes:
    import mne

    from .read import _read_raw

    raw = _read_raw(path)
    montage = raw.get_montage()
    if montage is None:
        raise InputError("file has no contact positions (no montage)", path)
    subjects_dir = Path(subjects_dir) if subjects_dir else path.parent
    subject = subject or _find_subject(subjects_dir)
    quirks: list[str] = []
    frame = montage.get_positions()["coord_frame"]
    try:
        if frame == "head":
            if trans is None:
                head_mri_t = mne.coreg.estimate_head_mri_t(subject, subjects_dir, verbose="error")
                quirks.append("head->MRI transform estimated from fsaverage fiducials through talairach.xfm "
                              "(mne.coreg.estimate_head_mri_t): expect errors of a few mm")
            else:
                head_mri_t = mne.read_trans(trans, verbose="error")
            montage.apply_trans(head_mri_t)
        elif frame != "mri":
            raise InputError(f"contacts are in {frame!r} coordinates; expected head or mri", path)
        mri_pos = montage.get_positions()["ch_pos"]
        mri_mni_t = mne.read_talxfm(subject, subjects_dir, verbose="error")
        montage.apply_trans(mri_mni_t)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - MNE/FreeSurfer file errors
        raise InputError(f"cannot bring contacts to MNI ({one_line(exc)})", path) from None
    quirks.append("MNI via the subject's talairach.xfm (MNI305; within a few mm of MNI152)")
    ch_pos = montage.get_positions()["ch_pos"]
    types = dict(zip(raw.ch_names, raw.get_channel_types()))
    names = [n for n in ch_pos if types.get(n) in INTRACRANIAL_TYPES]
    if not names:
        raise InputError("no intracranial (seeg/ecog/dbs) contacts with positions", path)
    return Electrodes(
        names=names, positions=np.array([ch_pos[n] for n in names]), quirks=quirks, source=str(path),
        mri_positions=np.array([mri_pos[n] for n in names]), subject=subject, subjects_dir=subjects_dir,
        ch_types=[types[n] for n in names],
    )
