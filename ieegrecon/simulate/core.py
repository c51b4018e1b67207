"""One simulated session: TVB dynamics -> dipole patches -> scalp and iEEG.

``scalp = scalp_forward @ sources_scalp + scalp_noise + scalp_artifacts``
exactly (float64), and ``ieeg = resample(ieeg_forward @ sources) + ieeg_local
+ ieeg_noise`` where ``resample`` is :func:`scipy.signal.resample_poly` from
the source rate to the iEEG rate (see :func:`to_rate`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from scipy import signal

from . import artifacts as art
from .dynamics import SOURCE_SFREQ, simulate_regions
from .forward import (
    HeadModel,
    colin27_positions,
    fit_head,
    ieeg_leadfield,
    scalp_leadfield,
)
from .layout import Layout
from .sources import CLOSED_FIELD, SourceModel, build_sources
from .world import WorldConfig, resolve_world

#: Candidate reference electrodes, first one not recorded wins ("electrode
#: near the vertex", like ds004752); if all are recorded: average reference.
REFERENCE_CANDIDATES = ("FCz", "CPz")
#: Sessions at least this long (s) run TVB in a second process while the
#: noise is generated (same result: every component has its own random stream).
PARALLEL_MIN_S = 120.0
#: Effective current-moment density of a region per unit of normalized
#: Jansen-Rit activity (A·m per mm^2 of cortex). With ~0.5 nA·m/mm^2 at full
#: synchrony (Murakami & Okada 2015), partial synchrony of a whole region gives
#: a few hundredths of that.
MOMENT_DENSITY = 4.0e-11


@dataclass
class SimulatedSession:
    """A simulated paired scalp/iEEG session (in memory, SI units).

    Attributes
    ----------
    scalp : ndarray, shape (n_scalp, n_scalp_times)
        Scalp EEG (V), referenced to ``scalp_reference``.
    ieeg : ndarray, shape (n_contacts, n_ieeg_times)
        iEEG (V), potentials relative to infinity.
    scalp_sfreq, ieeg_sfreq, source_sfreq : float
        Sampling rates (Hz).
    scalp_names, scalp_norm : list of str
        Scalp names as written by the layout / on ``colin27_1005``.
    scalp_pos : ndarray, shape (n_scalp, 3)
        Colin27 positions (MNI, m).
    scalp_reference : str
        ``'FCz'``, ``'CPz'`` or ``'average'``.
    contact_names : list of str
    contact_pos : ndarray, shape (n_contacts, 3)
        MNI (m), as in the layout.
    contact_depth : ndarray, shape (n_contacts,)
        Distance (m) from each contact to the scalp sphere surface.
    sources : ndarray, shape (n_regions, n_source_times)
        Region current moments (A·m) at ``source_sfreq``.
    sources_scalp : ndarray, shape (n_regions, n_scalp_times)
        The same resampled to ``scalp_sfreq`` (what the scalp forward multiplies).
    dipoles : SourceModel
        Dipole positions (MNI, m), orientations, regions, weights.
    scalp_forward : ndarray, shape (n_scalp, n_regions)
        Referenced region lead field (V / (A·m)).
    scalp_forward_dipoles : ndarray, shape (n_scalp, n_dipoles)
        Referenced dipole lead field (V / (A·m)).
    ieeg_forward, ieeg_forward_dipoles : ndarray
        Same for iEEG, shapes (n_contacts, n_regions) and (n_contacts, n_dipoles).
    scalp_noise, scalp_artifacts : ndarray, shape (n_scalp, n_scalp_times)
        Sensor noise; line noise + blinks + muscle (V).
    ieeg_local, ieeg_noise : ndarray, shape (n_contacts, n_ieeg_times)
        Local activity (1/f + theta-gamma PAC); sensor + line noise (V).
    head : HeadModel
    params : dict
        Subject parameters (seed, gains, frequencies, conductivities, radii).
    spike_times : ndarray
        Interictal discharge onsets (s).
    world : dict
        The :class:`~ieegrecon.simulate.world.WorldConfig` used, as a dict.
    events : list of dict
        World v2 ground-truth events (BIDS rows: onset, duration, trial_type,
        channels, peak_uv, ..., datatype ``'eeg'``/``'ieeg'``/``'both'``).
    ieeg_nonlinear : ndarray, shape (n_contacts, n_ieeg_times) | None
        World v2: the predictable nonlinear term (V), referenced; part of ``ieeg``.
    ieeg_reference : str
        How the iEEG is referenced (sidecar ``iEEGReference``).
    ieeg_reference_weights : ndarray, shape (n_contacts,)
        Recorded reference ``w @ x`` subtracted from the infinity-referenced signal (zeros: infinity).
    channel_status : dict
        Channel name -> ``status_description`` of channels that are bad (dropout).
    scalp_pos_actual : ndarray, shape (n_scalp, 3) | None
        World v2 with session variation: where the cap really sat this session (m).
    """

    layout: Layout
    subject_index: int
    session_index: int
    seed: int
    scalp: np.ndarray
    ieeg: np.ndarray
    scalp_sfreq: float
    ieeg_sfreq: float
    source_sfreq: float
    scalp_names: list[str]
    scalp_norm: list[str]
    scalp_pos: np.ndarray
    scalp_reference: str
    contact_names: list[str]
    contact_pos: np.ndarray
    contact_depth: np.ndarray
    sources: np.ndarray
    sources_scalp: np.ndarray
    dipoles: SourceModel
    scalp_forward: np.ndarray
    scalp_forward_dipoles: np.ndarray
    ieeg_forward: np.ndarray
    ieeg_forward_dipoles: np.ndarray
    scalp_noise: np.ndarray
    scalp_artifacts: np.ndarray
    ieeg_local: np.ndarray
    ieeg_noise: np.ndarray
    head: HeadModel
    params: dict = field(default_factory=dict)
    spike_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    spike_region: str = ""
    world: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    ieeg_nonlinear: np.ndarray | None = None
    ieeg_reference: str = "none: potentials relative to infinity (ideal distant reference)"
    ieeg_reference_weights: np.ndarray | None = None
    channel_status: dict = field(default_factory=dict)
    scalp_pos_actual: np.ndarray | None = None


def to_rate(x: np.ndarray, sfreq_in: float, sfreq_out: float, n_out: int) -> np.ndarray:
    """Resample along the last axis with :func:`scipy.signal.resample_poly`, trimmed/padded to ``n_out``."""
    frac = Fraction(sfreq_out / sfreq_in).limit_denominator(10000)
    y = x if frac == 1 else signal.resample_poly(x, frac.numerator, frac.denominator, axis=-1)
    if y.shape[-1] < n_out:
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, n_out - y.shape[-1])], mode="edge")
    return y[..., :n_out]


def subject_parameters(seed: int, subject_index: int) -> dict:
    """Draw the per-subject parameters from ``(seed, subject_index)``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, subject_index, 0]))
    return {
        "seed": int(seed), "subject_index": int(subject_index),
        "alpha_hz": float(rng.uniform(8.0, 12.0)), "theta_hz": float(rng.uniform(5.0, 7.5)),
        "coupling_gain": float(rng.uniform(0.5, 1.5)), "noise_sigma": float(rng.uniform(0.007, 0.013)),
        "moment_gain": float(rng.uniform(0.7, 1.4)), "spike_rate_hz": float(rng.uniform(0.01, 0.08)),
        "scalp_noise_uv": float(rng.uniform(0.5, 1.5)), "ieeg_noise_uv": float(rng.uniform(1.0, 3.0)),
        "local_1f_uv": float(rng.uniform(8.0, 20.0)), "local_1f_exponent": float(rng.uniform(1.0, 2.0)),
        "pac_gamma_uv": float(rng.uniform(20.0, 60.0)), "deep_density_factor": float(rng.uniform(3.0, 5.0)),
        "blink_rate_hz": float(rng.uniform(0.1, 0.4)), "blink_uv": float(rng.uniform(80.0, 150.0)),
        "muscle_rate_hz": float(rng.uniform(0.02, 0.08)), "muscle_uv": float(rng.uniform(10.0, 30.0)),
        "line_uv": float(rng.uniform(0.5, 3.0)),
        "_rng_state": int(rng.integers(2**62)),
    }


