r"""The SDE half of :class:`dynlab.sgd.SGDPhaseSpace` (Kunin et al. 2021, arXiv:2107.09133, eq. 4).

The OU process in ``z = [theta, v]`` with time ``t = lr k``,
``A = [[0, -I], [c1 (H + lambda I), c2 I]]``, ``D = [[0, 0], [0, c2 Sigma]]``, its Lyapunov
solution B, the decomposition ``A = (D + Q) U`` (eqs. 9, 43) and the modified loss
(eqs. 8, 10, 45, 46). The constants c1, c2, kappa are :class:`dynlab.hyper.HeavyBall`'s.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from . import config
from ._linalg import skew, sym
from ._validate import as_array
from .errors import (
    NotControllableError,
    ShapeError,
)
from .ou_process import OUProcess, lyapunov_inverse

__all__ = ["SDEModel"]


class SDEModel:
    """Mixin of :class:`~dynlab.sgd.SGDPhaseSpace`: its SDE (needs ``hyper``, ``H``, ``rho``,
    ``q``, ``mu``, ``noise_cov`` and the modal noise of the phase-space model)."""

    @cached_property
    def ou(self) -> OUProcess:
        """The OU process of seed 003 eq. 4 in ``[theta, v]``, time ``t = lr * k``.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> c1, c2 = 2 / (0.1 * 1.9), 2 * 0.1 / (0.1 * 1.9)      # Kunin et al. 2021, eq. 4
        >>> bool(np.allclose(m.ou.A[2:], np.hstack([c1 * m.H, c2 * np.eye(2)])))
        True
        """
        hp = self._one("ou")
        d, c1, c2 = self.d, hp.c1, hp.c2
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

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> B, A, D = m.lyapunov(), m.ou.A, m.ou.D
        >>> bool(np.allclose(A @ B + B @ A.T, 2 * D))
        True
        """
        d = self.d
        B = np.empty((2 * d, 2 * d))
        if self._sigma2 is not None:
            # Sigma = sigma2 H: X is diagonal, B = [[Sigma K^-1, 0], [0, Sigma]] (one GEMM)
            Kc = self._one("lyapunov").c1 * (self.rho + self.weight_decay)
            B[:d, :d] = (self.q * (self._sigma2 * self.rho / Kc)) @ self.q.T
            B[:d, d:] = 0.0
            B[d:, :d] = 0.0
            B[d:, d:] = self.noise_cov
            return sym(B)
        B_tt, M = self._lyapunov_position()
        B[:d, :d] = B_tt
        del B_tt
        B[:d, d:] = (M - M.T) / (2.0 * self.hyper.c2)
        B[d:, :d] = -B[:d, d:]
        B[d:, d:] = sym(M)
        return B

    def _lyapunov_position(self) -> tuple[np.ndarray, np.ndarray]:
        """``(B_thth, M)`` of :meth:`lyapunov`, ``M = c1 (H + lambda I) B_thth`` (three GEMMs).

        Both are symmetric exactly: B's blocks are built from them without a full-size ``sym``.
        """
        c1, c2 = self._one("lyapunov").c1, self.hyper.c2
        Kc = c1 * (self.rho + self.weight_decay)
        X = np.subtract.outer(Kc, Kc)
        X **= 2
        X += 2.0 * c2 * c2 * np.add.outer(Kc, Kc)
        np.divide(self._sigma_modal, X, out=X)
        X *= 4.0 * c2 * c2
        B_tt = sym(self.q @ (X @ self.q.T))
        del X
        M = self.H @ B_tt
        M += self.weight_decay * B_tt
        M *= c1
        return B_tt, M

    def decompose(self) -> tuple[np.ndarray, np.ndarray]:
        r"""``(Q, U)`` with ``A = (D + Q) U`` for the SDE (seed 003 eqs. 9 / 43).

        When Sigma commutes with H, the closed forms ``Q = [[0, -Sigma], [Sigma, 0]]`` and
        ``U = [[2/(lr (1+beta)) Sigma^{-1} (H + lambda I), 0], [0, Sigma^{-1}]]`` (evaluated in the
        eigenbasis); otherwise the general route ``U = B^{-1}``, ``Q = A B - D`` with the B of
        :meth:`lyapunov`, by blocks (one GEMM besides B's, U by Cholesky in B's memory: at
        d = 3000 a few ``2d x 2d`` arrays of peak memory). Computed once per model and cached:
        the arrays returned are read-only (copy them to modify).

        Raises
        ------
        NotControllableError
            If Sigma (hence B) is singular: the modified loss then lives on range(Sigma) only.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> Q, U = m.decompose()
        >>> bool(np.allclose((m.ou.D + Q) @ U, m.ou.A)) and bool(np.allclose(Q, -Q.T))
        True
        """
        return self._decomposition

    @cached_property
    def _decomposition(self) -> tuple[np.ndarray, np.ndarray]:
        hp = self._one("decompose")
        d = self.d
        if self.commutes:
            if self._sigma2 is not None:  # Sigma = sigma2 H: diagonal in the eigenbasis of H
                w, V = self._sigma_diag, self.q
            else:  # any commuting Sigma (H may have repeated eigenvalues): its own eigenbasis
                w, V = np.linalg.eigh(self.noise_cov)
            if np.min(w) <= config.SINGULAR_RTOL * np.max(w):
                raise NotControllableError(
                    f"Sigma is singular (smallest eigenvalue {np.min(w):.3g}): U = B^-1 does "
                    "not exist; "
                    "restrict the model to range(Sigma)"
                )
            inv_s = (V / w) @ V.T
            U_tt = hp.c1 * inv_s @ (self.H + self.weight_decay * np.eye(d))
            Q = self._blocks(np.zeros((d, d)), -self.noise_cov, self.noise_cov, np.zeros((d, d)))
            U = self._blocks(sym(U_tt), np.zeros((d, d)), np.zeros((d, d)), sym(inv_s))
        else:
            Q, U = self._decompose_general()
        Q.flags.writeable = False
        U.flags.writeable = False
        return Q, U

    def _decompose_general(self) -> tuple[np.ndarray, np.ndarray]:
        """The general route of :meth:`decompose` by blocks: one GEMM besides B's own.

        With ``B = [[B_thth, B_thv], [-B_thv, B_vv]]`` (``B_thv`` skew) the skew part of ``A B``
        is ``Q = [[B_thv, -B_vv], [B_vv, skew(c1 (H + lambda I) B_thv)]]``; ``U = B^-1`` is
        factorised in B's own memory (:func:`dynlab.ou_process.lyapunov_inverse`). Peak memory
        about three ``2d x 2d`` arrays' worth; the generic :func:`~dynlab.ou_process.
        decompose_lyapunov` on the ``2d x 2d`` drift needs twice the flops and memory.
        """
        d = self.d
        B = self.lyapunov()
        Q = np.empty_like(B)
        Q[:d, :d] = B[:d, d:]
        Q[:d, d:] = -B[d:, d:]
        Q[d:, :d] = B[d:, d:]
        KB = self.H @ B[:d, d:]
        KB += self.weight_decay * B[:d, d:]
        KB *= self.hyper.c1
        Q[d:, d:] = skew(KB)
        del KB
        return Q, lyapunov_inverse(B, noise="Sigma", overwrite=True)

    def _phase_point(self, theta, v) -> tuple[np.ndarray, np.ndarray]:
        """``theta`` and ``v`` as arrays of shape ``(..., d)`` (or scalars, broadcast), checked."""
        out = []
        for x, name in ((theta, "theta"), (v, "v")):
            a = as_array(x, name)
            if a.ndim and a.shape[-1] != self.d:
                raise ShapeError(f"{name} must have shape (..., {self.d}); got {a.shape}")
            out.append(a)
        return out[0], out[1]

    def modified_loss(self, theta, v) -> np.ndarray:
        r"""Modified loss ``Psi(theta, v) = 1/2 ([theta; v] - [mu; 0])^T U (...)``.

        Kunin et al. (2021, arXiv:2107.09133, eqs. 8, 10, 45, 46).

        The stationary law is ``p_ss ~ exp(-kappa Psi)``. With Sigma = sigma2 H the position part is
        ``(theta - mu)^T H^{-1} (H + lambda I) (theta - mu) / (lr (1 + beta) sigma2)``: isotropic on
        range(H) when lambda = 0 (eq. 10), and the velocity part ``v^T H^{-1} v / (2 sigma2)``
        (eq. 46).
        ``theta`` and ``v`` have shape ``(..., d)``.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> B = scipy.linalg.solve_continuous_lyapunov(m.ou.A, 2 * m.ou.D)
        >>> theta, v = m.mu + [0.1, -0.2], np.array([0.3, 0.1])
        >>> z = np.concatenate([theta - m.mu, v])
        >>> bool(np.isclose(m.modified_loss(theta, v), 0.5 * z @ np.linalg.solve(B, z)))
        True
        """
        theta, v = self._phase_point(theta, v)
        z = np.concatenate(np.broadcast_arrays(theta - self.mu, v), axis=-1)
        U = self.decompose()[1]
        return 0.5 * np.einsum("...i,ij,...j->...", z, U, z)

    def modified_loss_terms(self, theta, v) -> tuple[np.ndarray, np.ndarray]:
        r"""``(Psi_theta, Psi_v)``, the position and velocity parts of the modified loss.

        Kunin et al. (2021, arXiv:2107.09133, eqs. 45, 46).

        They separate only when Sigma commutes with H (then U is block diagonal):
        ``Psi_theta = (theta - mu)^T Sigma^{-1} (H + lambda I) (theta - mu) / (lr (1 + beta))`` and
        ``Psi_v = v^T Sigma^{-1} v / 2``.

        Raises
        ------
        NotControllableError
            If Sigma does not commute with H (U couples theta and v) or is singular.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> theta, v = m.mu + [0.1, -0.2], np.array([0.3, 0.1])
        >>> psi_t, psi_v = m.modified_loss_terms(theta, v)
        >>> bool(np.isclose(psi_v, 0.5 * (0.3**2 / 1.0 + 0.1**2 / 0.5)))   # v^T Sigma^-1 v / 2
        True
        """
        if not self.commutes:
            raise NotControllableError(
                "Sigma does not commute with H: U couples position and velocity, so the modified "
                "loss "
                "does not split into Psi_theta + Psi_v; use modified_loss"
            )
        theta, v = self._phase_point(theta, v)
        d = self.d
        U = self.decompose()[1]
        dth = theta - self.mu
        return (
            0.5 * np.einsum("...i,ij,...j->...", dth, U[:d, :d], dth),
            0.5 * np.einsum("...i,ij,...j->...", v, U[d:, d:], v),
        )
