"""Stationary per-mode covariances of SGD with momentum, SDE and exact (seed 003 app. F, G).

Public names are re-exported by :mod:`dynlab.modes`.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_array, as_flag
from .errors import ShapeError, StabilityRegionError
from .modes_discrete import _discrete_coefficients
from .modes_sde import _hyper


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
