"""Save and load models as ``config.json`` + ``model.safetensors``.

No pickle: a model folder from someone else cannot run code on load
(the braindecode / Hugging Face convention). Loading validates the format
version, the method name, tensor names, shapes and dtypes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import __version__
from ..errors import ModelFileError
from ..io.atomic import atomic_path, output_errors
from ..io.validate import one_line
from .base import ContactInfo, ReconModel, get_model_class
from .patient import PatientModel

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: Keys every reconstruction model config has.
RECON_KEYS = ("method", "params", "sfreq", "tensors")
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")


def write_model_folder(folder: str | Path, config: dict[str, Any], tensors: dict[str, np.ndarray], *,
                       overwrite: bool = False, kind: str = "model", metadata: dict[str, str] | None = None) -> Path:
    """Write ``folder/config.json`` and ``folder/model.safetensors`` atomically: ieegrecon's one model-folder format.

    The written config is ``format_version``, ``ieegrecon_version``,
    ``written_by`` (``{'name': 'ieegrecon', 'kind': kind}``), then ``config``,
    with ``tensors`` (name -> ``{'shape', 'dtype'}``) inserted before
    ``config['extra']`` (at the end when there is none). Each file is
    published by :func:`ieegrecon.io.atomic.atomic_path` (no partial file is
    ever visible); no pickle anywhere.

    Parameters
    ----------
    folder : path-like
        Target folder; created if needed.
    config : dict
        JSON-serializable description; must hold ``'method'`` (str).
    tensors : dict of str to ndarray
        Every array of the model (real dtypes), stored with safetensors.
    overwrite : bool
        Replace an existing model in ``folder`` (only one ieegrecon wrote: ``_checks.check_out_path``).
    kind : str
        What the folder is (``'patient-model'``, ``'fmri-model'``...).
    metadata : dict of str to str | None
        Safetensors header metadata, one key (default ``{'method': config['method']}``): the
        library writes its keys in a per-process order, so only one key keeps the bytes reproducible.

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
    state = {k: np.ascontiguousarray(np.asarray(v)) for k, v in tensors.items()}
    spec = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in state.items()}
    body = {k: v for k, v in config.items() if k != "extra"}
    full = {"format_version": FORMAT_VERSION, "ieegrecon_version": __version__, "written_by": marker(kind),
            **body, "tensors": spec, **({"extra": config["extra"]} if "extra" in config else {})}
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata=metadata or {"method": str(config["method"])})
    with atomic_path(folder / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(full, indent=2, allow_nan=False, default=_json_default), encoding="utf-8")
    return folder


