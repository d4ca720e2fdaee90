r"""Exact discrete recursion of one eigenmode of SGD with momentum (seed 003 appendix G).

With ``e_i = lr (rho_i + lambda)`` and ``a_i = 1 + beta - e_i`` the position is the AR(2)
process ``theta_{k+1} = a_i theta_k - beta theta_{k-1} - lr xi_k`` and the one-step matrix is
``F_i = [[1 - e_i, lr beta], [-(rho_i + lambda), beta]]``. By Cayley-Hamilton
``F_i^m = s_m F_i - beta s_{m-1} I`` with ``s_{m+1} = a s_m - beta s_{m-1}``, ``s_0 = 0``,
``s_1 = 1``. The closed forms stay continuous through a double root ``a^2 = 4 beta``; short
lags use the exact recursion. Public names are re-exported by :mod:`dynlab.modes`.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_array, as_flag
from .config import DOUBLE_ROOT_RTOL
from .errors import HyperparameterError, StabilityRegionError
from .hyper import HeavyBall
from .modes_sde import _hyper, sde_rates

#: (no cancellation); beyond it, by the closed form.
_RECURSION_STEPS = 4096


def _discrete_coefficients(rho, hp: HeavyBall):
    """``(e, a, lr, beta, weight_decay)`` with ``e = lr (rho + lambda)``, ``a = 1 + beta - e``."""
    rho = as_array(rho, "rho")
    e = hp.lr * (rho + hp.weight_decay)
    limit = hp.stability_limit
    if np.any(e <= 0.0) or np.any(e >= limit):
        bad = (e <= 0.0) | (e >= limit)
        raise StabilityRegionError(
            "heavy-ball SGD is stable iff 0 < lr (rho + weight_decay) < 2 (1 + momentum) = "
            f"{np.broadcast_to(limit, e.shape)[bad][0]:.6g} for every eigenvalue; got "
            f"lr (rho + weight_decay) = {e[bad][0]:.6g}"
        )
    return e, hp.one_plus_beta - e, hp.lr, hp.momentum, hp.weight_decay


def discrete_s(m, a, beta):
    r"""``s_m`` with ``F^m = s_m F - beta s_{m-1} I`` for ``char(F) = r^2 - a r + beta``.

    ``s_m = (r_+^m - r_-^m) / (r_+ - r_-)`` evaluated without cancellation. For ``a < 0`` the roots
    are the negatives of those for ``|a|``, so ``s_m(a) = (-1)^{m-1} s_m(|a|)`` (m integer) and
    every formula below sees ``|a|``: the root angle is then ``phi in [0, pi/2]``, never near pi,
    where ``sin(phi)`` would keep only ``eps / (pi - phi)`` of its digits (the negative double
    root of ``lr (rho + lambda) = (1 + sqrt(beta))^2``). For complex roots
    ``r = sqrt(beta) e^{+- i phi}``, ``s_m = beta^{(m-1)/2} sin(m phi) / sin(phi)`` (via sinc);
    for real roots ``s_m = r_+^m (-expm1(m log q)) / sqrt(Delta)`` with ``q = r_- / r_+``. Where
    ``|Delta| = |a^2 - 4 beta|`` is within its own rounding error
    (:data:`dynlab.config.DOUBLE_ROOT_RTOL`) the sign of ``Delta`` is noise, and the confluent
    limit ``s_m = m (|a| / 2)^{m-1}`` is used (both branches tend to it). ``m`` may be any
    non-negative real when ``a > 0`` (the closed form is analytic in m); broadcasts.

    Examples
    --------
    At the negative double root ``a = -2 sqrt(beta)``, against the recursion
    ``s_{m+1} = a s_m - beta s_{m-1}`` in exact rational arithmetic:

    >>> from fractions import Fraction
    >>> a, beta = -1.4, 0.49
    >>> s = [Fraction(0), Fraction(1)]
    >>> for _ in range(30):
    ...     s.append(Fraction(a) * s[-1] - Fraction(beta) * s[-2])
    >>> got = discrete_s(np.arange(32), a, beta)
    >>> bool(np.allclose(got, [float(x) for x in s], rtol=1e-13, atol=0))
    True
    """
    m = as_array(m, "m")
    a = as_array(a, "a")
    beta = as_array(beta, "beta")
    m, a, beta = np.broadcast_arrays(m, a, beta)
    delta = a * a - 4.0 * beta
    sign = np.where(a < 0, -1.0, 1.0)
    aa = np.abs(a)
    confluent = np.abs(delta) <= DOUBLE_ROOT_RTOL * (a * a + 4.0 * beta)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # complex roots (delta < 0) of r^2 - |a| r + beta: modulus sqrt(beta), angle phi <= pi / 2
        r = np.sqrt(beta)
        phi = np.arctan2(np.sqrt(np.clip(-delta, 0.0, None)), aa)
        s_complex = r ** (m - 1) * m * np.sinc(m * phi / np.pi) / np.sinc(phi / np.pi)
        # real roots (delta >= 0): r_+ = (|a| + sqrt(delta)) / 2 and q = r_- / r_+, with
        # 1 - q = sqrt(delta) / r_+ exactly, so log q = log1p(-sqrt(delta) / r_+) keeps its
        # digits near the double root (the result is even in sqrt(delta): its rounding is harmless)
        sq = np.sqrt(np.clip(delta, 0.0, None))
        rp = 0.5 * (aa + sq)
        logq = np.log1p(-sq / rp)
        mlogq = np.where(m > 0, m * logq, 0.0)
        ratio = np.where(sq > 0, -np.expm1(mlogq) / np.where(sq > 0, sq, 1.0), m / rp)
        s_real = np.where(
            rp > 0, rp**m * ratio, (m == 1).astype(np.float64)
        )  # a = beta = 0: F nilpotent
        s_double = np.where(aa > 0, m * (0.5 * aa) ** (m - 1), (m == 1).astype(np.float64))
    out = np.where(confluent, s_double, np.where(delta < 0, s_complex, s_real))
    out = out * sign ** (m - 1)
    return np.where(m == 0, 0.0, out)


def discrete_propagator(m, rho, *, hyper=None, lr=None, momentum=None, weight_decay=None):
    """Entries of ``F_i^m`` for each mode (exact heavy-ball recursion, step index m).

    The optimizer is ``hyper`` (a :class:`~dynlab.hyper.HeavyBall`) or the keywords.

    Returns
    -------
    f11, f12, f21, f22 : ndarray
        ``[theta, v]_m = F^m [theta, v]_0`` in the mode's coordinates (deviation from the mean).

    Examples
    --------
    Against the matrix power of the one-step matrix ``F = [[1 - lr rho, lr beta], [-rho, beta]]``:

    >>> lr, beta, rho = 0.1, 0.9, 2.0
    >>> F = np.array([[1 - lr * rho, lr * beta], [-rho, beta]])
    >>> f = np.reshape(discrete_propagator(7, rho, lr=lr, momentum=beta), (2, 2))
    >>> bool(np.allclose(f, np.linalg.matrix_power(F, 7), rtol=1e-12))
    True
    """
    m = as_array(m, "m")
    if np.any(m < 0) or np.any(m != np.round(m)):
        raise HyperparameterError("m must hold non-negative integers (step counts)")
    hp = _hyper(hyper, lr=lr, momentum=momentum, weight_decay=weight_decay)
    e, a, lr, beta, wd = _discrete_coefficients(rho, hp)
    k = e / lr
    sm = discrete_s(m, a, beta)
    sm1 = np.where(
        m >= 1, discrete_s(np.maximum(m - 1, 0), a, beta), -1.0 / beta if beta > 0 else 0.0
    )
    # F = [[1 - e, lr beta], [-k, beta]];  F^m = s_m F - beta s_{m-1} I
    f11 = sm * (1.0 - e) - beta * sm1
    f12 = sm * lr * beta
    f21 = -sm * k
    f22 = sm * beta - beta * sm1
    if beta == 0.0:  # F^0 = I needs s_{-1} = -1/beta; with beta = 0 set it directly
        f11 = np.where(m == 0, 1.0, f11)
        f22 = np.where(m == 0, 1.0, f22)
    return f11, f12, f21, f22


def discrete_relaxation(m, rho, *, hyper=None, lr=None, momentum=None, weight_decay=None):
    r"""``u_m = 1 - Cov(theta_0, theta_m) / Var(theta)`` per mode at stationarity (exact recursion).

    The mode's contribution to ``E||theta_m - theta_0||^2`` is ``2 Var(theta_i) u_m``. With
    ``e = lr (rho + weight_decay)``, ``a = 1 + beta - e``: ``u_{m+1} = a u_m - beta u_{m-1} + e``,
    ``u_0 = 0``, ``u_1 = e / (1 + beta)``. Computed by that recursion (no cancellation) up to
    step 4096 and by the closed form ``1 - (a / (1+beta)) s_m + beta s_{m-1}`` beyond.

    Parameters
    ----------
    m : array_like of int
        Step lags (>= 0).
    rho : array_like
        Eigenvalues (one mode each); the result has shape ``m.shape + rho.shape``. A sweep
        ``hyper`` whose fields broadcast against rho (:func:`dynlab.spectrum.per_mode`) gives
        ``m.shape + broadcast shape``.

    Examples
    --------
    Against the stationary covariance of the recursion from scipy's Stein (discrete Lyapunov)
    solver: the noise enters as ``-xi [lr, 1]``, and ``Cov(z_0, z_m) = F^m Cov(z)``:

    >>> from scipy.linalg import solve_discrete_lyapunov
    >>> lr, beta, rho = 0.1, 0.9, 2.0
    >>> F = np.array([[1 - lr * rho, lr * beta], [-rho, beta]])
    >>> C = solve_discrete_lyapunov(F, np.array([[lr**2, lr], [lr, 1.0]]))
    >>> m = np.arange(6)
    >>> ref = [1 - (np.linalg.matrix_power(F, j) @ C)[0, 0] / C[0, 0] for j in m]
    >>> bool(np.allclose(discrete_relaxation(m, rho, lr=lr, momentum=beta), ref, atol=1e-12))
    True
    """
    m = as_array(m, "m")
    if np.any(m < 0) or np.any(m != np.round(m)):
        raise HyperparameterError("m must hold non-negative integers (step counts)")
    hp = _hyper(hyper, sweep=True, lr=lr, momentum=momentum, weight_decay=weight_decay)
    e, a, lr, beta, wd = _discrete_coefficients(rho, hp)
    p = hp.one_plus_beta
    mm = m.reshape(m.shape + (1,) * e.ndim)
    sm = discrete_s(np.maximum(mm, 1), a, beta)
    sm1 = discrete_s(np.maximum(mm - 1, 0), a, beta)
    out = np.broadcast_to(1.0 - (a / p) * sm + beta * sm1, m.shape + e.shape).copy()
    # exact recursion for the requested lags up to _RECURSION_STEPS (two rows of memory)
    m_int = m.astype(np.int64)
    near = m_int <= _RECURSION_STEPS
    wanted = np.unique(m_int[near])
    values = {}
    u_prev, u_cur = np.zeros_like(e), e / p  # u_0, u_1
    for j in range(int(wanted.max(initial=0)) + 1):
        if j == 0:
            values[0] = np.zeros_like(e)
            continue
        values[j] = u_cur
        u_prev, u_cur = u_cur, a * u_cur - beta * u_prev + e
    for j in wanted:
        out[m_int == j] = values[int(j)]
    return out


def mode_frequencies(rho, *, hyper=None, lr=None, momentum=None, weight_decay=None, exact=False):
    """Oscillation frequency of each mode, in cycles per step.

    SDE (``exact=False``): ``lr sqrt(omega^2 - gamma^2) / (2 pi)``, zero when over- or
    critically damped. Exact: ``arg(r_+) / (2 pi)`` of the complex eigenvalues of the discrete
    2 x 2 recursion; 0 for real positive roots, 0.5 (period-2 oscillation) for real negative
    roots, which occur where ``lr (rho + weight_decay) >= (1 + sqrt(momentum))^2``.

    Examples
    --------
    The exact frequency is the angle of the one-step matrix's eigenvalues:

    >>> lr, beta, rho = 0.1, 0.9, 2.0
    >>> F = np.array([[1 - lr * rho, lr * beta], [-rho, beta]])
    >>> angle = np.abs(np.angle(np.linalg.eigvals(F))).max()
    >>> f = mode_frequencies(rho, lr=lr, momentum=beta, exact=True)
    >>> bool(np.isclose(f, angle / (2 * np.pi), rtol=1e-12))
    True
    """
    hp = _hyper(hyper, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if as_flag(exact, "exact"):
        e, a, lr, beta, wd = _discrete_coefficients(rho, hp)
        delta = a * a - 4.0 * beta
        phi = np.arctan2(np.sqrt(np.clip(-delta, 0.0, None)), a)
        return np.where(delta < 0, phi, np.where(a < 0, np.pi, 0.0)) / (2.0 * np.pi)
    gamma, omega = sde_rates(rho, hyper=hp)
    return hp.lr * np.sqrt(np.clip((omega - gamma) * (omega + gamma), 0.0, None)) / (2.0 * np.pi)
