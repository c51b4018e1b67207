"""Calibrate a patient model: scalp EEG + iEEG (or contact positions) -> a patient model folder.

Stages, each a function below::

    resolve options -> read inputs -> build segment -> held-out protocol -> publish

:func:`calibrate` runs them for a paired recording; :func:`calibrate_from_positions`
for a patient with scalp EEG and contact positions only (zero-shot). The
folder is written through :mod:`ieegrecon.models.io` with its description
as a :class:`~ieegrecon.models.patient.PatientModel`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import __version__
from ..anonymize import strip_paths
from ..channels import is_reference_name
from ..errors import InputError, UsageError
from ..io.atomic import atomic_dir
from ..io.validate import check_enough_good_scalp, check_min_sfreq
from ..models.base import PairedSegment, ReconModel, get_model_class, method_names
from ..models.io import weights_sha256
from ..models.patient import EXTRA_KEYS, HeldOut, PatientModel, Provenance
from ..preprocessing import Preprocessing
from ..recording import INTRACRANIAL_TYPES, Recording
from . import factory
from .confidence import CV_FOLDS, auto_fit_samples, held_out
from .inputs import (LINE_FREQS, _good_channels, bids_line_freq, contact_info, is_simulated, map_regions,
                     make_segment_pieces, scalp_array, subset_scalp)
from . import inputs
from .results import HOLDOUT_KEEP_S, HOLDOUT_NAME, CalibrationResult, Progress, no_progress

# the samples of the posterior band whose coverage is measured at calibration
_COVERAGE_SAMPLES, _COVERAGE_Q = 32, (0.05, 0.95)


@dataclass
class Options:
    """Resolved calibration options (stage 1)."""

    method: str
    out: Path
    pretrained: Path | str | None
    prep: Preprocessing
    line_source: str
    pretrained_config: dict[str, Any] | None


def calibrate(patient: str | Path | list[str | Path], *, method: str, minutes: float | None, out: str | Path,
              ieeg: str | Path | None = None, electrodes: str | Path | None = None,
              ieeg_channels: str | None = None, pretrained: str | Path | None = None,
              atlas: str = "desikan_killiany", prep: Preprocessing = Preprocessing(),
              line_freq: float | None = None, drop_references: bool = False, overwrite: bool = False,
              seed: int = 0, progress: Progress | None = None) -> CalibrationResult:
    """Calibrate a patient model on the first ``minutes`` of a paired recording.

    The rest of the recording (when ≥ ``MIN_HOLDOUT_S``) is the held-out
    tail on which per-contact Pearson r is measured; otherwise r comes from
    blocked ``CV_FOLDS``-fold cross-validation inside the calibration
    minutes (:func:`ieegrecon.workflow.confidence.held_out`). ``minutes=0``
    is zero-shot (methods that support it): the whole recording is then held
    out. ``minutes=None`` uses what is there: all but the last
    ``AUTO_HOLDOUT_FRACTION`` (at least ``MIN_HOLDOUT_S``), which is held
    out; the evaluation text says so.

    Ear/mastoid references (A1, A2, M1, M2) present in the calibration
    recording are model inputs like any scalp channel: they sit close to the
    temporal lobe and carry its signal (bundled simulated example, cast, 2 min:
    median held-out r 0.61 with them, 0.51 without). ``drop_references`` leaves
    them out (unless a pretrained model was trained with them), so that the
    model applies to recordings without ear electrodes (10-10 caps, HUP).

    Parameters
    ----------
    patient, ieeg, electrodes, ieeg_channels
        See :func:`ieegrecon.workflow.inputs.load_paired_recordings`. A list of
        two or more inputs (in time order), or a BIDS subject folder with several
        sessions, is pooled: joined end to end, a piece boundary at each join
        (:func:`ieegrecon.workflow.pieces.pooled_inputs`). A scalp-only
        ``patient`` file with ``electrodes`` and ``minutes=0`` calibrates from
        contact positions (:func:`calibrate_from_positions`).
    method : str
        A registered method (``'ridge'``, ``'source'``, ``'cast'``...).
    minutes : float | None
        Calibration length in minutes (fractions allowed); None: see above.
    out : path-like
        Patient model folder to write (``config.json``, ``model.safetensors``,
        ``regions.tsv``, ``holdout.h5``).
    pretrained : path-like | None
        Pretrained model folder (cross-subject methods; default: the shipped one).
    atlas : str
        Atlas for contact regions.
    prep : Preprocessing
        Preprocessing, stored with the model.
    line_freq : float | None
        Mains frequency in Hz (50 or 60) for the notch; None: the BIDS
        sidecar's ``PowerLineFrequency`` when ``patient`` is a session with one,
        else ``prep.line_freq``. The result's ``extra['line_freq_source']`` says which.
    drop_references : bool
        Leave ear/mastoid references out of the model's scalp channels.
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
    from .pieces import load_pooled_recordings, pooled_inputs

    say = progress or no_progress
    pooled = pooled_inputs(patient)
    if pooled is not None and ieeg is not None:
        raise UsageError("the 'ieeg' parameter is for one scalp file, not for pooled sessions")
    first = pooled[0] if pooled else (patient[0] if isinstance(patient, (list, tuple)) else patient)
    opts = resolve_options(first, method=method, minutes=minutes, out=out, ieeg=ieeg, electrodes=electrodes,
                           pretrained=pretrained, prep=prep, line_freq=line_freq, overwrite=overwrite,
                           pooled=pooled)
    say("reading", 0.05)
    if pooled is not None:
        scalp, intra, files = load_pooled_recordings(pooled, ieeg_channels=ieeg_channels)
        if electrodes is not None:
            intra = inputs._attach_positions(intra, electrodes)
        seg, regions, bounds = build_segment(scalp, intra, opts, atlas=atlas, drop_references=drop_references,
                                             say=say)
        return _held_out_and_publish(first, scalp, intra, seg, regions, opts, minutes=minutes, atlas=atlas,
                                     seed=seed, overwrite=overwrite, say=say, bounds=bounds, sources=files)
    patient = first
    if minutes == 0 and ieeg is None and electrodes is not None and Path(patient).is_file():
        from ..io.read import read_recording

        rec = read_recording(patient, ieeg_channels=ieeg_channels)
        if not any(t in INTRACRANIAL_TYPES for t in rec.ch_types):  # scalp EEG only: contacts from positions
            return calibrate_from_positions(rec, electrodes, opts, atlas=atlas, drop_references=drop_references,
                                            overwrite=overwrite, say=say)
    scalp, intra = inputs.load_paired_recordings(patient, ieeg=ieeg, electrodes=electrodes,
                                                 ieeg_channels=ieeg_channels)
    seg, regions, bounds = build_segment(scalp, intra, opts, atlas=atlas, drop_references=drop_references, say=say)
    return _held_out_and_publish(patient, scalp, intra, seg, regions, opts, minutes=minutes, atlas=atlas,
                                 seed=seed, overwrite=overwrite, say=say, bounds=bounds)


