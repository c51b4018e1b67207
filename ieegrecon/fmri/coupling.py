"""Neurovascular coupling and BOLD noise of the fMRI simulator (issue #20).

What the simulated BOLD is made of, per Desikan-Killiany region ``r``:

1. **Several EEG bands drive BOLD, with regional signs and sizes.** Besides the
   TVB alpha oscillator, each region carries theta (4-7 Hz), beta (15-25 Hz)
   and gamma (30-45 Hz) activity: band-limited noise whose amplitude is
   modulated by slow (< 0.08 Hz) network-structured drives
   (:func:`band_components`). The neural drive of the hemodynamics is
   ``z_r = sum_b w_rb P_rb + xi_r``, ``P_rb`` the region's relative band power
   (unit SD), ``xi_r`` a slow drive that no EEG band shows. The weights
   (:func:`coupling_weights`) follow the EEG-fMRI literature:

   * alpha power correlates negatively with BOLD, most strongly in occipital
     and parietal cortex (Goldman et al. 2002, NeuroReport 13:2487; Laufs et
     al. 2003, NeuroImage 19:1463; Moosmann et al. 2003, NeuroImage 20:145);
   * sensorimotor beta (and mu) power correlates negatively with BOLD in
     pre/postcentral cortex (Ritter et al. 2009, HBM 30:1168; Yuan et al.
     2010, NeuroImage 49:2596);
   * frontal theta correlates negatively with the default-mode network
     (Scheeringa et al. 2008, IJP 67:242), beta positively with it (Laufs
     et al. 2003, PNAS 100:11053);
   * gamma (broadband high-frequency) power correlates positively with BOLD
     (Logothetis et al. 2001, Nature 412:150; Mukamel et al. 2005, Science
     309:951; Scheeringa et al. 2011, Neuron 69:572);
   * the weights vary across subjects (x (1 + 0.2 N(0, 1)) per region and band).

2. **Region-specific hemodynamics**: the Balloon-Windkessel parameters
   kappa, gamma and tau are drawn per region (x U(0.8, 1.25)), which moves the
   HRF peak by about ±1 s, the spread reported across regions and subjects
   (Handwerker et al. 2004, NeuroImage 21:1639; Aguirre et al. 1998,
   NeuroImage 8:360).

3. **Noise at the vertices** (:func:`vertex_noise`), each as a fraction of the
   parcel BOLD SD: thermal noise (white, independent per vertex, 0.35);
   spatially smooth AR(1) noise (0.3; Purdon & Weisskoff 1998, HBM 6:239);
   physiological noise, cardiac (1.0-1.3 Hz, aliased by the 0.8-s TR) and
   respiratory (0.2-0.35 Hz) oscillations with smooth spatial maps (Glover
   et al. 2000, MRM 44:162), and a global low-frequency respiration-volume
   component (Birn et al. 2006, NeuroImage 31:1536) (0.25 together); slow
   scanner drift, a random combination of a linear and a quadratic trend per
   vertex (Smith et al. 1999, NeuroImage 9:526) (0.3).
"""

from __future__ import annotations

import numpy as np

#: Balloon-Windkessel parameters (Friston et al. 2003 / Stephan et al. 2007).
BW = {"kappa": 0.65, "gamma": 0.41, "tau": 0.98, "alpha": 0.32, "e0": 0.34, "v0": 0.02}
#: Bands of the simulated neural activity besides the TVB alpha oscillator: (lo, hi) Hz and
#: amplitude relative to the alpha oscillation's SD (roughly 1/f).
EXTRA_BANDS = {"theta": ((4.0, 7.0), 0.6), "beta": ((15.0, 25.0), 0.35), "gamma": ((30.0, 45.0), 0.12)}
#: Bands whose relative power drives BOLD (alpha from the TVB oscillator: 7-14 Hz).
DRIVE_BANDS = {"theta": (4.0, 7.0), "alpha": (7.0, 14.0), "beta": (15.0, 25.0), "gamma": (30.0, 45.0)}
_VISUAL = {"lateraloccipital", "cuneus", "lingual", "pericalcarine", "superiorparietal", "inferiorparietal",
           "precuneus", "fusiform"}
_SENSORIMOTOR = {"precentral", "postcentral", "paracentral"}
_DMN = {"posteriorcingulate", "isthmuscingulate", "precuneus", "medialorbitofrontal", "superiorfrontal",
        "inferiorparietal", "rostralanteriorcingulate"}
#: Default weights, then overrides for the region groups above (applied in this order).
_DEFAULT_W = {"theta": -0.2, "alpha": -0.5, "beta": -0.2, "gamma": 0.5}
_GROUP_W = ((_VISUAL, {"alpha": -1.0, "gamma": 0.6}), (_SENSORIMOTOR, {"alpha": -0.6, "beta": -0.8}),
            (_DMN, {"theta": -0.5, "beta": 0.4}))
