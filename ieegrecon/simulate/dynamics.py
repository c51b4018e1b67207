"""Regional source dynamics from The Virtual Brain (TVB).

A Jansen-Rit neural mass (Jansen & Rit 1995) sits in each of the 76 regions of
TVB's default connectome (``tvb_data`` ``connectivity_76.zip``, the Kötter &
Wanke regional map), coupled through the connectome with conduction delays
(Sanz-Leon et al. 2013). Additive noise on the pyramidal input gives the
1/f-like background; each mass's time scale sets its rhythm: cortical masses
produce an alpha peak (per-subject frequency 8-12 Hz), hippocampus,
parahippocampal cortex and amygdala a theta rhythm. The output of a region is
the mean membrane potential of its pyramidal population, ``y1 - y2`` (mV),
the quantity the Jansen-Rit paper relates to EEG.

Interictal epileptiform discharges are added as spike-and-wave events
(a 70 ms sharp wave and a 250 ms slow wave; de Curtis & Avanzini 2001) in a
seed-chosen mesial temporal region and, attenuated and delayed, in the regions
it projects to most strongly. They are a template, not emergent dynamics.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Integration step (ms). Heun stochastic at 3.125 ms is stable for the
#: Jansen-Rit time constants used here and keeps 10 min of simulation fast;
#: the Raw monitor then samples at 320 Hz.
DT_MS = 3.125
#: Sampling rate of the regional time series (Hz).
SOURCE_SFREQ = 1000.0 / DT_MS
#: Time-scale factors of the Jansen-Rit mass, measured against the peak of the
#: regional spectra (command in docs/simulation.md): 0.8 -> 6.5 Hz,
#: 1.0 -> 9.5 Hz, 1.2 -> 11.5 Hz; below 5 Hz (world v2's mesial slow theta), the peak of the
#: mesial regions' mean Welch spectrum over 60 s (seed 1, default coupling; /tmp/jrscale.py in the
#: session log, docs/simulation.md): 0.4 -> 2.5 Hz, 0.5 -> 2.8 Hz, 0.6 -> 3.75 Hz.
_SCALE_TABLE = (np.array([2.5, 2.8, 3.75, 5.0, 6.5, 9.5, 11.5, 13.0]),
                np.array([0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2, 1.3]))
#: Region names (without the l/r hemisphere prefix) that carry theta.
THETA_REGIONS = ("HC", "PHC", "AMYG")


@dataclass
class RegionalActivity:
    """Regional time series produced by :func:`simulate_regions`.

    Attributes
    ----------
    data : ndarray, shape (n_regions, n_times)
        Pyramidal mean membrane potential ``y1 - y2`` minus its mean, in mV.
    sfreq : float
        Sampling rate (Hz), :data:`SOURCE_SFREQ`.
    labels : list of str
        TVB region labels (``'rHC'``, ``'lM1'`` ...).
    areas : ndarray, shape (n_regions,)
        Cortical area of each region (mm^2) from the connectome.
    spike_times : ndarray, shape (n_spikes,)
        Onsets (s) of the interictal discharges.
    spike_region : str
        Label of the region where discharges start.
    """

    data: np.ndarray
    sfreq: float
    labels: list[str]
    areas: np.ndarray
    spike_times: np.ndarray
    spike_region: str


@lru_cache(maxsize=1)
def load_connectivity():
    """TVB's 76-region connectome (``tvb_data`` ``connectivity_76.zip``)."""
    import logging

    import tvb_data

    logging.getLogger("tvb").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tvb.datatypes.connectivity import Connectivity

    path = os.path.join(os.path.dirname(tvb_data.__file__), "connectivity", "connectivity_76.zip")
    for name in ("tvb", "tvb.basic.readers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conn = Connectivity.from_file(path)
        conn.speed = np.array([4.0])  # m/s, conduction velocity
        conn.configure()
    return conn


def time_scale_for(freq_hz: float) -> float:
    """Jansen-Rit time-scale factor that gives a spectral peak near ``freq_hz``."""
    return float(np.interp(freq_hz, *_SCALE_TABLE))


def tvb_simulator_modules():
    """TVB's ``coupling, integrators, models, monitors, noise, simulator`` modules.

    Imported with TVB's import-time warnings silenced (deprecations in its
    dependencies that we cannot act on).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tvb.simulator import (
            coupling,
            integrators,
            models,
            monitors,
            noise,
            simulator,
        )
    return coupling, integrators, models, monitors, noise, simulator


def simulate_regions(
    duration_s: float,
    rng: np.random.Generator,
    *,
    alpha_hz: float = 10.0,
    theta_hz: float = 6.0,
    coupling_gain: float = 1.0,
    noise_sigma: float = 0.01,
    spike_rate_hz: float = 0.05,
    warmup_s: float = 2.0,
    weights: np.ndarray | None = None,
    scale_jitter: np.ndarray | None = None,
    mu: float = 0.22,
    fast: bool = False,
) -> RegionalActivity:
    """Simulate Jansen-Rit masses on TVB's connectome.

    Parameters
    ----------
    duration_s : float
        Length of the output (s); ``warmup_s`` more is simulated and dropped.
    rng : numpy.random.Generator
        Source of all randomness (TVB's noise seed is drawn from it).
    alpha_hz, theta_hz : float
        Target spectral peaks of cortical and mesial temporal regions.
    coupling_gain : float
        Global coupling of TVB's ``SigmoidalJansenRit`` coupling.
    noise_sigma : float
        Standard deviation of the additive noise on the pyramidal input (``nsig``).
    spike_rate_hz : float
        Mean rate of interictal discharges (Poisson).
    warmup_s : float
        Transient discarded at the start.
    weights : ndarray, shape (n_regions, n_regions) | None
        Connectome weights replacing TVB's (world v2: a per-subject draw).
    scale_jitter : ndarray, shape (n_regions,) | None
        Factors on each mass's time scale (world v2: per-subject parameters).
    mu : float
        Mean input of the Jansen-Rit masses (TVB's default 0.22).
    fast : bool
        Integrate the configured TVB simulator with the compiled loop of
        :mod:`ieegrecon.simulate.jansen_rit` (same scheme, parameters and noise
        stream; equal to TVB's run to rounding) instead of ``Simulator.run()``.
        World v2 uses it; world v1 keeps TVB's loop (bit for bit).

    Returns
    -------
    RegionalActivity
    """
    coupling, integrators, models, monitors, noise, simulator = tvb_simulator_modules()

    conn = load_connectivity()
    if weights is not None:
        import copy

        conn = copy.deepcopy(conn)
        conn.weights = np.asarray(weights, float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            conn.configure()
    labels = [str(x) for x in conn.region_labels]
    n = len(labels)
    sc = np.full(n, time_scale_for(alpha_hz))
    theta = np.array([lab[1:] in THETA_REGIONS for lab in labels])
    sc[theta] = time_scale_for(theta_hz)
    if scale_jitter is not None:
        sc = sc * scale_jitter
    model = models.JansenRit(
        a=0.1 * sc, b=0.05 * sc, A=3.25 * sc, B=22.0 * sc,
        mu=np.array([mu]), v0=np.array([6.0]), variables_of_interest=("y1", "y2"),
    )
    nsig = np.zeros(6)
    nsig[4] = noise_sigma
    integ = integrators.HeunStochastic(
        dt=DT_MS, noise=noise.Additive(nsig=nsig, noise_seed=int(rng.integers(2**31 - 1))))
    n_keep = int(round(duration_s * SOURCE_SFREQ))
    n_warm = int(round(warmup_s * SOURCE_SFREQ))
    # random initial history from our generator, so that the seed decides everything
    horizon = int(np.ceil(np.max(conn.tract_lengths) / conn.speed[0] / DT_MS)) + 2
    init = np.empty((horizon, 6, n, 1))
    for i, sv in enumerate(model.state_variables):
        lo, hi = model.state_variable_range[sv]
        init[:, i] = rng.uniform(lo, hi, size=(1, n, 1))
    sim = simulator.Simulator(
        model=model, connectivity=conn, integrator=integ, initial_conditions=init,
        coupling=coupling.SigmoidalJansenRit(a=np.array([coupling_gain])),
        monitors=(monitors.Raw(),), simulation_length=(n_keep + n_warm + 1) * DT_MS,
    )
    # random initial conditions from our generator (TVB would use its own)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.configure()
        if fast:
            from .jansen_rit import run_configured

            x = run_configured(sim, n_keep + n_warm + 1).T[:, n_warm:n_warm + n_keep]
        else:
            (_, y), = sim.run()
            x = (y[:, 0, :, 0] - y[:, 1, :, 0]).T[:, n_warm:n_warm + n_keep]
    if x.shape[1] < n_keep:
        x = np.pad(x, ((0, 0), (0, n_keep - x.shape[1])), mode="edge")
    if not np.all(np.isfinite(x)):
        raise RuntimeError("TVB Jansen-Rit simulation diverged")
    x = x - x.mean(axis=1, keepdims=True)
    spike_times, spike_region = _add_spikes(x, labels, conn.weights, rng, spike_rate_hz, duration_s)
    return RegionalActivity(data=x, sfreq=SOURCE_SFREQ, labels=labels, areas=np.asarray(conn.areas, float),
                            spike_times=spike_times, spike_region=spike_region)


def _spike_wave(sfreq: float) -> np.ndarray:
    """Spike-and-wave template, unit peak, negative sharp wave then slow wave."""
    t = np.arange(int(0.45 * sfreq)) / sfreq
    sharp = -np.exp(-0.5 * ((t - 0.04) / 0.012) ** 2)
    slow = 0.35 * np.exp(-0.5 * ((t - 0.18) / 0.06) ** 2)
    return sharp + slow


def _add_spikes(x: np.ndarray, labels: list[str], weights: np.ndarray, rng: np.random.Generator,
                rate: float, duration_s: float) -> tuple[np.ndarray, str]:
    """Add interictal discharges in place; return onsets and the leading region."""
    cands = [i for i, lab in enumerate(labels) if lab[1:] in ("HC", "AMYG", "PHC")]
    lead = int(rng.choice(cands))
    n_sp = int(rng.poisson(rate * duration_s))
    onsets = np.sort(rng.uniform(0.5, max(0.6, duration_s - 0.5), size=n_sp))
    if rate <= 0 or n_sp == 0:
        return np.zeros(0), labels[lead]
    tmpl = _spike_wave(SOURCE_SFREQ)
    w = np.asarray(weights[:, lead], float)
    targets = np.argsort(w)[::-1][:3]
    amp0 = 8.0 * x[lead].std()
    for onset in onsets:
        a = amp0 * rng.uniform(0.7, 1.3)
        for reg, gain, delay in [(lead, 1.0, 0.0)] + [(int(t), 0.3, 0.015) for t in targets if t != lead]:
            i0 = int((onset + delay) * SOURCE_SFREQ)
            seg = tmpl[: max(0, min(len(tmpl), x.shape[1] - i0))]
            x[reg, i0:i0 + len(seg)] += a * gain * seg
    return onsets, labels[lead]