# --------------------------------------------------------------------------- stage 1: options
def resolve_options(patient: str | Path, *, method: str, minutes: float | None, out: str | Path,
                    ieeg, electrodes, pretrained, prep: Preprocessing, line_freq: float | None,
                    overwrite: bool, pooled: list[Path] | None = None) -> Options:
    """Check the options and fill in defaults: shipped pretrained model, mains frequency and its source.

    Raises
    ------
    UsageError
        Unknown method, negative ``minutes``, ``line_freq`` not 50 or 60.
    OutputError
        ``out`` exists (without ``overwrite``) or is one of the inputs.
    """
    from .._checks import check_option, check_out_path
    from ..models.io import read_model_config

    check_option("method", method, method_names())
    if pretrained is None and get_model_class(method).supports_pretrain:
        pretrained = factory.default_model(method)  # an input too: never the output
    out = check_out_path(out, overwrite=overwrite, inputs=(patient, ieeg, electrodes, pretrained, *(pooled or ())),
                         kind="model")
    if minutes is not None and minutes < 0:
        raise UsageError(f"the 'minutes' parameter must be ≥ 0, got {minutes}")
    if line_freq is not None:
        if line_freq not in LINE_FREQS:
            raise UsageError(f"Invalid value for the 'line_freq' parameter: allowed values are 50, 60, "
                             f"but got {line_freq:g} instead.")
        prep, line_source = replace(prep, line_freq=float(line_freq)), "--line-freq"
    elif (sidecar_freq := bids_line_freq(patient)) is not None:
        prep, line_source = replace(prep, line_freq=sidecar_freq), "BIDS PowerLineFrequency"
    else:
        line_source = "default"
    pre_cfg = read_model_config(pretrained) if pretrained is not None else None
    return Options(method, out, pretrained, prep, line_source, pre_cfg)


