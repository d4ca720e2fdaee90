"""Runge-Kutta schemes for ``theta' = M^-1 p, p' = -grad V(theta) - friction p``.

* explicit Euler (order 1) and, on the same kernel, Euler-Maruyama for the SDE of seed 003
  eq. 3 (``p`` is then the SDE velocity, force c1, friction c2, plus the Brownian increment);
* classical RK4 (order 4).

The implicit midpoint rule lives in :mod:`dynlab.integrators._midpoint`.
"""

from __future__ import annotations

import numpy as np

from ._base import psd_sqrt
from ._cache import njit
from ._families import HamiltonianScheme, LangevinScheme
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

__all__ = ["ExplicitEuler", "EulerMaruyama", "RK4"]


@njit(**HOT)
def _euler_update(theta, p, g, w, dt, inv_mass, force, friction, weight_decay):
    """theta += dt M^-1 p; p += -dt (force (g + wd theta) + friction p) + w (old theta, p)."""
    for j in range(theta.shape[0]):
        pj = p[j]
        p[j] = pj - dt * (force * (g[j] + weight_decay * theta[j]) + friction * pj)
        if w.shape[0] > 0:
            p[j] += w[j]
        theta[j] += dt * inv_mass[j] * pj


@njit(cache=True)
def _euler_path(
    loss, dr, rec, theta, p, G, dt, inv_mass, force, friction, weight_decay, langevin, k0, n, i
):
    th, pp, g = theta[i], p[i], G[i]
    state, perm, batch, Z, W, pos, F, normals, batches, H, b, X, Y = path_views(loss, dr, i)
    none = th[:0]
    noisy = W.shape[0] > 0
    xi = W[0] if (noisy and not langevin) else none
    dW = W[0] if (noisy and langevin) else none
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, p, i, i + 1)
        draw_path(k, i, state, perm, pos, batch, Z, W, F, normals, batches)
        gradient_path(H, b, X, Y, batch, xi, th, g)
        _euler_update(th, pp, g, dW, dt, inv_mass, force, friction, weight_decay)
        if recording:
            record_after(loss, rec, k, theta, p, i, i + 1)


@njit(cache=True)
def _euler_batch(
    loss, dr, rec, theta, p, G, dt, inv_mass, force, friction, weight_decay, langevin, k0, n
):
    M = theta.shape[0]
    none = theta[0, :0]
    noisy = dr.W.shape[1] > 0
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, p, 0, M)
        draw_batch(dr, k)
        gradient_batch(loss, theta, dr.batch, dr.W, noisy and not langevin, G)
        for i in range(M):
            _euler_update(
                theta[i],
                p[i],
                G[i],
                dr.W[i, 0] if (noisy and langevin) else none,
                dt,
                inv_mass,
                force,
                friction,
                weight_decay,
            )
        if recording:
            record_after(loss, rec, k, theta, p, 0, M)


@njit(cache=True, nogil=True)
def _euler_kernel(
    loss, dr, rec, theta, p, G, dt, inv_mass, force, friction, weight_decay, langevin, k0, n, i0, i1
):
    if loss.blas:
        _euler_batch(
            loss, dr, rec, theta, p, G, dt, inv_mass, force, friction, weight_decay, langevin, k0, n
        )
    else:
        for i in range(i0, i1):
            _euler_path(
                loss,
                dr,
                rec,
                theta,
                p,
                G,
                dt,
                inv_mass,
                force,
                friction,
                weight_decay,
                langevin,
                k0,
                n,
                i,
            )


class ExplicitEuler(HamiltonianScheme):
    """Explicit Euler: ``theta_{k+1} = theta_k + dt M^-1 p_k``,
    ``p_{k+1} = p_k + dt p'(theta_k, p_k)``."""

    name = "explicit_euler"
    linear_step = "euler"
    order = 1
    reference = "Hairer, Norsett & Wanner 1993, sec. I.7"
    hyper = {**HamiltonianScheme.hyper, "friction": 0.0}

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        p = self.params
        _euler_kernel(
            loss,
            draws,
            rec,
            theta,
            v,
            work[0],
            p["dt"],
            p["inv_mass"],
            1.0,
            p["friction"],
            p["weight_decay"],
            False,
            k0,
            n,
            i0,
            i1,
        )


class EulerMaruyama(LangevinScheme):
    """Euler-Maruyama for seed 003 eq. 3; one normal vector per step.

    ``v_{k+1} = v_k - dt (c1 grad V(theta_k) + c2 v_k) + sqrt(2 c2 dt / kappa) Sigma^{1/2} z_k``.
    Strong order 1 because the noise is additive (Kloeden & Platen 1992, sec. 10.2).
    """

    name = "euler_maruyama"
    linear_step = "euler"
    strong_order = 1.0
    weak_order = 1.0
    reference = "Kloeden & Platen 1992, eq. 10.2.1, applied to seed 003 eq. 3"

    def noise(self):
        if self.noise_cov is None:
            return 0, self.d, None
        return (
            1,
            self.d,
            psd_sqrt(self.noise_cov) * np.sqrt(2.0 * self.c2 * self.params["dt"] / self.kappa),
        )

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        p = self.params
        _euler_kernel(
            loss,
            draws,
            rec,
            theta,
            v,
            work[0],
            p["dt"],
            np.ones(self.d),
            self.c1,
            self.c2,
            p["weight_decay"],
            True,
            k0,
            n,
            i0,
            i1,
        )


