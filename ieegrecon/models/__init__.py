"""Reconstruction methods behind one interface (:class:`ReconModel`)."""

from .base import (
    ContactInfo,
    PairedSegment,
    ReconModel,
    available_methods,
    get_model_class,
    register,
)
from .io import load_model, save_model

__all__ = [
    "ContactInfo",
    "PairedSegment",
    "ReconModel",
    "available_methods",
    "get_model_class",
    "load_model",
    "register",
    "save_model",
]