def save_model(model: ReconModel, folder: str | Path, *, extra: dict[str, Any] | None = None,
               overwrite: bool = False, kind: str = "model") -> Path:
    """Write a reconstruction model as ``folder/config.json`` + ``folder/model.safetensors`` (atomically).

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
        See :func:`write_model_folder`, which also lists what is raised.
    """
    config = {
        "method": model.method,
        "sfreq": model.sfreq,
        "params": model.get_params(),
        "scalp_names": list(model.scalp_names),
        "contacts": None if model.contacts is None else model.contacts.to_dict(),
        "trained_on": model.trained_on,
        "extra": extra or {},
    }
    return write_model_folder(folder, config, model.state_dict(), overwrite=overwrite, kind=kind)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _is_number(v: Any) -> bool:
    """A finite JSON number (booleans excluded)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(np.isfinite(v))


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _check_config(config: dict[str, Any], cfg_path: Path, recon: bool = True) -> None:
    """Refuse a config whose fields have the wrong JSON type or impossible values (ModelFileError).

    ``recon=False`` checks only the fields every model folder has (``method``,
    ``tensors``, ``sha256``); ``recon=True`` also those of a :class:`ReconModel`.
    """
    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"config field {what}", cfg_path)

    if not isinstance(config["method"], str):
        raise bad(f"'method' is {config['method']!r}, not a string")
    if recon and not isinstance(config["params"], dict):
        raise bad(f"'params' is a {type(config['params']).__name__}, not an object")
    if recon and (not _is_number(config["sfreq"]) or config["sfreq"] <= 0):
        raise bad(f"'sfreq' is {config['sfreq']!r}, not a positive number")
    tensors = config["tensors"]
    if not isinstance(tensors, dict):
        raise bad(f"'tensors' is a {type(tensors).__name__}, not an object")
    for k, d in tensors.items():
        if not (isinstance(d, dict) and isinstance(d.get("dtype"), str) and isinstance(d.get("shape"), list)
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in d["shape"])):
            raise bad(f"'tensors.{k}' is {json.dumps(d)[:60]}, not {{'shape': [ints >= 0], 'dtype': str}}")
    if "sha256" in config and not isinstance(config["sha256"], str):
        raise bad(f"'sha256' is {config['sha256']!r}, not a string")
    if not recon:
        return
    if config.get("scalp_names") is not None and not _is_str_list(config["scalp_names"]):
        raise bad("'scalp_names' is not a list of strings")
    for key in ("trained_on", "extra", "contacts"):
        if config.get(key) is not None and not isinstance(config[key], dict):
            raise bad(f"{key!r} is a {type(config[key]).__name__}, not an object")
    extra = config.get("extra") or {}
    prep = extra.get("preprocessing")
    if prep is not None:
        if not isinstance(prep, dict):
            raise bad("'extra.preprocessing' is not an object")
        for k in ("sfreq", "l_freq", "line_freq", "notch_width"):
            v = prep.get(k)
            if (k == "sfreq" or v is not None) and k in prep and not (_is_number(v) and v > 0):
                raise bad(f"'extra.preprocessing.{k}' is {v!r}, not a positive number")
        if "scalp_reference" in prep and not isinstance(prep["scalp_reference"], str):
            raise bad("'extra.preprocessing.scalp_reference' is not a string")
    ranges = extra.get("physical_range_uv")
    if ranges is not None:
        if not isinstance(ranges, dict):
            raise bad("'extra.physical_range_uv' is not an object")
        for k, v in ranges.items():
            if not (isinstance(v, list) and len(v) == 2 and all(map(_is_number, v)) and v[0] < v[1]):
                raise bad(f"'extra.physical_range_uv.{k}' is {json.dumps(v)[:40]}, not [min, max] with min < max")
    for key in ("heldout_r", "heldout_nmse", "heldout_coverage90"):
        m = extra.get(key)
        if m is not None and not (isinstance(m, dict) and all(v is None or _is_number(v) for v in m.values())):
            raise bad(f"'extra.{key}' is not an object of numbers (or null)")
    for key in ("calibration", "pretrain"):
        t = (config.get("trained_on") or {}).get(key)
        if t is not None and not isinstance(t, dict):
            raise bad(f"'trained_on.{key}' is not an object")


def _contacts(d: Any, cfg_path: Path) -> ContactInfo:
    """ContactInfo from the config's ``contacts``, or ModelFileError."""
    try:
        ok = (_is_str_list(d["ch_names"]) and _is_str_list(d["regions"]) and _is_str_list(d["depth_class"])
              and isinstance(d["positions"], list)
              and all(isinstance(r, list) and len(r) == 3 and all(v is None or _is_number(v) for v in r)
                      for r in d["positions"]))
        if not ok or len(d["positions"]) != len(d["ch_names"]) or len(set(d["ch_names"])) != len(d["ch_names"]):
            raise ValueError("expected ch_names, regions, depth_class (strings) and positions ([x, y, z]) per "
                             "contact, names unique")
        return ContactInfo.from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"config field 'contacts' is invalid ({one_line(exc)})", cfg_path) from None


def _smoke_test(model: ReconModel, w_path: Path) -> None:
    """Predict 2 s of synthetic scalp EEG: weights that cannot give finite output of the right shape are refused."""
    if not model.scalp_names or model.contacts is None:
        return
    n_t = int(round(2 * model.sfreq))
    x = np.random.default_rng(0).normal(0.0, 20e-6, (len(model.scalp_names), n_t))
    try:
        y = np.asarray(model.predict(x))
    except Exception as exc:  # noqa: BLE001 - any failure here means the stored weights are unusable
        raise ModelFileError(f"weights do not give a prediction ({one_line(exc)})", w_path) from None
    k = len(model.contacts.ch_names)
    if y.shape != (k, n_t) or not np.all(np.isfinite(y)):
        raise ModelFileError(f"weights give a prediction of shape {y.shape} with "
                             f"{int(np.sum(~np.isfinite(y)))} non-finite values, expected ({k}, {n_t}) finite", w_path)


