"""The main job: calibrate a patient model, then reconstruct iEEG surrogates.

Data flow (one way)::

    files --read--> Recording --preprocess--> PairedSegment --model--> arrays
          --> surrogate EDF (+ report)

This module is the glue between readers (:mod:`ieegrecon.io`), atlas
mapping (:mod:`ieegrecon.atlas`), models (:mod:`ieegrecon.models`) and the
report (:mod:`ieegrecon.report`). It knows files; models do not.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from .channels import is_reference_name, normalize_ch_name, strip_label
from .errors import InputError, ModelFileError, ModelInputMismatch, UsageError
from .anonymize import strip_paths
from .io.atomic import atomic_dir
from .io.validate import check_enough_good_scalp, check_min_duration, check_min_sfreq
from .models.base import ContactInfo, PairedSegment, ReconModel, get_model_class, method_names
from .metrics import pearson_r
from .preprocessing import Preprocessing, apply_preprocessing, extend_by_reflection
from .recording import INTRACRANIAL_TYPES, Annotation, Recording

#: Shortest held-out tail (s) used for evaluation; below it, blocked CV.
MIN_HOLDOUT_S = 10.0
#: Folds of blocked cross-validation when the tail is too short.
CV_FOLDS = 5
#: Seconds of held-out signal kept in the patient model for report figures.
HOLDOUT_KEEP_S = 20.0
#: Reliability classes (lower bound of held-out Pearson r, label), best first.
RELIABILITY_CLASSES = ((0.6, "high"), (0.3, "moderate"), (0.1, "low"), (-np.inf, "unreliable"))
#: Decimals every held-out r is printed with; its class is that of the printed value.
RELIABILITY_DIGITS = 2
HOLDOUT_NAME = "holdout.h5"
#: Quantiles of the uncertainty band written with ``--samples``.
BAND_Q = (0.05, 0.95)
#: Outputs longer than this (s) are streamed to disk (pyedflib) instead of built in memory (edfio).
STREAM_OVER_S = 3600.0
#: A streamed EDF's physical range: the calibration's ±8 SD times this (±512 SD; one quantization
#: step is then 0.016 SD), fixed before the signal is known; anything beyond is counted and annotated.
STREAM_RANGE_SCALE = 64.0
#: Recording gaps (EDF+D) adding up to more than this (s) are refused: the wall-clock surrogate
#: would be mostly zero fill.
MAX_GAP_S = 24 * 3600.0

Progress = Callable[[str, float], None]


def format_r(r: float | None) -> str:
    """A held-out Pearson r as printed everywhere: :data:`RELIABILITY_DIGITS` decimals, ``'n/a'`` if unmeasured."""
    if r is None or not np.isfinite(r):
        return "n/a"
    return f"{r:.{RELIABILITY_DIGITS}f}"


def reliability_class(r: float | None) -> str:
    """Map a held-out Pearson r to a class; thresholds in :data:`RELIABILITY_CLASSES`.

    The class is that of the printed value (:func:`format_r`), so a table never
    shows "0.60" beside "moderate": r = 0.5996 prints "0.60" and is "high".
    """
    if r is None or not np.isfinite(r):
        return "not measured"
    shown = float(format_r(r))
    for lo, label in RELIABILITY_CLASSES:
        if shown >= lo:
            return label
    return "unreliable"  # pragma: no cover


def is_simulated(rec: Recording) -> bool:
    """Whether a recording was produced by ``ieegrecon simulate`` (its marking)."""
    if any(a.description.upper().startswith("SIMULATED") for a in rec.annotations):
        return True
    if rec.source_path and str(rec.source_path).lower().endswith((".edf", ".bdf")):
        from .io.edf import recording_field

        return "SIMULATED" in recording_field(rec.source_path)
    return False


# --------------------------------------------------------------------------- inputs
def load_paired_recordings(patient: str | Path, *, ieeg: str | Path | None = None,
                           electrodes: str | Path | None = None,
                           ieeg_channels: str | None = None) -> tuple[Recording, Recording]:
    """Read a patient's simultaneous scalp EEG and iEEG.

    Parameters
    ----------
    patient : path-like
        A BIDS session folder (``eeg/`` + ``ieeg/``), or one file holding both
        scalp and intracranial channels, or the scalp file when ``ieeg`` is given.
    ieeg : path-like | None
        Separate intracranial file, recorded simultaneously.
    electrodes : path-like | None
        Contact positions (BIDS ``electrodes.tsv``, session, or FIF + transform);
        overrides positions found in the inputs.
    ieeg_channels : str | None
        Regular expression naming intracranial channels in a mixed file.

    Returns
    -------
    scalp : Recording
        Scalp EEG channels only (type ``'eeg'``).
    intracranial : Recording
        Intracranial contacts only, positions in MNI metres where known.

    Raises
    ------
    InputError
        When a file is unreadable or holds no scalp / intracranial channels,
        or when its bad channels (flat, saturated, ``status=bad`` in a BIDS
        channels.tsv; all dropped) leave fewer than 4 good scalp channels.
    """
    from .io.bids import read_bids_session
    from .io.read import read_recording

    patient = Path(patient)
    if not patient.exists():
        raise InputError("no such file or folder", patient)
    if patient.is_dir():
        if ieeg is not None:
            raise UsageError("--ieeg is only for a scalp file, not a BIDS session folder")
        ses = read_bids_session(patient)
        if ses.scalp is None:
            raise InputError("BIDS session has no scalp EEG recording (eeg/*_eeg.*)", patient)
        if ses.ieeg is None:
            raise InputError("BIDS session has no intracranial recording (ieeg/*_ieeg.*)", patient)
        scalp_rec, ieeg_rec = ses.scalp, ses.ieeg
    else:
        rec = read_recording(patient, ieeg_channels=ieeg_channels)
        scalp_rec = rec
        ieeg_rec = read_recording(Path(ieeg), ieeg_channels=ieeg_channels) if ieeg is not None else rec
        if ieeg is not None and electrodes is not None:
            ieeg_rec = _contacts_from_electrodes(ieeg_rec, electrodes)
    check_enough_good_scalp(scalp_rec)  # bad: flat, saturated or status=bad in channels.tsv
    if not _same_gaps(scalp_rec.gaps, ieeg_rec.gaps):
        # calibration pairs samples by position: different EDF+D gaps would pair different moments
        raise InputError(f"the scalp and intracranial recordings have different recording gaps "
                         f"({len(scalp_rec.gaps)} vs {len(ieeg_rec.gaps)}, EDF+D); calibration needs simultaneous "
                         "samples: export both without gaps", ieeg_rec.source_path)
    scalp = _good_channels(scalp_rec.pick_types(("eeg",)))
    if not scalp.ch_names:
        raise InputError("no usable scalp EEG channels found", scalp_rec.source_path)
    intra = _good_channels(ieeg_rec.pick_types(INTRACRANIAL_TYPES))
    if not intra.ch_names:
        raise InputError("no usable intracranial channels found (name them with --ieeg-channels REGEX)",
                         ieeg_rec.source_path)
    check_min_duration(scalp)
    check_min_duration(intra)
    if electrodes is not None:
        intra = _attach_positions(intra, electrodes)
    return scalp, intra


def _contacts_from_electrodes(rec: Recording, electrodes: str | Path) -> Recording:
    """A separate iEEG file's channels that the electrodes file lists are contacts.

    Plain EDF carries no channel types, and clinical exports label contacts
    like ``'EEG LA1-Ref'`` (typed ``misc`` by the label rule). A label whose
    core (:func:`ieegrecon.channels.strip_label`) is a contact of the
    electrodes file is typed ``'seeg'`` (unless already intracranial) and
    takes the electrodes file's name.
    """
    from .io.bids import read_electrodes

    listed = set(read_electrodes(electrodes).names)
    names, types = list(rec.ch_names), list(rec.ch_types)
    renamed = dict(rec.renamed)
    for i, (n, t) in enumerate(zip(rec.ch_names, rec.ch_types)):
        core = strip_label(n)
        if n not in listed and (core not in listed or core in names):
            continue
        if n not in listed:
            names[i] = core
            renamed[n] = core
        if t not in INTRACRANIAL_TYPES:
            types[i] = "seeg"
    if names == rec.ch_names and types == rec.ch_types:
        return rec
    bads = {names[rec.ch_names.index(k)]: v for k, v in rec.bads.items() if k in rec.ch_names}
    return replace(rec, ch_names=names, ch_types=types, renamed=renamed, bads=bads)


def _same_gaps(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
    """Whether two recordings' EDF+D gaps (onset, duration in s) agree to a microsecond."""
    return len(a) == len(b) and bool(np.allclose(np.reshape(a, (-1, 2)), np.reshape(b, (-1, 2)), atol=1e-6))


