"""Settings of an evaluation run (:class:`EvalConfig`), its result (:class:`EvalResult`) and the names
every evaluation module shares: the ceiling methods, the contact subsets and the metric columns."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_option
from ..errors import UsageError
from ..montages import SCHEMES
from .draws import DRAW_SHAPE_COLS
from .events import IED_COLS, IED_REF_COLS
from ..models.base import get_model_class
from ..preprocessing import Preprocessing

#: Method name of the ground-truth oracle ceiling (simulated data only).
ORACLE = "oracle"
#: Method name of the lagged-ridge large-data ceiling.
LIMIT = "ridge-limit"
#: Methods evaluated when none are named: lagged ridge, the linear baselines of issue #17 beside it
#: (their best per subject is the strongest-linear row, :mod:`ieegrecon.evaluation.stats`) and the
#: source-space method. Cross-subject methods need pretrained models, so :func:`default_methods` adds
#: them only when given one (``xs-ridge``, ``cast``, ``flow``).
DEFAULT_METHODS = ("ridge", "ridge0", "ridge-cv", "ridge-prior", "ridge-gauss", "source")
#: Subsets reported beside "all" ("hipp_amyg": contacts whose region is a hippocampus or an amygdala).
SUBSETS = ("all", "viable", "superficial", "deep", "hipp_amyg")
#: Columns of sampling methods only (NaN for the others), see
#: :func:`ieegrecon.evaluation.posterior.posterior_metrics`.
POSTERIOR_COLS = ("coverage90", "draw_bp_err_delta", "draw_bp_err_theta", "draw_bp_err_alpha",
                  "draw_bp_err_beta", "draw_bp_err_gamma", "draw_psd_hellinger", "draw_fc_alpha_rel_err",
                  "draw_fc_alpha_rel_err_total")
#: Per-contact metric columns averaged in the subject and summary tables.
METRIC_COLS = ("r", "r_win_median", "nmse", "rmse_uv", "bp_err_delta", "bp_err_theta", "bp_err_alpha",
               "bp_err_beta", "bp_err_gamma", "psd_hellinger", "fc_alpha_rel_err") + POSTERIOR_COLS[:-1]
#: CAST's protocol (:mod:`ieegrecon.evaluation.selection`): test r of the contacts selected on calibration
#: data (NaN on the others, so its mean is the mean over selected contacts), and 1/0 selected (its mean: the
#: fraction selected).
SELECTION_COLS = ("selected_r", "selected_fraction")
#: IED event metrics (:mod:`ieegrecon.evaluation.events`): the surrogate's, then the detector's on the true
#: iEEG and on the scalp alone.
IED_METRIC_COLS = IED_COLS + IED_REF_COLS
METRIC_COLS = METRIC_COLS + DRAW_SHAPE_COLS + SELECTION_COLS + IED_METRIC_COLS

#: Called with one-line progress messages.
Progress = Callable[[str], None]


@dataclass
class EvalConfig:
    """Settings of one evaluation run.

    Parameters
    ----------
    methods : list of str
        Registered methods (:func:`ieegrecon.models.available_methods`).
    calibration_minutes : list of float
        Calibration lengths M (minutes; 0 = zero-shot).
    loso : bool
        Pretrained methods take ``pretrained[method]/fold-sub-XX`` per test subject.
    pretrained : dict of str -> Path
        Pretrained folder per cross-subject method.
    limit_minutes : float | None
        Training minutes of the ``ridge-limit`` ceiling (None: not computed).
    oracle : bool
        Compute the ground-truth oracle where a ground-truth file exists.
    viable_r : float
        Confidence threshold of the "viable" subset.
    window_s : float
        Window of the windowed r (s).
    n_boot : int
        Bootstrap resamples over subjects.
    seed : int
        Seed of the bootstrap and of trained methods.
    subjects : list of str | None
        Subset of subjects (labels without ``sub-``).
    prep : Preprocessing
        Preprocessing of scalp and iEEG.
    atlas : str
        Atlas for contact regions.
    test_minutes : float | None
        Score on at most this many minutes of the test part (its start), and
        cap the confidence tail likewise (None: all of it).
    n_draws : int
        Posterior draws of sampling methods (``flow``) for the 90 % bands
        (coverage) and the draw metrics.
    n_metric_draws : int
        Of those, how many are scored as surrogates (band power, PSD,
        connectivity), the errors averaged over them.
    ieeg_reference : str
        Montage targets and surrogates are scored in (both re-referenced the
        same way, after prediction): ``'recorded'`` (as recorded),
        ``'bipolar'`` (adjacent contacts of each shaft) or ``'average'``
        (common average of the contacts); :func:`ieegrecon.montages.rereference`.
    ied : bool
        Compute the IED event metrics (:mod:`ieegrecon.evaluation.events`).
    """

    methods: list[str]
    calibration_minutes: list[float] = field(default_factory=lambda: [1.0, 2.0, 5.0, 10.0])
    loso: bool = True
    pretrained: dict[str, Path] = field(default_factory=dict)
    limit_minutes: float | None = 30.0
    oracle: bool = True
    viable_r: float = 0.3
    window_s: float = 2.0
    n_boot: int = 2000
    seed: int = 0
    subjects: list[str] | None = None
    prep: Preprocessing = field(default_factory=Preprocessing)
    atlas: str = "desikan_killiany"
    test_minutes: float | None = None
    n_draws: int = 32
    n_metric_draws: int = 8
    ieeg_reference: str = "recorded"
    ied: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        d = dict(self.__dict__)
        d["pretrained"] = {k: str(v) for k, v in self.pretrained.items()}
        d["prep"] = self.prep.to_dict()
        return d


@dataclass
class EvalResult:
    """Tables of one run (pandas DataFrames) and the statistics (JSON-serializable).

    ``by_region``: :func:`ieegrecon.evaluation.regions.region_detail` (r, selected r, IED F1 per
    atlas region and depth class)."""

    contacts: Any
    subjects: Any
    regions: Any
    summary: Any
    stats: dict[str, Any]
    out: Path | None = None
    by_region: Any = None


def default_methods(pretrained: Iterable[str] = ()) -> list[str]:
    """The methods evaluated when none are named.

    Parameters
    ----------
    pretrained : iterable of str
        Methods given a pretrained model folder (the keys of ``EvalConfig.pretrained``).

    Returns
    -------
    list of str
        :data:`DEFAULT_METHODS`, then every method of ``pretrained`` that is
        trained across subjects (``supports_pretrain``: ``xs-ridge``, ``cast``,
        ``flow``), in the order given; unknown names are kept, for
        :func:`check_config` to refuse.
    """
    out = list(DEFAULT_METHODS)
    for m in pretrained:
        try:
            cross = get_model_class(m).supports_pretrain
        except ValueError:
            cross = True
        if cross and m not in out:
            out.append(m)
    return out


def check_config(cfg: EvalConfig) -> None:
    """Refuse settings no subject can be evaluated with, before any data are read.

    Raises
    ------
    UsageError
        No method, an unknown method, a method that needs a pretrained model
        without one (the 'pretrained' parameter), calibration lengths that
        are empty or negative, or an unknown 'ieeg_reference'.
    """
    if not cfg.methods:
        raise UsageError("the 'methods' parameter is empty")
    for m in cfg.methods:
        try:
            cls = get_model_class(m)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if cls.requires_pretrain and m not in cfg.pretrained:
            raise UsageError(f"method {m!r} needs pretrained models: set the 'pretrained' parameter "
                             f"({m}=DIR; DIR/fold-sub-XX/ per test subject with the 'loso' parameter)")
    if any(M < 0 for M in cfg.calibration_minutes) or not cfg.calibration_minutes:
        raise UsageError("the 'calibration_minutes' parameter must be a non-empty list of numbers ≥ 0")
    check_option("ieeg_reference", cfg.ieeg_reference, SCHEMES)


def jsonable(o: Any) -> Any:
    """``o`` with dict keys as str, tuples as lists, NaN/inf as None and numpy scalars as Python numbers."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    return o
