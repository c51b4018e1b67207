"""What the workflow steps return, and names they share (below calibrate, reconstruct and report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..models.patient import PatientModel, as_patient_model

#: Seconds of held-out signal kept in the patient model for report figures.
HOLDOUT_KEEP_S = 20.0
#: File of the patient model folder holding those seconds (true and predicted iEEG, V).
HOLDOUT_NAME = "holdout.h5"

#: ``progress(message, fraction)``: what a long step reports.
Progress = Callable[[str, float], None]


def no_progress(message: str, fraction: float) -> None:
    """A :data:`Progress` that says nothing."""


@dataclass
class CalibrationResult:
    """What :func:`ieegrecon.workflow.calibrate.calibrate` produced.

    Attributes
    ----------
    out : Path
        The patient model folder.
    method : str
        Method name.
    r : dict of str to float | None
        Held-out Pearson r per contact (None: not measured).
    evaluation : str
        How r was measured.
    regions : pandas.DataFrame
        One row per contact (``name``, ``region_key``, ``depth_class``...), as in ``regions.tsv``.
    extra : dict
        The ``extra`` object of the written ``config.json``.
    patient : PatientModel | None
        The written model's description.
    """

    out: Path
    method: str
    r: dict[str, float]
    evaluation: str
    regions: Any
    extra: dict[str, Any] = field(default_factory=dict)
    patient: PatientModel | None = None


@dataclass
class ReconstructionResult:
    """Summary of one reconstructed file (JSON-serializable via :meth:`to_dict`)."""

    input: str
    output: str
    n_times: int
    sfreq: float
    ch_names: list[str]
    n_clipped: dict[str, int]
    report: str | None = None
    notes: list[str] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def model_id(config: PatientModel | dict[str, Any]) -> str:
    """Short model identifier: method and the first 12 hex digits of the weights' sha256."""
    return as_patient_model(config).model_id


def surrogate_text(config: PatientModel | dict[str, Any]) -> str:
    """The t=0 annotation every surrogate carries."""
    return f"SURROGATE: reconstructed from scalp EEG by ieegrecon {__version__}, model {model_id(config)}"