def _good_channels(rec: Recording) -> Recording:
    """Drop the channels the reader found flat or saturated (``rec.bads``, also in its quirks)."""
    return rec.pick([n for n in rec.ch_names if n not in rec.bads]) if rec.bads else rec


def _attach_positions(intra: Recording, electrodes: str | Path) -> Recording:
    from dataclasses import replace

    from .io.bids import read_electrodes

    el = read_electrodes(electrodes)
    pos = dict(zip(el.names, el.positions))
    missing = [n for n in intra.ch_names if n not in pos]
    if len(missing) == len(intra.ch_names):
        raise InputError(f"none of the {len(missing)} contacts is listed in the electrodes file", electrodes)
    arr = np.array([pos.get(n, [np.nan] * 3) for n in intra.ch_names], float)
    return replace(intra, positions=arr, coord_frame="mni")


def map_regions(intra: Recording, atlas: str = "desikan_killiany"):
    """Atlas regions of the contacts (a DataFrame, one row per contact; see :mod:`ieegrecon.atlas`)."""
    from .atlas import map_contacts

    pos = intra.positions if (intra.positions is not None and intra.coord_frame == "mni") else \
        np.full((len(intra.ch_names), 3), np.nan)
    return map_contacts(intra.ch_names, pos, atlas=atlas)


def contact_info(intra: Recording, regions) -> ContactInfo:
    """Build the model's :class:`ContactInfo` from contacts and their regions table."""
    pos = intra.positions if (intra.positions is not None and intra.coord_frame == "mni") else \
        np.full((len(intra.ch_names), 3), np.nan)
    return ContactInfo(list(intra.ch_names), pos, list(regions["region_key"].astype(str)),
                       list(regions["depth_class"].astype(str)))


def scalp_array(scalp: Recording, names: list[str] | None, prep: Preprocessing, *,
                drop_references: bool = False) -> tuple[np.ndarray, list[str]]:
    """Pick, order and preprocess scalp channels.

    Parameters
    ----------
    scalp : Recording
        Scalp EEG (names already normalized by the reader).
    names : list of str | None
        Channels the model needs, in order; None keeps every channel.
    prep : Preprocessing
    drop_references : bool
        With ``names=None``, leave out ear/mastoid references
        (:data:`ieegrecon.channels.REFERENCE_NAMES`).

    Returns
    -------
    data : ndarray, shape (n_scalp, n_times_out)
        Volts at ``prep.sfreq``.
    names : list of str

    Raises
    ------
    ModelInputMismatch
        If channels the model needs are absent.
    InputError
        If ``drop_references`` leaves no channel.
    """
    if names is None:
        names = [normalize_ch_name(n) for n in scalp.ch_names
                 if not (drop_references and is_reference_name(n))]
        if not names:
            raise InputError("only reference channels (A1/A2/M1/M2) among the scalp channels", scalp.source_path)
    picked = scalp.pick(match_scalp_channels(scalp, names))
    return apply_preprocessing(picked.data, picked.sfreq, prep, reference=True), list(names)


def match_scalp_channels(scalp: Recording, names: list[str]) -> list[str]:
    """Labels of ``scalp`` that hold the model's channels ``names``, in that order.

    Raises
    ------
    ModelInputMismatch
        Naming the channels the model needs that are absent.
    """
    by_norm = {normalize_ch_name(n): n for n in scalp.ch_names}
    missing = [n for n in names if normalize_ch_name(n) not in by_norm]
    if missing:
        raise ModelInputMismatch(_missing_text(missing, len(by_norm), True), scalp.source_path)
    return [by_norm[normalize_ch_name(n)] for n in names]


def _missing_text(missing: list[str], n_present: int, patient_model: bool = False) -> str:
    """One short line naming the missing channels (not the whole list present)."""
    hint = ("; to use recordings without ear electrodes, recalibrate with --drop-references"
            if patient_model and all(is_reference_name(n) for n in missing) else "")
    return (f"the model needs scalp channel(s) {', '.join(map(repr, missing))} that are absent "
            f"({n_present} scalp channels present){hint}")


