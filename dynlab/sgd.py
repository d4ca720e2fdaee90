r"""SGD with heavy-ball momentum on a quadratic as a phase-space model (seed 003 sections 4-6, 8).

Two models of the same optimizer, side by side, so that their gap can be measured:

* ``SGDPhaseSpace.ou`` -- the SDE of seed 003 eq. 4, an Ornstein-Uhlenbeck process in
  ``z = [theta, v]`` with time ``t = lr * k``:
  ``A = [[0, -I], [c1 (H + lambda I), c2 I]]``, ``D = [[0, 0], [0, c2 Sigma]]``,
  ``c1 = 2 / (lr (1 + beta))``, ``c2 = 2 (1 - beta) / (lr (1 + beta))``, ``kappa = S (1 - beta^2)``.
* ``SGDPhaseSpace.discrete`` -- the EXACT recursion of the optimizer (PyTorch semantics,
  seed 003 eq. 2) ``z_{k+1} = F z_k + G xi_k + c``, ``xi_k ~ N(0, Sigma / S)``: no modelling error.

Everything is computed in the eigenbasis of H, where both models decouple into 2 x 2 blocks
(pairs of blocks for the covariances): O(d^3) once (one ``eigh``), O(d) or O(d^2) afterwards.

The class is assembled from one module per job: the SDE (:mod:`dynlab.sgd_sde`), the exact
recursion (:mod:`dynlab.sgd_discrete`) and the observables (:mod:`dynlab.sgd_observables`).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from . import config, modes
from ._validate import as_array, as_flag
from .errors import (
    HyperparameterError,
    ShapeError,
)
from .hyper import as_heavy_ball
from .models import LinearRegressionProblem, _noise_matrix, hessian_noise_scale
from .sgd_discrete import DiscreteSGD
from .sgd_observables import Equipartition, Observables
from .sgd_sde import SDEModel
from .spectrum import Spectrum, per_mode

__all__ = ["SGDPhaseSpace", "DiscreteSGD", "Equipartition"]


class SGDPhaseSpace(SDEModel, Observables):
    r"""Heavy-ball SGD on ``L(theta) = 1/2 theta^T H theta - b^T theta``, a linear-Gaussian system.

    The optimizer (seed 003 eq. 2; PyTorch's buffer is ``-v``)::

        v_{k+1} = momentum v_k - (g_B(theta_k) + weight_decay theta_k),   g_B = H theta - b + xi_k
        theta_{k+1} = theta_k + lr v_{k+1},                 xi_k ~ N(0, Sigma / batch_size)

    Parameters
    ----------
    H : (d, d) array_like or Spectrum
        Hessian, symmetric positive semi-definite; ``H + weight_decay I`` must be definite. A
        :class:`~dynlab.spectrum.Spectrum` shares its one eigendecomposition among models.
    b : (d,) array_like, optional
        Linear term (zero if omitted); the stationary mean is ``mu = (H + weight_decay I)^{-1} b``.
    lr : float
        Learning rate eta > 0; must satisfy ``lr (rho_max + weight_decay) < 2 (1 + momentum)``.
    momentum : float
        beta in [0, 1).
    weight_decay : float
        lambda >= 0.
    batch_size : int
        S >= 1.
    noise_cov : ("hessian", sigma2) or (d, d) array_like
        Per-sample gradient-noise covariance Sigma (PSD), or ``("hessian", sigma2)`` meaning
        ``Sigma = sigma2 H`` (seed 003 Assumption 5). A bare scalar is read as
        ``("hessian", scalar)``, with a deprecation :class:`~dynlab.errors.DynlabWarning`
        (scipy would read it as ``sigma2 I``).
    hyper : HeavyBall, optional
        The optimizer in place of the four keywords. Its fields may be arrays (a sweep of shape
        ``hyper.shape``): :meth:`speed`, :meth:`displacement`, :meth:`diffusion_exponent`,
        :meth:`mode_variances` and :meth:`equipartition` then return the sweep's axes first,
        numpy-style, at O(d) per optimizer after the one eigendecomposition; the matrix-valued
        methods (``ou``, ``lyapunov``, ``decompose``, ``discrete``, ``mean``, ...) take one
        optimizer and say so.

    Raises
    ------
    UnstableDriftError
        If ``H + weight_decay I`` is singular (the drift has a zero eigenvalue).
    StabilityRegionError
        If lr is beyond the stability limit of the discrete recursion (for any optimizer of a
        sweep; :meth:`dynlab.spectrum.Spectrum.stable` gives the mask).

    Examples
    --------
    A learning-rate sweep on one eigendecomposition equals the models built one by one:

    >>> import numpy as np
    >>> from dynlab.hyper import HeavyBall
    >>> from dynlab.spectrum import Spectrum
    >>> H, lrs = np.diag([2.0, 1.0]), np.array([0.05, 0.1, 0.2])
    >>> sweep = SGDPhaseSpace(
    ...     Spectrum(H), hyper=HeavyBall(lr=lrs, momentum=0.9), noise_cov=("hessian", 0.5)
    ... )
    >>> one = [SGDPhaseSpace(H, lr=lr, momentum=0.9, noise_cov=("hessian", 0.5)).speed(exact=True)
    ...        for lr in lrs]
    >>> bool(np.allclose(sweep.speed(exact=True), one, rtol=1e-13))
    True
    """

    def __init__(
        self,
        H,
        b=None,
        *,
        hyper=None,
        lr=None,
        momentum=None,
        weight_decay=None,
        batch_size=None,
        noise_cov,
    ):
        self.hyper = as_heavy_ball(
            hyper, lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=batch_size
        ).require_plain("SGDPhaseSpace")
        self.spectrum = H if isinstance(H, Spectrum) else Spectrum(H)
        self.H, self.rho, self.q = self.spectrum.H, self.spectrum.rho, self.spectrum.q
        d = self.H.shape[0]
        self.b = np.zeros(d) if b is None else as_array(b, "b", shape=(d,))
        if noise_cov is None:
            raise ShapeError(
                "noise_cov is required: a (d, d) matrix Sigma or ('hessian', sigma2) for "
                "Sigma = sigma2 H"
            )
        self._sigma2 = hessian_noise_scale(noise_cov)
        self.noise_cov = (
            self._sigma2 * self.H if self._sigma2 is not None else _noise_matrix(noise_cov, self.H)
        )
        self.spectrum.require_stable(self.hyper)
        self._per_mode = per_mode(self.hyper)
        # mu depends on weight_decay alone: one solve per weight decay, not per optimizer
        wd = self.hyper.weight_decay
        k = self.rho + np.reshape(wd, np.shape(wd) + (1,))
        self.mu = ((self.q.T @ self.b) / k) @ self.q.T

    @property
    def shape(self) -> tuple:
        """Sweep shape ``hyper.shape`` (``()`` for one optimizer): the leading axes of results."""
        return self.hyper.shape

    def _one(self, where: str):
        """The single optimizer, or an error naming ``where`` if this model is a sweep."""
        return self.hyper.require_scalar(f"SGDPhaseSpace.{where}")

    def _result(self, x):
        """A per-optimizer result in the sweep's full shape; a Python float for one optimizer."""
        return float(x) if self.hyper.is_scalar else np.broadcast_to(x, self.shape).copy()

    @property
    def lr(self) -> float:
        """Learning rate eta (``hyper.lr``)."""
        return self.hyper.lr

    @property
    def momentum(self) -> float:
        """Momentum beta (``hyper.momentum``)."""
        return self.hyper.momentum

    @property
    def weight_decay(self) -> float:
        """Weight decay lambda (``hyper.weight_decay``)."""
        return self.hyper.weight_decay

    @property
    def batch_size(self) -> int:
        """Batch size S (``hyper.batch_size``)."""
        return self.hyper.batch_size

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_data(
        cls,
        X,
        Y,
        *,
        hyper=None,
        lr=None,
        momentum=None,
        weight_decay=None,
        batch_size=None,
        noise_cov=None,
        replacement=True,
    ):
        r"""Linear regression ``||Y - X theta||^2 / 2N``: ``H = X^T X / N``, ``b = X^T Y / N``.

        Kunin et al. (2021, arXiv:2107.09133, sec. 5). The optimizer is ``hyper`` (a
        :class:`~dynlab.hyper.HeavyBall`) or the keywords, as for the constructor.

        Parameters
        ----------
        noise_cov : None, ("hessian", sigma2) or (d, d) array_like
            None estimates Sigma from the per-sample gradients at the stationary mean mu
            (:meth:`~dynlab.models.LinearRegressionProblem.gradient_noise_cov`).
        replacement : bool
            Minibatches drawn with replacement have gradient covariance Sigma / S. Drawn without
            replacement, each batch's covariance is Sigma / S * (N - S) / (N - 1): with
            ``replacement=False`` the estimated Sigma is scaled by that factor (this matches the
            per-step marginal; successive batches of one epoch are then not independent).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).standard_normal((50, 3))
        >>> m = SGDPhaseSpace.from_data(X, X @ [1.0, 2.0, 3.0], lr=0.1, momentum=0.5)
        >>> bool(np.allclose(m.H, X.T @ X / 50)) and bool(np.allclose(m.mu, [1.0, 2.0, 3.0]))
        True
        """
        hp = as_heavy_ball(
            hyper, lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=batch_size
        )
        problem = LinearRegressionProblem(X, Y)
        if hp.batch_size > problem.N:
            raise HyperparameterError(
                f"batch_size must be <= the number of rows of X, N = {problem.N}; "
                f"got {hp.batch_size}"
            )
        if noise_cov is None:
            noise_cov = problem.gradient_noise_cov(problem.minimizer(hp.weight_decay))
            if not replacement:
                S = hp.batch_size
                noise_cov = noise_cov * (problem.N - S) / max(problem.N - 1, 1)
        return cls(problem.H, problem.b, hyper=hp, noise_cov=noise_cov)

    @property
    def d(self) -> int:
        """Number of parameters."""
        return self.H.shape[0]

    @property
    def kappa(self) -> float:
        """Inverse temperature ``S (1 - beta^2)`` (Kunin et al. 2021, eq. 4; ``hyper.kappa``).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> abs(m.kappa - 4 * (1 - 0.9) * (1 + 0.9)) < 1e-15
        True
        """
        return self.hyper.kappa

    @cached_property
    def _sigma_modal(self) -> np.ndarray:
        """``q^T Sigma q`` (exact diag(sigma2 rho) when Sigma = sigma2 H was given as a scalar)."""
        if self._sigma2 is not None:
            return np.diag(self._sigma2 * self.rho)
        return self.spectrum.modal(self.noise_cov)

    @cached_property
    def _sigma_diag(self) -> np.ndarray:
        """``q_i^T Sigma q_i``: all that traces (speed, displacement) depend on."""
        if self._sigma2 is not None:
            return self._sigma2 * self.rho
        if "_sigma_modal" in self.__dict__:
            return np.diag(self._sigma_modal).copy()
        return self.spectrum.modal_diag(self.noise_cov)

    @cached_property
    def commutes(self) -> bool:
        r"""Whether Sigma commutes with H (seed 003 Assumption 3), to rounding.

        ``||H Sigma - Sigma H||_F <= config.COMMUTE_RTOL ||H||_2 ||Sigma||_F``. Once
        ``q^T Sigma q`` (shared with :meth:`lyapunov`) is cached, in the eigenbasis of H, where the
        commutator is ``(rho_i - rho_j) (q^T Sigma q)_ij``: O(d^2); before, as
        ``H Sigma - (H Sigma)^T`` (H, Sigma symmetric): one GEMM, where forming
        ``q^T Sigma q`` would take two. True at once for ``Sigma = sigma2 H``.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> other = SGDPhaseSpace(np.diag([2.0, 1.0]), lr=0.1, noise_cov=[[1, 0.5], [0.5, 1]])
        >>> m.commutes, other.commutes
        (True, False)
        """
        if self._sigma2 is not None:
            return True
        if "_sigma_modal" in self.__dict__:
            C = np.subtract.outer(self.rho, self.rho) * self._sigma_modal
        else:
            C = self.H @ self.noise_cov
            C = C - C.T
        scale = np.max(np.abs(self.rho), initial=0.0) * np.linalg.norm(self.noise_cov)
        return bool(np.linalg.norm(C) <= config.COMMUTE_RTOL * scale)

    @cached_property
    def modes(self) -> modes.Modes:
        """Per-eigenvalue gamma, omega, zeta, regime, frequencies (:class:`dynlab.modes.Modes`)."""
        return modes.Modes.build(self.rho, self.q, hyper=self._one("modes"))

    def _blocks(self, M_tt, M_tv, M_vt, M_vv) -> np.ndarray:
        return np.block([[M_tt, M_tv], [M_vt, M_vv]])

    # ------------------------------------------------------------------ the exact recursion
    @cached_property
    def discrete(self) -> DiscreteSGD:
        """The exact heavy-ball recursion (no O(lr) modelling error)."""
        self._one("discrete")
        return DiscreteSGD(self)

    def stationary_cov(self, exact: bool = False) -> np.ndarray:
        """Stationary covariance of ``[theta, v]``: ``B / kappa`` (SDE) or the Stein solution P.

        ``exact=True`` gives P, the stationary covariance of the exact recursion.

        Examples
        --------
        >>> import numpy as np      # 1-D, beta = 0, Sigma = sigma2 H: the AR(1) variance
        >>> lr, rho, sigma2, S = 0.1, 2.0, 0.5, 4
        >>> m = SGDPhaseSpace([[rho]], lr=lr, batch_size=S, noise_cov=("hessian", sigma2))
        >>> bool(np.isclose(m.stationary_cov(exact=True)[0, 0], lr * sigma2 / (S * (2 - lr * rho))))
        True
        """
        if as_flag(exact, "exact"):
            return self.discrete.stationary_cov()
        return self.lyapunov() / self.kappa
