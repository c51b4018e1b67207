"""The posterior of a probabilistic method given one scalp segment, as one object.

Like a ``zuko`` flow called on its context returns a distribution, a method
with ``supports_posterior`` returns a :class:`Posterior` from
``model.posterior(scalp, n_samples=..., seed=...)``::

    post = model.posterior(scalp, n_samples=32, seed=0)
    post.mean                      # (n_contacts, n_times), V: the posterior mean
    post.sample()                  # (32, n_contacts, n_times), V: the draws of this seed
    post.quantiles((0.05, 0.95))   # (2, n_contacts, n_times), V: calibrated bands from the same draws

The ``n_samples`` draws of the seed are made once, when first needed, and
every :meth:`~Posterior.quantiles` call reuses them; a posterior with
quantiles in closed form (``ridge-gauss``'s Gaussian, :attr:`Posterior.exact`)
gives those instead and draws only for :meth:`~Posterior.sample`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


class Posterior:
    """Posterior of the contacts given one scalp segment (draws, bands, mean), in volts.

    Built by a method's ``posterior()``; not meant to be built by hand.

    Parameters
    ----------
    draw : callable
        ``draw(k)`` -> standardized draws, shape (k, n_contacts, n_times); the
        same ``k`` gives the same draws (the seed is bound in).
    mean : callable
        ``mean()`` -> standardized posterior mean, shape (n_contacts, n_times).
    to_volts : callable
        Standardized array (..., n_contacts, n_times) -> volts.
    widen : ndarray, shape (n_contacts, 1)
        Factor applied to the distance of every quantile from the median
        (split-conformal calibration; 1 = the draws' own spread).
    n_samples : int
        Number of draws the quantiles are computed from.
    exact_quantiles : callable | None
        ``exact_quantiles(levels)`` -> standardized quantiles, shape
        (len(levels), n_contacts, n_times), where the posterior has them in
        closed form (a Gaussian: ``mean + Phi^-1(q) sd``). Then
        :meth:`quantiles` uses them instead of the draws (and ``widen`` is not
        applied); draws are still what :meth:`sample` returns.
    """

    def __init__(self, draw: Callable[[int], np.ndarray], mean: Callable[[], np.ndarray],
                 to_volts: Callable[[np.ndarray], np.ndarray], widen: np.ndarray, n_samples: int,
                 exact_quantiles: Callable[[list[float]], np.ndarray] | None = None) -> None:
        self._draw, self._mean, self._to_volts = draw, mean, to_volts
        self._widen = widen
        self.n_samples = int(n_samples)
        self._exact = exact_quantiles
        self._draws: np.ndarray | None = None

    @property
    def exact(self) -> bool:
        """Whether :meth:`quantiles` are exact (closed form) rather than quantiles of ``n_samples`` draws."""
        return self._exact is not None

    def _std_draws(self) -> np.ndarray:
        if self._draws is None:
            self._draws = self._draw(self.n_samples)
        return self._draws

    @property
    def mean(self) -> np.ndarray:
        """Posterior mean in volts, shape (n_contacts, n_times).

        Estimated by the method's own variance-reduced path (for the flow:
        ``n_samples`` antithetic draws, pairs ``z, -z``), so it is not the mean
        of :meth:`sample`. For ``ridge-gauss`` it is ``model.predict(scalp)``; for
        the flow ``model.predict(scalp, n_samples=n_samples)``, while the flow's
        default point estimate is its ridge location
        (:meth:`~ieegrecon.models.flow.FlowModel.predict`).
        """
        return self._to_volts(self._mean())

    def sample(self, k: int | None = None) -> np.ndarray:
        """Draws from the posterior, in volts.

        Parameters
        ----------
        k : int | None
            Number of draws (None: ``n_samples``). ``k == n_samples`` returns
            the draws the quantiles are computed from; another ``k`` draws
            ``k`` of the same seed (what ``model.sample(scalp, k, seed)`` returns).

        Returns
        -------
        ndarray, shape (k, n_contacts, n_times)
        """
        if k is None or int(k) == self.n_samples:
            return self._to_volts(self._std_draws())
        if int(k) < 1:
            raise ValueError(f"Invalid value for the 'k' parameter: must be >= 1, but got {k!r} instead.")
        return self._to_volts(self._draw(int(k)))

    def quantiles(self, q: Sequence[float]) -> np.ndarray:
        """Calibrated quantiles of the posterior, in volts.

        Exact where the posterior has them in closed form (:attr:`exact`; no
        draw is made); otherwise the quantiles of the ``n_samples`` draws, with
        their distance from the median multiplied by the calibration factor of
        each contact.

        Parameters
        ----------
        q : sequence of float
            Levels in [0, 1].

        Returns
        -------
        ndarray, shape (len(q), n_contacts, n_times)
            Ordered like ``q``; level 0.5 is the median of the draws.

        Raises
        ------
        ValueError
            If a level is outside [0, 1].
        """
        levels = [float(v) for v in np.atleast_1d(np.asarray(q, dtype=float))]
        if not all(0.0 <= v <= 1.0 for v in levels):
            raise ValueError(f"Invalid value for the 'q' parameter: levels must be in [0, 1], but got {list(q)} "
                             "instead.")
        if self._exact is not None:
            return self._to_volts(self._exact(levels))
        # one call with the median appended: np.quantile of a list of levels (float64 levels) is what the
        # bands were always computed with; a scalar level rounds differently on float32 draws
        raws = draw_quantiles(self._std_draws(), levels + [0.5])
        med, f = raws[-1], self._widen
        for i, v in enumerate(levels):  # in place: raws[i] becomes the widened level
            if v < 0.5:
                raws[i] = med - f * (med - raws[i])
            elif v > 0.5:
                raws[i] = med + f * (raws[i] - med)
            else:
                raws[i] = med
        return self._to_volts(raws[:-1])


def draw_quantiles(draws: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """``np.quantile(draws, levels, axis=0)`` (numpy's default 'linear' method), bit for bit, faster.

    ``np.quantile`` partitions along the draws' axis, which is strided in memory, once per
    order statistic it needs: 1.0 s for 32 draws of 48 contacts x 16000 samples. Here the draws
    are copied so that each sample's draws are contiguous, sorted (0.09 s), and the two
    neighbouring order statistics of each level interpolated exactly as numpy does (virtual
    index ``(n - 1) q``, its ``_lerp``); a test checks equality with ``np.quantile``. Draws with
    more than one further axis are copied one index of the second axis (a contact) at a time,
    so the copy is a contact's, not the draws' size (98 MiB for the example above).

    Parameters
    ----------
    draws : ndarray, shape (n_draws, ...)
        Finite values (float32 or float64).
    levels : sequence of float
        Levels in [0, 1].

    Returns
    -------
    ndarray, shape (len(levels), ...), float64 (as ``np.quantile`` gives for these inputs)
    """
    if draws.ndim > 2:
        first = draw_quantiles(draws[:, 0], levels)
        out = np.empty(first.shape[:1] + draws.shape[1:], first.dtype)
        out[:, 0] = first
        for i in range(1, draws.shape[1]):
            out[:, i] = draw_quantiles(draws[:, i], levels)
        return out
    n = draws.shape[0]
    s = np.ascontiguousarray(np.moveaxis(draws, 0, -1))
    s.sort(axis=-1)
    out = []
    for q in levels:
        vi = (n - 1) * float(q)
        lo = min(max(int(np.floor(vi)), 0), n - 1)
        g, hi = np.float64(vi - lo), min(lo + 1, n - 1)
        a, b = s[..., lo], s[..., hi]
        diff = b - a
        out.append(b - diff * (1 - g) if g >= 0.5 else a + diff * g)
    return np.stack(out)
