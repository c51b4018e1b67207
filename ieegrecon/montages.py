"""Re-referencing of iEEG: shafts, bipolar and common-average montages, the recorded reference.

Used by the simulator (world v2 records iEEG with a common intracranial
reference, :func:`reference_weights`) and by the evaluation, which scores
targets and surrogates in the same montage (:func:`rereference`).
"""

from __future__ import annotations

import re

import numpy as np

from ._checks import check_option

_SHAFT = re.compile(r"^(.*?)(\d+)$")


def shaft_of(name: str) -> tuple[str, int]:
    """``'mAHL3'`` -> ``('mAHL', 3)``; a name without trailing digits is its own shaft (index 0)."""
    m = _SHAFT.match(name.strip())
    return (m.group(1), int(m.group(2))) if m else (name.strip(), 0)


def shafts(ch_names: list[str]) -> dict[str, list[int]]:
    """Shaft name -> channel indices ordered by contact number."""
    out: dict[str, list[tuple[int, int]]] = {}
    for i, n in enumerate(ch_names):
        s, k = shaft_of(n)
        out.setdefault(s, []).append((k, i))
    return {s: [i for _, i in sorted(v)] for s, v in out.items()}


def bipolar(ch_names: list[str], data: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Bipolar montage: differences of adjacent contacts on each shaft.

    Parameters
    ----------
    ch_names : list of str
        Contact names (``<shaft><number>``).
    data : ndarray, shape (n_contacts, n_times)
        Any common reference (V).

    Returns
    -------
    names : list of str
        ``'A1-A2'`` style names, shaft by shaft.
    data : ndarray, shape (n_pairs, n_times)
        ``x[k] - x[k+1]`` for consecutive contact numbers.
    """
    names, rows = [], []
    for idx in shafts(ch_names).values():
        for a, b in zip(idx[:-1], idx[1:]):
            names.append(f"{ch_names[a]}-{ch_names[b]}")
            rows.append(data[a] - data[b])
    return names, (np.vstack(rows) if rows else np.zeros((0, data.shape[1])))


def common_average(ch_names: list[str], data: np.ndarray, per_shaft: bool = False) -> np.ndarray:
    """Common-average reference over all contacts (or per shaft), shape of ``data``."""
    if not per_shaft:
        return data - data.mean(axis=0, keepdims=True)
    out = np.empty_like(data)
    for idx in shafts(ch_names).values():
        out[idx] = data[idx] - data[idx].mean(axis=0, keepdims=True)
    return out


def reference_weights(ch_names: list[str], data: np.ndarray | None, kind: str,
                      rms: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Weights ``w`` of the recorded reference ``w @ data`` and its description.

    ``kind='shaft'``: the average of the contacts of the quietest shaft
    (lowest mean RMS; shafts of at least two contacts); ``'contact'``: the
    quietest contact; ``'infinity'``: zeros. ``rms`` (n_contacts,) replaces
    the RMS of ``data`` (the simulator passes an expected RMS from the forward
    model, known before the signals are).
    """
    w = np.zeros(len(ch_names))
    if kind == "infinity":
        return w, "none: potentials relative to infinity (ideal distant reference)"
    rms = data.std(axis=1) if rms is None else np.asarray(rms, float)
    if kind == "contact":
        k = int(np.argmin(rms))
        w[k] = 1.0
        return w, f"common intracranial reference: contact {ch_names[k]} (quietest contact)"
    groups = {s: i for s, i in shafts(ch_names).items() if len(i) >= 2} or shafts(ch_names)
    name = min(groups, key=lambda s: rms[groups[s]].mean())
    w[groups[name]] = 1.0 / len(groups[name])
    return w, f"common intracranial reference: average of the contacts of shaft {name} (quietest shaft)"


#: Reference schemes of :func:`rereference`.
SCHEMES = ("recorded", "bipolar", "average")


def rereference(ch_names: list[str], data: np.ndarray, scheme: str
                ) -> tuple[list[str], np.ndarray, list[tuple[int, ...]]]:
    """``data`` in the montage ``scheme``, with the recorded contacts each output channel is made of.

    Parameters
    ----------
    ch_names : list of str
        Contact names (``<shaft><number>``).
    data : ndarray, shape (n_contacts, n_times)
        Signals as recorded (V).
    scheme : str
        ``'recorded'`` (unchanged), ``'bipolar'`` (adjacent contacts of each
        shaft, :func:`bipolar`) or ``'average'`` (common average of all
        contacts, :func:`common_average`).

    Returns
    -------
    names : list of str
    data : ndarray, shape (n_out, n_times)
    members : list of tuple of int
        Indices into ``ch_names`` of the contacts of each output channel (a
        bipolar pair has two; the other schemes one, the channel itself).
    """
    if scheme == "recorded":
        return list(ch_names), data, [(i,) for i in range(len(ch_names))]
    if scheme == "average":
        return list(ch_names), common_average(ch_names, data), [(i,) for i in range(len(ch_names))]
    if scheme == "bipolar":
        names, out = bipolar(ch_names, data)
        members = [(a, b) for idx in shafts(ch_names).values() for a, b in zip(idx[:-1], idx[1:])]
        return names, out, members
    check_option("scheme", scheme, SCHEMES)
    raise AssertionError("unreachable")  # pragma: no cover
