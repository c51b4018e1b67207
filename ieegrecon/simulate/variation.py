"""Subjects and sessions that differ (world v2), and the scalp reference a layout states.

Per subject (stream ``(seed, subject, 0, 2)``): connectome weights × exp(N(0, 0.3))
(Mueller et al. 2013), neural-mass time scales × exp(N(0, 0.05)) per region and
the mean input ``mu`` × U(0.9, 1.1) (David & Friston 2003), the irritative zone
and discharge rate. Per session: cap re-placement (a common shift N(0, 3 mm)
per axis plus 1 mm per electrode; Atcherson et al. 2007), channel gains
×exp(N(0, 0.05)) on the scalp and ×exp(N(0, 0.02)) on iEEG, scalp noise
×U(0.7, 1.5) (impedance), and a wake/drowsy mix (drowsy fraction U(0, 0.6);
drowsy: alpha ×0.4, theta ×1.5; Santamaria & Chiappa 1987).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from scipy import fft as sp_fft
from scipy import signal


def subject_draws(seed: int, subject_index: int, n_regions: int, weights: np.ndarray,
                  rate_range: tuple[float, float], vary: bool) -> dict:
    """Per-subject v2 parameters (connectome, mass parameters, discharge rate, peak sizes)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, subject_index, 0, 2]))
    out = {"ied_rate_per_min": float(rng.uniform(*rate_range)), "ied_peak_uv": float(rng.uniform(150, 400)),
           "ied_zone_seed": int(rng.integers(2**31)), "nl_seed": int(rng.integers(2**31))}
    w = np.asarray(weights, float) * np.exp(0.3 * rng.standard_normal(np.shape(weights)))
    jit = np.exp(0.05 * rng.standard_normal(n_regions))
    mu = 0.22 * rng.uniform(0.9, 1.1)
    # drawn after the above so that their values do not move: where in its range the subject's
    # mesial rhythm and local aperiodic exponent lie (WorldConfig.mesial_rhythm_hz, local_exponent)
    out["u_mesial"], out["u_local"] = (float(u) for u in rng.uniform(size=2))
    # session 8, drawn after all of the above: the neocortical aperiodic exponent and alpha frequency
    out["u_aperiodic"], out["u_alpha"] = (float(u) for u in rng.uniform(size=2))
    if vary:
        out.update({"weights": w, "scale_jitter": jit, "mu": float(mu)})
    return out


def add_aperiodic(norm: np.ndarray, mask: np.ndarray, share: float, exponent: float,
                  rng: np.random.Generator, sfreq: float, f_floor: float = 0.5) -> np.ndarray:
    """Mix an aperiodic 1/f^χ part into some regions' activity, keeping each region's SD.

    Parameters
    ----------
    norm : ndarray, shape (n_regions, n_times)
        Regional activity (normalized units).
    mask : ndarray of bool, shape (n_regions,)
        Regions that get the aperiodic part.
    share : float
        Share of each region's variance that becomes aperiodic (0-1).
    exponent : float
        χ of the power spectrum 1/f^χ (flat below ``f_floor`` Hz).
    rng : numpy.random.Generator
    sfreq : float
        Rate of ``norm`` (Hz).

    Returns
    -------
    ndarray, shape (n_regions, n_times)
        ``sqrt(1 - share) * x + sqrt(share) * SD(x) * a`` on the masked rows (SD kept up to the chance
        correlation of ``x`` and ``a``), ``a`` unit-SD 1/f^χ
        noise independent per region; other rows unchanged.
    """
    out = norm.copy()
    idx = np.flatnonzero(mask)
    n = norm.shape[1]
    n_fft = sp_fft.next_fast_len(n, real=True)  # generated a little longer, at a fast FFT length, then cut
    spec = sp_fft.rfft(rng.standard_normal((len(idx), n_fft), dtype=np.float32), axis=1)  # float32: half the cost
    spec *= np.maximum(sp_fft.rfftfreq(n_fft, 1.0 / sfreq), f_floor) ** (-exponent / 2.0)
    a = sp_fft.irfft(spec, n=n_fft, axis=1)[:, :n]
    a = a / a.std(axis=1, keepdims=True, dtype=np.float64)
    sd = norm[idx].std(axis=1, keepdims=True)
    out[idx] = np.sqrt(1.0 - share) * norm[idx] + np.sqrt(share) * sd * a
    return out


