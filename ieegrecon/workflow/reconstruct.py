"""Reconstruct iEEG surrogates from one scalp EEG file with a patient model.

Stages, each a function below::

    check inputs -> gap layout -> predict segments -> write EDF (streamed or in memory, verified)
    -> publish (result, report)

:func:`reconstruct_file` runs them. The EDF writers live in
:mod:`ieegrecon.workflow.edf_output`, the report in :mod:`ieegrecon.workflow.report`.
"""

from __future__ import annotations

import itertools
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .. import __version__
from ..channels import normalize_ch_name
from ..errors import InputError, ModelFileError, ModelInputMismatch, UsageError
from ..io.validate import check_min_duration, check_min_sfreq
from ..models.base import ReconModel
from ..models.patient import PatientModel, as_patient_model
from ..preprocessing import Preprocessing
from ..recording import Annotation, Recording
from . import chunking
from .chunking import predict_chunked
from .edf_output import EdfTarget, Written, prefilter_text, spill_pieces, write_in_memory, write_streamed
from .inputs import match_scalp_channels
from .results import Progress, ReconstructionResult, no_progress, surrogate_text
from .uncertainty import BAND_Q, band_description, band_function, write_band_offsets_h5, write_uncertainty_h5

#: Chunk length (s) when posterior draws are requested: the draws hold samples x contacts x chunk,
#: so a 600-s chunk of 32 draws of 48 contacts alone takes 0.7 GiB (measured peak 2.3 GiB for
#: ``ridge-gauss``); at 60 s the draws take a tenth of that.
BAND_CHUNK_S = 60.0
#: Outputs longer than this (s) are streamed to disk within fixed ranges (pyedflib); shorter ones are
#: spilled to a temporary file as they are predicted and written at each channel's own extremes (edfio).
STREAM_OVER_S = 3600.0
#: A streamed EDF's physical range: the calibration's ±8 SD times this (±512 SD; one quantization
#: step is then 0.016 SD), fixed before the signal is known; anything beyond is counted and annotated.
STREAM_RANGE_SCALE = 64.0
#: Recording gaps (EDF+D) adding up to more than this (s) are refused: the wall-clock surrogate
#: would be mostly zero fill.
MAX_GAP_S = 24 * 3600.0

#: One contiguous input segment: input samples [start, stop) and their output start and length.
Layout = list[tuple[int, int, int, int]]


def check_calibrated(model: ReconModel, config: PatientModel | dict[str, Any]) -> None:
    """Refuse a model without patient calibration (e.g. the shipped pretrained ``models/cast-sim9``).

    Raises
    ------
    ModelFileError
        Naming the model folder (``PatientModel.folder`` when known) and saying to calibrate first.
    """
    if not model.is_calibrated:
        folder = as_patient_model(config).folder
        raise ModelFileError(
            f"not a patient model ({model.method}, no patient contacts or scalp channels: a pretrained or "
            "uncalibrated model); calibrate first "
            f"(ieegrecon calibrate PATIENT --method {model.method} --model {folder or 'MODEL'} "
            "--out PATIENT_MODEL) and reconstruct with the patient model", folder)


@dataclass
class _Input:
    """Stage 1's result: the scalp channels the model reads, and facts about the input recording."""

    rec: Recording
    picked: Recording
    prep: Preprocessing
    layout: Layout
    n_out: int
    ch_names: list[str]


