"""The exact Ornstein-Uhlenbeck transition for the SDE of seed 003 eq. 3-4 (no time-stepping error).

With ``z = [theta; v]``, ``(Phi, C) = SGDPhaseSpace(...).ou.transition(dt)`` and ``mu_z = [mu; 0]``::

    z_{k+1} = mu_z + Phi (z_k - mu_z) + C^{1/2} n_k,      n_k ~ N(0, I_{2d})

so the law of every step is exactly the OU law (:meth:`dynlab.ou.OUProcess.transition`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..sgd import SGDPhaseSpace
from ._base import psd_sqrt
from ._families import LangevinScheme
from ._ops import draw, is_record_step, record_after, record_before, rows_matmul

__all__ = ["ExactOU"]


@njit(parallel=True, cache=True)
def _exact_kernel(loss, dr, rec, theta, v, Phit, mu_z, k0, n):
    M, d = theta.shape
    Y = np.empty((M, 2 * d))
    PY = np.empty((M, 2 * d))
    noisy = dr.W.shape[0] > 0
    W = dr.W[0] if noisy else np.empty((0, 2 * d))
    for k in range(k0, k0 + n):
        recording = is_record_step(rec, k)
        if recording:
            record_before(loss, rec, k, theta, v)
        draw(loss, dr, k)
        for i in prange(M):
            for j in range(d):
                Y[i, j] = theta[i, j] - mu_z[j]
                Y[i, d + j] = v[i, j] - mu_z[d + j]
        rows_matmul(Y, Phit, PY, loss.blas)
        for i in prange(M):
            for j in range(d):
                theta[i, j] = mu_z[j] + PY[i, j]
                v[i, j] = mu_z[d + j] + PY[i, d + j]
                if noisy:
                    theta[i, j] += W[i, j]
                    v[i, j] += W[i, d + j]
        if recording:
            record_after(loss, rec, k, theta, v)


class ExactOU(LangevinScheme):
    """Exact OU transition of seed 003 eq. 4 over each step dt; one normal vector of length 2d
    per step. Requires the model's domain (``SGDPhaseSpace``: lr inside the heavy-ball
    stability region, ``H + weight_decay I`` definite)."""

    name = "exact_ou"
    strong_order = math.inf
    weak_order = math.inf
    reference = "seed 003 eq. 4 and appendix D; dynlab.ou.OUProcess.transition (Van Loan 1978)"

    def _check(self, values):
        out = super()._check(values)
        d = self.d
        sigma = np.zeros((d, d)) if self.noise_cov is None else self.noise_cov
        ou = SGDPhaseSpace(
            self.problem.H, self.problem.b, lr=out["lr"], momentum=out["momentum"],
            weight_decay=out["weight_decay"], batch_size=out["batch_size"], noise_cov=sigma,
        ).ou
        Phi, C = ou.transition(out["dt"])
        self._Phit = np.ascontiguousarray(Phi.T)
        self._C = C
        self._mu_z = np.ascontiguousarray(ou.mu)
        return out

    def noise(self):
        if self.noise_cov is None:
            return 0, 2 * self.d, None
        return 1, 2 * self.d, psd_sqrt(self._C)

    def advance(self, loss, draws, rec, theta, v, state, k0, n):
        _exact_kernel(loss, draws, rec, theta, v, self._Phit, self._mu_z, k0, n)
