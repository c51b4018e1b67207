"""Reconstruction methods behind one interface (:class:`ReconModel`).

* :mod:`~ieegrecon.models.base`: the interface, its capabilities (``supports_pretrain``,
  ``supports_zero_shot``, ``supports_posterior``...) and the static method registry
  (:func:`get_model_class`, :func:`method_names`);
* one module per method: :mod:`~ieegrecon.models.ridge`, :mod:`~ieegrecon.models.source`,
  :mod:`~ieegrecon.models.cast`, :mod:`~ieegrecon.models.flow` (their private stages in
  ``_cast_*`` / ``_flow_*``); shared pieces in :mod:`~ieegrecon.models.lagged` (lagged
  filters), :mod:`~ieegrecon.models.training` (torch training utilities) and
  :mod:`~ieegrecon.models.posterior` (the posterior object);
* :mod:`~ieegrecon.models.io`: the model folder (``config.json`` + ``model.safetensors``).
"""

from .base import (
    ContactInfo,
    PairedSegment,
    ReconModel,
    available_methods,
    get_model_class,
    method_names,
)
from .io import load_model, save_model

__all__ = [
    "ContactInfo",
    "PairedSegment",
    "ReconModel",
    "available_methods",
    "get_model_class",
    "load_model",
    "method_names",
    "save_model",
]