def make_segment(scalp: Recording, intra: Recording, contacts: ContactInfo, prep: Preprocessing,
                 subject: str = "patient", *, drop_references: bool = False) -> PairedSegment:
    """Preprocess simultaneous scalp EEG and iEEG into one :class:`PairedSegment`.

    Both are resampled to ``prep.sfreq`` and cut to their common length
    (they are assumed to start together, as in ds004752). ``drop_references``
    leaves ear/mastoid reference channels out of the scalp set (calibration does).
    """
    x, names = scalp_array(scalp, None, prep, drop_references=drop_references)
    y = apply_preprocessing(intra.data, intra.sfreq, prep, reference=False)
    n = min(x.shape[1], y.shape[1])
    return PairedSegment(x[:, :n], y[:, :n], prep.sfreq, names, contacts, subject)


# --------------------------------------------------------------------------- calibrate
@dataclass
class CalibrationResult:
    """What :func:`calibrate` produced."""

    out: Path
    method: str
    r: dict[str, float]
    evaluation: str
    regions: Any
    extra: dict[str, Any] = field(default_factory=dict)


#: Models shipped in the repository's ``models/`` folder, used when ``--model`` is not given.
DEFAULT_MODELS = {"cast": "cast-sim9"}


def default_model(method: str) -> Path | None:
    """The shipped default pretrained model folder of ``method``, or None.

    Looks in ``models/`` beside the ``ieegrecon`` package (a clone or an
    editable install, as the README installs it).
    """
    name = DEFAULT_MODELS.get(method)
    if name is None:
        return None
    folder = Path(__file__).resolve().parents[1] / "models" / name
    return folder if (folder / "config.json").is_file() else None


def _new_model(method: str, pretrained: str | Path | None, sfreq: float) -> ReconModel:
    from .models.io import load_model

    if pretrained is not None:
        model, cfg = load_model(pretrained)
        if model.method != method:
            raise UsageError(f"--model {pretrained} is a {model.method!r} model, not {method!r}")
        model._pretrained_cfg = cfg  # type: ignore[attr-defined]
        return model
    cls = get_model_class(method)
    if cls.requires_pretrain:
        raise UsageError(f"method {method!r} needs a pretrained model: pass --model models/NAME")
    return cls(sfreq=sfreq)


def fit_model(method: str, pretrained, seg: PairedSegment, zero_shot: bool, seed: int,
              source: str | Path | None = None) -> ReconModel:
    """A new (or pretrained) model of ``method``, calibrated on ``seg`` or set up zero-shot.

    Parameters
    ----------
    method : str
        Registered method.
    pretrained : path-like | None
        Pretrained model folder (cross-subject methods).
    seg : PairedSegment
        Calibration data (only its contacts and scalp names when ``zero_shot``).
    zero_shot : bool
        Decode without calibration (methods with ``supports_zero_shot``).
    seed : int
        Seed for methods that train.
    source : path-like | None
        The recording ``seg`` came from, named in the error when it is unusable.

    Raises
    ------
    UsageError
        Zero-shot with a method that cannot, or a pretrained model of another method.
    InputError
        When the calibration data are unusable (e.g. too short).
    """
    model = _new_model(method, pretrained, seg.sfreq)
    if zero_shot:
        if not model.supports_zero_shot:
            raise UsageError(f"method {method!r} cannot run without calibration (--minutes 0)")
        model.set_targets(seg.contacts, scalp_names=seg.scalp_names)  # type: ignore[attr-defined]
        return model
    kwargs = {"seed": seed} if model.supports_pretrain else {}
    try:
        model.calibrate(seg, **kwargs)
    except ValueError as exc:
        raise InputError(str(exc), source) from None
    return model


def subset_scalp(seg: PairedSegment, names: list[str]) -> PairedSegment:
    """The segment with only the scalp channels ``names``, in that order.

    Raises
    ------
    ModelInputMismatch
        If some are absent.
    """
    have = {normalize_ch_name(n): i for i, n in enumerate(seg.scalp_names)}
    missing = [n for n in names if normalize_ch_name(n) not in have]
    if missing:
        raise ModelInputMismatch("pretrained model: " + _missing_text(missing, len(have)))
    idx = [have[normalize_ch_name(n)] for n in names]
    return PairedSegment(seg.scalp[idx], seg.ieeg, seg.sfreq, list(names), seg.contacts, seg.subject)


#: Share of the recording held out when ``minutes`` is not given (at least :data:`MIN_HOLDOUT_S`).
AUTO_HOLDOUT_FRACTION = 0.2
#: Mains frequencies ``calibrate`` accepts (Hz).
LINE_FREQS = (50.0, 60.0)


def bids_line_freq(session: str | Path) -> float | None:
    """``PowerLineFrequency`` of a BIDS session's scalp (else iEEG) sidecar, or None.

    Parameters
    ----------
    session : path-like
        A BIDS session folder (``eeg/*_eeg.json``, ``ieeg/*_ieeg.json``); a file gives None.

    Returns
    -------
    float | None
        Hz, when a sidecar states a number.
    """
    import json

    session = Path(session)
    if not session.is_dir():
        return None
    for pattern in ("eeg/*_eeg.json", "ieeg/*_ieeg.json"):
        for side in sorted(session.glob(pattern)):
            try:
                value = json.loads(side.read_text(encoding="utf-8-sig")).get("PowerLineFrequency")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(value, (int, float)) and value > 0:
                return float(value)
    return None


