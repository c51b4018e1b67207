"""The state round trip of :class:`~ieegrecon.models.flow.FlowModel` (tensors saved with safetensors).

Tensors: ``net.*`` (float32 network weights); when set, ``adapter`` (per-contact
adapters), ``x_center`` / ``x_scale`` (scalp standardization, volts),
``y_center`` / ``y_scale`` (contact standardization, volts), ``copula_chol``
(cross-contact latent correlation factor), ``window_chol`` (window whitening
factors); ``conformal`` (factor per depth class) and ``loc.*`` (the ridge
location's weights, :class:`~ieegrecon.models.ridge.RidgeModel`).

Loaded network weights stay arrays until the network is first used
(:class:`LazyNetMixin`): a point estimate, the ridge location, never imports torch.
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
    if not model.has_net:
        raise RuntimeError("flow model is neither pretrained nor calibrated")
    if model._net is None:  # loaded and never built: the weights as they were read
        out = {f"net.{k}": np.array(v) for k, v in model._net_state.items()}
    else:
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

    The network weights (``net.*``) are kept as arrays and built into the network on first use
    (:attr:`FlowModel.net <ieegrecon.models.flow.FlowModel.net>`, :func:`build_net`): loading
    does not import torch.

    Raises
    ------
    ValueError
        Without ``scalp_names`` or ``net.*`` weights, with a calibrated ``location="ridge"`` model
        lacking its ``loc.*`` weights, or with an adapter that does not match the contacts.
    """
    if not model.scalp_names:
        raise ValueError("scalp_names must be set before loading a flow model's weights")
    net = {k[4:]: np.array(v) for k, v in state.items() if k.startswith("net.")}
    if not net:
        raise ValueError("no 'net.*' network weights")
    model._net, model._net_state = None, net  # built by LazyNetMixin.net on first use
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


def build_net(model: Any, net_state: dict[str, np.ndarray]) -> Any:
    """The flow network of ``model`` (its params and ``scalp_names``) with weights ``net_state``, in eval mode.

    Parameters
    ----------
    net_state : dict of str to ndarray
        The ``net.*`` tensors of :func:`flow_state_dict` without the prefix.

    Raises
    ------
    ValueError
        Weights that do not fit the network (names or shapes; torch's strict loading).
    """
    import torch

    net = model._build(len(model.scalp_names))
    try:
        net.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in net_state.items()}, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"network weights do not fit: {' '.join(str(exc).split())[:300]}") from None
    return net.to(model._dev()).eval()


class LazyNetMixin:
    """The flow's ``net``: built from loaded weights (``_net_state``) on first use, by :func:`build_net`.

    For :class:`~ieegrecon.models.flow.FlowModel`, which sets ``_net`` and ``_net_state`` to None.
    """

    _net: Any
    _net_state: dict[str, np.ndarray] | None

    @property
    def net(self) -> Any:
        """The flow network (:class:`~ieegrecon.models._flow_nn.ConditionalWindowFlow`), None before training.

        Loaded weights become a network on first use (:func:`~ieegrecon.models._flow_state.build_net`:
        torch is imported then), so a point estimate (:meth:`predict`, the ridge location) never
        imports torch: 1.0 s of a 1-h reconstruct's 7.3 s (docs/results.md, session 13).

        Raises
        ------
        ValueError
            Loaded weights that do not fit the network.
        """
        if self._net is None and self._net_state is not None:
            self._net = build_net(self, self._net_state)
            self._net_state = None
        return self._net

    @net.setter
    def net(self, value: Any) -> None:
        self._net, self._net_state = value, None

    @property
    def has_net(self) -> bool:
        """Whether the model has network weights (built or loaded), without building them."""
        return self._net is not None or self._net_state is not None

    def prepare_sampling(self) -> None:
        """Build the network from loaded weights now (:attr:`net`); see :meth:`ReconModel.prepare_sampling`."""
        _ = self.net
