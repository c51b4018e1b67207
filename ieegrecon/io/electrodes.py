"""Electrode contact positions, always in MNI metres (``coord_frame='mni'``).

From a BIDS ``electrodes.tsv`` (with or without its ``coordsystem.json``), a
BIDS session folder holding one, or a FIF file whose contacts are in head
coordinates plus the subject's FreeSurfer ``talairach.xfm`` (MNE's sEEG
tutorial route: head -> MRI with ``mne.coreg.estimate_head_mri_t`` or a given
``-trans.fif``, then MRI -> MNI with ``mne.read_talxfm``). Labels are checked
against the sign of x (:func:`side_quirks`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..channels import BIDS_TYPES, non_contact_type
from ..errors import InputError
from ..recording import INTRACRANIAL_TYPES
from .read import open_raw
from .sidecars import check_field, json_object, read_channels_tsv
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
    """An ``*_electrodes.tsv`` (with its coordsystem.json) as MNI metres: table, space, units, quirks."""
    df, names, xyz = _read_table(path)
    quirks: list[str] = []
    if path.read_bytes()[:3] == b"\xef\xbb\xbf":
        quirks.append(f"{path.name}: starts with a UTF-8 byte-order mark (read as text; the first column is 'name')")
    units, system = _coordinate_units(path, quirks)
    pos = _to_metres(xyz, units, path, quirks)
    pos = _mni305_to_mni152(pos, system, path, quirks)
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
        types = [non_contact_type(n, t) for n, t in zip(names, types)]
        keep = [t not in ("eeg", "ecg") for t in types]
        if not all(keep):  # HUP lists its scalp electrodes and EKG (no coordinates) among the contacts
            gone = [n for n, k in zip(names, keep) if not k]
            quirks.append(f"{path.name}: {len(gone)} row(s) are scalp electrodes or ECG leads by name "
                          f"({' '.join(gone[:6])}{' ...' if len(gone) > 6 else ''}), not contacts: left out")
            quirks[:] = [q for q in quirks if "row(s) without coordinates" not in q
                         or not np.all(np.isfinite(pos[np.array(keep)]))]
            df, pos = df[np.array(keep)].reset_index(drop=True), pos[np.array(keep)]
            names, types = [n for n, k in zip(names, keep) if k], [t for t, k in zip(types, keep) if k]
    extra = df.drop(columns=["name", "x", "y", "z"])
    return Electrodes(names=names, positions=pos, quirks=quirks, source=str(path), table=extra, ch_types=types)


def _read_table(path: Path):
    """The electrodes table, its contact names and x/y/z (NaN for ``n/a``), shape (n_contacts, 3).

    Raises
    ------
    InputError
        Unreadable table; missing columns; non-numeric, infinite or no
        finite coordinates; an empty or duplicate contact name.
    """
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
    return df, names, xyz


def _coordinate_units(path: Path, quirks: list[str]) -> tuple[str | None, str | None]:
    """Check that the table's coordinates are MNI (coordsystem.json, its sidecar or ``space-``); their units.

    Returns
    -------
    units : str | None
        The units the coordsystem.json gives (None: not given).
    system : str | None
        Its coordinate system, else the file name's ``space-`` entity.

    Raises
    ------
    InputError
        An unreadable coordsystem.json, a field of the wrong type, or
        coordinates not in an MNI-like space.
    """
    space = re.search(r"_space-([A-Za-z0-9]+)", path.name)
    prefix = path.name.split("_electrodes.tsv")[0]
    cs_files = sorted(path.parent.glob(f"{prefix}_coordsystem.json")) or sorted(path.parent.glob("*_coordsystem.json"))
    if not cs_files:
        _infer_mni(path, space, quirks)
        return None, space.group(1) if space else None
    try:
        cs = json.loads(cs_files[0].read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable coordsystem.json ({one_line(exc)})", cs_files[0]) from None
    cs = json_object(cs, cs_files[0])
    for key in ("iEEGCoordinateSystem", "EEGCoordinateSystem", "iEEGCoordinateUnits", "EEGCoordinateUnits"):
        check_field(cs, key, cs_files[0])
    system = cs.get("iEEGCoordinateSystem") or cs.get("EEGCoordinateSystem")
    units = cs.get("iEEGCoordinateUnits") or cs.get("EEGCoordinateUnits")
    if not (system and MNI_SYSTEMS.match(system)):
        if space and MNI_SYSTEMS.match(space.group(1)):
            quirks.append(f"{cs_files[0].name}: coordinate system {system!r}, but the file name says "
                          f"space-{space.group(1)}: read as MNI")
        else:
            raise InputError(f"coordinates are in {system!r}, not an MNI template space; "
                             "give a FIF with talairach.xfm instead", path)
    return units, system or (space.group(1) if space else None)


def _infer_mni(path: Path, space: re.Match | None, quirks: list[str]) -> None:
    """Without coordsystem.json: MNI only when the table's JSON sidecar or its ``space-`` entity says so."""
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


