"""Reconstruction metrics used in the scalp-to-iEEG literature.

Every function takes the true and reconstructed contacts as arrays of shape
(n_contacts, n_times) in volts at one sampling rate and returns one value per
contact (or one per recording for connectivity). Definitions:

- Pearson r over the whole recording, and the median of Pearson r over
  consecutive non-overlapping windows (2 s by default).
- NMSE = mean((y - ŷ)²) / var(y) (0 is perfect; 1 is predicting the mean);
  RMSE in volts.
- Band-power error: Welch PSD (:func:`scipy.signal.welch`, 2-s Hann windows,
  50 % overlap) integrated over each band of :data:`BANDS`; the error is the
  absolute error of the log band power, ``|log10(P̂_b / P_b)|`` in decades
  (0.301 = a factor of 2 either way). It is unit-free and symmetric in
  over- and under-estimation.
- PSD Hellinger distance: both Welch PSDs restricted to 1-70 Hz and
  normalized to sum 1, ``H = sqrt(1 - Σ sqrt(p q))`` in [0, 1].
- Alpha functional connectivity: the contact-by-contact Pearson correlation
  matrix of the 8-13 Hz band-passed signals (zero-phase FIR,
  :func:`mne.filter.filter_data`); relative error
  ``||FĈ - FC||_F / ||FC||_F`` over off-diagonal entries (per recording), and
  the same per row (per contact).
- Amplitude distribution: ``|g₂(ŷ) - g₂(y)|`` of the Fisher (excess) kurtosis and
  ``|g₁(ŷ) - g₁(y)|`` of the skewness per contact (0 for a Gaussian).
- Event-locked waveform error: both signals averaged over ±250 ms around event
  onsets (as in IED studies), ``rms(ā_ŷ - ā_y) / rms(ā_y)`` (NaN without events).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BANDS", "alpha_fc_error", "band_power", "band_power_error", "contact_metrics", "event_locked_average",
    "event_waveform_error", "kurtosis_error", "nmse", "pearson_r", "psd_hellinger", "rmse", "skew_error",
    "welch_psd", "windowed_r",
]

#: Frequency bands (Hz), lower edge inclusive, upper exclusive.
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0), "gamma": (30.0, 70.0),
}
#: Frequency range (Hz) of the PSD Hellinger distance.
HELLINGER_RANGE = (1.0, 70.0)



def pearson_r(y: np.ndarray, yhat: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson r between ``y`` and ``yhat`` along ``axis`` (time), per channel.

    Parameters
    ----------
    y, yhat : ndarray, shape (n_channels, n_times) (for ``axis=-1``)
    axis : int
        The time axis.

    Returns
    -------
    ndarray, shape (n_channels,)
        NaN where either signal is constant.
    """
    y = np.asarray(y, float)
    yhat = np.asarray(yhat, float)
    y = y - y.mean(axis=axis, keepdims=True)
    yhat = yhat - yhat.mean(axis=axis, keepdims=True)
    den = np.sqrt((y**2).sum(axis=axis) * (yhat**2).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (y * yhat).sum(axis=axis) / np.where(den > 0, den, 1.0), np.nan)

def _pair(y: np.ndarray, yhat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.atleast_2d(np.asarray(y, dtype=float))
    yhat = np.atleast_2d(np.asarray(yhat, dtype=float))
    if y.shape != yhat.shape:
        raise ValueError(f"true and reconstructed signals differ in shape: {y.shape} vs {yhat.shape}")
    return y, yhat


def windowed_r(y: np.ndarray, yhat: np.ndarray, sfreq: float, window_s: float = 2.0) -> np.ndarray:
    """Median over non-overlapping windows of the per-window Pearson r.

    Parameters
    ----------
    y, yhat : ndarray, shape (n_contacts, n_times)
        True and reconstructed signals.
    sfreq : float
        Sampling rate in Hz.
    window_s : float
        Window length in seconds (a trailing partial window is dropped).

    Returns
    -------
    ndarray, shape (n_contacts,)
        NaN for a contact whose every window is constant, or if the signal
        is shorter than one window.
    """
    y, yhat = _pair(y, yhat)
    n = round(window_s * sfreq)
    n_win = y.shape[1] // n if n > 0 else 0
    if n_win == 0:
        return np.full(y.shape[0], np.nan)
    a = y[:, : n_win * n].reshape(y.shape[0], n_win, n)
    b = yhat[:, : n_win * n].reshape(y.shape[0], n_win, n)
    a = a - a.mean(axis=2, keepdims=True)
    b = b - b.mean(axis=2, keepdims=True)
    den = np.sqrt((a**2).sum(axis=2) * (b**2).sum(axis=2))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, (a * b).sum(axis=2) / np.where(den > 0, den, 1.0), np.nan)
    out = np.full(y.shape[0], np.nan)
    ok = np.isfinite(r).any(axis=1)
    out[ok] = np.nanmedian(r[ok], axis=1)
    return out