def reconstruct_file(scalp_path: str | Path, model: ReconModel, config: PatientModel | dict[str, Any],
                     out: str | Path, *, report_dir: str | Path | None = None, overwrite: bool = False,
                     forbidden: tuple[str | Path, ...] = (), anonymize: bool = False, samples: int = 0,
                     progress: Progress | None = None) -> ReconstructionResult:
    """Reconstruct iEEG surrogates from one scalp file and write an EDF+ (and report).

    Parameters
    ----------
    scalp_path : path-like
        Any supported scalp EEG file.
    model : ReconModel
        A calibrated patient model (from :func:`ieegrecon.models.io.load_patient_model`).
    config : PatientModel | dict
        Its description (provenance, preprocessing, calibration figures, folder);
        a ``config.json`` dict is accepted too.
    out : path-like
        Output ``.edf`` path.
    report_dir : path-like | None
        Folder for ``report.json``, ``regions.tsv`` and ``report.html``.
    overwrite : bool
        Replace existing outputs.
    forbidden : tuple of path-like
        Paths that must never be written (all inputs of a batch).
    samples : int
        For models that sample a posterior (``ridge-gauss``, the default
        sampler, or ``flow``): the EDF then holds the posterior median and
        ``<out>_uncertainty.h5`` the 5-95 % band per contact over time; the
        flow's are quantiles of this many draws (outputs up to
        :data:`STREAM_OVER_S`), ``ridge-gauss``'s exact (closed form,
        ``samples > 0`` only turns them on; any length): the EDF's trace plus
        a constant offset per contact, which is all the sidecar holds
        (:func:`~ieegrecon.workflow.uncertainty.write_band_offsets_h5`).
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
    InputError, ModelInputMismatch, OutputError, UsageError

    Notes
    -----
    Recording gaps (EDF+D, ``Recording.gaps``): the surrogate keeps the
    wall-clock time of every sample and annotation. Each contiguous segment
    is reconstructed on its own (no filter or model lag crosses a gap), and
    each gap is filled with zeros and annotated ``GAP: ...``, so the output
    is an EDF+C as long as the input's wall-clock span. Gaps adding up to
    more than :data:`MAX_GAP_S` are refused (InputError).
    """
    say = progress or no_progress
    pm = as_patient_model(config)
    check_calibrated(model, pm)
    # bands from draws: the posterior streamed as lo/median/hi pieces; exact bands (a Gaussian's quantiles are the
    # point estimate plus a constant per contact): the point estimate alone, the offsets in the sidecar
    drawn = samples if samples and not model.exact_bands else 0
    # the point estimate is streamed as the model that computes it (the flow's: its ridge location)
    streamed = model if drawn else model.point_estimator()
    if type(streamed).fragments_heap:
        chunking.bound_heap()  # memory must not grow with the number of chunks (flow's many small tensors)
    chunking.cap_arenas()  # worker threads would each keep an arena of freed pages
    out, unc_path = _check_outputs(scalp_path, pm, out, report_dir, overwrite, forbidden, samples)
    say("reading", 0.05)
    inp = read_input(scalp_path, model, pm, out, drawn)
    target, gaps = _edf_target(inp, model, pm, out, overwrite=overwrite, anonymize=anonymize)
    if samples and not model.supports_posterior:
        raise UsageError(f"the 'samples' parameter needs a model that samples a posterior (ridge-gauss or "
                         f"flow), not {model.method!r}")
    if drawn and inp.n_out / inp.prep.sfreq > STREAM_OVER_S:  # before any output: the draws' arrays would not fit
        raise UsageError(f"the 'samples' parameter of {model.method} (bands from draws) is not supported for outputs "
                         f"longer than {STREAM_OVER_S:g} s; split the recording")
    offsets = model.band_offsets(BAND_Q) if samples and not drawn else None  # exact bands: known before predicting
    band_fn = band_function(model, drawn) if drawn else None
    pieces = predict_segments(inp.picked, inp.layout, streamed, inp.prep, band_fn, (3,) if drawn else ())
    notes = _input_notes(inp, gaps)
    with ExitStack() as stack:  # the spill file (if any) lives until the report has read it
        bands = band_description(model, samples) if samples else None
        written, y_report = _write(target, pieces, inp, pm, scalp_path, forbidden, bands if drawn else None,
                                   unc_path, notes, say, stack)
        if offsets is not None:
            clipped = [written.n_clipped[lab] for lab in target.labels]
            write_band_offsets_h5(unc_path, offsets, inp.prep.sfreq, inp.ch_names, BAND_Q, edf=out,
                                  n_times=inp.n_out, gaps=gaps, n_clipped=clipped, bands=bands)
            notes.append(f"{bands}; the 5-95 % band's offsets in {unc_path.name}")
        result = _result(inp, pm, model, out, written, target.labels, gaps, notes, scalp_path, anonymize)
        if report_dir is not None:
            from .report import write_report

            say("writing report", 0.9)
            result.report = str(write_report(report_dir, config=pm, model=model, result=result,
                                             input_rec=inp.rec, recon=y_report, overwrite=overwrite,
                                             anonymize=anonymize))
        del y_report
    say("done", 1.0)
    return result