def calibrate(patient: str | Path, *, method: str, minutes: float | None, out: str | Path,
              ieeg: str | Path | None = None, electrodes: str | Path | None = None,
              ieeg_channels: str | None = None, pretrained: str | Path | None = None,
              atlas: str = "desikan_killiany", prep: Preprocessing = Preprocessing(),
              line_freq: float | None = None, drop_references: bool = False, overwrite: bool = False,
              seed: int = 0, progress: Progress | None = None) -> CalibrationResult:
    """Calibrate a patient model on the first ``minutes`` of a paired recording.

    The rest of the recording (when ≥ :data:`MIN_HOLDOUT_S`) is the held-out
    tail on which per-contact Pearson r is measured; otherwise r comes from
    blocked :data:`CV_FOLDS`-fold cross-validation inside the calibration
    minutes. ``minutes=0`` is zero-shot (methods that support it): the whole
    recording is then held out. ``minutes=None`` uses what is there: all but
    the last :data:`AUTO_HOLDOUT_FRACTION` (at least :data:`MIN_HOLDOUT_S`),
    which is held out; the evaluation text says so.

    Ear/mastoid references (A1, A2, M1, M2) present in the calibration
    recording are model inputs like any scalp channel: they sit close to the
    temporal lobe and carry its signal (bundled simulated example, cast, 2 min:
    median held-out r 0.61 with them, 0.51 without). ``drop_references`` leaves
    them out (unless a pretrained model was trained with them), so that the
    model applies to recordings without ear electrodes (10-10 caps, HUP).

    Parameters
    ----------
    patient, ieeg, electrodes, ieeg_channels
        See :func:`load_paired_recordings`.
    method : str
        A registered method (``'ridge'``, ``'source'``, ``'cast'``...).
    minutes : float | None
        Calibration length in minutes (fractions allowed); None: see above.
    out : path-like
        Patient model folder to write (``config.json``, ``model.safetensors``,
        ``regions.tsv``, ``holdout.h5``).
    pretrained : path-like | None
        Pretrained model folder (cross-subject methods).
    atlas : str
        Atlas for contact regions.
    prep : Preprocessing
        Preprocessing, stored with the model.
    line_freq : float | None
        Mains frequency in Hz (50 or 60) for the notch; None: the BIDS
        sidecar's ``PowerLineFrequency`` when ``patient`` is a session with one,
        else ``prep.line_freq``. The result's ``extra['line_freq_source']`` says which.
    drop_references : bool
        Leave ear/mastoid references out of the model's scalp channels (later
        recordings then need no ear electrodes).
    overwrite : bool
        Replace an existing patient model.
    seed : int
        Random seed for methods that train.
    progress : callable | None
        ``progress(message, fraction)``.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    InputError, UsageError, OutputError, ModelInputMismatch
    """
    from ._checks import check_option, check_out_path

    say = progress or (lambda msg, frac: None)
    check_option("method", method, method_names())
    if pretrained is None and get_model_class(method).supports_pretrain:
        pretrained = default_model(method)  # an input too: never the output
    out = check_out_path(out, overwrite=overwrite, inputs=(patient, ieeg, electrodes, pretrained), kind="model")
    if minutes is not None and minutes < 0:
        raise UsageError(f"--minutes must be ≥ 0, got {minutes}")
    if line_freq is not None:
        if line_freq not in LINE_FREQS:
            raise UsageError(f"invalid value for --line-freq: {line_freq:g} (allowed: 50, 60)")
        prep, line_source = replace(prep, line_freq=float(line_freq)), "--line-freq"
    elif (sidecar_freq := bids_line_freq(patient)) is not None:
        prep, line_source = replace(prep, line_freq=sidecar_freq), "BIDS PowerLineFrequency"
    else:
        line_source = "default"
    say("reading", 0.05)
    if minutes == 0 and ieeg is None and electrodes is not None and Path(patient).is_file():
        from .io.read import read_recording

        rec = read_recording(patient, ieeg_channels=ieeg_channels)
        if not any(t in INTRACRANIAL_TYPES for t in rec.ch_types):  # scalp EEG only: contacts from positions
            return _calibrate_from_positions(rec, electrodes, method=method, out=out, pretrained=pretrained,
                                             atlas=atlas, prep=prep, line_source=line_source,
                                             drop_references=drop_references, overwrite=overwrite, say=say)
    scalp, intra = load_paired_recordings(patient, ieeg=ieeg, electrodes=electrodes,
                                          ieeg_channels=ieeg_channels)
    check_min_sfreq(scalp, prep.sfreq)
    check_min_sfreq(intra, prep.sfreq)
    say("mapping contacts to atlas regions", 0.15)
    regions = map_regions(intra, atlas)
    contacts = contact_info(intra, regions)
    say("preprocessing", 0.25)
    pre_names: list[str] = []
    if pretrained is not None:
        from .models.io import read_model_config

        pre_cfg = read_model_config(pretrained)
        if pre_cfg.get("scalp_names") and not get_model_class(pre_cfg["method"]).supports_zero_shot:
            pre_names = list(pre_cfg["scalp_names"])  # its encoder was pretrained on these channels
    seg = make_segment(scalp, intra, contacts, prep,
                       drop_references=drop_references and not any(is_reference_name(n) for n in pre_names))
    if pre_names:
        seg = subset_scalp(seg, pre_names)
    fs = seg.sfreq
    n_all = seg.scalp.shape[1]
    auto = minutes is None
    if minutes is None:  # use what is there, keeping a held-out tail
        hold = max(int(round(AUTO_HOLDOUT_FRACTION * n_all)), int(round(MIN_HOLDOUT_S * fs)))
        n_fit = n_all - hold if n_all - hold >= MIN_HOLDOUT_S * fs else n_all  # too short: blocked CV on all
        minutes = n_fit / fs / 60
    n_fit = int(round(minutes * 60 * fs))
    if n_fit > n_all:
        raise InputError(f"recording is {n_all / fs / 60:.2f} min long, shorter than --minutes {minutes}",
                         patient)
    zero_shot = n_fit == 0
    say(f"calibrating {method}", 0.35)
    if zero_shot:
        model = fit_model(method, pretrained, seg, True, seed, patient)
        ev_seg, evaluation = seg, "zero-shot: whole recording held out"
        y_hat = model.predict(ev_seg.scalp)
    elif n_all - n_fit >= MIN_HOLDOUT_S * fs:
        model = fit_model(method, pretrained, seg.crop_samples(0, n_fit), False, seed, patient)
        ev_seg = seg.crop_samples(n_fit, n_all)
        evaluation = f"held-out tail: {ev_seg.scalp.shape[1] / fs:.1f} s after the calibration minutes"
        y_hat = model.predict(ev_seg.scalp)
    else:
        fit_seg = seg.crop_samples(0, n_fit)
        y_hat = np.zeros_like(fit_seg.ieeg)
        for k, test in enumerate(np.array_split(np.arange(n_fit), CV_FOLDS)):
            say(f"blocked cross-validation fold {k + 1}/{CV_FOLDS}", 0.35 + 0.1 * k)
            a, b = test[0], test[-1] + 1
            train = PairedSegment(np.concatenate([fit_seg.scalp[:, :a], fit_seg.scalp[:, b:]], 1),
                                  np.concatenate([fit_seg.ieeg[:, :a], fit_seg.ieeg[:, b:]], 1),
                                  fs, fit_seg.scalp_names, contacts, fit_seg.subject)
            y_hat[:, a:b] = fit_model(method, pretrained, train, False, seed, patient).predict(fit_seg.scalp[:, a:b])
        model = fit_model(method, pretrained, fit_seg, False, seed, patient)
        ev_seg = fit_seg
        evaluation = f"blocked {CV_FOLDS}-fold cross-validation within the calibration minutes"
    if auto:
        evaluation = (f"--minutes not given: calibrated on the first {minutes:.2f} of {n_all / fs / 60:.2f} min; "
                      + evaluation)
    r = pearson_r(ev_seg.ieeg, y_hat)
    coverage = None
    if hasattr(model, "bands"):
        from .uncertainty import coverage as _coverage

        say("measuring 90 % band coverage on held-out data", 0.85)
        lo, _, hi = model.bands(ev_seg.scalp, n_samples=32, q=(0.05, 0.95), seed=seed)
        coverage = _coverage(ev_seg.ieeg, lo, hi)
    simulated = is_simulated(scalp) or is_simulated(intra)
    model.trained_on = _trained_on(model, {  # base names and sha256 only: folder names often hold the patient's name
        "files": sorted({Path(r.source_path).name for r in (scalp, intra) if r.source_path}),
        "sha256": sorted({h for h in (scalp.source_sha256, intra.source_sha256) if h}),
        "file_sha256": {Path(r.source_path).name: r.source_sha256 for r in (scalp, intra)
                        if r.source_path and r.source_sha256},
        "minutes": minutes,
        "simulated": simulated,
    })
    true_sd = ev_seg.ieeg.std(axis=1)
    extra = _model_extra(model, prep, line_source, minutes, atlas, evaluation, pretrained) | {
        "heldout_r": {c: (None if not np.isfinite(v) else float(v)) for c, v in zip(contacts.ch_names, r)},
        "heldout_nmse": {c: float(np.mean((a - b) ** 2) / max(np.var(a), 1e-300))
                         for c, a, b in zip(contacts.ch_names, ev_seg.ieeg, y_hat)},
        "physical_range_uv": {c: [float(-8 * s * 1e6), float(8 * s * 1e6)]
                              for c, s in zip(contacts.ch_names, np.maximum(true_sd, 1e-7))},
        "simulated_data": simulated,
        "heldout_coverage90": None if coverage is None else
        {c: float(v) for c, v in zip(contacts.ch_names, coverage)},
        "zero_shot": zero_shot,
    }
    say("saving patient model", 0.9)
    _publish_patient_model(out, model, extra, regions, overwrite=overwrite,
                           holdout=lambda path: _write_holdout(path, ev_seg, y_hat))
    say("done", 1.0)
    return CalibrationResult(out, method, extra["heldout_r"], evaluation, regions, extra)