def session_draws(rng: np.random.Generator, n_scalp: int, n_contacts: int, duration_s: float) -> dict:
    """Per-session cap shift (m), gains, noise factor and drowsy segments."""
    shift = rng.normal(0, 0.003, 3)
    jitter = rng.normal(0, 0.001, (n_scalp, 3))
    frac = rng.uniform(0.0, 0.6)
    segs, t = [], 0.0
    while t < duration_s:
        dur = rng.exponential(20.0) + 3.0
        if rng.uniform() < frac:
            segs.append((t, min(dur, duration_s - t)))
        t += dur
    return {"cap_shift_m": shift, "cap_jitter_m": jitter, "drowsy_fraction_target": float(frac),
            "scalp_gain": np.exp(0.05 * rng.standard_normal(n_scalp)),
            "ieeg_gain": np.exp(0.02 * rng.standard_normal(n_contacts)),
            "scalp_noise_factor": float(rng.uniform(0.7, 1.5)), "drowsy": segs}


def apply_state(sources: np.ndarray, sfreq: float, alpha_hz: float, theta_hz: float,
                drowsy: list[tuple[float, float]], cortical: np.ndarray) -> np.ndarray:
    """Drowsy segments: alpha ×0.4 and theta ×1.5 in cortical region moments (1 s transitions)."""
    n = sources.shape[1]
    mask = np.zeros(n)
    for t0, d in drowsy:
        mask[int(t0 * sfreq):int((t0 + d) * sfreq)] = 1.0
    k = int(sfreq)
    mask = np.convolve(mask, np.ones(k) / k, mode="same")
    if not mask.any():
        return sources
    sos_a = signal.butter(3, [max(1.0, alpha_hz - 2.5), alpha_hz + 2.5], btype="bandpass", fs=sfreq, output="sos")
    sos_t = signal.butter(3, [4.0, 7.5], btype="bandpass", fs=sfreq, output="sos")
    out = sources.copy()
    alpha = signal.sosfiltfilt(sos_a, sources[cortical], axis=1)
    theta = signal.sosfiltfilt(sos_t, sources[cortical], axis=1)
    out[cortical] += mask[None] * (-0.6 * alpha + 0.5 * theta)
    return out


def layout_scalp_reference(electrodes_tsv: Path, scalp_norm: list[str]) -> str | None:
    """Reference stated by the layout's ``eeg/*_eeg.json`` (``EEGReference``), as a name.

    Returns ``'linked_ears'``, ``'average'``, a 10-05 electrode name, or None
    (not stated, vague like "electrode near the vertex", or unreadable).
    """
    from ..channels import normalize_ch_name

    eeg_dir = Path(electrodes_tsv).parent.parent / "eeg"
    for js in sorted(eeg_dir.glob("*_eeg.json")) if eeg_dir.is_dir() else []:
        try:
            ref = str(json.loads(js.read_text(encoding="utf8")).get("EEGReference", "")).strip()
        except (OSError, ValueError):
            continue
        low = ref.lower()
        if not low:
            continue
        words = set(re.findall(r"[a-z0-9]+", low))
        if words & {"linked", "ear", "ears", "mastoid", "mastoids"} or {"a1", "a2"} <= words:
            return "linked_ears"
        if "average" in low or low in ("car", "avg"):
            return "average"
        name = normalize_ch_name(ref)
        if name and name not in scalp_norm and " " not in ref:
            try:
                from .forward import colin27_positions

                colin27_positions([name])
                return name
            except KeyError:
                return None
        return None
    return None
