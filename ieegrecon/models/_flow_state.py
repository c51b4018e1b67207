"""The state round trip of :class:`~ieegrecon.models.flow.FlowModel` (tensors saved with safetensors).

Tensors: ``net.*`` (float32 network weights); when set, ``adapter`` (per-contact
adapters), ``x_center`` / ``x_scale`` (scalp standardization, volts),
``y_center`` / ``y_scale`` (contact standardization, volts), ``copula_chol``
(cross-contact latent correlation factor), ``window_chol`` (window whitening
factors); ``conformal`` (factor per depth class) and ``loc.*`` (the ridge
location's weights, :class:`~ieegrecon.models.ridge.RidgeModel`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..atlas.vocab import DEPTHS
from .ridge import RidgeModel

#: Calibration arrays saved under their name without the trailing underscore.
_ARRAYS = ("adapter_", "x_center_", "x_scale_", "y_center_", "y_scale_", "copula_chol_", "window_chol_")


def flow_state_dict(model: Any) -> dict[str, np.ndarray]:
    """Network weights (``net.*``) and calibration arrays of a flow model.

    Raises
    ------
    RuntimeError
        If the model is neither pretrained nor calibrated.
    """
    if model.net is None:
        raise RuntimeError("flow model is neither pretrained nor calibrated")
    out = {f"net.{k}": v.detach().cpu().numpy().copy() for k, v in model.net.state_dict().items()}
    for name in _ARRAYS:
        v = getattr(model, name)
        if v is not None:
            out[name.rstrip("_")] = np.asarray(v).copy()
    out["conformal"] = np.asarray(model.conformal_, np.float64).copy()
    if model.loc_ is not None:
        out.update({f"loc.{k}": np.asarray(v).copy() for k, v in model.loc_.state_dict().items()})
    return out


def load_flow_state(model: Any, state: dict[str, np.ndarray]) -> None:
    """Restore :func:`flow_state_dict` output into ``model`` (its ``scalp_names`` and ``contacts`` set).

    Raises
    ------
    ValueError
        Without ``scalp_names``, with a calibrated ``location="ridge"`` model lacking its ``loc.*``
        weights, or with an adapter that does not match the contacts.
    """
    import torch

    if not model.scalp_names:
        raise ValueError("scalp_names must be set before loading a flow model's weights")
    net = model._build(len(model.scalp_names))
    sd = {k[4:]: torch.as_tensor(np.array(v)) for k, v in state.items() if k.startswith("net.")}
    net.load_state_dict(sd, strict=True)
    model.net = net.to(model._dev()).eval()
    for name in _ARRAYS:
        key = name.rstrip("_")
        setattr(model, name, np.array(state[key]) if key in state else None)
    model.conformal_ = np.array(state["conformal"]) if "conformal" in state else np.ones(len(DEPTHS))
    loc = {k[4:]: np.array(v) for k, v in state.items() if k.startswith("loc.")}
    model.loc_ = None
    if loc:
        model.loc_ = RidgeModel(model.sfreq)
        model.loc_.scalp_names, model.loc_.contacts = list(model.scalp_names), model.contacts
        model.loc_.load_state_dict(loc)
    elif model.location == "ridge" and model.adapter_ is not None:
        raise ValueError("a calibrated flow model with location='ridge' needs its 'loc.*' ridge weights")
    n_contacts = None if model.contacts is None else len(model.contacts.ch_names)
    if model.adapter_ is not None and n_contacts is not None and len(model.adapter_) != n_contacts:
        raise ValueError(f"adapter has {len(model.adapter_)} rows, model has {n_contacts} contacts")
