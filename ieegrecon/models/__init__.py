"""Reconstruction methods behind one interface (:class:`ReconModel`)."""

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
