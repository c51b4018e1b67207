"""A patient model folder's description, typed: :class:`PatientModel`.

``config.json`` of a model folder holds the method and weights' layout, the
patient's scalp channels and contacts, the preprocessing, the figures
measured on held-out data at calibration and where the model came from.
:class:`PatientModel` gives those fields names and types, so that readers
(reconstruct, report) never walk nested ``config['extra']`` dicts.

It is read and written only through :mod:`ieegrecon.models.io`
(:func:`~ieegrecon.models.io.load_patient_model`,
:func:`~ieegrecon.models.io.save_model`): :meth:`PatientModel.from_config`
and :meth:`PatientModel.to_config` round-trip a ``config.json`` dict exactly,
so folders written by earlier versions (``models/cast-sim9``) load unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelFileError
from ..preprocessing import Preprocessing
from .base import ContactInfo

#: ``extra`` keys that :class:`PatientModel` reads into typed fields (others stay in ``PatientModel.other_extra``).
EXTRA_KEYS = ("created", "preprocessing", "line_freq_source", "minutes", "atlas", "evaluation", "pretrained_model",
              "pretrained_sha256", "heldout_r", "heldout_nmse", "physical_range_uv", "simulated_data",
              "heldout_coverage90", "zero_shot")
#: Top-level ``config.json`` keys read into typed fields.
TOP_KEYS = ("format_version", "ieegrecon_version", "written_by", "method", "sfreq", "params", "scalp_names",
            "contacts", "trained_on", "tensors", "extra", "sha256")


@dataclass
class HeldOut:
    """Figures measured at calibration on data the model was not fitted on.

    Attributes
    ----------
    r : dict of str to float | None
        Pearson r per contact (None: not measured, e.g. zero-shot from positions).
    nmse : dict of str to float | None
        Normalized mean squared error per contact.
    coverage90 : dict of str to float | None
        Fraction of held-out samples inside the 5-95 % posterior band per contact
        (posterior methods only).
    evaluation : str | None
        How the figures were measured (held-out tail, blocked CV, zero-shot).
    zero_shot : bool | None
        The model was not calibrated on this patient's iEEG.
    """

    r: dict[str, float | None] | None = None
    nmse: dict[str, float] | None = None
    coverage90: dict[str, float] | None = None
    evaluation: str | None = None
    zero_shot: bool | None = None


@dataclass
class Provenance:
    """Where a model came from.

    Attributes
    ----------
    trained_on : dict
        ``{'pretrain': ..., 'calibration': ...}``: file base names, sha256, minutes, simulated.
    simulated_data : bool | None
        Calibrated on simulated recordings.
    line_freq_source : str | None
        Where the mains frequency came from (``'--line-freq'``, ``'BIDS PowerLineFrequency'``, ``'default'``).
    atlas : str | None
        Atlas of the contact regions.
    minutes : float | None
        Calibration minutes.
    created : str | None
        ISO 8601 UTC time the folder was written.
    pretrained_model : str | None
        Base name of the pretrained model folder.
    pretrained_sha256 : str | None
        sha256 of the pretrained model's weights.
    ieegrecon_version : str | None
        Version that wrote the folder.
    written_by : dict | None
        ``{'name': 'ieegrecon', 'kind': ...}`` marker.
    """

    trained_on: dict[str, Any] = field(default_factory=dict)
    simulated_data: bool | None = None
    line_freq_source: str | None = None
    atlas: str | None = None
    minutes: float | None = None
    created: str | None = None
    pretrained_model: str | None = None
    pretrained_sha256: str | None = None
    ieegrecon_version: str | None = None
    written_by: dict[str, Any] | None = None

    @property
    def calibrated_on_simulated(self) -> bool:
        """Calibration recordings were simulated (``trained_on.calibration.simulated`` or ``simulated_data``)."""
        return bool((self.trained_on.get("calibration") or {}).get("simulated") or self.simulated_data)

    @property
    def pretrained_on_simulated(self) -> bool:
        """The pretrained model's cohort was simulated."""
        return bool((self.trained_on.get("pretrain") or {}).get("simulated"))


