"""Leave-one-subject-out benchmark of reconstruction methods (``ieegrecon evaluate``).

Protocol (per test subject, per method, per calibration length M):

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
   (confidence r ≥ ``viable_r``) and superficial/deep beside it.

Cross-subject methods (``supports_pretrain``) never pretrain here: with
``loso`` each test subject ``XX`` takes the pretrained model folder
``PRETRAINED/fold-sub-XX/`` (written by ``ieegrecon pretrain --loso``);
otherwise ``PRETRAINED`` is one model folder that must not list the test
subject among its pretraining subjects. A method whose pretraining is
optional (``flow``) and that is given no ``--pretrained`` folder is trained
from scratch on the test subject's calibration minutes only.

Two ceilings:

- ``oracle`` (simulated data only): the instantaneous linear minimum-MSE
  estimator from the ground truth (:func:`oracle_weights`).
- ``ridge-limit``: lagged ridge fitted on up to ``limit_minutes`` of the
  subject's calibration session (what a linear filter reaches with much data).

Statistics across subjects: SD across folds, seeded bootstrap 95 % CIs of the
mean over subjects, paired Wilcoxon signed-rank tests between methods
(:func:`scipy.stats.wilcoxon`), and the Spearman correlation between
confidence and test r (:func:`scipy.stats.spearmanr`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .channels import normalize_ch_name
from .errors import InputError, OutputError, UsageError
from .metrics import contact_metrics
from .models.base import PairedSegment, ReconModel, get_model_class
from .preprocessing import Preprocessing, apply_preprocessing
from .workflow.chunking import ARRAY_CHUNK_S, MARGIN_S, chunk_bounds, predict_array
from .workflow.confidence import CV_FOLDS, held_out
from .workflow.factory import fit_model as _fit
from .workflow.inputs import contact_info, load_paired_recordings, make_segment, map_regions

#: Ground-truth derivative folder written by ``ieegrecon simulate``.
GROUNDTRUTH_DERIV = Path("derivatives") / "ieegrecon-sim"
ORACLE = "oracle"
LIMIT = "ridge-limit"
#: Subsets reported beside "all" ("hipp_amyg": contacts whose region is a hippocampus or an amygdala).
SUBSETS = ("all", "viable", "superficial", "deep", "hipp_amyg")

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        d = dict(self.__dict__)
        d["pretrained"] = {k: str(v) for k, v in self.pretrained.items()}
        d["prep"] = self.prep.to_dict()
        return d


@dataclass
class EvalResult:
    """Tables of one run (pandas DataFrames) and the statistics (JSON-serializable)."""

    contacts: Any
    subjects: Any
    regions: Any
    summary: Any
    stats: dict[str, Any]
    out: Path | None = None


# --------------------------------------------------------------------------- data
@dataclass
class _Subject:
    label: str
    cal: PairedSegment
    test: PairedSegment
    test_offset: int  # samples of the test part within its session (single-session protocol)
    cal_stop: int  # samples of the calibration session usable (confidence tail stops here)
    regions: Any  # DataFrame, rows in cal.contacts order
    test_session: Path
    single_session: bool
    notes: list[str]


def discover_subjects(root: str | Path) -> dict[str, list[Path]]:
    """BIDS subjects with paired data and their session folders (sorted).

    Parameters
    ----------
    root : path-like
        BIDS root.

    Returns
    -------
    dict of subject label (no ``sub-``) -> list of session folders

    Raises
    ------
    InputError
        No session with both ``eeg/`` and ``ieeg/``.
    """
    from .io.bids import find_sessions

    out: dict[str, list[Path]] = {}
    for s in find_sessions(root):
        if (s / "eeg").is_dir() and (s / "ieeg").is_dir():
            sub = (s.parent if s.name.startswith("ses-") else s).name.removeprefix("sub-")
            out.setdefault(sub, []).append(s)
    if not out:
        raise InputError("no BIDS session holds both eeg/ and ieeg/", root)
    return {k: sorted(v) for k, v in sorted(out.items())}


def _read_session(path: Path, cfg: EvalConfig, subject: str):
    scalp, intra = load_paired_recordings(path)
    regions = map_regions(intra, cfg.atlas)
    return make_segment(scalp, intra, contact_info(intra, regions), cfg.prep, subject), regions


def _common(seg: PairedSegment, scalp_names: list[str], contacts: list[str]) -> PairedSegment:
    from .models.base import ContactInfo

    si = [seg.scalp_names.index(n) for n in scalp_names]
    ci = [seg.contacts.ch_names.index(n) for n in contacts]
    c = seg.contacts.subset(ci)
    return PairedSegment(seg.scalp[si], seg.ieeg[ci], seg.sfreq, list(scalp_names),
                         ContactInfo(c.ch_names, c.positions, c.regions, c.depth_class), seg.subject)


def load_subject(label: str, sessions: list[Path], cfg: EvalConfig) -> _Subject:
    """Read and preprocess one subject's calibration and test data (see module protocol)."""
    cal, regions = _read_session(sessions[0], cfg, label)
    notes: list[str] = []
    fs = cal.sfreq
    if len(sessions) >= 2:
        test, _ = _read_session(sessions[1], cfg, label)
        scalp = [n for n in cal.scalp_names if n in test.scalp_names]
        contacts = [n for n in cal.contacts.ch_names if n in test.contacts.ch_names]
        if not scalp or not contacts:
            raise InputError("calibration and test sessions share no scalp channel or no contact", sessions[1])
        if len(contacts) < len(cal.contacts.ch_names):
            notes.append(f"{len(cal.contacts.ch_names) - len(contacts)} contacts absent from the test session")
        regions = regions.set_index("name").loc[contacts].reset_index()
        return _cap_test(_Subject(label, _common(cal, scalp, contacts), _common(test, scalp, contacts), 0,
                                  cal.scalp.shape[1], regions, sessions[1], False, notes), cfg)
    start = int(round(max(cfg.calibration_minutes) * 60 * fs))
    n = cal.scalp.shape[1]
    if n - start < 10 * fs:
        raise InputError(f"single session of {n / fs / 60:.2f} min leaves < 10 s after the largest "
                         f"calibration length ({max(cfg.calibration_minutes):g} min) for testing", sessions[0])
    if cfg.limit_minutes:  # the ridge-limit ceiling trains before the test part too: test after it if possible
        limit_stop = int(round(cfg.limit_minutes * 60 * fs))
        if n - limit_stop >= 10 * fs:
            start = max(start, limit_stop)
    notes.append(f"one session only: tested on the {(n - start) / fs / 60:.2f} min after "
                 f"{start / fs / 60:g} min")
    return _cap_test(_Subject(label, cal, cal.crop_samples(start, n), start, start, regions, sessions[0], True,
                              notes), cfg)


