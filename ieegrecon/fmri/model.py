"""EEG -> BOLD frames: ridge regression on HRF-convolved band-power envelopes.

Features (per recording): for each channel and band (delta 1-4, theta 4-8,
alpha 8-13, beta 13-30 Hz), the log mean power in each TR window
(Butterworth band-pass, :mod:`scipy.signal`), z-scored over the recording,
convolved with an HRF basis (SPM's canonical double-gamma HRF, its temporal
and dispersion derivatives; Friston et al. 1998, Henson et al. 2002) over
32 s. Targets are parcel BOLD (68 DK parcels, vertex mean). Ridge weights
(Hoerl & Kennard 1970) are followed by a temporal smoothness term: the
prediction ``m`` minimizes ``|m - F W|^2 + mu |D2 m|^2`` (second differences;
the Whittaker smoother). ``alpha`` and ``mu`` are picked by
leave-one-subject-out error; the completion kernel is fitted on those
held-out predictions (:mod:`ieegrecon.fmri.completion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelFileError, ModelInputMismatch

BANDS = ((1.0, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0))
HRF_SECONDS = 32.0
METHOD = "fmri-ridge-hrf"


def hrf_basis(tr: float, length_s: float = HRF_SECONDS) -> np.ndarray:
    """SPM canonical HRF with temporal and dispersion derivatives, sampled at ``tr``.

    Double gamma (peak 6 s, undershoot 16 s, ratio 1/6; SPM ``spm_hrf``).

    Returns
    -------
    ndarray, shape (n_lags, 3)
        Each column unit-norm.
    """
    from scipy.stats import gamma

    t = np.arange(0.0, length_s, tr)

    def hrf(t: np.ndarray, disp: float = 1.0) -> np.ndarray:
        return gamma.pdf(t, 6.0 / disp, scale=disp) - gamma.pdf(t, 16.0, scale=1.0) / 6.0

    h = hrf(t)
    dt = (h - hrf(np.maximum(t - 1.0, 0.0)) * (t >= 1.0))
    dd = (h - hrf(t, 1.01)) / 0.01
    b = np.stack([h, dt, dd], axis=1)
    return b / np.linalg.norm(b, axis=0)


def band_power(eeg: np.ndarray, sfreq: float, tr: float, n_frames: int) -> np.ndarray:
    """Log mean band power per channel, band and TR window, z-scored over time.

    Parameters
    ----------
    eeg : ndarray, shape (n_channels, n_times)
        Volts.
    sfreq, tr : float
    n_frames : int

    Returns
    -------
    ndarray, shape (n_frames, n_channels * n_bands)
    """
    from scipy.signal import butter, sosfiltfilt

    per = tr * sfreq
    n_use = int(np.floor(n_frames * per))
    out = []
    for lo, hi in BANDS:
        sos = butter(4, [lo, min(hi, 0.45 * sfreq)], btype="band", fs=sfreq, output="sos")
        p = sosfiltfilt(sos, eeg[:, :n_use], axis=1) ** 2
        edges = np.round(np.arange(n_frames + 1) * per).astype(int)
        pw = np.add.reduceat(p, edges[:-1], axis=1) / np.diff(edges)
        out.append(np.log(pw + 1e-30))
    f = np.concatenate(out, axis=0).T
    return (f - f.mean(axis=0)) / (f.std(axis=0) + 1e-12)


def eeg_features(eeg: np.ndarray, sfreq: float, tr: float, n_frames: int) -> np.ndarray:
    """HRF-convolved band-power features with an intercept column.

    Returns
    -------
    ndarray, shape (n_frames, n_channels * n_bands * 3 + 1)
    """
    from scipy.signal import lfilter

    bp = band_power(eeg, sfreq, tr, n_frames)
    basis = hrf_basis(tr)
    cols = [lfilter(basis[:, j], [1.0], bp, axis=0) for j in range(basis.shape[1])]
    return np.concatenate(cols + [np.ones((n_frames, 1))], axis=1)


def whittaker(x: np.ndarray, mu: float) -> np.ndarray:
    """Smooth each column: argmin ``|m - x|^2 + mu |D2 m|^2`` (Whittaker 1923; Eilers 2003).

    Parameters
    ----------
    x : ndarray, shape (n_frames, n_series)

    Returns
    -------
    ndarray, same shape
    """
    if mu <= 0 or x.shape[0] < 3:
        return x
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    n = x.shape[0]
    d = sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n))
    a = (sp.eye(n) + mu * (d.T @ d)).tocsc()
    return splu(a).solve(np.asarray(x, float))


class FmriModel:
    """Ridge map from EEG band-power features to parcel BOLD, with a completion kernel.

    Parameters
    ----------
    ch_names : sequence of str
        Scalp channels, in feature order.
    tr : float
        Repetition time (s).
    alpha : float
        Ridge penalty (set by :meth:`fit` when ``alphas`` has several values).
    mu : float
        Temporal smoothness weight of the prediction.
    """

    def __init__(self, ch_names: Sequence[str], tr: float, alpha: float = 10.0, mu: float = 0.0) -> None:
        self.ch_names = list(ch_names)
        self.tr = float(tr)
        self.alpha = float(alpha)
        self.mu = float(mu)
        self.weights: np.ndarray | None = None  # (n_features, n_parcels)
        self.kernel: dict = {"length": 3.0, "nugget": 0.1}
        self.n_parcels: int | None = None
        self.trained_on: dict = {}

    # -- fitting ---------------------------------------------------------------------
    @staticmethod
    def _ridge(f: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
        pen = alpha * np.eye(f.shape[1])
        pen[-1, -1] = 0.0  # intercept not penalized
        return np.linalg.solve(f.T @ f + pen, f.T @ y)

    def fit(self, eegs: Sequence[np.ndarray], sfreq: float, bolds: Sequence[np.ndarray], *,
            alphas: Sequence[float] = (10.0, 100.0, 1e3, 1e4, 1e5), mus: Sequence[float] = (0.0, 1.0, 10.0),
            vertex_bolds: Sequence[np.ndarray] | None = None, mesh=None, seed: int = 0) -> FmriModel:
        """Fit on several subjects; choose ``alpha``, ``mu`` and the completion kernel.

        Parameters
        ----------
        eegs : sequence of ndarray, shape (n_channels, n_times)
            Scalp EEG in volts, channels as ``ch_names``.
        sfreq : float
        bolds : sequence of ndarray, shape (n_frames, n_parcels)
            Parcel BOLD targets.
        alphas, mus : sequence of float
            Grids searched by leave-one-subject-out (when there are ≥ 2 subjects).
        vertex_bolds : sequence of ndarray, shape (n_frames, n_vertices) | None
            Vertex BOLD used to fit the completion kernel (parcel BOLD otherwise).
        mesh : Fsaverage5 | None
            Maps parcel predictions to vertices when ``vertex_bolds`` is given.
        seed : int
            Random masks used to fit the kernel.

        Returns
        -------
        self
        """
        from .completion import fit_kernel

        feats = [eeg_features(e, sfreq, self.tr, b.shape[0]) for e, b in zip(eegs, bolds)]
        self.n_parcels = int(bolds[0].shape[1])
        n = len(feats)
        if n >= 2:
            best = None
            for a in alphas:
                preds = []
                for i in range(n):
                    w = self._ridge(np.concatenate([feats[j] for j in range(n) if j != i]),
                                    np.concatenate([bolds[j] for j in range(n) if j != i]), a)
                    preds.append(feats[i] @ w)
                for m in mus:
                    err = np.mean([np.mean((whittaker(p, m) - b) ** 2) for p, b in zip(preds, bolds)])
                    if best is None or err < best[0]:
                        best = (err, a, m, [whittaker(p, m) for p in preds])
            _, self.alpha, self.mu, held = best
        else:
            held = None
        self.weights = self._ridge(np.concatenate(feats), np.concatenate(bolds), self.alpha)
        if held is None:
            held = [whittaker(f @ self.weights, self.mu) for f in feats]
        if vertex_bolds is not None and mesh is not None:
            pairs = [(mesh.parcel_to_vertex(p), v) for p, v in zip(held, vertex_bolds)]
        else:
            pairs = list(zip(held, bolds))
        self.kernel = fit_kernel(pairs, np.random.default_rng(seed))
        self.trained_on = {"n_subjects": n, "n_frames": int(sum(b.shape[0] for b in bolds))}
        return self

    # -- prediction ------------------------------------------------------------------
    def predict(self, eeg: np.ndarray, sfreq: float, n_frames: int) -> np.ndarray:
        """EEG-only parcel BOLD prediction.

        Parameters
        ----------
        eeg : ndarray, shape (n_channels, n_times)
            Volts, channels as ``ch_names``; at least ``n_frames * tr`` seconds.
        sfreq : float
        n_frames : int

        Returns
        -------
        ndarray, shape (n_frames, n_parcels)

        Raises
        ------
        ModelInputMismatch
            If the EEG is too short or has the wrong number of channels.
        """
        if self.weights is None:
            raise ModelInputMismatch("the fMRI model is not fitted")
        if eeg.shape[0] != len(self.ch_names):
            raise ModelInputMismatch(f"the model expects {len(self.ch_names)} channels, got {eeg.shape[0]}")
        if eeg.shape[1] < int(np.floor(n_frames * self.tr * sfreq)) or n_frames < 1:
            raise ModelInputMismatch(f"EEG of {eeg.shape[1] / sfreq:.1f} s is shorter than {n_frames} frames")
        return whittaker(eeg_features(eeg, sfreq, self.tr, n_frames) @ self.weights, self.mu)

    # -- persistence -----------------------------------------------------------------
    def config(self) -> dict:
        """JSON-serializable description (no weights)."""
        return {"method": METHOD, "ch_names": self.ch_names, "tr": self.tr, "alpha": self.alpha, "mu": self.mu,
                "bands": [list(b) for b in BANDS], "hrf_seconds": HRF_SECONDS, "kernel": self.kernel,
                "n_parcels": self.n_parcels, "trained_on": self.trained_on}

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (no pickle), atomically.

        The one model-folder format of ieegrecon
        (:func:`ieegrecon.models.io.write_model_folder`: format version,
        package version, tensor specs; the sha256 of the weights is checked on load).

        Raises
        ------
        OutputError
            If a model exists in ``folder`` and ``overwrite`` is False.
        """
        from ..models.io import write_model_folder

        return write_model_folder(folder, self.config(),
                                  {"weights": np.ascontiguousarray(self.weights, dtype=np.float64)},
                                  overwrite=overwrite, kind="fmri-model", metadata={"method": METHOD})

    @classmethod
    def load(cls, folder: str | Path) -> FmriModel:
        """Load a model folder written by :meth:`save`.

        Raises
        ------
        ModelFileError
            Everything :func:`ieegrecon.models.io.read_model_folder` refuses
            (missing files, pickled checkpoints, format version, sha256,
            tensor specs, NaN/Inf), a model of another method, missing or
            mistyped fields, or weights of the wrong shape.
        """
        from ..models.io import read_model_folder

        config, state = read_model_folder(folder, check=_check_fmri_config,
                                          required=("method", "ch_names", "tr", "n_parcels", "tensors"))
        w = state.get("weights")
        n_feat = len(config["ch_names"]) * len(BANDS) * 3 + 1
        if w is None or w.shape != (n_feat, config["n_parcels"]):
            shape = None if w is None else w.shape
            raise ModelFileError(f"weights have shape {shape}, expected {(n_feat, config['n_parcels'])}", folder)
        m = cls(config["ch_names"], config["tr"], config.get("alpha", 10.0), config.get("mu", 0.0))
        m.weights, m.n_parcels = w, config["n_parcels"]
        m.kernel, m.trained_on = config.get("kernel", m.kernel), config.get("trained_on", {})
        return m


def _check_fmri_config(config: dict, cfg_path: Path) -> None:
    """Refuse a config of another method or with fields of the wrong type (ModelFileError)."""
    if config["method"] != METHOD:
        raise ModelFileError(f"not an fMRI model (method {config['method']!r})", cfg_path)
    ok = (isinstance(config["ch_names"], list) and all(isinstance(c, str) for c in config["ch_names"])
          and isinstance(config["tr"], (int, float)) and not isinstance(config["tr"], bool) and config["tr"] > 0
          and isinstance(config["n_parcels"], int) and not isinstance(config["n_parcels"], bool)
          and all(isinstance(config.get(k, 0.0), (int, float)) for k in ("alpha", "mu"))
          and isinstance(config.get("kernel", {}), dict) and isinstance(config.get("trained_on", {}), dict))
    if not ok:
        raise ModelFileError("config fields 'ch_names' (strings), 'tr' (> 0), 'n_parcels' (int), 'alpha', 'mu' "
                             "(numbers), 'kernel' and 'trained_on' (objects) are not all valid", cfg_path)