# --------------------------------------------------------------------------- stage 2-3: inputs -> segment
def _pretrained_scalp_names(opts: Options, *, encoder_only: bool) -> list[str]:
    """Scalp channels the pretrained model was trained on (``encoder_only``: only if it cannot go zero-shot)."""
    cfg = opts.pretrained_config
    if not cfg or not cfg.get("scalp_names"):
        return []
    if encoder_only and get_model_class(cfg["method"]).supports_zero_shot:
        return []
    return list(cfg["scalp_names"])


def build_segment(scalp: Recording, intra: Recording, opts: Options, *, atlas: str, drop_references: bool,
                  say: Progress) -> tuple[PairedSegment, Any, list[tuple[int, int]]]:
    """Map contacts to atlas regions and preprocess both recordings into one paired segment.

    Returns
    -------
    seg : PairedSegment
        Scalp and iEEG (V) at ``opts.prep.sfreq``, scalp channels restricted to
        those a pretrained encoder was trained on.
    regions : pandas.DataFrame
        One row per contact (``regions.tsv``); a ``clinical`` column when the
        channels.tsv designates contacts (seizure-onset zone, resected: HUP).
    bounds : list of (int, int)
        Its contiguous pieces (trials, EDF+D segments, pooled sessions) in samples;
        one for a continuous recording (:func:`~ieegrecon.workflow.inputs.make_segment_pieces`).
    """
    check_min_sfreq(scalp, opts.prep.sfreq)
    check_min_sfreq(intra, opts.prep.sfreq)
    say("mapping contacts to atlas regions", 0.15)
    regions = map_regions(intra, atlas)
    if any(n in intra.channel_notes for n in intra.ch_names):  # HUP: seizure-onset / resected contacts
        regions["clinical"] = [intra.channel_notes.get(n, "n/a") for n in regions["name"]]
    contacts = contact_info(intra, regions)
    say("preprocessing", 0.25)
    pre_names = _pretrained_scalp_names(opts, encoder_only=True)  # its encoder was pretrained on these channels
    seg, bounds = make_segment_pieces(scalp, intra, contacts, opts.prep,
                                      drop_references=drop_references
                                      and not any(is_reference_name(n) for n in pre_names))
    if pre_names:
        seg = subset_scalp(seg, pre_names)
    return seg, regions, bounds


# --------------------------------------------------------------------------- stage 4: held-out protocol
_EVALUATION = {
    "zero-shot": "zero-shot: whole recording held out",
    "tail": "held-out tail: {tail:.1f} s after the calibration minutes",
    "cv": f"blocked {CV_FOLDS}-fold cross-validation within the calibration minutes",
}