def _cap_test(sub: _Subject, cfg: EvalConfig) -> _Subject:
    """Keep the first ``cfg.test_minutes`` of the test part (see :class:`EvalConfig`)."""
    n_cap = _test_cap(cfg, sub.test.sfreq)
    if n_cap is not None and sub.test.scalp.shape[1] > n_cap:
        sub.notes.append(f"scored on the first {cfg.test_minutes:g} min of the test part "
                         f"({sub.test.scalp.shape[1] / sub.test.sfreq / 60:.2f} min available)")
        sub.test = sub.test.crop_samples(0, n_cap)
    return sub


def _test_cap(cfg: EvalConfig, sfreq: float) -> int | None:
    return None if not cfg.test_minutes else int(round(cfg.test_minutes * 60 * sfreq))


# --------------------------------------------------------------------------- oracle
def oracle_weights(scalp_forward: np.ndarray, ieeg_forward: np.ndarray, source_cov: np.ndarray,
                   noise_cov: np.ndarray, *, rcond: float = 1e-10) -> np.ndarray:
    """Instantaneous linear minimum-MSE estimator of the contacts from the scalp.

    With scalp ``x = A s + n`` and contacts ``y = B s + e`` (sources ``s``,
    scalp noise ``n`` and contact-only activity ``e`` mutually uncorrelated,
    zero mean), the best linear estimate is ``E[y | x] = Σ_yx Σ_xx⁻¹ x``
    with ``Σ_yx = B Σ_ss Aᵀ`` and ``Σ_xx = A Σ_ss Aᵀ + Σ_nn``; it is the
    conditional mean (Bayes-optimal) when everything is Gaussian.

    Parameters
    ----------
    scalp_forward : ndarray, shape (n_scalp, n_sources)
        ``A`` in V/(A·m), already in the scalp reference used.
    ieeg_forward : ndarray, shape (n_contacts, n_sources)
        ``B`` in V/(A·m).
    source_cov : ndarray, shape (n_sources, n_sources)
        ``Σ_ss`` in (A·m)².
    noise_cov : ndarray, shape (n_scalp, n_scalp)
        ``Σ_nn`` in V², in the same reference.
    rcond : float
        Relative cut-off of the pseudo-inverse (an average reference makes
        ``Σ_xx`` rank-deficient by one).

    Returns
    -------
    W : ndarray, shape (n_contacts, n_scalp)
        ``ŷ = W x``.
    """
    A, B = np.asarray(scalp_forward, float), np.asarray(ieeg_forward, float)
    sxx = A @ source_cov @ A.T + noise_cov
    syx = B @ source_cov @ A.T
    return syx @ np.linalg.pinv(sxx, rcond=rcond, hermitian=True)


