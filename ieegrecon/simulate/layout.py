"""Read electrode layouts to simulate on: a BIDS root, a BIDS session folder or an electrodes.tsv.

A :class:`Layout` is what the simulator needs of a real implantation: the
intracranial contacts (names, MNI positions, anatomical labels if given) and
the scalp channel set (names as the layout writes them). Layouts are read,
never written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..channels import normalize_ch_name, scalp_1020_name
from ..errors import InputError

#: Scalp channel set used when a layout gives no scalp channels: the 19
#: electrodes of the 10-20 system with the old names ds004752 uses.
DEFAULT_SCALP_NAMES = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz",
    "C4", "T4", "T5", "P3", "Pz", "P4", "T6", "O1", "O2",
)


@dataclass
class Layout:
    """One real electrode layout.

    Attributes
    ----------
    name : str
        Short name (``'sub-01'`` or the file stem).
    electrodes_tsv : Path
        The electrodes.tsv the contacts come from.
    contact_names : list of str
        Contact names, as in the file.
    contact_pos : ndarray, shape (n_contacts, 3)
        Contact positions in MNI (m).
    anatomical : list of str | None
        ``AnatomicalLocation`` column if present.
    scalp_names : list of str
        Scalp channel names as the layout writes them (e.g. ``T3``).
    scalp_norm : list of str
        Their ``colin27_1005`` names (:func:`ieegrecon.channels.normalize_ch_name`).
    extra_columns : dict
        Other electrodes.tsv columns to copy (e.g. ``size``), name -> values.
    notes : list of str
        What was unusual (dropped contacts, default scalp set...).
    channel_rows : dict | None
        The iEEG ``channels.tsv`` rows (name -> row), in file order: HUP's
        status and ``status_description`` (seizure onset, resected), copied by
        :mod:`ieegrecon.simulate.forms`.
    epoched : bool
        The layout's ``*_ieeg.json`` says ``RecordingType: epoched`` (ds004752).
    """

    name: str
    electrodes_tsv: Path
    contact_names: list[str]
    contact_pos: np.ndarray
    anatomical: list[str] | None
    scalp_names: list[str]
    scalp_norm: list[str]
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    channel_rows: dict[str, dict[str, str]] | None = None
    epoched: bool = False


def load_layouts(path: str | Path) -> list[Layout]:
    """Read every layout under ``path``.

    Parameters
    ----------
    path : path-like
        A BIDS root (one layout per ``sub-*``: its first session with an
        ``ieeg/*_electrodes.tsv``), a subject or session folder, a folder
        holding an ``*electrodes.tsv``, or an ``electrodes.tsv`` itself.

    Returns
    -------
    list of Layout
        Sorted by subject.

    Raises
    ------
    InputError
        Path missing, no electrodes.tsv found, or a file lacks name/x/y/z.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("layout path does not exist", path)
    if path.is_file():
        return [_read_layout(path, None, path.stem.replace("_electrodes", ""))]
    subjects = sorted(p for p in path.glob("sub-*") if p.is_dir())
    if subjects:
        out = [lay for s in subjects if (lay := _layout_from_folder(s, s.name)) is not None]
    else:
        lay = _layout_from_folder(path, _subject_name(path))
        out = [lay] if lay is not None else []
    if not out:
        raise InputError("no electrodes.tsv found (expected a BIDS root, a session folder or an electrodes.tsv)", path)
    return out


def _subject_name(folder: Path) -> str:
    for part in reversed(folder.resolve().parts):
        if part.startswith("sub-"):
            return part
    return folder.name or "layout"


def _layout_from_folder(folder: Path, name: str) -> Layout | None:
    sessions = sorted(p for p in folder.glob("ses-*") if p.is_dir()) or [folder]
    for ses in sessions:
        tsvs = sorted(ses.glob("ieeg/*electrodes.tsv")) or sorted(ses.glob("*electrodes.tsv"))
        if tsvs:
            ieeg_chans = sorted(ses.glob("ieeg/*_channels.tsv"))
            ieeg_chans.sort(key=lambda p: "task-interictal" not in p.name)  # HUP: the interictal runs first
            chans = sorted(ses.glob("eeg/*_channels.tsv")) or ieeg_chans  # HUP: scalp names among the iEEG's
            lay = _read_layout(tsvs[0], chans[0] if chans else None, name)
            if ieeg_chans:
                df = _read_tsv(ieeg_chans[0])
                if "name" in df.columns:
                    lay.channel_rows = {str(r["name"]).strip(): {k: str(v) for k, v in r.items()}
                                        for r in df.to_dict("records")}
            lay.epoched = any(_epoched(js) for js in ses.glob("ieeg/*_ieeg.json"))
            return lay
    return None


def _epoched(js: Path) -> bool:
    try:
        meta = json.loads(js.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and str(meta.get("RecordingType", "")).lower() == "epoched"


def _read_tsv(path: Path):
    """The table as strings (pandas DataFrame); a byte-order mark before the header is dropped."""
    import pandas as pd

    try:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read as a TSV table ({type(exc).__name__})", path) from None


def _units_scale(tsv: Path, xyz: np.ndarray, notes: list[str]) -> float:
    """Metres per file unit: from a sibling coordsystem.json, else from the magnitudes.

    Declared metres holding millimetres (HUP, ds004100) are read as mm, said in ``notes``.
    """
    span = float(np.nanmax(np.abs(xyz)))
    for js in sorted(tsv.parent.glob("*coordsystem.json")):
        try:
            units = json.loads(js.read_text(encoding="utf-8-sig")).get("iEEGCoordinateUnits", "")
        except (OSError, ValueError, AttributeError):
            continue
        if units == "m" and span > 1.0:
            notes.append(f"{js.name} declares metres but the values are millimetres: read as mm")
            return 1e-3
        if units in ("m", "mm", "cm"):
            return {"m": 1.0, "mm": 1e-3, "cm": 1e-2}[units]
    return 1.0 if span < 0.3 else 1e-3


def _read_layout(tsv: Path, channels_tsv: Path | None, name: str) -> Layout:
    df = _read_tsv(tsv)
    cols = {c.strip().lower(): c for c in df.columns}
    missing = [c for c in ("name", "x", "y", "z") if c not in cols]
    if missing:
        raise InputError(f"electrodes table lacks column(s) {missing}; it needs name, x, y, z", tsv)
    names = [str(n).strip() for n in df[cols["name"]]]
    xyz = np.array([[_num(v) for v in df[cols[c]]] for c in ("x", "y", "z")]).T
    keep = np.all(np.isfinite(xyz), axis=1)
    notes = []
    if not keep.any():
        raise InputError("no contact has numeric x/y/z", tsv)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} contacts without numeric x/y/z were left out")
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InputError(f"duplicate contact names {dups[:5]}", tsv)
    scale = _units_scale(tsv, xyz[keep], notes)
    pos = xyz[keep] * scale
    if re.search(r"_space-(fsaverage|MNI305)", tsv.name, re.IGNORECASE):  # MNI305 -> MNI152 (HUP)
        from ..io.electrodes import mni305_to_mni152

        pos = mni305_to_mni152(pos)
        notes.append("space-fsaverage (MNI305): converted to MNI152")
    idx = np.flatnonzero(keep)
    anat_col = next((df.columns[i] for i, c in enumerate(df.columns) if c.strip() == "AnatomicalLocation"), None)
    anat = [str(df[anat_col].iloc[i]) for i in idx] if anat_col else None
    extra = {c: [str(df[c].iloc[i]) for i in idx] for c in df.columns
             if c.strip().lower() not in ("name", "x", "y", "z") and c != anat_col}
    scalp_names, scalp_norm = _scalp_set(channels_tsv, notes)
    return Layout(name=name, electrodes_tsv=tsv, contact_names=[names[i] for i in idx],
                  contact_pos=pos, anatomical=anat, scalp_names=scalp_names,
                  scalp_norm=scalp_norm, extra_columns=extra, notes=notes)


def _num(v: str) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _scalp_set(channels_tsv: Path | None, notes: list[str]) -> tuple[list[str], list[str]]:
    from .forward import colin27_positions

    def usable(names: list[str]) -> tuple[list[str], list[str]]:
        raw, norm = [], []
        for n in names:
            m = normalize_ch_name(n)
            try:
                colin27_positions([m])
            except KeyError:
                continue
            if m not in norm:
                raw.append(n)
                norm.append(m)
        return raw, norm

    if channels_tsv is not None:
        df = _read_tsv(channels_tsv)
        cols = {c.strip().lower(): c for c in df.columns}
        if "name" not in cols:
            raise InputError("channels table lacks a 'name' column", channels_tsv)
        names = [str(n).strip() for n in df[cols["name"]]]
        if "type" in cols:
            typed = [n for n, t in zip(names, df[cols["type"]]) if str(t).strip().upper() == "EEG"]
            # HUP: the scalp electrodes are typed SEEG among the contacts: found by name
            names = typed or [n for n in names if scalp_1020_name(n)]
        raw, norm = usable(names)
        if len(raw) < len(names):
            notes.append(f"{len(names) - len(raw)} scalp channels of {channels_tsv.name} have no 10-05 position and were left out")
        if len(raw) >= 3:
            return raw, norm
        notes.append(f"{channels_tsv.name} gives fewer than 3 usable scalp channels; using the 19 10-20 channels")
    else:
        notes.append("no scalp channel list; using the 19 10-20 channels with old names (T3/T4/T5/T6)")
    return usable(list(DEFAULT_SCALP_NAMES))