def _trained_on(model: ReconModel, calibration: dict[str, Any]) -> dict[str, Any]:
    """A patient model's ``trained_on``: its pretrained model's pretraining (folders stripped) and ``calibration``."""
    pre = getattr(model, "_pretrained_cfg", None)
    return {"pretrain": strip_paths((pre or {}).get("trained_on", {}).get("pretrain")) if pre else None,
            "calibration": calibration}


def _model_extra(model: ReconModel, prep: Preprocessing, line_source: str, minutes: float, atlas: str,
                 evaluation: str, pretrained: str | Path | None) -> dict[str, Any]:
    """The ``extra`` fields every patient model carries (held-out figures are added by the caller)."""
    pre = getattr(model, "_pretrained_cfg", None)
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "preprocessing": prep.to_dict(),
        "line_freq_source": line_source,
        "minutes": minutes,
        "atlas": atlas,
        "evaluation": evaluation,
        "pretrained_model": Path(pretrained).resolve().name if pretrained else None,
        "pretrained_sha256": (pre or {}).get("sha256") if pre else None,
    }


def _publish_patient_model(out: Path, model: ReconModel, extra: dict[str, Any], regions, *, overwrite: bool,
                           holdout: Callable[[Path], None] | None = None) -> None:
    """Write a patient model folder (weights, config, regions.tsv, optional holdout.h5) and publish it whole."""
    from ._checks import check_own_model
    from .models.io import save_model

    with atomic_dir(out, overwrite=overwrite, check=check_own_model) as tmp:  # exclusive publication
        save_model(model, tmp, extra=extra, overwrite=True, kind="patient-model")
        regions.to_csv(tmp / "regions.tsv", sep="\t", index=False, na_rep="n/a")
        if holdout is not None:
            holdout(tmp / HOLDOUT_NAME)


def _calibrate_from_positions(scalp_rec: Recording, electrodes: str | Path, *, method: str, out: Path,
                              pretrained: str | Path | None, atlas: str, prep: Preprocessing, line_source: str,
                              drop_references: bool, overwrite: bool, say: Progress) -> CalibrationResult:
    """Zero-shot patient model from scalp EEG and contact positions alone (no intracranial recording).

    For a patient without a simultaneous scalp + iEEG recording: the contacts
    come from ``electrodes`` (BIDS ``electrodes.tsv`` in MNI, or a session /
    FIF), the scalp channels from ``scalp_rec``; a zero-shot method
    (``supports_zero_shot``: cast, source) decodes them. Nothing can be
    measured on the patient, so every held-out r is None ("not measured") and
    the model says so in ``evaluation``.

    Raises
    ------
    UsageError
        ``method`` cannot decode without calibration.
    InputError
        No usable scalp channel, or an unusable electrodes file.
    """
    from .io.bids import read_electrodes
    from .models.io import read_model_config

    if not get_model_class(method).supports_zero_shot:
        raise UsageError(f"method {method!r} cannot run without calibration (--minutes 0); "
                         "zero-shot methods: cast, source")
    check_enough_good_scalp(scalp_rec)
    scalp = _good_channels(scalp_rec.pick_types(("eeg",)))
    if not scalp.ch_names:
        raise InputError("no usable scalp EEG channels found", scalp_rec.source_path)
    check_min_sfreq(scalp, prep.sfreq)
    el = read_electrodes(electrodes)
    intra = Recording(np.zeros((len(el.names), 0)), prep.sfreq, list(el.names), ["seeg"] * len(el.names),
                      positions=np.asarray(el.positions, float), coord_frame="mni",
                      source_path=str(electrodes))
    say("mapping contacts to atlas regions", 0.15)
    regions = map_regions(intra, atlas)
    contacts = contact_info(intra, regions)
    pre_names = list((read_model_config(pretrained) if pretrained is not None else {}).get("scalp_names") or [])
    _, names = scalp_array(scalp.crop(0, min(2.0, scalp.n_times / scalp.sfreq)), None, prep,
                           drop_references=drop_references and not any(is_reference_name(n) for n in pre_names))
    seg = PairedSegment(np.zeros((len(names), 0)), np.zeros((len(contacts.ch_names), 0)), prep.sfreq, names,
                        contacts)
    say(f"setting up zero-shot {method}", 0.5)
    model = fit_model(method, pretrained, seg, True, 0, scalp_rec.source_path)
    simulated = is_simulated(scalp_rec)
    model.trained_on = _trained_on(model, {
        "files": [Path(scalp_rec.source_path).name] if scalp_rec.source_path else [],
        "electrodes": Path(electrodes).name,
        "sha256": [scalp_rec.source_sha256] if scalp_rec.source_sha256 else [],
        "minutes": 0.0, "simulated": simulated, "intracranial_recording": False})
    evaluation = ("zero-shot from contact positions alone: no intracranial recording of this patient, "
                  "so nothing was measured (held-out r not available)")
    extra = _model_extra(model, prep, line_source, 0.0, atlas, evaluation, pretrained) | {
        "heldout_r": dict.fromkeys(contacts.ch_names), "simulated_data": simulated,
        "heldout_coverage90": None, "zero_shot": True,
    }
    say("saving patient model", 0.9)
    _publish_patient_model(out, model, extra, regions, overwrite=overwrite)
    say("done", 1.0)
    return CalibrationResult(out, method, extra["heldout_r"], evaluation, regions, extra)


