"""Models by method name: new, pretrained (shipped default or a folder) or calibrated on a segment."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, UsageError
from ..models.base import PairedSegment, ReconModel, get_model_class

#: Models shipped in the repository's ``models/`` folder, used when no pretrained model is given.
DEFAULT_MODELS = {"cast": "cast-sim9", "xs-ridge": "xs-ridge-sim9"}


def default_model(method: str) -> Path | None:
    """The shipped default pretrained model folder of ``method``, or None.

    Looks in ``models/`` beside the ``ieegrecon`` package (a clone or an
    editable install, as the README installs it).
    """
    name = DEFAULT_MODELS.get(method)
    if name is None:
        return None
    folder = Path(__file__).resolve().parents[2] / "models" / name
    return folder if (folder / "config.json").is_file() else None


def new_model(method: str, pretrained: str | Path | None, sfreq: float) -> ReconModel:
    """An uncalibrated model of ``method``: loaded from ``pretrained``, else built at ``sfreq``.

    Raises
    ------
    UsageError
        ``pretrained`` holds another method, or the method needs a pretrained model.
    """
    from ..models.io import load_model

    if pretrained is not None:
        model, _ = load_model(pretrained)
        if model.method != method:
            raise UsageError(f"the 'pretrained' parameter: {pretrained} is a {model.method!r} model, "
                             f"not {method!r}")
        return model
    cls = get_model_class(method)
    if cls.requires_pretrain:
        raise UsageError(f"method {method!r} needs a pretrained model: set the 'pretrained' parameter "
                         "(a models/NAME folder)")
    return cls(sfreq=sfreq)


def fit_model(method: str, pretrained, seg: PairedSegment, zero_shot: bool, seed: int,
              source: str | Path | None = None) -> ReconModel:
    """A new (or pretrained) model of ``method``, calibrated on ``seg`` or set up zero-shot.

    Parameters
    ----------
    method : str
        Registered method.
    pretrained : path-like | None
        Pretrained model folder (cross-subject methods).
    seg : PairedSegment
        Calibration data (only its contacts and scalp names when ``zero_shot``).
    zero_shot : bool
        Decode without calibration (methods with ``supports_zero_shot``).
    seed : int
        Seed for methods that train.
    source : path-like | None
        The recording ``seg`` came from, named in the error when it is unusable.

    Raises
    ------
    UsageError
        Zero-shot with a method that cannot, or a pretrained model of another method.
    InputError
        When the calibration data are unusable (e.g. too short).
    """
    model = new_model(method, pretrained, seg.sfreq)
    if zero_shot:
        if not model.supports_zero_shot:
            raise UsageError(f"method {method!r} cannot run without calibration (the 'minutes' parameter is 0)")
        model.set_targets(seg.contacts, scalp_names=seg.scalp_names)  # type: ignore[attr-defined]
        return model
    kwargs = {"seed": seed} if model.supports_pretrain else {}
    try:
        model.calibrate(seg, **kwargs)
    except ValueError as exc:
        raise InputError(str(exc), source) from None
    return model
