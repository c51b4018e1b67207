"""World v2 steps of a simulated session, called from :mod:`ieegrecon.simulate.core`.

Every step has its own random stream (``(seed, subject, session + 1, 2)``
spawned), so world v1's streams, and so its output, are untouched.
"""

from __future__ import annotations

import numpy as np

from . import artifacts_v2 as av2
from .dynamics import SOURCE_SFREQ
from .fields import dominant_mode, nonlinear_terms
from .ied import NEAR_FIELD_M, IEDTrain, add_to_sources, draw_ieds, ied_events, ied_signal
from .sources import CLOSED_FIELD
from .variation import add_aperiodic, apply_state

#: Position (MNI, m) standing for the heart's field direction (ECG spatial gain).
HEART_M = np.array([0.03, -0.05, -0.30])


def session_streams(seed: int, subject_index: int, session_index: int) -> list[np.random.Generator]:
    """Eight independent generators of the v2 steps of one session."""
    ss = np.random.SeedSequence([seed, subject_index, session_index + 1, 2])
    return [np.random.default_rng(s) for s in ss.spawn(8)]


def cortical_mask(labels: list[str]) -> np.ndarray:
    """Regions with open-field (scalp-visible) patches: all but hippocampus, amygdala, corpus callosum."""
    return np.array([lab[1:] not in CLOSED_FIELD + ("CC",) for lab in labels])


def aperiodic(norm: np.ndarray, labels: list[str], share: float, exponent: float,
              rng: np.random.Generator) -> np.ndarray:
    """Aperiodic 1/f^χ part of the neocortical regions' activity (``WorldConfig.aperiodic_share``)."""
    from .dynamics import THETA_REGIONS

    mask = cortical_mask(labels) & np.array([lab[1:] not in THETA_REGIONS for lab in labels])
    return add_aperiodic(norm, mask, share, exponent, rng, SOURCE_SFREQ)


def modify_sources(cfg, sources: np.ndarray, labels: list[str], weights: np.ndarray, p: dict, p2: dict,
                   sd: dict | None, rng: np.random.Generator, duration: float
                   ) -> tuple[np.ndarray, IEDTrain | None, np.ndarray | None]:
    """Wake/drowsy state and the discharges of the irritative zone in the region moments (A·m)."""
    if cfg.session_variation and sd is not None:
        sources = apply_state(sources, SOURCE_SFREQ, p["alpha_hz"], p["theta_hz"], sd["drowsy"],
                              cortical_mask(labels))
    if not cfg.ied:
        return sources, None, None
    zone_rng = np.random.default_rng(p2["ied_zone_seed"])
    lead = int(zone_rng.choice([i for i, lab in enumerate(labels) if lab[1:] in ("HC", "AMYG")]))
    train = draw_ieds(rng, labels, weights, duration, p2["ied_rate_per_min"], lead=lead)
    sources = sources.copy()
    added = add_to_sources(sources, train, SOURCE_SFREQ, 6.0 * sources[lead].std())
    return sources, train, added


def nonlinear_term(cfg, ieeg_fwd: np.ndarray, scalp_fwd: np.ndarray, sources: np.ndarray, labels: list[str],
                   p: dict, p2: dict, to_rate, ieeg_sfreq: float, n_i: int, rg) -> np.ndarray:
    """The predictable nonlinear term at the contacts (V, as recorded), shape (n_contacts, n_i).

    Driven by the dominant cortical mode of the (noise-free) scalp; its SD at a
    contact is ``nonlinear_gain`` times the SD of the contact's own cortical
    (open-field) signal. The four terms are resampled, then mixed per contact
    (``rg`` applies the recorded reference and gains to the mixing matrix).
    """
    cort = cortical_mask(labels)
    d = dominant_mode(scalp_fwd[:, cort] @ sources[cort])
    amp = cfg.nonlinear_gain * (ieeg_fwd[:, cort] @ sources[cort]).std(axis=1)
    rng = np.random.default_rng(p2["nl_seed"])  # per subject: the same relation in every session
    mix, terms = nonlinear_terms(d, amp, SOURCE_SFREQ, p["alpha_hz"], rng)
    return rg(mix) @ to_rate(terms, SOURCE_SFREQ, ieeg_sfreq, n_i)


