r"""The stationary drift's log-log slope up to leapfrog's stability limit, and its negative band.

The exact stationary median of the per-step energy change (:meth:`LeapfrogQuadratic.
stationary_drift`, seed 000 eq. 1 at stationarity) as a function of the step size dt, sampled
on a grid that ends at the exact stability limit, with its local slope
:math:`s = d\log D/d\log dt` by centred differences, and the band of dt where :math:`s < 0`
(an anti-dissipative band: a larger step drifts less).

Stability limit (Jury's criterion for the 2 x 2 one-step map of a mode of frequency
:math:`\omega = \sqrt{\rho m}`, seed 000 eqs. 2-4): with :math:`a = e^{-\gamma\,dt/2}`, the map is
stable iff :math:`(\omega\,dt)^2 < 4(1 + a^2)/(1 + a)`; the modes of
:math:`M^{-1/2} H M^{-1/2}` decouple (the damping is a scalar), so the stiffest mode sets the
limit.

Examples
--------
>>> import numpy as np
>>> from dynlab.energy import LeapfrogQuadratic
>>> from dynlab.models import QuadraticProblem
>>> prob = QuadraticProblem(np.eye(1), noise_cov=np.eye(1))
>>> limit = stability_limit(1.0, 0.1)
>>> rho = lambda dt: LeapfrogQuadratic(prob, dt=dt, gamma=0.1).spectral_radius
>>> bool(rho(0.999 * limit) < 1.0 < rho(1.001 * limit))
True
>>> s = stationary_slopes(prob, gamma=0.02, noise="step", n_runup=4, n_dense=16)
>>> bool(s.min_slope < 0.0 and 1.5 < s.band[0] < s.band[1] < s.limit)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from . import config
from ._validate import as_positive_int, as_scalar
from .energy import LeapfrogQuadratic
from .models import LinearRegressionProblem, QuadraticProblem

__all__ = [
    "StationarySlopes",
    "band_closing_ratio",
    "dt_grid",
    "stability_limit",
    "stationary_slope",
    "stationary_slopes",
]


def stability_limit(omega: float, gamma: float = 0.0) -> float:
    r"""Largest stable dt of damped leapfrog for a mode of frequency omega.

    The root of :math:`(\omega\,dt)^2 (1 + a) = 4 (1 + a^2)`, :math:`a = e^{-\gamma\,dt/2}`
    (Jury's :math:`p(-1) = 0` for the one-step map of seed 000 eqs. 2-4); ``2 / omega`` when
    gamma = 0, and below it when gamma > 0.
    """
    omega = as_scalar(omega, "omega", low=0.0, low_open=True)
    gamma = as_scalar(gamma, "gamma", low=0.0)
    top = 2.0 / omega
    if gamma == 0.0:
        return top

    def jury(dt):
        a = np.exp(-0.5 * gamma * dt)
        return 4.0 * (1.0 + a * a) - (omega * dt) ** 2 * (1.0 + a)

    return float(optimize.brentq(jury, 0.5 * top, top, xtol=config.EPS * top, rtol=4 * config.EPS))


def _omega_max(lf: LeapfrogQuadratic) -> float:
    root = np.sqrt(lf.inv_mass)
    return float(np.sqrt(np.max(np.linalg.eigvalsh(root[:, None] * lf._K * root[None, :]))))


def dt_grid(limit: float, omega: float, *, n_runup: int, n_dense: int) -> np.ndarray:
    r"""Step sizes ending at ``STABILITY_EDGE_FRACTION`` of the stability limit.

    A geometric run-up of ``n_runup`` points from ``DT_GRID_LOW / omega`` to ``1.5 / omega``
    (exclusive), then ``n_dense`` equally spaced points from ``1.5 / omega`` to
    ``STABILITY_EDGE_FRACTION * limit``, where the negative band lives.
    """
    n_runup = as_positive_int(n_runup, "n_runup")
    n_dense = as_positive_int(n_dense, "n_dense")
    start = 1.5 / omega  # below every damped limit (their minimum is omega dt ~ 1.8)
    runup = np.geomspace(config.DT_GRID_LOW / omega, start, n_runup + 1)[:-1]
    return np.concatenate(
        [runup, np.linspace(start, config.STABILITY_EDGE_FRACTION * limit, n_dense)]
    )


def stationary_slope(make, dt: float, limit: float) -> float:
    r"""Centred difference of :math:`\log D` in :math:`\log dt` at dt (D: stationary drift).

    ``make(dt)`` returns the :class:`LeapfrogQuadratic`. The log-step is
    ``SLOPE_LOG_STEP``, shrunk to a tenth of :math:`\log(\text{limit}/dt)` near the limit so
    that both points stay stable and inside the curve's local scale.
    """
    e = min(config.SLOPE_LOG_STEP, 0.1 * np.log(limit / dt))
    up = make(dt * np.exp(e)).stationary_drift()
    down = make(dt * np.exp(-e)).stationary_drift()
    return float((np.log(up) - np.log(down)) / (2.0 * e))


@dataclass(frozen=True)
class StationarySlopes:
    """Stationary drift and slope on a grid ending at the stability limit (dt in units 1/omega).

    ``omega`` = omega_max (the stiffest mode's frequency), ``x`` = omega_max dt on the grid,
    ``limit`` = omega_max times the stability limit,
    ``band`` = (lower, upper) edge of the negative-slope band (refined by root finding between
    grid points; None if no grid slope is negative), ``min_slope`` and ``argmin`` from a
    bounded minimisation around the grid's smallest slope.
    """

    omega: float
    x: np.ndarray
    drift: np.ndarray
    slope: np.ndarray
    limit: float
    band: tuple[float, float] | None
    min_slope: float
    argmin: float


def stationary_slopes(
    problem,
    *,
    gamma: float,
    noise: str = "step",
    inv_mass=1.0,
    batch_size: int = 1,
    n_runup: int = 8,
    n_dense: int = 32,
) -> StationarySlopes:
    """Scan the stationary drift and its slope over :func:`dt_grid` (the band's edges refined).

    Parameters as :class:`LeapfrogQuadratic`; ``n_runup``, ``n_dense`` as :func:`dt_grid`.
    """
    if isinstance(problem, LinearRegressionProblem):
        problem = problem.as_quadratic()

    def make(dt):
        return LeapfrogQuadratic(
            problem, dt=dt, gamma=gamma, inv_mass=inv_mass, batch_size=batch_size, noise=noise
        )

    w = _omega_max(make(1.0))
    lim = stability_limit(w, gamma)
    dts = dt_grid(lim, w, n_runup=n_runup, n_dense=n_dense)
    drift = np.array([make(dt).stationary_drift() for dt in dts])
    slope = np.array([stationary_slope(make, dt, lim) for dt in dts])

    def f(dt):
        return stationary_slope(make, dt, lim)

    def root(i):  # sign change between grid points i and i + 1
        return optimize.brentq(f, dts[i], dts[i + 1], rtol=config.BAND_EDGE_RTOL) * w

    neg = np.flatnonzero(slope < 0.0)
    band = None
    if neg.size:
        lo = root(neg[0] - 1) if neg[0] > 0 else dts[0] * w
        hi = root(neg[-1]) if neg[-1] < dts.size - 1 else dts[-1] * w
        band = (float(lo), float(hi))
    i = int(np.argmin(slope))
    res = optimize.minimize_scalar(
        f,
        bounds=(dts[max(i - 1, 0)], dts[min(i + 1, dts.size - 1)]),
        method="bounded",
        options=dict(xatol=config.BAND_EDGE_RTOL * dts[i]),
    )
    best = (res.fun, res.x) if res.fun < slope[i] else (slope[i], dts[i])
    if band is None and best[0] < 0.0:  # a band narrower than the grid spacing
        lo = dts[max(i - 1, 0)]
        hi = dts[min(i + 1, dts.size - 1)]
        band = (
            float(optimize.brentq(f, lo, best[1], rtol=config.BAND_EDGE_RTOL) * w),
            float(optimize.brentq(f, best[1], hi, rtol=config.BAND_EDGE_RTOL) * w),
        )
    return StationarySlopes(
        w, dts * w, drift, slope, lim * w, band, float(best[0]), float(best[1] * w)
    )


def band_closing_ratio(noise: str = "step", bracket=(0.1, 0.3), **grid) -> float:
    r"""The :math:`\gamma/\omega` at which the 1-D stationary band closes (its minimum slope is 0).

    For one mode the slope depends only on :math:`\omega\,dt` and :math:`\gamma/\omega`
    (the drift scales as :math:`m\sigma^2/\omega^2` times a function of those), so the band
    exists for :math:`\gamma/\omega` below this root of :math:`\min_{dt} s = 0`, found by
    Brent's method inside ``bracket``; ``grid`` as :func:`stationary_slopes`. Raises
    ``ValueError`` (from brentq) if the minimum slope does not change sign in the bracket.
    """
    unit = QuadraticProblem(np.eye(1), noise_cov=np.eye(1))

    def depth(g):
        return stationary_slopes(unit, gamma=g, noise=noise, **grid).min_slope

    return float(optimize.brentq(depth, *bracket, rtol=config.BAND_EDGE_RTOL))
