"""The two ceilings a method is compared with, named in tables for what they are (:data:`LABELS`).

- ``oracle``, shown as **oracle-inst** (simulated data only): the
  *instantaneous* linear minimum-MSE estimator from the ground truth
  (:func:`oracle_weights`, :func:`groundtruth_oracle`). It bounds
  instantaneous maps only: a lagged filter can exceed it (temporally smooth
  sources, white noise), so it is not a ceiling of lagged methods. Being
  instantaneous (``W @ x`` sample by sample), it never mixes trials of an
  epoched test session; its weights come from the continuous ground truth.
- ``ridge-limit``, shown as **ridge-limit (lagged Wiener limit)**: lagged
  ridge fitted on up to ``limit_minutes`` (30 by default) of the subject's
  calibration session (:func:`ridge_limit`): with that much data the ±100 ms
  lagged ridge approaches the lagged Wiener filter (the best linear
  time-invariant estimator with those lags; Wiener 1949), so it estimates
  what any linear filter of that support reaches. On an epoched session it
  is fitted with its lags inside trials and predicts trial by trial, as the
  methods are (:class:`~ieegrecon.workflow.pieces.PieceFit`,
  :func:`~ieegrecon.evaluation.data.predict_part`).

The method names in result files stay ``oracle`` and ``ridge-limit`` (files
written before keep their meaning); ``oracle-inst`` is accepted as a name of
the same ceiling (:data:`ORACLE_NAMES`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..channels import normalize_ch_name
from ..errors import InputError
from ..preprocessing import Preprocessing, apply_preprocessing
from ..workflow.factory import fit_model
from ..workflow.pieces import PieceFit, snap_to_piece
from .config import LIMIT, ORACLE, EvalConfig
from .data import Subject, predict_part

#: Names of the instantaneous oracle in result files (``oracle``, and ``oracle-inst`` if it is renamed).
ORACLE_NAMES = ("oracle", "oracle-inst")
#: Display label of each ceiling in tables and figures.
LABELS = {ORACLE: "oracle-inst", "oracle-inst": "oracle-inst", LIMIT: "ridge-limit (lagged Wiener limit)"}


def label(method: str) -> str:
    """Display label of a method or ceiling (the method name when it is not a ceiling)."""
    return LABELS.get(method, method)


#: Ground-truth derivative folder written by ``ieegrecon simulate``.
GROUNDTRUTH_DERIV = Path("derivatives") / "ieegrecon-sim"


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


def _read_groundtruth(path: Path) -> dict:
    """Channel names, scalp rate, forward matrices, source moments and scalp noise of a ground-truth file."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return {
                "scalp_names": [normalize_ch_name(n.decode() if isinstance(n, bytes) else str(n))
                                for n in f["scalp/ch_names"][:]],
                "ieeg_names": [n.decode() if isinstance(n, bytes) else str(n) for n in f["ieeg/ch_names"][:]],
                "sfreq": float(f["scalp"].attrs["sfreq"]),
                "A": f["scalp/forward"][:], "B": f["ieeg/forward"][:],
                "S": f["sources/moments_scalp_rate"][:],
                "N": f["scalp/noise"][:] + f["scalp/artifacts"][:],
            }
    except (OSError, KeyError) as exc:
        raise InputError(f"unreadable ground truth ({exc})", path) from None


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
    path = Path(h5_path)
    gt = _read_groundtruth(path)
    try:
        si = [gt["scalp_names"].index(normalize_ch_name(n)) for n in scalp_names]
        ci = [gt["ieeg_names"].index(n) for n in contact_names]
    except ValueError as exc:
        raise InputError(f"ground truth lacks a channel: {exc}", path) from None
    S = apply_preprocessing(gt["S"], gt["sfreq"], prep, reference=False)
    N = apply_preprocessing(gt["N"][si], gt["sfreq"], prep, reference=False)
    n = len(si)
    P = np.eye(n) - 1.0 / n if prep.scalp_reference == "average" else np.eye(n)
    A = P @ gt["A"][si]
    css = np.cov(S)
    cnn = P @ np.cov(N) @ P.T
    return oracle_weights(A, gt["B"][ci], css, cnn)


def oracle_prediction(sub: Subject, root: Path, cfg: EvalConfig) -> tuple[np.ndarray, float] | None:
    """The oracle's reconstruction of ``sub``'s test part and the seconds its weights took.

    Returns
    -------
    (y_hat, seconds) : ndarray, shape (n_contacts, n_times), and float; None without a ground-truth file.
    """
    h5 = groundtruth_path(root, sub.test_session)
    if not h5.exists():
        return None
    t0 = time.perf_counter()
    W = groundtruth_oracle(h5, sub.test.scalp_names, sub.test.contacts.ch_names, cfg.prep)
    return W @ sub.test.scalp, time.perf_counter() - t0


def limit_samples(sub: Subject, cfg: EvalConfig) -> int:
    """Training samples of the ridge limit: ``cfg.limit_minutes``, at most the usable calibration session
    (snapped to a trial boundary of an epoched session, :func:`~ieegrecon.workflow.pieces.snap_to_piece`)."""
    return min(sub.cal_stop, snap_to_piece(int(round(cfg.limit_minutes * 60 * sub.cal.sfreq)), sub.cal_bounds))


def ridge_limit(sub: Subject, n_train: int, cfg: EvalConfig) -> tuple[np.ndarray, float]:
    """Lagged ridge fitted on the first ``n_train`` calibration samples, applied to the test part.

    In pieces (epoched sessions: ``sub.cal_bounds``, ``sub.test_bounds``), its
    lag features stay inside each calibration trial
    (:class:`~ieegrecon.workflow.pieces.PieceFit`) and the test part is
    predicted trial by trial (:func:`~ieegrecon.evaluation.data.predict_part`);
    continuous sessions are fitted and predicted whole (chunked) as before.

    Parameters
    ----------
    sub : Subject
    n_train : int
        Calibration samples (:func:`limit_samples`).
    cfg : EvalConfig
        ``seed``.

    Returns
    -------
    y_hat : ndarray, shape (n_contacts, n_times)
    fit_s : float
        Seconds the fit took.
    """
    t0 = time.perf_counter()
    fit = PieceFit(lambda train, zs: fit_model("ridge", None, train, False, cfg.seed), sub.cal_bounds, n_train)
    model = fit(sub.cal.crop_samples(0, n_train), False)
    fit_s = time.perf_counter() - t0
    return predict_part(model, sub.test.scalp, sub.test_bounds, sub.cal.sfreq), fit_s
