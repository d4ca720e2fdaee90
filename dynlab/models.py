"""Problem definitions shared by the analytic models and the integrator zoo.

Two problems, one notation (docs/conventions.md, docs/theory.md):

* :class:`QuadraticProblem` -- ``L(theta) = 1/2 theta^T H theta - b^T theta + c`` with minibatch
  gradient ``g_B = H theta - b + xi``, ``xi ~ N(0, Sigma / batch_size)`` (seed 003, Assumption 1).
* :class:`LinearRegressionProblem` -- ``L(theta) = ||Y - X theta||^2 / (2N)`` on a dataset, whose
  minibatch noise comes from sampling rows; ``H = X^T X / N`` and ``b = X^T Y / N`` (seed 003,
  section 5).

and :func:`synthetic_regression`, the embedded default dataset.
"""

from __future__ import annotations

import warnings
from functools import cached_property

import numpy as np

from ._linalg import eigh_descending, psd_sqrt, sym
from ._validate import (
    as_array,
    as_positive_int,
    as_psd,
    as_rng,
    as_scalar,
    check_definite_spectrum,
)
from .errors import DynlabWarning, NotPositiveDefiniteError, ShapeError

__all__ = ["QuadraticProblem", "LinearRegressionProblem", "synthetic_regression"]


def hessian_noise_scale(noise_cov, stacklevel: int = 3) -> float | None:
    """sigma^2 when ``noise_cov`` says ``Sigma = sigma^2 H``, else None (a matrix or no noise).

    ``("hessian", sigma2)`` is the explicit form (Kunin et al. 2021, arXiv:2107.09133,
    Assumption 5). A bare scalar is read the same way, with a
    :class:`~dynlab.errors.DynlabWarning`: scipy reads a scalar covariance as ``sigma^2 I``.
    """
    if isinstance(noise_cov, tuple) and noise_cov and isinstance(noise_cov[0], str):
        if len(noise_cov) != 2 or noise_cov[0] != "hessian":
            raise ShapeError(
                f"noise_cov: the named form is ('hessian', sigma2) for Sigma = sigma2 H; "
                f"got {noise_cov!r}"
            )
        return as_scalar(noise_cov[1], "noise_cov sigma2", low=0.0, error=ShapeError)
    if noise_cov is None or np.ndim(noise_cov) != 0:
        return None
    sigma2 = as_scalar(noise_cov, "noise_cov (sigma^2)", low=0.0, error=ShapeError)
    warnings.warn(
        f"noise_cov={sigma2!r} means Sigma = {sigma2!r} * H (not {sigma2!r} * I as in scipy); "
        f"write noise_cov=('hessian', {sigma2!r}), or pass a matrix such as "
        f"{sigma2!r} * np.eye(d) for isotropic noise: the bare scalar is deprecated",
        DynlabWarning,
        stacklevel=stacklevel,
    )
    return sigma2


def _noise_matrix(noise_cov, H: np.ndarray) -> np.ndarray | None:
    """Interpret ``noise_cov``: None (no noise), ``("hessian", sigma2)`` (Sigma = sigma2 H), a
    (d, d) matrix; a bare scalar as ``("hessian", scalar)``, deprecated."""
    sigma2 = hessian_noise_scale(noise_cov, stacklevel=4)
    if sigma2 is not None:
        return sigma2 * H
    if noise_cov is None:
        return None
    return as_psd(noise_cov, "noise_cov", H.shape[0])