# --------------------------------------------------------------------------- stage 1: check inputs
def _check_outputs(scalp_path, pm: PatientModel, out, report_dir, overwrite: bool, forbidden: tuple,
                   samples: int) -> tuple[Path, Path]:
    """Check every output path before any work; return the EDF path and the uncertainty sidecar's."""
    from .._checks import check_out_path

    inputs = (scalp_path, *forbidden, pm.folder)
    out = check_out_path(out, overwrite=overwrite, inputs=inputs, kind="edf")
    if report_dir is not None:
        check_out_path(report_dir, overwrite=overwrite, inputs=inputs, kind="report")
    unc_path = out.with_name(out.stem + "_uncertainty.h5")
    if samples:
        check_out_path(unc_path, overwrite=overwrite, inputs=inputs, kind="hdf5")
    return out, unc_path


def read_input(scalp_path, model: ReconModel, pm: PatientModel, out: Path, samples: int) -> _Input:
    """Read the scalp recording lazily, check it against the model, lay out its segments, check disk space.

    ``samples``: posterior draws whose bands are written as arrays (0: none, or exact bands).

    Raises
    ------
    InputError
        No scalp EEG, too short, gaps over :data:`MAX_GAP_S`.
    ModelInputMismatch
        A channel the model needs is missing or bad.
    """
    from .._checks import check_writable
    from ..io.read import read_recording

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
    prep = pm.scalp_preprocessing
    check_min_sfreq(scalp, prep.sfreq)
    picked = scalp.pick(match_scalp_channels(scalp, model.scalp_names))
    layout = segment_layout(picked, prep.sfreq)
    n_out = layout[-1][2] + layout[-1][3]
    n_contacts = len(model.contacts.ch_names)  # type: ignore[union-attr] # check_calibrated
    spill = 8 * n_contacts * n_out * (3 if samples else 1) if n_out <= STREAM_OVER_S * prep.sfreq else 0
    check_writable(out.parent, 2 * n_contacts * n_out * (4 if samples else 1) + spill)  # before computing
    return _Input(rec, picked, prep, layout, n_out, list(model.contacts.ch_names))  # type: ignore[union-attr]


# --------------------------------------------------------------------------- stage 2: gap layout
def segment_layout(rec: Recording, sfreq_out: float) -> Layout:
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


def output_gaps(layout: Layout, sfreq: float) -> list[tuple[float, float]]:
    """``(wall-clock onset, duration)`` in s of each gap between the output segments of ``layout``."""
    return [((p[2] + p[3]) / sfreq, (q[2] - p[2] - p[3]) / sfreq)
            for p, q in zip(layout[:-1], layout[1:]) if q[2] > p[2] + p[3]]


# --------------------------------------------------------------------------- stage 3: predict segments
def predict_segments(rec: Recording, layout: Layout, model: ReconModel, prep: Preprocessing, predict_fn,
                     lead: tuple[int, ...]) -> Iterator[np.ndarray]:
    """Pieces of the wall-clock reconstruction (V): each segment by :func:`predict_chunked`, zeros between.

    With a band function (``lead`` non-empty) chunks are at most :data:`BAND_CHUNK_S` long.
    """
    n_c = len(model.contacts.ch_names) if model.contacts is not None else 0
    chunk_s = min(model.max_chunk_s or chunking.CHUNK_S, BAND_CHUNK_S) if lead else None
    step = int(chunking.CHUNK_S * prep.sfreq)
    end = 0
    for a, b, o, _ in layout:
        for z in range(end, o, step):  # zero fill of a gap, in bounded blocks
            yield np.zeros(lead + (n_c, min(o, z + step) - z))
        done = 0
        for piece in predict_chunked(lambda s, e, a=a: rec.data[:, a + s:a + e], b - a, rec.sfreq, model, prep,
                                     predict_fn=predict_fn, chunk_s=chunk_s):
            done += piece.shape[-1]
            yield piece
            del piece  # the consumer has written it: do not hold it while the next chunk is computed
        end = o + done


