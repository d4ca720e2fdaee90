"""Observables of recorded trajectories: pure numpy on arrays (no torch, no numba).

* :func:`fit_power_law`, :func:`local_exponent` -- the anomalous-diffusion exponent c of
  ``||Delta_k||^2 ~ k^c`` (Kunin et al. 2021, arXiv:2107.09133, sec. 2 and appendix H.2: a
  line on the log-log plot of the last 2/3 of the saved trajectory);
* :func:`tail_median_abs`, :func:`ols_loglog` -- the energy drift of seed 000 eq. 1 and its OLS
  log-log slope with a t-interval (seed 000 Table 1);
* :func:`reversibility_error` -- forward n steps, flip the momentum, n steps back (seed 000
  sec. 4.2);
* :func:`dominant_frequencies` -- FFT peaks of projected phase-space trajectories;
* :func:`ensemble_mean_sem` -- ensemble mean and its standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validate import as_array, as_int, as_positive_int, as_scalar
from .errors import DynlabError, ShapeError

__all__ = [
    "OLSFit",
    "PowerLawFit",
    "ols_loglog",
    "fit_power_law",
    "local_exponent",
    "tail_median_abs",
    "reversibility_error",
    "dominant_frequencies",
    "ensemble_mean_sem",
]


@dataclass(frozen=True)
class OLSFit:
    """``log10 y = slope log10 x + intercept`` fitted by ordinary least squares.

    ``stderr`` is the slope's standard error, ``[ci_low, ci_high]`` its two-sided t-interval
    at confidence ``level`` with ``n - 2`` degrees of freedom.
    """

    slope: float
    intercept: float
    stderr: float
    ci_low: float
    ci_high: float
    level: float
    n: int


@dataclass(frozen=True)
class PowerLawFit:
    """``y = prefactor * k**c`` fitted on the window ``k_lo <= k <= k_hi``.

    ``stderr`` is the standard error of ``c``, ``[ci_low, ci_high]`` its 95% t-interval
    (rows of a trajectory are correlated, so read it as a fit diagnostic, not a sampling error).
    """

    c: float
    prefactor: float
    stderr: float
    ci_low: float
    ci_high: float
    k_lo: float
    k_hi: float
    n: int


def _positive_1d(x, name: str) -> np.ndarray:
    a = as_array(x, name, ndim=1)
    if np.any(a <= 0.0):
        raise DynlabError(f"{name} must be positive for a log-log fit; min is {a.min():.3g}")
    return a


def ols_loglog(x, y, level: float = 0.95) -> OLSFit:
    """Fit ``log10 y = m log10 x + b`` by OLS, with a t-interval for ``m`` (seed 000, Table 1).

    Parameters
    ----------
    x, y : (n,) array_like
        Positive values (e.g. step sizes dt and tail-median drifts), n >= 3.
    level : float
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    OLSFit
        ``stderr = sqrt(RSS / (n - 2) / Sxx)``, interval ``m -+ t_{(1+level)/2, n-2} stderr``.

    Examples
    --------
    The slope and its standard error agree with scipy's linear regression of the logarithms:

    >>> from scipy.stats import linregress
    >>> rng = np.random.default_rng(0)
    >>> x = np.logspace(-3, -1, 8)
    >>> y = 2.0 * x**2 * np.exp(0.05 * rng.standard_normal(8))
    >>> fit, ref = ols_loglog(x, y), linregress(np.log10(x), np.log10(y))
    >>> bool(np.isclose(fit.slope, ref.slope) and np.isclose(fit.stderr, ref.stderr))
    True
    """
    lx = np.log10(_positive_1d(x, "x"))
    ly = np.log10(_positive_1d(y, "y"))
    n = lx.shape[0]
    if ly.shape[0] != n:
        raise ShapeError(f"x and y must have the same length; got {n} and {ly.shape[0]}")
    if n < 3:
        raise ShapeError(f"an OLS slope with a standard error needs n >= 3 points; got {n}")
    level = as_scalar(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    dx = lx - lx.mean()
    sxx = float(dx @ dx)
    if sxx == 0.0:
        raise DynlabError("x must take at least two distinct values")
    slope = float(dx @ (ly - ly.mean())) / sxx
    intercept = float(ly.mean() - slope * lx.mean())
    resid = ly - (intercept + slope * lx)
    stderr = math.sqrt(float(resid @ resid) / (n - 2) / sxx)
    from scipy import stats  # imported here: scipy.stats takes ~1 s to import

    t = float(stats.t.ppf(0.5 * (1.0 + level), n - 2))
    return OLSFit(slope, intercept, stderr, slope - t * stderr, slope + t * stderr, level, n)


def fit_power_law(k, y, *, window="last_two_thirds") -> PowerLawFit:
    """Fit ``y = alpha k^c`` by a least-squares line on the log-log plot.

    Kunin et al. 2021, arXiv:2107.09133, appendix H.2, fit ``||Delta_k||^2 ~ alpha k^c`` "using
    the last 2/3 of the saved trajectories".

    Parameters
    ----------
    k, y : (n,) array_like
        Step indices and values (e.g. ``record.steps`` and ``record.mean("Delta2")``).
    window : "last_two_thirds", "all" or (k_lo, k_hi)
        Points used: the last ``ceil(2n/3)`` samples, all of them, or those with
        ``k_lo <= k <= k_hi``. Values in the window must be positive (at least 3 points).

    Returns
    -------
    PowerLawFit

    Examples
    --------
    An exact power law gives back its exponent and prefactor; on noisy data the fit is numpy's
    least-squares line through the last 2/3 of the log-log points:

    >>> k = np.arange(1.0, 31.0)
    >>> fit = fit_power_law(k, 3.0 * k**0.7)
    >>> bool(np.isclose(fit.c, 0.7) and np.isclose(fit.prefactor, 3.0))
    True
    >>> y = k**1.5 * np.exp(0.1 * np.random.default_rng(1).standard_normal(30))
    >>> slope = np.polyfit(np.log(k[10:]), np.log(y[10:]), 1)[0]
    >>> bool(np.isclose(fit_power_law(k, y).c, slope))
    True
    """
    k = as_array(k, "k", ndim=1)
    y = as_array(y, "y", shape=(k.shape[0],))
    n = k.shape[0]
    if isinstance(window, str):
        if window == "last_two_thirds":
            sel = slice(n // 3, n)
        elif window == "all":
            sel = slice(0, n)
        else:
            raise ShapeError(
                f"window must be 'last_two_thirds', 'all' or (k_lo, k_hi); got {window!r}"
            )
        kw, yw = k[sel], y[sel]
    else:
        lo, hi = (as_scalar(w, "window bound", error=ShapeError) for w in window)
        mask = (k >= lo) & (k <= hi)
        kw, yw = k[mask], y[mask]
    fit = ols_loglog(kw, yw)
    return PowerLawFit(
        c=fit.slope,
        prefactor=10.0**fit.intercept,
        stderr=fit.stderr,
        ci_low=fit.ci_low,
        ci_high=fit.ci_high,
        k_lo=float(kw.min()),
        k_hi=float(kw.max()),
        n=fit.n,
    )


def local_exponent(k, y) -> np.ndarray:
    """Local power-law exponent ``d log y / d log k`` at each sample.

    Second-order centred differences on the log-log curve (one-sided at the ends,
    ``numpy.gradient`` with the non-uniform spacing of ``log k``); exact for a power law.

    Parameters
    ----------
    k : (n,) array_like
        Positive, strictly increasing steps.
    y : (n, ...) array_like
        Positive values; the derivative is taken along axis 0.

    Examples
    --------
    Constant and equal to the exponent for a power law, on a non-uniform grid:

    >>> k = np.array([1.0, 2.0, 5.0, 10.0, 50.0])
    >>> bool(np.allclose(local_exponent(k, 4.0 * k**-0.5), -0.5))
    True
    """
    lk = np.log(_positive_1d(k, "k"))
    if np.any(np.diff(lk) <= 0.0):
        raise DynlabError("k must be strictly increasing")
    y = as_array(y, "y")
    if y.ndim == 0 or y.shape[0] != lk.shape[0]:
        raise ShapeError(f"y must have {lk.shape[0]} rows along axis 0; got shape {y.shape}")
    if lk.shape[0] < 2:
        raise ShapeError("a local exponent needs at least 2 samples")
    if np.any(y <= 0.0):
        raise DynlabError("y must be positive for a log-log derivative")
    return np.gradient(np.log(y), lk, axis=0)


def tail_median_abs(delta_H, tail: float = 0.2) -> np.ndarray:
    """Tail-median energy drift ``median_{t in [(1 - tail) T, T]} |Delta H_t|`` (seed 000 eq. 1).

    Parameters
    ----------
    delta_H : (T, ...) array_like
        Per-step energy changes in time order along axis 0 (e.g. ``record.energy_change``).
    tail : float
        Fraction of the run at its end, in (0, 1]; the last ``max(1, round(tail T))`` samples.

    Returns
    -------
    ndarray of shape ``delta_H.shape[1:]`` (a float for 1-D input).

    Examples
    --------
    Against a brute-force median of the last fifth of the run:

    >>> dH = np.array([5.0, -4.0, 3.0, -2.0, 1.0, 0.5, -0.25, 0.125, -8.0, 2.0])
    >>> tail = sorted(abs(v) for v in dH[-2:])
    >>> bool(tail_median_abs(dH, 0.2) == (tail[0] + tail[1]) / 2)
    True
    """
    x = as_array(delta_H, "delta_H")
    if x.ndim == 0 or x.shape[0] == 0:
        raise ShapeError("delta_H must have at least one sample along axis 0")
    tail = as_scalar(tail, "tail", low=0.0, high=1.0, low_open=True, error=ShapeError)
    n_tail = max(1, int(round(tail * x.shape[0])))
    return np.median(np.abs(x[x.shape[0] - n_tail :]), axis=0)


def reversibility_error(advance, theta0, p0, n_steps: int):
    """Normalised round-trip error of a time-reversible integrator (seed 000, sec. 4.2).

    Runs ``(theta1, p1) = advance(theta0, p0, n)``, then ``(theta2, p2) = advance(theta1, -p1, n)``,
    and returns ``||(theta2 - theta0, -p2 - p0)|| / ||(theta0, p0)||``: zero up to rounding for a
    reversible map, ``O(n dt^q)`` otherwise.

    Parameters
    ----------
    advance : callable
        ``advance(theta, p, n) -> (theta, p)``, n steps of the integrator (arrays).
    theta0, p0 : (d,) or (M, d) array_like
        Start; norms are taken over the last axis (one error per path).
    n_steps : int
        Steps each way.

    Examples
    --------
    Leapfrog on a harmonic oscillator is reversible (round trip exact to rounding); explicit
    Euler is not:

    >>> def leapfrog(theta, p, n, dt=0.1):
    ...     for _ in range(n):
    ...         p = p - 0.5 * dt * theta
    ...         theta = theta + dt * p
    ...         p = p - 0.5 * dt * theta
    ...     return theta, p
    >>> def euler(theta, p, n, dt=0.1):
    ...     for _ in range(n):
    ...         theta, p = theta + dt * p, p - dt * theta
    ...     return theta, p
    >>> theta0, p0 = np.array([1.0]), np.array([0.0])
    >>> bool(reversibility_error(leapfrog, theta0, p0, 100) < 1e-13)
    True
    >>> bool(reversibility_error(euler, theta0, p0, 100) > 0.1)
    True
    """
    theta0 = as_array(theta0, "theta0")
    p0 = as_array(p0, "p0", shape=theta0.shape)
    n = as_positive_int(n_steps, "n_steps", error=ShapeError)
    scale = np.sqrt(np.sum(theta0**2, axis=-1) + np.sum(p0**2, axis=-1))
    if np.any(scale == 0.0):
        raise DynlabError("the round-trip error is relative to ||(theta0, p0)||, which is zero")
    theta1, p1 = advance(theta0, p0, n)
    theta2, p2 = advance(np.asarray(theta1), -np.asarray(p1), n)
    gap = np.sum((np.asarray(theta2) - theta0) ** 2, axis=-1) + np.sum(
        (np.asarray(p2) + p0) ** 2, axis=-1
    )
    return np.sqrt(gap) / scale


#: Zero-padding factor of the FFT in :func:`dominant_frequencies`.
_PAD = 4


def dominant_frequencies(x, *, dt: float = 1.0, n_peaks: int = 1) -> np.ndarray:
    """Frequencies of the strongest spectral peaks of each series (cycles per unit of ``dt``).

    The mean is removed, a Hann window applied, the series zero-padded 4x and its power
    spectrum ``|rfft|^2`` searched for local maxima (the zero-frequency bin excluded); each
    peak is refined by a parabola through the log-power of its bin and its two neighbours.
    With ``dt = 1`` frequencies are in cycles per step.

    Parameters
    ----------
    x : (T, ...) array_like
        Series along axis 0 (e.g. ``record.proj_theta`` of shape (R, M, p)), T >= 8.
    dt : float
        Sampling interval (``record.every`` to get cycles per optimizer step).
    n_peaks : int
        Number of peaks per series, strongest first.

    Returns
    -------
    ndarray of shape ``(n_peaks,) + x.shape[1:]``

    Raises
    ------
    DynlabError
        If a series has fewer than ``n_peaks`` local maxima (e.g. a constant series).

    Examples
    --------
    Two cosines between FFT bins (bin width 1 / 1600 cycles per step here); the parabolic
    refinement finds them to within 1% of a bin:

    >>> k = np.arange(400)
    >>> x = np.cos(2 * np.pi * 0.0513 * k) + 0.3 * np.cos(2 * np.pi * 0.2077 * k)
    >>> f = dominant_frequencies(x, n_peaks=2)
    >>> bool(np.allclose(f, [0.0513, 0.2077], rtol=0, atol=1e-5))
    True
    """
    x = as_array(x, "x")
    if x.ndim == 0 or x.shape[0] < 8:
        raise ShapeError(f"x needs at least 8 samples along axis 0; got shape {x.shape}")
    dt = as_scalar(dt, "dt", low=0.0, low_open=True, error=ShapeError)
    n_peaks = as_positive_int(n_peaks, "n_peaks", error=ShapeError)
    T = x.shape[0]
    series = x.reshape(T, -1)
    series = (series - series.mean(axis=0)) * np.hanning(T)[:, None]
    n_fft = _PAD * T
    logp = np.log(np.abs(np.fft.rfft(series, n=n_fft, axis=0)) ** 2 + np.finfo(np.float64).tiny)
    out = np.empty((n_peaks, series.shape[1]))
    for s in range(series.shape[1]):
        lp = logp[:, s]
        interior = np.flatnonzero((lp[1:-1] > lp[:-2]) & (lp[1:-1] >= lp[2:])) + 1
        if interior.size < n_peaks:
            raise DynlabError(
                f"series {s} has only {interior.size} spectral peaks; asked for {n_peaks}"
            )
        top = interior[np.argsort(lp[interior])[::-1][:n_peaks]]
        a, b, c = lp[top - 1], lp[top], lp[top + 1]
        offset = 0.5 * (a - c) / (a - 2.0 * b + c)
        out[:, s] = (top + offset) / (n_fft * dt)
    return out.reshape((n_peaks,) + x.shape[1:])


def ensemble_mean_sem(x, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean over ``axis`` and its standard error ``std(ddof=1) / sqrt(n)`` (n >= 2 samples).

    Examples
    --------
    Against scipy's standard error of the mean:

    >>> from scipy.stats import sem
    >>> x = np.random.default_rng(0).standard_normal((50, 3))
    >>> mean, se = ensemble_mean_sem(x)
    >>> bool(np.allclose(mean, x.mean(axis=0)) and np.allclose(se, sem(x, axis=0)))
    True
    """
    x = as_array(x, "x")
    if x.ndim == 0:
        raise ShapeError("x must have at least one axis")
    axis = as_int(axis, "axis", error=ShapeError)
    if not -x.ndim <= axis < x.ndim:
        raise ShapeError(f"axis must lie in [-{x.ndim}, {x.ndim}); got {axis}")
    n = x.shape[axis]
    if n < 2:
        raise ShapeError(f"a standard error needs at least 2 samples along axis {axis}; got {n}")
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / np.sqrt(n)
