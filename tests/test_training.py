"""Generic training utilities (ieegrecon.models.training): windows, overlap-add, standardization, early stopping."""

from __future__ import annotations

import numpy as np

from ieegrecon.models import training as tr


def test_overlap_add_reconstructs_a_signal_cut_into_windows():
    x = np.random.default_rng(0).normal(size=(3, 1037))
    starts = tr.window_starts(1037, 400, 360)
    assert starts[-1] + 400 >= 1037 and starts[0] == 0
    wins = tr.cut_windows(x, starts, 400)
    assert wins.shape == (len(starts), 3, 400)
    np.testing.assert_allclose(tr.overlap_add(wins, starts, 1037, tr.taper(400, 40)), x, atol=1e-12)


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