def _write_holdout(path: Path, seg: PairedSegment, y_hat: np.ndarray) -> None:
    import h5py

    n = min(seg.ieeg.shape[1], int(HOLDOUT_KEEP_S * seg.sfreq))
    with h5py.File(path, "w") as f:
        f.attrs["sfreq"] = seg.sfreq
        f.attrs["unit"] = "V"
        f.create_dataset("true", data=seg.ieeg[:, :n].astype("f4"), compression="gzip")
        f.create_dataset("pred", data=y_hat[:, :n].astype("f4"), compression="gzip")
        f.create_dataset("ch_names", data=np.array(seg.contacts.ch_names, dtype="S"))


# --------------------------------------------------------------------------- reconstruct
@dataclass
class ReconstructionResult:
    """Summary of one reconstructed file (JSON-serializable via :meth:`to_dict`)."""

    input: str
    output: str
    n_times: int
    sfreq: float
    ch_names: list[str]
    n_clipped: dict[str, int]
    report: str | None = None
    notes: list[str] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def model_id(config: dict[str, Any]) -> str:
    """Short model identifier: method and the first 12 hex digits of the weights' sha256."""
    return f"{config['method']}-{config.get('sha256', '?')[:12]}"


def surrogate_text(config: dict[str, Any]) -> str:
    """The t=0 annotation every surrogate carries."""
    return f"SURROGATE: reconstructed from scalp EEG by ieegrecon {__version__}, model {model_id(config)}"


def check_calibrated(model: ReconModel, config: dict[str, Any]) -> None:
    """Refuse a model without patient calibration (e.g. the shipped pretrained ``models/cast-sim9``).

    Raises
    ------
    ModelFileError
        Naming the model folder (``config['folder']`` when set) and saying to calibrate first.
    """
    if not model.is_calibrated:
        raise ModelFileError(
            f"not a patient model ({model.method}, no patient contacts or scalp channels: a pretrained or "
            "uncalibrated model); calibrate first "
            f"(ieegrecon calibrate PATIENT --method {model.method} --model {config.get('folder', 'MODEL')} "
            "--out PATIENT_MODEL) and reconstruct with the patient model", config.get("folder"))


