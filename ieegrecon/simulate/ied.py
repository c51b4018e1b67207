"""Interictal epileptiform discharges of world v2 (an irritative zone per subject).

Each subject has an irritative zone in a mesial temporal region (hippocampus
or amygdala, chosen from the seed). Discharges are a Poisson train (1-10/min;
de Curtis & Avanzini 2001; Karoly et al. 2016) of spike/sharp-wave + slow-wave
complexes with jittered widths (spike 20-70 ms, slow wave 150-350 ms) and a
log-normal amplitude (σ = 0.9: heavy-tailed, most discharges small). Each
discharge enters the moment of the zone's region (closed field: little reaches
the scalp) and, in proportion to ``a² / (a² + a50²)``, spreads 15 ms later to
the three regions the zone projects to most strongly, so only the largest
reach the neocortex and the scalp (Tao et al. 2005). Contacts near the zone
record a near field ``peak_uv · a · exp(-d / 8 mm)`` as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Regions that can hold the irritative zone.
ZONE_REGIONS = ("HC", "AMYG")
#: Length constant (m) of the near field around the zone.
NEAR_FIELD_M = 0.008
#: Amplitude (relative) at which half of a discharge spreads to the neocortex.
SPREAD_A50 = 2.5
#: A contact is listed in an event when its peak exceeds this (µV).
CONTACT_MIN_UV = 40.0


@dataclass
class IEDTrain:
    """Discharges of one session.

    Attributes
    ----------
    onsets : ndarray, shape (n_events,)
        Onsets (s).
    amps : ndarray, shape (n_events,)
        Relative amplitudes (log-normal, median 1).
    durations : ndarray, shape (n_events,)
        Spike + slow wave durations (s).
    shapes : ndarray, shape (n_events, 2)
        Spike and slow-wave widths (s).
    lead : int
        Region index of the irritative zone.
    targets : ndarray of int
        Regions the discharges spread to.
    """

    onsets: np.ndarray
    amps: np.ndarray
    durations: np.ndarray
    shapes: np.ndarray
    lead: int
    targets: np.ndarray


def draw_ieds(rng: np.random.Generator, labels: list[str], weights: np.ndarray, duration_s: float,
              rate_per_min: float, lead: int | None = None) -> IEDTrain:
    """Draw the zone (unless given), onsets, amplitudes and shapes of the discharges."""
    if lead is None:
        lead = int(rng.choice([i for i, lab in enumerate(labels) if lab[1:] in ZONE_REGIONS]))
    w = np.asarray(weights[:, lead], float).copy()
    w[lead] = -np.inf
    targets = np.argsort(w)[::-1][:3]
    n = int(rng.poisson(rate_per_min / 60.0 * duration_s))
    onsets = np.sort(rng.uniform(0.5, max(0.6, duration_s - 1.0), size=n))
    amps = rng.lognormal(0.0, 0.9, size=n)
    shapes = np.column_stack([rng.uniform(0.02, 0.07, n), rng.uniform(0.15, 0.35, n)])
    return IEDTrain(onsets=onsets, amps=amps, durations=shapes.sum(axis=1) + 0.05, shapes=shapes,
                    lead=lead, targets=targets)


def complex_waveform(sfreq: float, spike_s: float, slow_s: float) -> np.ndarray:
    """Spike/sharp wave (negative, unit peak) followed by a slow wave of 0.4 of its height."""
    n = int((spike_s + slow_s + 0.05) * sfreq)
    t = np.arange(n) / sfreq
    spike = -np.exp(-0.5 * ((t - spike_s / 2) / (spike_s / 4)) ** 2)
    after = 0.25 * np.exp(-0.5 * ((t - spike_s) / (spike_s / 5)) ** 2)
    slow = -0.4 * np.exp(-0.5 * ((t - spike_s - slow_s / 2) / (slow_s / 4)) ** 2)
    return spike + after + slow


def ied_signal(train: IEDTrain, n_times: int, sfreq: float, delay_s: float = 0.0,
               amp_map=None) -> np.ndarray:
    """Sum of the discharges, shape (n_times,), each scaled by ``amp_map(a)`` (default ``a``)."""
    x = np.zeros(n_times)
    for onset, a, (sp, sw) in zip(train.onsets, train.amps, train.shapes):
        g = a if amp_map is None else amp_map(a)
        if g <= 0:
            continue
        wf = complex_waveform(sfreq, sp, sw)
        i0 = int(round((onset + delay_s) * sfreq))
        seg = wf[: max(0, min(len(wf), n_times - i0))]
        x[i0:i0 + len(seg)] += g * seg
    return x


def spread_gain(a: float | np.ndarray) -> float | np.ndarray:
    """Fraction of a discharge of relative amplitude ``a`` that spreads to the neocortex."""
    return a ** 2 / (a ** 2 + SPREAD_A50 ** 2)


def add_to_sources(sources: np.ndarray, train: IEDTrain, sfreq: float, scale: float) -> np.ndarray:
    """Add the discharges to the region moments (A·m) in place; return the per-region moment added."""
    added = np.zeros_like(sources)
    added[train.lead] = scale * ied_signal(train, sources.shape[1], sfreq)
    for t in train.targets:
        added[t] += 0.3 * scale * ied_signal(train, sources.shape[1], sfreq, 0.015, spread_gain)
    sources += added
    return added


def ied_events(train: IEDTrain, contact_names: list[str], profile_uv: np.ndarray, scalp_peak_uv: np.ndarray,
               region: str) -> list[dict]:
    """One BIDS event row per discharge (trial_type ``IED``), ground truth.

    ``profile_uv`` (n_contacts,) is the near-field peak at each contact for a
    discharge of relative amplitude 1; ``scalp_peak_uv`` (n_events,) the
    largest absolute scalp deflection each discharge causes.
    """
    rows = []
    for k, (onset, a, dur) in enumerate(zip(train.onsets, train.amps, train.durations)):
        peak = a * profile_uv
        idx = np.flatnonzero(peak >= CONTACT_MIN_UV)
        if len(idx) == 0:
            idx = [int(np.argmax(peak))]
        rows.append({"onset": float(onset), "duration": float(dur), "trial_type": "IED",
                     "channels": ",".join(contact_names[i] for i in idx), "peak_uv": float(peak.max()),
                     "scalp_peak_uv": float(scalp_peak_uv[k]), "region": region})
    return rows