def _to_metres(xyz: np.ndarray, units: str | None, path: Path, quirks: list[str]) -> np.ndarray:
    """Coordinates in metres; units inferred from the values when none are given (said in a quirk).

    Raises
    ------
    InputError
        Unknown units, or coordinates beyond 0.2 m (outside any head).
    """
    finite = xyz[np.all(np.isfinite(xyz), axis=1)]
    span = float(np.max(np.abs(finite))) if finite.size else 0.0
    if units is None:
        units = "mm" if span > 1.0 else "m"
        quirks.append(f"{path.name}: no coordinate units given; {units} inferred from the values (max |coord| {span:g})")
    scale = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}.get(str(units).lower())
    if scale is None:
        raise InputError(f"unknown coordinate units {units!r}", path)
    if scale == 1.0 and 1.0 < span <= 200.0:  # HUP (ds004100): coordsystem.json says m, the values are mm
        quirks.append(f"{path.name}: coordsystem.json declares metres but the values are millimetres "
                      f"(max |coord| {span:g}; no head is {span:g} m wide): read as mm")
        scale = 1e-3
    if span * scale > 0.2:
        raise InputError(f"coordinates up to {span:g} {units} are outside any head; wrong units?", path)
    return xyz * scale


#: FreeSurfer's affine from MNI305 (fsaverage's surface RAS, ``space-fsaverage``) to MNI152, in mm
#: (FreeSurfer wiki, CoordinateSystems: "MNI305 to MNI152"); shifts are at most a few mm.
MNI305_TO_MNI152 = np.array([[1.0022, 0.0071, -0.0177, 0.0528],
                             [-0.0146, 0.9990, 0.0027, -1.5519],
                             [0.0129, 0.0094, 1.0027, -1.2012],
                             [0.0, 0.0, 0.0, 1.0]])
#: Coordinate systems that are MNI305 (FreeSurfer's fsaverage / talairach space), converted to MNI152.
MNI305_SYSTEMS = re.compile(r"^(fsaverage|MNI305)", re.IGNORECASE)


def mni305_to_mni152(pos: np.ndarray, inverse: bool = False) -> np.ndarray:
    """MNI305 (fsaverage) positions in metres to MNI152 (or back with ``inverse``), shape (n, 3)."""
    aff = np.linalg.inv(MNI305_TO_MNI152) if inverse else MNI305_TO_MNI152
    mm = np.asarray(pos, float) * 1e3
    return (mm @ aff[:3, :3].T + aff[:3, 3]) * 1e-3


def _mni305_to_mni152(pos: np.ndarray, system: str | None, path: Path, quirks: list[str]) -> np.ndarray:
    """Positions converted from MNI305 to MNI152 when ``system`` is fsaverage/MNI305 (said in a quirk)."""
    if not system or not MNI305_SYSTEMS.match(system):
        return pos
    out = mni305_to_mni152(pos)
    shift = np.linalg.norm(out - pos, axis=1)
    shift = shift[np.isfinite(shift)]
    quirks.append(f"{path.name}: coordinates in {system} (MNI305): converted to MNI152 with FreeSurfer's "
                  f"MNI305->MNI152 affine (shift up to {1e3 * float(shift.max(initial=0.0)):.1f} mm)")
    return out


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

    raw = open_raw(path)
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
