"""Figures and signal checks of the surrogate report: trace windows, held-out overlays, power spectra.

Signals are in volts; figures show µV. Figures are matplotlib (Agg) figures, inlined as PNG
by :mod:`ieegrecon.workflow.report_html`.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np

from ..preprocessing import Preprocessing, apply_preprocessing
from ..recording import Recording
from .confidence import format_r, reliability_class
from .results import ReconstructionResult

TRACE_S = 10.0
#: Frequency (Hz) above which the held-out power ratio is reported.
HIGH_FREQ_HZ = 30.0
#: Colours of the reliability classes in tables and figure titles.

def spectral_check(holdout: str | Path, fmin: float = HIGH_FREQ_HZ) -> dict[str, Any] | None:
    """Reconstructed vs true power above ``fmin`` on the held-out calibration data.

    Parameters
    ----------
    holdout : path-like
        ``holdout.h5`` of a patient model (datasets ``true`` and ``pred``,
        shape (n_contacts, n_times), volts; attribute ``sfreq``).
    fmin : float
        Lower edge (Hz) of the band checked; the band ends at Nyquist.

    Returns
    -------
    dict | None
        ``decades_above``: median over contacts of log10(reconstructed /
        true power above ``fmin``) (negative: the surrogate has less power);
        ``decades_above_range`` (min, max over contacts); ``decades_below``:
        the same for 1 Hz to ``fmin`` for comparison; ``n_contacts``;
        ``sentence``. None when the file is absent or too short.
    """
    import h5py

    holdout = Path(holdout)
    if not holdout.is_file():
        return None
    with h5py.File(holdout, "r") as f:
        true, pred, fs = f["true"][()].astype(float), f["pred"][()].astype(float), float(f.attrs["sfreq"])
    if true.shape[1] < int(2 * fs) or fs / 2 <= fmin:
        return None
    p_true, freqs = psd(true, fs)
    p_pred, _ = psd(pred, fs)
    hi = freqs > fmin
    lo = (freqs >= 1.0) & (freqs <= fmin)
    tiny = np.finfo(float).tiny
    r_hi = np.log10((p_pred[:, hi].sum(1) + tiny) / (p_true[:, hi].sum(1) + tiny))
    r_lo = np.log10((p_pred[:, lo].sum(1) + tiny) / (p_true[:, lo].sum(1) + tiny))
    top = freqs >= fmin + 0.6 * (fs / 2 - fmin)
    r_top = np.log10((p_pred[:, top].sum(1) + tiny) / (p_true[:, top].sum(1) + tiny))
    med = float(np.median(r_hi))
    out = {"band_hz": [fmin, fs / 2], "decades_above": round(med, 2),
           "top_band_hz": [round(float(freqs[top][0]), 1), fs / 2],
           "decades_top_band": round(float(np.median(r_top)), 2),
           "decades_above_range": [round(float(r_hi.min()), 2), round(float(r_hi.max()), 2)],
           "decades_below": round(float(np.median(r_lo)), 2), "n_contacts": int(true.shape[0]),
           "heldout_seconds": round(true.shape[1] / fs, 1)}
    out["sentence"] = _spectral_sentence(out)
    return out


def _spectral_sentence(s: dict[str, Any]) -> str:
    d = s["decades_above"]
    where = "below" if d < 0 else "above"
    top = s["decades_top_band"]
    text = (f"Above {s['band_hz'][0]:g} Hz the surrogate's power is {abs(d):.1f} decades {where} the true iEEG "
            f"on held-out data (a factor of {10 ** abs(d):.0f}; median over {s['n_contacts']} contacts, "
            f"{s['heldout_seconds']:g} s held out at calibration); at {s['top_band_hz'][0]:.0f}-"
            f"{s['top_band_hz'][1]:g} Hz it is {abs(top):.1f} decades {'below' if top < 0 else 'above'}, "
            f"at 1-{s['band_hz'][0]:g} Hz {abs(s['decades_below']):.1f} decades "
            f"{'below' if s['decades_below'] < 0 else 'above'}.")
    if d <= -0.3:
        text += (f" Fast activity above {s['band_hz'][0]:g} Hz (gamma, HFOs) is largely missing from these "
                 "traces; do not read it from them.")
    return text


def trace_data(recon: np.ndarray | None, result: ReconstructionResult, input_rec: Recording,
               scalp_used: list[str], prep: Preprocessing | None) -> dict[str, Any]:
    """A representative TRACE_S-second window of the surrogate and of the scalp channels used (volts).

    The scalp window is filtered and referenced as the model saw it (its
    preprocessing, on the window padded by 2 s each side against edge effects).
    """
    fs = float(result.sfreq)
    source = "a stretch of typical amplitude"
    if recon is None:
        recon, source = _read_back(result.output, fs), "read back from the start of the surrogate EDF"
    if recon is None:
        return {"recon": None, "source": "the surrogate was streamed to disk and could not be read back"}
    traces_in_memory = source.startswith("a stretch")
    recon = np.asarray(recon)
    # the window stays in the first gap-free segment, where wall-clock and input sample times agree
    n_seg = min([recon.shape[1]] + [int(round(on * fs)) for on, _ in result.gaps])
    n_win = min(n_seg, int(round(TRACE_S * fs)))
    start = 0
    if n_seg > n_win and traces_in_memory:
        # the window whose median amplitude over contacts is the median over windows
        starts = np.arange(0, n_seg - n_win + 1, max(1, n_win // 2))
        amp = np.array([np.median(recon[:, s:s + n_win].std(axis=1)) for s in starts])
        start = int(starts[np.argmin(np.abs(amp - np.median(amp)))])
    t0 = start / fs
    out = {"recon": recon[:, start:start + n_win], "sfreq": fs, "t0": t0, "source": source, "scalp": None}
    idx = [input_rec.ch_names.index(n) for n in scalp_used if n in input_rec.ch_names]
    sf = float(input_rec.sfreq)
    a, b = int(round(t0 * sf)), min(input_rec.n_times, int(round((t0 + n_win / fs) * sf)))
    if not idx or b <= a:
        return out
    pad = int(2 * sf)
    a0, b0 = max(0, a - pad), min(input_rec.n_times, b + pad)
    x = np.asarray(input_rec.data[idx, a0:b0], float)
    p = prep if prep is not None else Preprocessing.from_dict({"sfreq": fs})
    try:
        x, sf_x = apply_preprocessing(x, sf, p, reference=True), p.sfreq
        how = prep_text(p)
    except ValueError:  # too short to filter: show it as recorded
        sf_x, how = sf, "as recorded"
    lo = int(round((a - a0) / sf * sf_x))
    out.update(scalp=x[:, lo:lo + int(round((b - a) / sf * sf_x))], scalp_sfreq=sf_x, scalp_how=how,
               scalp_names=[input_rec.ch_names[i] for i in idx])
    return out


def prep_text(p: Preprocessing) -> str:
    bits = []
    if p.l_freq:
        bits.append(f"{p.l_freq:g} Hz high-pass")
    if p.line_freq:
        bits.append(f"{p.line_freq:g} Hz notch")
    bits.append(f"{p.scalp_reference} reference")
    return "as the model saw it: " + ", ".join(bits)


def _read_back(edf: str, fs: float) -> np.ndarray | None:
    try:
        import mne

        raw = mne.io.read_raw_edf(edf, preload=False, verbose="error")
        return raw.get_data(stop=min(raw.n_times, int(round(TRACE_S * fs))))
    except Exception:  # a report must not fail because the read-back did
        return None


def _nice(v: float) -> float:
    """The 1-2-5 number at or just below ``v``."""
    if not v > 0:
        return 1.0
    e = 10 ** np.floor(np.log10(v))
    return float(max(m for m in (1, 2, 5, 10) if m * e <= v) * e)


def stack_figure(x: np.ndarray, fs: float, t0: float, names: list[str], title: str, color: str = "k"):
    """Stacked traces (clinical montage style) in µV with one scale bar; x in volts."""
    import matplotlib.pyplot as plt

    x = (x - x.mean(axis=1, keepdims=True)) * 1e6
    spread = np.median(np.percentile(x, 99, axis=1) - np.percentile(x, 1, axis=1)) if x.size else 1.0
    gap = spread if spread > 0 else 1.0
    t = t0 + np.arange(x.shape[1]) / fs
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.32 * len(names)))
    for k, row in enumerate(x):
        ax.plot(t, row - k * gap, color=color, lw=0.6)
    ax.set_yticks(-np.arange(len(names)) * gap, names, fontsize=8)
    ax.set_ylim(-(len(names) - 0.3) * gap, 0.9 * gap)
    ax.set_xlim(t[0], t[-1] if len(t) > 1 else t[0] + 1)
    bar = _nice(gap)
    ax.plot([t[-1] + 0.01 * (t[-1] - t[0])] * 2, [0.5 * gap - bar, 0.5 * gap], "k", lw=2, clip_on=False)
    ax.text(t[-1] + 0.02 * (t[-1] - t[0]), 0.5 * gap - bar / 2, f"{bar:g} µV", fontsize=7, va="center")
    ax.set_xlabel("time from recording start (s)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(title, fontsize=9, loc="left")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- HTML
def png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def holdout_figures(path: Path, r_map: dict[str, float]):
    import h5py
    import matplotlib.pyplot as plt

    with h5py.File(path, "r") as f:
        true, pred, fs = f["true"][()], f["pred"][()], float(f.attrs["sfreq"])
        names = [n.decode() for n in f["ch_names"][()]]
    order = sorted(range(len(names)), key=lambda i: -(r_map.get(names[i]) or -9))
    show = order[:3] + order[-2:] if len(order) > 5 else order
    n = min(true.shape[1], int(TRACE_S * fs))
    t = np.arange(n) / fs
    fig1, axes = plt.subplots(len(show), 1, figsize=(10, 1.5 * len(show)), sharex=True, squeeze=False)
    for ax, i in zip(axes[:, 0], show):
        ax.plot(t, true[i, :n] * 1e6, "k", lw=0.7, label="true iEEG")
        ax.plot(t, pred[i, :n] * 1e6, "r", lw=0.7, alpha=0.8, label="surrogate")
        ax.set_ylabel("µV", fontsize=8)
        ax.set_title(f"{names[i]}: held-out r = {format_r(r_map.get(names[i]))} "
                     f"({reliability_class(r_map.get(names[i]))})", fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time (s), held-out calibration segment", fontsize=8)
    fig1.tight_layout()
    return [("True iEEG vs surrogate on held-out calibration data: best 3 and worst 2 contacts", fig1,
             "heldout-traces"),
            ("Power spectrum on held-out calibration data, true vs surrogate (mean over contacts)",
             _psd_pair_figure(true, pred, fs), "heldout-psd")]


def psd(x: np.ndarray, fs: float):
    from mne.time_frequency import psd_array_welch

    n_fft = int(min(x.shape[-1], 2 * fs))
    return psd_array_welch(x.astype(float), fs, fmin=0.5, fmax=fs / 2, n_fft=n_fft, verbose=False)


def _psd_pair_figure(true: np.ndarray, pred: np.ndarray, fs: float):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for x, lab, col in ((true, "true iEEG", "k"), (pred, "surrogate", "r")):
        p, f = psd(x, fs)
        ax.semilogy(f, p.mean(axis=0) * 1e12, col, label=lab)
    ax.axvline(HIGH_FREQ_HZ, color="#bf8700", ls="--", lw=1)
    ax.text(HIGH_FREQ_HZ + 1, ax.get_ylim()[1], f" {HIGH_FREQ_HZ:g} Hz", color="#9a6700", fontsize=8, va="top")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("power (µV²/Hz)")
    ax.legend()
    fig.tight_layout()
    return fig