def reconstruct_file(scalp_path: str | Path, model: ReconModel, config: dict[str, Any], out: str | Path, *,
                     report_dir: str | Path | None = None, overwrite: bool = False,
                     forbidden: tuple[str | Path, ...] = (), anonymize: bool = False, samples: int = 0,
                     progress: Progress | None = None) -> ReconstructionResult:
    """Reconstruct iEEG surrogates from one scalp file and write an EDF+ (and report).

    Parameters
    ----------
    scalp_path : path-like
        Any supported scalp EEG file.
    model : ReconModel
        A calibrated patient model (from :func:`ieegrecon.models.load_model`).
    config : dict
        Its config (for provenance, preprocessing and calibration metrics).
    out : path-like
        Output ``.edf`` path.
    report_dir : path-like | None
        Folder for ``report.json``, ``regions.tsv`` and ``report.html``.
    overwrite : bool
        Replace existing outputs.
    forbidden : tuple of path-like
        Paths that must never be written (all inputs of a batch).
    samples : int
        For models that sample a posterior (``flow``): draw this many samples;
        the EDF then holds the posterior median and ``<out>_uncertainty.h5``
        the 5-95 % band per contact over time.
    anonymize : bool
        Do not copy the input's start date/time (EDF+ anonymous date instead),
        reduce input annotations to allow-listed event words
        (:func:`ieegrecon.anonymize.anonymize_text`), name the input in the
        result and report by its sha256 prefix only. The EDF patient field is
        always anonymous ('X'): no identifier of the input is ever copied
        into a surrogate.
    progress : callable | None
        ``progress(message, fraction)``.

    Returns
    -------
    ReconstructionResult

    Raises
    ------
    InputError, ModelInputMismatch, OutputError

    Notes
    -----
    Recording gaps (EDF+D, ``Recording.gaps``): the surrogate keeps the
    wall-clock time of every sample and annotation. Each contiguous segment
    is reconstructed on its own (no filter or model lag crosses a gap), and
    each gap is filled with zeros and annotated ``GAP: ...``, so the output
    is an EDF+C as long as the input's wall-clock span. Gaps adding up to
    more than :data:`MAX_GAP_S` are refused (InputError).
    """
    from .io.edf import surrogate_label, verify_edf, write_edf
    from .io.read import read_recording

    from ._checks import check_out_path, check_writable

    say = progress or (lambda msg, frac: None)
    check_calibrated(model, config)
    inputs = (scalp_path, *forbidden, config.get("folder"))
    out = check_out_path(out, overwrite=overwrite, inputs=inputs, kind="edf")
    if report_dir is not None:
        check_out_path(report_dir, overwrite=overwrite, inputs=inputs, kind="report")
    unc_path = out.with_name(out.stem + "_uncertainty.h5")
    if samples:
        check_out_path(unc_path, overwrite=overwrite, inputs=inputs, kind="hdf5")
    say("reading", 0.05)
    rec = read_recording(scalp_path, preload=False)
    scalp = rec.pick_types(("eeg",))
    if not scalp.ch_names:
        raise InputError("no scalp EEG channels found", scalp_path)
    check_min_duration(scalp)
    if rec.gap_total > MAX_GAP_S:
        raise InputError(f"recording gaps add up to {rec.gap_total / 3600:.1f} h (> {MAX_GAP_S / 3600:g} h); "
                         "a wall-clock surrogate would be mostly zero fill: split the file at its gaps", scalp_path)
    bad = rec.bads
    needed = {normalize_ch_name(m) for m in model.scalp_names}
    bad_needed = [n for n in bad if normalize_ch_name(n) in needed]
    if bad_needed:
        raise ModelInputMismatch("the model needs scalp channel(s) that are bad: "
                                 + "; ".join(f"{n} ({bad[n]})" for n in bad_needed), scalp_path)
    prep = Preprocessing.from_dict(config.get("extra", {}).get("preprocessing", {"sfreq": model.sfreq}))
    check_min_sfreq(scalp, prep.sfreq)
    picked = scalp.pick(match_scalp_channels(scalp, model.scalp_names))
    contacts = model.contacts
    assert contacts is not None  # check_calibrated
    layout = _segment_layout(picked, prep.sfreq)
    n_out = layout[-1][2] + layout[-1][3]
    check_writable(out.parent, 2 * len(contacts.ch_names) * n_out * (4 if samples else 1))  # before computing
    ranges = config.get("extra", {}).get("physical_range_uv")  # ±8 SD of the calibration iEEG
    # streamed: fixed in advance, so STREAM_RANGE_SCALE times wider (clipping practically impossible);
    # in memory: each channel's own extremes (write_edf's default), nothing clipped
    phys = [(STREAM_RANGE_SCALE * ranges[c][0], STREAM_RANGE_SCALE * ranges[c][1])
            for c in contacts.ch_names] if ranges else None
    labels = [surrogate_label(c) for c in contacts.ch_names]  # 'SURROGATE' beside every trace
    anns = [Annotation(0.0, 0.0, surrogate_text(config))]
    if config.get("trained_on", {}).get("calibration", {}).get("simulated") or \
            config.get("extra", {}).get("simulated_data"):
        anns.append(Annotation(0.0, 0.0, "SURROGATE: model calibrated on SIMULATED data"))
    if (config.get("trained_on", {}).get("pretrain") or {}).get("simulated"):
        anns.append(Annotation(0.0, 0.0, "SURROGATE: model pretrained on SIMULATED data"))
    out_gaps = [((p[2] + p[3]) / prep.sfreq, (q[2] - p[2] - p[3]) / prep.sfreq)  # (wall-clock onset, duration)
                for p, q in zip(layout[:-1], layout[1:]) if q[2] > p[2] + p[3]]
    anns += [Annotation(g, d, f"GAP: no scalp EEG recorded for {d:g} s; surrogate undefined here")
             for g, d in out_gaps]
    last = (n_out - 1) / prep.sfreq
    for a in rec.annotations:  # at their wall-clock time (the reader noted any outside the recording)
        text = a.description
        if anonymize:
            from .anonymize import anonymize_text

            text = anonymize_text(text)
        anns.append(Annotation(min(max(a.wall, 0.0), last), a.duration, text))
    header = dict(recording_additional=["SURROGATE", "ieegrecon", __version__], transducer="ieegrecon surrogate",
                  prefiltering=_prefilter_text(prep))
    meas_date = None if anonymize else rec.meas_date
    if samples and not hasattr(model, "bands"):
        raise UsageError(f"--samples needs a model that samples a posterior (flow), not {model.method!r}")
    band_fn = (lambda x: np.stack(model.bands(x, n_samples=samples, q=BAND_Q))) if samples else None  # type: ignore[attr-defined]
    pieces = _predict_segments(picked, layout, model, prep, band_fn, (3,) if samples else ())
    notes: list[str] = []
    if out_gaps:
        notes.append(f"{len(out_gaps)} recording gap(s), {sum(d for _, d in out_gaps):g} s in all, filled with "
                     "zeros and annotated GAP; each segment reconstructed on its own")
    if abs(picked.sfreq - prep.sfreq) > 1e-9:
        notes.append(f"input sampled at {picked.sfreq:g} Hz, resampled to the model's {prep.sfreq:g} Hz")
    if n_out / prep.sfreq > STREAM_OVER_S and phys is None and not samples:
        # no calibration range (a zero-shot model from positions): fixed from the first piece, as wide
        first = next(pieces)
        peak = np.maximum(np.abs(first).max(axis=-1) * 1e6, 1.0)  # µV per contact
        phys = [(-STREAM_RANGE_SCALE * m, STREAM_RANGE_SCALE * m) for m in peak]
        pieces = itertools.chain([first], pieces)
    if n_out / prep.sfreq <= STREAM_OVER_S or phys is None:
        say("reconstructing", 0.3)
        y = np.concatenate(list(pieces), axis=-1)
        _check_finite(y, scalp_path)
        if samples:
            from .uncertainty import write_uncertainty_h5

            lo, y, hi = y
            notes.append(f"posterior median of {samples} samples in the EDF; 5-95 % band in {unc_path.name}")
        say("writing EDF", 0.7)
        rep = write_edf(out, y, prep.sfreq, labels, meas_date=meas_date, annotations=anns,
                        overwrite=overwrite, forbidden=(scalp_path, *forbidden), **header,
                        verify=lambda tmp: verify_edf(tmp, labels, n_out, prep.sfreq, y))
        n_clipped, padded, y_report = rep.n_clipped, rep.padded_samples, y
        if samples:
            write_uncertainty_h5(unc_path, lo, hi, y, prep.sfreq, contacts.ch_names, BAND_Q)
    else:
        if samples:
            raise UsageError(f"--samples is not supported for outputs longer than {STREAM_OVER_S:g} s; "
                             "split the recording")
        from .io.edf_stream import StreamedEdfWriter

        writer = StreamedEdfWriter(out, labels, prep.sfreq, phys, meas_date=meas_date,
                                   overwrite=overwrite, **header)
        y_report = None
        try:
            for piece in pieces:
                _check_finite(piece, scalp_path)
                writer.write(piece)
                y_report = piece if y_report is None else y_report
                say("reconstructing (streamed)", 0.1 + 0.7 * writer.n_written / n_out)
            writer.annotate(anns)
            padded = writer.close(verify=lambda tmp: verify_edf(tmp, labels, n_out, prep.sfreq, None))
        except BaseException:
            writer.abort()
            raise
        n_clipped, y = writer.n_clipped, None
        notes.append(f"streamed in {CHUNK_S:g}-s chunks (output longer than {STREAM_OVER_S:g} s)")
    if padded:
        notes.append(f"{padded} zero samples pad the last EDF record (annotated)")
    n_clipped = {c: int(n_clipped[lab]) for c, lab in zip(contacts.ch_names, labels)}
    n_clip = sum(n_clipped.values())
    if n_clip:
        notes.append(f"{n_clip} samples in {sum(1 for v in n_clipped.values() if v)} channels clipped to the "
                     "physical range (per channel in n_clipped; a CLIPPED annotation in the EDF)")
    unmarked = [c for c, lab in zip(contacts.ch_names, labels) if lab == c]
    if unmarked:
        notes.append(f"{len(unmarked)} label(s) too long for the SURROGATE suffix, e.g. {unmarked[0]!r}")
    shown = f"sha256:{(rec.source_sha256 or '?')[:12]}" if anonymize else str(scalp_path)
    result = ReconstructionResult(shown, str(out), n_out, prep.sfreq,
                                  list(contacts.ch_names), n_clipped, notes=notes, gaps=out_gaps)
    if report_dir is not None:
        from .report import write_report

        say("writing report", 0.9)
        result.report = str(write_report(report_dir, config=config, model=model, result=result,
                                         input_rec=rec, recon=y_report, overwrite=overwrite,
                                         anonymize=anonymize))
    say("done", 1.0)
    return result


