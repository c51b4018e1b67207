"""CAST's residual ridge applied in time blocks equals one call over the whole signal (bounded memory)."""

import numpy as np
import pytest

from ieegrecon.models._cast_infer import add_lagged_blocked
from ieegrecon.models.lagged import apply_lagged


@pytest.mark.parametrize("n, lags, block", [(5000, np.arange(-20, 21), 1024), (3001, np.arange(0, 9), 333),
                                            (700, np.arange(-3, 30), 4096), (257, np.arange(-20, 21), 64)])
def test_blocked_lagged_equals_whole(n, lags, block):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((5, n))
    coef = rng.standard_normal((7, 5 * len(lags)))
    out = rng.standard_normal((7, n))
    want = out + apply_lagged(coef, x, lags)
    got = add_lagged_blocked(out, coef, x, lags, block=block)
    assert got is out
    # same sums in the same order; BLAS may round a column differently at a block edge (~1e-14 relative)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    # the lag context matters: blocks cut without it are wrong at their edges
    whole = apply_lagged(coef, x, lags)
    if n > 2 * block:
        cut = np.concatenate([apply_lagged(coef, x[:, s:s + block], lags) for s in (0, block)], axis=1)
        assert np.abs(cut - whole[:, :2 * block]).max() > 1e-3
