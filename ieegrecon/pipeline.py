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
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from .channels import normalize_ch_name
from .errors import InputError, ModelFileError, ModelInputMismatch, OutputError, UsageError
from .io.atomic import current_umask
from .io.validate import check_enough_good_scalp, check_min_duration, check_min_sfreq
from .models.base import ContactInfo, PairedSegment, ReconModel, get_model_class
from .models.ridge import pearson_r
from .preprocessing import Preprocessing, apply_preprocessing
from .recording import INTRACRANIAL_TYPES, Annotation, Recording

#: Shortest held-out tail (s) used for evaluation; below it, blocked CV.
MIN_HOLDOUT_S = 10.0
#: Folds of blocked cross-validation when the tail is too short.
CV_FOLDS = 5
#: Seconds of held-out signal kept in the patient model for report figures.
HOLDOUT_KEEP_S = 20.0
#: Reliability classes (lower bound of held-out Pearson r, label), best first.
RELIABILITY_CLASSES = ((0.6, "high"), (0.3, "moderate"), (0.1, "low"), (-np.inf, "unreliable"))
HOLDOUT_NAME = "holdout.h5"
#: Quantiles of the uncertainty band written with ``--samples``.
BAND_Q = (0.05, 0.95)
#: Outputs longer than this (s) are streamed to disk (pyedflib) instead of built in memory (edfio).
STREAM_OVER_S = 3600.0

Progress = Callable[[str, float], None]


def reliability_class(r: float | None) -> str:
    """Map a held-out Pearson r to a class; thresholds in :data:`RELIABILITY_CLASSES`."""
    if r is None or not np.isfinite(r):
        return "not measured"
    for lo, label in RELIABILITY_CLASSES:
        if r >= lo:
            return label
    return "unreliable"  # pragma: no cover


def is_simulated(rec: Recording) -> bool:
    """Whether a recording was produced by ``ieegrecon simulate`` (its marking)."""
    if any(a.description.upper().startswith("SIMULATED") for a in rec.annotations):
        return True
    if rec.source_path and str(rec.source_path).lower().endswith((".edf", ".bdf")):
        try:
            from .io.edf import read_edf_header_text

            return "SIMULATED" in read_edf_header_text(rec.source_path)[88:168]
        except (InputError, OSError):
            return False
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
    check_enough_good_scalp(scalp_rec)  # bad: flat, saturated or status=bad in channels.tsv
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


def scalp_array(scalp: Recording, names: list[str] | None, prep: Preprocessing) -> tuple[np.ndarray, list[str]]:
    """Pick, order and preprocess scalp channels.

    Parameters
    ----------
    scalp : Recording
        Scalp EEG (names already normalized by the reader).
    names : list of str | None
        Channels the model needs, in order; None keeps every channel.
    prep : Preprocessing

    Returns
    -------
    data : ndarray, shape (n_scalp, n_times_out)
        Volts at ``prep.sfreq``.
    names : list of str

    Raises
    ------
    ModelInputMismatch
        If channels the model needs are absent.
    """
    if names is None:
        names = [normalize_ch_name(n) for n in scalp.ch_names]
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
        raise ModelInputMismatch(
            f"the model needs scalp channel(s) {missing} that are absent "
            f"(present: {sorted(by_norm)})", scalp.source_path)
    return [by_norm[normalize_ch_name(n)] for n in names]


def make_segment(scalp: Recording, intra: Recording, contacts: ContactInfo, prep: Preprocessing,
                 subject: str = "patient") -> PairedSegment:
    """Preprocess simultaneous scalp EEG and iEEG into one :class:`PairedSegment`.

    Both are resampled to ``prep.sfreq`` and cut to their common length
    (they are assumed to start together, as in ds004752).
    """
    x, names = scalp_array(scalp, None, prep)
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
        raise ModelInputMismatch(f"the pretrained model needs scalp channel(s) {missing} that are absent")
    idx = [have[normalize_ch_name(n)] for n in names]
    return PairedSegment(seg.scalp[idx], seg.ieeg, seg.sfreq, list(names), seg.contacts, seg.subject)