@njit(**HOT)
def _rk4_stage(theta, p, g, Yt, Yp, At, Ap, w, c, inv_mass, friction, weight_decay):
    """Accumulate w f(Y) into (At, Ap) and move Y to z + c f(Y) (g = grad L_B(Yt))."""
    for j in range(theta.shape[0]):
        kt = inv_mass[j] * Yp[j]
        kp = -(g[j] + weight_decay * Yt[j]) - friction * Yp[j]
        At[j] += w * kt
        Ap[j] += w * kp
        Yt[j] = theta[j] + c * kt
        Yp[j] = p[j] + c * kp


@njit(**HOT)
def _rk4_start(theta, p, Yt, Yp, At, Ap):
    for j in range(theta.shape[0]):
        Yt[j] = theta[j]
        Yp[j] = p[j]
        At[j] = 0.0
        Ap[j] = 0.0


@njit(**HOT)
def _rk4_finish(theta, p, At, Ap, dt):
    for j in range(theta.shape[0]):
        theta[j] += dt / 6.0 * At[j]
        p[j] += dt / 6.0 * Ap[j]


#: RK4 stage weights and the nodes of the next stage's point (Butcher tableau, classical RK4)
_WEIGHTS = (1.0, 2.0, 2.0, 1.0)
_NODES = (0.5, 0.5, 1.0, 0.0)


@njit(cache=True)
def _rk4_path(loss, dr, rec, theta, p, work, dt, inv_mass, friction, weight_decay, k0, n, i):
    G, Yt, Yp, At, Ap = work
    th, pp, g, yt, yp, at, ap = theta[i], p[i], G[i], Yt[i], Yp[i], At[i], Ap[i]
    state, perm, batch, Z, W, pos, F, normals, batches, H, b, X, Y = path_views(loss, dr, i)
    xi = W[0] if W.shape[0] > 0 else th[:0]
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, p, i, i + 1)
        draw_path(k, i, state, perm, pos, batch, Z, W, F, normals, batches)
        _rk4_start(th, pp, yt, yp, at, ap)
        for s in range(4):
            gradient_path(H, b, X, Y, batch, xi, yt, g)
            _rk4_stage(
                th,
                pp,
                g,
                yt,
                yp,
                at,
                ap,
                _WEIGHTS[s],
                _NODES[s] * dt,
                inv_mass,
                friction,
                weight_decay,
            )
        _rk4_finish(th, pp, at, ap, dt)
        if recording:
            record_after(loss, rec, k, theta, p, i, i + 1)


@njit(cache=True)
def _rk4_batch(loss, dr, rec, theta, p, work, dt, inv_mass, friction, weight_decay, k0, n):
    G, Yt, Yp, At, Ap = work
    M = theta.shape[0]
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, p, 0, M)
        draw_batch(dr, k)
        for i in range(M):
            _rk4_start(theta[i], p[i], Yt[i], Yp[i], At[i], Ap[i])
        for s in range(4):
            gradient_batch(loss, Yt, dr.batch, dr.W, dr.W.shape[1] > 0, G)
            for i in range(M):
                _rk4_stage(
                    theta[i],
                    p[i],
                    G[i],
                    Yt[i],
                    Yp[i],
                    At[i],
                    Ap[i],
                    _WEIGHTS[s],
                    _NODES[s] * dt,
                    inv_mass,
                    friction,
                    weight_decay,
                )
        for i in range(M):
            _rk4_finish(theta[i], p[i], At[i], Ap[i], dt)
        if recording:
            record_after(loss, rec, k, theta, p, 0, M)


@njit(cache=True, nogil=True)
def _rk4_kernel(loss, dr, rec, theta, p, work, dt, inv_mass, friction, weight_decay, k0, n, i0, i1):
    if loss.blas:
        _rk4_batch(loss, dr, rec, theta, p, work, dt, inv_mass, friction, weight_decay, k0, n)
    else:
        for i in range(i0, i1):
            _rk4_path(loss, dr, rec, theta, p, work, dt, inv_mass, friction, weight_decay, k0, n, i)


class RK4(HamiltonianScheme):
    """Classical fourth-order Runge-Kutta; the step's minibatch is shared by its 4 stages."""

    name = "rk4"
    linear_step = "rk4"
    order = 4
    reference = "Hairer, Norsett & Wanner 1993, sec. II.1, Table 1.2 (left)"
    hyper = {**HamiltonianScheme.hyper, "friction": 0.0}

    def workspace(self, M):
        return tuple(np.empty((M, self.d)) for _ in range(5))

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        p = self.params
        _rk4_kernel(
            loss,
            draws,
            rec,
            theta,
            v,
            work,
            p["dt"],
            p["inv_mass"],
            p["friction"],
            p["weight_decay"],
            k0,
            n,
            i0,
            i1,
        )