# --------------------------------------------------------------------------- stage 4: write EDF
def _annotations(inp: _Input, pm: PatientModel, gaps: list[tuple[float, float]], anonymize: bool
                 ) -> list[Annotation]:
    """The surrogate's annotations: SURROGATE markers, GAP notes, the input's events at their wall-clock time."""
    anns = [Annotation(0.0, 0.0, surrogate_text(pm))]
    if pm.provenance.calibrated_on_simulated:
        anns.append(Annotation(0.0, 0.0, "SURROGATE: model calibrated on SIMULATED data"))
    if pm.provenance.pretrained_on_simulated:
        anns.append(Annotation(0.0, 0.0, "SURROGATE: model pretrained on SIMULATED data"))
    anns += [Annotation(g, d, f"GAP: no scalp EEG recorded for {d:g} s; surrogate undefined here") for g, d in gaps]
    last = (inp.n_out - 1) / inp.prep.sfreq
    for a in inp.rec.annotations:  # at their wall-clock time (the reader noted any outside the recording)
        text = a.description
        if anonymize:
            from ..anonymize import anonymize_text

            text = anonymize_text(text)
        anns.append(Annotation(min(max(a.wall, 0.0), last), a.duration, text))
    return anns


def _edf_target(inp: _Input, model: ReconModel, pm: PatientModel, out: Path, *, overwrite: bool,
                anonymize: bool) -> tuple[EdfTarget, list[tuple[float, float]]]:
    """The EDF to write (labels, annotations, header) and the output's gaps."""
    from ..io.edf import surrogate_label

    labels = [surrogate_label(c) for c in model.contacts.ch_names]  # type: ignore[union-attr] # 'SURROGATE' beside every trace
    gaps = output_gaps(inp.layout, inp.prep.sfreq)
    header = dict(recording_additional=["SURROGATE", "ieegrecon", __version__], transducer="ieegrecon surrogate",
                  prefiltering=prefilter_text(inp.prep))
    return EdfTarget(out, labels, inp.prep.sfreq, inp.n_out, _annotations(inp, pm, gaps, anonymize), header,
                     None if anonymize else inp.rec.meas_date, overwrite), gaps


def _input_notes(inp: _Input, gaps: list[tuple[float, float]]) -> list[str]:
    notes: list[str] = []
    if gaps:
        notes.append(f"{len(gaps)} recording gap(s), {sum(d for _, d in gaps):g} s in all, filled with "
                     "zeros and annotated GAP; each segment reconstructed on its own")
    if abs(inp.picked.sfreq - inp.prep.sfreq) > 1e-9:
        notes.append(f"input sampled at {inp.picked.sfreq:g} Hz, resampled to the model's {inp.prep.sfreq:g} Hz")
    return notes


def _stream_range(pm: PatientModel, ch_names: list[str]) -> list[tuple[float, float]] | None:
    """A streamed EDF's physical range per contact (µV): :data:`STREAM_RANGE_SCALE` times the calibration's ±8 SD."""
    ranges = pm.physical_range_uv  # ±8 SD of the calibration iEEG
    if not ranges:
        return None
    return [(STREAM_RANGE_SCALE * ranges[c][0], STREAM_RANGE_SCALE * ranges[c][1]) for c in ch_names]