def ied_local(train: IEDTrain, dip, contact_pos: np.ndarray, contact_names: list[str], p2: dict,
              added_scalp: np.ndarray, scalp_sfreq: float, ieeg_local: np.ndarray, ieeg_sfreq: float,
              rg) -> list[dict]:
    """Add the zone's near field to ``ieeg_local`` (V, in place) and return the IED events."""
    zone = dip.pos[dip.region == train.lead]
    dist = np.min(np.linalg.norm(contact_pos[:, None] - zone[None], axis=2), axis=1)
    profile_uv = p2["ied_peak_uv"] * np.exp(-dist / NEAR_FIELD_M)
    recorded = rg(profile_uv[:, None] * 1e-6)[:, 0]
    ieeg_local += recorded[:, None] * ied_signal(train, ieeg_local.shape[1], ieeg_sfreq)[None]
    scalp_peak = np.array([np.abs(added_scalp[:, int(t * scalp_sfreq):int((t + d) * scalp_sfreq) + 1]).max(initial=0)
                           for t, d in zip(train.onsets, train.durations)]) * 1e6
    return [dict(e, datatype="both") for e in ied_events(train, contact_names, profile_uv, scalp_peak,
                                                          dip.labels[train.lead])]


def artifacts(rngs: list[np.random.Generator], scalp_names: list[str], el: np.ndarray, refd, nsc: int, n_s: int,
              scalp_sfreq: float, contact_names: list[str], n_i: int, ieeg_sfreq: float
              ) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Pops, drifts, ECG and movement on scalp and iEEG (V, before dropout) and their events."""
    r_pop, r_drift, r_ecg, r_mov = rngs
    pop_s, ev_s = av2.pops(r_pop, scalp_names, n_s, scalp_sfreq, 1.0, (50.0, 200.0))
    pop_i, ev_i = av2.pops(r_pop, contact_names, n_i, ieeg_sfreq, 0.3, (100.0, 500.0))
    g = refd(el @ (HEART_M / np.linalg.norm(HEART_M)))
    g = g / (np.abs(g).max() + 1e-30)
    scalp = pop_s + av2.drifts(r_drift, nsc, n_s, scalp_sfreq, 20.0) + av2.ecg(r_ecg, g, n_s, scalp_sfreq, 8.0)
    ieeg = pop_i + av2.drifts(r_drift, len(contact_names), n_i, ieeg_sfreq, 5.0)
    ieeg += av2.ecg(r_ecg, r_ecg.uniform(0.2, 1.0, len(contact_names)), n_i, ieeg_sfreq, 1.5)
    mov_s, ev_m = av2.movements(r_mov, scalp_names, n_s, scalp_sfreq, 0.5, 100.0)
    scalp += mov_s
    for e in ev_s:
        e["datatype"] = "eeg"
    for e in ev_i:
        e["datatype"] = "ieeg"
    for e in ev_m:
        e["datatype"] = "eeg"
    return scalp, ieeg, ev_s + ev_i + ev_m


def reference_and_gain(x: np.ndarray, w: np.ndarray, gain: np.ndarray | None) -> np.ndarray:
    """``gain * (x - w @ x)`` row-wise, in place: a recorded reference, then channel gains."""
    on = np.flatnonzero(w)
    if len(on):
        x -= (w[on] @ x[on])[None]
    if gain is not None:
        x *= gain.reshape((-1,) + (1,) * (x.ndim - 1))
    return x


def dropouts(cfg, artifacts: bool, rng: np.random.Generator, lay, scalp: np.ndarray, scalp_art: np.ndarray,
             scalp_sfreq: float, ieeg: np.ndarray, ieeg_noise: np.ndarray, ieeg_sfreq: float,
             events: list[dict]) -> dict:
    """One iEEG contact (and half the time one scalp channel) drops out, in place; returns channel status."""
    status: dict = {}
    if not (artifacts and cfg.artifacts_v2):
        return status
    targets = [(ieeg, ieeg_noise, lay.contact_names, ieeg_sfreq, "ieeg")]
    if rng.uniform() < 0.5:
        targets.append((scalp, scalp_art, lay.scalp_names, scalp_sfreq, "eeg"))
    for data, part, names, sfreq, kind in targets:
        ch, i0, new, ev, st = av2.dropout(rng, data, names, sfreq)
        part[ch, i0:] += new - data[ch, i0:]
        data[ch, i0:] = new
        events += [dict(e, datatype=kind) for e in ev]
        status.update(st)
    return status


def state_events(sd: dict | None) -> list[dict]:
    """Drowsy segments as events (trial_type ``state/drowsy``)."""
    if sd is None:
        return []
    return [{"onset": float(t0), "duration": float(d), "trial_type": "state/drowsy", "channels": "all",
             "datatype": "both"} for t0, d in sd["drowsy"]]


def v2_params(cfg, p2: dict, sd: dict | None) -> dict:
    """World v2 parameters for the ground truth (JSON-ready)."""
    out = {"world": cfg.to_dict(), "ied_rate_per_min": p2["ied_rate_per_min"], "ied_peak_uv": p2["ied_peak_uv"]}
    if "mu" in p2:
        out["jansen_rit_mu"] = p2["mu"]
    if sd is not None:
        out.update({"cap_shift_mm": (sd["cap_shift_m"] * 1000).tolist(), "scalp_noise_factor": sd["scalp_noise_factor"],
                    "drowsy_s": float(sum(d for _, d in sd["drowsy"]))})
    return out
