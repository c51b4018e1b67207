"""evaluation.data: subject discovery and the single-session split (test after the largest length or the limit)."""

import numpy as np
import pytest

from ieegrecon.errors import InputError
from ieegrecon.evaluation.config import EvalConfig
from ieegrecon.evaluation.data import discover_subjects, load_subject


def test_discover_subjects(cohort, tmp_path):
    subjects = discover_subjects(cohort)
    assert sorted(subjects) == ["01", "02"]
    assert [p.name for p in subjects["01"]] == ["ses-01", "ses-02"]
    with pytest.raises(InputError, match="no BIDS session"):
        discover_subjects(tmp_path)


def test_single_session_protocol(one_session):
    cfg = EvalConfig(methods=["ridge"], calibration_minutes=[0.1, 0.25], limit_minutes=None, oracle=False)
    sub = load_subject("01", [one_session / "sub-01" / "ses-01"], cfg)
    assert sub.single_session and any("one session only" in n for n in sub.notes)
    # 0.5 min session, tested after the LARGEST calibration length (0.25 min); no overlap with calibration
    start = int(0.25 * 60 * sub.cal.sfreq)
    assert sub.test_offset == start == sub.cal_stop
    assert sub.test.scalp.shape[1] == sub.cal.scalp.shape[1] - start
    np.testing.assert_array_equal(sub.test.ieeg, sub.cal.ieeg[:, start:])
    with pytest.raises(Exception, match="leaves < 10 s"):
        load_subject("01", [one_session / "sub-01" / "ses-01"],
                     EvalConfig(methods=["ridge"], calibration_minutes=[0.45]))


def test_single_session_tests_after_the_ridge_limit_when_it_fits(one_session):
    path = [one_session / "sub-01" / "ses-01"]
    sub = load_subject("01", path, EvalConfig(methods=["ridge"], calibration_minutes=[0.1], limit_minutes=0.3))
    fs = sub.cal.sfreq
    assert sub.cal_stop == sub.test_offset == int(0.3 * 60 * fs)  # the limit trains on 0.3 min, all test after
    # a limit that leaves < 10 s: the split falls back to the largest calibration length
    sub = load_subject("01", path, EvalConfig(methods=["ridge"], calibration_minutes=[0.1], limit_minutes=0.45))
    assert sub.cal_stop == int(0.1 * 60 * fs)


def test_test_minutes_caps_the_test_part(cohort):
    sub = load_subject("01", sorted((cohort / "sub-01").glob("ses-*")),
                       EvalConfig(methods=["ridge"], calibration_minutes=[0.25], test_minutes=0.2))
    assert sub.test.scalp.shape[1] == int(round(0.2 * 60 * sub.test.sfreq))
    assert any("first 0.2 min" in n for n in sub.notes)
