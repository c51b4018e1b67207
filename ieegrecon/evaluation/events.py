"""IED event metrics of the evaluation: ground truth of the test part, and the detector's scores.

One detector (:func:`ieegrecon.ied.detect_ieds`, Janča et al. 2015) runs
with the same settings on the true iEEG, on each method's surrogate and on
the scalp EEG alone, all in the montage being scored. Its detections are
matched against the simulator's ground truth (world v2 writes the IEDs to
the iEEG ``events.tsv``: onset and the contacts whose near-field peak is at
least 40 µV) within :data:`IED_TOL_S` of the onset (:func:`ieegrecon.ied.match_events`).

- A scored channel's reference events are the IEDs that list one of its
  contacts (a bipolar pair: either contact).
- Surrogate and true iEEG: each channel's own detections.
- Scalp alone: the detections of every scalp channel, merged across
  channels (within the detector's 120-ms union), count as detections on
  **every** contact: the scalp says that a discharge happened, not where.
  A scalp event therefore counts as a hit for every contact of the IED
  whose time it matches, and as a false detection on every other contact.
- IEDs within :data:`EDGE_S` of the test part's borders are not scored (the
  detector ignores its borders).

Subjects without ground-truth IEDs (world v1, real data, a test part
without discharges) get NaN in every IED column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..ied import detect_ieds, event_scores, match_events

#: Largest distance (s) between a detection and the ground-truth onset it matches.
IED_TOL_S = 0.1
#: Border (s) of the test part where nothing is scored (the detector's ``edge_s``).
EDGE_S = 1.0
#: Detections of different scalp channels closer than this (s) are one scalp event.
SCALP_UNION_S = 0.12
#: Score columns of a surrogate.
IED_COLS = ("ied_sensitivity", "ied_precision", "ied_f1")
#: The same scores of the detector on the true iEEG and on the scalp alone (same on every method's row).
IED_REF_COLS = tuple(f"{c}_{kind}" for kind in ("ieeg", "scalp") for c in IED_COLS)


def read_truth(test_session: Path, offset_s: float, duration_s: float
               ) -> tuple[np.ndarray, list[set[str]]] | None:
    """Ground-truth IEDs of a test part from the session's iEEG ``events.tsv``.

    Parameters
    ----------
    test_session : Path
        Session folder (``.../ses-YY``).
    offset_s : float
        Start of the test part within the session (s).
    duration_s : float
        Length of the test part (s).

    Returns
    -------
    onsets : ndarray, shape (n_events,)
        Onsets in test-part time (s), those within :data:`EDGE_S` of a border left out.
    contacts : list of set of str
        Contacts of each event.
    None
        No ``events.tsv`` or no IED in it (nothing to score against).
    """
    import pandas as pd

    files = sorted((Path(test_session) / "ieeg").glob("*_events.tsv"))
    if not files:
        return None
    df = pd.read_csv(files[0], sep="\t", dtype={"channels": str}, keep_default_na=False)
    if "trial_type" not in df or "channels" not in df:
        return None
    df = df[df["trial_type"] == "IED"]
    if not len(df):
        return None
    t = df["onset"].to_numpy(float) - offset_s
    keep = (t >= EDGE_S) & (t <= duration_s - EDGE_S)
    return t[keep], [set(str(c).split(",")) for c, k in zip(df["channels"], keep) if k]


def channel_truth(truth: tuple[np.ndarray, list[set[str]]], contact_names: list[str],
                  members: list[tuple[int, ...]]) -> list[np.ndarray]:
    """Reference onsets (s) of each scored channel: the IEDs listing one of its contacts."""
    onsets, contacts = truth
    out = []
    for mem in members:
        names = {contact_names[i] for i in mem}
        out.append(np.asarray([t for t, c in zip(onsets, contacts) if c & names], float))
    return out


def scores(detected: list[np.ndarray], truth: list[np.ndarray] | None) -> dict[str, np.ndarray]:
    """:data:`IED_COLS` per channel from detection times and reference onsets (NaN without truth)."""
    n = len(detected)
    out = {c: np.full(n, np.nan) for c in IED_COLS}
    if truth is None:
        return out
    for j, (det, ref) in enumerate(zip(detected, truth)):
        hits, correct = match_events(det, ref, IED_TOL_S)
        s, p, f = event_scores(len(ref), len(det), hits, correct)
        out["ied_sensitivity"][j], out["ied_precision"][j], out["ied_f1"][j] = s, p, f
    return out


def channel_detections(data: np.ndarray, sfreq: float, line_freq: float | None) -> list[np.ndarray]:
    """Detection times (s) per channel of ``data`` (n_channels, n_times), V."""
    ev = detect_ieds(data, sfreq, line_freq=line_freq, edge_s=EDGE_S)
    return [ev.times_of(j) for j in range(data.shape[0])]


def scalp_events(scalp: np.ndarray, sfreq: float, line_freq: float | None) -> np.ndarray:
    """Scalp IED times (s): every scalp channel's detections, merged across channels within
    :data:`SCALP_UNION_S` (the time of the largest envelope of each group)."""
    ev = detect_ieds(scalp, sfreq, line_freq=line_freq, edge_s=EDGE_S)
    if not len(ev):
        return np.zeros(0)
    order = np.argsort(ev.onset, kind="stable")
    t, e = ev.onset[order], ev.envelope[order]
    new = np.r_[True, np.diff(t) >= SCALP_UNION_S]
    cluster = np.cumsum(new) - 1
    best = np.lexsort((-e, cluster))
    first = np.r_[True, cluster[best][1:] != cluster[best][:-1]]
    return np.sort(t[best[first]])


def reference_columns(truth: list[np.ndarray] | None, y_true: np.ndarray, scalp: np.ndarray, sfreq: float,
                      line_freq: float | None) -> dict[str, np.ndarray]:
    """:data:`IED_REF_COLS` per scored channel: the detector on the true signals and on the scalp alone.

    Parameters
    ----------
    truth : list of ndarray | None
        Ground-truth IED onsets (s) per scored channel (:func:`channel_truth`); None: no ground truth.
    y_true : ndarray, shape (n_channels, n_times)
        True iEEG in the scored montage, V.
    scalp : ndarray, shape (n_scalp, n_times)
        Scalp EEG of the same samples, V.
    sfreq : float
        Hz.
    line_freq : float | None
        Line frequency notched by the detector (Hz).

    Returns
    -------
    dict of str -> ndarray, shape (n_channels,)
        ``ied_{sensitivity,precision,f1}_{ieeg,scalp}``; NaN without ground truth.
    """
    n = y_true.shape[0]
    if truth is None:
        return {c: np.full(n, np.nan) for c in IED_REF_COLS}
    out = {f"{k}_ieeg": v for k, v in scores(channel_detections(y_true, sfreq, line_freq), truth).items()}
    sc = scalp_events(scalp, sfreq, line_freq)
    out.update({f"{k}_scalp": v for k, v in scores([sc] * n, truth).items()})
    return out
