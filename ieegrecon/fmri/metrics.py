"""Metrics for BOLD sequences: Pearson r, MSE and SSIM over time x vertex maps."""

from __future__ import annotations

import numpy as np

from ..metrics import pearson_r as _pearson_r


def pearson_r(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r along time for each column.

    Parameters
    ----------
    x, y : ndarray, shape (n_frames, n_series)

    Returns
    -------
    ndarray, shape (n_series,)
        NaN where a column is constant.
    """
    return _pearson_r(x, y, axis=0)


def mse(x: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error over all entries."""
    return float(np.mean((np.asarray(x, float) - np.asarray(y, float)) ** 2))


def ssim(x: np.ndarray, ref: np.ndarray, *, sigma: float = 1.5, data_range: float | None = None,
         k1: float = 0.01, k2: float = 0.03) -> float:
    """Mean structural similarity of a 2-D map (Wang et al. 2004, IEEE TIP 13:600).

    Local means, variances and covariance are taken with a Gaussian window of
    standard deviation ``sigma`` samples truncated at 3.5 sigma (the paper's
    11 x 11, sigma 1.5 window), computed with :func:`scipy.ndimage.gaussian_filter`
    (mode 'reflect'); ``C1 = (k1 L)^2``, ``C2 = (k2 L)^2`` with ``L`` the
    reference's range; the SSIM map is averaged over every position.

    Parameters
    ----------
    x, ref : ndarray, shape (n_frames, n_vertices)
        Time x vertex maps (vertex axis in mesh order).
    sigma : float
    data_range : float | None
        ``L``; defaults to ``ref.max() - ref.min()``.

    Returns
    -------
    float
    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(x, float)
    y = np.asarray(ref, float)
    L = float(y.max() - y.min()) if data_range is None else float(data_range)
    c1, c2 = (k1 * L) ** 2, (k2 * L) ** 2

    def filt(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, sigma, truncate=3.5, mode="reflect")

    mx, my = filt(x), filt(y)
    sxx = filt(x * x) - mx * mx
    syy = filt(y * y) - my * my
    sxy = filt(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())