def calibrate(patient: str | Path, *, method: str, minutes: float, out: str | Path,
              ieeg: str | Path | None = None, electrodes: str | Path | None = None,
              ieeg_channels: str | None = None, pretrained: str | Path | None = None,
              atlas: str = "desikan_killiany", prep: Preprocessing = Preprocessing(),
              overwrite: bool = False, seed: int = 0,
              progress: Progress | None = None) -> CalibrationResult:
    """Calibrate a patient model on the first ``minutes`` of a paired recording.

    The rest of the recording (when ≥ :data:`MIN_HOLDOUT_S`) is the held-out
    tail on which per-contact Pearson r is measured; otherwise r comes from
    blocked :data:`CV_FOLDS`-fold cross-validation inside the calibration
    minutes. ``minutes=0`` is zero-shot (methods that support it): the whole
    recording is then held out.

    Parameters
    ----------
    patient, ieeg, electrodes, ieeg_channels
        See :func:`load_paired_recordings`.
    method : str
        A registered method (``'ridge'``, ``'source'``, ``'cast'``...).
    minutes : float
        Calibration length in minutes (fractions allowed).
    out : path-like
        Patient model folder to write (``config.json``, ``model.safetensors``,
        ``regions.tsv``, ``holdout.h5``).
    pretrained : path-like | None
        Pretrained model folder (cross-subject methods).
    atlas : str
        Atlas for contact regions.
    prep : Preprocessing
        Preprocessing, stored with the model.
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
    from .models.io import CONFIG_NAME, save_model

    say = progress or (lambda msg, frac: None)
    out = Path(out)
    if (out / CONFIG_NAME).exists() and not overwrite:
        raise OutputError("a patient model already exists here; pass --overwrite to replace it", out)
    if minutes < 0:
        raise UsageError(f"--minutes must be ≥ 0, got {minutes}")
    say("reading", 0.05)
    scalp, intra = load_paired_recordings(patient, ieeg=ieeg, electrodes=electrodes,
                                          ieeg_channels=ieeg_channels)
    check_min_sfreq(scalp, prep.sfreq)
    check_min_sfreq(intra, prep.sfreq)
    say("mapping contacts to atlas regions", 0.15)
    regions = map_regions(intra, atlas)
    contacts = contact_info(intra, regions)
    say("preprocessing", 0.25)
    seg = make_segment(scalp, intra, contacts, prep)
    if pretrained is None and get_model_class(method).supports_pretrain:
        pretrained = default_model(method)
    if pretrained is not None:
        from .models.io import read_model_config

        pre_cfg = read_model_config(pretrained)
        if pre_cfg.get("scalp_names") and not get_model_class(pre_cfg["method"]).supports_zero_shot:
            seg = subset_scalp(seg, pre_cfg["scalp_names"])  # its encoder was pretrained on these channels
    fs = seg.sfreq
    n_fit = int(round(minutes * 60 * fs))
    n_all = seg.scalp.shape[1]
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
    r = pearson_r(ev_seg.ieeg, y_hat)
    coverage = None
    if hasattr(model, "bands"):
        from .uncertainty import coverage as _coverage

        say("measuring 90 % band coverage on held-out data", 0.85)
        lo, _, hi = model.bands(ev_seg.scalp, n_samples=32, q=(0.05, 0.95), seed=seed)
        coverage = _coverage(ev_seg.ieeg, lo, hi)
    simulated = is_simulated(scalp) or is_simulated(intra)
    pre = getattr(model, "_pretrained_cfg", None)
    model.trained_on = {
        "pretrain": (pre or {}).get("trained_on", {}).get("pretrain") if pre else None,
        "calibration": {
            "files": sorted({p for p in (scalp.source_path, intra.source_path) if p}),
            "sha256": sorted({h for h in (scalp.source_sha256, intra.source_sha256) if h}),
            "minutes": minutes,
            "simulated": simulated,
        },
    }
    true_sd = ev_seg.ieeg.std(axis=1)
    extra = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "preprocessing": prep.to_dict(),
        "atlas": atlas,
        "evaluation": evaluation,
        "heldout_r": {c: (None if not np.isfinite(v) else float(v)) for c, v in zip(contacts.ch_names, r)},
        "heldout_nmse": {c: float(np.mean((a - b) ** 2) / max(np.var(a), 1e-300))
                         for c, a, b in zip(contacts.ch_names, ev_seg.ieeg, y_hat)},
        "physical_range_uv": {c: [float(-8 * s * 1e6), float(8 * s * 1e6)]
                              for c, s in zip(contacts.ch_names, np.maximum(true_sd, 1e-7))},
        "simulated_data": simulated,
        "heldout_coverage90": None if coverage is None else
        {c: float(v) for c, v in zip(contacts.ch_names, coverage)},
        "zero_shot": zero_shot,
        "pretrained_model": str(pretrained) if pretrained else None,
        "pretrained_sha256": (pre or {}).get("sha256") if pre else None,
    }
    say("saving patient model", 0.9)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    os.chmod(tmp, 0o777 & ~current_umask())
    try:
        save_model(model, tmp, extra=extra, overwrite=True)
        regions.to_csv(tmp / "regions.tsv", sep="\t", index=False, na_rep="n/a")
        _write_holdout(tmp / HOLDOUT_NAME, ev_seg, y_hat)
        _replace_dir(tmp, out, overwrite)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
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


def _replace_dir(tmp: Path, out: Path, overwrite: bool) -> None:
    """Move a finished folder into place (the old one only removed once the new one is complete)."""
    if out.exists():
        if not overwrite:
            raise OutputError("output folder exists; pass --overwrite to replace it", out)
        old = out.with_name(f".{out.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out)


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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def model_id(config: dict[str, Any]) -> str:
    """Short model identifier: method and the first 12 hex digits of the weights' sha256."""
    return f"{config['method']}-{config.get('sha256', '?')[:12]}"