def _write(target: EdfTarget, pieces: Iterator[np.ndarray], inp: _Input, pm: PatientModel, scalp_path,
           forbidden: tuple, bands: str | None, unc_path: Path, notes: list[str], say: Progress, stack: ExitStack
           ) -> tuple[Written, np.ndarray | None]:
    """Write the EDF and the uncertainty sidecar as the pieces come, with bounded memory at any length.

    Up to :data:`STREAM_OVER_S` (or without a fixed range): the pieces go to a
    spill file (:class:`~ieegrecon.io.edf_stream.ChannelSpill`, closed by
    ``stack``) and each channel is written at its own extremes (nothing
    clipped); longer: streamed within fixed ranges. Returns the writer's
    report and the reconstruction shown in the report (all of it as a
    memory map of the spill, or of the first piece).
    """
    ch_names = inp.ch_names
    # streamed: fixed in advance, so STREAM_RANGE_SCALE times wider (clipping practically impossible);
    # spilled: each channel's own extremes (write_edf's default), nothing clipped
    phys = _stream_range(pm, ch_names)
    long = inp.n_out / inp.prep.sfreq > STREAM_OVER_S
    samples = bands is not None  # bands from draws: never long (refused in reconstruct_file)
    if long and phys is None:
        # no calibration range (a zero-shot model from positions): fixed from the first piece, as wide
        first = next(pieces)
        peak = np.maximum(np.abs(first).max(axis=-1) * 1e6, 1.0)  # µV per contact
        phys = [(-STREAM_RANGE_SCALE * m, STREAM_RANGE_SCALE * m) for m in peak]
        pieces = itertools.chain([first], pieces)
    if not long or phys is None:
        say("reconstructing", 0.3)
        n_c = len(ch_names)
        spill = spill_pieces(pieces, target.path.parent, (3 if samples else 1) * n_c, inp.n_out,
                             source=scalp_path, say=say)
        stack.callback(spill.close)
        chunking.trim_heap()  # the prediction's freed pages go back before the writer builds its buffers
        lo, y, hi = (spill.rows(k * n_c, (k + 1) * n_c) for k in range(3)) if samples else (None, spill, None)
        if samples:
            notes.append(f"{bands}; the 5-95 % band in {unc_path.name}")
        say("writing EDF", 0.7)
        written = write_in_memory(target, y, forbidden=(scalp_path, *forbidden))
        if samples:
            write_uncertainty_h5(unc_path, lo, hi, y, inp.prep.sfreq, ch_names, BAND_Q, bands=bands)
        return written, y.array()
    assert not samples, "refused in reconstruct_file: draws beyond STREAM_OVER_S"
    from ..io.edf_stream import ChannelSpill

    kept: list[ChannelSpill] = []

    def keep_first(piece: np.ndarray) -> None:  # the report's traces, on disk rather than in memory (48 MB)
        spill = ChannelSpill(target.path.parent, piece.shape[0], piece.shape[-1])
        stack.callback(spill.close)
        spill.write(piece)
        kept.append(spill)

    written = write_streamed(target, pieces, phys, source=scalp_path, say=say, keep_first=keep_first)
    notes.append(f"streamed in {chunking.CHUNK_S:g}-s chunks (output longer than {STREAM_OVER_S:g} s)")
    return written, kept[0].array() if kept else None


# --------------------------------------------------------------------------- stage 5: publish
def _result(inp: _Input, pm: PatientModel, model: ReconModel, out: Path, written: Written, labels: list[str],
            gaps: list[tuple[float, float]], notes: list[str], scalp_path, anonymize: bool) -> ReconstructionResult:
    """The result: clipping per contact and the notes a reader needs."""
    ch_names = list(model.contacts.ch_names)  # type: ignore[union-attr]
    if written.padded:
        notes.append(f"{written.padded} zero samples pad the last EDF record (annotated)")
    n_clipped = {c: int(written.n_clipped[lab]) for c, lab in zip(ch_names, labels)}
    n_clip = sum(n_clipped.values())
    if n_clip:
        notes.append(f"{n_clip} samples in {sum(1 for v in n_clipped.values() if v)} channels clipped to the "
                     "physical range (per channel in n_clipped; a CLIPPED annotation in the EDF)")
    unmarked = [c for c, lab in zip(ch_names, labels) if lab == c]
    if unmarked:
        notes.append(f"{len(unmarked)} label(s) too long for the SURROGATE suffix, e.g. {unmarked[0]!r}")
    shown = f"sha256:{(inp.rec.source_sha256 or '?')[:12]}" if anonymize else str(scalp_path)
    return ReconstructionResult(shown, str(out), inp.n_out, inp.prep.sfreq, ch_names, n_clipped, notes=notes,
                                gaps=gaps)