def groundtruth_path(root: str | Path, session: Path) -> Path:
    """Where ``ieegrecon simulate`` wrote the ground truth of a session folder."""
    sub = session.parent.name if session.name.startswith("ses-") else session.name
    ses = session.name if session.name.startswith("ses-") else ""
    stem = f"{sub}_{ses}" if ses else sub
    return Path(root) / GROUNDTRUTH_DERIV / sub / ses / f"{stem}_groundtruth.h5"


def groundtruth_oracle(h5_path: str | Path, scalp_names: list[str], contact_names: list[str],
                       prep: Preprocessing) -> np.ndarray:
    """The oracle's weights for one simulated session (see :func:`oracle_weights`).

    Reads the ground truth written by ``ieegrecon simulate``: region moments at
    the scalp rate (``sources/moments_scalp_rate``), forward matrices
    (``scalp/forward``, ``ieeg/forward``) and scalp noise
    (``scalp/noise + scalp/artifacts``). Sources and noise pass through the same
    preprocessing as the recordings (resampling, high-pass, notch: linear and
    identical per channel, so they commute with the spatial map); the average
    reference is the projector ``P = I - 11ᵀ/n`` applied to ``A`` and to the
    noise. ``Σ_ss`` and ``Σ_nn`` are the sample covariances over the session.

    Parameters
    ----------
    h5_path : path-like
        ``..._groundtruth.h5``.
    scalp_names : list of str, length n_scalp
        Scalp channels in the order of the data ``W`` will multiply.
    contact_names : list of str, length n_contacts
    prep : Preprocessing

    Returns
    -------
    W : ndarray, shape (n_contacts, n_scalp)

    Raises
    ------
    InputError
        When the file lacks a channel or a dataset.
    """
    import h5py

    path = Path(h5_path)
    try:
        with h5py.File(path, "r") as f:
            sc_names = [normalize_ch_name(n.decode() if isinstance(n, bytes) else str(n)) for n in f["scalp/ch_names"][:]]
            ie_names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["ieeg/ch_names"][:]]
            sfs = float(f["scalp"].attrs["sfreq"])
            A = f["scalp/forward"][:]
            B = f["ieeg/forward"][:]
            S = f["sources/moments_scalp_rate"][:]
            N = f["scalp/noise"][:] + f["scalp/artifacts"][:]
    except (OSError, KeyError) as exc:
        raise InputError(f"unreadable ground truth ({exc})", path) from None
    try:
        si = [sc_names.index(normalize_ch_name(n)) for n in scalp_names]
        ci = [ie_names.index(n) for n in contact_names]
    except ValueError as exc:
        raise InputError(f"ground truth lacks a channel: {exc}", path) from None
    S = apply_preprocessing(S, sfs, prep, reference=False)
    N = apply_preprocessing(N[si], sfs, prep, reference=False)
    n = len(si)
    P = np.eye(n) - 1.0 / n if prep.scalp_reference == "average" else np.eye(n)
    A = P @ A[si]
    css = np.cov(S)
    cnn = P @ np.cov(N) @ P.T
    return oracle_weights(A, B[ci], css, cnn)


# --------------------------------------------------------------------------- models
def _pretrained_folder(method: str, subject: str, cfg: EvalConfig) -> Path:
    from .models.io import read_model_config

    if method not in cfg.pretrained:
        raise UsageError(f"method {method!r} needs pretrained models: pass --pretrained {method}=DIR")
    base = Path(cfg.pretrained[method])
    if cfg.loso:
        folder = base / f"fold-sub-{subject}"
        if not folder.is_dir():
            raise InputError(f"no pretrained fold for test subject sub-{subject} (expected {folder.name}/)", base)
        return folder
    conf = read_model_config(base)
    seen = ((conf.get("trained_on") or {}).get("pretrain") or {}).get("subjects") or []
    if subject in seen or f"sub-{subject}" in seen:
        raise UsageError(f"pretrained model {base} saw test subject sub-{subject}; use --loso with fold folders")
    return base