def _held_out_and_publish(patient, scalp: Recording, intra: Recording, seg: PairedSegment, regions, opts: Options,
                          *, minutes: float | None, atlas: str, seed: int, overwrite: bool,
                          say: Progress, bounds: list[tuple[int, int]] | None = None,
                          sources: dict[str, str] | None = None) -> CalibrationResult:
    """Stages 4-5 for a paired recording: fit, measure on held-out data, publish the folder.

    A segment in pieces (``bounds``: trials, EDF+D segments, pooled sessions)
    is split on a piece boundary (the calibration minutes are rounded to whole
    pieces, said in the evaluation text) and its held-out part is predicted
    piece by piece (:func:`~ieegrecon.workflow.pieces.predict_pieces`); every fit builds its lag
    features piece by piece (:class:`~ieegrecon.workflow.pieces.PieceFit`).
    """
    from .pieces import PieceFit, predict_pieces, shift_bounds, snap_to_piece

    fs, n_all = seg.sfreq, seg.scalp.shape[1]
    bounds = bounds or [(0, n_all)]
    auto = minutes is None
    if minutes is None:  # use what is there, keeping a held-out tail
        minutes = auto_fit_samples(n_all, fs) / fs / 60
    n_fit = int(round(minutes * 60 * fs))
    if n_fit > n_all:
        raise InputError(f"recording is {n_all / fs / 60:.2f} min long, shorter than the 'minutes' parameter "
                         f"({minutes})", patient)
    snapped = snap_to_piece(n_fit, bounds)
    if n_fit < n_all <= snapped and bounds[-1][0] > 0:  # keep a held-out tail: the last boundary before the end
        snapped = bounds[-1][0]
    pieces_note = ""
    if len(bounds) > 1:
        pieces_note = (f"; {len(bounds)} pieces (trials, gaps or sessions) filtered and predicted one by one, "
                       f"split on a boundary at {snapped / fs / 60:.2f} min")
        n_fit, minutes = snapped, snapped / fs / 60
    say(f"calibrating {opts.method}", 0.35)
    fit = PieceFit(lambda train, zs: factory.fit_model(opts.method, opts.pretrained, train, zs, seed, patient),
                   bounds, n_fit)  # lag features never reach across a piece boundary

    def fold(k: int) -> None:
        fit.at_fold(k)
        say(f"blocked cross-validation fold {k + 1}/{CV_FOLDS}", 0.35 + 0.1 * k)

    held = held_out(seg, n_fit, fit, say=fold,
                    predict=lambda m, x: predict_pieces(m, x, shift_bounds(bounds, n_all - x.shape[1], n_all), fs))
    model, ev_seg, y_hat = held.model, held.segment, held.y_hat
    evaluation = _EVALUATION[held.kind].format(tail=ev_seg.scalp.shape[1] / fs) + pieces_note
    if auto:
        evaluation = (f"--minutes not given: calibrated on the first {minutes:.2f} of {n_all / fs / 60:.2f} min; "
                      + evaluation)
    coverage = _band_coverage(model, ev_seg, seed, say,
                              bounds=shift_bounds(bounds, n_all - ev_seg.scalp.shape[1], n_all))
    simulated = is_simulated(scalp) or is_simulated(intra)
    model.trained_on = _trained_on(opts, {  # base names and sha256 only: folder names often hold the patient's name
        "files": sorted({Path(r.source_path).name for r in (scalp, intra) if r.source_path} | set(sources or ())),
        "sha256": sorted({h for h in (scalp.source_sha256, intra.source_sha256, *(sources or {}).values()) if h}),
        "file_sha256": {**{Path(r.source_path).name: r.source_sha256 for r in (scalp, intra)
                           if r.source_path and r.source_sha256}, **{k: v for k, v in (sources or {}).items() if v}},
        "minutes": minutes,
        "simulated": simulated,
    })
    names = seg.contacts.ch_names
    true_sd = ev_seg.ieeg.std(axis=1)
    heldout = HeldOut(
        r={c: (None if not np.isfinite(v) else float(v)) for c, v in zip(names, held.r)},
        nmse={c: float(np.mean((a - b) ** 2) / max(np.var(a), 1e-300)) for c, a, b in zip(names, ev_seg.ieeg, y_hat)},
        coverage90=None if coverage is None else {c: float(v) for c, v in zip(names, coverage)},
        evaluation=evaluation, zero_shot=n_fit == 0)
    ranges = {c: [float(-8 * s * 1e6), float(8 * s * 1e6)] for c, s in zip(names, np.maximum(true_sd, 1e-7))}
    patient_model = describe(model, opts, heldout, minutes=minutes, atlas=atlas, simulated=simulated,
                             physical_range_uv=ranges)
    say("saving patient model", 0.9)
    publish(opts.out, model, patient_model, regions, overwrite=overwrite,
            holdout=lambda path: write_holdout(path, ev_seg, y_hat))
    say("done", 1.0)
    return CalibrationResult(opts.out, opts.method, heldout.r, evaluation, regions, patient_model.extra(),
                             patient_model)


