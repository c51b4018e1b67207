"""One test subject, every method, every calibration length: the rows of the contacts table.

The protocol (:data:`PROTOCOL`, also written into ``stats.json``) fits each
method on the first M minutes of the calibration session, measures its
confidence there (:func:`ieegrecon.workflow.confidence.held_out`), then
scores it on the test part, one row per contact (:func:`contact_rows`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, UsageError
from ..metrics import contact_metrics, pearson_r
from ..models.base import PairedSegment, ReconModel, get_model_class
from ..workflow.confidence import CV_FOLDS, held_out
from ..workflow.factory import fit_model as _fit
from ..workflow.pieces import PieceFit, shift_bounds
from .ceilings import limit_samples, oracle_prediction, ridge_limit
from .config import IED_METRIC_COLS, LIMIT, ORACLE, POSTERIOR_COLS, EvalConfig, Progress
from .data import Subject, capped_samples, fit_samples, predict_part
from .draws import DRAW_SHAPE_COLS
from .posterior import posterior_metrics, samples_posterior
from .scoring import ied_columns, montage, scoring
from .selection import selection_columns, selection_threshold

#: The evaluation protocol, as ``stats.json`` states it.
PROTOCOL = """(per test subject, per method, per calibration length M):

1. Calibrate on the first M minutes of the subject's first session
   (``ses-01``); M = 0 is zero-shot for methods that support it.
2. Confidence, fixed before the test data are seen: Pearson r of the
   calibrated model on the rest of the calibration session (the held-out
   tail, when ≥ :data:`ieegrecon.workflow.confidence.MIN_HOLDOUT_S`), otherwise blocked
   5-fold cross-validation within the M minutes (as ``ieegrecon calibrate``).
3. Test on the subject's second session (``ses-02``). A subject with one
   session is tested on the part after the LARGEST requested M, or after
   ``limit_minutes`` when at least 10 s remain after it (so every M and the
   ridge-limit ceiling are tested on the same samples), and its confidence
   tail stops where the test part starts.
4. Metrics per contact (:mod:`ieegrecon.metrics`), aggregated per region, per
   subject and overall; "all contacts" always, the "viable" subset
   (confidence r ≥ ``viable_r``) and superficial/deep beside it. Targets and
   surrogates are first re-referenced the same way (``ieeg_reference``:
   recorded, bipolar or average), confidence included.
5. CAST's protocol: contacts whose confidence is at least a threshold chosen
   on the calibration session's held-out predictions only
   (:mod:`ieegrecon.evaluation.selection`); ``selected_r`` is their test r.
