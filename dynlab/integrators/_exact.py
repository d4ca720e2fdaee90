"""The exact Ornstein-Uhlenbeck transition for the SDE of seed 003 eq. 3-4 (no time-stepping error).

With ``z = [theta; v]``, ``(Phi, C) = SGDPhaseSpace(...).ou.transition(time=dt)`` and
``mu_z = [mu; 0]``::

    z_{k+1} = mu_z + Phi (z_k - mu_z) + C^{1/2} n_k,      n_k ~ N(0, I_{2d})

so the law of every step is exactly the OU law (:meth:`dynlab.ou.OUProcess.transition`).
"""

from __future__ import annotations

import math

import numpy as np

from ..sgd import SGDPhaseSpace
from ._base import psd_sqrt
from ._cache import njit
from ._families import LangevinScheme
from ._ops import HOT, draw_batch, draw_path, matvec, path_views, record_after, record_before

__all__ = ["ExactOU"]


@njit(**HOT)
def _exact_update(theta, v, py, w, mu_z):
    """z = mu_z + Phi (z - mu_z) + w, given py = Phi (z - mu_z); w empty: no noise."""
    d = theta.shape[0]
    for j in range(d):
        theta[j] = mu_z[j] + py[j]
        v[j] = mu_z[d + j] + py[d + j]
        if w.shape[0] > 0:
            theta[j] += w[j]
            v[j] += w[d + j]


@njit(**HOT)
def _centre(theta, v, mu_z, y):
    d = theta.shape[0]
    for j in range(d):
        y[j] = theta[j] - mu_z[j]
        y[d + j] = v[j] - mu_z[d + j]


@njit(cache=True)
def _exact_path(loss, dr, rec, theta, v, work, Phi, Phit, mu_z, k0, n, i):
    Y, PY = work
    th, vv, y, py = theta[i], v[i], Y[i], PY[i]
    state, perm, batch, Z, W, pos, F, normals, batches, H, b, X, Y = path_views(loss, dr, i)
    w = W[0] if W.shape[0] > 0 else th[:0]
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, v, i, i + 1)
        draw_path(k, i, state, perm, pos, batch, Z, W, F, normals, batches)
        _centre(th, vv, mu_z, y)
        matvec(Phi, y, py)
        _exact_update(th, vv, py, w, mu_z)
        if recording:
            record_after(loss, rec, k, theta, v, i, i + 1)


@njit(cache=True)
def _exact_batch(loss, dr, rec, theta, v, work, Phi, Phit, mu_z, k0, n):
    Y, PY = work
    M = theta.shape[0]
    none = theta[0, :0]
    noisy = dr.W.shape[1] > 0
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, v, 0, M)
        draw_batch(dr, k)
        for i in range(M):
            _centre(theta[i], v[i], mu_z, Y[i])
        np.dot(Y, Phit, PY)
        for i in range(M):
            _exact_update(theta[i], v[i], PY[i], dr.W[i, 0] if noisy else none, mu_z)
        if recording:
            record_after(loss, rec, k, theta, v, 0, M)


@njit(cache=True, nogil=True)
def _exact_kernel(loss, dr, rec, theta, v, work, Phi, Phit, mu_z, k0, n, i0, i1):
    if loss.blas:
        _exact_batch(loss, dr, rec, theta, v, work, Phi, Phit, mu_z, k0, n)
    else:
        for i in range(i0, i1):
            _exact_path(loss, dr, rec, theta, v, work, Phi, Phit, mu_z, k0, n, i)


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
            self.problem.H,
            self.problem.b,
            lr=out["lr"],
            momentum=out["momentum"],
            weight_decay=out["weight_decay"],
            batch_size=out["batch_size"],
            noise_cov=sigma,
        ).ou
        Phi, C = ou.transition(time=out["dt"])
        self._Phi = np.ascontiguousarray(Phi)
        self._Phit = np.ascontiguousarray(Phi.T)
        self._C = C
        self._mu_z = np.ascontiguousarray(ou.mu)
        return out

    def noise(self):
        if self.noise_cov is None:
            return 0, 2 * self.d, None
        return 1, 2 * self.d, psd_sqrt(self._C)

    def workspace(self, M):
        return np.empty((M, 2 * self.d)), np.empty((M, 2 * self.d))

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        _exact_kernel(
            loss, draws, rec, theta, v, work, self._Phi, self._Phit, self._mu_z, k0, n, i0, i1
        )
