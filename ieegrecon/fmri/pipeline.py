"""Files in, files out: EEG file (+ measured frames) -> completed BOLD GIFTI/NIfTI."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InputError, ModelInputMismatch, UsageError
from ..recording import sha256_file
from .completion import complete, parse_frames
from .io import hemi_paths, read_bold_gifti, write_bold
from .mesh import load_fsaverage5
from ..models.io import weights_sha256
from .model import FmriModel


@dataclass
class FmriResult:
    """What :func:`eeg_to_bold` did."""

    outputs: list[Path]
    n_frames: int
    n_known: int
    tr: float
    kernel: dict
    meta: dict = field(default_factory=dict)


def read_frame_spec(spec: str, n_frames: int) -> np.ndarray:
    """Frame indices from ``'0,5,10-20'`` or from a text file holding such a list.

    Raises
    ------
    InputError
        Naming the file (or the spec) when it cannot be parsed or is out of range.
    """
    p = Path(spec)
    source = spec
    if p.is_file():
        try:
            spec = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read frame list ({type(exc).__name__})", p) from None
        source = str(p)
    try:
        return parse_frames(spec, n_frames)
    except ValueError as exc:
        raise InputError(f"bad frame list: {exc}", source) from None


def eeg_to_bold(eeg_path: str | Path, model_dir: str | Path, out: str | Path, *, tr: float,
                known_bold: str | Path | None = None, known_frames: str | None = None,
                overwrite: bool = False) -> FmriResult:
    """Predict BOLD frames from an EEG file and complete them with measured frames.

    Parameters
    ----------
    eeg_path : path-like
        Scalp EEG readable by :func:`ieegrecon.io.read.read_recording`.
    model_dir : path-like
        Folder written by :meth:`FmriModel.save`.
    out : path-like
        ``X.func.gii`` (two hemisphere files) or ``X.nii.gz``.
    tr : float
        Repetition time (s); must equal the model's.
    known_bold : path-like | None
        Measured frames as a GIFTI hemisphere pair; holds either all frames or
        exactly the ``known_frames`` in order.
    known_frames : str | None
        ``'0,5,10-20'`` or a text file with such a list.
    overwrite : bool

    Returns
    -------
    FmriResult

    Raises
    ------
    InputError, ModelInputMismatch, ModelFileError, OutputError, UsageError
    """
    from ..io.read import read_recording

    if (known_bold is None) != (known_frames is None):
        raise UsageError("the 'known_bold' parameter and the 'known_frames' parameter go together")
    model = FmriModel.load(model_dir)
    if abs(tr - model.tr) > 1e-6:
        raise ModelInputMismatch(f"the 'tr' parameter ({tr:g} s) differs from the model's TR {model.tr:g} s", model_dir)
    rec = read_recording(eeg_path)
    missing = [c for c in model.ch_names if c not in rec.ch_names]
    if missing:
        raise ModelInputMismatch(f"lacks the model's channel(s) {missing}", eeg_path)
    rec = rec.pick(model.ch_names)
    n_frames = int(np.floor(rec.duration / tr + 1e-9))
    if n_frames < 1:
        raise InputError(f"EEG lasts {rec.duration:.2f} s, shorter than one TR ({tr} s)", eeg_path)
    mesh = load_fsaverage5()
    prior = model.predict_vertices(rec.data, rec.sfreq, n_frames, mesh)
    meta = {"ieegrecon_version": __version__, "model_sha256": weights_sha256(model_dir),
            "input": Path(eeg_path).name, "input_sha256": rec.source_sha256 or sha256_file(eeg_path),
            "method": "EEG multiscale reduced-rank ridge prior + Matern-5/2 GP completion", "n_frames": n_frames}
    if known_bold is not None:
        frames, _ = read_bold_gifti(known_bold)
        idx = read_frame_spec(str(known_frames), n_frames)
        if frames.shape[0] == idx.size:
            known = frames
        elif frames.shape[0] == n_frames:
            known = frames[idx]
        else:
            raise InputError(f"has {frames.shape[0]} frames; expected {idx.size} (the known frames) or "
                             f"{n_frames} (the whole run)", known_bold)
        out_frames = complete(prior, known, idx, **model.kernel_args())
        lh, _ = hemi_paths(known_bold)
        meta.update(known_bold=lh.name, known_bold_sha256=sha256_file(lh), known_frames=str(known_frames)
                    if not Path(str(known_frames)).is_file() else Path(str(known_frames)).name,
                    n_known=int(idx.size))
        forbidden = hemi_paths(known_bold) + (Path(eeg_path),)
    else:
        out_frames, idx, forbidden = prior, np.array([], dtype=int), (Path(eeg_path),)
    outputs = write_bold(out, out_frames, tr=tr, meta=meta, overwrite=overwrite, forbidden=forbidden)
    return FmriResult(outputs=outputs, n_frames=n_frames, n_known=int(idx.size), tr=tr, kernel=model.kernel,
                      meta=meta)
