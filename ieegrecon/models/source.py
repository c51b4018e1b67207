"""Classical EEG source imaging read out at the contacts (eLORETA or LCMV).

1. Template forward model (:mod:`ieegrecon.headmodel`): three-shell sphere
   fitted to the 10-05 positions, volume grid inside fsaverage's inner skull.
2. Linear inverse operator ``K`` (n_sources*3, n_scalp): eLORETA
   (Pascual-Marqui 2007) via :func:`mne.minimum_norm.make_inverse_operator`
   and ``apply_inverse_raw(pick_ori='vector')`` applied to an identity
   "recording" (the operator is linear, so this yields its matrix), or an
   LCMV beamformer (Van Veen et al. 1997, :func:`mne.beamformer.make_lcmv`)
   whose data covariance comes from the calibration scalp EEG.
3. Read-out at each contact: the potential that the estimated dipoles
   produce at the contact's MNI position in a homogeneous conductor
   (:func:`ieegrecon.headmodel.dipole_potential_matrix`) — a signed waveform,
   not an amplitude.
4. Calibration fits at most one gain (with sign) per contact by least
   squares; without calibration the gain is 1 (physical units).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from .base import ContactInfo, PairedSegment, ReconModel


class SourceModel(ReconModel):
    """EEG source imaging (eLORETA or LCMV) read out at contact positions.

    Parameters
    ----------
    sfreq : float
        Model rate in Hz.
    inverse : {'eLORETA', 'LCMV'}
        Inverse method.
    snr : float
        Assumed SNR for eLORETA (``lambda2 = 1 / snr**2``).
    spacing_mm : float
        Source grid spacing in mm.
    fit_gain : bool
        Fit one signed gain per contact on calibration data.
    """

    method = "source"
    supports_zero_shot = True

    def __init__(self, sfreq: float = 200.0, inverse: str = "eLORETA", snr: float = 3.0,
                 spacing_mm: float = 10.0, fit_gain: bool = True) -> None:
        super().__init__(sfreq)
        if inverse not in ("eLORETA", "LCMV"):
            raise ValueError(f"Invalid value for the 'inverse' parameter. Allowed values are "
                             f"['eLORETA', 'LCMV'], but got {inverse!r} instead.")
        self.inverse = inverse
        self.snr = float(snr)
        self.spacing_mm = float(spacing_mm)
        self.fit_gain = bool(fit_gain)
        self.readout_: np.ndarray | None = None  # (n_contacts, n_scalp), V/V
        self.gain_: np.ndarray | None = None  # (n_contacts,)

    # ---------------------------------------------------------------- build
    def inverse_kernel(self, scalp_names: list[str], scalp: np.ndarray | None = None) -> np.ndarray:
        """Matrix of the linear inverse, shape (n_sources * 3, n_scalp), A·m per V.

        Parameters
        ----------
        scalp_names : list of str
            Scalp channels.
        scalp : ndarray, shape (n_scalp, n_times) | None
            Data for the LCMV covariance (required for LCMV).
        """
        import mne

        from ..headmodel import template_forward

        if self.inverse == "eLORETA":
            return _eloreta_kernel(tuple(scalp_names), self.snr, self.spacing_mm).copy()
        fwd, info = template_forward(scalp_names, self.spacing_mm)
        with mne.utils.use_log_level("error"):
            if scalp is None:
                raise ValueError("LCMV needs calibration scalp data for its covariance")
            raw = mne.io.RawArray(scalp, info.copy(), verbose=False)
            raw.set_eeg_reference("average", projection=True, verbose=False)
            data_cov = mne.compute_raw_covariance(raw, verbose=False)
            filters = mne.beamformer.make_lcmv(raw.info, fwd, data_cov, reg=0.05, pick_ori="vector",
                                               weight_norm=None, rank=None, verbose=False)
            w = filters["weights"]  # (n_src*3, n_channels) after projection
            proj = filters["proj"]
            return w @ proj

    def _build(self, scalp_names: list[str], contacts: ContactInfo, scalp: np.ndarray | None) -> None:
        import mne

        from ..headmodel import check_positions, dipole_potential_matrix, template_forward

        pos = check_positions(contacts.ch_names, contacts.positions)
        K = self.inverse_kernel(scalp_names, scalp)
        fwd, _ = template_forward(scalp_names, self.spacing_mm)
        src_pos = mne.transforms.apply_trans(mne.transforms.Transform("mri", "head"), fwd["source_rr"])
        L = dipole_potential_matrix(pos, src_pos, min_dist=self.spacing_mm / 2000.0)
        self.readout_ = L @ K
        self.scalp_names = list(scalp_names)
        self.contacts = contacts

    def set_targets(self, contacts: ContactInfo, scalp_names: list[str] | None = None) -> None:
        """Zero-shot use: build the read-out for these contacts, gain 1 (eLORETA only).

        Parameters
        ----------
        contacts : ContactInfo
            Targets (MNI positions required).
        scalp_names : list of str | None
            Scalp channels (default: those of the last calibration).
        """
        self._build(list(scalp_names or self.scalp_names), contacts, None)
        self.gain_ = np.ones(len(contacts.ch_names))

    # ------------------------------------------------------------------ API
    def calibrate(self, segment: PairedSegment, **kwargs: Any) -> dict[str, Any]:
        """Build the read-out and fit one signed gain per contact (least squares)."""
        self._build(segment.scalp_names, segment.contacts, segment.scalp)
        raw = self.readout_ @ segment.scalp
        raw = raw - raw.mean(axis=1, keepdims=True)
        y = segment.ieeg - segment.ieeg.mean(axis=1, keepdims=True)
        if self.fit_gain:
            den = (raw**2).sum(axis=1)
            self.gain_ = np.where(den > 0, (raw * y).sum(axis=1) / np.where(den > 0, den, 1), 0.0)
        else:
            self.gain_ = np.ones(raw.shape[0])
        return {"inverse": self.inverse, "gain": self.gain_.tolist()}

    def predict(self, scalp: np.ndarray) -> np.ndarray:
        """Reconstruct contacts; see :meth:`ReconModel.predict`."""
        if self.readout_ is None:
            raise RuntimeError("source model has no targets: calibrate or set_targets first")
        scalp = self.check_scalp(scalp)
        return self.gain_[:, None] * (self.readout_ @ scalp)

    def get_params(self) -> dict[str, Any]:
        return {"sfreq": self.sfreq, "inverse": self.inverse, "snr": self.snr,
                "spacing_mm": self.spacing_mm, "fit_gain": self.fit_gain}

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.readout_ is None:
            raise RuntimeError("source model is not built")
        return {"readout": self.readout_, "gain": self.gain_}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        n_c = 0 if self.contacts is None else len(self.contacts.ch_names)
        if state["readout"].shape != (n_c, len(self.scalp_names)):
            raise ValueError(f"readout shape {state['readout'].shape} != ({n_c}, {len(self.scalp_names)})")
        self.readout_ = state["readout"]
        self.gain_ = state["gain"]


@lru_cache(maxsize=8)
def _eloreta_kernel(scalp_names: tuple[str, ...], snr: float, spacing_mm: float) -> np.ndarray:
    """eLORETA operator matrix (n_sources*3, n_scalp) on the template head, cached per channel set.

    The operator is linear, so applying it to an identity "recording" with
    ``pick_ori='vector'`` returns its matrix (average reference included).
    """
    import mne
    from mne.minimum_norm import apply_inverse_raw, make_inverse_operator

    from ..headmodel import template_forward

    fwd, info = template_forward(list(scalp_names), spacing_mm)
    n = len(scalp_names)
    with mne.utils.use_log_level("error"):
        noise_cov = mne.make_ad_hoc_cov(info, std=dict(eeg=1e-6), verbose=False)
        raw_id = mne.io.RawArray(np.eye(n), info.copy(), verbose=False)
        raw_id.set_eeg_reference("average", projection=True, verbose=False)
        inv = make_inverse_operator(raw_id.info, fwd, noise_cov, loose=1.0, depth=None, verbose=False)
        stc = apply_inverse_raw(raw_id, inv, 1.0 / snr**2, method="eLORETA", pick_ori="vector",
                                verbose=False, method_params=dict(max_iter=50))
    return stc.data.reshape(-1, n)
