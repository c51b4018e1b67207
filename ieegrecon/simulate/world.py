"""Which simulated world: ``v1`` (linear-Gaussian, kept for regression tests) or ``v2``.

:class:`WorldConfig` switches each v2 feature on or off; ``resolve_world('v1')``
reproduces the original simulator bit for bit, ``resolve_world('v2')`` turns
every feature on. Sources in the literature are given per field and in
``docs/simulation.md`` ("World v2").
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

#: Names accepted by the ``world`` parameter.
WORLDS = ("v1", "v2")


@dataclass(frozen=True)
class WorldConfig:
    """Features of the simulated world (all off = world v1).

    Attributes
    ----------
    name : str
        ``'v1'``, ``'v2'`` or ``'custom'`` (written to the ground truth).
    ieeg_reference : str
        How the iEEG is recorded. ``'infinity'`` (v1: ideal distant reference),
        ``'shaft'``: common intracranial reference = the average of the contacts
        of the quietest shaft (lowest expected RMS of the regional sources at
        its contacts, from the forward model), subtracted from every contact, as
        with the "common intracranial reference" of ds004752 (Boran et al.
        2020) and the white-matter/quiet-contact references of SEEG practice
        (Mercier et al. 2017 NeuroImage 147:219); ``'contact'``: the single
        quietest contact. Bipolar and common-average montages are read back
        with :func:`ieegrecon.simulate.montages.bipolar` / ``common_average``.
    scalp_reference_from_layout : bool
        Use the reference the layout's ``*_eeg.json`` states (``EEGReference``:
        linked ears, a named electrode, average); v1 always uses FCz/CPz.
    shaft_length_mm : float
        Length constant (mm) of the exponential spatial correlation of local
        activity between contacts (0: independent per contact, v1). LFP
        correlations decay over a few mm to ~1 cm (Kajikawa & Schroeder 2011
        Neuron 72:847; Lindén et al. 2011 Neuron 72:859).
    ied : bool
        Interictal epileptiform discharges from an irritative zone (mesial
        temporal: hippocampus/amygdala), spike/sharp wave + slow wave, with a
        log-normal amplitude; v1 keeps its template spikes instead.
        Rates 1-10/min and heavy-tailed amplitudes: de Curtis & Avanzini 2001
        Prog Neurobiol 63:541; Karoly et al. 2016 Brain 139:1066; only large
        or widespread discharges reach the scalp (Tao et al. 2005 Epilepsia
        46:669: ≥10 cm² of synchronous cortex).
    ied_rate_per_min : tuple of float
        Range of the per-subject discharge rate (events/min).
    nonlinear : bool
        Predictable nonlinearity: each contact records a per-contact mix of
        nonlinear functions of the dominant cortical mode of the scalp (its
        first principal component ``d``): ``d²`` (rectified, second-harmonic,
        non-sinusoidal rhythm; Cole & Voytek 2017 Trends Cogn Sci 21:137),
        an alpha-envelope baseline shift and envelope-dependent gain (Nikulin
        et al. 2007 Eur J Neurosci 25:3146; Mazaheri & Jensen 2008 J Neurosci
        28:7781) and transients triggered when ``d`` crosses a threshold (the
        Jansen-Rit firing sigmoid).
    nonlinear_gain : float
        SD of the nonlinear term relative to the SD of the contact's own
        cortical (open-field) signal.
    artifacts_v2 : bool
        Electrode pops, slow drifts, ECG, movement bursts and a channel dropping
        out mid-recording (Urigüen & Garcia-Zapirain 2015 J Neural Eng
        12:031001; Tatum et al. 2011 J Clin Neurophysiol 28:252).
    session_variation : bool
        Per-session cap re-placement (a common shift N(0, 3 mm) per axis plus
        1 mm per electrode; re-placement varies by a few mm, Atcherson et al.
        2007 Brain Topogr 20:105), gain/impedance changes (scalp ±5 %, iEEG
        ±2 %, scalp noise ×0.7-1.5) and a different wake/drowsy mix (drowsy:
        alpha ×0.4, theta ×1.5; Santamaria & Chiappa 1987).
    mesial_rhythm_hz : tuple of float | None
        Range of the per-subject rhythm of the hippocampus, amygdala and
        parahippocampal masses (Hz; None: v1's 5-7.5 Hz theta). Human
        hippocampal theta is slower than rodent theta, about 1-4 Hz (Jacobs
        2014 Phil Trans R Soc B 369:20130304), with ~3 Hz oscillations most
        prevalent in the anterior hippocampus (Goyal et al. 2020 Nat Commun
        11:2469); v2 draws 2.5-4.5 Hz.
    local_exponent : tuple of float | None
        Range of the per-subject aperiodic exponent β of the local 1/f^β
        activity at the contacts (None: v1's 1-2). Intracranial field
        potentials fall off more steeply than 1/f (power-law spectra of ECoG:
        Miller et al. 2009 PLoS Comput Biol 5:e1000609; intracranial spectral
        slopes: Lendner et al. 2020 eLife 9:e55092); v2 draws 2-3, a range
        chosen against the Bonn depth spectra (docs/simulation.md, Realism).
    aperiodic_share : float
        Share of the variance of each neocortical region's activity that is
        aperiodic, 1/f^χ (0: none, v1: the regions are pure Jansen-Rit
        rhythms). Scalp and intracranial spectra are a periodic part (the
        rhythms) on top of an aperiodic 1/f^χ part that carries most of the
        power below the alpha band (He 2014 Trends Cogn Sci 18:480; Donoghue
        et al. 2020 Nat Neurosci 23:1655); each region's SD is kept. Applied to
        the open-field regions other than the hippocampus, amygdala and
        parahippocampal masses (whose aperiodic part is the local activity at
        the contacts). The value is chosen on the realism development seeds
        (docs/simulation.md, Realism).
    aperiodic_exponent : tuple of float | None
        Range of the per-subject exponent χ of that aperiodic part (None: off).
        Scalp EEG aperiodic exponents are about 1-2 over 1-40 Hz in healthy
        adults (Donoghue et al. 2020; Voytek et al. 2015 J Neurosci 35:13257).
    alpha_rhythm_hz : tuple of float | None
        Range of the per-subject alpha frequency the neocortical masses are
        tuned to (Hz; None: v1's 8-12 Hz). The individual alpha frequency of
        healthy adults lies around 10 Hz, mostly 9-12 Hz (Klimesch 1999 Brain
        Res Rev 29:169; Haegens et al. 2014 NeuroImage 92:46).
    subject_variation : bool
        Per-subject draws of the connectome (log-normal ×exp(N(0, 0.3)) on
        weights; inter-subject variability of tractography, Mueller et al. 2013
        Neuron 77:586) and of the neural-mass parameters (±5 % time scales,
        ±10 % input mu; David & Friston 2003).
    """

    name: str = "v1"
    ieeg_reference: str = "infinity"
    scalp_reference_from_layout: bool = False
    shaft_length_mm: float = 0.0
    ied: bool = False
    ied_rate_per_min: tuple[float, float] = (1.0, 10.0)
    nonlinear: bool = False
    nonlinear_gain: float = 0.8
    artifacts_v2: bool = False
    session_variation: bool = False
    subject_variation: bool = False
    mesial_rhythm_hz: tuple[float, float] | None = None
    local_exponent: tuple[float, float] | None = None
    aperiodic_share: float = 0.0
    aperiodic_exponent: tuple[float, float] | None = None
    alpha_rhythm_hz: tuple[float, float] | None = None

    @property
    def is_v1(self) -> bool:
        """True when no v2 feature is on (the original simulator)."""
        return (self.ieeg_reference == "infinity" and not self.scalp_reference_from_layout
                and self.shaft_length_mm == 0 and not (self.ied or self.nonlinear or self.artifacts_v2
                                                       or self.session_variation or self.subject_variation)
                and self.mesial_rhythm_hz is None and self.local_exponent is None
                and self.aperiodic_share == 0 and self.alpha_rhythm_hz is None)

    def to_dict(self) -> dict:
        """Fields as a JSON-ready dict."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


V1 = WorldConfig()
V2 = WorldConfig(name="v2", ieeg_reference="shaft", scalp_reference_from_layout=True, shaft_length_mm=7.0,
                 ied=True, nonlinear=True, artifacts_v2=True, session_variation=True, subject_variation=True,
                 mesial_rhythm_hz=(2.5, 4.5), local_exponent=(2.0, 3.0),
                 aperiodic_share=0.4, aperiodic_exponent=(1.0, 2.0), alpha_rhythm_hz=(9.5, 12.5))


def resolve_world(world: str | WorldConfig) -> WorldConfig:
    """``'v1'``, ``'v2'`` or a :class:`WorldConfig` -> :class:`WorldConfig`.

    Raises
    ------
    ValueError
        Unknown name or invalid field value.
    """
    if isinstance(world, WorldConfig):
        cfg = world
    elif world in WORLDS:
        cfg = V1 if world == "v1" else V2
    else:
        raise ValueError(f"Invalid value for the 'world' parameter: allowed values are "
                         f"{', '.join(WORLDS)}, but got {world!r} instead.")
    if cfg.ieeg_reference not in ("infinity", "shaft", "contact"):
        raise ValueError("Invalid value for the 'ieeg_reference' parameter: allowed values are infinity, "
                         f"shaft, contact, but got {cfg.ieeg_reference!r} instead.")
    return cfg


def with_features(base: str | WorldConfig = "v2", **changes) -> WorldConfig:
    """A copy of a world with some fields changed (named ``'custom'``)."""
    return replace(resolve_world(base), name="custom", **changes)