class QuadraticProblem:
    r"""Quadratic loss with additive Gaussian gradient noise.

    .. math:: L(\theta) = \tfrac12 \theta^\top H \theta - b^\top \theta + c,\qquad
              g_B(\theta) = H\theta - b + \xi,\quad \xi \sim N(0, \Sigma / S).

    Parameters
    ----------
    H : (d, d) array_like
        Symmetric positive semi-definite Hessian.
    b : (d,) array_like, optional
        Linear term; zero if omitted.
    noise_cov : None, ("hessian", sigma2) or (d, d) array_like, optional
        Per-sample gradient-noise covariance Sigma. ``("hessian", sigma2)`` means
        ``Sigma = sigma2 * H`` (seed 003, Assumption 5); None means exact gradients. A bare
        scalar is read as ``("hessian", scalar)`` with a deprecation DynlabWarning.
    c : float, optional
        Constant offset of the loss (``||Y||^2 / 2N`` for linear regression).
    """

    def __init__(self, H, b=None, *, noise_cov=None, c: float = 0.0):
        self.H = as_psd(H, "H")
        d = self.H.shape[0]
        self.b = np.zeros(d) if b is None else as_array(b, "b", shape=(d,))
        self.noise_cov = _noise_matrix(noise_cov, self.H)
        self.c = as_scalar(c, "c", error=ShapeError)

    @property
    def d(self) -> int:
        """Number of parameters."""
        return self.H.shape[0]

    def loss(self, theta) -> np.ndarray:
        """``L(theta)`` for ``theta`` of shape ``(..., d)``; returns shape ``(...)``."""
        theta = as_array(theta, "theta")
        return 0.5 * np.einsum("...i,ij,...j->...", theta, self.H, theta) - theta @ self.b + self.c

    def grad(self, theta) -> np.ndarray:
        """Full-batch gradient ``H theta - b`` for ``theta`` of shape ``(..., d)``."""
        theta = as_array(theta, "theta")
        return theta @ self.H - self.b

    def minimizer(self, weight_decay: float = 0.0) -> np.ndarray:
        """Ridge solution ``mu = (H + weight_decay I)^{-1} b`` (seed 003, eq. 4).

        Raises
        ------
        NotPositiveDefiniteError
            If ``H + weight_decay I`` is singular, so that the minimum is not unique.
        """
        wd = as_scalar(weight_decay, "weight_decay", low=0.0)
        K = self.H + wd * np.eye(self.d)
        rho = self.spectrum[0]
        check_definite_spectrum(
            rho[-1] + wd,
            rho[0] + wd,
            self.d,
            "H + weight_decay I",
            NotPositiveDefiniteError,
            "; the minimizer is not unique: add weight_decay or restrict to range(H)",
        )
        return np.linalg.solve(K, self.b)

    @cached_property
    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenpairs of H, eigenvalues DESCENDING: ``(rho, q)`` with ``H q_i = rho_i q_i``.

        ``rho_1`` is the top eigenvalue, as in the seed's notation.
        """
        return eigh_descending(self.H)

    @property
    def noise_factor(self) -> np.ndarray | None:
        """A (d, d) matrix L with ``L L^T = Sigma`` (the symmetric root; Sigma may be singular).

        Kept with a copy of the Sigma it was computed from, and computed again when
        ``noise_cov`` has changed since (reassigned or edited in place): an O(d^2) comparison
        where the root is an eigendecomposition.

        >>> p = QuadraticProblem(np.eye(2), noise_cov=np.eye(2))
        >>> bool(np.allclose(p.noise_factor, np.eye(2)))
        True
        >>> p.noise_cov = 4.0 * np.eye(2)
        >>> bool(np.allclose(p.noise_factor, 2.0 * np.eye(2)))
        True
        >>> p.noise_cov[0, 0] = 9.0
        >>> bool(np.allclose(p.noise_factor, np.diag([3.0, 2.0])))
        True
        """
        if self.noise_cov is None:
            return None
        source, L = self.__dict__.get("_noise_factor_of", (None, None))
        if source is None or not np.array_equal(source, self.noise_cov):
            source, L = self.noise_cov.copy(), psd_sqrt(self.noise_cov)
            self.__dict__["_noise_factor_of"] = (source, L)
        return L


class LinearRegressionProblem:
    r"""Least squares on a dataset: :math:`L(\theta) = \|Y - X\theta\|^2 / (2N)`.

    The Hessian is ``H = X^T X / N`` and the linear term ``b = X^T Y / N`` (seed 003, section 5).
    A minibatch of size S averages per-sample gradients ``g_i = x_i (x_i^T theta - y_i)``.

    Parameters
    ----------
    X : (N, d) array_like
        Inputs.
    Y : (N,) array_like
        Targets (one output; a multi-output problem is one problem per column).
    """

    def __init__(self, X, Y):
        self.X = as_array(X, "X", ndim=2)
        self.Y = as_array(Y, "Y", shape=(self.X.shape[0],))
        if self.X.shape[0] < 1:
            raise ShapeError("X must have at least one row")

    @property
    def N(self) -> int:
        """Number of samples."""
        return self.X.shape[0]

    @property
    def d(self) -> int:
        """Number of parameters."""
        return self.X.shape[1]

    @cached_property
    def H(self) -> np.ndarray:
        """Hessian ``X^T X / N``."""
        return sym(self.X.T @ self.X / self.N)

    @cached_property
    def b(self) -> np.ndarray:
        """Linear term ``X^T Y / N``."""
        return self.X.T @ self.Y / self.N

    @property
    def c(self) -> float:
        """Constant ``||Y||^2 / (2N)``, so that ``loss = 1/2 theta^T H theta - b^T theta + c``."""
        return float(self.Y @ self.Y) / (2 * self.N)

    def loss(self, theta) -> np.ndarray:
        """``||Y - X theta||^2 / 2N`` for ``theta`` of shape ``(..., d)``."""
        theta = as_array(theta, "theta")
        r = theta @ self.X.T - self.Y
        return 0.5 * np.mean(r * r, axis=-1)

    def grad(self, theta) -> np.ndarray:
        """Full-batch gradient ``H theta - b``."""
        theta = as_array(theta, "theta")
        return theta @ self.H - self.b

    def per_sample_grads(self, theta) -> np.ndarray:
        """Per-sample gradients ``g_i = x_i (x_i^T theta - y_i)``, shape ``(N, d)``."""
        theta = as_array(theta, "theta", shape=(self.d,))
        return self.X * (self.X @ theta - self.Y)[:, None]

    def gradient_noise_cov(self, theta=None) -> np.ndarray:
        """Per-sample gradient covariance ``Sigma(theta) = Cov_i[g_i(theta)]`` (population form).

        A minibatch of S rows drawn with replacement has gradient covariance ``Sigma / S``;
        drawn without replacement, ``Sigma / S * (N - S) / (N - 1)``.
        At ``theta = None`` it is evaluated at the least-squares minimizer, where seed 003
        linearises the noise (Assumption 3: Sigma(theta) = Sigma).
        """
        if theta is None:
            theta = self.minimizer()
        G = self.per_sample_grads(theta)
        g = G.mean(axis=0)
        return sym(G.T @ G / self.N - np.outer(g, g))

    def minimizer(self, weight_decay: float = 0.0) -> np.ndarray:
        """Ridge solution ``(H + weight_decay I)^{-1} b``; min-norm least squares if singular."""
        wd = as_scalar(weight_decay, "weight_decay", low=0.0)
        if wd > 0.0:
            return np.linalg.solve(self.H + wd * np.eye(self.d), self.b)
        return np.linalg.lstsq(self.X, self.Y, rcond=None)[0]

    def as_quadratic(self, noise_cov="estimate", *, theta=None) -> QuadraticProblem:
        """The same loss as a :class:`QuadraticProblem` with additive Gaussian noise.

        Parameters
        ----------
        noise_cov : "estimate", None, float or (d, d) array_like
            ``"estimate"`` uses :meth:`gradient_noise_cov` at ``theta``; otherwise as in
            :class:`QuadraticProblem`.
        """
        if isinstance(noise_cov, str):
            if noise_cov != "estimate":
                raise ShapeError(
                    f"noise_cov must be 'estimate', None, a scalar or a matrix; got {noise_cov!r}"
                )
            noise_cov = self.gradient_noise_cov(theta)
        return QuadraticProblem(self.H, self.b, noise_cov=noise_cov, c=self.c)


def synthetic_regression(
    n_samples: int = 4096,
    d: int = 64,
    *,
    decay: float = 1.0,
    top_variance: float = 1.0,
    noise_std: float = 0.5,
    seed=0,
) -> LinearRegressionProblem:
    """Anisotropic linear-regression data with a teacher and label noise.

    Inputs ``x ~ N(0, C)`` with ``C = R diag(top_variance * j^{-decay}) R^T`` (``j = 1..d``, R a
    random rotation), teacher ``w* ~ N(0, I / d)``, labels ``y = x^T w* + noise_std * eps``.

    Parameters
    ----------
    n_samples, d : int
        Dataset size N and dimension d.
    decay : float
        Power-law exponent of the input spectrum (condition number of C is ``d**decay``).
    top_variance : float
        Largest input variance.
    noise_std : float
        Label-noise standard deviation; it sets the gradient-noise scale at the minimum.
    seed : int, SeedSequence or Generator
        Randomness (reproducible).
    """
    n_samples = as_positive_int(n_samples, "n_samples", error=ShapeError)
    d = as_positive_int(d, "d", error=ShapeError)
    decay = as_scalar(decay, "decay", low=0.0, error=ShapeError)
    top_variance = as_scalar(top_variance, "top_variance", low=0.0, low_open=True, error=ShapeError)
    noise_std = as_scalar(noise_std, "noise_std", low=0.0, error=ShapeError)
    rng = as_rng(seed)
    variances = top_variance * np.arange(1, d + 1, dtype=np.float64) ** (-decay)
    R, r = np.linalg.qr(rng.standard_normal((d, d)))
    R = R * np.sign(np.diag(r))
    X = (rng.standard_normal((n_samples, d)) * np.sqrt(variances)) @ R.T
    w_star = rng.standard_normal(d) / np.sqrt(d)
    Y = X @ w_star + noise_std * rng.standard_normal(n_samples)
    return LinearRegressionProblem(X, Y)