6. IED events: one detector (Janča et al. 2015, :mod:`ieegrecon.ied`) on the
   true iEEG, on each surrogate and on the scalp alone, matched against the
   simulator's ground-truth discharges (:mod:`ieegrecon.evaluation.events`);
   NaN without ground truth."""

#: How each held-out protocol kind is named in the ``confidence_source`` column.
CONFIDENCE_SOURCES = {"zero-shot": "zero-shot: whole calibration session", "tail": "calibration-session tail",
                      "cv": f"blocked {CV_FOLDS}-fold CV within calibration"}


def pretrained_folder(method: str, subject: str, cfg: EvalConfig) -> Path:
    """The pretrained model folder ``method`` uses for test subject ``subject``.

    Raises
    ------
    UsageError
        No folder for ``method``, or a single folder that saw the test subject.
    InputError
        With ``cfg.loso``, no ``fold-sub-XX`` folder for the subject.
    """
    from ..models.io import read_model_config

    if method not in cfg.pretrained:
        raise UsageError(f"method {method!r} needs pretrained models: set the 'pretrained' parameter ({method}=DIR)")
    base = Path(cfg.pretrained[method])
    if cfg.loso:
        folder = base / f"fold-sub-{subject}"
        if not folder.is_dir():
            raise InputError(f"no pretrained fold for test subject sub-{subject} (expected {folder.name}/)", base)
        return folder
    conf = read_model_config(base)
    seen = ((conf.get("trained_on") or {}).get("pretrain") or {}).get("subjects") or []
    if subject in seen or f"sub-{subject}" in seen:
        raise UsageError(f"pretrained model {base} saw test subject sub-{subject}; "
                         "set the 'loso' parameter and give fold folders")
    return base


def fit_model(method: str, seg: PairedSegment | None, cfg: EvalConfig, subject: str,
              zero_shot_seg: PairedSegment | None = None) -> ReconModel:
    """Calibrate ``method`` on ``seg`` (or set zero-shot targets from ``zero_shot_seg``)."""
    cls = get_model_class(method)
    use = cls.supports_pretrain and (cls.requires_pretrain or method in cfg.pretrained)
    pre = pretrained_folder(method, subject, cfg) if use else None
    if seg is None:
        return _fit(method, pre, zero_shot_seg, True, cfg.seed)
    return _fit(method, pre, seg, False, cfg.seed)


def confidence(method: str, sub: Subject, n_fit: int, model: ReconModel, cfg: EvalConfig
               ) -> tuple[np.ndarray, str, float]:
    """Held-out r of the calibrated ``model`` by the calibrate command's protocol
    (:func:`ieegrecon.workflow.confidence.held_out`), on the calibration session only, in the
    scored montage, and the CAST-protocol selection threshold chosen on the same held-out predictions.

    Returns
    -------
    r : ndarray, shape (n_channels,)
    source : str
        The protocol used, as the ``confidence_source`` column names it.
    threshold : float
        :func:`ieegrecon.evaluation.selection.selection_threshold` (``inf``: nothing selected).
    """
    fs = sub.cal.sfreq
    fit = PieceFit(lambda train, zs: fit_model(method, train, cfg, sub.label), sub.cal_bounds, n_fit)
    held = held_out(sub.cal.crop_samples(0, sub.cal_stop), n_fit, fit, model=model, say=fit.at_fold,
                    predict=lambda m, x: predict_part(m, x, shift_bounds(sub.cal_bounds, n_fit, n_fit + x.shape[1]),
                                                      fs), max_test=capped_samples(cfg, fs))
    y, y_hat = montage(sub, held.segment.ieeg, cfg), montage(sub, held.y_hat, cfg)
    r = held.r if cfg.ieeg_reference == "recorded" else pearson_r(y, y_hat)
    return r, CONFIDENCE_SOURCES[held.kind], selection_threshold(y, y_hat, cfg.viable_r)


def contact_rows(sub: Subject, method: str, minutes: float, y_hat: np.ndarray, conf: np.ndarray | None,
                 conf_source: str, cfg: EvalConfig, extra: dict[str, Any],
                 posterior: dict[str, np.ndarray] | None = None) -> list[dict[str, Any]]:
    """One row per scored channel (:mod:`ieegrecon.evaluation.scoring`): identity, region, confidence,
    the metrics of ``y_hat``, CAST's selection and the IED event metrics.

    Parameters
    ----------
    sub : Subject
    method : str
    minutes : float
        Calibration minutes (NaN for the oracle).
    y_hat : ndarray, shape (n_contacts, n_times)
        Reconstruction of the test part, contacts as recorded, volts.
    conf : ndarray, shape (n_channels,) | None
        Confidence r in the scored montage (None for ceilings).
    conf_source : str
    cfg : EvalConfig
    extra : dict
        Columns repeated on every row (``fit_s``, ``train_minutes``; ``selection_threshold``
        selects contacts by ``conf``, see :mod:`ieegrecon.evaluation.selection`).
    posterior : dict | None
        :func:`~ieegrecon.evaluation.posterior.posterior_metrics` (sampling methods).
    """
    sc = scoring(sub, cfg)
    fs = sub.test.sfreq
    y_hat = montage(sub, y_hat, cfg)
    m = contact_metrics(sc.y_true, y_hat, fs, window_s=cfg.window_s)
    m.update({k: np.full(len(m["r"]), np.nan) for k in POSTERIOR_COLS + DRAW_SHAPE_COLS})
    m.update(posterior or {})
    m.update(selection_columns(m["r"], conf, extra.get("selection_threshold")))
    m.update(ied_columns(sc, y_hat, fs, cfg) if cfg.ied else {k: np.full(len(m["r"]), np.nan)
                                                               for k in IED_METRIC_COLS})
    reg = sub.regions
    rows = []
    for i, (c, j) in enumerate(zip(sc.names, sc.region_rows)):
        cr = None if conf is None or not np.isfinite(conf[i]) else float(conf[i])
        row = {"subject": sub.label, "method": method, "minutes": minutes, "contact": c,
               "region": str(reg["region_key"].iloc[j]), "depth_class": str(reg["depth_class"].iloc[j]),
               "distance_to_scalp_mm": float(reg["distance_to_scalp_mm"].iloc[j]),
               "confidence_r": cr, "confidence_source": conf_source,
               "viable": bool(cr is not None and cr >= cfg.viable_r)}
        row.update({k: float(v[i]) for k, v in m.items()})
        row.update(extra)
        rows.append(row)
    return rows


def ceiling_rows(sub: Subject, root: Path, cfg: EvalConfig, say: Progress) -> tuple[list[dict], list[str]]:
    """Rows of the oracle (when a ground truth exists) and of the ridge limit, and what was cut short."""
    rows: list[dict] = []
    skipped: list[str] = []
    fs = sub.cal.sfreq
    oracle = oracle_prediction(sub, root, cfg) if cfg.oracle else None
    if oracle is not None:
        y_hat, seconds = oracle
        rows += contact_rows(sub, ORACLE, float("nan"), y_hat, None, "", cfg,
                             {"fit_s": seconds, "train_minutes": float("nan")})
    if cfg.limit_minutes:
        n_lim = limit_samples(sub, cfg)
        say(f"sub-{sub.label}: {LIMIT} on {n_lim / fs / 60:.2f} min")
        y_hat, fit_s = ridge_limit(sub, n_lim, cfg)
        rows += contact_rows(sub, LIMIT, n_lim / fs / 60, y_hat, None, "", cfg,
                             {"fit_s": fit_s, "train_minutes": n_lim / fs / 60})
        if n_lim < cfg.limit_minutes * 60 * fs:
            skipped.append(f"sub-{sub.label}: {LIMIT} trained on {n_lim / fs / 60:.2f} min only "
                           f"(< {cfg.limit_minutes:g} requested; calibration session is shorter)")
    return rows, skipped


def _skip_reason(sub: Subject, method: str, M: float, n_fit: int, zero_shot_ok: bool) -> str | None:
    """Why ``method`` cannot run at ``M`` minutes on ``sub`` (None: it can)."""
    fs = sub.cal.sfreq
    if n_fit == 0 and not zero_shot_ok:
        return f"sub-{sub.label}: {method} at 0 min (no zero-shot)"
    if n_fit > sub.cal_stop:
        return f"sub-{sub.label}: {method} at {M:g} min (calibration data {sub.cal_stop / fs / 60:.2f} min)"
    return None


def method_rows(sub: Subject, method: str, M: float, cfg: EvalConfig, say: Progress) -> list[dict]:
    """Fit ``method`` on the first ``M`` calibration minutes, its confidence, and its rows on the test part."""
    fs = sub.cal.sfreq
    n_fit = fit_samples(sub, M)
    say(f"sub-{sub.label}: {method} calibrated on {M:g} min")
    t0 = time.perf_counter()
    if n_fit == 0:
        model = fit_model(method, None, cfg, sub.label, zero_shot_seg=sub.cal)
    else:
        model = PieceFit(lambda train, zs: fit_model(method, train, cfg, sub.label), sub.cal_bounds, n_fit)(
            sub.cal.crop_samples(0, n_fit), False)
    fit_s = time.perf_counter() - t0
    conf, src, threshold = confidence(method, sub, n_fit, model, cfg)
    y_hat = predict_part(model, sub.test.scalp, sub.test_bounds, fs)
    post = None
    if samples_posterior(model) and cfg.ieeg_reference == "recorded":  # draws are scored as recorded only
        say(f"sub-{sub.label}: {method} {cfg.n_draws} posterior draws")
        post = posterior_metrics(model, sub.test.ieeg, sub.test.scalp, fs, n_draws=cfg.n_draws,
                                 n_metric_draws=cfg.n_metric_draws, seed=cfg.seed, bounds=sub.test_bounds,
                                 onsets=scoring(sub, cfg).truth)  # recorded montage: one entry per contact
    return contact_rows(sub, method, float(M), y_hat, conf, src, cfg,
                        {"fit_s": fit_s, "train_minutes": float(M), "selection_threshold": threshold}, post)


def evaluate_subject(sub: Subject, root: Path, cfg: EvalConfig, say: Progress) -> tuple[list[dict], list[str]]:
    """Every method, calibration length and ceiling for one test subject.

    Returns
    -------
    rows : list of dict
        One per (method, minutes, contact).
    skipped : list of str
        What could not be run and why.
    """
    rows, skipped = ceiling_rows(sub, root, cfg, say)
    for method in cfg.methods:
        zero_shot_ok = get_model_class(method).supports_zero_shot
        for M in cfg.calibration_minutes:
            reason = _skip_reason(sub, method, M, fit_samples(sub, M), zero_shot_ok)
            if reason is not None:
                skipped.append(reason)
                continue
            rows += method_rows(sub, method, M, cfg, say)
    return rows, skipped
