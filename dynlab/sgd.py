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
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import config, modes
from ._validate import as_array, as_positive_int, as_psd, as_scalar, as_symmetric
from .errors import (
    NotControllableError,
    NotPositiveDefiniteError,
    ShapeError,
    StabilityRegionError,
    UnstableDriftError,
)
from .models import LinearRegressionProblem, _noise_matrix
from .ou import OUProcess

__all__ = ["SGDPhaseSpace", "DiscreteSGD", "Equipartition"]


@dataclass(frozen=True)
class Equipartition:
    r"""The equipartition identity of seed 003 appendix G.3, with its constant re-derived.

    At stationarity ``E[L_lambda(theta)] - L_lambda(mu) = E[K(v)]`` where
    ``L_lambda = L + lambda/2 ||theta||^2`` and ``K(v) = m/2 ||v||^2`` with the per-parameter mass
    ``m = lr (1 + beta) / 2`` (the mass of the Langevin equation, seed 003 eq. 3). Both sides equal
    ``lr tr(Sigma) / (4 S (1 - beta))`` in the SDE; in the exact recursion the identity still holds
    exactly, mode by mode, and each mode's share is ``lr Sigma_ii / (4 S (1 - beta))`` divided by
    ``1 - lr (rho_i + lambda) / (2 (1 + beta))``.
    """

    mass: float
    potential: float
    kinetic: float


