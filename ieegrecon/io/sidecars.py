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