@dataclass
class PatientModel:
    """A model folder's ``config.json``, typed.

    Attributes
    ----------
    method : str
        Registered method name.
    sfreq : float
        Model sampling frequency (Hz); equals ``preprocessing.sfreq`` when that is stored.
    preprocessing : Preprocessing | None
        Preprocessing applied to scalp EEG before the model (None: not stored, e.g. a pretrained model).
    scalp_names : list of str
        Scalp channels the model reads, in order.
    contacts : ContactInfo | None
        Target contacts with regions and depth class (None: uncalibrated).
    heldout : HeldOut
        Calibration figures on held-out data.
    physical_range_uv : dict of str to [float, float] | None
        ±8 SD of the calibration iEEG per contact (µV), the streamed EDF's range basis.
    provenance : Provenance
        Training data, versions, atlas, pretrained model.
    params : dict
        Constructor parameters of the method.
    tensors : dict
        Weight names to ``{'shape', 'dtype'}``.
    sha256 : str | None
        sha256 of ``model.safetensors`` (set on load).
    format_version : int
        Model folder format.
    folder : Path | None
        The folder the model was read from (not stored in ``config.json``).
    other_extra : dict
        ``extra`` fields no typed attribute holds (pretraining summary, LOSO...), kept as read.
    present : tuple of str
        Which optional keys the config had (top-level and ``extra.*``), so that
        :meth:`to_config` writes back exactly those.
    """

    method: str
    sfreq: float
    preprocessing: Preprocessing | None = None
    scalp_names: list[str] = field(default_factory=list)
    contacts: ContactInfo | None = None
    heldout: HeldOut = field(default_factory=HeldOut)
    physical_range_uv: dict[str, list[float]] | None = None
    provenance: Provenance = field(default_factory=Provenance)
    params: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    format_version: int = 1
    folder: Path | None = None
    other_extra: dict[str, Any] = field(default_factory=dict)
    present: tuple[str, ...] = ()
    _prep_raw: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def model_id(self) -> str:
        """Short identifier: method and the first 12 hex digits of the weights' sha256."""
        return f"{self.method}-{(self.sha256 or '?')[:12]}"

    @property
    def scalp_preprocessing(self) -> Preprocessing:
        """The stored preprocessing, else the defaults at the model's ``sfreq``."""
        return self.preprocessing if self.preprocessing is not None else Preprocessing.from_dict({"sfreq": self.sfreq})

    @classmethod
    def from_config(cls, config: dict[str, Any], folder: str | Path | None = None) -> "PatientModel":
        """Build from a ``config.json`` dict (as :func:`~ieegrecon.models.io.read_model_config` returns it).

        Raises
        ------
        ModelFileError
            The stored preprocessing rate differs from ``sfreq``.
        """
        extra = config.get("extra") or {}
        prep_raw = extra.get("preprocessing")
        prep = None if prep_raw is None else Preprocessing.from_dict(prep_raw)
        sfreq = float(config["sfreq"]) if "sfreq" in config else (prep.sfreq if prep is not None else float("nan"))
        if prep is not None and abs(prep.sfreq - sfreq) > 1e-9:
            where = Path(folder) / "config.json" if folder is not None else None
            raise ModelFileError(f"config field 'sfreq' is {config['sfreq']!r} but 'extra.preprocessing.sfreq' is "
                                 f"{prep.sfreq!r}: the model and its preprocessing disagree", where)
        present = tuple(k for k in TOP_KEYS if k in config) + tuple(f"extra.{k}" for k in EXTRA_KEYS if k in extra)
        g = extra.get
        return cls(
            method=config["method"], sfreq=sfreq, preprocessing=prep,
            scalp_names=list(config.get("scalp_names") or []),
            contacts=ContactInfo.from_dict(config["contacts"]) if config.get("contacts") else None,
            heldout=HeldOut(g("heldout_r"), g("heldout_nmse"), g("heldout_coverage90"), g("evaluation"),
                            g("zero_shot")),
            physical_range_uv=g("physical_range_uv"),
            provenance=Provenance(config.get("trained_on") or {}, g("simulated_data"), g("line_freq_source"),
                                  g("atlas"), g("minutes"), g("created"), g("pretrained_model"),
                                  g("pretrained_sha256"), config.get("ieegrecon_version"), config.get("written_by")),
            params=dict(config.get("params") or {}), tensors=dict(config.get("tensors") or {}),
            sha256=config.get("sha256"), format_version=config.get("format_version", 1),
            folder=None if folder is None else Path(folder),
            other_extra={k: v for k, v in extra.items() if k not in EXTRA_KEYS},
            present=present, _prep_raw=prep_raw)

    def extra(self) -> dict[str, Any]:
        """The ``extra`` object of ``config.json``: the typed fields, then :attr:`other_extra`."""
        p, h = self.provenance, self.heldout
        prep = None
        if self.preprocessing is not None:
            prep = (self._prep_raw if self._prep_raw is not None
                    and Preprocessing.from_dict(self._prep_raw) == self.preprocessing else self.preprocessing.to_dict())
        values = {"created": p.created, "preprocessing": prep, "line_freq_source": p.line_freq_source,
                  "minutes": p.minutes, "atlas": p.atlas, "evaluation": h.evaluation,
                  "pretrained_model": p.pretrained_model, "pretrained_sha256": p.pretrained_sha256,
                  "heldout_r": h.r, "heldout_nmse": h.nmse, "physical_range_uv": self.physical_range_uv,
                  "simulated_data": p.simulated_data, "heldout_coverage90": h.coverage90, "zero_shot": h.zero_shot}
        keep = set(self.present)
        out = {k: v for k, v in values.items() if f"extra.{k}" in keep or (not self.present and v is not None)}
        return out | self.other_extra

    def to_config(self) -> dict[str, Any]:
        """The ``config.json`` dict (inverse of :meth:`from_config`; ``folder`` is not stored)."""
        p = self.provenance
        values = {"format_version": self.format_version, "ieegrecon_version": p.ieegrecon_version,
                  "written_by": p.written_by, "method": self.method, "sfreq": self.sfreq, "params": self.params,
                  "scalp_names": list(self.scalp_names),
                  "contacts": None if self.contacts is None else self.contacts.to_dict(),
                  "trained_on": p.trained_on, "tensors": self.tensors, "extra": self.extra(), "sha256": self.sha256}
        keep = set(self.present) or {k for k, v in values.items() if v is not None}
        return {k: v for k, v in values.items() if k in keep}


def as_patient_model(config: "PatientModel | dict[str, Any]") -> PatientModel:
    """``config`` as a :class:`PatientModel` (a ``config.json`` dict is converted; its ``folder`` key, if any, kept)."""
    if isinstance(config, PatientModel):
        return config
    return PatientModel.from_config(config, folder=config.get("folder"))