class SGDPhaseSpace:
    r"""Heavy-ball SGD on ``L(theta) = 1/2 theta^T H theta - b^T theta`` as a linear-Gaussian system.

    The optimizer (seed 003 eq. 2; PyTorch's buffer is ``-v``)::

        v_{k+1} = momentum v_k - (g_B(theta_k) + weight_decay theta_k),   g_B = H theta - b + xi_k
        theta_{k+1} = theta_k + lr v_{k+1},                                xi_k ~ N(0, Sigma / batch_size)

    Parameters
    ----------
    H : (d, d) array_like
        Hessian, symmetric positive semi-definite; ``H + weight_decay I`` must be definite.
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
    noise_cov : float or (d, d) array_like
        Per-sample gradient-noise covariance Sigma (PSD), or a scalar sigma2 meaning
        ``Sigma = sigma2 H`` (seed 003 Assumption 5).

    Raises
    ------
    UnstableDriftError
        If ``H + weight_decay I`` is singular (the drift has a zero eigenvalue).
    StabilityRegionError
        If lr is beyond the stability limit of the discrete recursion.
    """

    def __init__(self, H, b=None, *, lr, momentum=0.0, weight_decay=0.0, batch_size=1, noise_cov):
        self.H = as_symmetric(H, "H")
        d = self.H.shape[0]
        self.b = np.zeros(d) if b is None else as_array(b, "b", shape=(d,))
        self.lr, self.momentum, self.weight_decay = modes._hyper(lr, momentum, weight_decay)
        self.batch_size = as_positive_int(batch_size, "batch_size")
        if noise_cov is None:
            raise ShapeError(
                "noise_cov is required: a (d, d) matrix Sigma or a scalar sigma2 (Sigma = sigma2 H)"
            )
        self._sigma2 = float(noise_cov) if np.ndim(noise_cov) == 0 else None
        self.noise_cov = _noise_matrix(noise_cov, self.H)
        w, v = np.linalg.eigh(self.H)
        self.rho, self.q = w[::-1].copy(), v[:, ::-1].copy()
        if self.rho[-1] < -config.PSD_RTOL * max(abs(self.rho[0]), abs(self.rho[-1])):
            raise NotPositiveDefiniteError(
                f"H must be positive semi-definite; it has eigenvalue {self.rho[-1]:.3g}"
            )
        k = self.rho + self.weight_decay
        if k[-1] <= config.PSD_RTOL * max(k[0], np.finfo(np.float64).tiny):
            raise UnstableDriftError(
                f"H + weight_decay I is singular (smallest eigenvalue {k[-1]:.3g}): the drift A has a "
                "zero eigenvalue and SGD has no stationary law; add weight_decay or restrict to range(H)"
            )
        limit = 2.0 * (1.0 + self.momentum)
        if self.lr * k[0] >= limit:
            raise StabilityRegionError(
                f"lr = {self.lr:.6g} is beyond the stability limit of heavy-ball SGD: need "
                f"lr (rho_max + weight_decay) < 2 (1 + momentum), i.e. lr < {limit / k[0]:.6g}"
            )
        self.mu = self.q @ ((self.q.T @ self.b) / k)

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_data(
        cls,
        X,
        Y,
        *,
        lr,
        momentum=0.0,
        weight_decay=0.0,
        batch_size=1,
        noise_cov=None,
        replacement=True,
    ):
        r"""Linear regression ``||Y - X theta||^2 / 2N``: ``H = X^T X / N``, ``b = X^T Y / N`` (seed 003 sec. 5).

        Parameters
        ----------
        noise_cov : None, float or (d, d) array_like
            None estimates Sigma from the per-sample gradients at the stationary mean mu
            (:meth:`~dynlab.models.LinearRegressionProblem.gradient_noise_cov`).
        replacement : bool
            Minibatches drawn with replacement have gradient covariance Sigma / S. Drawn without
            replacement, each batch's covariance is Sigma / S * (N - S) / (N - 1): with
            ``replacement=False`` the estimated Sigma is scaled by that factor (this matches the
            per-step marginal; successive batches of one epoch are then not independent).
        """
        problem = LinearRegressionProblem(X, Y)
        if noise_cov is None:
            wd = as_scalar(weight_decay, "weight_decay", low=0.0)
            noise_cov = problem.gradient_noise_cov(problem.minimizer(wd))
            if not replacement:
                S = as_positive_int(batch_size, "batch_size")
                noise_cov = noise_cov * (problem.N - S) / max(problem.N - 1, 1)
        return cls(
            problem.H,
            problem.b,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            batch_size=batch_size,
            noise_cov=noise_cov,
        )

    @property
    def d(self) -> int:
        """Number of parameters."""
        return self.H.shape[0]

    @property
    def kappa(self) -> float:
        """Inverse temperature ``S (1 - beta^2)`` (seed 003 eq. 4)."""
        return (
            self.batch_size * (1.0 - self.momentum) * (1.0 + self.momentum)
        )  # no cancellation as beta -> 1

    @cached_property
    def _sigma_modal(self) -> np.ndarray:
        """``q^T Sigma q`` (exact diag(sigma2 rho) when Sigma = sigma2 H was given as a scalar)."""
        if self._sigma2 is not None:
            return np.diag(self._sigma2 * self.rho)
        S = self.q.T @ self.noise_cov @ self.q
        return 0.5 * (S + S.T)

    @cached_property
    def _sigma_diag(self) -> np.ndarray:
        """``q_i^T Sigma q_i``: all that traces (speed, displacement) depend on."""
        if self._sigma2 is not None:
            return self._sigma2 * self.rho
        return np.einsum("ij,ik,kj->j", self.q, self.noise_cov, self.q)

    @property
    def commutes(self) -> bool:
        """Whether Sigma commutes with H (seed 003 Assumption 3), to rounding."""
        C = self.H @ self.noise_cov - self.noise_cov @ self.H
        scale = np.linalg.norm(self.H, 2) * np.linalg.norm(self.noise_cov, 2)
        return bool(np.max(np.abs(C)) <= config.COMMUTE_RTOL * scale)

    @cached_property
    def modes(self) -> modes.Modes:
        """Per-eigenvalue gamma, omega_i, zeta_i, regime and frequencies (:class:`dynlab.modes.Modes`)."""
        return modes.Modes.build(
            self.rho, self.q, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )

    def _hyper(self) -> dict:
        return dict(lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)

    def _blocks(self, M_tt, M_tv, M_vt, M_vv) -> np.ndarray:
        return np.block([[M_tt, M_tv], [M_vt, M_vv]])

    # ------------------------------------------------------------------ the SDE (seed 003 eq. 4)
    @cached_property
    def ou(self) -> OUProcess:
        """The OU process of seed 003 eq. 4 in ``[theta, v]``, time ``t = lr * k``."""
        d, p = self.d, 1.0 + self.momentum
        c1, c2 = 2.0 / (self.lr * p), 2.0 * (1.0 - self.momentum) / (self.lr * p)
        K = self.H + self.weight_decay * np.eye(d)
        A = self._blocks(np.zeros((d, d)), -np.eye(d), c1 * K, c2 * np.eye(d))
        D = self._blocks(np.zeros((d, d)), np.zeros((d, d)), np.zeros((d, d)), c2 * self.noise_cov)
        return OUProcess(A, D, kappa=self.kappa, mu=np.concatenate([self.mu, np.zeros(d)]))

    def lyapunov(self) -> np.ndarray:
        r"""B with ``A B + B A^T = 2 D`` for the SDE, solved in the eigenbasis of H (any Sigma).

        Entrywise in the eigenbasis (``K_i = c1 (rho_i + lambda)``; see
        :func:`dynlab.modes.stationary_mode_covariances`):
        ``X_ij = 4 c2^2 Sigma_ij / ((K_i - K_j)^2 + 2 c2^2 (K_i + K_j))``, then
        ``B_thth = q X q^T``, ``B_vv = (M + M^T) / 2``, ``B_thv = (M - M^T) / (2 c2)`` with
        ``M = c1 (H + lambda I) B_thth``. One eigh and five GEMMs: O(d^3) with a small constant,
        against the generic O((2d)^3) Schur solve.
        """
        d, p = self.d, 1.0 + self.momentum
        c1, c2 = 2.0 / (self.lr * p), 2.0 * (1.0 - self.momentum) / (self.lr * p)
        Kc = c1 * (self.rho + self.weight_decay)
        B = np.empty((2 * d, 2 * d))
        if self._sigma2 is not None:
            # Sigma = sigma2 H: X is diagonal, B = [[Sigma K^-1, 0], [0, Sigma]] (one GEMM)
            B[:d, :d] = (self.q * (self._sigma2 * self.rho / Kc)) @ self.q.T
            B[:d, d:] = 0.0
            B[d:, :d] = 0.0
            B[d:, d:] = self.noise_cov
        else:
            X = (
                4.0
                * c2
                * c2
                * self._sigma_modal
                / (np.subtract.outer(Kc, Kc) ** 2 + 2.0 * c2 * c2 * np.add.outer(Kc, Kc))
            )
            B_tt = self.q @ X @ self.q.T
            B[:d, :d] = B_tt
            M = c1 * (self.H @ B_tt + self.weight_decay * B_tt)
            B[:d, d:] = (M - M.T) / (2.0 * c2)
            B[d:, :d] = -B[:d, d:]
            B[d:, d:] = 0.5 * (M + M.T)
        return 0.5 * (B + B.T)

    def decompose(self) -> tuple[np.ndarray, np.ndarray]:
        r"""``(Q, U)`` with ``A = (D + Q) U`` for the SDE (seed 003 eqs. 9 / 43).

        When Sigma commutes with H, the closed forms ``Q = [[0, -Sigma], [Sigma, 0]]`` and
        ``U = [[2/(lr (1+beta)) Sigma^{-1} (H + lambda I), 0], [0, Sigma^{-1}]]`` (evaluated in the
        eigenbasis); otherwise the general route ``U = B^{-1}``, ``Q = A B - D`` with the B of
        :meth:`lyapunov`.

        Raises
        ------
        NotControllableError
            If Sigma (hence B) is singular: the modified loss then lives on range(Sigma) only.
        """
        d, p = self.d, 1.0 + self.momentum
        if self.commutes:
            if self._sigma2 is not None:  # Sigma = sigma2 H: diagonal in the eigenbasis of H
                w, V = self._sigma_diag, self.q
            else:  # any commuting Sigma (H may have repeated eigenvalues): its own eigenbasis
                w, V = np.linalg.eigh(self.noise_cov)
            if np.min(w) <= config.SINGULAR_RTOL * np.max(w):
                raise NotControllableError(
                    f"Sigma is singular (smallest eigenvalue {np.min(w):.3g}): U = B^-1 does not exist; "
                    "restrict the model to range(Sigma)"
                )
            inv_s = (V / w) @ V.T
            U_tt = (2.0 / (self.lr * p)) * inv_s @ (self.H + self.weight_decay * np.eye(d))
            Q = self._blocks(np.zeros((d, d)), -self.noise_cov, self.noise_cov, np.zeros((d, d)))
            U = self._blocks(
                0.5 * (U_tt + U_tt.T), np.zeros((d, d)), np.zeros((d, d)), 0.5 * (inv_s + inv_s.T)
            )
            return Q, U
        B = self.lyapunov()
        cond = np.linalg.cond(B)
        if not np.isfinite(cond) or cond > 1.0 / config.SINGULAR_RTOL:
            raise NotControllableError(
                f"the Lyapunov solution B is singular (condition number {cond:.3g}): Sigma does not "
                "reach every direction; U = B^-1 does not exist"
            )
        U = np.linalg.inv(B)
        AB = self.ou.A @ B
        return 0.5 * (AB - AB.T), 0.5 * (U + U.T)

    def modified_loss(self, theta, v) -> np.ndarray:
        r"""Modified loss ``Psi(theta, v) = 1/2 ([theta; v] - [mu; 0])^T U (...)`` (seed 003 eqs. 8, 10, 45, 46).

        The stationary law is ``p_ss ~ exp(-kappa Psi)``. With Sigma = sigma2 H the position part is
        ``(theta - mu)^T H^{-1} (H + lambda I) (theta - mu) / (lr (1 + beta) sigma2)``: isotropic on
        range(H) when lambda = 0 (eq. 10), and the velocity part ``v^T H^{-1} v / (2 sigma2)`` (eq. 46).
        ``theta`` and ``v`` have shape ``(..., d)``.
        """
        theta = as_array(theta, "theta")
        v = as_array(v, "v")
        z = np.concatenate(np.broadcast_arrays(theta - self.mu, v), axis=-1)
        if z.shape[-1] != 2 * self.d:
            raise ShapeError(f"theta and v must have shape (..., {self.d})")
        U = self.decompose()[1]
        return 0.5 * np.einsum("...i,ij,...j->...", z, U, z)

    def modified_loss_terms(self, theta, v) -> tuple[np.ndarray, np.ndarray]:
        r"""``(Psi_theta, Psi_v)``, the position and velocity parts of the modified loss (eqs. 45, 46).

        They separate only when Sigma commutes with H (then U is block diagonal):
        ``Psi_theta = (theta - mu)^T Sigma^{-1} (H + lambda I) (theta - mu) / (lr (1 + beta))`` and
        ``Psi_v = v^T Sigma^{-1} v / 2``.

        Raises
        ------
        NotControllableError
            If Sigma does not commute with H (U couples theta and v) or is singular.
        """
        if not self.commutes:
            raise NotControllableError(
                "Sigma does not commute with H: U couples position and velocity, so the modified loss "
                "does not split into Psi_theta + Psi_v; use modified_loss"
            )
        theta = as_array(theta, "theta")
        v = as_array(v, "v")
        d = self.d
        U = self.decompose()[1]
        dth = theta - self.mu
        return (
            0.5 * np.einsum("...i,ij,...j->...", dth, U[:d, :d], dth),
            0.5 * np.einsum("...i,ij,...j->...", v, U[d:, d:], v),
        )

    # ------------------------------------------------------------------ the exact recursion
    @cached_property
    def discrete(self) -> "DiscreteSGD":
        """The exact heavy-ball recursion (no O(lr) modelling error)."""
        return DiscreteSGD(self)

    def stationary_cov(self, exact: bool = False) -> np.ndarray:
        """Stationary covariance of ``[theta, v]``: ``B / kappa`` (SDE) or the Stein solution P (exact)."""
        return self.discrete.stationary_cov() if exact else self.lyapunov() / self.kappa

    # ------------------------------------------------------------------ observables
    def speed(self, exact: bool = False) -> float:
        r"""Instantaneous speed ``E||theta_{k+1} - theta_k||^2`` at stationarity.

        SDE (seed 003 eq. 12): ``lr^2 tr(Var v) = lr^2 tr(Sigma) / (S (1 - beta^2))``.
        Exact: ``lr^2 tr(P_vv)``, P the stationary covariance of the recursion.
        """
        if exact:
            _, var_v, _ = modes.stationary_mode_variances(
                self.rho, self._sigma_diag, batch_size=self.batch_size, exact=True, **self._hyper()
            )
            return float(self.lr**2 * np.sum(var_v))
        return float(self.lr**2 * np.sum(self._sigma_diag) / self.kappa)

    def _mode_var_theta(self, exact: bool) -> np.ndarray:
        return modes.stationary_mode_variances(
            self.rho, self._sigma_diag, batch_size=self.batch_size, exact=exact, **self._hyper()
        )[0]

    def displacement(self, k, exact: bool = False) -> np.ndarray:
        r"""Global displacement ``E||theta_k - theta_0||^2`` from stationarity after k steps.

        SDE: ``(2 / kappa) tr(B_thth - (B e^{-A^T t})_thth)`` at ``t = lr k`` (THEORY.md; the
        paper's eq. 13 is the same quantity written through velocity correlations), evaluated
        per mode as ``2 sum_i Var(theta_i) (1 - phi_11,i(t))`` (:func:`dynlab.modes.relaxation`).
        Exact: ``2 tr P_thth - 2 tr(F^k P)_thth`` = ``2 sum_i Var(theta_i) u_i(k)``
        (:func:`dynlab.modes.discrete_relaxation`). Both saturate at ``2 tr Var(theta)``.
        """
        k = as_array(k, "k")
        if np.any(k < 0):
            raise ShapeError("k must be >= 0 (number of steps)")
        var = self._mode_var_theta(exact)
        if exact:
            return 2.0 * modes.discrete_relaxation(k, self.rho, **self._hyper()) @ var
        m = self.modes
        return 2.0 * modes.relaxation(self.lr * k[..., None], m.gamma, m.omega) @ var

    def displacement_eq13(self, k) -> np.ndarray:
        r"""The paper's velocity-correlation form of ``E||theta_k - theta_0||^2`` (seed 003 eq. 13, app. G.2).

        ``lr^2 / kappa sum_l Sigma_ll [k + 2 sum_{tau=1}^{k-1} (k - tau) C_l(lr tau)]`` with the SDE's
        stationary velocity autocorrelation ``C_l(t) = e^{-gamma t} (C(t) - gamma S(t))`` (the paper's
        cosh/cos forms) sampled at whole steps. It mixes the discrete sum over steps with the
        continuous-time correlation, so it is not the exact trace form :meth:`displacement`: by
        Euler-Maclaurin (the kink of ``C_l(|s - s'|)`` at zero lag),
        ``eq13 - trace = lr^2 / kappa sum_l Sigma_ll (1 + 2 gamma t - C_l(t)) / 6`` to relative
        order (lr omega)^2, (lr gamma)^2. The gap grows linearly in t: the eq. 13 form does not
        saturate, whereas the process's displacement does.
        Cost O(max(k) d).
        """
        k = as_array(k, "k")
        if np.any(k < 0) or np.any(k != np.round(k)):
            raise ShapeError("k must hold non-negative integers (steps)")
        w = self._sigma_diag
        kmax = int(k.max(initial=0))
        m = self.modes
        c = np.zeros(max(kmax, 1))  # c[tau] = sum_l w_l C_l(lr tau), tau = 0..kmax-1
        chunk = max(1, 2_000_000 // max(self.d, 1))
        for start in range(1, kmax, chunk):
            tau = np.arange(start, min(start + chunk, kmax))
            c[tau] = modes.mode_propagator(self.lr * tau[:, None], m.gamma, m.omega)[3] @ w
        tau = np.arange(c.size)
        S1, S2 = np.cumsum(c), np.cumsum(tau * c)  # sums over tau = 1..j (c[0] = 0)
        ki = k.astype(np.int64)
        j = np.maximum(ki - 1, 0)
        return self.lr**2 / self.kappa * (ki * np.sum(w) + 2.0 * (ki * S1[j] - S2[j]))

    def diffusion_exponent(self, k, exact: bool = False) -> np.ndarray:
        r"""Local exponent ``c(k) = d log E||Delta_k||^2 / d log k`` (seed 003 sec. 8, Fig. 6-7).

        SDE: the analytic derivative, ``t sum_i Var_i omega_i^2 phi_12,i(t) / sum_i Var_i (1 - phi_11,i(t))``
        at ``t = lr k`` (``d(1 - phi_11)/dt = omega^2 phi_12``). Exact: on the integer step grid, the
        centred secant ``log(D_{k+1} / D_{k-1}) / log((k+1)/(k-1))`` (forward secant at k = 1).
        c = 1 is Brownian diffusion; c -> 2 ballistic (k small), c -> 0 saturated (k large).
        """
        k = as_array(k, "k")
        if np.any(k <= 0):
            raise ShapeError("k must be > 0")
        var = self._mode_var_theta(exact)
        if exact:
            if np.any(k < 1) or np.any(k != np.round(k)):
                raise ShapeError("exact=True needs integer k >= 1 (steps)")
            lo = np.where(k > 1, k - 1, k)
            D_hi, D_lo = self.displacement(k + 1, exact=True), self.displacement(lo, exact=True)
            return np.log(D_hi / D_lo) / np.log((k + 1) / lo)
        m = self.modes
        t = self.lr * k[..., None]
        phi12 = modes.mode_propagator(t, m.gamma, m.omega)[1]
        num = (phi12 * m.omega**2) @ var
        return t[..., 0] * num / (modes.relaxation(t, m.gamma, m.omega) @ var)

    def mean(self, k, theta0, v0=None, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        r"""Mean trajectory ``(E theta_k, E v_k)`` from ``(theta0, v0)`` (seed 003 eq. 5).

        SDE: ``E[theta] = mu + sum_i a_i(t) q_i``, ``E[v] = sum_i b_i(t) q_i`` with the damped
        oscillators of :func:`dynlab.modes.oscillator_mean` at ``t = lr k``. Exact: the recursion's
        ``F^k`` per mode (:func:`dynlab.modes.discrete_propagator`). Shapes ``k.shape + (d,)``.
        """
        k = as_array(k, "k")
        theta0 = as_array(theta0, "theta0", shape=(self.d,))
        v0 = np.zeros(self.d) if v0 is None else as_array(v0, "v0", shape=(self.d,))
        a0, b0 = self.q.T @ (theta0 - self.mu), self.q.T @ v0
        kk = k[..., None]
        if exact:
            f11, f12, f21, f22 = modes.discrete_propagator(kk, self.rho, **self._hyper())
        else:
            f11, f12, f21, f22 = modes.mode_propagator(
                self.lr * kk, self.modes.gamma, self.modes.omega
            )
        a, b = f11 * a0 + f12 * b0, f21 * a0 + f22 * b0
        return self.mu + a @ self.q.T, b @ self.q.T

    def equipartition(self, exact: bool = False) -> Equipartition:
        r"""Both sides of the equipartition identity (seed 003 app. G.3; see :class:`Equipartition`).

        ``potential = 1/2 tr((H + lambda I) Var theta)``, ``kinetic = m/2 tr(Var v)`` with
        ``m = lr (1 + beta) / 2``; they agree exactly in both models.
        """
        var_t, var_v, _ = modes.stationary_mode_variances(
            self.rho, self._sigma_diag, batch_size=self.batch_size, exact=exact, **self._hyper()
        )
        mass = self.lr * (1.0 + self.momentum) / 2.0
        return Equipartition(
            mass=mass,
            potential=float(0.5 * np.sum((self.rho + self.weight_decay) * var_t)),
            kinetic=float(0.5 * mass * np.sum(var_v)),
        )


class DiscreteSGD:
    r"""The exact heavy-ball recursion ``z_{k+1} = F z_k + G xi_k + c`` (THEORY.md, beyond the paper).

    With ``K = H + lambda I``: ``F = [[I - lr K, lr beta I], [-K, beta I]]``, ``G = [[-lr I], [-I]]``,
    ``c = [lr b; b]``, ``xi_k ~ N(0, Sigma / S)``. Stable iff
    ``0 < lr (rho_i + lambda) < 2 (1 + beta)`` for every eigenvalue (checked by the model).
    """

    def __init__(self, model: SGDPhaseSpace):
        self.model = model

    @cached_property
    def F(self) -> np.ndarray:
        """One-step matrix F (2d x 2d)."""
        m = self.model
        I = np.eye(m.d)
        K = m.H + m.weight_decay * I
        return m._blocks(I - m.lr * K, m.lr * m.momentum * I, -K, m.momentum * I)

    @cached_property
    def G(self) -> np.ndarray:
        """Noise input matrix G (2d x d)."""
        I = np.eye(self.model.d)
        return np.vstack([-self.model.lr * I, -I])

    @property
    def noise_cov(self) -> np.ndarray:
        """Minibatch gradient-noise covariance ``Sigma / S``."""
        return self.model.noise_cov / self.model.batch_size

    @property
    def c(self) -> np.ndarray:
        """Constant input ``[lr b; b]``."""
        return np.concatenate([self.model.lr * self.model.b, self.model.b])

    @property
    def spectral_radius(self) -> float:
        """Spectral radius of F (< 1 inside the stability region)."""
        return float(np.max(self.model.modes.spectral_radius))

    def stationary_mean(self) -> np.ndarray:
        """Fixed point ``[mu; 0]``."""
        return np.concatenate([self.model.mu, np.zeros(self.model.d)])

    def _modal_P(self):
        m = self.model
        return modes.stationary_mode_covariances(
            m.rho[:, None],
            m.rho[None, :],
            m._sigma_modal,
            batch_size=m.batch_size,
            exact=True,
            **m._hyper(),
        )

    def stationary_cov(self) -> np.ndarray:
        r"""P solving the Stein equation ``P = F P F^T + G (Sigma / S) G^T``, pairwise in the eigenbasis.

        See :func:`dynlab.modes.stationary_mode_covariances` (``exact=True``) for the closed forms.
        """
        q = self.model.q
        P_tt, P_tv, P_vt, P_vv = (q @ M @ q.T for M in self._modal_P())
        P = self.model._blocks(P_tt, P_tv, P_vt, P_vv)
        return 0.5 * (P + P.T)

    def _rotate(self, blocks) -> np.ndarray:
        q = self.model.q
        return self.model._blocks(*(q @ M @ q.T for M in blocks))

    def _power_modal(self, k: int):
        return modes.discrete_propagator(np.array(k), self.model.rho, **self.model._hyper())

    def mean(self, k, z0) -> np.ndarray:
        """``E z_k = z* + F^k (z0 - z*)`` for ``z0`` of shape (2d,); shape ``k.shape + (2d,)``."""
        z0 = as_array(z0, "z0", shape=(2 * self.model.d,))
        d = self.model.d
        th, v = self.model.mean(k, z0[:d], z0[d:], exact=True)
        return np.concatenate([th, v], axis=-1)

    def cov(self, k, P0=None) -> np.ndarray:
        r"""``Var z_k = P + F^k (P0 - P) F^{kT}`` for ``Var z_0 = P0`` (zero: fixed start); one integer k."""
        k = int(k)
        if k < 0:
            raise ShapeError("k must be >= 0")
        m, q = self.model, self.model.q
        d = m.d
        P = self.stationary_cov()
        if P0 is None:
            P0 = np.zeros((2 * d, 2 * d))
        P0 = as_psd(P0, "P0", 2 * d)
        f11, f12, f21, f22 = self._power_modal(k)
        O = np.block([[q, np.zeros((d, d))], [np.zeros((d, d)), q]])
        Fk = O @ np.block([[np.diag(f11), np.diag(f12)], [np.diag(f21), np.diag(f22)]]) @ O.T
        C = P + Fk @ (P0 - P) @ Fk.T
        return 0.5 * (C + C.T)

    def stationary_cross_cov(self, k: int) -> np.ndarray:
        r"""Stationary ``Cov(z_t, z_{t+k}) = P (F^k)^T`` (k >= 0)."""
        k = int(k)
        if k < 0:
            raise ShapeError("k must be >= 0")
        f11, f12, f21, f22 = self._power_modal(k)
        P_tt, P_tv, P_vt, P_vv = self._modal_P()
        # modal (P F^kT): blocks [[P_tt, P_tv], [P_vt, P_vv]] times [[f11, f21], [f12, f22]] (diagonal)
        return self._rotate(
            (
                P_tt * f11 + P_tv * f12,
                P_tt * f21 + P_tv * f22,
                P_vt * f11 + P_vv * f12,
                P_vt * f21 + P_vv * f22,
            )
        )
