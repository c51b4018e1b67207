"""The evaluation on real archives' forms: subject discovery, trial pieces in splits and predictions."""

from __future__ import annotations

import numpy as np
import pytest

from ieegrecon.errors import InputError
from ieegrecon.evaluation.data import discover_subjects
from ieegrecon.models.lag_pieces import lag_pieces
from ieegrecon.models.lagged import apply_lagged, lag_matrix, lag_rows
from ieegrecon.workflow.pieces import PieceFit, train_bounds


def _channels(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["name\ttype\tunits\tstatus"] + [f"{n}\t{t}\tuV\tgood" for n, t in rows]
    (folder / f"{folder.parent.parent.name}_{folder.parent.name}_task-x_channels.tsv").write_text("\n".join(lines))


def test_discover_mixed_file_sessions(tmp_path):
    """HUP: ieeg/ alone whose channels.tsv lists 10-20 scalp electrodes (typed SEEG) is paired;
    an iEEG-only session is not."""
    _channels(tmp_path / "sub-A" / "ses-presurgery" / "ieeg", [("LA1", "SEEG"), ("CZ", "SEEG"), ("EKG1", "SEEG")])
    _channels(tmp_path / "sub-B" / "ses-01" / "ieeg", [("LA1", "SEEG"), ("LA2", "SEEG")])
    _channels(tmp_path / "sub-C" / "ses-01" / "ieeg", [("LA1", "SEEG")])
    (tmp_path / "sub-C" / "ses-01" / "eeg").mkdir()
    assert discover_subjects(tmp_path) == {"A": [tmp_path / "sub-A" / "ses-presurgery"],
                                           "C": [tmp_path / "sub-C" / "ses-01"]}
    with pytest.raises(InputError, match="one file with scalp and intracranial"):
        discover_subjects(tmp_path / "sub-B")


def _per_piece(fn, x, bounds, axis=0):
    """``fn`` applied to each piece of ``x`` alone (no context), joined along time (``axis``)."""
    return np.concatenate([fn(x[:, a:b]) for a, b in bounds], axis=axis)


BOUNDS = [(0, 10), (10, 25), (25, 40)]
LAGS = np.arange(-3, 4)


def test_lag_design_stays_inside_pieces():
    """Inside lag_pieces, every lag-design function equals the same function run on each piece alone."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 40))
    coef = rng.standard_normal((3, 2 * len(LAGS)))
    crossing, other = lag_matrix(x, LAGS), lag_matrix(x[:, :39], LAGS)
    assert not np.allclose(crossing, _per_piece(lambda p: lag_matrix(p, LAGS), x, BOUNDS))  # the test can fail
    with lag_pieces(BOUNDS):
        assert np.array_equal(lag_matrix(x, LAGS), _per_piece(lambda p: lag_matrix(p, LAGS), x, BOUNDS))
        assert np.array_equal(lag_rows(x, LAGS, 7, 30), lag_matrix(x, LAGS)[7:30])
        assert np.allclose(apply_lagged(coef, x, LAGS), _per_piece(lambda p: apply_lagged(coef, p, LAGS), x, BOUNDS, 1))
        assert np.array_equal(lag_matrix(x[:, :39], LAGS), other)  # a signal of another length: as before
    assert np.array_equal(lag_matrix(x, LAGS), crossing)  # outside the block: as before


def test_train_bounds_of_cv_folds():
    """A blocked-CV training set is the calibration samples less one fold: its join is a boundary too."""
    assert train_bounds(BOUNDS, 40, 30) == [(0, 10), (10, 25), (25, 30)]
    assert train_bounds(BOUNDS, 40, 30, fold=1, folds=4) == [(0, 10), (10, 15), (15, 30)]  # less [10, 20)
    assert train_bounds(BOUNDS, 40, 32, fold=0, folds=5) == [(0, 2), (2, 17), (17, 32)]


def test_ridge_fit_lags_never_cross_a_trial(monkeypatch):
    """Calibrate's fit callback (PieceFit): every lag row ridge builds equals the per-trial lag matrix."""
    import ieegrecon.models.lagged as lagged
    from ieegrecon.models.base import ContactInfo, PairedSegment
    from ieegrecon.models.ridge import RidgeModel
    from ieegrecon.workflow.confidence import held_out

    fs, n = 50.0, 1500  # 30 s in 5 trials of 6 s
    bounds = [(k * 300, (k + 1) * 300) for k in range(5)]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, n))
    y = x[:1] + 0.5 * np.roll(x[1:2], 2)
    seg = PairedSegment(x, y, fs, ["Fp1", "Cz", "O1"], ContactInfo(["LA1"], np.zeros((1, 3)), ["x"], ["deep"]))
    seen, real = [], lagged.lag_rows

    def spy(z, lags, start, stop):
        out = real(z, lags, start, stop)
        ids = lagged.piece_ids(z.shape[1])
        assert ids is not None  # every fit ran inside its pieces
        ref = np.concatenate([real(z[:, a:b], lags, 0, b - a) for a, b in _pieces(ids)])
        assert np.array_equal(out, ref[start:stop])
        seen.append(z.shape[1])
        return out

    monkeypatch.setattr(lagged, "lag_rows", spy)
    for n_fit in (1200, 1500):  # held-out tail (fit on 24 s), then blocked CV (5 folds of 6 s)
        fit = PieceFit(lambda train, zs: _ridge(RidgeModel, train, fs), bounds, n_fit)
        held_out(seg, n_fit, fit, say=fit.at_fold)
    assert {1200, 1500} <= set(seen)


def _ridge(cls, train, fs):
    m = cls(sfreq=fs, max_lag_ms=100, lag_step_ms=20, n_folds=2)
    m.calibrate(train)
    return m


def _pieces(ids):
    edges = [0] + list(np.flatnonzero(np.diff(ids)) + 1) + [len(ids)]
    return list(zip(edges[:-1], edges[1:]))
