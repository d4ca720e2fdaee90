r"""Per-eigenvalue damped oscillators of SGD with momentum (seed 003 eq. 5, appendices F and G).

In the eigenbasis ``H q_i = rho_i q_i`` heavy-ball SGD on a quadratic decouples into one
two-dimensional system per eigenvalue. Two models of it live here, side by side:

* **SDE** (seed 003 eq. 4, time ``t = lr * k``): the mean coordinates ``a = <theta - mu, q_i>``,
  ``b = <v, q_i>`` solve ``a'' + 2 gamma a' + omega_i^2 a = 0``, ``b = a'``, with

  .. math:: \gamma = \frac{1-\beta}{\eta(1+\beta)},\qquad
            \omega_i^2 = \frac{2(\rho_i+\lambda)}{\eta(1+\beta)}.

* **Exact discrete recursion** (step index ``k``): with ``e_i = lr (rho_i + lambda)`` and
  ``a_i = 1 + beta - e_i`` the position is the AR(2) process
  ``theta_{k+1} = a_i theta_k - beta theta_{k-1} - lr xi_k`` and the one-step matrix is
  ``F_i = [[1 - e_i, lr beta], [-(rho_i + lambda), beta]]``. By Cayley-Hamilton
  ``F_i^m = s_m F_i - beta s_{m-1} I`` with ``s_{m+1} = a s_m - beta s_{m-1}``, ``s_0 = 0``,
  ``s_1 = 1``.

Every closed form is evaluated so that it is continuous and free of cancellation through
critical damping (``omega -> gamma``, resp. a double root ``a^2 = 4 beta``): no division by
``gamma - omega``, ``expm1``/``sinc`` forms instead of differences of exponentials, and Taylor
series / short exact recursions where a quantity is a small difference ``1 - (...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_array, as_flag
from .config import DOUBLE_ROOT_RTOL
from .errors import HyperparameterError, ShapeError, StabilityRegionError
from .hyper import HeavyBall, as_heavy_ball

__all__ = [
    "Modes",
    "sde_rates",
    "mode_propagator",
    "oscillator_mean",
    "relaxation",
    "discrete_s",
    "discrete_relaxation",
    "discrete_propagator",
    "mode_frequencies",
    "stationary_mode_variances",
    "stationary_mode_covariances",
]

#: Below this value of max(gamma, omega) * t the relaxation 1 - phi_11(t) is summed as a Taylor
#: series (its closed form would lose digits to cancellation against 1).
_SERIES_LIMIT = 0.5
#: Number of Taylor terms: at max(gamma, omega) t <= 0.5 the terms fall faster than
#: 0.5^n / n!, so 30 terms leave a truncation error far below eps.
_SERIES_TERMS = 30
#: Up to this step index the discrete relaxation u_m is computed by its exact recursion
#: (no cancellation); beyond it, by the closed form.
_RECURSION_STEPS = 4096


def _hyper(hyper, sweep: bool = False, **kwargs) -> HeavyBall:
    """The optimizer these closed forms describe: ``hyper`` or a HeavyBall of the keywords.

    One optimizer unless ``sweep``: then a sweep's fields must broadcast against rho
    (:func:`dynlab.spectrum.per_mode` shapes them so).
    """
    hp = as_heavy_ball(hyper, **kwargs).require_plain("dynlab.modes")
    return hp if sweep else hp.require_scalar("dynlab.modes")


def sde_rates(rho, *, hyper=None, lr=None, momentum=None, weight_decay=None):
    """Damping rate gamma and natural frequencies omega_i of the SDE model (seed 003 app. F).

    The optimizer is ``hyper`` (a :class:`~dynlab.hyper.HeavyBall`) or the keywords.

    Returns
    -------
    gamma : float
        ``(1 - momentum) / (lr (1 + momentum))`` (:attr:`HeavyBall.gamma`).
    omega : ndarray
        ``sqrt(2 (rho + weight_decay) / (lr (1 + momentum)))``, same shape as ``rho``
        (:meth:`HeavyBall.omega`).

    Examples
    --------
    The same rates from the equation of learning ``m a'' + (1 - beta) a' + rho a = 0`` with mass
    ``m = lr (1 + beta) / 2`` (Kunin et al. 2021, arXiv:2012.04728):

    >>> lr, beta, rho = 0.1, 0.9, 2.0
    >>> gamma, omega = sde_rates(rho, lr=lr, momentum=beta)
    >>> m = lr * (1 + beta) / 2
    >>> bool(np.isclose(2 * gamma, (1 - beta) / m) and np.isclose(omega**2, rho / m))
    True
    """
    hp = _hyper(hyper, lr=lr, momentum=momentum, weight_decay=weight_decay)
    rho = as_array(rho, "rho")
    return hp.gamma, hp.omega(rho)


def _damped_cs(t, gamma, omega):
    """``(e^{-gamma t} C(t), e^{-gamma t} S(t), alpha, overdamped, slow, e^{-slow t})``.

    Here C'' = (gamma^2 - omega^2) C.

    C = cosh(alpha t) / cos(alpha t), S = sinh(alpha t)/alpha / sin(alpha t)/alpha, alpha =
    sqrt|gamma^2 - omega^2|; both are entire functions of gamma^2 - omega^2 and reduce to 1
    and t at critical damping. The overdamped branch is written with the slow rate
    ``gamma - alpha = omega^2 / (gamma + alpha)`` and ``expm1`` so it never overflows or cancels.
    """
    x2 = (gamma - omega) * (gamma + omega)
    alpha = np.sqrt(np.abs(x2))
    over = x2 >= 0.0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # underdamped: e^{-gamma t} cos(alpha t), e^{-gamma t} t sinc(alpha t)
        decay = np.exp(-gamma * t)
        ec_u = decay * np.cos(alpha * t)
        es_u = decay * t * np.sinc(alpha * t / np.pi)
        # overdamped: e^{-slow t} (1 + e^{-2 alpha t}) / 2,
        # e^{-slow t} (1 - e^{-2 alpha t}) / (2 alpha)
        slow = np.where(gamma + alpha > 0, omega**2 / (gamma + alpha), 0.0)
        eslow = np.exp(-slow * t)
        y = 2.0 * alpha * t
        ratio = np.where(y > 0, -np.expm1(-y) / np.where(y > 0, y, 1.0), 1.0)
        ec_o = eslow * 0.5 * (1.0 + np.exp(-y))
        es_o = eslow * t * ratio
    return np.where(over, ec_o, ec_u), np.where(over, es_o, es_u), alpha, over, slow, eslow


def mode_propagator(t, gamma, omega):
    r"""Entries of ``expm(-S t)`` for one mode, ``S = [[0, -1], [omega^2, 2 gamma]]``.

    Kunin et al. 2021, arXiv:2107.09133, appendix F.

    ``[a(t), b(t)] = Phi(t) [a(0), b(0)]`` with

    .. math:: \Phi = e^{-\gamma t}
              \begin{pmatrix} C + \gamma S & S \\ -\omega^2 S & C - \gamma S\end{pmatrix}.

    Parameters
    ----------
    t, gamma, omega : array_like
        SDE time (>= 0), damping rate (> 0) and natural frequency (>= 0); broadcast together.

    Returns
    -------
    phi11, phi12, phi21, phi22 : ndarray

    Examples
    --------
    Against scipy's matrix exponential, underdamped and overdamped:

    >>> from scipy.linalg import expm
    >>> ok = []
    >>> for t, gamma, omega in [(0.7, 0.5, 2.0), (0.7, 3.0, 0.4)]:
    ...     phi = np.reshape(mode_propagator(t, gamma, omega), (2, 2))
    ...     ref = expm(-np.array([[0.0, -1.0], [omega**2, 2 * gamma]]) * t)
    ...     ok.append(np.allclose(phi, ref, rtol=1e-12, atol=1e-14))
    >>> all(ok)
    True
    """
    t = as_array(t, "t")
    gamma = as_array(gamma, "gamma")
    omega = as_array(omega, "omega")
    t, gamma, omega = np.broadcast_arrays(t, gamma, omega)
    ec, es, alpha, over, slow, eslow = _damped_cs(t, gamma, omega)
    phi11 = ec + gamma * es
    phi12 = es
    phi21 = -(omega**2) * es
    # C - gamma S cancels when strongly overdamped (alpha -> gamma); there use
    # e^{-slow t} [-slow + (alpha + gamma) e^{-2 alpha t}] / (2 alpha).
    strong = over & (alpha > 0.5 * gamma)
    with np.errstate(invalid="ignore", divide="ignore"):
        phi22_strong = eslow * (-slow + (alpha + gamma) * np.exp(-2.0 * alpha * t)) / (2.0 * alpha)
    phi22 = np.where(strong, phi22_strong, ec - gamma * es)
    return phi11, phi12, phi21, phi22


def oscillator_mean(t, gamma, omega, a0, b0):
    r"""Mean trajectory of one mode, seed 003 eq. 5 / appendix F.

    Solves ``a'' + 2 gamma a' + omega^2 a = 0`` with ``a(0) = a0``, ``b = a'``, ``b(0) = b0``:
    ``a(t) = e^{-gamma t} [a0 C(t) + (gamma a0 + b0) S(t)]`` in all three regimes, continuous and
    accurate through critical damping.

    Parameters
    ----------
    t : array_like
        SDE time (``t = lr * k``).
    gamma, omega, a0, b0 : array_like
        Damping rate, natural frequency, initial position and velocity; all broadcast with ``t``.

    Returns
    -------
    a, b : ndarray
        Position and velocity coordinate at ``t``.

    Examples
    --------
    Against scipy's ODE solver on ``a'' + 2 gamma a' + omega^2 a = 0``:

    >>> from scipy.integrate import solve_ivp
    >>> t = np.linspace(0.0, 3.0, 7)
    >>> a, b = oscillator_mean(t, 0.5, 2.0, 1.0, -0.3)
    >>> sol = solve_ivp(lambda s, y: [y[1], -4.0 * y[0] - 1.0 * y[1]], (0.0, 3.0), [1.0, -0.3],
    ...                 t_eval=t, rtol=1e-11, atol=1e-12)
    >>> bool(np.allclose(a, sol.y[0], atol=1e-9) and np.allclose(b, sol.y[1], atol=1e-9))
    True
    """
    phi11, phi12, phi21, phi22 = mode_propagator(t, gamma, omega)
    a0 = as_array(a0, "a0")
    b0 = as_array(b0, "b0")
    return phi11 * a0 + phi12 * b0, phi21 * a0 + phi22 * b0


def relaxation(t, gamma, omega):
    r"""``1 - phi_11(t)``: the stationary position decorrelation of one mode (SDE).

    ``Cov(a(0), a(t)) = Var(a) phi_11(t)`` at stationarity, so the mode's contribution to
    ``E||theta(t) - theta(0)||^2`` is ``2 Var(a) (1 - phi_11(t))`` (seed 003 eq. 13).
    Evaluated by its Taylor series ``a(t) = sum c_n t^n``,
    ``(n+2)(n+1) c_{n+2} = -2 gamma (n+1) c_{n+1} - omega^2 c_n``, where
    ``max(gamma, omega) t < 0.5``, by an expm1 form when strongly overdamped, else directly.

    Examples
    --------
    At critical damping (``gamma = omega``) ``phi_11 = e^{-gamma t} (1 + gamma t)``; ``t = 0.01``
    takes the Taylor-series branch:

    >>> t = np.array([0.01, 1.0, 5.0])
    >>> bool(np.allclose(relaxation(t, 2.0, 2.0), 1 - np.exp(-2 * t) * (1 + 2 * t), rtol=1e-9))
    True
    """
    t = as_array(t, "t")
    gamma = as_array(gamma, "gamma")
    omega = as_array(omega, "omega")
    t, gamma, omega = np.broadcast_arrays(t, gamma, omega)
    phi11 = mode_propagator(t, gamma, omega)[0]
    out = 1.0 - phi11
    # strongly overdamped:
    # [-(alpha+gamma) expm1(-slow t) + slow expm1(-(slow + 2 alpha) t)] / (2 alpha)
    _, _, alpha, over, slow, _ = _damped_cs(t, gamma, omega)
    strong = over & (alpha > 0.5 * gamma)
    with np.errstate(invalid="ignore", divide="ignore"):
        r_strong = (
            -(alpha + gamma) * np.expm1(-slow * t) + slow * np.expm1(-(slow + 2 * alpha) * t)
        ) / (2.0 * alpha)
    out = np.where(strong, r_strong, out)
    small = np.maximum(gamma, omega) * t < _SERIES_LIMIT
    if np.any(small):
        ts, gs, ws = t[small], gamma[small], omega[small]
        c_prev, c_cur = np.ones_like(ts), np.zeros_like(ts)  # c_0 = 1, c_1 = 0
        total = np.zeros_like(ts)
        tpow = ts.copy()
        for n in range(_SERIES_TERMS):
            c_next = (-2.0 * gs * (n + 1) * c_cur - ws**2 * c_prev) / ((n + 2) * (n + 1))
            tpow = tpow * ts
            total = total - c_next * tpow
            c_prev, c_cur = c_cur, c_next
        out = out.copy()
        out[small] = total
    return out


# ----------------------------------------------------------------------------------------------
# exact discrete recursion


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


def stationary_mode_covariances(
    rho_i,
    rho_j,
    sigma2_ij,
    *,
    hyper=None,
    lr=None,
    momentum=None,
    weight_decay=None,
    batch_size=None,
    exact=False,
):
    r"""Stationary phase-space covariance between modes i and j, in the Hessian eigenbasis.

    ``sigma2_ij = q_i^T Sigma q_j`` is the per-sample gradient-noise covariance of the two modes
    (the minibatch noise is Sigma / batch_size). Returns the four blocks
    ``(Cov(theta_i, theta_j), Cov(theta_i, v_j), Cov(v_i, theta_j), Cov(v_i, v_j))``, broadcast over
    the inputs (and over a sweep ``hyper`` whose fields broadcast against them, as
    :func:`dynlab.spectrum.per_mode` shapes them). With ``k = rho + weight_decay``,
    ``p = 1 + beta``, ``q = 1 - beta``:

    * SDE (seed 003 eq. 4; the Lyapunov equation A B + B A^T = 2 D solved entrywise in the
      eigenbasis, with ``K = c1 k``, ``c1 = 2 / (lr p)``, ``c2 = 2 q / (lr p)``, ``kappa = S p q``):
      ``B_thth = X``, ``B_thv = Y``, ``B_vv = W`` with
      ``X_ij = 4 c2^2 Sigma_ij / ((K_i - K_j)^2 + 2 c2^2 (K_i + K_j))``,
      ``Y_ij = (K_i - K_j) X_ij / (2 c2)`` (skew), ``W_ij = (K_i + K_j) X_ij / 2``;
      covariance B / kappa.
    * exact (Stein equation of the recursion, solved pairwise through the AR(2) form):
      ``Cov(theta_i, theta_j) = C = lr p q (Sigma_ij / S) / den``,
      ``den = q^2 [p (k_i + k_j) - lr k_i k_j] + beta lr (k_i - k_j)^2``,
      ``Cov(theta_i, v_j) = (k_i - beta k_j) C / (p q)``,
      ``Cov(v_i, theta_j) = (k_j - beta k_i) C / (p q)``,
      ``Cov(v_i, v_j) = (k_i + k_j) C / (p lr)``.

    On the diagonal the SDE gives ``Var(v_i) = Sigma_ii / (S (1 - beta^2))`` and
    ``Var(theta_i) = lr p Sigma_ii / (2 kappa k_i)`` (seed 003 app. F).

    Examples
    --------
    The exact blocks of two coupled modes against scipy's Stein solver on the 4-dimensional
    recursion ``z = [theta_1, theta_2, v_1, v_2]``, noise ``-xi [lr I; I]``,
    ``xi ~ N(0, Sigma / S)``:

    >>> from scipy.linalg import solve_discrete_lyapunov
    >>> lr, beta, S = 0.1, 0.9, 4
    >>> rho, Sigma = np.array([2.0, 0.5]), np.array([[1.0, 0.3], [0.3, 0.5]])
    >>> I = np.eye(2)
    >>> F = np.block([[I - lr * np.diag(rho), lr * beta * I], [-np.diag(rho), beta * I]])
    >>> N = np.vstack([-lr * I, -I])
    >>> C = solve_discrete_lyapunov(F, N @ (Sigma / S) @ N.T)
    >>> blocks = stationary_mode_covariances(
    ...     rho[0], rho[1], Sigma[0, 1], lr=lr, momentum=beta, batch_size=S, exact=True)
    >>> bool(np.allclose(blocks, [C[0, 1], C[0, 3], C[2, 1], C[2, 3]], rtol=1e-10))
    True
    """
    hp = _hyper(
        hyper,
        sweep=True,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        batch_size=batch_size,
    )
    lr, beta, wd, S = hp.lr, hp.momentum, hp.weight_decay, hp.batch_size
    ki = as_array(rho_i, "rho_i") + wd
    kj = as_array(rho_j, "rho_j") + wd
    sij = as_array(sigma2_ij, "sigma2_ij")
    try:
        np.broadcast_shapes(ki.shape, kj.shape, sij.shape)
    except ValueError:
        raise ShapeError(
            f"rho_i {ki.shape}, rho_j {kj.shape} and sigma2_ij {sij.shape} must broadcast"
        ) from None
    p, q = hp.one_plus_beta, 1.0 - beta
    if as_flag(exact, "exact"):
        for rho_side in (rho_i,) if rho_j is rho_i else (rho_i, rho_j):  # variances: one check
            _discrete_coefficients(rho_side, hp)
        den = q * q * (p * (ki + kj) - lr * ki * kj) + beta * lr * (ki - kj) ** 2
        c_tt = lr * p * q * (sij / S) / den
        return (
            c_tt,
            (ki - beta * kj) * c_tt / (p * q),
            (kj - beta * ki) * c_tt / (p * q),
            (ki + kj) * c_tt / (p * lr),
        )
    if np.any(ki + kj <= 0):
        raise StabilityRegionError("the SDE has no stationary law when rho + weight_decay <= 0")
    # SDE in the modal basis: K = c1 k, c2 = 2 q / (lr p), B = [[X, Y], [Y^T, W]],
    # covariance B / kappa
    c1, c2 = hp.c1, hp.c2
    kc_i, kc_j = c1 * ki, c1 * kj
    X = 4.0 * c2 * c2 * sij / ((kc_i - kc_j) ** 2 + 2.0 * c2 * c2 * (kc_i + kc_j))
    Y = (kc_i - kc_j) * X / (2.0 * c2)
    W = 0.5 * (kc_i + kc_j) * X
    kappa = hp.kappa
    return X / kappa, Y / kappa, -Y / kappa, W / kappa


def stationary_mode_variances(
    rho,
    sigma2,
    *,
    hyper=None,
    lr=None,
    momentum=None,
    weight_decay=None,
    batch_size=None,
    exact=False,
):
    """Per-mode stationary ``(Var theta_i, Var v_i, Cov(theta_i, v_i))``.

    ``sigma2 = q_i^T Sigma q_i`` (per-sample gradient-noise variance of mode i). SDE: the diagonal
    of the Lyapunov solution, ``Var theta_i = lr (1 + beta) sigma2 / (2 kappa (rho + lambda))``,
    ``Var v_i = sigma2 / kappa``, ``Cov = 0``, ``kappa = S (1 - beta^2)`` (seed 003 app. F).
    Exact: the diagonal of the discrete Stein solution,
    ``Var theta_i = lr sigma2 / (S q k (2 - lr k / p))`` with ``k = rho + lambda``,
    ``p = 1 + beta``, ``q = 1 - beta`` (for beta = 0 the AR(1) variance
    ``lr sigma2 / (S k (2 - lr k))``).

    Examples
    --------
    The SDE variances are the small-lr limit of the exact ones (relative gap O(lr)):

    >>> kw = dict(lr=1e-5, momentum=0.5, batch_size=8)
    >>> sde = stationary_mode_variances(2.0, 1.0, **kw)
    >>> exact = stationary_mode_variances(2.0, 1.0, exact=True, **kw)
    >>> bool(np.allclose(sde[:2], exact[:2], rtol=1e-4))
    True
    """
    c_tt, c_tv, _, c_vv = stationary_mode_covariances(
        rho,
        rho,
        sigma2,
        hyper=hyper,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        batch_size=batch_size,
        exact=exact,
    )
    return c_tt, c_vv, c_tv


@dataclass(frozen=True)
class Modes:
    """Per-eigenvalue description of SGD with momentum (seed 003 app. F, eq. 5 and G.2).

    Attributes
    ----------
    rho : (d,) ndarray
        Hessian eigenvalues, descending.
    q : (d, d) ndarray
        Eigenvectors as columns.
    gamma : float
        SDE damping rate ``(1 - beta) / (lr (1 + beta))``.
    omega : (d,) ndarray
        SDE natural frequencies ``sqrt(2 (rho + lambda) / (lr (1 + beta)))``.
    zeta : (d,) ndarray
        Damping ratios ``gamma / omega = (1 - beta) / sqrt(2 lr (1 + beta)(rho + lambda))``.
    regime : (d,) ndarray of str
        ``"over"``, ``"critical"`` or ``"under"`` (critical where ``|zeta - 1| <= 8 eps``).
    frequency, exact_frequency : (d,) ndarray
        Oscillation frequencies in cycles per step, SDE and exact recursion
        (:func:`mode_frequencies`).
    spectral_radius : (d,) ndarray
        Modulus of the largest eigenvalue of each mode's discrete 2 x 2 recursion.
    """

    rho: np.ndarray
    q: np.ndarray
    gamma: float
    omega: np.ndarray
    zeta: np.ndarray
    regime: np.ndarray
    frequency: np.ndarray
    exact_frequency: np.ndarray
    spectral_radius: np.ndarray

    @classmethod
    def build(cls, rho, q, *, hyper=None, lr=None, momentum=None, weight_decay=None):
        """Compute every per-mode quantity for eigenpairs ``(rho, q)``.

        Examples
        --------
        The spectral radius against the eigenvalues of each mode's one-step matrix:

        >>> rho, lr, beta = np.array([2.0, 0.01]), 0.1, 0.9
        >>> modes = Modes.build(rho, np.eye(2), lr=lr, momentum=beta, weight_decay=0.0)
        >>> F = [np.array([[1 - lr * r, lr * beta], [-r, beta]]) for r in rho]
        >>> bool(np.allclose(modes.spectral_radius, [max(abs(np.linalg.eigvals(f))) for f in F]))
        True
        >>> [str(r) for r in modes.regime]
        ['under', 'over']
        """
        hp = _hyper(hyper, lr=lr, momentum=momentum, weight_decay=weight_decay)
        rho = as_array(rho, "rho", ndim=1)
        q = as_array(q, "q", shape=(None, rho.size))
        gamma, omega = sde_rates(rho, hyper=hp)
        with np.errstate(divide="ignore"):
            zeta = np.where(omega > 0, gamma / np.where(omega > 0, omega, 1.0), np.inf)
        eps = np.finfo(np.float64).eps
        regime = np.where(
            np.abs(zeta - 1.0) <= 8 * eps, "critical", np.where(zeta > 1.0, "over", "under")
        )
        e, a, _, beta, _ = _discrete_coefficients(rho, hp)
        delta = a * a - 4.0 * beta
        radius = np.where(
            delta < 0, np.sqrt(beta), 0.5 * (np.abs(a) + np.sqrt(np.clip(delta, 0.0, None)))
        )
        return cls(
            rho=np.asarray(rho),
            q=np.asarray(q),
            gamma=gamma,
            omega=omega,
            zeta=zeta,
            regime=regime,
            frequency=mode_frequencies(rho, hyper=hp),
            exact_frequency=mode_frequencies(rho, hyper=hp, exact=True),
            spectral_radius=radius,
        )
