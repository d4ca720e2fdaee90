r"""Exact moments of heavy-ball SGD on finite data with a fresh minibatch every step.

State ``z = (delta, v)``, ``delta = theta - theta*``, ``v`` the velocity of dynlab's convention
(PyTorch's buffer is ``-v``; :mod:`dynlab.hyper`). With the minibatch gradient
``g = H_lambda delta + xi``, ``xi = S^-1 sum_{b in B} u_b``, ``u_i = K_i delta + a_i``
(:class:`~dynlab.minibatch.data.FiniteData`), one step is

.. math:: z' = F z + G\xi,\qquad F = \begin{pmatrix} I - \mathrm{lr}\,H_\lambda &
          \mathrm{lr}\,\beta I\\ -H_\lambda & \beta I\end{pmatrix},\qquad
          G = \begin{pmatrix}-\mathrm{lr}\, I\\ -I\end{pmatrix}.

Batches drawn afresh each step give ``E[xi | z] = 0`` and ``Cov(xi | z) = c_S N^-1 sum_i u_i u_i^T``
with ``c_S = 1/S`` (with replacement) or ``(N - S) / (S (N - 1))`` (without; the finite-population
factor). Taking expectations (Velikanov, Kuznedelev & Yarotsky, ICLR 2023, for lambda = 0; here
with weight decay and momentum), the mean ``m = E z`` and the RAW second moment ``P = E z z^T``
obey the affine recursion

.. math:: m' = F m,\qquad P' = F P F^\top + c_S\, G\,[\mathcal M(P_{\delta\delta})
          - H P_{\delta\delta} H + T + T^\top + \Sigma_a]\,G^\top,

``M(Y) = N^-1 sum_i (x_i^T Y x_i) x_i x_i^T``, ``T = N^-1 sum_i x_i (x_i^T m_delta) a_i^T``,
``Sigma_a = N^-1 sum_i a_i a_i^T``. Everything is evaluated in the eigenbasis of H, where F is a
2 x 2 block per mode: a step costs O(N d^2), never the d^4 of the dense map.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigs, gmres

from .. import config, modes
from .._validate import as_array, as_int_array, as_positive_int, steps_arguments
from ..errors import DynlabError, HyperparameterError, ShapeError, StabilityRegionError
from ..hyper import HeavyBall
from ._grid import optimizers, over_grid
from .data import FiniteData

__all__ = ["SAMPLINGS", "MinibatchSGD", "batch_factor", "perron_root"]

SAMPLINGS = ("with_replacement", "without_replacement", "reshuffle")


def batch_factor(N: int, batch_size: int, sampling: str) -> float:
    r"""``c_S`` with ``Cov(xi) = c_S N^-1 sum_i u_i u_i^T`` for one batch of ``S`` of ``N`` samples.

    ``1/S`` for S i.i.d. indices; ``(N - S) / (S (N - 1))`` for S distinct indices (the
    finite-population correction of sampling without replacement; also one batch of a
    reshuffled epoch).

    Examples
    --------
    Against the variance of the batch mean of a population by enumeration of all batches:

    >>> from itertools import combinations
    >>> u = np.array([1.0, -2.0, 0.5, 0.5]); S = 2
    >>> var = np.mean([np.mean(u[list(B)]) ** 2 for B in combinations(range(4), S)])
    >>> bool(np.isclose(var, batch_factor(4, S, "without_replacement") * np.mean(u**2)))
    True
    """
    N = as_positive_int(N, "N", ShapeError)
    batch_size = as_positive_int(batch_size, "batch_size")
    if sampling not in SAMPLINGS:
        raise DynlabError(f"sampling must be one of {SAMPLINGS}; got {sampling!r}")
    if sampling == "with_replacement":
        return 1.0 / batch_size
    if batch_size > N:
        raise HyperparameterError(f"batch_size = {batch_size} exceeds the N = {N} samples")
    return (N - batch_size) / (batch_size * (N - 1))


class MinibatchSGD:
    r"""Heavy-ball SGD on a :class:`FiniteData` set with independent minibatches: exact moments.

    Parameters
    ----------
    data : FiniteData
        The data set (its ``weight_decay`` must equal ``hyper.weight_decay``).
    hyper : HeavyBall
        A plain heavy-ball optimizer (``batch_size`` is S), or a sweep: lr, momentum and
        batch_size may be arrays that broadcast (:class:`~dynlab.hyper.HeavyBall`); every result
        then has the sweep's axes first. A sweep is one model per optimizer; weight_decay is the
        data's (theta* depends on it).
    sampling : {"with_replacement", "without_replacement", "reshuffle"}
        How each step's batch is drawn. Batches of reshuffled epochs are not independent: with
        ``"reshuffle"`` every method raises and names :class:`dynlab.minibatch.Reshuffle`, the
        model of reshuffled epochs (this class is the one-step map it builds on).

    Examples
    --------
    One step from ``theta = 0`` against the average over every batch, with replacement:

    >>> from itertools import product
    >>> rng = np.random.default_rng(1)
    >>> data = FiniteData(rng.standard_normal((4, 2)), rng.standard_normal(4))
    >>> hp = HeavyBall(lr=0.1, momentum=0.5, batch_size=2)
    >>> _, P = MinibatchSGD(data, hp).moments(steps=1)
    >>> def step(B):
    ...     g = data.X[list(B)].T @ (data.X[list(B)] @ np.zeros(2) - data.y[list(B)]) / 2
    ...     return np.concatenate([-hp.lr * g - data.theta_star, -g])
    >>> ref = np.mean([np.outer(step(B), step(B)) for B in product(range(4), repeat=2)], axis=0)
    >>> bool(np.allclose(P[0], ref, rtol=1e-12, atol=1e-14))
    True

    A sweep over learning rates and batch sizes, axes first:

    >>> sweep = MinibatchSGD(data, HeavyBall(lr=[0.05, 0.1], momentum=0.5, batch_size=[[1], [2]]))
    >>> sweep.excess_loss().shape
    (2, 2)
    >>> one = MinibatchSGD(data, HeavyBall(lr=0.05, momentum=0.5, batch_size=2))
    >>> bool(sweep.excess_loss()[1, 0] == one.excess_loss())
    True
    """

    def __init__(self, data: FiniteData, hyper: HeavyBall, sampling: str = "with_replacement"):
        if not isinstance(data, FiniteData):
            raise DynlabError(f"data must be a FiniteData; got {type(data).__name__}")
        if not isinstance(hyper, HeavyBall):
            raise HyperparameterError(f"hyper must be a HeavyBall; got {type(hyper).__name__}")
        hyper.require_plain("MinibatchSGD")
        if np.any(hyper.weight_decay != data.weight_decay):
            raise HyperparameterError(
                f"hyper.weight_decay = {hyper.weight_decay} differs from the data's "
                f"weight_decay = {data.weight_decay} (theta* depends on it)"
            )
        self.data, self.hyper, self.sampling = data, hyper, sampling
        #: a sweep's scalar models (object array of shape hyper.shape), or None for one optimizer
        self._grid = None
        if not hyper.is_scalar:
            if np.prod(hyper.shape) == 0:
                raise HyperparameterError(f"hyper is an empty sweep (shape {hyper.shape})")
            self._grid = np.empty(hyper.shape, dtype=object)
            for idx, hp in np.ndenumerate(optimizers(hyper)):
                self._grid[idx] = MinibatchSGD(data, hp, sampling)
            #: the batch factor c_S of each optimizer of the sweep
            self.c_S = np.vectorize(lambda m: m.c_S, otypes=[float])(self._grid)
            return
        self.c_S = batch_factor(data.N, hyper.batch_size, sampling)
        lr, beta, k = hyper.lr, hyper.momentum, data.k
        one = np.ones_like(k)
        self._F = np.array([[1.0 - lr * k, lr * beta * one], [-k, beta * one]])  # (2, 2, d)
        self._GG = np.array([[lr * lr, lr], [lr, 1.0]])  # G G^T per mode (G = [-lr, -1])

    # ------------------------------------------------------------------ the affine map (modal)
    def _noise(self, Y: np.ndarray, m_delta: np.ndarray | None) -> np.ndarray:
        """``c_S (M(Y) - H Y H + T + T^T + Sigma_a)`` in the eigenbasis (Y raw, modal)."""
        D = self.data
        C = D.fourth_moment_modal(Y) - D.rho[:, None] * Y * D.rho[None, :] + D.Sigma_a_modal
        if m_delta is not None:
            T = D.cross_modal(m_delta)
            C = C + T + T.T
        return self.c_S * C

    def _sandwich(self, P: np.ndarray) -> np.ndarray:
        """``F P F^T`` for modal blocks ``P[..., a, b, :, :]``."""
        return np.einsum("aci,bej,...ceij->...abij", self._F, self._F, P, optimize=True)

    def _linear(self, P: np.ndarray) -> np.ndarray:
        """The linear part of the second-moment map, ``P -> F P F^T + G c_S (M - HPH) G^T``."""
        D = self.data
        Y = P[..., 0, 0, :, :]
        C = self.c_S * (D.fourth_moment_modal(Y) - D.rho[:, None] * Y * D.rho[None, :])
        return self._sandwich(P) + self._GG[:, :, None, None] * C[..., None, None, :, :]

    def _modal_start(self, theta0, v0) -> tuple[np.ndarray, np.ndarray]:
        D = self.data
        theta0 = np.zeros(D.d) if theta0 is None else as_vector(theta0, "theta0", D.d)
        v0 = np.zeros(D.d) if v0 is None else as_vector(v0, "v0", D.d)
        m = np.stack([D.q.T @ (theta0 - D.theta_star), D.q.T @ v0])
        return m, np.einsum("ai,bj->abij", m, m)

    def _to_original(self, m: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = self.data.q
        mean = np.concatenate([q @ m[0], q @ m[1]])
        second = np.block([[q @ P[a, b] @ q.T for b in range(2)] for a in range(2)])
        return mean, 0.5 * (second + second.T)

    @over_grid
    def moments(
        self, *args, steps=None, theta0=None, v0=None, k=None, time=None
    ) -> tuple[np.ndarray, np.ndarray]:
        r"""Exact ``E z_k`` and ``E z_k z_k^T`` of ``z = (theta - theta*, v)`` at the given steps.

        Iterates the affine recursion of the module docstring from the deterministic start
        ``(theta0, v0)`` (default zero), O(N d^2) per step.

        Parameters
        ----------
        steps : int or 1-D array_like of int, keyword
            Numbers k >= 0 of optimizer steps (a positional count is deprecated).
        theta0, v0 : (d,) array_like, optional

        Returns
        -------
        mean : (n, 2d) ndarray
        second : (n, 2d, 2d) ndarray
            The raw second moment (not the covariance), in the original coordinates.
        """
        a = steps_arguments(
            "MinibatchSGD.moments",
            args,
            {"steps": steps, "theta0": theta0, "v0": v0},
            k=k,
            time=time,
        )
        self._independent("moments")
        steps = as_steps(a["steps"])
        m, P = self._modal_start(a["theta0"], a["v0"])
        out_m = np.empty((steps.size, 2 * self.data.d))
        out_P = np.empty((steps.size, 2 * self.data.d, 2 * self.data.d))
        order = np.argsort(steps, kind="stable")
        k = 0
        for idx in order:
            while k < steps[idx]:
                C = self._noise(P[0, 0], m[0])
                m = np.einsum("abi,bi->ai", self._F, m)
                P = self._sandwich(P) + self._GG[:, :, None, None] * C
                k += 1
            out_m[idx], out_P[idx] = self._to_original(m, P)
        return out_m, out_P

    # ------------------------------------------------------------------ stationarity
    def _independent(self, where: str) -> None:
        if self.sampling == "reshuffle":
            raise DynlabError(
                f"{where} assumes independent batches; with sampling='reshuffle' the process is "
                "periodic over epochs: use dynlab.minibatch.Reshuffle (epoch-start and "
                "within-epoch moments, exact or additive)"
            )

    @cached_property
    def _stein(self) -> tuple[np.ndarray, ...]:
        """Modal Stein weights ``W_ab`` with ``P_ab = W_ab * C`` for ``P = F P F^T + G C G^T``."""
        D, hp = self.data, self.hyper
        try:
            return modes.stationary_mode_covariances(
                D.rho[:, None],
                D.rho[None, :],
                np.ones((D.d, D.d)),
                lr=hp.lr,
                momentum=hp.momentum,
                weight_decay=hp.weight_decay,
                exact=True,
            )
        except StabilityRegionError as exc:
            raise StabilityRegionError(
                f"{exc}; the mean diverges, so no stationary second moment exists"
            ) from exc

    @cached_property
    def _stationary_modal(self) -> np.ndarray:
        self._independent("the stationary second moment")
        D = self.data
        W_tt = self._stein[0]
        d = D.d
        rr = D.rho[:, None] * D.rho[None, :]

        def apply(y):
            Y = y.reshape(d, d)
            Y = 0.5 * (Y + Y.T)
            C = self.c_S * (D.fourth_moment_modal(Y) - rr * Y)
            return (Y - W_tt * C).ravel()

        b = (W_tt * (self.c_S * D.Sigma_a_modal)).ravel()
        op = LinearOperator((d * d, d * d), matvec=apply, dtype=np.float64)
        y, info = b, 1
        for maxiter in (
            2,
            config.MINIBATCH_GMRES_MAXITER,
        ):  # stop on the backward error ||r|| / (||b|| + ||y||), not ||r|| / ||b||:
            # near the edge ||y|| >> ||b|| and ||r|| / ||b|| stalls at eps ||y|| / ||b||
            atol = config.MINIBATCH_GMRES_RTOL * (np.linalg.norm(b) + np.linalg.norm(y))
            y, info = gmres(
                op,
                b,
                x0=y,
                rtol=0.0,
                atol=atol,
                restart=config.MINIBATCH_GMRES_RESTART,
                maxiter=maxiter,
            )
            if info == 0 and atol >= config.MINIBATCH_GMRES_RTOL * np.linalg.norm(y):
                break
        if info != 0:
            raise StabilityRegionError(
                f"GMRES for the stationary second moment did not converge ({info} iterations): "
                "lr is at or beyond the mean-square stability edge (see spectral_radius)"
            )
        Y = y.reshape(d, d)
        Y = 0.5 * (Y + Y.T)
        C = self.c_S * (D.fourth_moment_modal(Y) - rr * Y + D.Sigma_a_modal)
        P = np.array([[w * C for w in self._stein[:2]], [w * C for w in self._stein[2:]]])
        P[0, 0] = Y
        w = np.linalg.eigvalsh(Y)  # L is a positive map: a PSD fixed point iff rho(L) < 1
        if w[0] < -config.PSD_RTOL * max(abs(w[-1]), np.finfo(np.float64).tiny):
            raise StabilityRegionError(
                "the fixed point of the second-moment map is not positive semi-definite: lr is "
                "beyond the mean-square stability edge (spectral radius "
                f"{self.spectral_radius():.6g})"
            )
        return P

    @over_grid
    def stationary(self) -> np.ndarray:
        r"""Stationary ``E z z^T`` (2d x 2d; the stationary mean is 0), solved matrix-free.

        The position block ``Y = P_deltadelta`` solves ``Y = W o c_S (M(Y) - H Y H + Sigma_a)`` in
        the eigenbasis, ``W`` the closed-form Stein weights of the deterministic part
        (:func:`dynlab.modes.stationary_mode_covariances`), by GMRES (O(N d^2) per product); the
        other blocks follow from the same noise matrix. ``Y -> W o c_S (M(Y) - H Y H)`` maps PSD
        matrices to PSD matrices, so with a definite ``W o Sigma_a`` a PSD fixed point exists iff
        its Perron root is < 1: a fixed point that is not PSD raises. (With a singular Sigma_a,
        e.g. interpolating data, only :meth:`spectral_radius` decides.)

        Raises
        ------
        StabilityRegionError
            Beyond the deterministic or the mean-square stability edge.

        Examples
        --------
        The fixed point of the one-step map of :meth:`moments` (a residual):

        >>> rng = np.random.default_rng(2)
        >>> data = FiniteData(rng.standard_normal((9, 3)), rng.standard_normal(9), 0.1)
        >>> sgd = MinibatchSGD(data, HeavyBall(0.05, 0.9, 0.1, batch_size=2), "without_replacement")
        >>> P = sgd.stationary()
        >>> q = np.kron(np.eye(2), data.q)
        >>> Pm = (q.T @ P @ q).reshape(2, 3, 2, 3).transpose(0, 2, 1, 3)
        >>> nxt = sgd._linear(Pm) + sgd._GG[:, :, None, None] * sgd.c_S * data.Sigma_a_modal
        >>> bool(np.allclose(nxt, Pm, rtol=1e-10, atol=1e-10 * np.abs(P).max()))
        True
        """
        P = self._stationary_modal
        return self._to_original(np.zeros((2, self.data.d)), P)[1]

    @over_grid
    def mode_variance(self) -> np.ndarray:
        """Stationary ``E (q_i^T (theta - theta*))^2`` per eigenvector, eigenvalues descending."""
        return np.diag(self._stationary_modal[0, 0]).copy()

    @over_grid
    def excess_loss(self) -> float:
        r"""``E L_lambda(theta) - L_lambda(theta*) = tr(H_lambda P_deltadelta) / 2`` (exactly)."""
        return float(0.5 * np.sum(self.data.k * self.mode_variance()))

    @over_grid
    def speed(self) -> float:
        r"""Stationary ``E||theta_{k+1} - theta_k||^2 = lr^2 tr P_vv``."""
        return float(self.hyper.lr**2 * np.trace(self._stationary_modal[1, 1]))

    @over_grid
    def displacement(self, *args, steps=None, k=None, time=None) -> np.ndarray:
        r"""``E||theta_{k+t} - theta_k||^2`` from stationarity, for lags ``t`` in ``steps``.

        ``steps`` (keyword): the lags t >= 0, integer numbers of optimizer steps.

        Future batches are independent of the present state, so ``E z_{k+t} z_k^T = F^t P`` and
        the displacement is ``2 tr P_deltadelta - 2 sum_i (f11_i(t) P_tt,ii + f12_i(t) P_vt,ii)``
        with ``F_i^t`` per mode (:func:`dynlab.modes.discrete_propagator`).
        """
        a = steps_arguments("MinibatchSGD.displacement", args, {"steps": steps}, k=k, time=time)
        t = as_steps(a["steps"])
        D, hp, P = self.data, self.hyper, self._stationary_modal
        f11, f12, _, _ = modes.discrete_propagator(
            t[:, None], D.rho, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay
        )
        Ptt, Pvt = np.diag(P[0, 0]), np.diag(P[1, 0])
        return 2.0 * np.sum(Ptt) - 2.0 * (f11 @ Ptt + f12 @ Pvt)

    @over_grid
    def diffusion_exponent(self, *args, steps=None, k=None, time=None) -> np.ndarray:
        r"""Local exponent ``d log E||theta_{k+t} - theta_k||^2 / d log t`` on the step grid.

        ``steps`` (keyword): the lags t >= 1, integer numbers of optimizer steps.

        The centred secant ``log(D_{t+1} / D_{t-1}) / log((t+1)/(t-1))`` (forward at t = 1), as
        :meth:`dynlab.sgd.SGDPhaseSpace.diffusion_exponent` with ``exact=True``.
        """
        a = steps_arguments(
            "MinibatchSGD.diffusion_exponent", args, {"steps": steps}, k=k, time=time
        )
        t = as_steps(a["steps"])
        if np.any(t < 1):
            raise ShapeError("steps must be >= 1 for a diffusion exponent")
        lo = np.where(t > 1, t - 1, t)
        D_hi, D_lo = self.displacement(steps=t + 1), self.displacement(steps=lo)
        return np.log(D_hi / D_lo) / np.log((t + 1) / lo)

    # ------------------------------------------------------------------ mean-square stability
    @over_grid
    def spectral_radius(self) -> float:
        r"""Spectral radius of ``P -> F P F^T + c_S G (M(P_dd) - H P_dd H) G^T`` on symmetric P.

        Mean-square stable iff < 1. Dense (LAPACK) for small d, else ARPACK matrix-free; the map
        is positive (it maps PSD matrices to PSD matrices), so its spectral radius is its
        Perron root.
        """
        self._independent("spectral_radius")
        d = self.data.d

        def apply(P):
            P = 0.5 * (P + np.swapaxes(np.swapaxes(P, -4, -3), -2, -1))
            return self._linear(P)

        return perron_root(apply, (2, 2, d, d))

    @property
    @over_grid
    def is_mean_square_stable(self) -> bool | np.ndarray:
        """Whether :meth:`spectral_radius` < 1 (a bool array on a sweep)."""
        return self.spectral_radius() < 1.0


def perron_root(apply, shape: tuple) -> float:
    """Spectral radius of the linear map ``apply`` on arrays of ``shape`` (it maps stacks too).

    Dense (the matrix from one stacked call, then LAPACK) up to ``config.MINIBATCH_DENSE_MAX``
    unknowns, else ARPACK matrix-free.
    """
    n = int(np.prod(shape))
    if n <= config.MINIBATCH_DENSE_MAX:
        A = apply(np.eye(n).reshape((n,) + shape)).reshape(n, n).T  # column j: image of e_j
        return float(np.max(np.abs(np.linalg.eigvals(A))))
    op = LinearOperator((n, n), matvec=lambda p: apply(p.reshape(shape)).ravel(), dtype=np.float64)
    w = eigs(op, k=1, which="LM", tol=config.MINIBATCH_ARPACK_RTOL, return_eigenvectors=False)
    return float(np.max(np.abs(w)))


def as_steps(steps) -> np.ndarray:
    """``steps`` as a 1-D int64 array of non-negative step indices (``2.7`` is an error)."""
    a = np.atleast_1d(as_int_array(steps, "steps", low=0, error=ShapeError))
    if a.ndim != 1:
        raise ShapeError(f"steps must be a non-negative int or a 1-D array of them; got {steps!r}")
    return a


def as_vector(x, name: str, d: int) -> np.ndarray:
    """``x`` as a finite (d,) float64 vector."""
    return as_array(x, name, shape=(d,))
