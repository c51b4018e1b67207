"""Preprocessing shared by calibration and reconstruction.

The same :class:`Preprocessing` is stored in every patient model and applied
unchanged to every later scalp input, so that a model never sees data
prepared differently from what it was calibrated on. Filtering and
resampling use MNE (``mne.filter``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Preprocessing:
    """Filter, resample and reference settings.

    Parameters
    ----------
    sfreq : float
        Model sampling rate in Hz (signals are resampled to it; the
        surrogate EDF is written at it).
    l_freq : float | None
        High-pass cutoff in Hz (None: no high-pass).
    line_freq : float | None
        Power-line frequency in Hz (50 or 60); it
        and its harmonics below Nyquist are notch-filtered (None: no notch).
    scalp_reference : str
        ``'average'``: common average over the model's scalp channels.
    notch_width : float | None
        Width in Hz of each notch (MNE's ``notch_widths``; the IIR band-stop
        edges lie a further 0.5 Hz out, MNE's ``trans_bandwidth / 2``). 2 Hz
        attenuates hum 1 Hz off the mains frequency (49 and 51 Hz) by 28 dB
        and 48/52 Hz by under 1 dB (measured: ``tests/test_cli_usability.py``).
        None: MNE's default ``line_freq / 200`` (0.25 Hz at 50 Hz, 0.2 dB at
        49 Hz), which models saved before this field existed keep.
    """

    sfreq: float = 200.0
    l_freq: float | None = 0.5
    line_freq: float | None = 50.0
    scalp_reference: str = "average"
    notch_width: float | None = 2.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preprocessing":
        """Inverse of :meth:`to_dict`."""
        kw = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        kw.setdefault("notch_width", None)  # saved before notch_width existed: MNE's default width
        return cls(**kw)


def resample(data: np.ndarray, sfreq_in: float, sfreq_out: float) -> np.ndarray:
    """Resample along the last axis with MNE's FFT/polyphase resampler.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
    sfreq_in, sfreq_out : float
        Rates in Hz.

    Returns
    -------
    ndarray, shape (n_channels, round(n_times * sfreq_out / sfreq_in))
    """
    import mne

    if abs(sfreq_in - sfreq_out) < 1e-9:
        return np.asarray(data, dtype=float)
    ratio = sfreq_out / sfreq_in
    return mne.filter.resample(np.asarray(data, dtype=float), up=ratio, down=1.0, npad="auto",
                               method="polyphase", verbose=False)


def apply_preprocessing(data: np.ndarray, sfreq: float, prep: Preprocessing, *,
                        reference: bool) -> np.ndarray:
    """Resample to ``prep.sfreq``, high-pass, notch, and optionally re-reference.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Signals in volts at ``sfreq``.
    sfreq : float
        Input rate in Hz.
    prep : Preprocessing
        Settings.
    reference : bool
        Apply ``prep.scalp_reference`` (True for scalp EEG, False for iEEG).

    Returns
    -------
    ndarray, shape (n_channels, n_times_out)
        Signals in volts at ``prep.sfreq``.
    """
    import mne

    x = resample(data, sfreq, prep.sfreq)
    fs = prep.sfreq
    if x.shape[1] < 2:
        return x
    if prep.l_freq:
        x = mne.filter.filter_data(x, fs, prep.l_freq, None, method="iir",
                                   iir_params=dict(order=2, ftype="butter", output="sos"),
                                   phase="zero", verbose=False)
    if prep.line_freq:
        freqs = np.arange(prep.line_freq, fs / 2 - 1.0, prep.line_freq)
        for f0 in freqs:
            x = mne.filter.notch_filter(x, fs, f0, notch_widths=prep.notch_width, method="iir",
                                        phase="zero", verbose=False)
    if reference and prep.scalp_reference == "average":
        x = x - x.mean(axis=0, keepdims=True)
    return x



def _line_fit(x: np.ndarray, sfreq: float, freqs: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Least-squares sinusoids at ``freqs`` fitted to ``x`` (n_channels, n) on samples 0..n-1, evaluated at ``t``."""
    n = x.shape[1]
    def basis(tt):
        w = 2 * np.pi * np.outer(tt, freqs) / sfreq
        return np.concatenate([np.cos(w), np.sin(w)], axis=1)
    coef = np.linalg.lstsq(basis(np.arange(n)), x.T, rcond=None)[0]
    return (basis(t) @ coef).T