def simulate_session(
    layout_session: Layout,
    *,
    minutes: float,
    seed: int,
    subject_index: int = 0,
    session_index: int = 0,
    scalp_sfreq: float = 200.0,
    ieeg_sfreq: float = 2000.0,
    artifacts: bool = True,
    world: str | WorldConfig = "v1",
) -> SimulatedSession:
    """Simulate one session of one subject on a real layout.

    Subject parameters (rhythms, gains, head, dipole placement) depend on
    ``(seed, subject_index)`` only; the time series on ``(seed,
    subject_index, session_index)``, so two sessions of one subject share the
    subject and differ in their data.

    Parameters
    ----------
    layout_session : Layout
        From :func:`ieegrecon.simulate.load_layouts`.
    minutes : float
        Duration (min).
    seed : int
        Master seed.
    subject_index, session_index : int
        Which simulated subject and session.
    scalp_sfreq, ieeg_sfreq : float
        Output rates (Hz).
    artifacts : bool
        Add line noise, blinks and muscle bursts (sensor noise and local
        activity are always there); in world v2 also pops, drifts, ECG,
        movement and a channel dropout.
    world : {'v1', 'v2'} | WorldConfig
        ``'v1'`` (default here; the original linear-Gaussian world, bit for
        bit), ``'v2'`` (every feature of :class:`WorldConfig` on) or a
        :class:`WorldConfig` (:func:`ieegrecon.simulate.world.with_features`).

    Returns
    -------
    SimulatedSession

    Notes
    -----
    Dynamics: TVB Jansen-Rit (Jansen & Rit 1995; Sanz-Leon et al. 2013);
    scalp: MNE three-shell sphere (Mosher et al. 1999); iEEG: infinite-medium
    dipole (Nunez & Srinivasan 2006); PAC: Canolty et al. 2006.
    """
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    lay = layout_session
    cfg = resolve_world(world)
    p = subject_parameters(seed, subject_index)
    p2 = None
    if not cfg.is_v1:
        from .dynamics import load_connectivity
        from .variation import subject_draws

        conn = load_connectivity()
        p2 = subject_draws(seed, subject_index, len(conn.region_labels), conn.weights,
                           cfg.ied_rate_per_min, cfg.subject_variation)
        for key, rng_key, u in (("theta_hz", "mesial_rhythm_hz", "u_mesial"),
                                ("local_1f_exponent", "local_exponent", "u_local"),
                                ("aperiodic_exponent", "aperiodic_exponent", "u_aperiodic"),
                                ("alpha_hz", "alpha_rhythm_hz", "u_alpha")):
            lo_hi = getattr(cfg, rng_key)
            if lo_hi is not None:  # v2: human hippocampal slow theta, steeper local aperiodic activity
                p[key] = float(lo_hi[0] + p2[u] * (lo_hi[1] - lo_hi[0]))
    srng = np.random.default_rng(np.random.SeedSequence([seed, subject_index, 0, 1]))
    # one independent stream per component, so that the order of computation does not matter
    streams = [np.random.default_rng(s) for s in
               np.random.SeedSequence([seed, subject_index, session_index + 1]).spawn(9)]
    rng_dyn = streams[0]
    duration = float(minutes) * 60.0
    n_s = int(round(duration * scalp_sfreq))
    n_i = int(round(duration * ieeg_sfreq))

    # ---- session: dynamics (in a second process for long runs, while this one makes the noise)
    dyn_kw = dict(alpha_hz=p["alpha_hz"], theta_hz=p["theta_hz"], coupling_gain=p["coupling_gain"],
                  noise_sigma=p["noise_sigma"], spike_rate_hz=p["spike_rate_hz"])
    if cfg.ied:
        dyn_kw["spike_rate_hz"] = 0.0  # v2's discharges replace v1's template spikes
    if cfg.subject_variation:
        dyn_kw.update(weights=p2["weights"], scale_jitter=p2["scale_jitter"], mu=p2["mu"])
    if not cfg.is_v1:
        dyn_kw["fast"] = True  # TVB's scheme in a compiled loop (simulate/jansen_rit.py); v1 keeps TVB's loop
    pool, future, reg = None, None, None
    if duration >= PARALLEL_MIN_S and (os.cpu_count() or 1) >= 2:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
        future = pool.submit(simulate_regions, duration + 1.0, rng_dyn, **dyn_kw)
    else:
        reg = simulate_regions(duration + 1.0, rng_dyn, **dyn_kw)
    try:
        return _build(lay, p, srng, streams[1:], future, reg, seed=seed,
                      subject_index=subject_index, session_index=session_index, scalp_sfreq=scalp_sfreq,
                      ieeg_sfreq=ieeg_sfreq, artifacts=artifacts, duration=duration, n_s=n_s, n_i=n_i,
                      cfg=cfg, p2=p2)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _build(lay, p, srng, streams, future, reg, *, seed, subject_index, session_index,
           scalp_sfreq, ieeg_sfreq, artifacts, duration, n_s, n_i, cfg=None, p2=None) -> SimulatedSession:
    """Subject model, noise and the sum; waits for the dynamics when they run in another process."""
    cfg = cfg if cfg is not None else resolve_world("v1")
    v1 = cfg.is_v1
    rng_sn, rng_in, rng_blink, rng_emg, rng_ls, rng_li, rng_loc, rng_pac = streams
    nsc, nc = len(lay.scalp_names), len(lay.contact_names)
    v2s = sd = None
    if not v1:
        from . import v2
        from .variation import session_draws

        v2s = v2.session_streams(seed, subject_index, session_index)
        sd = session_draws(v2s[0], nsc, nc, duration) if cfg.session_variation else None
    # ---- subject: head, dipoles, forward models
    scalp_pos = colin27_positions(lay.scalp_norm)
    ref = next((r for r in REFERENCE_CANDIDATES if r not in lay.scalp_norm), "average")
    if cfg.scalp_reference_from_layout:
        from .variation import layout_scalp_reference

        ref = layout_scalp_reference(lay.electrodes_tsv, lay.scalp_norm) or ref
    head = fit_head(scalp_pos, srng)
    from .dynamics import load_connectivity

    labels = [str(x) for x in load_connectivity().region_labels]
    areas = np.asarray(load_connectivity().areas, float)
    dip = build_sources(labels, lay.contact_pos, srng)
    pos_rec = scalp_pos if sd is None else scalp_pos + sd["cap_shift_m"] + sd["cap_jitter_m"]
    ref_pos = {"average": np.zeros((0, 3)), "linked_ears": None}.get(ref)
    if ref_pos is None:
        ref_pos = colin27_positions(["A1", "A2"] if ref == "linked_ears" else [ref])
    el = pos_rec if ref == "average" else np.vstack([pos_rec, ref_pos])
    n_ref = len(el) - nsc
    lf = scalp_leadfield(el, dip.pos, dip.ori, head)
    lf = lf - (lf.mean(axis=0) if ref == "average" else lf[-1] if n_ref == 1 else lf[-n_ref:].mean(axis=0))
    lf_dip = lf[: len(scalp_pos)]
    W = dip.region_matrix()
    scalp_fwd = lf_dip @ W
    ieeg_fwd_dip = ieeg_leadfield(lay.contact_pos, dip.pos, dip.ori, head.sigmas[0])
    ieeg_fwd = ieeg_fwd_dip @ W
    depth = head.head_radius - np.linalg.norm(lay.contact_pos - head.r0, axis=1)

    def refd(g: np.ndarray, g_ref: float | None = None) -> np.ndarray:
        """Reference a spatial gain over ``el`` (shape (len(el),)) like the scalp channels."""
        if g_ref is not None:  # world v1's call, unchanged
            return g - (g.mean() if ref == "average" else g_ref)
        return g[:nsc] - (g[:nsc].mean() if n_ref == 0 else g[nsc:].mean())

    # ---- noise, artifacts, local activity
    scalp_noise = rng_sn.standard_normal((nsc, n_s)) * p["scalp_noise_uv"] * 1e-6
    if sd is not None:
        scalp_noise *= sd["scalp_noise_factor"]
    scalp_art = np.zeros((nsc, n_s))
    ieeg_noise = rng_in.standard_normal((nc, n_i)) * p["ieeg_noise_uv"] * 1e-6
    if artifacts:
        ge = art.distance_gain(el, art.EYES_M, 0.035)
        gm = art.distance_gain(el, art.TEMPORALIS_M, 0.03)
        g_e, g_m = (refd(ge[:nsc], ge[-1]), refd(gm[:nsc], gm[-1])) if n_ref <= 1 else (refd(ge), refd(gm))
        scalp_art += art.blinks(rng_blink, g_e, n_s, scalp_sfreq, p["blink_rate_hz"], p["blink_uv"] * 1e-6)
        scalp_art += art.muscle(rng_emg, g_m, n_s, scalp_sfreq, p["muscle_rate_hz"], p["muscle_uv"] * 1e-6)
        scalp_art += art.line_noise(rng_ls, nsc, n_s, scalp_sfreq, (0.5 * p["line_uv"] * 1e-6, p["line_uv"] * 1e-6))
        ieeg_noise += art.line_noise(rng_li, nc, n_i, ieeg_sfreq, (0.1 * p["line_uv"] * 1e-6, 0.3 * p["line_uv"] * 1e-6))
    events: list[dict] = []
    if artifacts and cfg.artifacts_v2:
        a_s, a_i, ev = v2.artifacts(v2s[2:6], lay.scalp_names, el, refd, nsc, n_s, scalp_sfreq,
                                    lay.contact_names, n_i, ieeg_sfreq)
        scalp_art += a_s
        ieeg_noise += a_i
        events += ev
    ieeg_local = art.powerlaw_noise(rng_loc, nc, n_i, ieeg_sfreq, p["local_1f_exponent"]) * p["local_1f_uv"] * 1e-6
    if cfg.shaft_length_mm > 0:
        from .fields import correlate_along_shafts

        ieeg_local = correlate_along_shafts(ieeg_local, lay.contact_pos, cfg.shaft_length_mm / 1000.0)
    deep = np.isin(dip.region, [i for i, lab in enumerate(labels) if lab[1:] in CLOSED_FIELD + ("PHC",)])
    d_deep = np.min(np.linalg.norm(lay.contact_pos[:, None] - dip.pos[deep][None], axis=2), axis=1)
    nearest = dip.region[deep][np.argmin(np.linalg.norm(lay.contact_pos[:, None] - dip.pos[deep][None], axis=2), axis=1)]
    amp = np.where(d_deep < 0.015, p["pac_gamma_uv"] * 1e-6 * np.exp(-(d_deep - 0.004) / 0.006), 0.0)
    dens = np.where([lab[1:] in CLOSED_FIELD for lab in labels], p["deep_density_factor"], 1.0)

    w_ref, ref_desc, g_i = np.zeros(nc), SimulatedSession.ieeg_reference, None

    def rg(x: np.ndarray) -> np.ndarray:
        """World v1: identity. World v2: the recorded reference and channel gains (in place)."""
        return x if v1 else v2.reference_and_gain(x, w_ref, g_i)

    if not v1:  # reference, gains: applied before the dynamics finish, to every linear part
        from .montages import reference_weights

        rms = np.sqrt(((ieeg_fwd * (dens * areas)[None]) ** 2).sum(axis=1))  # expected RMS, up to a factor
        w_ref, ref_desc = reference_weights(lay.contact_names, None, cfg.ieeg_reference, rms=rms)
        g_i = None if sd is None else sd["ieeg_gain"]
        ieeg_fwd_dip, ieeg_fwd, ieeg_local, ieeg_noise = (rg(x) for x in (ieeg_fwd_dip, ieeg_fwd, ieeg_local,
                                                                           ieeg_noise))
        if sd is not None:
            g_s = sd["scalp_gain"][:, None]
            scalp_fwd, lf_dip, scalp_noise, scalp_art = (g_s * x for x in (scalp_fwd, lf_dip, scalp_noise, scalp_art))

    if future is not None:
        reg = future.result()
    norm = reg.data / np.median(reg.data.std(axis=1))
    if not v1 and cfg.aperiodic_share > 0:
        norm = v2.aperiodic(norm, labels, cfg.aperiodic_share, p["aperiodic_exponent"], v2s[7])
    sources = MOMENT_DENSITY * p["moment_gain"] * (dens * areas)[:, None] * norm  # A·m
    n_src = int(np.ceil(duration * SOURCE_SFREQ))
    sources = sources[:, :n_src]
    nonlin, train, added = None, None, None
    if not v1:
        weights = p2["weights"] if cfg.subject_variation else load_connectivity().weights
        sources, train, added = v2.modify_sources(cfg, sources, labels, weights, p, p2, sd, v2s[1], duration)
        if cfg.nonlinear:
            base = sources if added is None else sources - added
            nonlin = v2.nonlinear_term(cfg, ieeg_fwd, scalp_fwd, base, labels, p, p2, to_rate, ieeg_sfreq, n_i, rg)
    sources_scalp = to_rate(sources, SOURCE_SFREQ, scalp_sfreq, n_s)
    clean_scalp = scalp_fwd @ sources_scalp
    lin_ieeg = to_rate(ieeg_fwd @ sources, SOURCE_SFREQ, ieeg_sfreq, n_i)
    if np.any(amp > 0):
        near = np.flatnonzero(amp > 0)
        theta = np.zeros((nc, n_i))
        theta[near] = to_rate(sources[nearest[near]], SOURCE_SFREQ, ieeg_sfreq, n_i)
        ieeg_local += rg(art.pac_gamma(rng_pac, theta, amp, ieeg_sfreq))

    status: dict = {}
    if train is not None:
        rows = np.flatnonzero(np.any(added, axis=1))  # the zone and its targets
        events += v2.ied_local(train, dip, lay.contact_pos, lay.contact_names, p2,
                               scalp_fwd[:, rows] @ to_rate(added[rows], SOURCE_SFREQ, scalp_sfreq, n_s),
                               scalp_sfreq, ieeg_local, ieeg_sfreq, rg)
    scalp = clean_scalp + scalp_noise + scalp_art
    ieeg = lin_ieeg + ieeg_local + ieeg_noise
    if nonlin is not None:
        ieeg += nonlin
    if not v1:
        status = v2.dropouts(cfg, artifacts, v2s[6], lay, scalp, scalp_art, scalp_sfreq, ieeg, ieeg_noise,
                             ieeg_sfreq, events)
        events += v2.state_events(sd)
        events.sort(key=lambda e: e["onset"])
    params = {k: v for k, v in p.items() if not k.startswith("_")}
    params.update({
        "head_radius_m": head.head_radius, "head_centre_m": head.r0.tolist(),
        "relative_radii": list(head.relative_radii), "conductivities_S_per_m": list(head.sigmas),
        "ieeg_conductivity_S_per_m": head.sigmas[0], "moment_density_Am_per_mm2": MOMENT_DENSITY,
        "scalp_reference": ref, "artifacts": bool(artifacts), "layout": lay.name,
        "layout_electrodes_tsv": str(lay.electrodes_tsv), "session_index": int(session_index),
    })
    if not v1:
        params.update(v2.v2_params(cfg, p2, sd))
    return SimulatedSession(
        layout=lay, subject_index=subject_index, session_index=session_index, seed=seed,
        scalp=scalp, ieeg=ieeg, scalp_sfreq=float(scalp_sfreq), ieeg_sfreq=float(ieeg_sfreq),
        source_sfreq=SOURCE_SFREQ, scalp_names=list(lay.scalp_names), scalp_norm=list(lay.scalp_norm),
        scalp_pos=scalp_pos, scalp_reference=ref, contact_names=list(lay.contact_names),
        contact_pos=lay.contact_pos.copy(), contact_depth=depth, sources=sources, sources_scalp=sources_scalp,
        dipoles=dip, scalp_forward=scalp_fwd, scalp_forward_dipoles=lf_dip, ieeg_forward=ieeg_fwd,
        ieeg_forward_dipoles=ieeg_fwd_dip, scalp_noise=scalp_noise, scalp_artifacts=scalp_art,
        ieeg_local=ieeg_local, ieeg_noise=ieeg_noise, head=head, params=params,
        spike_times=reg.spike_times if train is None else train.onsets,
        spike_region=reg.spike_region if train is None else labels[train.lead],
        world=cfg.to_dict(), events=events, ieeg_nonlinear=nonlin, ieeg_reference=ref_desc,
        ieeg_reference_weights=w_ref, channel_status=status,
        scalp_pos_actual=None if sd is None else pos_rec,
    )