def fit_model(method: str, seg: PairedSegment | None, cfg: EvalConfig, subject: str,
              zero_shot_seg: PairedSegment | None = None) -> ReconModel:
    """Calibrate ``method`` on ``seg`` (or set zero-shot targets from ``zero_shot_seg``)."""
    cls = get_model_class(method)
    use = cls.supports_pretrain and (cls.requires_pretrain or method in cfg.pretrained)
    pre = _pretrained_folder(method, subject, cfg) if use else None
    if seg is None:
        return _fit(method, pre, zero_shot_seg, True, cfg.seed)
    return _fit(method, pre, seg, False, cfg.seed)


def _confidence(method: str, sub: _Subject, n_fit: int, model: ReconModel, cfg: EvalConfig
                ) -> tuple[np.ndarray, str]:
    """Held-out r of the calibrated ``model`` by the calibrate command's protocol
    (:func:`ieegrecon.workflow.confidence.held_out`), on the calibration session only."""
    fs = sub.cal.sfreq
    held = held_out(sub.cal.crop_samples(0, sub.cal_stop), n_fit,
                    lambda train, zs: fit_model(method, train, cfg, sub.label), model=model,
                    predict=lambda m, x: predict_array(m, x, fs), max_test=_test_cap(cfg, fs))
    text = {"zero-shot": "zero-shot: whole calibration session", "tail": "calibration-session tail",
            "cv": f"blocked {CV_FOLDS}-fold CV within calibration"}[held.kind]
    return held.r, text