#: Scale of the drive (BOLD fluctuations of about 1 % signal change, as in resting-state data).
DRIVE_SCALE = 0.4
#: SD of the drive that no EEG band shows, relative to the EEG-visible drive's SD.
HIDDEN_DRIVE = 0.5


def slow_drive(rng: np.random.Generator, n_regions: int, n_times: int, sfreq: float,
               weights: np.ndarray, cutoff_hz: float = 0.08, n_modes: int = 6,
               private: float = 0.3) -> np.ndarray:
    """Slow (< ``cutoff_hz``) drive organized in large-scale networks (clipped to ±2.5 SD).

    ``u = V s(t) + private * e(t)``: ``V`` holds the ``n_modes`` leading
    eigenvectors of the symmetrized connectome (structural modes, as in
    connectome-harmonic accounts of resting-state networks; Atasoy et al.
    2016), ``s`` and ``e`` are independent low-pass Gaussian processes
    (second-order Butterworth, :func:`scipy.signal.sosfiltfilt`).

    Returns
    -------
    ndarray, shape (n_regions, n_times)
        Unit variance per region.
    """
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, cutoff_hz, fs=sfreq, output="sos")

    def lowpass(n: int) -> np.ndarray:
        x = sosfiltfilt(sos, rng.standard_normal((n, n_times)), axis=1)
        return x / x.std(axis=1, keepdims=True)

    w = (weights + weights.T) / 2.0
    _, vecs = np.linalg.eigh(w)
    modes = vecs[:, ::-1][:, :n_modes] * np.sqrt(n_regions)
    u = modes @ lowpass(n_modes) / np.sqrt(n_modes) + private * lowpass(n_regions)
    u = (u - u.mean(axis=1, keepdims=True)) / u.std(axis=1, keepdims=True)
    return np.clip(u, -2.5, 2.5)


def coupling_weights(parcel_names: list[str], rng: np.random.Generator, jitter: float = 0.2) -> np.ndarray:
    """Band-power -> BOLD weights per region (literature signs, subject jitter).

    Parameters
    ----------
    parcel_names : list of str
        ``'lh.precentral'``...
    rng : numpy.random.Generator
    jitter : float
        Relative SD of the per-subject variation.

    Returns
    -------
    ndarray, shape (n_regions, len(DRIVE_BANDS))
        Columns in :data:`DRIVE_BANDS` order.
    """
    bands = list(DRIVE_BANDS)
    w = np.empty((len(parcel_names), len(bands)))
    for i, name in enumerate(parcel_names):
        region = name.split(".", 1)[1]
        d = dict(_DEFAULT_W)
        for group, over in _GROUP_W:
            if region in group:
                d.update(over)
        w[i] = [d[b] for b in bands]
    return w * (1.0 + jitter * rng.standard_normal(w.shape))


def _upsample(u: np.ndarray, n_times: int) -> np.ndarray:
    t = np.linspace(0.0, u.shape[1] - 1.0, n_times)
    return np.stack([np.interp(t, np.arange(u.shape[1]), row) for row in u])


def band_components(n_times: int, sfreq: float, rng: np.random.Generator, weights: np.ndarray,
                    ref_sd: np.ndarray) -> np.ndarray:
    """Theta, beta and gamma activity per region with slowly modulated amplitude.

    Each band is Gaussian noise band-passed (4th-order Butterworth, zero phase)
    times ``exp(0.5 u(t))``, ``u`` a slow network drive
    (:func:`ieegrecon.fmri.simulate.slow_drive`, 10 Hz, upsampled), scaled to
    ``amp x ref_sd`` (:data:`EXTRA_BANDS`).

    Parameters
    ----------
    n_times : int
    sfreq : float
        Hz.
    rng : numpy.random.Generator
    weights : ndarray, shape (n_regions, n_regions)
        Structural connectome (for the drives' network modes).
    ref_sd : ndarray, shape (n_regions,)
        SD of each region's alpha oscillation.

    Returns
    -------
    ndarray, shape (n_regions, n_times)
    """
    from scipy.signal import butter, sosfiltfilt

    n = weights.shape[0]
    n_slow = int(n_times / sfreq * 10.0) + 2
    out = np.zeros((n, n_times))
    for (lo, hi), amp in EXTRA_BANDS.values():
        sos = butter(4, [lo, hi], btype="band", fs=sfreq, output="sos")
        c = sosfiltfilt(sos, rng.standard_normal((n, n_times)), axis=1)
        c *= np.exp(0.5 * _upsample(slow_drive(rng, n, n_slow, 10.0, weights), n_times))
        out += c * (amp * ref_sd / c.std(axis=1))[:, None]
    return out


