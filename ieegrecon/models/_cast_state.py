"""The state round trip of :class:`~ieegrecon.models.cast.CastModel` (tensors saved with safetensors).

Tensors: ``net.*`` (float32 network weights), ``zero_shot_scale``, and, when
set, ``out_gain`` / ``out_offset`` (per contact, volts), ``contact_adapter``
(per-contact decoder adapters), ``residual_coef`` (residual ridge, volts per
unit), ``lag_prior_cov`` (cross-subject lag prior) and ``scalp_center`` /
``scalp_scale`` (calibration scalp standardization, volts).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def cast_state_dict(model: Any) -> dict[str, np.ndarray]:
    """Network weights (``net.*``, float32) plus scale arrays (float64) of a CAST model."""
    out = {f"net.{k}": v.detach().cpu().numpy().copy() for k, v in model.net.state_dict().items()}
    out["zero_shot_scale"] = np.array([model.zero_shot_scale], dtype=np.float64)
    if model.gain is not None:
        out["out_gain"] = np.asarray(model.gain, np.float64)
        out["out_offset"] = np.asarray(model.offset, np.float64)
    if model.adapter is not None:
        out["contact_adapter"] = np.asarray(model.adapter, np.float32)
    if model.res_coef is not None:
        out["residual_coef"] = np.asarray(model.res_coef, np.float32)
    if model.lag_cov is not None:
        out["lag_prior_cov"] = np.asarray(model.lag_cov, np.float64)
    if model.scalp_center is not None:
        out["scalp_center"] = np.asarray(model.scalp_center, np.float64)
        out["scalp_scale"] = np.asarray(model.scalp_scale, np.float64)
    return out


def load_cast_state(model: Any, state: dict[str, np.ndarray]) -> None:
    """Restore :func:`cast_state_dict` output into ``model``, checking per-contact shapes.

    Raises
    ------
    KeyError
        A network tensor is missing.
    ValueError
        Per-contact arrays do not match ``model.contacts`` or ``model.scalp_names``.
    """
    import torch

    net_state = {k[4:]: torch.as_tensor(np.array(v)) for k, v in state.items() if k.startswith("net.")}
    model.net.load_state_dict(net_state, strict=True)
    model.net.eval()
    model.zero_shot_scale = float(np.asarray(state["zero_shot_scale"]).ravel()[0])
    k = None if model.contacts is None else len(model.contacts.ch_names)
    model.gain = model.offset = model.adapter = model.res_coef = model.lag_cov = None
    model.scalp_center = model.scalp_scale = None
    if "scalp_center" in state:  # absent in models calibrated before session 4: per-input standardization
        if len(state["scalp_center"]) != len(model.scalp_names) or len(state["scalp_scale"]) != len(model.scalp_names):
            raise ValueError(f"scalp_center/scalp_scale have {len(state['scalp_center'])} entries for "
                             f"{len(model.scalp_names)} scalp channels")
        model.scalp_center = np.array(state["scalp_center"], np.float64)
        model.scalp_scale = np.array(state["scalp_scale"], np.float64)
    if "lag_prior_cov" in state:  # absent in models pretrained before the lag prior
        n_lags = len(model.res_lags)
        if np.shape(state["lag_prior_cov"]) != (n_lags, n_lags):
            raise ValueError(f"lag_prior_cov has shape {np.shape(state['lag_prior_cov'])}; "
                             f"expected ({n_lags}, {n_lags})")
        model.lag_cov = np.array(state["lag_prior_cov"], np.float64)
    if "out_gain" in state:
        if k is not None and len(state["out_gain"]) != k:
            raise ValueError(f"out_gain has {len(state['out_gain'])} entries for {k} contacts")
        model.gain = np.array(state["out_gain"], np.float64)
        model.offset = np.array(state["out_offset"], np.float64)
    if "contact_adapter" in state:
        if k is not None and state["contact_adapter"].shape[0] != k:
            raise ValueError("contact_adapter does not match the contacts")
        model.adapter = np.array(state["contact_adapter"], np.float32)
    if "residual_coef" in state:
        n_feat = len(model.scalp_names) * len(model.res_lags)
        coef = np.array(state["residual_coef"], np.float32)
        if (k is not None and coef.shape[0] != k) or coef.shape[1] != n_feat:
            raise ValueError(f"residual_coef has shape {coef.shape}; expected ({k}, {n_feat})")
        model.res_coef = coef