def _band_coverage(model: ReconModel, ev_seg: PairedSegment, seed: int, say: Progress,
                   bounds: list[tuple[int, int]] | None = None) -> np.ndarray | None:
    """Held-out 90 % band coverage per contact (posterior methods; :func:`~.uncertainty.heldout_coverage`), else None."""
    if not model.supports_posterior:
        return None
    from .uncertainty import heldout_coverage

    say("measuring 90 % band coverage on held-out data", 0.85)
    return heldout_coverage(model, ev_seg, seed, bounds, n_samples=_COVERAGE_SAMPLES, q=_COVERAGE_Q)


# --------------------------------------------------------------------------- stage 5: publish
def _trained_on(opts: Options, calibration: dict[str, Any]) -> dict[str, Any]:
    """A patient model's ``trained_on``: its pretrained model's pretraining (folders stripped) and ``calibration``."""
    pre = opts.pretrained_config
    return {"pretrain": strip_paths((pre or {}).get("trained_on", {}).get("pretrain")) if pre else None,
            "calibration": calibration}


def describe(model: ReconModel, opts: Options, heldout: HeldOut, *, minutes: float, atlas: str, simulated: bool,
             physical_range_uv: dict[str, list[float]] | None) -> PatientModel:
    """The :class:`PatientModel` a calibration writes (``sha256`` and ``tensors`` are filled in on load)."""
    pre = opts.pretrained
    provenance = Provenance(
        trained_on=model.trained_on, simulated_data=simulated, line_freq_source=opts.line_source, atlas=atlas,
        minutes=minutes, created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        pretrained_model=Path(pre).resolve().name if pre else None,
        pretrained_sha256=weights_sha256(pre) if pre else None, ieegrecon_version=__version__)
    absent = {"heldout_nmse": heldout.nmse is None, "physical_range_uv": physical_range_uv is None}
    present = tuple(f"extra.{k}" for k in EXTRA_KEYS if not absent.get(k, False))
    return PatientModel(method=model.method, sfreq=model.sfreq, preprocessing=opts.prep,
                        scalp_names=list(model.scalp_names), contacts=model.contacts, heldout=heldout,
                        physical_range_uv=physical_range_uv, provenance=provenance,
                        params=model.get_params(), present=present)


def publish(out: Path, model: ReconModel, patient_model: PatientModel, regions, *, overwrite: bool,
            holdout: Callable[[Path], None] | None = None) -> None:
    """Write a patient model folder (weights, config, regions.tsv, optional holdout.h5) and publish it whole."""
    from .._checks import check_own_model
    from ..models.io import save_model

    with atomic_dir(out, overwrite=overwrite, check=check_own_model) as tmp:  # exclusive publication
        save_model(model, tmp, extra=patient_model.extra(), overwrite=True, kind="patient-model")
        regions.to_csv(tmp / "regions.tsv", sep="\t", index=False, na_rep="n/a")
        if holdout is not None:
            holdout(tmp / HOLDOUT_NAME)