def posterior_metrics(model: ReconModel, y: np.ndarray, scalp: np.ndarray, sfreq: float, *, n_draws: int = 32,
                      n_metric_draws: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """Coverage of the 90 % bands and surrogate metrics of posterior draws (sampling methods).

    The recording is drawn in :data:`~ieegrecon.workflow.chunking.ARRAY_CHUNK_S` pieces with context (the
    draws of consecutive pieces are independent); only ``n_metric_draws``
    draws are kept whole, as float32, so memory stays bounded.

    Parameters
    ----------
    model : ReconModel
        A calibrated model with ``posterior(scalp, n_samples, q, seed)``
        (:meth:`ieegrecon.models.flow.FlowModel.posterior`).
    y : ndarray, shape (n_contacts, n_times)
        True iEEG, volts.
    scalp : ndarray, shape (n_scalp, n_times)
        Volts.
    sfreq : float
        Hz.
    n_draws, n_metric_draws, seed : int

    Returns
    -------
    dict of str -> ndarray, shape (n_contacts,)
        ``coverage90`` (fraction of true samples inside the 5-95 % band) and,
        averaged over the scored draws, ``draw_bp_err_<band>``,
        ``draw_psd_hellinger``, ``draw_fc_alpha_rel_err`` and the
        per-recording ``draw_fc_alpha_rel_err_total`` (repeated).
    """
    from .metrics import BANDS, alpha_fc_error, band_power_error, psd_hellinger

    n = scalp.shape[1]
    inside = np.zeros(y.shape[0])
    keep = np.zeros((n_metric_draws,) + y.shape, np.float32)
    for k, (a, b, lo_i, hi_i) in enumerate(chunk_bounds(n, int(ARRAY_CHUNK_S * sfreq), int(MARGIN_S * sfreq))):
        sl = slice(a - lo_i, b - lo_i)
        draws, lo, _, hi = model.posterior(scalp[:, lo_i:hi_i], n_samples=n_draws, seed=seed + k)
        inside += ((y[:, a:b] >= lo[:, sl]) & (y[:, a:b] <= hi[:, sl])).sum(axis=1)
        keep[:, :, a:b] = draws[:n_metric_draws, :, sl]
        del draws
    out: dict[str, np.ndarray] = {"coverage90": inside / n}
    acc: dict[str, list[np.ndarray]] = {}
    for d in keep.astype(float):
        bpe = band_power_error(y, d, sfreq)
        for j, name in enumerate(BANDS):
            acc.setdefault(f"draw_bp_err_{name}", []).append(bpe[:, j])
        acc.setdefault("draw_psd_hellinger", []).append(psd_hellinger(y, d, sfreq))
        total, row = alpha_fc_error(y, d, sfreq)
        acc.setdefault("draw_fc_alpha_rel_err", []).append(row)
        acc.setdefault("draw_fc_alpha_rel_err_total", []).append(np.full(y.shape[0], total))
    out.update({k: np.nanmean(np.stack(v), axis=0) for k, v in acc.items()})
    return out


# --------------------------------------------------------------------------- rows
def _rows(sub: _Subject, method: str, minutes: float, y_hat: np.ndarray, conf: np.ndarray | None,
          conf_source: str, cfg: EvalConfig, extra: dict[str, Any],
          posterior: dict[str, np.ndarray] | None = None) -> list[dict[str, Any]]:
    m = contact_metrics(sub.test.ieeg, y_hat, sub.test.sfreq, window_s=cfg.window_s)
    m.update({k: np.full(len(m["r"]), np.nan) for k in _POSTERIOR_COLS})
    m.update(posterior or {})
    reg = sub.regions
    rows = []
    for i, c in enumerate(sub.test.contacts.ch_names):
        cr = None if conf is None or not np.isfinite(conf[i]) else float(conf[i])
        row = {"subject": sub.label, "method": method, "minutes": minutes, "contact": c,
               "region": str(reg["region_key"].iloc[i]), "depth_class": str(reg["depth_class"].iloc[i]),
               "distance_to_scalp_mm": float(reg["distance_to_scalp_mm"].iloc[i]),
               "confidence_r": cr, "confidence_source": conf_source,
               "viable": bool(cr is not None and cr >= cfg.viable_r)}
        row.update({k: float(v[i]) for k, v in m.items()})
        row.update(extra)
        rows.append(row)
    return rows


def evaluate_subject(sub: _Subject, root: Path, cfg: EvalConfig, say: Progress) -> tuple[list[dict], list[str]]:
    """Every method, calibration length and ceiling for one test subject.

    Returns
    -------
    rows : list of dict
        One per (method, minutes, contact).
    skipped : list of str
        What could not be run and why.
    """
    fs = sub.cal.sfreq
    rows: list[dict] = []
    skipped: list[str] = []
    n_cal = sub.cal_stop
    if cfg.oracle:
        h5 = groundtruth_path(root, sub.test_session)
        if h5.exists():
            t0 = time.perf_counter()
            W = groundtruth_oracle(h5, sub.test.scalp_names, sub.test.contacts.ch_names, cfg.prep)
            rows += _rows(sub, ORACLE, float("nan"), W @ sub.test.scalp, None, "", cfg,
                          {"fit_s": time.perf_counter() - t0, "train_minutes": float("nan")})
    if cfg.limit_minutes:
        n_lim = min(n_cal, int(round(cfg.limit_minutes * 60 * fs)))
        say(f"sub-{sub.label}: {LIMIT} on {n_lim / fs / 60:.2f} min")
        t0 = time.perf_counter()
        model = fit_model("ridge", sub.cal.crop_samples(0, n_lim), cfg, sub.label)
        fit_s = time.perf_counter() - t0
        rows += _rows(sub, LIMIT, n_lim / fs / 60, predict_array(model, sub.test.scalp, fs), None, "", cfg,
                      {"fit_s": fit_s, "train_minutes": n_lim / fs / 60})
        if n_lim < cfg.limit_minutes * 60 * fs:
            skipped.append(f"sub-{sub.label}: {LIMIT} trained on {n_lim / fs / 60:.2f} min only "
                           f"(< {cfg.limit_minutes:g} requested; calibration session is shorter)")
    for method in cfg.methods:
        cls = get_model_class(method)
        for M in cfg.calibration_minutes:
            n_fit = int(round(M * 60 * fs))
            if n_fit == 0 and not cls.supports_zero_shot:
                skipped.append(f"sub-{sub.label}: {method} at 0 min (no zero-shot)")
                continue
            if n_fit > n_cal:
                skipped.append(f"sub-{sub.label}: {method} at {M:g} min (calibration data "
                               f"{n_cal / fs / 60:.2f} min)")
                continue
            say(f"sub-{sub.label}: {method} calibrated on {M:g} min")
            t0 = time.perf_counter()
            if n_fit == 0:
                model = fit_model(method, None, cfg, sub.label, zero_shot_seg=sub.cal)
            else:
                model = fit_model(method, sub.cal.crop_samples(0, n_fit), cfg, sub.label)
            fit_s = time.perf_counter() - t0
            conf, src = _confidence(method, sub, n_fit, model, cfg)
            y_hat = predict_array(model, sub.test.scalp, fs)
            post = None
            if hasattr(model, "posterior"):
                say(f"sub-{sub.label}: {method} {cfg.n_draws} posterior draws")
                post = posterior_metrics(model, sub.test.ieeg, sub.test.scalp, fs, n_draws=cfg.n_draws,
                                         n_metric_draws=cfg.n_metric_draws, seed=cfg.seed)
            rows += _rows(sub, method, float(M), y_hat, conf, src, cfg,
                          {"fit_s": fit_s, "train_minutes": float(M)}, post)
    return rows, skipped


# --------------------------------------------------------------------------- statistics
def bootstrap_ci(values: np.ndarray, n_boot: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (resampling subjects with replacement).

    Parameters
    ----------
    values : ndarray, shape (n_subjects,)
        NaNs are dropped.
    n_boot : int
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    level : float

    Returns
    -------
    (low, high) : floats (NaN with fewer than 2 values)
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < 2 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    q = (1 - level) / 2
    return float(np.quantile(means, q)), float(np.quantile(means, 1 - q))


#: Columns of sampling methods only (NaN for the others), see :func:`posterior_metrics`.
_POSTERIOR_COLS = ("coverage90", "draw_bp_err_delta", "draw_bp_err_theta", "draw_bp_err_alpha",
                   "draw_bp_err_beta", "draw_bp_err_gamma", "draw_psd_hellinger", "draw_fc_alpha_rel_err",
                   "draw_fc_alpha_rel_err_total")
_METRIC_COLS = ("r", "r_win_median", "nmse", "rmse_uv", "bp_err_delta", "bp_err_theta", "bp_err_alpha",
                "bp_err_beta", "bp_err_gamma", "psd_hellinger", "fc_alpha_rel_err") + _POSTERIOR_COLS[:-1]


def _subset(df, name: str):
    if name == "all":
        return df
    if name == "viable":
        return df[df["viable"]]
    if name == "hipp_amyg":
        return df[df["region"].str.contains("hippocampus|amygdala", regex=True)]
    return df[df["depth_class"] == name]


def summarize(contacts, cfg: EvalConfig):
    """Per-subject, per-region and overall tables plus statistics.

    Parameters
    ----------
    contacts : pandas.DataFrame
        Rows from :func:`evaluate_subject`.
    cfg : EvalConfig

    Returns
    -------
    subjects, regions, summary : pandas.DataFrame
    stats : dict
    """
    import pandas as pd
    from scipy import stats as st

    df = contacts.copy()
    df["minutes_key"] = df["minutes"].fillna(-1.0)
    srows = []
    for (sub, method, mk), g in df.groupby(["subject", "method", "minutes_key"], sort=True):
        for name in SUBSETS:
            s = _subset(g, name)
            row = {"subject": sub, "method": method, "minutes": g["minutes"].iloc[0], "subset": name,
                   "n_contacts": len(s)}
            for c in _METRIC_COLS:
                row[c] = float(s[c].mean()) if len(s) else np.nan
            for c in ("fc_alpha_rel_err_total", "draw_fc_alpha_rel_err_total"):
                row[c] = float(g[c].iloc[0])
            srows.append(row)
    subjects = pd.DataFrame(srows)
    ref = {}
    for ceiling in (LIMIT, ORACLE):
        c = subjects[subjects["method"] == ceiling].set_index(["subject", "subset"])["r"]
        ref[ceiling] = c
    for ceiling, col in ((LIMIT, "r_fraction_of_limit"), (ORACLE, "r_fraction_of_oracle")):
        subjects[col] = [
            (row.r / ref[ceiling].get((row.subject, row.subset), np.nan))
            if ref[ceiling].get((row.subject, row.subset), np.nan) not in (0.0,) else np.nan
            for row in subjects.itertuples()]
    sum_rows = []
    for (method, subset), g in subjects.groupby(["method", "subset"], sort=True):
        for minutes, h in g.groupby(g["minutes"].fillna(-1.0), sort=True):
            vals = h["r"].to_numpy()
            lo, hi = bootstrap_ci(vals, cfg.n_boot, cfg.seed)
            row = {"method": method, "minutes": h["minutes"].iloc[0], "subset": subset,
                   "n_subjects": int(np.isfinite(vals).sum()), "n_contacts": int(h["n_contacts"].sum()),
                   "r_mean": float(np.nanmean(vals)) if np.isfinite(vals).any() else np.nan,
                   "r_sd_across_folds": float(np.nanstd(vals, ddof=1)) if np.isfinite(vals).sum() > 1 else np.nan,
                   "r_ci_low": lo, "r_ci_high": hi}
            for c in _METRIC_COLS[1:] + ("fc_alpha_rel_err_total", "draw_fc_alpha_rel_err_total",
                                         "r_fraction_of_limit", "r_fraction_of_oracle"):
                v = h[c].to_numpy(dtype=float)
                row[c] = float(np.nanmean(v)) if np.isfinite(v).any() else np.nan
            sum_rows.append(row)
    summary = pd.DataFrame(sum_rows)
    regions = (df.groupby(["method", "minutes_key", "region"], sort=True)
               .agg(minutes=("minutes", "first"), n_contacts=("r", "size"), n_subjects=("subject", "nunique"),
                    r_mean=("r", "mean"), r_median=("r", "median"), nmse_mean=("nmse", "mean"),
                    coverage90=("coverage90", "mean"),
                    distance_to_scalp_mm=("distance_to_scalp_mm", "mean"))
               .reset_index().drop(columns="minutes_key"))
    stats: dict[str, Any] = {"wilcoxon": [], "confidence_reliability": []}
    methods = [m for m in cfg.methods] + [m for m in (LIMIT, ORACLE) if m in set(df["method"])]
    for subset in ("all", "viable"):
        for M in cfg.calibration_minutes:
            for a, b in itertools.combinations(methods, 2):
                ka = (a, M if a not in (LIMIT, ORACLE) else None)
                kb = (b, M if b not in (LIMIT, ORACLE) else None)
                va, vb = _subject_values(subjects, ka, subset), _subject_values(subjects, kb, subset)
                common = sorted(set(va) & set(vb))
                x = np.array([va[s] for s in common])
                y = np.array([vb[s] for s in common])
                ok = np.isfinite(x) & np.isfinite(y)
                res = {"subset": subset, "minutes": M, "a": a, "b": b, "n_subjects": int(ok.sum()),
                       "mean_a": _f(np.mean(x[ok])) if ok.any() else None,
                       "mean_b": _f(np.mean(y[ok])) if ok.any() else None,
                       "median_diff": _f(np.median(x[ok] - y[ok])) if ok.any() else None,
                       "statistic": None, "p": None}
                if ok.sum() >= 2 and np.any(x[ok] != y[ok]):
                    w = st.wilcoxon(x[ok], y[ok])
                    res["statistic"], res["p"] = _f(w.statistic), _f(w.pvalue)
                stats["wilcoxon"].append(res)
    for (method, mk), g in df[df["confidence_r"].notna()].groupby(["method", "minutes_key"], sort=True):
        ok = np.isfinite(g["confidence_r"].to_numpy(float)) & np.isfinite(g["r"].to_numpy(float))
        res = {"method": method, "minutes": float(mk), "n_contacts": int(ok.sum()),
               "n_subjects": int(g["subject"].nunique()), "spearman_rho": None, "p": None}
        if ok.sum() >= 3:
            rho = st.spearmanr(g["confidence_r"][ok], g["r"][ok])
            res["spearman_rho"], res["p"] = _f(rho.statistic), _f(rho.pvalue)
        stats["confidence_reliability"].append(res)
    return subjects, regions, summary, stats


def _subject_values(subjects, key: tuple[str, float | None], subset: str) -> dict[str, float]:
    method, M = key
    g = subjects[(subjects["method"] == method) & (subjects["subset"] == subset)]
    if M is not None:
        g = g[np.isclose(g["minutes"].astype(float), M)]
    elif method == LIMIT:
        pass
    return dict(zip(g["subject"], g["r"].astype(float)))


def _f(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


# --------------------------------------------------------------------------- driver
def run_evaluation(root: str | Path, cfg: EvalConfig, out: str | Path | None = None, *,
                   overwrite: bool = False, report: bool = True, resume: bool = False,
                   progress: Progress | None = None) -> EvalResult:
    """Run the leave-one-subject-out benchmark on a BIDS dataset.

    Parameters
    ----------
    root : path-like
        BIDS root laid out like ds004752 (``sub-XX/ses-YY/{eeg,ieeg}``); scalp
        and iEEG may have different sampling rates (both are resampled to
        ``cfg.prep.sfreq``).
    cfg : EvalConfig
    out : path-like | None
        Results folder: ``contacts.tsv``, ``subjects.tsv``, ``regions.tsv``,
        ``summary.tsv``, ``stats.json`` and ``report.html``.
    overwrite : bool
        Replace results in an existing non-empty folder.
    report : bool
        Write the HTML report.
    resume : bool
        Reuse per-subject results in ``out/per_subject/`` computed with the
        same configuration (each subject's rows are saved there as soon as
        it is done), so an interrupted run, or one over a cohort that grows,
        only computes what is missing.
    progress : callable | None
        Called with one-line messages.

    Returns
    -------
    EvalResult

    Raises
    ------
    InputError, UsageError, OutputError
    """
    import pandas as pd

    say = progress or (lambda msg: None)
    root = Path(root)
    if not cfg.methods:
        raise UsageError("--methods is empty")
    for m in cfg.methods:
        try:
            cls = get_model_class(m)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if cls.requires_pretrain and m not in cfg.pretrained:
            raise UsageError(f"method {m!r} needs pretrained models: pass --pretrained {m}=DIR "
                             f"(DIR/fold-sub-XX/ per test subject with --loso)")
    if any(M < 0 for M in cfg.calibration_minutes) or not cfg.calibration_minutes:
        raise UsageError("--calibration-minutes must be a non-empty list of numbers ≥ 0")
    if out is not None:
        from ._checks import check_not_input

        out = Path(out)
        check_not_input(out, (root, *cfg.pretrained.values()))  # never into the dataset or a model
        if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (overwrite or resume))):
            raise OutputError("results folder exists and is not empty; pass --overwrite", out)
    subjects = discover_subjects(root)
    if cfg.subjects:
        missing = [s for s in cfg.subjects if s not in subjects]
        if missing:
            raise UsageError(f"subjects {missing} not found in {root} (have {sorted(subjects)})")
        subjects = {s: subjects[s] for s in cfg.subjects}
    skipped: list[str] = []
    notes: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    frames = []
    for label, sessions in subjects.items():
        cached = _load_cached(out, label, cfg) if (resume and out is not None) else None
        if cached is not None:
            say(f"sub-{label}: reusing {PER_SUBJECT}/sub-{label}.tsv (--resume)")
            frame, s, n = cached
        else:
            say(f"sub-{label}: reading {len(sessions)} session(s)")
            sub = load_subject(label, sessions, cfg)
            r, s = evaluate_subject(sub, root, cfg, say)
            frame, n = pd.DataFrame(r), sub.notes
            del sub
            if out is not None:
                _save_cached(out, label, cfg, frame, s, n)
        frames.append(frame)
        notes[label] = n
        skipped += s
    contacts = pd.concat(frames, ignore_index=True)
    contacts["subject"] = contacts["subject"].astype(str)
    subj, regions, summary, stats = summarize(contacts, cfg)
    stats.update({
        "protocol": __doc__.split("Protocol")[1].split("Cross-subject")[0].strip(),
        "config": cfg.to_dict(), "root": str(root), "subjects": sorted(subjects),
        "skipped": skipped, "notes": notes, "elapsed_s": round(time.perf_counter() - t0, 1),
        "metrics": "see ieegrecon.metrics; band-power error is |log10(P_hat/P)| in decades",
    })
    result = EvalResult(contacts, subj, regions, summary, stats)
    if out is not None:
        write_results(result, out, report=report)
        result.out = out
    return result


PER_SUBJECT = "per_subject"


def _cfg_key(cfg: EvalConfig) -> dict[str, Any]:
    d = cfg.to_dict()
    for k in ("subjects", "n_boot"):
        d.pop(k, None)
    return _clean(d)


def _save_cached(out: Path, label: str, cfg: EvalConfig, frame, skipped: list[str], notes: list[str]) -> None:
    from .io.atomic import atomic_path, write_json_atomic

    d = Path(out) / PER_SUBJECT
    d.mkdir(parents=True, exist_ok=True)
    with atomic_path(d / f"sub-{label}.tsv") as tmp:
        frame.to_csv(tmp, sep="\t", index=False, na_rep="n/a")
    write_json_atomic({"config": _cfg_key(cfg), "skipped": skipped, "notes": notes}, d / f"sub-{label}.json")


def _load_cached(out: Path, label: str, cfg: EvalConfig):
    import json

    import pandas as pd

    d = Path(out) / PER_SUBJECT
    tsv, meta = d / f"sub-{label}.tsv", d / f"sub-{label}.json"
    if not (tsv.exists() and meta.exists()):
        return None
    m = json.loads(meta.read_text())
    if m.get("config") != _cfg_key(cfg):
        return None
    frame = pd.read_csv(tsv, sep="\t", na_values=["n/a"], keep_default_na=False, dtype={"subject": str})
    frame["confidence_r"] = frame["confidence_r"].astype(float)
    frame["confidence_source"] = frame["confidence_source"].fillna("").astype(str)
    frame["viable"] = frame["viable"].astype(str).str.lower() == "true"
    return frame, m.get("skipped", []), m.get("notes", [])


def write_results(result: EvalResult, out: Path, *, report: bool = True) -> None:
    """Write the tables (TSV), ``stats.json`` and ``report.html`` atomically, file by file."""
    from .io.atomic import atomic_path, write_json_atomic

    out.mkdir(parents=True, exist_ok=True)
    for name, df in (("contacts", result.contacts), ("subjects", result.subjects),
                     ("regions", result.regions), ("summary", result.summary)):
        with atomic_path(out / f"{name}.tsv") as tmp:
            df.to_csv(tmp, sep="\t", index=False, na_rep="n/a", float_format="%.6g")
    write_json_atomic(_clean(result.stats), out / "stats.json")
    if report:
        from .evaluate_report import write_report

        write_report(result, out / "report.html")


def _clean(o):
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    return o