def read_folder_config(folder: str | Path, *, required: tuple[str, ...] = ("method", "tensors"),
                       recon: bool = False) -> dict[str, Any]:
    """Read and validate ``config.json`` of a model folder (any kind: see :func:`write_model_folder`).

    ``required`` are the keys the config must have; ``recon`` adds the
    checks of a :class:`ReconModel` config (:func:`read_model_config`).

    Raises
    ------
    ModelFileError
        Missing folder/config, pickled checkpoints only, invalid JSON, a
        config that is not a JSON object, a format version this ieegrecon
        cannot read, a missing ``required`` key or a
        field of the wrong type or value (non-positive sfreq, tensor specs
        that are not ``{shape: [ints], dtype: str}``, preprocessing or
        physical ranges that are not numbers...).
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
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"invalid JSON ({one_line(exc)})", cfg_path) from None
    if not isinstance(config, dict):
        raise ModelFileError(f"config is a JSON {type(config).__name__}, not an object", cfg_path)
    version = config.get("format_version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise ModelFileError(
            f"unsupported model format_version {version!r} (this ieegrecon reads {FORMAT_VERSION})", cfg_path)
    for key in required:
        if key not in config:
            raise ModelFileError(f"config is missing {key!r}", cfg_path)
    _check_config(config, cfg_path, recon=recon)
    return config


def read_model_config(folder: str | Path) -> dict[str, Any]:
    """Read and validate ``config.json`` of a reconstruction model folder (:func:`save_model`).

    Raises
    ------
    ModelFileError
        Everything :func:`read_folder_config` refuses, a missing key (method,
        params, sfreq, tensors) or a field of the wrong type or value
        (non-positive sfreq, preprocessing or physical ranges that are not numbers...).
    """
    return read_folder_config(folder, required=RECON_KEYS, recon=True)


def read_model_folder(folder: str | Path, *, check: Callable[[dict[str, Any], Path], None] | None = None,
                      required: tuple[str, ...] = ("method", "tensors"),
                      recon: bool = False) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a folder written by :func:`write_model_folder`: the validated config and the tensors.

    Parameters
    ----------
    folder : path-like
    check : callable | None
        ``check(config, config_path)``, run after the config is read and before
        the weights are: the format's own checks (raise ModelFileError).
    required, recon
        As in :func:`read_folder_config`.

    Returns
    -------
    config : dict
        With ``sha256`` set to that of the weights file.
    tensors : dict of str to ndarray
        Names, shapes and dtypes as the config declares, finite.

    Raises
    ------
    ModelFileError
        Everything :func:`read_folder_config` refuses; a missing, unreadable
        or corrupted ``model.safetensors`` (empty, bad header); a ``sha256`` in
        the config that differs from the weights'; tensor names, shapes or
        dtypes that differ from the config; NaN/Inf weights.
    """
    folder = Path(folder)
    config = read_folder_config(folder, required=required, recon=recon)
    if check is not None:
        check(config, folder / CONFIG_NAME)
    state, config["sha256"] = _read_weights(folder, config)
    return config, state


def weights_sha256(folder: str | Path) -> str:
    """sha256 (hex) of a model folder's weights file, as :func:`load_model` checks it."""
    return hashlib.sha256((Path(folder) / WEIGHTS_NAME).read_bytes()).hexdigest()


def _read_weights(folder: Path, config: dict[str, Any]) -> tuple[dict[str, np.ndarray], str]:
    """The tensors of ``folder/model.safetensors``, checked against ``config``, and their sha256."""
    from safetensors.numpy import load

    w_path = folder / WEIGHTS_NAME
    if not w_path.is_file():
        raise ModelFileError(f"no {WEIGHTS_NAME} in model folder", folder)
    try:
        blob = w_path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read ({exc.strerror or type(exc).__name__})", w_path) from None
    digest = hashlib.sha256(blob).hexdigest()
    if "sha256" in config and config["sha256"].lower() != digest:
        raise ModelFileError(f"sha256 of the weights is {digest[:12]}..., config says {config['sha256'][:12]}...: "
                             "the file was changed or belongs to another model", w_path)
    try:
        state = load(blob)
    except Exception as exc:  # noqa: BLE001 - safetensors raises SafetensorError, but also others on odd headers
        raise ModelFileError(f"corrupted safetensors file ({one_line(exc)})", w_path) from None
    declared = config["tensors"]
    if set(declared) != set(state):
        raise ModelFileError(
            f"tensor names differ from config: file has {sorted(state)[:8]}, config {sorted(declared)[:8]}", w_path
        )
    for k, v in state.items():
        if list(v.shape) != declared[k]["shape"] or str(v.dtype) != declared[k]["dtype"]:
            raise ModelFileError(
                f"tensor {k!r} is {v.dtype}{list(v.shape)}, config says {declared[k]['dtype']}{declared[k]['shape']}",
                w_path,
            )
        if v.dtype.kind not in "fiub":
            raise ModelFileError(f"tensor {k!r} has dtype {v.dtype}, not a real number type", w_path)
        if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
            raise ModelFileError(f"tensor {k!r} holds {int(np.sum(~np.isfinite(v)))} NaN/Inf value(s)", w_path)
    return state, digest


