"""The point estimate of a flow with a ridge location, as a ridge model (:class:`LocationPoint`)."""

from __future__ import annotations

import numpy as np

from .ridge import RidgeModel


class LocationPoint(RidgeModel):
    """A calibrated flow's point estimate as a ridge model: its ridge location plus the contacts' centre.

    ``predict`` returns ``ridge(x) + y_center`` in volts, shape (n_contacts, n_times): what
    :meth:`~ieegrecon.models.flow.FlowModel.predict` returns (``location="ridge"``, no
    ``n_samples``; it calls this); as a :class:`~ieegrecon.models.ridge.RidgeModel` it is streamed
    with ridge's chunking (:meth:`~ieegrecon.models.flow.FlowModel.point_estimator`).

    Parameters
    ----------
    loc : RidgeModel
        The flow's calibrated ridge location (its arrays are shared, not copied).
    y_center : ndarray, shape (n_contacts,)
        The flow's contact centre, volts.
    """

    def __init__(self, loc: RidgeModel, y_center: np.ndarray) -> None:
        super().__init__(loc.sfreq, **{k: v for k, v in loc.get_params().items() if k != "sfreq"})
        self.scalp_names, self.contacts, self.trained_on = list(loc.scalp_names), loc.contacts, loc.trained_on
        self.load_state_dict(loc.state_dict())
        self.y_center_ = np.asarray(y_center)

    def predict(self, scalp: np.ndarray) -> np.ndarray:
        """``ridge(scalp) + y_center`` in volts, shape (n_contacts, n_times)."""
        y = super().predict(scalp)
        y += self.y_center_[:, None]
        return y
