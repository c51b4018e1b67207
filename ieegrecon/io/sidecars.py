"""BIDS sidecars: ``*_channels.tsv`` tables and JSON sidecar fields.

Read by the signal reader (:mod:`ieegrecon.io.read`: channel types and
``status=bad`` next to a file), the session reader (:mod:`ieegrecon.io.bids`)
and the electrode reader (:mod:`ieegrecon.io.electrodes`). Tables are read
with pandas, every value as a string.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from .validate import one_line

#: Types of the BIDS sidecar fields ieegrecon reads (JSON ``null`` is always allowed).
SIDECAR_FIELDS: dict[str, tuple[type, ...]] = {
    "RecordingType": (str,), "EpochLength": (int, float), "SamplingFrequency": (int, float),
    "iEEGCoordinateSystem": (str,), "EEGCoordinateSystem": (str,),
    "iEEGCoordinateUnits": (str,), "EEGCoordinateUnits": (str,),
}


def bids_channels_tsv(path: Path) -> Path | None:
    """The BIDS ``*_channels.tsv`` that describes ``path``, if any.

    ``sub-01_ses-01_task-x_run-01_ieeg.edf`` -> ``sub-01_ses-01_task-x_run-01_channels.tsv``
    in the same folder.
    """
    m = re.match(r"^(sub-.+)_(eeg|ieeg)$", path.stem)
    if not m:
        return None
    cand = path.with_name(f"{m.group(1)}_channels.tsv")
    return cand if cand.is_file() else None


def read_channels_tsv(path: Path) -> dict[str, dict[str, str]]:
    """Rows of a BIDS ``channels.tsv`` keyed by name (all values as strings).

    Raises
    ------
    InputError
        If the table cannot be read, lacks ``name`` / ``type`` or repeats a name.
    """
    import pandas as pd

    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # noqa: BLE001 - pandas raises many types
        raise InputError(f"cannot read channels.tsv ({one_line(exc)})", path) from None
    if "name" not in df.columns or "type" not in df.columns:
        raise InputError("channels.tsv lacks a 'name' or 'type' column", path)
    df = df.fillna("")  # short rows
    names = [str(n) for n in df["name"]]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InputError(f"duplicate channel names {dups[:5]} in channels.tsv; names must be unique", path)
    return {str(r["name"]): {str(k): str(v) for k, v in r.items()} for r in df.to_dict("records")}


def channels_tsv_quirks(rows: dict[str, dict[str, str]], path: Path) -> list[str]:
    """Quirks of a BIDS channels table (swapped cutoffs...)."""
    quirks = []
    swapped = []
    for name, r in rows.items():
        try:
            lo, hi = float(r.get("low_cutoff", "n/a")), float(r.get("high_cutoff", "n/a"))
        except ValueError:
            continue
        if lo > hi > 0:
            swapped.append(name)
    if swapped:
        r = rows[swapped[0]]
        quirks.append(
            f"{path.name}: low_cutoff ({r['low_cutoff']}) > high_cutoff ({r['high_cutoff']}) for "
            f"{len(swapped)}/{len(rows)} channels: the columns are swapped (read as a "
            f"{r['high_cutoff']}-{r['low_cutoff']} Hz band-pass)"
        )
    return quirks


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


def check_field(meta: dict, key: str, path: Path) -> None:
    """Refuse a sidecar field of the wrong JSON type (numbers: finite, not booleans).

    Parameters
    ----------
    meta : dict
        The sidecar's JSON object.
    key : str
        A field of :data:`SIDECAR_FIELDS`.
    path : Path
        The sidecar (named in the message).

    Raises
    ------
    InputError
        ``"field 'SamplingFrequency' is "200" (str), expected a finite number"``.
    """
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


#: Words of a channels.tsv ``status_description`` that mark a clinically designated contact (HUP, ds004100).
CLINICAL_TERMS = {"soz": "seizure-onset zone", "resect": "resected", "ablat": "ablated",
                  "irritative": "irritative zone", "lesion": "lesion"}


def clinical_notes(orig: list[str], names: list[str], rows: dict[str, dict[str, str]]) -> dict[str, str]:
    """Contacts a channels.tsv ``status_description`` marks clinically (seizure onset, resected...).

    Parameters
    ----------
    orig, names : list of str
        Labels as in the file and as read (same order).
    rows : dict
        channels.tsv rows keyed by original name.

    Returns
    -------
    dict
        Read name -> ``'seizure-onset zone, resected'`` (HUP writes ``resect,soz``); channels without such a
        word are absent.
    """
    out = {}
    for o, n in zip(orig, names):
        desc = str(rows.get(o, {}).get("status_description", "")).lower()
        found = [v for k, v in CLINICAL_TERMS.items() if k in desc]
        if found:
            out[n] = ", ".join(found)
    return out


def bids_sidecar(path: Path, suffix: str) -> Path | None:
    """The BIDS sidecar ``<entities>_<suffix>`` of a signal file ``<entities>_eeg|ieeg.<ext>``, if present."""
    m = re.match(r"^(sub-.+)_(eeg|ieeg)$", path.stem)
    if not m:
        return None
    cand = path.with_name(f"{m.group(1)}_{suffix}")
    return cand if cand.is_file() else None


def epoch_boundaries(path: Path, sfreq: float, n_times: int) -> tuple[list[float], str | None]:
    """Trial boundaries of an epoched BIDS recording (trials joined end to end, OpenNeuro ds004752).

    Only when the JSON sidecar says ``RecordingType: epoched``. The trials are
    those of the ``events.tsv`` beside the file when they tile it (``begSample``
    / ``endSample``, 1-based: the first starts at sample 1, each starts where
    the previous ends, the last ends at the file's end); without an
    events.tsv, every ``EpochLength`` seconds when the file is a whole number
    of epochs. Anything else is read as continuous, with a quirk.

    Returns
    -------
    boundaries : list of float
        Seconds (sample time base) where trials 2, 3... start.
    quirk : str | None
        One line saying what was found (None when the file is not epoched).
    """
    m = re.match(r"^(sub-.+)_(eeg|ieeg)$", path.stem)
    js = bids_sidecar(path, f"{m.group(2)}.json") if m else None
    try:
        meta = json.loads(js.read_text(encoding="utf-8-sig")) if js is not None else {}
    except (OSError, ValueError):
        meta = {}
    if not isinstance(meta, dict) or str(meta.get("RecordingType", "")).lower() != "epoched":
        return [], None
    ev = bids_sidecar(path, "events.tsv")
    if ev is not None:
        starts, why = _event_trials(ev, n_times)
        src = ev.name
    else:
        epoch = meta.get("EpochLength")
        k = int(round(epoch * sfreq)) if isinstance(epoch, (int, float)) and epoch > 0 else 0
        ok = k > 0 and abs(n_times / k - round(n_times / k)) * k <= 1
        starts = np.arange(0, n_times - 1, k) if ok else None
        why, src = "no events.tsv and the file is not a whole number of EpochLength", js.name
    if starts is None:
        return [], f"{js.name}: RecordingType 'epoched', but {why}: read as continuous"
    bounds = [float(a) / sfreq for a in starts[1:]]
    lengths = np.diff(np.append(starts, n_times)) / sfreq
    size = f"{lengths[0]:g} s" if np.allclose(lengths, lengths[0]) else f"{lengths.min():g}-{lengths.max():g} s"
    return bounds, (f"epoched: {len(starts)} trials of {size} joined end to end (from {src}); filters, lags "
                    "and held-out splits stay within trials")


def _event_trials(ev: Path, n_times: int) -> tuple[np.ndarray | None, str]:
    """Trial starts (0-based samples) of an events.tsv whose begSample/endSample tile ``n_times``; else a reason."""
    import pandas as pd

    try:
        df = pd.read_csv(ev, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8-sig")
        beg = np.array([int(float(v)) for v in df["begSample"]]) - 1
        end = np.array([int(float(v)) for v in df["endSample"]])
    except (OSError, KeyError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None, f"{ev.name} has no readable begSample/endSample columns"
    if not len(beg) or beg[0] != 0 or np.any(beg[1:] != end[:-1]) or abs(int(end[-1]) - n_times) > 1:
        last = int(end[-1]) if len(end) else 0
        return None, (f"the trials of {ev.name} do not tile the file ({len(beg)} trials ending at sample "
                      f"{last}, the file has {n_times})")
    return beg, ""


def retyped_quirks(orig: list[str], types: list[str], bids_rows: dict[str, dict[str, str]]) -> list[str]:
    """One quirk per kind of channel the channels.tsv types intracranial but its name says scalp EEG or ECG.

    Parameters
    ----------
    orig, types : list of str
        Labels as in the file and the types the reader gave them.
    bids_rows : dict
        channels.tsv rows keyed by original label.
    """
    from ..channels import BIDS_TYPES

    quirks = []
    for kind, what in (("eeg", "10-20 scalp electrodes"), ("ecg", "ECG leads")):
        names = [o for o, t in zip(orig, types) if t == kind and o in bids_rows
                 and BIDS_TYPES.get(bids_rows[o]["type"].upper()) in ("seeg", "ecog", "dbs")]
        if names:
            declared = bids_rows[names[0]]["type"]
            quirks.append(f"{len(names)} channel(s) typed {declared} in channels.tsv are {what} by name "
                          f"({' '.join(names[:8])}{' ...' if len(names) > 8 else ''}): read as {kind}"
                          + (", kept out of both scalp and intracranial sides" if kind == "ecg" else ""))
    return quirks