def write_holdout(path: Path, seg: PairedSegment, y_hat: np.ndarray) -> None:
    """Keep the first :data:`HOLDOUT_KEEP_S` s of held-out true and predicted iEEG (float32, V) for the report."""
    import h5py

    n = min(seg.ieeg.shape[1], int(HOLDOUT_KEEP_S * seg.sfreq))
    with h5py.File(path, "w") as f:
        f.attrs["sfreq"] = seg.sfreq
        f.attrs["unit"] = "V"
        f.create_dataset("true", data=seg.ieeg[:, :n].astype("f4"), compression="gzip")
        f.create_dataset("pred", data=y_hat[:, :n].astype("f4"), compression="gzip")
        f.create_dataset("ch_names", data=np.array(seg.contacts.ch_names, dtype="S"))


# --------------------------------------------------------------------------- from contact positions
def calibrate_from_positions(scalp_rec: Recording, electrodes: str | Path, opts: Options, *, atlas: str,
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
        ``opts.method`` cannot decode without calibration.
    InputError
        No usable scalp channel, or an unusable electrodes file.
    """
    if not get_model_class(opts.method).supports_zero_shot:
        raise UsageError(f"method {opts.method!r} cannot run without calibration (the 'minutes' parameter is 0); "
                         "zero-shot methods: cast, source")
    scalp, intra = _positions_inputs(scalp_rec, electrodes, opts.prep)
    say("mapping contacts to atlas regions", 0.15)
    regions = map_regions(intra, atlas)
    contacts = contact_info(intra, regions)
    pre_names = _pretrained_scalp_names(opts, encoder_only=False)
    _, names = scalp_array(scalp.crop(0, min(2.0, scalp.n_times / scalp.sfreq)), None, opts.prep,
                           drop_references=drop_references and not any(is_reference_name(n) for n in pre_names))
    seg = PairedSegment(np.zeros((len(names), 0)), np.zeros((len(contacts.ch_names), 0)), opts.prep.sfreq, names,
                        contacts)
    say(f"setting up zero-shot {opts.method}", 0.5)
    model = factory.fit_model(opts.method, opts.pretrained, seg, True, 0, scalp_rec.source_path)
    simulated = is_simulated(scalp_rec)
    model.trained_on = _trained_on(opts, {
        "files": [Path(scalp_rec.source_path).name] if scalp_rec.source_path else [],
        "electrodes": Path(electrodes).name,
        "sha256": [scalp_rec.source_sha256] if scalp_rec.source_sha256 else [],
        "minutes": 0.0, "simulated": simulated, "intracranial_recording": False})
    evaluation = ("zero-shot from contact positions alone: no intracranial recording of this patient, "
                  "so nothing was measured (held-out r not available)")
    heldout = HeldOut(r=dict.fromkeys(contacts.ch_names), evaluation=evaluation, zero_shot=True)
    patient_model = describe(model, opts, heldout, minutes=0.0, atlas=atlas, simulated=simulated,
                             physical_range_uv=None)
    say("saving patient model", 0.9)
    publish(opts.out, model, patient_model, regions, overwrite=overwrite)
    say("done", 1.0)
    return CalibrationResult(opts.out, opts.method, heldout.r, evaluation, regions, patient_model.extra(),
                             patient_model)


def _positions_inputs(scalp_rec: Recording, electrodes: str | Path, prep: Preprocessing
                      ) -> tuple[Recording, Recording]:
    """Good scalp EEG channels, and an empty iEEG recording carrying the contacts' MNI positions."""
    from ..io.electrodes import read_electrodes

    check_enough_good_scalp(scalp_rec)
    scalp = _good_channels(scalp_rec.pick_types(("eeg",)))
    if not scalp.ch_names:
        raise InputError("no usable scalp EEG channels found", scalp_rec.source_path)
    check_min_sfreq(scalp, prep.sfreq)
    el = read_electrodes(electrodes)
    intra = Recording(np.zeros((len(el.names), 0)), prep.sfreq, list(el.names), ["seeg"] * len(el.names),
                      positions=np.asarray(el.positions, float), coord_frame="mni",
                      source_path=str(electrodes))
    return scalp, intra
