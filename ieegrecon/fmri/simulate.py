"""Paired scalp EEG and BOLD driven by the same simulated neural activity.

1. **Neural activity** (TVB): a supercritical Hopf / Stuart-Landau oscillator
   (``tvb.simulator.models.SupHopf``; Deco et al. 2017) in each of the 68
   Desikan-Killiany regions of TVB's ``connectivity_68.zip`` connectome,
   coupled with conduction delays (4 m/s) and driven by additive noise. Each
   region oscillates at its own alpha frequency (8-12 Hz). Its bifurcation
   parameter ``a`` drifts slowly (a low-pass < 0.08 Hz random process laid out
   on the connectome's leading structural modes, plus a private part), so the
   oscillation's amplitude waxes and wanes on the seconds-to-minutes scale
   that BOLD can follow.
2. **More bands** (:mod:`ieegrecon.fmri.coupling`): theta, beta and gamma
   activity per region, with slowly modulated amplitude.
3. **EEG**: each region is a current dipole at its parcel centroid (MNI, from
   the vendored DK volume), oriented radially, projected to 19 10-20 channels
   by the template three-shell sphere forward model
   (:func:`ieegrecon.headmodel.template_forward`), plus sensor noise.
4. **BOLD**: the region's relative theta, alpha, beta and gamma power, with
   literature signs that differ between regions, plus a drive no EEG band
   shows, drives the Balloon-Windkessel hemodynamic model (Friston et al.
   2000, NeuroImage 12:466; parameters of Stephan et al. 2007, NeuroImage
   38:387 / Friston et al. 2003) with region-specific parameters, sampled at
   the TR as percent signal change (:mod:`ieegrecon.fmri.coupling`).
5. **Vertices**: on fsaverage5, ``vertex = parcel BOLD × (1 + 0.3 g_v) + noise``
   where ``g_v`` is a smooth random gain map and the noise is thermal,
   spatially smooth AR(1), physiological (cardiac, respiratory, global) and
   slow drift (:func:`ieegrecon.fmri.coupling.vertex_noise`); medial-wall
   vertices carry noise only.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..channels import STANDARD_1020_19
from ..simulate.dynamics import tvb_simulator_modules
from .coupling import BW, slow_drive
from .mesh import Fsaverage5, load_fsaverage5, parcel_centres_mni, smooth_on_mesh

#: Integration step of the neural model (ms); 250 Hz (Heun, omega dt <= 0.3 rad at 12 Hz).
DT_MS = 4.0


@dataclass
class FmriSubject:
    """One simulated subject: scalp EEG and BOLD of the same neural activity.

    Attributes
    ----------
    eeg : ndarray, shape (19, n_times)
        Scalp EEG in volts.
    sfreq : float
        EEG sampling rate (Hz).
    ch_names : list of str
        The 19 10-20 channels.
    bold : ndarray, shape (n_frames, 20484)
        Vertex BOLD (percent signal change), lh then rh.
    bold_parcels : ndarray, shape (n_frames, 68)
        Noise-free parcel BOLD (percent signal change).
    tr : float
        Repetition time (s); frame ``k`` covers EEG ``[k tr, (k+1) tr)``.
    seed : int
    """

    eeg: np.ndarray
    sfreq: float
    ch_names: list[str]
    bold: np.ndarray
    bold_parcels: np.ndarray
    tr: float
    seed: int

    @property
    def n_frames(self) -> int:
        """Number of BOLD frames."""
        return int(self.bold.shape[0])


@lru_cache(maxsize=1)
def load_connectivity_68():
    """TVB's 68-region Desikan-Killiany connectome, reordered like the fsaverage5 parcels.

    Returns
    -------
    conn : tvb.datatypes.connectivity.Connectivity
        Configured, speed 4 m/s, regions in :func:`load_fsaverage5` order.
    """
    import tvb_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tvb.datatypes.connectivity import Connectivity

        for name in ("tvb", "tvb.basic.readers"):
            logging.getLogger(name).setLevel(logging.ERROR)

        path = os.path.join(os.path.dirname(tvb_data.__file__), "connectivity", "connectivity_68.zip")
        conn = Connectivity.from_file(path)
    labels = [str(x) for x in conn.region_labels]
    tvb_index = {("lh." if lab.startswith("l_") else "rh.") + lab[2:]: i for i, lab in enumerate(labels)}
    order = np.array([tvb_index[n] for n in load_fsaverage5().parcel_names])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conn.weights = conn.weights[np.ix_(order, order)]
        conn.tract_lengths = conn.tract_lengths[np.ix_(order, order)]
        conn.centres = conn.centres[order]
        conn.region_labels = np.array(load_fsaverage5().parcel_names)
        conn.areas = conn.areas[order] if conn.areas is not None and len(conn.areas) else conn.areas
        conn.orientations = conn.orientations[order] if conn.orientations is not None and len(conn.orientations) \
            else conn.orientations
        conn.cortical = np.ones(len(order), bool)
        conn.hemispheres = np.array([n.startswith("rh.") for n in load_fsaverage5().parcel_names])
        conn.speed = np.array([4.0])
        conn.configure()
    return conn


def simulate_neural(duration_s: float, rng: np.random.Generator, *, coupling_gain: float = 0.002,
                    noise_d: float = 2e-5, log_a_mean: float = np.log(4e-3),
                    log_a_span: float = 1.0) -> np.ndarray:
    """Simulate the Stuart-Landau network with a slowly drifting bifurcation parameter.

    Parameters
    ----------
    duration_s : float
        Length (s).
    rng : numpy.random.Generator
        Source of all randomness (TVB's noise seed is drawn from it).
    coupling_gain : float
        TVB ``Difference`` coupling strength.
    noise_d : float
        TVB additive noise intensity ``nsig`` (per ms).
    log_a_mean, log_a_span : float
        ``a(t) = -exp(log_a_mean + log_a_span u(t))`` (1/ms) with ``u`` from :func:`slow_drive`.

    Returns
    -------
    ndarray, shape (68, n_times)
        The ``x`` variable of each region at ``1000 / DT_MS`` Hz.
    """
    coupling, integrators, models, monitors, noise, simulator = tvb_simulator_modules()

    conn = load_connectivity_68()
    n = conn.number_of_regions
    freq = rng.uniform(8.0, 12.0, n)
    n_steps = round(duration_s * 1000.0 / DT_MS)
    block = 25  # steps between updates of a(t) (100 ms)
    u = slow_drive(rng, n, n_steps // block + 2, 1000.0 / (DT_MS * block), conn.weights)
    a_t = -np.exp(log_a_mean + log_a_span * u)
    model = models.SupHopf(a=a_t[:, 0].copy()[:, None], omega=(2 * np.pi * freq / 1000.0)[:, None])
    integ = integrators.HeunStochastic(
        dt=DT_MS, noise=noise.Additive(nsig=np.array([noise_d]), noise_seed=int(rng.integers(2**31 - 1))))
    horizon = int(np.ceil(np.max(conn.tract_lengths) / conn.speed[0] / DT_MS)) + 2
    init = rng.normal(0.0, 0.01, (horizon, 2, n, 1))
    sim = simulator.Simulator(model=model, connectivity=conn, integrator=integ, initial_conditions=init,
                              coupling=coupling.Difference(a=np.array([coupling_gain])),
                              monitors=(monitors.Raw(),), simulation_length=n_steps * DT_MS)
    out = np.empty((n, n_steps))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.configure()
        k = 0
        for (res,) in sim():
            if res is None:
                continue
            if k >= n_steps:
                break
            out[:, k] = res[1][0, :, 0]
            k += 1
            if k % block == 0:
                model.a[...] = a_t[:, k // block].reshape(model.a.shape)
    if k < n_steps:
        out[:, k:] = out[:, [k - 1]]
    if not np.all(np.isfinite(out)):
        raise RuntimeError("TVB Stuart-Landau simulation diverged")
    return out


def balloon_windkessel(z: np.ndarray, dt: float, params: dict | None = None) -> np.ndarray:
    """BOLD signal of the Balloon-Windkessel model driven by neural activity ``z``.

    ``ds/dt = z - κ s - γ (f - 1)``, ``df/dt = s``, ``τ dv/dt = f - v^(1/α)``,
    ``τ dq/dt = f (1 - (1 - E0)^(1/f)) / E0 - v^(1/α) q / v``,
    ``y = V0 (k1 (1 - q) + k2 (1 - q / v) + k3 (1 - v))`` with ``k1 = 7 E0``,
    ``k2 = 2``, ``k3 = 2 E0 - 0.2`` (Friston et al. 2000; parameters in :data:`BW`),
    integrated by forward Euler.

    Parameters
    ----------
    z : ndarray, shape (n_regions, n_times)
        Neural drive (dimensionless, 0 = baseline).
    dt : float
        Step (s), at most 0.02.
    params : dict | None
        Parameters as :data:`BW` (floats or arrays of shape (n_regions,)); default :data:`BW`.

    Returns
    -------
    ndarray, shape (n_regions, n_times)
        BOLD in percent signal change.
    """
    p = BW if params is None else params
    s = np.zeros(z.shape[0])
    f = np.ones_like(s)
    v = np.ones_like(s)
    q = np.ones_like(s)
    k1, k2, k3 = 7 * p["e0"], 2.0, 2 * p["e0"] - 0.2
    y = np.empty_like(z, dtype=float)
    for t in range(z.shape[1]):
        vs = v ** (1 / p["alpha"])
        ds = z[:, t] - p["kappa"] * s - p["gamma"] * (f - 1)
        dv = (f - vs) / p["tau"]
        dq = (f * (1 - (1 - p["e0"]) ** (1 / f)) / p["e0"] - vs * q / v) / p["tau"]
        s, f, v, q = s + dt * ds, np.maximum(f + dt * s, 1e-3), np.maximum(v + dt * dv, 1e-3), \
            np.maximum(q + dt * dq, 1e-3)
        y[:, t] = 100.0 * p["v0"] * (k1 * (1 - q) + k2 * (1 - q / v) + k3 * (1 - v))
    return y


@lru_cache(maxsize=4)
def eeg_gain(ch_names: tuple[str, ...] = STANDARD_1020_19, spacing_mm: float = 15.0) -> np.ndarray:
    """Scalp potential of a unit radial dipole at each DK parcel centroid.

    Uses :func:`ieegrecon.headmodel.template_forward` (three-shell sphere,
    MNE) at the grid point nearest each centroid.

    Returns
    -------
    ndarray, shape (n_channels, 68)
        Volts per A·m.
    """
    from ..headmodel import template_forward, template_sphere

    fwd, _ = template_forward(list(ch_names), spacing_mm)
    src = fwd["src"][0]
    grid = src["rr"][src["vertno"]]
    r0, _ = template_sphere()
    sol = fwd["sol"]["data"].reshape(len(ch_names), -1, 3)
    centres = parcel_centres_mni()
    g = np.empty((len(ch_names), len(centres)))
    for i, c in enumerate(centres):
        j = int(np.argmin(np.linalg.norm(grid - c, axis=1)))
        ori = (c - r0) / np.linalg.norm(c - r0)
        g[:, i] = sol[:, j, :] @ ori
    return g


def simulate_subject(duration_s: float, seed: int, *, tr: float = 0.8, sfreq: float = 250.0,
                     mesh: Fsaverage5 | None = None, warmup_s: float = 20.0,
                     neural: np.ndarray | None = None) -> FmriSubject:
    """Simulate one subject's paired EEG and fsaverage5 BOLD.

    Parameters
    ----------
    duration_s : float
        Length of the returned recording (s); ``n_frames = floor(duration_s / tr)``.
    seed : int
        Decides everything (neural noise, frequencies, couplings, gains, noise).
    tr : float
        Repetition time (s).
    sfreq : float
        EEG sampling rate (Hz), a divisor of 250.
    mesh : Fsaverage5 | None
        Defaults to :func:`load_fsaverage5`.
    warmup_s : float
        Simulated and dropped first (neural and hemodynamic transients).
    neural : ndarray, shape (68, n_neural) | None
        ``simulate_neural(warmup_s + n_frames * tr, np.random.default_rng(seed))``
        when already computed (a cache); computed otherwise.

    Returns
    -------
    FmriSubject
    """
    from scipy.signal import lfilter, resample_poly

    from .coupling import band_components, coupling_weights, hemodynamic_params, neural_drive, vertex_noise

    mesh = mesh or load_fsaverage5()
    n_frames = int(np.floor(duration_s / tr))
    total = warmup_s + n_frames * tr
    x = simulate_neural(total, np.random.default_rng(seed)) if neural is None else np.asarray(neural, float)
    rng = np.random.default_rng([seed, 20])
    fs_neural = 1000.0 / DT_MS
    conn_w = load_connectivity_68().weights
    x = x + band_components(x.shape[1], fs_neural, rng, conn_w, x.std(axis=1))
    # BOLD from several bands' relative power, region-specific hemodynamics
    drive = neural_drive(x, fs_neural, coupling_weights(mesh.parcel_names, rng), rng, conn_w, 100.0)
    bold_fine = balloon_windkessel(drive, 0.01, hemodynamic_params(x.shape[0], rng))
    n_warm_f = round(warmup_s * 100.0)
    per = round(tr * 100.0)
    bf = bold_fine[:, n_warm_f:n_warm_f + n_frames * per]
    parcels = bf.reshape(bf.shape[0], n_frames, per).mean(axis=2).T  # (n_frames, 68)
    parcels = parcels - parcels.mean(axis=0)
    # EEG
    xs = resample_poly(x, int(sfreq), int(fs_neural), axis=1)
    n_warm = round(warmup_s * sfreq)
    n_times = round(n_frames * tr * sfreq)
    xs = xs[:, n_warm:n_warm + n_times]
    ch = list(STANDARD_1020_19)
    sig = eeg_gain(tuple(ch)) @ xs
    sig *= (20e-6 * rng.uniform(0.7, 1.3)) / sig.std()
    noise = lfilter([1.0], [1.0, -0.9], rng.standard_normal(sig.shape), axis=1)
    noise *= 0.3 * sig.std() / noise.std()
    eeg = sig + noise
    # vertices: smooth gain map within parcels, then thermal/physiological/drift noise
    gain = smooth_on_mesh(rng.standard_normal((1, mesh.n_vertices)), mesh, 20)[0]
    gain = 1.0 + 0.3 * gain / gain.std()
    bold = mesh.parcel_to_vertex(parcels) * gain + vertex_noise(n_frames, tr, mesh, float(parcels.std()), rng)
    return FmriSubject(eeg=eeg, sfreq=float(sfreq), ch_names=ch, bold=bold, bold_parcels=parcels, tr=float(tr),
                       seed=int(seed))