def extend_by_reflection(data: np.ndarray, n_left: int, n_right: int, *, odd: bool = False,
                         sfreq: float | None = None, line_freq: float | None = None,
                         fit_s: float = 2.0) -> np.ndarray:
    """Extend a contiguous segment beyond its borders by mirroring it (as ``filtfilt`` pads).

    Filters, resampling and the models' lag windows see no signal beyond a
    recording's border and ring there (zeros after a DC offset, a step, a
    truncated lag window). Processing the mirrored extension instead and
    keeping only the real samples moves those transients into the discarded
    part: the border rule of :func:`ieegrecon.workflow.chunking.predict_chunked`.

    Power-line interference is not mirrored but continued: a mirrored
    sinusoid breaks its phase at the border, and the narrow notch filter
    rings on that break for seconds. With ``line_freq``, sinusoids at it and
    its harmonics (below Nyquist) are fitted by least squares to ``fit_s``
    seconds at each border, extrapolated into the extension, and only the
    rest of the signal is mirrored.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        One contiguous segment (no gap inside), volts.
    n_left, n_right : int
        Samples to add before the first and after the last sample.
    odd : bool
        Odd (point) reflection about the border sample, ``2 x[0] - x[k]``
        (value and slope continuous, ``scipy.signal.filtfilt``'s default);
        False (default): even reflection, ``x[k]`` (value continuous; no
        offset when the border sample is an outlier). The mirror excludes
        the border sample itself (``numpy.pad`` 'reflect'); a pad longer than
        the segment mirrors it again.
    sfreq : float | None
        Rate of ``data`` in Hz (needed with ``line_freq``).
    line_freq : float | None
        Power-line frequency in Hz, or None.
    fit_s : float
        Seconds at each border used to fit the line sinusoids.

    Returns
    -------
    ndarray, shape (n_channels, n_left + n_times + n_right)
        The segment in the middle, unchanged.
    """
    x = np.asarray(data, dtype=float)
    n_left, n_right = max(0, int(n_left)), max(0, int(n_right))
    if n_left == 0 and n_right == 0:
        return x
    n = x.shape[1]
    if n < 2:
        return np.pad(x, ((0, 0), (n_left, n_right)), mode="edge")
    kind = "odd" if odd else "even"
    freqs = np.arange(line_freq, sfreq / 2 - 1e-9, line_freq) if line_freq and sfreq else np.zeros(0)
    m = min(n, int(round(fit_s * sfreq))) if freqs.size else 0
    if m < 2 * freqs.size + 2:
        return np.pad(x, ((0, 0), (n_left, n_right)), mode="reflect", reflect_type=kind)
    out = np.empty((x.shape[0], n_left + n + n_right))
    out[:, n_left:n_left + n] = x
    if n_left:  # fit on the first m samples, mirror the first L samples less the line, continue the line
        L = min(n, n_left + 1)
        line = _line_fit(x[:, :m], sfreq, freqs, np.arange(-n_left, L))
        rest = np.pad(x[:, :L] - line[:, n_left:], ((0, 0), (n_left, 0)), mode="reflect", reflect_type=kind)
        out[:, :n_left] = (rest + line)[:, :n_left]
    if n_right:
        L = min(n, n_right + 1)
        line = _line_fit(x[:, n - m:], sfreq, freqs, np.arange(m - L, m + n_right))
        rest = np.pad(x[:, n - L:] - line[:, :L], ((0, 0), (0, n_right)), mode="reflect", reflect_type=kind)
        out[:, n_left + n:] = (rest + line)[:, L:]
    return out
