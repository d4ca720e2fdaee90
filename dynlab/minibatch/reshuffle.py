r"""Random reshuffling: one permutation per epoch, ``M = N / S`` consecutive batches.

Within an epoch the batches are drawn without replacement from the SAME permutation, so their
noises are correlated. For the residual gradients (the additive part of the noise,
:class:`~dynlab.minibatch.data.FiniteData`) and batch means ``xi_j`` of one permutation, two
distinct samples ``b != b'`` are a uniform pair, ``E[a_b a_b'^T] = -Sigma_a / (N - 1)``
(``sum_i a_i = 0``), hence (Kuhn & Rosenow, arXiv 2306.05300)

.. math:: \mathrm{Cov}(\xi_j, \xi_l) = \Sigma_a\Big[\Big(c + \frac{1}{N-1}\Big)\delta_{jl}
          - \frac{1}{N-1}\Big],\qquad c = \frac{N - S}{S (N - 1)}.

**Additive idealisation** (per-sample Hessians replaced by H): ``z_{j+1} = F z_j + G xi_j``, so
with ``u_j = sum_{k<j} F^k G`` and ``P_inf`` the Stein solution for noise ``Sigma_a``, the second
moment at position j of an epoch that starts from ``P_0`` is

.. math:: P_j = F^j P_0 F^{j\top} + \Big(c + \frac{1}{N-1}\Big)(P_\infty - F^j P_\infty F^{j\top})
          - \frac{1}{N-1}\, u_j \Sigma_a u_j^\top ,

and the epoch-start stationary law solves ``P_0 = F^M P_0 F^{M T} + Q_e`` (``Q_e`` the last two
terms at ``j = M``), pairwise in the eigenbasis of H.

**Exact (multiplicative) epochs.** With ``w = (z, 1)`` one batch is ``w' = A~_B w``,
``A~_B = [[A_B, G a_B], [0, 1]]`` and an epoch is ``Psi = A~_{B_M} ... A~_{B_1}``. The last batch
of a uniformly random ordered partition of a set U is a uniform S-subset of U, so
``R(U) = E[product over U] = mean_{B subset U} A~_B R(U \ B)`` -- a recursion over subsets
(2^N states instead of N! permutations), for ``E Psi`` and, with ``A~_B (x) A~_B``, for
``E[Psi (x) Psi]``. Epochs are independent, so the epoch-start mean is
``m_0 = (I - E Phi)^-1 E c`` and the second moment the fixed point of ``E[Psi (x) Psi]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from math import comb

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

from .. import config, modes
from .._validate import as_flag, steps_arguments
from ..errors import DynlabError, HyperparameterError, StabilityRegionError
from ..hyper import HeavyBall
from .data import FiniteData
from .independent import MinibatchSGD, as_steps, batch_factor

__all__ = ["Reshuffle", "FDRPrediction", "reshuffle_fdr_violation"]


@dataclass(frozen=True)
class FDRPrediction:
    """Yaida's relation with the FULL gradient, averaged over the positions of an epoch.

    ``lhs = mean_j E[(theta_j - theta*)^T grad L_lambda(theta_j)]``,
    ``rhs = (1 + beta) / (2 lr) mean_j E||theta_{j+1} - theta_j||^2``; equal for independent
    batches, ``lhs - rhs = -mean_j E[delta_j^T xi_j]`` under reshuffling.
    """

    lhs: float
    rhs: float

    @property
    def ratio(self) -> float:
        """``lhs / rhs``."""
        return self.lhs / self.rhs


class Reshuffle:
    r"""Heavy-ball SGD with random reshuffling on a :class:`FiniteData` set.

    Parameters
    ----------
    data : FiniteData
    hyper : HeavyBall
        One plain optimizer; ``batch_size`` must divide N (every epoch has M = N / S batches).

    Examples
    --------
    The batch-noise covariance against enumeration of all permutations of 4 samples:

    >>> from itertools import permutations
    >>> rng = np.random.default_rng(0)
    >>> data = FiniteData(rng.standard_normal((4, 1)), rng.standard_normal(4))
    >>> rs = Reshuffle(data, HeavyBall(0.1, batch_size=2))
    >>> xi = np.array([[data.a[list(p[:2])].mean(), data.a[list(p[2:])].mean()]
    ...                for p in permutations(range(4))])
    >>> same, other = rs.batch_cov()
    >>> bool(np.allclose([np.mean(xi[:, 0] ** 2), np.mean(xi[:, 0] * xi[:, 1])],
    ...                  [same[0, 0], other[0, 0]], rtol=1e-12))
    True
    """

    def __init__(self, data: FiniteData, hyper: HeavyBall):
        if isinstance(hyper, HeavyBall):
            hyper.require_scalar("Reshuffle")
        self._sgd = MinibatchSGD(data, hyper, "without_replacement")  # validates both
        S = hyper.batch_size
        if data.N % S:
            raise HyperparameterError(
                f"batch_size = {S} must divide the N = {data.N} samples (equal batches per epoch)"
            )
        self.data, self.hyper = data, hyper
        self.M = data.N // S
        self.c = batch_factor(data.N, S, "without_replacement")

    # ------------------------------------------------------------------ additive idealisation
    def batch_cov(self) -> tuple[np.ndarray, np.ndarray]:
        r"""``(Cov(xi_j, xi_j), Cov(xi_j, xi_l))``, ``j != l``: one epoch's additive batch noise."""
        Sa = self.data.Sigma_a
        return self.c * Sa, -Sa / (self.data.N - 1)

    def _powers(self, j: int):
        hp = self.hyper
        return modes.discrete_propagator(
            np.array(j), self.data.rho, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay
        )

    @cached_property
    def _additive(self):
        """Modal ``P_inf`` and the per-mode sums ``u_j = sum_{k<j} F^k G``, j = 0..M."""
        sgd = self._sgd
        W = sgd._stein
        Sa = self.data.Sigma_a_modal
        P_inf = np.array([[W[0] * Sa, W[1] * Sa], [W[2] * Sa, W[3] * Sa]])
        u = np.zeros((self.M + 1, 2, self.data.d))
        g = np.array([-self.hyper.lr, -1.0])[:, None] * np.ones(self.data.d)  # F^k G, k = 0
        for j in range(self.M):
            u[j + 1] = u[j] + g
            g = np.einsum("abi,bi->ai", sgd._F, g)
        return P_inf, u

    def _propagate(self, P: np.ndarray, j: int) -> np.ndarray:
        """``F^j P F^{j T}`` for modal blocks."""
        f = np.array(self._powers(j)).reshape(2, 2, -1)
        return np.einsum("aci,bej,ceij->abij", f, f, P, optimize=True)

    def _additive_noise(self, j: int) -> np.ndarray:
        P_inf, u = self._additive
        N = self.data.N
        Sa = self.data.Sigma_a_modal
        return (self.c + 1.0 / (N - 1)) * (P_inf - self._propagate(P_inf, j)) - np.einsum(
            "ai,ij,bj->abij", u[j], Sa, u[j]
        ) / (N - 1)

    @cached_property
    def _additive_start(self) -> np.ndarray:
        d = self.data.d
        f = np.array(self._powers(self.M)).reshape(2, 2, d)
        K = np.einsum("aci,bej->ijabce", f, f).reshape(d, d, 4, 4)
        Q = self._additive_noise(self.M).transpose(2, 3, 0, 1).reshape(d, d, 4, 1)
        X = np.linalg.solve(np.eye(4) - K, Q)
        return X.reshape(d, d, 2, 2).transpose(2, 3, 0, 1)

    def _to_original(self, P: np.ndarray) -> np.ndarray:
        return self._sgd._to_original(np.zeros((2, self.data.d)), P)[1]

    def additive_epoch_start(self) -> np.ndarray:
        """Stationary ``E z z^T`` at epoch starts in the additive idealisation (mean 0)."""
        return self._to_original(self._additive_start)

    def additive_within_epoch(self) -> np.ndarray:
        """Stationary ``E z_j z_j^T`` at positions j = 0..M of an epoch, additive: (M+1, 2d, 2d)."""
        P0 = self._additive_start
        return np.array(
            [
                self._to_original(self._propagate(P0, j) + self._additive_noise(j))
                for j in range(self.M + 1)
            ]
        )

    # ------------------------------------------------------------------ hybrid model
    def _hybrid_epoch(self, P0: np.ndarray, forcing: bool) -> list[np.ndarray]:
        """Positions 0..M of one hybrid epoch from the modal ``P0`` (without the additive
        forcing ``D_j`` when ``forcing`` is False: the linear part)."""
        out = [P0]
        for j in range(self.M):
            P = self._sgd._linear(out[-1])
            if forcing:
                P = P + self._additive_noise(j + 1) - self._sgd._sandwich(self._additive_noise(j))
            out.append(P)
        return out

    @cached_property
    def _hybrid(self) -> list[np.ndarray]:
        d = self.data.d
        shape = (2, 2, d, d)
        const = self._hybrid_epoch(np.zeros(shape), True)[-1].ravel()

        def apply(p):
            return p - self._hybrid_epoch(p.reshape(shape), False)[-1].ravel()

        op = LinearOperator((4 * d * d, 4 * d * d), matvec=apply, dtype=np.float64)
        p, info = gmres(
            op,
            const,
            x0=self._additive_start.ravel(),
            rtol=config.MINIBATCH_GMRES_RTOL,
            atol=0.0,
            restart=config.MINIBATCH_GMRES_RESTART,
            maxiter=config.MINIBATCH_GMRES_MAXITER,
        )
        if info != 0:
            raise StabilityRegionError(
                f"GMRES for the hybrid epoch-start moment did not converge ({info} iterations)"
            )
        return self._hybrid_epoch(p.reshape(shape), True)

    def hybrid_within_epoch(self) -> np.ndarray:
        r"""Epoch-periodic ``E z_j z_j^T``, j = 0..M, of the hybrid model: (M+1, 2d, 2d).

        The additive part of the noise correlated across the epoch as above, plus the
        multiplicative part ``S^-1 sum_b K_b delta`` treated as fresh each step (covariance
        ``c (M(P_dd) - H P_dd H)``, as for batches without replacement):
        ``P_{j+1} = F P_j F^T + c G (M(P_j,dd) - H P_j,dd H) G^T + Q_{j+1} - F Q_j F^T`` with
        ``Q_j`` the additive noise terms of ``P_j``. It neglects the correlation of the batch
        Hessians with the batch noise and with the past of the epoch (the exact epoch-start mean
        is not zero); its error against the exact epochs is measured, not bounded.
        """
        return np.array([self._to_original(P) for P in self._hybrid])

    def hybrid_epoch_start(self) -> np.ndarray:
        """Epoch-start ``E z z^T`` of the hybrid model (:meth:`hybrid_within_epoch`)."""
        return self._to_original(self._hybrid[0])

    # ------------------------------------------------------------------ exact epochs
    def _augmented(self, B) -> np.ndarray:
        D, hp = self.data, self.hyper
        d, lr, beta = D.d, hp.lr, hp.momentum
        XB = D.X[list(B)]
        HB = XB.T @ XB / len(B) + D.weight_decay * np.eye(d)
        aB = D.a[list(B)].mean(axis=0)
        A = np.zeros((2 * d + 1, 2 * d + 1))
        A[:d, :d] = np.eye(d) - lr * HB
        A[:d, d : 2 * d] = lr * beta * np.eye(d)
        A[d : 2 * d, :d] = -HB
        A[d : 2 * d, d : 2 * d] = beta * np.eye(d)
        A[:d, -1], A[d : 2 * d, -1], A[-1, -1] = -lr * aB, -aB, 1.0
        return A

    def _subset_recursion(self, second: bool) -> list[np.ndarray]:
        """``E[Psi_j]`` (or ``E[Psi_j (x) Psi_j]``) of the first j batches, j = 0..M."""
        N, S = self.data.N, self.hyper.batch_size
        work = sum(comb(N, j * S) * comb(j * S, S) for j in range(1, self.M + 1))
        n = (2 * self.data.d + 1) ** (2 if second else 1)
        if work * n**3 > config.MINIBATCH_SUBSET_MAX_FLOPS:
            raise DynlabError(
                f"the exact reshuffling recursion needs ~{work * n**3:.2e} flops for N = {N}, "
                f"batch_size = {S}, d = {self.data.d} (limit "
                f"{config.MINIBATCH_SUBSET_MAX_FLOPS:.0e}); use the additive idealisation"
            )
        batches = list(combinations(range(N), S))
        bmask = np.array([sum(1 << i for i in B) for B in batches], dtype=np.int64)
        mats = np.array([self._augmented(B) for B in batches])
        if second:
            mats = np.einsum("kab,kce->kacbe", mats, mats).reshape(len(batches), n, n)
        masks, R = np.zeros(1, dtype=np.int64), np.eye(n)[None]
        means = [np.eye(n)]
        chunk = max(1, config.MINIBATCH_SUBSET_CHUNK // (n * n))
        for j in range(1, self.M + 1):
            u, b = np.nonzero((masks[:, None] & bmask[None, :]) == 0)  # B disjoint from U
            masks, v = np.unique(masks[u] | bmask[b], return_inverse=True)
            acc = np.zeros((masks.size, n, n))
            for lo in range(0, u.size, chunk):
                sl = slice(lo, lo + chunk)
                np.add.at(acc, v[sl], np.matmul(mats[b[sl]], R[u[sl]]))
            # each V of size j S was reached from its C(j S, S) possible last batches
            R = acc / comb(j * S, S)
            means.append(R.mean(axis=0))
        return means

    def exact_epoch_start_mean(self) -> np.ndarray:
        r"""Exact stationary ``E z`` at epoch starts: ``m_0 = (I - E Phi)^-1 E c``.

        Needs only ``E Psi`` (the first-order recursion, ``(2d+1)^3`` per subset step), so it
        reaches larger N than the second moment.
        """
        d = self.data.d
        Psi = self._subset_recursion(False)[-1]
        return np.linalg.solve(np.eye(2 * d) - Psi[:-1, :-1], Psi[:-1, -1])

    @cached_property
    def _layers(self) -> list[np.ndarray]:
        return self._subset_recursion(True)

    def moments(
        self, *args, steps=None, theta0=None, v0=None, k=None, time=None
    ) -> tuple[np.ndarray, np.ndarray]:
        r"""Exact ``(E z_k, E z_k z_k^T)`` at each step k from ``(theta0, v0)`` (default 0).

        ``steps`` (keyword): integer numbers k >= 0 of optimizer steps (a positional count is
        deprecated).

        Step ``k = e M + j`` is position j of epoch e; epochs are independent, so
        ``vec(w_k w_k^T) = E[Psi_j (x) Psi_j] E[Psi (x) Psi]^e vec(w_0 w_0^T)``, ``w = (z, 1)``.
        Shapes ``(n, 2d)`` and ``(n, 2d, 2d)`` like :meth:`MinibatchSGD.moments`.
        """
        a = steps_arguments(
            "Reshuffle.moments",
            args,
            {"steps": steps, "theta0": theta0, "v0": v0},
            k=k,
            time=time,
        )
        steps = as_steps(a["steps"])
        m, _ = self._sgd._modal_start(a["theta0"], a["v0"])
        q = self.data.q
        w = np.append(np.concatenate([q @ m[0], q @ m[1]]), 1.0)
        n = w.size
        layers = self._layers
        out_m = np.empty((steps.size, n - 1))
        out_P = np.empty((steps.size, n - 1, n - 1))
        order = np.argsort(steps, kind="stable")
        vec, epoch = np.outer(w, w).ravel(), 0
        for idx in order:
            e, j = divmod(int(steps[idx]), self.M)
            while epoch < e:
                vec, epoch = layers[-1] @ vec, epoch + 1
            W = (layers[j] @ vec).reshape(n, n)
            W = 0.5 * (W + W.T)
            out_m[idx], out_P[idx] = W[:-1, -1], W[:-1, :-1]
        return out_m, out_P

    @cached_property
    def _exact(self):
        n = 2 * self.data.d + 1
        second = self._layers
        K = second[-1]
        r = np.arange(n * n - 1)  # every entry of vec(w w^T) but the constant 1 at the end
        x = np.linalg.solve(np.eye(n * n - 1) - K[np.ix_(r, r)], K[r, -1])
        W0 = np.append(x, 1.0).reshape(n, n)
        Ws = [(Kj @ W0.ravel()).reshape(n, n) for Kj in second]
        return [0.5 * (W + W.T) for W in Ws]

    def exact_epoch_start(self) -> tuple[np.ndarray, np.ndarray]:
        """Exact stationary ``(E z, E z z^T)`` at epoch starts, multiplicative noise included."""
        W = self._exact[0]
        return W[:-1, -1].copy(), W[:-1, :-1].copy()

    def exact_within_epoch(self) -> tuple[np.ndarray, np.ndarray]:
        """Exact stationary ``(E z_j, E z_j z_j^T)`` at positions j = 0..M of an epoch."""
        Ws = self._exact
        return np.array([W[:-1, -1] for W in Ws]), np.array([W[:-1, :-1] for W in Ws])

    # ------------------------------------------------------------------ the FDR as a detector
    def fdr(self, exact: bool = False) -> FDRPrediction:
        r"""Yaida's relation with the full gradient at ``c = theta*``, averaged over an epoch.

        From the within-epoch second moments ``P_j``:
        ``lhs = mean_{j<M} tr(H_lambda P_j,dd)``,
        ``rhs = (1 + beta) lr / 2 mean_{j<M} tr P_{j+1},vv``, as
        ``theta_{j+1} - theta_j = lr v_{j+1}``.
        """
        d = self.data.d
        exact = as_flag(exact, "exact")
        P = self.exact_within_epoch()[1] if exact else self.additive_within_epoch()
        Hl = self.data.H_lambda
        lhs = np.mean([np.sum(Hl * Pj[:d, :d]) for Pj in P[:-1]])
        rhs = np.mean([np.trace(Pj[d:, d:]) for Pj in P[1:]])
        return FDRPrediction(
            lhs=float(lhs), rhs=float((1 + self.hyper.momentum) * self.hyper.lr / 2 * rhs)
        )


def reshuffle_fdr_violation(data: FiniteData, hyper: HeavyBall, *, exact=False) -> FDRPrediction:
    """What Yaida's full-gradient relation reads under reshuffling (:meth:`Reshuffle.fdr`)."""
    return Reshuffle(data, hyper).fdr(exact=exact)