def surrogate_text(config: dict[str, Any]) -> str:
    """The t=0 annotation every surrogate carries."""
    return f"SURROGATE: reconstructed from scalp EEG by ieegrecon {__version__}, model {model_id(config)}"


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
        Do not copy the input's start date/time (EDF+ anonymous date instead).
        The EDF patient field is always anonymous ('X'): no identifier of
        the input is ever copied into a surrogate.
    progress : callable | None
        ``progress(message, fraction)``.

    Returns
    -------
    ReconstructionResult

    Raises
    ------
    InputError, ModelInputMismatch, OutputError
    """
    from .io.edf import verify_edf, write_edf
    from .io.read import read_recording

    say = progress or (lambda msg, frac: None)
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputError("output exists; pass --overwrite to replace it", out)
    if model.contacts is None or not model.scalp_names:  # e.g. a pretrained model, or a config without them
        raise ModelFileError("not a patient model: its config names no scalp channels or no target contacts "
                             "(calibrate it on a patient first)", config.get("folder"))
    say("reading", 0.05)
    rec = read_recording(scalp_path, preload=False)
    scalp = rec.pick_types(("eeg",))
    if not scalp.ch_names:
        raise InputError("no scalp EEG channels found", scalp_path)
    check_min_duration(scalp)
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
    assert contacts is not None
    n_out = int(round(picked.n_times * prep.sfreq / picked.sfreq))
    ranges = config.get("extra", {}).get("physical_range_uv")
    phys = [tuple(ranges[c]) for c in contacts.ch_names] if ranges else None
    anns = [Annotation(0.0, 0.0, surrogate_text(config))]
    if config.get("trained_on", {}).get("calibration", {}).get("simulated") or \
            config.get("extra", {}).get("simulated_data"):
        anns.append(Annotation(0.0, 0.0, "SURROGATE: model calibrated on SIMULATED data"))
    if (config.get("trained_on", {}).get("pretrain") or {}).get("simulated"):
        anns.append(Annotation(0.0, 0.0, "SURROGATE: model pretrained on SIMULATED data"))
    anns += [a for a in rec.annotations if a.onset * prep.sfreq < n_out]
    header = dict(recording_additional=["SURROGATE", "ieegrecon", __version__], transducer="ieegrecon surrogate",
                  prefiltering=_prefilter_text(prep))
    meas_date = None if anonymize else rec.meas_date
    if samples and not hasattr(model, "bands"):
        raise UsageError(f"--samples needs a model that samples a posterior (flow), not {model.method!r}")
    band_fn = (lambda x: np.stack(model.bands(x, n_samples=samples, q=BAND_Q))) if samples else None  # type: ignore[attr-defined]
    pieces = predict_chunked(lambda a, b: picked.data[:, a:b], picked.n_times, picked.sfreq, model, prep,
                             predict_fn=band_fn)
    notes: list[str] = []
    if abs(picked.sfreq - prep.sfreq) > 1e-9:
        notes.append(f"input sampled at {picked.sfreq:g} Hz, resampled to the model's {prep.sfreq:g} Hz")
    for f in (scalp_path, *forbidden):
        if Path(f).resolve() == out.resolve():
            raise OutputError("output path is one of the inputs; refusing to overwrite an input", out)
    if n_out / prep.sfreq <= STREAM_OVER_S or phys is None:
        say("reconstructing", 0.3)
        y = np.concatenate(list(pieces), axis=-1)
        _check_finite(y, scalp_path)
        if samples:
            from .uncertainty import write_uncertainty_h5

            lo, y, hi = y
            unc_path = out.with_name(out.stem + "_uncertainty.h5")
            if unc_path.exists() and not overwrite:
                raise OutputError("output exists; pass --overwrite to replace it", unc_path)
            notes.append(f"posterior median of {samples} samples in the EDF; 5-95 % band in {unc_path.name}")
        say("writing EDF", 0.7)
        rep = write_edf(out, y, prep.sfreq, contacts.ch_names, meas_date=meas_date, annotations=anns,
                        physical_range_uv=phys, overwrite=overwrite, forbidden=(scalp_path, *forbidden), **header)
        n_clipped, padded, y_report = rep.n_clipped, rep.padded_samples, y
        if samples:
            write_uncertainty_h5(unc_path, lo, hi, y, prep.sfreq, contacts.ch_names, BAND_Q)
    else:
        if samples:
            raise UsageError(f"--samples is not supported for outputs longer than {STREAM_OVER_S:g} s; "
                             "split the recording")
        from .io.edf_stream import StreamedEdfWriter

        writer = StreamedEdfWriter(out, contacts.ch_names, prep.sfreq, phys, meas_date=meas_date,
                                   overwrite=overwrite, **header)
        y_report = None
        try:
            for piece in pieces:
                _check_finite(piece, scalp_path)
                writer.write(piece)
                y_report = piece if y_report is None else y_report
                say("reconstructing (streamed)", 0.1 + 0.7 * writer.n_written / n_out)
            writer.annotate(anns)
            padded = writer.close()
        except BaseException:
            writer.abort()
            raise
        n_clipped, y = writer.n_clipped, None
        notes.append(f"streamed in {CHUNK_S:g}-s chunks (output longer than {STREAM_OVER_S:g} s)")
    say("verifying EDF with pyedflib", 0.85)
    try:
        verify_edf(out, contacts.ch_names, n_out, prep.sfreq, y)
    except OutputError:
        out.unlink(missing_ok=True)
        raise
    if padded:
        notes.append(f"{padded} zero samples pad the last EDF record (annotated)")
    n_clip = sum(n_clipped.values())
    if n_clip:
        notes.append(f"{n_clip} samples clipped to the physical range (per channel in n_clipped)")
    result = ReconstructionResult(str(scalp_path), str(out), n_out, prep.sfreq,
                                  list(contacts.ch_names), n_clipped, notes=notes)
    if report_dir is not None:
        from .report import write_report

        say("writing report", 0.9)
        result.report = str(write_report(report_dir, config=config, model=model, result=result,
                                         input_rec=rec, recon=y_report, overwrite=overwrite))
    say("done", 1.0)
    return result


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
        x = apply_preprocessing(get_chunk(lo, hi), sfreq, prep, reference=True)
        y = (predict_fn or model.predict)(x)
        out_a = int(round((a - lo) * ratio))
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
