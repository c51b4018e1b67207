"""Save and load models as ``config.json`` + ``model.safetensors``.

No pickle: a model folder from someone else cannot run code on load
(the braindecode / Hugging Face convention). Loading validates the format
version, the method name, tensor names, shapes and dtypes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import ModelFileError
from ..io.atomic import atomic_path, output_errors
from .base import ContactInfo, ReconModel, get_model_class

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")


def save_model(model: ReconModel, folder: str | Path, *, extra: dict[str, Any] | None = None,
               overwrite: bool = False, kind: str = "model") -> Path:
    """Write ``folder/config.json`` and ``folder/model.safetensors`` atomically.

    Parameters
    ----------
    model : ReconModel
        A calibrated (or pretrained) model.
    folder : path-like
        Target folder; created if needed.
    extra : dict | None
        More JSON-serializable metadata (calibration metrics, regions,
        preprocessing) stored under ``config['extra']``.
    overwrite : bool
        Replace an existing model in ``folder`` (only a model folder ieegrecon
        wrote: see :func:`ieegrecon._checks.check_out_path`).
    kind : str
        What the folder is (``'patient-model'``, ``'pretrained-model'``...),
        recorded in ``config['written_by']`` with ``name='ieegrecon'``.

    Returns
    -------
    folder : Path

    Raises
    ------
    OutputError
        If a model already exists there and ``overwrite`` is False.
    """
    from safetensors.numpy import save_file

    from .._checks import check_out_path, is_report_folder, marker

    folder = Path(folder)
    if (folder / CONFIG_NAME).exists() or is_report_folder(folder):  # only ieegrecon's model is replaced
        check_out_path(folder, overwrite=overwrite, kind="model")
    with output_errors(folder):
        folder.mkdir(parents=True, exist_ok=True)
    state = {k: np.ascontiguousarray(np.asarray(v)) for k, v in model.state_dict().items()}
    config = {
        "format_version": FORMAT_VERSION,
        "ieegrecon_version": __version__,
        "written_by": marker(kind),
        "method": model.method,
        "sfreq": model.sfreq,
        "params": model.get_params(),
        "scalp_names": list(model.scalp_names),
        "contacts": None if model.contacts is None else model.contacts.to_dict(),
        "trained_on": model.trained_on,
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in state.items()},
        "extra": extra or {},
    }
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": "np", "method": model.method})
    with atomic_path(folder / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(config, indent=2, allow_nan=False, default=_json_default), encoding="utf-8")
    return folder


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def read_model_config(folder: str | Path) -> dict[str, Any]:
    """Read and validate ``config.json`` of a model folder.

    Raises
    ------
    ModelFileError
        Missing folder/config, pickled checkpoints only, invalid JSON, or a
        format version this ieegrecon cannot read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFileError("model folder not found", folder)
    cfg_path = folder / CONFIG_NAME
    if not cfg_path.is_file():
        pickled = [p.name for p in folder.iterdir() if p.suffix.lower() in _PICKLE_SUFFIXES]
        if pickled:
            raise ModelFileError(
                f"refusing pickled checkpoint(s) {pickled}: only config.json + model.safetensors are loaded",
                folder,
            )
        raise ModelFileError(f"no {CONFIG_NAME} in model folder", folder)
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"invalid JSON ({exc})", cfg_path) from None
    if not isinstance(config, dict) or config.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"unsupported model format_version {config.get('format_version') if isinstance(config, dict) else None!r} "
            f"(this ieegrecon reads {FORMAT_VERSION})",
            cfg_path,
        )
    for key in ("method", "params", "sfreq", "tensors"):
        if key not in config:
            raise ModelFileError(f"config is missing {key!r}", cfg_path)
    return config


def load_model(folder: str | Path) -> tuple[ReconModel, dict[str, Any]]:
    """Load a model folder written by :func:`save_model`.

    Returns
    -------
    model : ReconModel
    config : dict
        The full config, including ``extra`` and ``sha256`` (of the weights).

    Raises
    ------
    ModelFileError
        Any problem with the folder, the config or the tensors.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(folder)
    config = read_model_config(folder)
    try:
        cls = get_model_class(config["method"])
    except ValueError as exc:
        raise ModelFileError(str(exc), folder / CONFIG_NAME) from None
    w_path = folder / WEIGHTS_NAME
    if not w_path.is_file():
        raise ModelFileError(f"no {WEIGHTS_NAME} in model folder", folder)
    try:
        state = load_file(str(w_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"corrupted safetensors file ({exc})", w_path) from None
    declared = config["tensors"]
    if set(declared) != set(state):
        raise ModelFileError(
            f"tensor names differ from config: file has {sorted(state)}, config {sorted(declared)}", w_path
        )
    for k, v in state.items():
        if list(v.shape) != declared[k]["shape"] or str(v.dtype) != declared[k]["dtype"]:
            raise ModelFileError(
                f"tensor {k!r} is {v.dtype}{list(v.shape)}, config says {declared[k]['dtype']}{declared[k]['shape']}",
                w_path,
            )
    try:
        model = cls(**config["params"])
    except TypeError as exc:
        raise ModelFileError(f"invalid params for method {config['method']!r}: {exc}", folder / CONFIG_NAME) from None
    model.sfreq = float(config["sfreq"])
    model.scalp_names = list(config.get("scalp_names") or [])
    if config.get("contacts"):
        model.contacts = ContactInfo.from_dict(config["contacts"])
    model.trained_on = config.get("trained_on") or {}
    expected = model.expected_state_shapes()
    if expected is not None:
        for k, shp in expected.items():
            if k not in state or tuple(state[k].shape) != tuple(shp):
                raise ModelFileError(f"tensor {k!r} has the wrong shape for this model", w_path)
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"weights do not fit the model: {exc}", w_path) from None
    config["sha256"] = hashlib.sha256(w_path.read_bytes()).hexdigest()
    return model, config