def relative_band_power(x: np.ndarray, sfreq: float, out_sfreq: float = 100.0) -> np.ndarray:
    """Relative power (divided by its mean, minus 1, scaled to unit SD) per region and drive band.

    Returns
    -------
    ndarray, shape (n_bands, n_regions, n_out)
        Bands in :data:`DRIVE_BANDS` order, at ``out_sfreq``.
    """
    from scipy.signal import butter, hilbert, resample_poly, sosfiltfilt

    out = []
    for lo, hi in DRIVE_BANDS.values():
        sos = butter(4, [lo, hi], btype="band", fs=sfreq, output="sos")
        p = np.abs(hilbert(sosfiltfilt(sos, x, axis=1), axis=1)) ** 2
        p = resample_poly(p, int(out_sfreq), int(sfreq), axis=1)
        p = p / p.mean(axis=1, keepdims=True) - 1.0
        out.append(p / p.std(axis=1, keepdims=True))
    return np.stack(out)


def neural_drive(x: np.ndarray, sfreq: float, weights: np.ndarray, rng: np.random.Generator,
                 conn_weights: np.ndarray, out_sfreq: float = 100.0) -> np.ndarray:
    """Hemodynamic drive ``sum_b w_rb P_rb + xi_r`` at ``out_sfreq`` (mean 0).

    Parameters
    ----------
    x : ndarray, shape (n_regions, n_times)
        Region activity (all bands).
    sfreq : float
    weights : ndarray, shape (n_regions, n_bands)
        From :func:`coupling_weights`.
    rng : numpy.random.Generator
    conn_weights : ndarray, shape (n_regions, n_regions)
        Connectome (network modes of the hidden drive).

    Returns
    -------
    ndarray, shape (n_regions, n_out)
    """
    from scipy.signal import butter, sosfiltfilt

    p = relative_band_power(x, sfreq, out_sfreq)
    z = np.einsum("rb,brt->rt", weights, p)
    slow_sd = sosfiltfilt(butter(2, 0.08, fs=out_sfreq, output="sos"), z, axis=1).std(axis=1)
    hidden = slow_drive(rng, z.shape[0], z.shape[1], out_sfreq, conn_weights)
    z = DRIVE_SCALE * (z + HIDDEN_DRIVE * slow_sd[:, None] * hidden)
    return z - z.mean(axis=1, keepdims=True)


def hemodynamic_params(n_regions: int, rng: np.random.Generator) -> dict:
    """Balloon-Windkessel parameters per region (kappa, gamma, tau x U(0.8, 1.25))."""
    p = {k: np.full(n_regions, v) for k, v in BW.items()}
    for k in ("kappa", "gamma", "tau"):
        p[k] = p[k] * rng.uniform(0.8, 1.25, n_regions)
    return p


def vertex_noise(n_frames: int, tr: float, mesh, signal_sd: float, rng: np.random.Generator) -> np.ndarray:
    """Thermal, smooth AR(1), physiological and drift noise at every vertex.

    Parameters
    ----------
    n_frames : int
    tr : float
        Seconds.
    mesh : Fsaverage5
    signal_sd : float
        SD of the parcel BOLD (percent signal change); amplitudes are fractions of it.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_frames, n_vertices)
    """
    from scipy.signal import lfilter

    from .mesh import smooth_on_mesh

    nv = mesh.n_vertices

    def unit(a: np.ndarray) -> np.ndarray:
        return a / a.std()

    def smooth_maps(k: int, steps: int = 10) -> np.ndarray:
        return smooth_on_mesh(rng.standard_normal((k, nv)), mesh, steps)

    t = np.arange(n_frames) * tr
    thermal = rng.standard_normal((n_frames, nv))
    ar = lfilter([1.0], [1.0, -0.5], smooth_on_mesh(rng.standard_normal((n_frames, nv)), mesh, 5), axis=0)
    fc, fr = rng.uniform(1.0, 1.3), rng.uniform(0.2, 0.35)
    phases = rng.uniform(0, 2 * np.pi, 4)
    waves = np.stack([np.sin(2 * np.pi * fc * t + phases[0]), np.cos(2 * np.pi * fc * t + phases[1]),
                      np.sin(2 * np.pi * fr * t + phases[2]), np.cos(2 * np.pi * fr * t + phases[3])], axis=1)
    waves = waves * (1.0 + 0.3 * np.sin(2 * np.pi * 0.01 * t + phases[0]))[:, None]
    from scipy.signal import butter, sosfiltfilt

    rv = sosfiltfilt(butter(2, 0.05, fs=1.0 / tr, output="sos"), rng.standard_normal(n_frames))
    physio = unit(waves @ smooth_maps(4)) + 0.7 * unit(np.outer(rv, 1.0 + 0.3 * unit(smooth_maps(1)[0])))
    s = t / max(t[-1], tr) * 2.0 - 1.0
    trends = np.stack([s, 1.5 * s * s - 0.5], axis=1)
    drift = trends @ smooth_maps(2, 20)
    return signal_sd * (0.35 * thermal + 0.3 * unit(ar) + 0.25 * unit(physio) + 0.3 * unit(drift))
