"""A test subject's data: BIDS discovery, the calibration and test segments, the test cap.

Two sessions: calibrate on ``ses-01``, test on ``ses-02`` (the channels both
share). One session: test on the part after the largest calibration length,
or after ``limit_minutes`` when at least 10 s remain after it (so every
length and the ridge-limit ceiling are tested on the same samples); the
confidence tail stops where the test part starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..models.base import ContactInfo, PairedSegment
from ..workflow.inputs import contact_info, load_paired_recordings, make_segment_pieces, map_regions
from ..workflow.pieces import shift_bounds, snap_to_piece
from .config import EvalConfig

#: Shortest test part (s) a single-session subject must keep after its calibration data.
MIN_TEST_S = 10.0


@dataclass
class Subject:
    """One test subject's preprocessed data (see :func:`load_subject`).

    Attributes
    ----------
    label : str
        Subject label without ``sub-``.
    cal, test : PairedSegment
        Calibration session and test part, on the same scalp channels and contacts.
    test_offset : int
        Samples of the test part within its session (single-session protocol).
    cal_stop : int
        Samples of the calibration session usable (the confidence tail stops here).
    regions : pandas.DataFrame
        Contact regions, rows in ``cal.contacts`` order.
    test_session : Path
        Session folder of the test part.
    single_session : bool
    notes : list of str
        What was adapted (missing contacts, the single-session split, the test cap).
    scoring : Scoring | None
        Scored channels and IED references, set on first use by
        :func:`ieegrecon.evaluation.scoring.scoring`.
    cal_bounds, test_bounds : list of (int, int)
        Pieces (trials, EDF+D segments) of ``cal`` and ``test`` in samples,
        tiling each; empty or one piece for a continuous recording.
    """

    label: str
    cal: PairedSegment
    test: PairedSegment
    test_offset: int
    cal_stop: int
    regions: Any
    test_session: Path
    single_session: bool
    notes: list[str]
    scoring: Any = None
    cal_bounds: list = field(default_factory=list)
    test_bounds: list = field(default_factory=list)


def discover_subjects(root: str | Path) -> dict[str, list[Path]]:
    """BIDS subjects with paired data and their session folders (sorted).

    A session is paired when it holds ``eeg/`` + ``ieeg/`` or one mixed iEEG
    file with the scalp electrodes among its channels (HUP, OpenNeuro
    ds004100; :func:`ieegrecon.io.bids.paired_session`). A HUP subject's
    runs sit in one session folder, of which only the first (interictal) run
    is read, so it is tested by the single-session protocol.

    Parameters
    ----------
    root : path-like
        BIDS root.

    Returns
    -------
    dict of subject label (no ``sub-``) -> list of session folders

    Raises
    ------
    InputError
        No paired session.
    """
    from ..io.bids import find_sessions, paired_session

    out: dict[str, list[Path]] = {}
    for s in find_sessions(root):
        if paired_session(s):
            sub = (s.parent if s.name.startswith("ses-") else s).name.removeprefix("sub-")
            out.setdefault(sub, []).append(s)
    if not out:
        raise InputError("no BIDS session holds both eeg/ and ieeg/ (or one file with scalp and "
                         "intracranial channels)", root)
    return {k: sorted(v) for k, v in sorted(out.items())}


def read_session(path: Path, cfg: EvalConfig, subject: str) -> tuple[PairedSegment, Any, list[tuple[int, int]]]:
    """One session folder as a preprocessed segment, its contact regions (:func:`ieegrecon.atlas` table)
    and its pieces (:func:`~ieegrecon.workflow.inputs.make_segment_pieces`)."""
    scalp, intra = load_paired_recordings(path)
    regions = map_regions(intra, cfg.atlas)
    seg, bounds = make_segment_pieces(scalp, intra, contact_info(intra, regions), cfg.prep, subject)
    return seg, regions, bounds


def _common(seg: PairedSegment, scalp_names: list[str], contacts: list[str]) -> PairedSegment:
    """``seg`` restricted to ``scalp_names`` and ``contacts``, in that order."""
    si = [seg.scalp_names.index(n) for n in scalp_names]
    ci = [seg.contacts.ch_names.index(n) for n in contacts]
    c = seg.contacts.subset(ci)
    return PairedSegment(seg.scalp[si], seg.ieeg[ci], seg.sfreq, list(scalp_names),
                         ContactInfo(c.ch_names, c.positions, c.regions, c.depth_class), seg.subject)


def load_subject(label: str, sessions: list[Path], cfg: EvalConfig) -> Subject:
    """Read and preprocess one subject's calibration and test data (see the module's protocol).

    Parameters
    ----------
    label : str
        Subject label without ``sub-``.
    sessions : list of Path
        The subject's session folders, sorted (:func:`discover_subjects`).
    cfg : EvalConfig

    Returns
    -------
    Subject

    Raises
    ------
    InputError
        The sessions share no scalp channel or no contact, or a single session
        leaves less than :data:`MIN_TEST_S` for testing.
    """
    cal, regions, bounds = read_session(sessions[0], cfg, label)
    if len(sessions) >= 2:
        sub = _two_sessions(label, cal, regions, sessions[1], cfg)
    else:
        sub = _one_session(label, cal, regions, sessions[0], cfg, bounds)
    sub.cal_bounds = bounds
    return cap_test(sub, cfg)


def _two_sessions(label: str, cal: PairedSegment, regions, test_session: Path, cfg: EvalConfig) -> Subject:
    """Calibrate on the first session, test on the second, on the channels both share."""
    test, _, test_bounds = read_session(test_session, cfg, label)
    notes: list[str] = []
    scalp = [n for n in cal.scalp_names if n in test.scalp_names]
    contacts = [n for n in cal.contacts.ch_names if n in test.contacts.ch_names]
    if not scalp or not contacts:
        raise InputError("calibration and test sessions share no scalp channel or no contact", test_session)
    if len(contacts) < len(cal.contacts.ch_names):
        notes.append(f"{len(cal.contacts.ch_names) - len(contacts)} contacts absent from the test session")
    regions = regions.set_index("name").loc[contacts].reset_index()
    return Subject(label, _common(cal, scalp, contacts), _common(test, scalp, contacts), 0,
                   cal.scalp.shape[1], regions, test_session, False, notes, test_bounds=test_bounds)


def _one_session(label: str, cal: PairedSegment, regions, session: Path, cfg: EvalConfig,
                 bounds: list[tuple[int, int]] | None = None) -> Subject:
    """Test on the part after the largest calibration length, or after the ridge limit if it fits
    (both snapped to a piece boundary of an epoched session)."""
    fs, bounds = cal.sfreq, bounds or []
    start = snap_to_piece(int(round(max(cfg.calibration_minutes) * 60 * fs)), bounds)
    n = cal.scalp.shape[1]
    if n - start < MIN_TEST_S * fs:
        raise InputError(f"single session of {n / fs / 60:.2f} min leaves < 10 s after the largest "
                         f"calibration length ({max(cfg.calibration_minutes):g} min) for testing", session)
    if cfg.limit_minutes:  # the ridge-limit ceiling trains before the test part too: test after it if possible
        limit_stop = snap_to_piece(int(round(cfg.limit_minutes * 60 * fs)), bounds)
        if n - limit_stop >= MIN_TEST_S * fs:
            start = max(start, limit_stop)
    notes = [f"one session only: tested on the {(n - start) / fs / 60:.2f} min after {start / fs / 60:g} min"]
    return Subject(label, cal, cal.crop_samples(start, n), start, start, regions, session, True, notes,
                   test_bounds=shift_bounds(bounds, start, n))


def cap_test(sub: Subject, cfg: EvalConfig) -> Subject:
    """Keep the first ``cfg.test_minutes`` of the test part (see :class:`EvalConfig`)."""
    n_cap = capped_samples(cfg, sub.test.sfreq)
    if n_cap is not None and sub.test.scalp.shape[1] > n_cap:
        sub.notes.append(f"scored on the first {cfg.test_minutes:g} min of the test part "
                         f"({sub.test.scalp.shape[1] / sub.test.sfreq / 60:.2f} min available)")
        sub.test = sub.test.crop_samples(0, n_cap)
        sub.test_bounds = shift_bounds(sub.test_bounds, 0, n_cap)
    return sub


def capped_samples(cfg: EvalConfig, sfreq: float) -> int | None:
    """Samples of ``cfg.test_minutes`` at ``sfreq`` Hz (None: no cap)."""
    return None if not cfg.test_minutes else int(round(cfg.test_minutes * 60 * sfreq))


def fit_samples(sub: Subject, minutes: float) -> int:
    """Calibration samples of ``minutes``, snapped to a piece boundary of an epoched calibration session."""
    return snap_to_piece(int(round(minutes * 60 * sub.cal.sfreq)), sub.cal_bounds)


def predict_part(model, scalp, bounds: list[tuple[int, int]], sfreq: float):
    """Reconstruct a held-out part: chunked when continuous (:func:`~ieegrecon.workflow.chunking.predict_array`),
    piece by piece when in pieces (:func:`~ieegrecon.workflow.pieces.predict_pieces`).

    Parameters
    ----------
    model : ReconModel
    scalp : ndarray, shape (n_scalp, n_times)
        Preprocessed scalp EEG (V).
    bounds : list of (int, int)
        Pieces tiling ``[0, n_times)`` (empty or one: continuous).
    sfreq : float

    Returns
    -------
    ndarray, shape (n_contacts, n_times)
    """
    from ..workflow.chunking import predict_array
    from ..workflow.pieces import predict_pieces

    if len(bounds) <= 1:
        return predict_array(model, scalp, sfreq)
    return predict_pieces(model, scalp, bounds, sfreq)
