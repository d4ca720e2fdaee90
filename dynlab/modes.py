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

The closed forms live in :mod:`dynlab.modes_sde` (SDE), :mod:`dynlab.modes_discrete` (exact
recursion) and :mod:`dynlab.modes_stationary` (stationary covariances); this module gathers them
and holds the :class:`Modes` table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_array
from .modes_discrete import (
    _discrete_coefficients,
    discrete_propagator,
    discrete_relaxation,
    discrete_s,
    mode_frequencies,
)
from .modes_sde import _hyper, mode_propagator, oscillator_mean, relaxation, sde_rates
from .modes_stationary import stationary_mode_covariances, stationary_mode_variances

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
