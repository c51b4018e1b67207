"""What every method of a test subject is scored against: the montage, its targets and the IED references.

Models are calibrated on, and predict, the contacts as recorded. Before
scoring, targets and surrogates are re-referenced the same way
(``cfg.ieeg_reference``, :func:`ieegrecon.montages.rereference`); a bipolar
channel takes the region, depth class and distance of its first contact.
The detector's scores on the true iEEG and on the scalp alone
(:func:`ieegrecon.evaluation.events.reference_columns`) are computed once
per subject and repeated on every method's rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..montages import rereference
from .config import EvalConfig
from .data import Subject
from .events import channel_detections, channel_truth, read_truth, reference_columns, scores


@dataclass
class Scoring:
    """One test subject's scored channels.

    Attributes
    ----------
    names : list of str
        Scored channels (contacts, or bipolar pairs ``'A1-A2'``).
    members : list of tuple of int
        Recorded contacts of each scored channel (indices into the subject's contacts).
    y_true : ndarray, shape (n_channels, n_times)
        Test targets in the montage (V).
    truth : list of ndarray | None
        Ground-truth IED onsets (s) per channel; None: no ground truth.
    ied_reference : dict of str -> ndarray, shape (n_channels,)
        The detector's scores on the true iEEG and on the scalp alone.
    """

    names: list[str]
    members: list[tuple[int, ...]]
    y_true: np.ndarray
    truth: list[np.ndarray] | None
    ied_reference: dict[str, np.ndarray]

    @property
    def region_rows(self) -> list[int]:
        """Row of the subject's region table each channel takes its region from (its first contact)."""
        return [m[0] for m in self.members]


def montage(sub: Subject, data: np.ndarray, cfg: EvalConfig) -> np.ndarray:
    """``data`` (n_contacts, n_times), contacts as recorded, in the montage ``cfg.ieeg_reference``."""
    return rereference(sub.test.contacts.ch_names, data, cfg.ieeg_reference)[1]


def scoring(sub: Subject, cfg: EvalConfig) -> Scoring:
    """The subject's :class:`Scoring` (computed once, kept on ``sub.scoring``)."""
    if sub.scoring is not None:
        return sub.scoring
    contacts = sub.test.contacts.ch_names
    names, y_true, members = rereference(contacts, sub.test.ieeg, cfg.ieeg_reference)
    fs = sub.test.sfreq
    truth = None
    if cfg.ied:
        gt = read_truth(sub.test_session, sub.test_offset / fs, sub.test.ieeg.shape[1] / fs)
        truth = channel_truth(gt, contacts, members) if gt is not None and len(gt[0]) else None
    line = cfg.prep.line_freq
    ref = reference_columns(truth, y_true, sub.test.scalp, fs, line)
    sub.scoring = Scoring(names, members, y_true, truth, ref)
    return sub.scoring


def ied_columns(sc: Scoring, y_hat: np.ndarray, sfreq: float, cfg: EvalConfig) -> dict[str, np.ndarray]:
    """The IED columns of one surrogate ``y_hat`` (in the montage) and the subject's reference columns."""
    if sc.truth is None:
        own = scores([np.zeros(0)] * len(sc.names), None)
    else:
        own = scores(channel_detections(y_hat, sfreq, cfg.prep.line_freq), sc.truth)
    return {**own, **sc.ied_reference}
