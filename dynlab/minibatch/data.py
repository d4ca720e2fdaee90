r"""A finite linear-regression data set and the operators the exact minibatch moments need.

Notation (Velikanov, Kuznedelev & Yarotsky 2023; Kunin et al. 2021, arXiv:2107.09133, sec. 5):
``L_lambda(theta) = (2N)^-1 sum_i (x_i^T theta - y_i)^2 + lambda/2 ||theta||^2``,
``H = N^-1 sum_i x_i x_i^T``, ``H_lambda = H + lambda I``,
``theta* = H_lambda^-1 N^-1 sum_i x_i y_i``. The gradient of sample i plus the weight decay is,
at ``theta = theta* + delta``,

.. math:: x_i (x_i^\top\theta - y_i) + \lambda\theta = H_\lambda\delta + K_i\delta + a_i,\qquad
          K_i = x_i x_i^\top - H,\quad a_i = x_i (x_i^\top\theta^* - y_i) + \lambda\theta^*,

and ``sum_i a_i = N H_lambda theta* - sum_i x_i y_i = 0`` (the ``lambda theta*`` term is what makes
the residual gradients sum to zero when ``lambda > 0``).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .._validate import as_array, as_scalar, check_definite_spectrum
from ..errors import ShapeError, UnstableDriftError

__all__ = ["FiniteData"]


class FiniteData:
    r"""Linear regression on ``N`` samples: H, theta*, residual gradients and fourth moments.

    Everything is also kept in the eigenbasis of H (eigenvalues ``rho`` DESCENDING, one ``eigh``):
    ``Xq = X q`` holds the samples' modal coordinates, ``a_q = a q`` the residual gradients'.

    Parameters
    ----------
    X : (N, d) array_like
        Inputs, one sample per row.
    y : (N,) array_like
        Targets.
    weight_decay : float
        lambda >= 0; ``H + lambda I`` must be positive definite.

    Raises
    ------
    ShapeError
        If X is not (N, d) with N >= 2 or y is not (N,).
    UnstableDriftError
        If ``H + weight_decay I`` is singular (no unique minimiser theta*).

    Examples
    --------
    The fourth-moment map against its definition, and the residual gradients summing to zero:

    >>> rng = np.random.default_rng(0)
    >>> data = FiniteData(rng.standard_normal((7, 3)), rng.standard_normal(7), weight_decay=0.1)
    >>> Y = rng.standard_normal((3, 3)); Y = Y + Y.T
    >>> ref = sum(np.outer(x, x) @ Y @ np.outer(x, x) for x in data.X) / data.N
    >>> bool(np.allclose(data.fourth_moment(Y), ref, rtol=1e-13, atol=1e-13))
    True
    >>> bool(np.allclose(data.a.sum(axis=0), 0.0, atol=1e-12))
    True
    """

    def __init__(self, X, y, weight_decay=0.0):
        self.X = as_array(X, "X", ndim=2)
        self.N, self.d = self.X.shape
        if self.N < 2 or self.d < 1:
            raise ShapeError(f"X must be (N, d) with N >= 2 samples and d >= 1; got {self.X.shape}")
        self.y = as_array(y, "y", shape=(self.N,))
        self.weight_decay = as_scalar(weight_decay, "weight_decay", low=0.0)
        self.H = self.X.T @ self.X / self.N
        w, q = np.linalg.eigh(self.H)
        self.rho, self.q = w[::-1].copy(), q[:, ::-1].copy()
        k = self.rho + self.weight_decay
        check_definite_spectrum(
            k[-1],
            k[0],
            self.d,
            "H + weight_decay I",
            UnstableDriftError,
            ": theta* is not unique; add weight_decay or use N >= d samples in general position",
        )
        b_q = self.q.T @ (self.X.T @ self.y) / self.N
        self.theta_star = self.q @ (b_q / k)
        self.Xq = self.X @ self.q
        self.a = self.X * (self.X @ self.theta_star - self.y)[:, None] + (
            self.weight_decay * self.theta_star
        )
        self.a_q = self.a @ self.q

    @property
    def H_lambda(self) -> np.ndarray:
        """``H + weight_decay I``."""
        return self.H + self.weight_decay * np.eye(self.d)

    @property
    def k(self) -> np.ndarray:
        """Eigenvalues of ``H_lambda``, descending: ``rho + weight_decay``."""
        return self.rho + self.weight_decay

    @cached_property
    def Sigma_a(self) -> np.ndarray:
        """``N^-1 sum_i a_i a_i^T``: the per-sample gradient covariance at theta*."""
        return self.a.T @ self.a / self.N

    @cached_property
    def Sigma_a_modal(self) -> np.ndarray:
        """``q^T Sigma_a q``."""
        return self.a_q.T @ self.a_q / self.N

    @staticmethod
    def _fourth(Xs: np.ndarray, Y: np.ndarray) -> np.ndarray:
        if Y.ndim == 2:  # one matrix: two GEMMs
            s = np.einsum("ia,ia->i", Xs @ Y, Xs)
            return (Xs * s[:, None]).T @ Xs / Xs.shape[0]
        s = np.einsum("ia,...ab,ib->...i", Xs, Y, Xs, optimize=True)  # a stack of matrices
        return np.einsum("...i,ia,ib->...ab", s, Xs, Xs, optimize=True) / Xs.shape[0]

    def fourth_moment(self, Y) -> np.ndarray:
        r"""``N^-1 sum_i (x_i^T Y x_i) x_i x_i^T`` in O(N d^2), never forming the d^4 tensor."""
        return self._fourth(self.X, as_array(Y, "Y", shape=(self.d, self.d)))

    def fourth_moment_modal(self, Y: np.ndarray) -> np.ndarray:
        """:meth:`fourth_moment` in the eigenbasis (``Y``: ``(..., d, d)`` modal matrices)."""
        return self._fourth(self.Xq, Y)

    def cross_modal(self, m: np.ndarray) -> np.ndarray:
        r"""``T = N^-1 sum_i x_i (x_i^T m) a_i^T`` in the eigenbasis (``m`` modal, shape (d,))."""
        return (self.Xq * (self.Xq @ m)[:, None]).T @ self.a_q / self.N
