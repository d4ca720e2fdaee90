r"""SDE model of one eigenmode of SGD with momentum (seed 003 eq. 4, appendix F).

In the eigenbasis ``H q_i = rho_i q_i`` the mean coordinates ``a = <theta - mu, q_i>``,
``b = <v, q_i>`` of the SDE (time ``t = lr * k``) solve
``a'' + 2 gamma a' + omega_i^2 a = 0``, ``b = a'``, with

.. math:: \gamma = \frac{1-\beta}{\eta(1+\beta)},\qquad
          \omega_i^2 = \frac{2(\rho_i+\lambda)}{\eta(1+\beta)}.

The closed forms are continuous and free of cancellation through critical damping
(``omega -> gamma``): no division by ``gamma - omega``, ``expm1``/``sinc`` forms instead of
differences of exponentials, and a Taylor series where ``1 - phi_11(t)`` is small.
Public names are re-exported by :mod:`dynlab.modes`.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_array
from .hyper import HeavyBall, as_heavy_ball

#: Below this value of max(gamma, omega) * t the relaxation 1 - phi_11(t) is summed as a Taylor
#: series (its closed form would lose digits to cancellation against 1).
_SERIES_LIMIT = 0.5
#: Number of Taylor terms: at max(gamma, omega) t <= 0.5 the terms fall faster than
#: 0.5^n / n!, so 30 terms leave a truncation error far below eps.
_SERIES_TERMS = 30
#: Up to this step index the discrete relaxation u_m is computed by its exact recursion


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