def _segment_layout(rec: Recording, sfreq_out: float) -> list[tuple[int, int, int, int]]:
    """Where each contiguous segment of ``rec`` goes in a wall-clock output at ``sfreq_out``.

    Returns
    -------
    list of (start, stop, out_start, out_len)
        Input samples ``[start, stop)`` and their output position and length
        (samples at ``sfreq_out``); gaps lie between one segment's end and the
        next one's ``out_start``.
    """
    ratio = sfreq_out / rec.sfreq
    layout, end = [], 0
    for a, b in rec.segments():
        o = max(end, int(round(rec.wall_time(a / rec.sfreq) * sfreq_out)))
        n = int(round((b - a) * ratio))  # what predict_chunked yields for it
        layout.append((a, b, o, n))
        end = o + n
    return layout


def _predict_segments(rec: Recording, layout, model: ReconModel, prep: Preprocessing, predict_fn,
                      lead: tuple[int, ...]):
    """Pieces of the wall-clock reconstruction: each segment by :func:`predict_chunked`, zeros between."""
    n_c = len(model.contacts.ch_names) if model.contacts is not None else 0
    end = 0
    for a, b, o, _ in layout:
        for z in range(end, o, int(CHUNK_S * prep.sfreq)):  # zero fill of a gap, in bounded blocks
            yield np.zeros(lead + (n_c, min(o, z + int(CHUNK_S * prep.sfreq)) - z))
        done = 0
        for piece in predict_chunked(lambda s, e, a=a: rec.data[:, a + s:a + e], b - a, rec.sfreq, model, prep,
                                     predict_fn=predict_fn):
            done += piece.shape[-1]
            yield piece
        end = o + done


def _check_finite(y: np.ndarray, path) -> None:
    if not np.all(np.isfinite(y)):
        raise InputError("reconstruction produced NaN/Inf (check the input for NaN samples)", path)


#: Length of one processing chunk for long recordings, in seconds.
CHUNK_S = 600.0
#: Context added on both sides of a chunk (filters, resampling, model windows), in seconds.
MARGIN_S = 10.0


def predict_chunked(get_chunk: Callable[[int, int], np.ndarray], n_times: int, sfreq: float,
                    model: ReconModel, prep: Preprocessing, *, chunk_s: float | None = None,
                    margin_s: float | None = None, predict_fn: Callable[[np.ndarray], np.ndarray] | None = None):
    """Preprocess and reconstruct a long recording chunk by chunk, with bounded memory.

    Each chunk is processed with ``margin_s`` of context on both sides
    (read, resampled, filtered, referenced, reconstructed), and only its
    middle is kept, so the output matches whole-recording processing up to
    filter transients that have decayed within the margin.

    Border rule (the same for every method): samples ``[0, n_times)`` are
    one contiguous segment. Where the segment ends, there is no context to
    read, so the missing context is its mirror image
    (:func:`~ieegrecon.preprocessing.extend_by_reflection`: even reflection,
    power-line sinusoids continued), and the first and last chunks are
    processed exactly like interior ones; the filters' and the model's
    transients fall into the discarded extension. For a recording with gaps
    (EDF+D), call this once per contiguous segment (as :func:`reconstruct_file` does).

    Parameters
    ----------
    get_chunk : callable
        ``get_chunk(start, stop)`` returns the model's scalp channels, in
        order, samples ``[start, stop)`` at ``sfreq``, in volts.
    n_times : int
        Samples in the input.
    sfreq : float
        Input rate in Hz.
    model : ReconModel
    prep : Preprocessing
    chunk_s, margin_s : float | None
        Chunk length and context in seconds (default: the model's ``max_chunk_s`` or
        :data:`CHUNK_S`, and :data:`MARGIN_S`).
    predict_fn : callable | None
        Replaces ``model.predict``; may return extra leading axes (e.g. bands),
        time is always the last axis.

    Yields
    ------
    y : ndarray, shape (n_contacts, n_chunk_out)
        Consecutive pieces of the reconstruction at ``prep.sfreq`` (volts);
        concatenated they have ``round(n_times * prep.sfreq / sfreq)`` samples.
    """
    if chunk_s is None:  # a model may ask for shorter chunks (memory of its predict grows with length)
        chunk_s = model.max_chunk_s or CHUNK_S
    margin_s = MARGIN_S if margin_s is None else margin_s
    ratio = prep.sfreq / sfreq
    n_out = int(round(n_times * ratio))
    step = max(1, int(round(chunk_s * sfreq)))
    margin = int(round(margin_s * sfreq))
    done = 0
    for a in range(0, n_times, step):
        b = min(n_times, a + step)
        lo, hi = max(0, a - margin), min(n_times, b + margin)
        # border rule: where the segment ends, its mirror image stands in for the missing context, so
        # every chunk (first and last too) is processed as an interior chunk: margin on both sides
        raw = extend_by_reflection(get_chunk(lo, hi), margin - (a - lo), (b + margin) - hi,
                                   sfreq=sfreq, line_freq=prep.line_freq)
        x = apply_preprocessing(raw, sfreq, prep, reference=True)
        y = (predict_fn or model.predict)(x)
        out_a = int(round(margin * ratio))
        out_stop = n_out if b == n_times else int(round(b * ratio))
        piece = y[..., out_a:out_a + (out_stop - done)]
        done += piece.shape[-1]
        yield piece


def _prefilter_text(prep: Preprocessing) -> str:
    parts = []
    if prep.l_freq:
        parts.append(f"HP:{prep.l_freq:g}Hz")
    parts.append(f"LP:{prep.sfreq / 2:g}Hz")
    if prep.line_freq:
        parts.append(f"N:{prep.line_freq:g}Hz")
    return " ".join(parts)
