"""The implicit midpoint rule for ``theta' = M^-1 p, p' = -grad V(theta) - friction p``.

Order 2, symplectic and symmetric, solved by fixed-point iteration to ``IMPLICIT_RTOL``
(Hairer, Lubich & Wanner 2006, sec. VIII.6).
"""

from __future__ import annotations

import numpy as np

from .. import config
from ..errors import StabilityRegionError
from ._cache import njit
from ._families import HamiltonianScheme
from ._ops import (
    HOT,
    draw_batch,
    draw_path,
    gradient_batch,
    gradient_path,
    path_views,
    record_after,
    record_before,
)

__all__ = ["ImplicitMidpoint"]


@njit(**HOT)
def _midpoint_round(theta, p, g, Yt, Yp, h, inv_mass, weight_decay, rtol):
    """One fixed-point round Y <- z + h f(Y) (g = grad L_B(Yt)); returns whether it converged:
    the update is <= rtol times the largest |component|."""
    change = 0.0
    size = 0.0
    for j in range(theta.shape[0]):
        yt = theta[j] + h * inv_mass[j] * Yp[j]
        yp = p[j] - h * (g[j] + weight_decay * Yt[j])
        change = max(change, abs(yt - Yt[j]), abs(yp - Yp[j]))
        size = max(size, abs(yt), abs(yp))
        Yt[j] = yt
        Yp[j] = yp
    return change <= rtol * size


@njit(**HOT)
def _midpoint_start(theta, p, Yt, Yp):
    for j in range(theta.shape[0]):
        Yt[j] = theta[j]
        Yp[j] = p[j]


@njit(**HOT)
def _midpoint_finish(theta, p, Yt, Yp):
    """z_{k+1} = 2 Y - z_k."""
    for j in range(theta.shape[0]):
        theta[j] = 2.0 * Yt[j] - theta[j]
        p[j] = 2.0 * Yp[j] - p[j]


@njit(cache=True)
def _midpoint_path(
    loss, dr, rec, theta, p, work, dt, inv_mass, weight_decay, rtol, max_iter, k0, n, i
):
    """n steps of path i; returns the number of steps whose iteration did not converge."""
    G, Yt, Yp = work
    th, pp, g, yt, yp = theta[i], p[i], G[i], Yt[i], Yp[i]
    state, perm, batch, Z, W, pos, F, normals, batches, H, b, X, Y = path_views(loss, dr, i)
    xi = W[0] if W.shape[0] > 0 else th[:0]
    failures = 0
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, p, i, i + 1)
        draw_path(k, i, state, perm, pos, batch, Z, W, F, normals, batches)
        _midpoint_start(th, pp, yt, yp)
        converged = False
        for _ in range(max_iter):
            gradient_path(H, b, X, Y, batch, xi, yt, g)
            if _midpoint_round(th, pp, g, yt, yp, 0.5 * dt, inv_mass, weight_decay, rtol):
                converged = True
                break
        failures += not converged
        _midpoint_finish(th, pp, yt, yp)
        if recording:
            record_after(loss, rec, k, theta, p, i, i + 1)
    return failures


@njit(cache=True)
def _midpoint_batch(
    loss, dr, rec, theta, p, work, dt, inv_mass, weight_decay, rtol, max_iter, k0, n
):
    """n steps of every path; returns the number of steps whose iteration did not converge."""
    G, Yt, Yp = work
    M = theta.shape[0]
    failures = 0
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, p, 0, M)
        draw_batch(dr, k)
        for i in range(M):
            _midpoint_start(theta[i], p[i], Yt[i], Yp[i])
        converged = False
        for _ in range(max_iter):
            gradient_batch(loss, Yt, dr.batch, dr.W, dr.W.shape[1] > 0, G)
            converged = True
            for i in range(M):
                converged &= _midpoint_round(
                    theta[i], p[i], G[i], Yt[i], Yp[i], 0.5 * dt, inv_mass, weight_decay, rtol
                )
            if converged:
                break
        failures += not converged
        for i in range(M):
            _midpoint_finish(theta[i], p[i], Yt[i], Yp[i])
        if recording:
            record_after(loss, rec, k, theta, p, 0, M)
    return failures


@njit(cache=True, nogil=True)
def _midpoint_kernel(
    loss, dr, rec, theta, p, work, dt, inv_mass, weight_decay, rtol, max_iter, k0, n, i0, i1
):
    """Returns the number of (path block, step) pairs whose iteration did not converge."""
    if loss.blas:
        return _midpoint_batch(
            loss, dr, rec, theta, p, work, dt, inv_mass, weight_decay, rtol, max_iter, k0, n
        )
    failures = 0
    for i in range(i0, i1):
        failures += _midpoint_path(
            loss, dr, rec, theta, p, work, dt, inv_mass, weight_decay, rtol, max_iter, k0, n, i
        )
    return failures


class ImplicitMidpoint(HamiltonianScheme):
    """Implicit midpoint ``z_{k+1} = z_k + dt f((z_k + z_{k+1}) / 2)``: symplectic and symmetric.

    The midpoint ``Y = z_k + dt/2 f(Y)`` is found by fixed-point iteration until the update of
    every path is below ``IMPLICIT_RTOL`` times its size (at most ``IMPLICIT_MAX_ITER`` rounds;
    it contracts by about ``dt/2 ||f'||`` per round).
    """

    name = "implicit_midpoint"
    linear_step = "midpoint"
    order = 2
    symplectic = True
    reversible = True
    reference = "Hairer, Lubich & Wanner 2006, sec. I.1.2 and Theorem VI.3.5 (Gauss collocation)"

    def workspace(self, M):
        return tuple(np.empty((M, self.d)) for _ in range(3))

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        p = self.params
        failures = _midpoint_kernel(
            loss,
            draws,
            rec,
            theta,
            v,
            work,
            p["dt"],
            p["inv_mass"],
            p["weight_decay"],
            config.IMPLICIT_RTOL,
            config.IMPLICIT_MAX_ITER,
            k0,
            n,
            i0,
            i1,
        )
        if failures:
            raise StabilityRegionError(
                f"implicit_midpoint: the fixed-point iteration did not converge in "
                f"{config.IMPLICIT_MAX_ITER} rounds on {failures} step(s); dt = {p['dt']} is too "
                "large for it (it needs dt/2 ||f'|| < 1, f' the Jacobian of the flow)"
            )