def load_model(folder: str | Path, *, sampling: bool = True) -> tuple[ReconModel, dict[str, Any]]:
    """Load a model folder written by :func:`save_model`; ``sampling=False`` (a point estimate only)
    defers what posteriors need (:meth:`ReconModel.prepare_sampling`: the flow's network, torch) to first use.

    Returns
    -------
    model : ReconModel
    config : dict
        The full config, including ``extra`` and ``sha256`` (of the weights).

    Raises
    ------
    ModelFileError
        Any problem with the folder, the config or the tensors: everything :func:`read_model_config`
        refuses; an unknown method; a missing, unreadable or corrupted ``model.safetensors`` (empty,
        bad header); a ``sha256`` in the config that differs from the weights'; tensor names, shapes
        or dtypes that differ from the config; NaN/Inf weights; params the method does not take;
        contacts that are not names + positions; weights that do not fit the model (with
        ``sampling``, its sampler's too) or do not give a finite prediction on 2 s of synthetic EEG.
    """
    folder = Path(folder)
    cfg_path, w_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    found: dict[str, type[ReconModel]] = {}

    def method_class(config: dict[str, Any], cfg_path: Path) -> None:
        try:
            found["cls"] = get_model_class(config["method"])
        except ValueError as exc:
            raise ModelFileError(str(exc), cfg_path) from None

    config, state = read_model_folder(folder, check=method_class, required=RECON_KEYS, recon=True)
    cls = found["cls"]
    try:
        model = cls(**config["params"])
    except Exception as exc:  # noqa: BLE001 - any failure: the stored params are not this method's
        raise ModelFileError(f"invalid params for method {config['method']!r} ({one_line(exc)})", cfg_path) from None
    model.sfreq = float(config["sfreq"])
    model.scalp_names = list(config.get("scalp_names") or [])
    if config.get("contacts"):
        model.contacts = _contacts(config["contacts"], cfg_path)
    model.trained_on = config.get("trained_on") or {}
    ranges = (config.get("extra") or {}).get("physical_range_uv")
    if ranges and model.contacts is not None:
        miss = [c for c in model.contacts.ch_names if c not in ranges]
        if miss:
            raise ModelFileError(f"config field 'extra.physical_range_uv' lacks contact(s) {miss[:5]}", cfg_path)
    try:
        expected = model.expected_state_shapes()
    except Exception as exc:  # noqa: BLE001 - params the method cannot size its weights from
        raise ModelFileError(f"invalid params for method {config['method']!r} ({one_line(exc)})", cfg_path) from None
    if expected is not None:
        for k, shp in expected.items():
            if k not in state or tuple(state[k].shape) != tuple(shp):
                raise ModelFileError(f"tensor {k!r} has the wrong shape for this model", w_path)
    try:
        model.load_state_dict(state)
        if sampling:
            model.prepare_sampling()
    except Exception as exc:  # noqa: BLE001 - whatever the method raises, these weights are not its own
        raise ModelFileError(f"weights do not fit the model ({one_line(exc)})", w_path) from None
    _smoke_test(model, w_path)
    return model, config


def load_patient_model(folder: str | Path, *, sampling: bool = True) -> tuple[ReconModel, PatientModel]:
    """Load a model folder as a model and its typed description (``sampling``: see :func:`load_model`).

    Returns
    -------
    model, patient : ReconModel, PatientModel
        ``patient`` holds the config (``sha256`` of the weights included) and ``folder``.

    Raises
    ------
    ModelFileError
        What :func:`load_model` refuses, and an ``sfreq`` other than the preprocessing rate.
    """
    model, config = load_model(folder, sampling=sampling)
    return model, PatientModel.from_config(config, folder=folder)