def nmse(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    """Normalized mean squared error ``mean((y - ŷ)²) / var(y)`` per contact (NaN if y is constant).

    Parameters
    ----------
    y, yhat : ndarray, shape (n_contacts, n_times)

    Returns
    -------
    ndarray, shape (n_contacts,)
    """
    y, yhat = _pair(y, yhat)
    var = y.var(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, ((y - yhat) ** 2).mean(axis=1) / np.where(var > 0, var, 1.0), np.nan)


def rmse(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    """Root mean squared error per contact, in the signals' unit (volts).

    Parameters
    ----------
    y, yhat : ndarray, shape (n_contacts, n_times)

    Returns
    -------
    ndarray, shape (n_contacts,)
    """
    y, yhat = _pair(y, yhat)
    return np.sqrt(((y - yhat) ** 2).mean(axis=1))


def welch_psd(x: np.ndarray, sfreq: float, window_s: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density (:func:`scipy.signal.welch`, Hann, 50 % overlap).

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_times)
        Signals in volts.
    sfreq : float
        Sampling rate in Hz.
    window_s : float
        Segment length in seconds (shortened to the signal if longer).

    Returns
    -------
    freqs : ndarray, shape (n_freqs,)
        Hz.
    psd : ndarray, shape (n_channels, n_freqs)
        V²/Hz.
    """
    from scipy.signal import welch

    x = np.atleast_2d(np.asarray(x, dtype=float))
    nper = max(8, min(x.shape[1], round(window_s * sfreq)))
    return welch(x, fs=sfreq, nperseg=nper, noverlap=nper // 2, axis=-1)


def band_power(freqs: np.ndarray, psd: np.ndarray, bands: dict[str, tuple[float, float]] = BANDS
               ) -> np.ndarray:
    """Integrate a PSD over bands (rectangle rule on the Welch grid).

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
    psd : ndarray, shape (n_channels, n_freqs)
    bands : dict of name -> (low, high) in Hz

    Returns
    -------
    ndarray, shape (n_channels, n_bands)
        Power in V² per band, in the order of ``bands``; NaN for a band with
        no frequency bin below Nyquist.
    """
    df = freqs[1] - freqs[0] if len(freqs) > 1 else 1.0
    out = np.full((psd.shape[0], len(bands)), np.nan)
    for k, (lo, hi) in enumerate(bands.values()):
        sel = (freqs >= lo) & (freqs < hi)
        if sel.any():
            out[:, k] = psd[:, sel].sum(axis=1) * df
    return out


def band_power_error(y: np.ndarray, yhat: np.ndarray, sfreq: float,
                     bands: dict[str, tuple[float, float]] = BANDS) -> np.ndarray:
    """Absolute error of the log band power, ``|log10(P̂_b / P_b)|`` (decades).

    Parameters
    ----------
    y, yhat : ndarray, shape (n_contacts, n_times)
    sfreq : float
        Hz.
    bands : dict of name -> (low, high) in Hz

    Returns
    -------
    ndarray, shape (n_contacts, n_bands)
        0 when the band powers agree; 1 for a factor of 10. NaN where either
        power is zero or the band lies above Nyquist.
    """
    y, yhat = _pair(y, yhat)
    f, p = welch_psd(y, sfreq)
    _, q = welch_psd(yhat, sfreq)
    bp, bq = band_power(f, p, bands), band_power(f, q, bands)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (bp > 0) & (bq > 0)
        return np.where(ok, np.abs(np.log10(np.where(ok, bq, 1.0) / np.where(ok, bp, 1.0))), np.nan)


def psd_hellinger(y: np.ndarray, yhat: np.ndarray, sfreq: float,
                  frange: tuple[float, float] = HELLINGER_RANGE) -> np.ndarray:
    """Hellinger distance between the normalized Welch PSDs of ``y`` and ``ŷ``.

    Parameters
    ----------
    y, yhat : ndarray, shape (n_contacts, n_times)
    sfreq : float
        Hz.
    frange : (float, float)
        Frequencies (Hz) kept, ``lo <= f <= hi`` (capped at Nyquist).

    Returns
    -------
    ndarray, shape (n_contacts,)
        In [0, 1]; 0 for proportional spectra (scale does not matter). NaN
        where either PSD has no power in the range.
    """
    y, yhat = _pair(y, yhat)
    f, p = welch_psd(y, sfreq)
    _, q = welch_psd(yhat, sfreq)
    sel = (f >= frange[0]) & (f <= frange[1])
    p, q = p[:, sel], q[:, sel]
    sp, sq = p.sum(axis=1, keepdims=True), q.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        bc = np.sqrt((p / sp) * (q / sq)).sum(axis=1)
        h = np.sqrt(np.clip(1.0 - bc, 0.0, None))
    return np.where((sp[:, 0] > 0) & (sq[:, 0] > 0), h, np.nan)


def band_fc(x: np.ndarray, sfreq: float, band: tuple[float, float] = BANDS["alpha"]) -> np.ndarray:
    """Functional connectivity: Pearson correlation matrix of band-passed signals.

    Parameters
    ----------
    x : ndarray, shape (n_contacts, n_times)
    sfreq : float
        Hz.
    band : (float, float)
        Pass band in Hz (zero-phase FIR, :func:`mne.filter.filter_data`).

    Returns
    -------
    ndarray, shape (n_contacts, n_contacts)
    """
    import mne

    x = np.atleast_2d(np.asarray(x, dtype=float))
    xf = mne.filter.filter_data(x, sfreq, band[0], band[1], method="fir", phase="zero",
                                fir_design="firwin", verbose=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.corrcoef(xf)


def alpha_fc_error(y: np.ndarray, yhat: np.ndarray, sfreq: float,
                   band: tuple[float, float] = BANDS["alpha"]) -> tuple[float, np.ndarray]:
    """Relative error of alpha-band functional connectivity.

    Parameters
    ----------
    y, yhat : ndarray, shape (n_contacts, n_times)
        Needs n_contacts >= 2 and at least ~2 s of signal.
    sfreq : float
        Hz.
    band : (float, float)
        Hz.

    Returns
    -------
    total : float
        ``||FĈ - FC||_F / ||FC||_F`` over off-diagonal entries (NaN with < 2 contacts).
    per_contact : ndarray, shape (n_contacts,)
        The same ratio over each contact's row.
    """
    y, yhat = _pair(y, yhat)
    if y.shape[0] < 2:
        return float("nan"), np.full(y.shape[0], np.nan)
    a, b = band_fc(y, sfreq, band), band_fc(yhat, sfreq, band)
    off = ~np.eye(len(a), dtype=bool)
    d = np.where(off, np.nan_to_num(b - a), 0.0)
    ref = np.where(off, np.nan_to_num(a), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        row = np.sqrt((d**2).sum(axis=1)) / np.sqrt((ref**2).sum(axis=1))
        total = float(np.sqrt((d**2).sum()) / np.sqrt((ref**2).sum()))
    return total, row


def contact_metrics(y: np.ndarray, yhat: np.ndarray, sfreq: float, *, window_s: float = 2.0
                    ) -> dict[str, np.ndarray]:
    """Every per-contact metric at once.

    Parameters
    ----------
    y, yhat : ndarray, shape (n_contacts, n_times)
        True and reconstructed contacts, volts.
    sfreq : float
        Hz.
    window_s : float
        Window for the windowed r.

    Returns
    -------
    dict of str -> ndarray, shape (n_contacts,)
        ``r``, ``r_win_median``, ``nmse``, ``rmse_uv`` (µV), ``bp_err_<band>``
        for each band of :data:`BANDS`, ``psd_hellinger``, ``fc_alpha_rel_err``
        (row-wise), and the per-recording ``fc_alpha_rel_err_total`` repeated.
    """
    y, yhat = _pair(y, yhat)
    out = {
        "r": pearson_r(y, yhat),
        "r_win_median": windowed_r(y, yhat, sfreq, window_s),
        "nmse": nmse(y, yhat),
        "rmse_uv": rmse(y, yhat) * 1e6,
    }
    bpe = band_power_error(y, yhat, sfreq)
    for k, name in enumerate(BANDS):
        out[f"bp_err_{name}"] = bpe[:, k]
    out["psd_hellinger"] = psd_hellinger(y, yhat, sfreq)
    total, row = alpha_fc_error(y, yhat, sfreq)
    out["fc_alpha_rel_err"] = row
    out["fc_alpha_rel_err_total"] = np.full(y.shape[0], total)
    return out


def kurtosis_error(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    """Absolute error of the excess kurtosis per contact, ``|g₂(ŷ) - g₂(y)|``.

    Fisher's definition (a Gaussian has 0; Fisher 1930), biased moment estimator
    (:func:`scipy.stats.kurtosis`). Heavy-tailed iEEG (discharges, bursts) has g₂ > 0.

    Parameters
    ----------
    y, yhat : ndarray, shape (n_contacts, n_times)
        True and reconstructed (or drawn) contacts, volts (the statistic is unit-free).

    Returns
    -------
    ndarray, shape (n_contacts,)
        NaN where either signal is constant.
    """
    from scipy.stats import kurtosis

    y, yhat = _pair(y, yhat)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(kurtosis(yhat, axis=1, fisher=True) - kurtosis(y, axis=1, fisher=True))


def skew_error(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    """Absolute error of the skewness per contact, ``|g₁(ŷ) - g₁(y)|`` (:func:`scipy.stats.skew`, biased).

    Parameters and returns as :func:`kurtosis_error`.
    """
    from scipy.stats import skew

    y, yhat = _pair(y, yhat)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(skew(yhat, axis=1) - skew(y, axis=1))


def event_locked_average(x: np.ndarray, onsets_s: np.ndarray, sfreq: float, half_s: float = 0.25) -> np.ndarray:
    """Average of ``x`` over windows ``[t - half_s, t + half_s]`` around each onset ``t``.

    The event-locked (triggered) average of IED studies: the mean waveform of the
    discharges of one channel. Windows that do not fit inside ``x`` are left out.

    Parameters
    ----------
    x : ndarray, shape (..., n_times)
        Signals (volts).
    onsets_s : ndarray, shape (n_events,)
        Event onsets (s from the first sample), rounded to the nearest sample.
    sfreq : float
        Hz.
    half_s : float
        Half window (s).

    Returns
    -------
    ndarray, shape (..., 2 * round(half_s * sfreq) + 1)
        NaN when no window fits.
    """
    h = int(round(half_s * sfreq))
    idx = np.round(np.asarray(onsets_s, float) * sfreq).astype(int)
    idx = idx[(idx >= h) & (idx + h < x.shape[-1])]
    if not len(idx):
        return np.full(x.shape[:-1] + (2 * h + 1,), np.nan)
    return x[..., idx[:, None] + np.arange(-h, h + 1)].mean(axis=-2)


def event_waveform_error(y: np.ndarray, yhat: np.ndarray, onsets_s: list[np.ndarray], sfreq: float,
                         half_s: float = 0.25) -> np.ndarray:
    """Normalized RMS error of the event-locked average waveform per contact.

    ``rms(ā_ŷ - ā_y) / rms(ā_y)``, ``ā`` the :func:`event_locked_average` over the
    contact's own events: 0 is the true mean discharge, 1 is e.g. a flat
    average (no discharge) or one of the right size uncorrelated with the truth.

    Parameters
    ----------
    y, yhat : ndarray, shape (n_contacts, n_times)
        True and reconstructed (or drawn) contacts, volts.
    onsets_s : list of ndarray
        Event onsets (s) of each contact.
    sfreq : float
        Hz.
    half_s : float
        Half window (s).

    Returns
    -------
    ndarray, shape (n_contacts,)
        NaN for contacts without an event whose window fits.
    """
    y, yhat = _pair(y, yhat)
    out = np.full(y.shape[0], np.nan)
    for j, t in enumerate(onsets_s):
        a = event_locked_average(y[j], t, sfreq, half_s)
        b = event_locked_average(yhat[j], t, sfreq, half_s)
        ref = np.sqrt(np.mean(a**2))
        if np.isfinite(ref) and ref > 0:
            out[j] = np.sqrt(np.mean((b - a) ** 2)) / ref
    return out
