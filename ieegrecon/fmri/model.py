"""EEG -> BOLD frames: reduced-rank ridge on band power at several time scales (issue #20).

Features (per recording): for each channel and band (delta 1-4, theta 4-8,
alpha 8-13, beta 13-30, gamma 30-45 Hz), the log mean power in each TR window
(Butterworth band-pass, :mod:`scipy.signal`), z-scored over the recording,
convolved with a kernel bank (:func:`kernel_bank`): double-gamma HRFs peaking
at 4-8 s (their learned combination is a per-region HRF), the canonical HRF's
temporal derivative (Friston et al. 1998; the envelope's dynamics) and a slow
exponential integrator. Targets are parcel BOLD (68 DK parcels, vertex mean).
Ridge weights (Hoerl & Kennard 1970), projected on the leading spatial modes
of the fit (reduced rank, Mukherjee & Zhu 2011), are followed by a temporal
smoothness term: the prediction ``m`` minimizes ``|m - F W|^2 + mu |D2 m|^2``
(second differences; the Whittaker smoother). ``alpha``, ``rank`` and ``mu``
are picked by leave-one-subject-out error; the completion kernels are fitted
on those held-out predictions (:mod:`ieegrecon.fmri.completion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelFileError, ModelInputMismatch

BANDS = ((1.0, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0), (30.0, 45.0))
HRF_SECONDS = 32.0
#: Peak latencies (s) of the double-gamma kernels: a per-region HRF is their learned combination.
HRF_PEAKS = (4.0, 5.0, 6.0, 7.0, 8.0)
#: Time constant (s) of the slow exponential integrator (the longest time scale).
SLOW_TAU = 15.0
METHOD = "fmri-multiscale-hrf"
#: Model folders of earlier versions, refused with this explanation.
OLD_METHODS = {"fmri-ridge-hrf": "4 bands x 3 HRF kernels (issue #8)"}


def kernel_bank(tr: float, length_s: float = HRF_SECONDS) -> np.ndarray:
    """Temporal kernels of the features: HRFs at several latencies, a derivative, a slow integrator.

    Double-gamma HRFs peaking at :data:`HRF_PEAKS` (gamma shape ``peak + 1``,
    scale 1 s, SPM's undershoot at 16 s with ratio 1/6), the canonical HRF's
    temporal derivative (envelope dynamics), and an exponential integrator of
    time constant :data:`SLOW_TAU` (slow fluctuations).

    Returns
    -------
    ndarray, shape (n_lags, len(HRF_PEAKS) + 2)
        Each column unit-norm.
    """
    from scipy.stats import gamma

    t = np.arange(0.0, length_s, tr)
    cols = [gamma.pdf(t, pk + 1.0) - gamma.pdf(t, 16.0) / 6.0 for pk in HRF_PEAKS]
    cols.append(hrf_basis(tr, length_s)[:, 1])
    cols.append(np.exp(-t / SLOW_TAU))
    b = np.stack(cols, axis=1)
    return b / np.linalg.norm(b, axis=0)


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
    """Band-power features convolved with :func:`kernel_bank`, with an intercept column.

    Returns
    -------
    ndarray, shape (n_frames, n_channels * n_bands * n_kernels + 1)
    """
    from scipy.signal import lfilter

    bp = band_power(eeg, sfreq, tr, n_frames)
    basis = kernel_bank(tr)
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
        self.rank = 0
        self.weights: np.ndarray | None = None  # (n_features, n_parcels)
        self.kernel: dict = {"length": 3.0, "nugget": 0.1}
        self.kernel_gp: dict = {"length": 3.0, "nugget": 0.1}  # the no-EEG baseline's kernel
        self.n_parcels: int | None = None
        self.trained_on: dict = {}

    # -- fitting ---------------------------------------------------------------------
    def fit(self, eegs: Sequence[np.ndarray], sfreq: float, bolds: Sequence[np.ndarray], *,
            alphas: Sequence[float] = (1e3, 3e3, 1e4, 3e4, 1e5), mus: Sequence[float] = (0.0, 3.0, 10.0, 30.0),
            ranks: Sequence[int] = (4, 6, 10, 20, 0),
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
        ranks : sequence of int
            Ranks of the spatial basis searched likewise (0: full rank).
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
        held = None
        if n >= 2:
            _, self.alpha, self.rank, self.mu, held = _select(feats, bolds, alphas, ranks, mus)
        self.weights = _reduced_rank_ridge(np.concatenate(feats), np.concatenate(bolds), self.alpha, self.rank)
        if held is None:
            held = [whittaker(f @ self.weights, self.mu) for f in feats]
        if vertex_bolds is not None and mesh is not None:
            pairs = [(mesh.parcel_to_vertex(p), v) for p, v in zip(held, vertex_bolds)]
        else:
            pairs = list(zip(held, bolds))
        self.kernel = fit_kernel(pairs, np.random.default_rng(seed))
        self.kernel_gp = fit_kernel([(np.zeros_like(p), v) for p, v in pairs], np.random.default_rng(seed))
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

    def predict_vertices(self, eeg: np.ndarray, sfreq: float, n_frames: int, mesh) -> np.ndarray:
        """EEG-only vertex BOLD: :meth:`predict` expanded to the vertices of ``mesh``.

        Returns
        -------
        ndarray, shape (n_frames, mesh.n_vertices)
            0 on the medial wall.
        """
        return mesh.parcel_to_vertex(self.predict(eeg, sfreq, n_frames))

    def kernel_args(self, gp_only: bool = False) -> dict:
        """``{'length', 'nugget', 'offset', 'gain_shrink', 'trend'}`` for :func:`~ieegrecon.fmri.completion.complete`.

        Parameters
        ----------
        gp_only : bool
            The kernel fitted for completion without EEG (prior 0) instead.
        """
        k = self.kernel_gp if gp_only else self.kernel
        return {"length": float(k["length"]), "nugget": float(k["nugget"]), "offset": bool(k.get("offset", True)),
                "gain_shrink": float(k.get("gain_shrink", 0.0)), "trend": int(k.get("trend", 0))}

    # -- persistence -----------------------------------------------------------------
    def config(self) -> dict:
        """JSON-serializable description (no weights)."""
        return {"method": METHOD, "ch_names": self.ch_names, "tr": self.tr, "alpha": self.alpha, "mu": self.mu,
                "rank": self.rank,
                "bands": [list(b) for b in BANDS], "hrf_seconds": HRF_SECONDS, "hrf_peaks": list(HRF_PEAKS),
                "slow_tau": SLOW_TAU, "kernel": self.kernel, "kernel_gp": self.kernel_gp,
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
        n_feat = len(config["ch_names"]) * len(BANDS) * (len(HRF_PEAKS) + 2) + 1
        if w is None or w.shape != (n_feat, config["n_parcels"]):
            shape = None if w is None else w.shape
            raise ModelFileError(f"weights have shape {shape}, expected {(n_feat, config['n_parcels'])}", folder)
        m = cls(config["ch_names"], config["tr"], config.get("alpha", 10.0), config.get("mu", 0.0))
        m.weights, m.n_parcels = w, config["n_parcels"]
        m.kernel, m.trained_on = config.get("kernel", m.kernel), config.get("trained_on", {})
        m.kernel_gp, m.rank = config.get("kernel_gp", m.kernel_gp), int(config.get("rank", 0))
        return m


def _ridge(f: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge weights with the last column of ``f`` an unpenalized intercept."""
    pen = alpha * np.eye(f.shape[1])
    pen[-1, -1] = 0.0
    return np.linalg.solve(f.T @ f + pen, f.T @ y)


def _reduced_rank_ridge(f: np.ndarray, y: np.ndarray, alpha: float, rank: int) -> np.ndarray:
    """Ridge weights projected on the ``rank`` leading spatial modes of the fitted values (0: all).

    Reduced-rank ridge (Mukherjee & Zhu 2011): the prediction lies in the span of
    the ``rank`` leading right singular vectors of the (centred) fitted parcel BOLD,
    so parcels are decoded through a few shared spatial patterns.
    """
    w = _ridge(f, y, alpha)
    if rank <= 0 or rank >= y.shape[1]:
        return w
    fit = f @ w
    _, _, vt = np.linalg.svd(fit - fit.mean(axis=0), full_matrices=False)
    p = vt[:rank].T @ vt[:rank]
    return w @ p + np.outer(np.eye(w.shape[0])[-1], fit.mean(axis=0) @ (np.eye(p.shape[0]) - p))


def _select(feats: list, bolds: Sequence[np.ndarray], alphas, ranks, mus) -> tuple:
    """Leave-one-subject-out choice of (alpha, rank, mu); returns (mse, alpha, rank, mu, held-out predictions)."""
    n, best = len(feats), None
    for a in alphas:
        for r in ranks:
            preds = []
            for i in range(n):
                w = _reduced_rank_ridge(np.concatenate([feats[j] for j in range(n) if j != i]),
                                        np.concatenate([bolds[j] for j in range(n) if j != i]), a, r)
                preds.append(feats[i] @ w)
            for m in mus:
                sm = [whittaker(p, m) for p in preds]
                err = float(np.mean([np.mean((s - b) ** 2) for s, b in zip(sm, bolds)]))
                if best is None or err < best[0]:
                    best = (err, float(a), int(r), float(m), sm)
    return best


def _check_fmri_config(config: dict, cfg_path: Path) -> None:
    """Refuse a config of another method or with fields of the wrong type (ModelFileError)."""
    if config["method"] in OLD_METHODS:
        raise ModelFileError(f"an fMRI model of an older ieegrecon (method {config['method']!r}, features "
                             f"{OLD_METHODS[config['method']]}); it cannot be read: train a new one", cfg_path)
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
