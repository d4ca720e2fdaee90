r"""The multivariate Ornstein-Uhlenbeck process (seed 003 section 5-6, appendices D-E).

.. math:: dX_t = -A (X_t - \mu)\,dt + \sqrt{2 D / \kappa}\; dW_t

with A stable (eigenvalues of positive real part) and D symmetric positive SEMI-definite
(the SGD case: D vanishes on the position block). Everything a Gaussian process needs is
exact here: moments at any time, cross-covariances, the stationary law ``N(mu, B / kappa)`` with
``A B + B A^T = 2 D``, the decomposition ``A = (D + Q) U`` and exact transitions for sampling.

Users import it as ``dynlab.ou.OUProcess``; :mod:`dynlab.sgd` builds SGD's process from it.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from . import config
from ._linalg import expm, skew, spd_inverse
from ._lyapunov import solve_lyapunov
from ._validate import (
    as_array,
    as_psd,
    as_scalar,
    as_square,
    time_arguments,
)
from .errors import HyperparameterError, NotControllableError, ShapeError
from .ou_transient import Transient

__all__ = ["OUProcess", "decompose_lyapunov", "lyapunov_inverse"]


def lyapunov_inverse(B: np.ndarray, noise: str, overwrite: bool = False) -> np.ndarray:
    """``U = B^-1`` for a Lyapunov solution B, after checking that B is not singular.

    Kunin et al. (2021, arXiv:2107.09133, app. D): the modified potential's matrix. By Cholesky
    (:func:`dynlab._linalg.spd_inverse`, ``n^3`` flops); ``overwrite=True`` lets it work in B's
    memory (B is then destroyed), so that no second ``n x n`` array is allocated. ``noise`` names
    the diffusion in the error message.

    Raises
    ------
    NotControllableError
        If B is not positive definite to rounding or LAPACK's estimate of its 1-norm condition
        number exceeds ``1 / config.SINGULAR_RTOL``.

    Examples
    --------
    >>> import numpy as np
    >>> B = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> bool(np.allclose(lyapunov_inverse(B, noise="D") @ B, np.eye(2)))
    True
    """
    work = B if overwrite and B.flags.c_contiguous else np.array(B, order="C")
    U, rcond = spd_inverse(work)
    if U is None or not rcond >= config.SINGULAR_RTOL:
        cond = np.inf if U is None else 1.0 / rcond
        raise NotControllableError(
            f"the Lyapunov solution B is singular (condition number {cond:.3g}): the noise "
            f"{noise} does not reach every direction (the process is not controllable), so "
            "U = B^-1 and the modified potential do not exist on the whole space"
        )
    return U


def decompose_lyapunov(A: np.ndarray, B: np.ndarray, noise: str) -> tuple[np.ndarray, np.ndarray]:
    """``(Q, U)`` with ``A = (D + Q) U`` from the Lyapunov solution B (Kunin et al. 2021, app. D).

    ``U = B^-1`` (:func:`lyapunov_inverse`) and ``Q = A B - D``.
    Q is taken as the skew part of ``A B`` (``A B - D`` is skew exactly when B solves
    ``A B + B A^T = 2 D``), so rounding in B cannot leave a symmetric residue in Q. ``noise``
    names the diffusion in the error message.

    Raises
    ------
    NotControllableError
        If B is singular (see :func:`lyapunov_inverse`).

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> A, D = np.array([[0.0, -1.0], [2.0, 0.5]]), np.diag([0.0, 0.5])
    >>> B = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    >>> Q, U = decompose_lyapunov(A, B, noise="D")
    >>> bool(np.allclose((D + Q) @ U, A)) and bool(np.allclose(Q, -Q.T))
    True
    """
    # Not _validate.check_definite_spectrum's question (can eigh tell B's smallest eigenvalue
    # from zero, n eps ||B||?): B is the output of a Lyapunov solve, whose forward error is
    # eps ||B|| times the Lyapunov operator's condition number, far above n eps near the
    # uncontrollable limit. The question here is controllability, with its own cut-off
    # (lyapunov_inverse).
    U = lyapunov_inverse(B, noise)
    return skew(A @ B), U


class OUProcess(Transient):
    r"""Ornstein-Uhlenbeck process ``dX = -A (X - mu) dt + sqrt(2 D / kappa) dW``.

    Parameters
    ----------
    A : (n, n) array_like
        Drift matrix; need not be symmetric. Stationary quantities require it to be stable.
    D : (n, n) array_like
        Diffusion matrix, symmetric positive semi-definite.
    kappa : float
        Inverse temperature (> 0); seed 003 uses ``kappa = S (1 - beta^2)``.
    mu : (n,) array_like, optional
        Stationary mean (zero if omitted).

    Notes
    -----
    Every method takes the SDE's own time ``t`` as ``time=`` (for SGD, ``t = lr * k`` after k
    optimizer steps); ``steps=`` and the former keywords ``t=``, ``tau=``, ``s=`` are refused with
    the keyword to use, and a positional time still works with a deprecation
    :class:`~dynlab.errors.DynlabWarning`. Moments (seed 003 eq. 6, app. D):
    ``E X_t = mu + e^{-A t} (x0 - mu)``, ``Var X_t = int_0^t e^{-A s} (2 D / kappa) e^{-A^T s} ds
    = (B - e^{-A t} B e^{-A^T t}) / kappa``, ``Cov(X_t, X_s) = Var(X_t) e^{-A^T (s - t)}``
    for s >= t.

    Examples
    --------
    >>> import numpy as np
    >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]])
    >>> B = ou.lyapunov()
    >>> bool(np.allclose(ou.A @ B + B @ ou.A.T, 2 * ou.D))
    True
    """

    def __init__(self, A, D, kappa: float = 1.0, mu=None):
        self.A = as_square(A, "A")
        n = self.A.shape[0]
        self.D = as_psd(D, "D", n)
        self.kappa = as_scalar(kappa, "kappa", low=0.0, low_open=True, error=HyperparameterError)
        self.mu = np.zeros(n) if mu is None else as_array(mu, "mu", shape=(n,))

    @property
    def n(self) -> int:
        """State dimension."""
        return self.A.shape[0]

    # ------------------------------------------------------------------ stationary law
    @cached_property
    def _B(self) -> np.ndarray:
        return solve_lyapunov(self.A, 2.0 * self.D)

    def lyapunov(self) -> np.ndarray:
        r"""B solving :math:`A B + B A^\top = 2 D` (Bartels-Stewart, complex Schur form).

        Raises
        ------
        UnstableDriftError
            If A has an eigenvalue with real part <= 0 (no stationary law).
        """
        return self._B.copy()

    def stationary_cov(self) -> np.ndarray:
        """Stationary covariance ``B / kappa``.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> B = scipy.linalg.solve_continuous_lyapunov(ou.A, 2 * ou.D)   # A B + B A^T = 2 D
        >>> bool(np.allclose(ou.stationary_cov(), B / 2.0))
        True
        """
        return self._B / self.kappa

    @cached_property
    def _QU(self) -> tuple[np.ndarray, np.ndarray]:
        return decompose_lyapunov(self.A, self._B, noise="D")

    def decompose(self) -> tuple[np.ndarray, np.ndarray]:
        r"""``(Q, U)`` with :math:`A = (D + Q) U`, Q skew-symmetric, U symmetric positive definite.

        General route (Ao; Kwon et al.; seed 003 app. D): ``U = B^{-1}``, ``Q = A B - D``.
        Q is skew because ``A B + B A^T = 2 D``. (The appendix-D eigenbasis formula for Q holds
        only for symmetric A; the SGD drift is not symmetric.)

        Raises
        ------
        UnstableDriftError
            If A is not stable.
        NotControllableError
            If B is singular (1-norm condition number above 1 / SINGULAR_RTOL).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> Q, U = ou.decompose()
        >>> bool(np.allclose((ou.D + Q) @ U, ou.A)) and bool(np.allclose(Q, -Q.T))
        True
        """
        Q, U = self._QU
        return Q.copy(), U.copy()

    def modified_potential(self, x) -> np.ndarray:
        r"""``Psi(x) = 1/2 (x - mu)^T U (x - mu)``, with ``p_ss ~ exp(-kappa Psi)``.

        Kunin et al. (2021, arXiv:2107.09133, eq. 8).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> x = np.array([0.3, -0.2])
        >>> bool(np.isclose(ou.modified_potential(x), 0.5 * x @ np.linalg.solve(ou.lyapunov(), x)))
        True
        """
        x = as_array(x, "x")
        if x.shape[-1:] != (self.n,):
            raise ShapeError(f"x must have shape (..., {self.n}); got {x.shape}")
        y = x - self.mu
        return 0.5 * np.einsum("...i,ij,...j->...", y, self._QU[1], y)

    def stationary_density(self, x) -> np.ndarray:
        r"""Stationary density ``N(mu, B / kappa)`` at points ``x`` of shape ``(..., n)``.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> import scipy.stats
        >>> x = np.array([0.3, -0.2])
        >>> law = scipy.stats.multivariate_normal(ou.mu, ou.stationary_cov())
        >>> bool(np.isclose(ou.stationary_density(x), law.pdf(x)))
        True
        """
        U = self._QU[1]
        _, logdet_U = np.linalg.slogdet(U)
        log_norm = 0.5 * (self.n * np.log(self.kappa / (2.0 * np.pi)) + logdet_U)
        return np.exp(log_norm - self.kappa * self.modified_potential(x))

    def current(self, x) -> np.ndarray:
        r"""Stationary probability current :math:`J_{ss}(x) = -Q U (x - \mu)\, p_{ss}(x)`.

        Kunin et al. (2021, arXiv:2107.09133, eq. 8).

        Divergence-free and orthogonal to the gradient of Psi; zero iff detailed balance (Q = 0).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> x = np.array([0.3, -0.2])
        >>> grad_psi = np.linalg.solve(ou.lyapunov(), x - ou.mu)      # U (x - mu)
        >>> bool(abs(ou.current(x) @ grad_psi) < 1e-12 * np.linalg.norm(ou.current(x)))
        True
        """
        x = as_array(x, "x")
        if x.shape[-1:] != (self.n,):
            raise ShapeError(f"x must have shape (..., {self.n}); got {x.shape}")
        Q, U = self._QU
        return -((x - self.mu) @ (Q @ U).T) * self.stationary_density(x)[..., None]

    def stationary_cross_cov(self, *args, time=None, tau=None, steps=None) -> np.ndarray:
        r"""Stationary ``Cov(X_t, X_{t+tau}) = B e^{-A^T tau} / kappa`` at the lag ``tau = time``.

        ``time`` (keyword): the lag tau in SDE time, an array; for tau >= 0, transposed for
        tau < 0.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> C = ou.stationary_cross_cov(time=0.7)
        >>> bool(np.allclose(C, ou.stationary_cov() @ scipy.linalg.expm(-0.7 * ou.A).T))
        True
        """
        a = time_arguments(
            "OUProcess.stationary_cross_cov",
            args,
            {"time": time},
            steps=steps,
            former={"tau": (tau, "time")},
        )
        tau = as_array(a["time"], "time")
        E = expm(-np.abs(tau)[..., None, None] * self.A)
        C = self._B @ np.swapaxes(E, -1, -2) / self.kappa
        return np.where((tau < 0)[..., None, None], np.swapaxes(C, -1, -2), C)

    # ------------------------------------------------------------------ transient moments
