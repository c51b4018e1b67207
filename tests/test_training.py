"""Generic training utilities (ieegrecon.models.training): windows, overlap-add, standardization, early stopping."""

from __future__ import annotations

import numpy as np
import pytest

from ieegrecon.models import overlap as ol
from ieegrecon.models import training as tr


def test_overlap_add_reconstructs_a_signal_cut_into_windows():
    x = np.random.default_rng(0).normal(size=(3, 1037))
    starts = tr.window_starts(1037, 400, 360)
    assert starts[-1] + 400 >= 1037 and starts[0] == 0
    wins = tr.cut_windows(x, starts, 400)
    assert wins.shape == (len(starts), 3, 400)
    np.testing.assert_allclose(ol.overlap_add(wins, starts, 1037, ol.taper(400, 40)), x, atol=1e-12)


def _loop_add(out, windows, starts, weights=None):
    for j, s in enumerate(starts):
        out[..., s:s + windows.shape[-1]] += windows[j] if weights is None else windows[j] * weights


def test_add_windows_equals_the_loop_bit_for_bit():
    """Vectorized overlap-add: the loop's sums in the loop's order, whatever the overlap (1 to 4 windows per sample)."""
    rng = np.random.default_rng(3)
    for win, hop, n_t, lead in ((64, 56, 3001, (2, 3)), (64, 16, 999, (5,)), (400, 360, 4321, ()), (10, 10, 95, (4,))):
        starts = tr.window_starts(n_t, win, hop)  # a regular run and, here, an irregular last window
        assert np.any(np.diff(starts) != hop) or n_t % hop == 0 or len(starts) < 2
        wins = rng.standard_normal((len(starts), *lead, win)).astype(np.float32)
        total = int(starts.max()) + win
        for weights in (None, ol.taper(win, win - hop)):
            a = np.zeros((*lead, total), np.float32 if weights is None else np.float64)
            b = a.copy()
            for k in range(0, len(starts), 7):  # in batches, as the flow's draws and CAST add them
                _loop_add(a, wins[k:k + 7], starts[k:k + 7], weights)
                ol.add_windows(b, wins[k:k + 7], starts[k:k + 7], weights)
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="past"):
        ol.add_windows(np.zeros(10), np.zeros((1, 8)), np.array([5]))


def test_robust_standardize_is_scale_free():
    x = np.random.default_rng(0).normal(size=(2, 5000))
    z1, _, s1 = tr.robust_standardize(x * 1e-6)
    z2, _, _ = tr.robust_standardize(x * 3.0 + 7.0)
    np.testing.assert_allclose(z1, z2, atol=1e-4)
    assert np.all(np.abs(s1 / 1e-6 - 1) < 0.1)


def test_early_stopping_keeps_best_and_stops():
    es = tr.EarlyStopping(patience=2)
    for ep, loss in enumerate([3.0, 2.0, 2.5, 2.4, 1.0]):
        es.step(loss, ep)
        if es.stop:
            break
    assert es.best == 2.0 and es.best_epoch == 1 and ep == 3
