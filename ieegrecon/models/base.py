"""The one interface every reconstruction method implements.

A model maps scalp EEG to intracranial contacts. It knows nothing of files:
it receives arrays in volts at the model's ``sfreq`` (the pipeline resamples
and filters) and returns arrays in volts. Saving is ``config.json`` (JSON
only) plus ``model.safetensors`` (tensors only), handled by
:mod:`ieegrecon.models.io`; no pickle anywhere.

Methods are listed by name in the static map :data:`BUILTIN_METHODS`
(name -> ``"module:Class"``) and built by name with :func:`get_model_class`,
which imports only the module of the method asked for.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass
class ContactInfo:
    """What a model knows about its target contacts.

    Parameters
    ----------
    ch_names : list of str, length n_contacts
        Contact names.
    positions : ndarray, shape (n_contacts, 3)
        MNI coordinates in metres (NaN where unknown).
    regions : list of str, length n_contacts
        Atlas region of each contact (``'unknown'`` where none).
    depth_class : list of str, length n_contacts
        ``'superficial'`` or ``'deep'`` (or ``'unknown'``).
    """

    ch_names: list[str]
    positions: np.ndarray
    regions: list[str] = field(default_factory=list)
    depth_class: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.ch_names)
        self.positions = np.asarray(self.positions, dtype=float).reshape(n, 3)
        if not self.regions:
            self.regions = ["unknown"] * n
        if not self.depth_class:
            self.depth_class = ["unknown"] * n
        if len(self.regions) != n or len(self.depth_class) != n:
            raise ValueError("regions and depth_class must have one entry per contact")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form (positions in metres)."""
        return {
            "ch_names": list(self.ch_names),
            "positions": np.where(np.isnan(self.positions), None, self.positions).tolist(),
            "regions": list(self.regions),
            "depth_class": list(self.depth_class),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ContactInfo":
        """Inverse of :meth:`to_dict`."""
        pos = np.array([[np.nan if v is None else v for v in row] for row in d["positions"]], float)
        return cls(list(d["ch_names"]), pos.reshape(-1, 3), list(d["regions"]), list(d["depth_class"]))

    def subset(self, idx: list[int]) -> "ContactInfo":
        """Contacts ``idx`` only."""
        return ContactInfo(
            [self.ch_names[i] for i in idx],
            self.positions[idx],
            [self.regions[i] for i in idx],
            [self.depth_class[i] for i in idx],
        )


@dataclass
class PairedSegment:
    """Simultaneous scalp EEG and iEEG of one subject, both at the model's sfreq.

    Parameters
    ----------
    scalp : ndarray, shape (n_scalp, n_times)
        Scalp EEG in volts; rows follow ``scalp_names``.
    ieeg : ndarray, shape (n_contacts, n_times)
        Intracranial EEG in volts; rows follow ``contacts.ch_names``.
    sfreq : float
        Sampling rate of both, in Hz.
    scalp_names : list of str
        Normalized 10-20 names of the scalp channels.
    contacts : ContactInfo
        The intracranial contacts.
    subject : str
        Subject identifier (for leave-one-subject-out).
    """

    scalp: np.ndarray
    ieeg: np.ndarray
    sfreq: float
    scalp_names: list[str]
    contacts: ContactInfo
    subject: str = "unknown"

    def __post_init__(self) -> None:
        if self.scalp.shape[1] != self.ieeg.shape[1]:
            raise ValueError(
                f"scalp and iEEG differ in n_times: {self.scalp.shape[1]} vs {self.ieeg.shape[1]}"
            )
        if self.scalp.shape[0] != len(self.scalp_names):
            raise ValueError("one scalp name per scalp row required")
        if self.ieeg.shape[0] != len(self.contacts.ch_names):
            raise ValueError("one contact per iEEG row required")

    def crop_samples(self, start: int, stop: int) -> "PairedSegment":
        """Samples ``[start, stop)`` of both signals."""
        return PairedSegment(
            self.scalp[:, start:stop], self.ieeg[:, start:stop], self.sfreq,
            self.scalp_names, self.contacts, self.subject,
        )


class ReconModel(ABC):
    """Base class: scalp EEG (n_scalp, n_times) -> iEEG (n_contacts, n_times).

    Subclasses set :attr:`method`, implement :meth:`calibrate`,
    :meth:`predict`, :meth:`get_params` and the state round trip
    (:meth:`state_dict` / :meth:`load_state_dict`). Cross-subject methods
    also implement :meth:`pretrain`.

    Attributes
    ----------
    method : str
        Registry name, e.g. ``'ridge'``.
    sfreq : float
        Sampling rate the model works at, in Hz.
    scalp_names : list of str
        Scalp channels the model expects, in order (set by calibration).
    contacts : ContactInfo | None
        The contacts the model outputs (set by calibration).
    trained_on : dict
        Provenance of the data the model saw (``{'pretrain': ..., 'calibration': ...}``),
        including whether it was simulated; reports print it verbatim.
    """

    method: ClassVar[str] = "base"
    #: Whether :meth:`pretrain` is meaningful for this method.
    supports_pretrain: ClassVar[bool] = False
    #: Whether calibration needs a pretrained model (else it may start from scratch).
    requires_pretrain: ClassVar[bool] = False
    #: Longest chunk (s) long recordings are reconstructed in (None: the pipeline's default).
    max_chunk_s: ClassVar[float | None] = None
    #: Whether :meth:`predict` works before calibration (zero-shot).
    supports_zero_shot: ClassVar[bool] = False
    #: Whether the method gives a posterior distribution: ``posterior(scalp, n_samples=, seed=)``
    #: returning an object with ``.mean``, ``.sample(k)`` and ``.quantiles(q)``
    #: (:class:`ieegrecon.models.posterior.Posterior`), instead of a point estimate only.
    supports_posterior: ClassVar[bool] = False
    #: Whether the posterior's quantiles are exact, in closed form (``Posterior.exact``: a Gaussian
    #: posterior's), rather than quantiles of posterior draws: the point estimate plus a constant offset
    #: per contact (:meth:`band_offsets`).
    exact_bands: ClassVar[bool] = False
    #: Whether :meth:`pretrain` runs as one rank of a ``torchrun`` process group
    #: (DistributedDataParallel, subjects sharded across ranks; ``ieegrecon pretrain --nproc N``).
    supports_distributed: ClassVar[bool] = False
    #: Whether its prediction fragments glibc's heap (many small tensors per chunk), so that
    #: :func:`~ieegrecon.workflow.reconstruct.reconstruct_file` fixes the mmap threshold
    #: (:func:`~ieegrecon.workflow.chunking.bound_heap`). Off by default: a fixed threshold maps and
    #: unmaps every large array, which cost cast 34 % more CPU on a 1-h input for 17 MiB less peak RSS.
    fragments_heap: ClassVar[bool] = False
    #: Whether :func:`~ieegrecon.workflow.chunking.predict_chunked` may read and preprocess the next
    #: chunk on a second thread while this model predicts (:func:`ieegrecon._threads.read_ahead`).
    #: Off by default: measured on a 1-h input (session 11), ridge 6.4 -> 5.8-6.0 s, +60-80 MiB;
    #: cast +70 MiB (642 MiB, above the 600 MiB target) for 0.3 s; flow 70 -> 93 s.
    reads_ahead: ClassVar[bool] = False

    def __init__(self, sfreq: float = 200.0) -> None:
        self.sfreq = float(sfreq)
        self.scalp_names: list[str] = []
        self.contacts: ContactInfo | None = None
        self.trained_on: dict[str, Any] = {}

    # ------------------------------------------------------------------ API
    def pretrain(self, segments: list[PairedSegment], **kwargs: Any) -> dict[str, Any]:
        """Train across subjects. Only for methods with ``supports_pretrain``.

        Raises
        ------
        NotImplementedError
            For within-subject methods.
        """
        raise NotImplementedError(f"method {self.method!r} has no cross-subject pretraining")

    def set_targets(self, contacts: ContactInfo, scalp_names: list[str] | None = None) -> None:
        """Decode ``contacts`` without calibration. Only for methods with ``supports_zero_shot``.

        Raises
        ------
        NotImplementedError
            For methods that need calibration.
        """
        raise NotImplementedError(f"method {self.method!r} cannot decode without calibration")

    @abstractmethod
    def calibrate(self, segment: PairedSegment, **kwargs: Any) -> dict[str, Any]:
        """Fit (or adapt) on one subject's paired data.

        Parameters
        ----------
        segment : PairedSegment
            Paired scalp/iEEG at :attr:`sfreq`.

        Returns
        -------
        info : dict
            JSON-serializable notes (chosen hyper-parameters, losses...).
        """

    @abstractmethod
    def predict(self, scalp: np.ndarray) -> np.ndarray:
        """Reconstruct the contacts.

        Parameters
        ----------
        scalp : ndarray, shape (n_scalp, n_times)
            Scalp EEG in volts at :attr:`sfreq`, rows in :attr:`scalp_names` order.

        Returns
        -------
        ieeg : ndarray, shape (n_contacts, n_times)
            Reconstructed iEEG in volts.
        """

    @abstractmethod
    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (JSON-serializable) so that ``cls(**params)`` rebuilds it."""

    @abstractmethod
    def state_dict(self) -> dict[str, np.ndarray]:
        """Every fitted array, by name (saved with safetensors)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned (shapes already validated)."""

    # --------------------------------------------------------------- helpers
    @property
    def is_calibrated(self) -> bool:
        """Whether the model knows its patient's contacts and scalp channels (can :meth:`predict`)."""
        return self.contacts is not None and bool(self.scalp_names)

    def band_offsets(self, levels: list[float] | tuple[float, ...]) -> np.ndarray:
        """Offsets of the exact posterior quantiles from :meth:`predict`, shape (len(levels), n_contacts), volts.

        Defined by the methods with :attr:`exact_bands` (``ridge-gauss``), whose
        quantiles are the point estimate plus a constant per contact.

        Raises
        ------
        TypeError
            If the method's bands are not exact (they are quantiles of draws).
        """
        raise TypeError(f"{self.method!r} has no exact bands: its band is the quantiles of posterior draws")

    def point_estimator(self) -> ReconModel:
        """The model whose :meth:`predict` the streaming path runs for the point estimate (default: itself).

        A method whose point estimate is a simpler model's (the flow's: its ridge
        location, :meth:`~ieegrecon.models.flow.FlowModel.point_estimator`) returns
        that model, so that :func:`~ieegrecon.workflow.reconstruct.reconstruct_file`
        streams it with that model's chunking (:attr:`max_chunk_s`, :attr:`reads_ahead`,
        :attr:`fragments_heap`). Its ``predict`` must equal this model's.
        """
        return self

    def prepare_sampling(self) -> None:
        """Build what :meth:`posterior` needs beyond :meth:`predict` (default: nothing).

        :func:`~ieegrecon.models.io.load_model` calls it unless told that no
        posterior will be drawn (``sampling=False``), so that weights that do not
        fit are refused at load. The flow builds its network here (importing torch).

        Raises
        ------
        ValueError
            Weights that do not fit.
        """

    def expected_state_shapes(self) -> dict[str, tuple[int, ...]] | None:
        """Shapes :meth:`load_state_dict` will accept, or None if not known in advance."""
        return None

    def check_scalp(self, scalp: np.ndarray) -> np.ndarray:
        """Validate the scalp array's shape against :attr:`scalp_names`.

        Raises
        ------
        ValueError
            On a wrong number of rows or a non-2-D array.
        """
        scalp = np.asarray(scalp, dtype=float)
        if scalp.ndim != 2 or scalp.shape[0] != len(self.scalp_names):
            raise ValueError(
                f"expected scalp of shape ({len(self.scalp_names)}, n_times), got {scalp.shape}"
            )
        return scalp


#: The built-in methods: name -> ``"module:Class"`` under :mod:`ieegrecon.models`. A static map
#: (no import-time registration): the command line names every method (``--help``, option checks)
#: without importing torch, and :func:`get_model_class` imports only the module of the method asked for.
BUILTIN_METHODS: dict[str, str] = {
    "ridge": "ridge:RidgeModel",
    "source": "source:SourceModel",
    "cast": "cast:CastModel",
    "flow": "flow:FlowModel",
    "ridge0": "ridge_variants:Ridge0Model",
    "ridge-cv": "ridge_variants:RidgeCVModel",
    "ridge-prior": "ridge_variants:RidgePriorModel",
    "xs-ridge": "xs_ridge:XsRidgeModel",
    "ridge-gauss": "ridge_gauss:RidgeGaussModel",
}

#: The linear baselines a "strongest linear" row is chosen from (docs/evaluation.md, "Baselines").
LINEAR_BASELINES: tuple[str, ...] = ("ridge", "ridge0", "ridge-cv", "ridge-prior", "xs-ridge")


def get_model_class(method: str) -> type[ReconModel]:
    """Return the class of the method named ``method`` (importing its module only).

    Parameters
    ----------
    method : str
        A name of :data:`BUILTIN_METHODS`.

    Returns
    -------
    cls : type of ReconModel

    Raises
    ------
    ValueError
        With the list of known methods if ``method`` is unknown.
    """
    if not isinstance(method, str) or method not in BUILTIN_METHODS:
        raise ValueError(
            f"Invalid value for the 'method' parameter. Allowed values are "
            f"{sorted(BUILTIN_METHODS)}, but got {method!r} instead."
        )
    module, _, cls_name = BUILTIN_METHODS[method].partition(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls_name)


def method_names() -> list[str]:
    """Names of the built-in methods, sorted (imports no method module, hence no torch)."""
    return sorted(BUILTIN_METHODS)


def available_methods() -> list[str]:
    """Names of every method :func:`get_model_class` can build, sorted (the same as :func:`method_names`)."""
    return method_names()
