r"""Yaida's fluctuation-dissipation relation for heavy-ball SGD: stationarity without a Hessian.

For ``v_{k+1} = beta v_k - g_k``, ``theta_{k+1} = theta_k + lr v_{k+1}`` (PyTorch's heavy ball,
``g_k`` the minibatch gradient *including* the weight-decay term), write
``Delta_k = theta_{k+1} - theta_k``. Then ``Delta_k = beta Delta_{k-1} - lr g_k``, and if the law
of ``(theta_k, v_k)`` is stationary, for any fixed point ``c``:

.. math::

    \mathbb E[(\theta_k - c)^\top g_k] = \frac{1 + \beta}{2\,\mathrm{lr}}\,\mathbb E\|\Delta_k\|^2 .

Derivation (Yaida 2019, arXiv:1810.00004, eq. FDR1 generalised to heavy ball): expand
``E||theta_{k+1} - c||^2 = E||theta_k - c||^2`` to
``2 E[(theta_k - c)^T Delta_k] = -E||Delta_k||^2``;
substitute ``Delta_k = beta Delta_{k-1} - lr g_k`` and
``(theta_k - c)^T Delta_{k-1} = (theta_{k-1} - c)^T Delta_{k-1} + ||Delta_{k-1}||^2``; stationarity
makes the lagged terms equal to the current ones. Nothing about the loss or the noise enters:
the relation holds for any model whose recorded ``g_k`` is the gradient the optimizer used.
When the noise has mean zero given ``theta_k`` the left side may use the full gradient
``grad L_lambda(theta_k)``; on a quadratic with ``c = theta*`` it reads
``E[L_lambda(theta) - L_lambda(theta*)] = (1 + beta) / (4 lr) E||Delta||^2``.
Under random reshuffling the batch noise is correlated with the past, so the full-gradient form
is violated even at stationarity (:mod:`dynlab.minibatch` predicts by how much); the
minibatch-gradient form stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ShapeError
from .hyper import HeavyBall
from .stats import TimeAverage, time_average

__all__ = ["FDRCheck", "fluctuation_dissipation", "fluctuation_dissipation_series"]


@dataclass(frozen=True)
class FDRCheck:
    """Both sides of the fluctuation-dissipation relation and their difference.

    Attributes
    ----------
    lhs : TimeAverage
        ``E[(theta_k - c)^T g_k]``.
    rhs : TimeAverage
        ``(1 + beta) / (2 lr) E||theta_{k+1} - theta_k||^2``.
    diff : TimeAverage
        ``lhs - rhs`` per step, averaged (its standard error accounts for the correlation of the
        two sides); stationarity predicts zero.
    """

    lhs: TimeAverage
    rhs: TimeAverage
    diff: TimeAverage

    @property
    def ratio(self) -> float:
        """``lhs / rhs`` (1 at stationarity)."""
        return self.lhs.mean / self.rhs.mean

    @property
    def z(self) -> float:
        """``diff / se(diff)``."""
        return self.diff.z


def fluctuation_dissipation(theta, grad, hyper: HeavyBall, *, center=None) -> FDRCheck:
    r"""Yaida's relation ``E[(theta - c)^T g] = (1 + beta) / (2 lr) E||Delta theta||^2`` on a run.

    Parameters
    ----------
    theta : (n + 1, d) or (n + 1, n_paths, d) array_like
        Iterates ``theta_0 .. theta_n`` of one path, or of independent paths side by side.
    grad : (n, d) or (n, n_paths, d) array_like
        The gradient ``g_k`` the optimizer applied at step k (minibatch gradient plus
        ``weight_decay theta_k``), or the full gradient when the noise has mean zero given theta.
    hyper : HeavyBall
        The optimizer (one, plain heavy ball).
    center : (d,) array_like, optional
        The fixed point c; default: the mean of ``theta`` over the record (a plug-in whose bias is
        O(tau_int / n) of the left side).

    Returns
    -------
    FDRCheck

    Examples
    --------
    One-dimensional heavy ball on ``L = rho theta^2 / 2`` with Gaussian gradient noise, started
    from its stationary law; the relation holds within its standard error:

    >>> hp = HeavyBall(lr=0.1, momentum=0.9)
    >>> rng = np.random.default_rng(0)
    >>> n, paths, rho = 4000, 64, 1.0
    >>> theta = np.zeros((n + 1, paths, 1)); v = np.zeros((paths, 1)); g = np.zeros((n, paths, 1))
    >>> for k in range(n):
    ...     g[k] = rho * theta[k] + rng.standard_normal((paths, 1))
    ...     v = hp.momentum * v - g[k]
    ...     theta[k + 1] = theta[k] + hp.lr * v
    >>> r = fluctuation_dissipation(theta[1000:], g[1000:], hp, center=np.zeros(1))
    >>> bool(abs(r.z) < 4 and abs(r.ratio - 1) < 0.05)
    True
    """
    hyper.require_plain("fluctuation_dissipation").require_scalar("fluctuation_dissipation")
    theta = np.asarray(theta, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    if theta.ndim not in (2, 3) or grad.shape != (theta.shape[0] - 1,) + theta.shape[1:]:
        raise ShapeError(
            "theta must be (n + 1, [n_paths,] d) and grad (n, [n_paths,] d); "
            f"got {theta.shape} and {grad.shape}"
        )
    if grad.shape[0] < 4:
        raise ShapeError(f"need at least 4 steps; got {grad.shape[0]}")
    c = (
        theta.mean(axis=tuple(range(theta.ndim - 1)))
        if center is None
        else np.asarray(center, dtype=np.float64)
    )
    if c.shape != theta.shape[-1:]:
        raise ShapeError(f"center must have shape {theta.shape[-1:]}; got {c.shape}")
    lhs = np.einsum("...i,...i->...", theta[:-1] - c, grad)
    delta = np.diff(theta, axis=0)
    return fluctuation_dissipation_series(lhs, np.einsum("...i,...i->...", delta, delta), hyper)


def fluctuation_dissipation_series(theta_dot_grad, delta2, hyper: HeavyBall) -> FDRCheck:
    r"""Yaida's relation from the two per-step scalars a large model records.

    Parameters
    ----------
    theta_dot_grad : (n,) or (n, n_paths) array_like
        ``(theta_k - c)^T g_k`` at each step, for a fixed point ``c`` (e.g. the start of the run).
    delta2 : array_like, same shape
        ``||theta_{k+1} - theta_k||^2``.
    hyper : HeavyBall
        The optimizer (one, plain heavy ball).

    Examples
    --------
    Same as :func:`fluctuation_dissipation` on a 1-D path (the two forms agree exactly):

    >>> hp = HeavyBall(lr=0.1, momentum=0.5)
    >>> rng = np.random.default_rng(2)
    >>> theta, v, g = np.zeros((2001, 1)), np.zeros(1), np.zeros((2000, 1))
    >>> for k in range(2000):
    ...     g[k] = theta[k] + rng.standard_normal(1)
    ...     v = hp.momentum * v - g[k]
    ...     theta[k + 1] = theta[k] + hp.lr * v
    >>> full = fluctuation_dissipation(theta, g, hp, center=np.zeros(1))
    >>> x = theta[:, 0]
    >>> series = fluctuation_dissipation_series(x[:-1] * g[:, 0], np.diff(x) ** 2, hp)
    >>> bool(np.isclose(full.diff.mean, series.diff.mean, rtol=1e-12))
    True
    """
    hyper.require_plain("fluctuation_dissipation").require_scalar("fluctuation_dissipation")
    lhs = np.asarray(theta_dot_grad, dtype=np.float64)
    d2 = np.asarray(delta2, dtype=np.float64)
    if lhs.shape != d2.shape or lhs.ndim not in (1, 2) or lhs.shape[0] < 4:
        raise ShapeError(
            "theta_dot_grad and delta2 must have one shape (n >= 4[, n_paths]); "
            f"got {lhs.shape} and {d2.shape}"
        )
    rhs = (1.0 + hyper.momentum) / (2.0 * hyper.lr) * d2
    return FDRCheck(time_average(lhs), time_average(rhs), time_average(lhs - rhs))
