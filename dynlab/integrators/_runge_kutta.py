"""Runge-Kutta schemes for ``theta' = M^-1 p, p' = -grad V(theta) - friction p``.

* explicit Euler (order 1) and, on the same kernel, Euler-Maruyama for the SDE of seed 003
  eq. 3 (``p`` is then the SDE velocity, force c1, friction c2, plus the Brownian increment);
* classical RK4 (order 4);
* the implicit midpoint rule (order 2, symplectic and symmetric), solved by fixed-point
  iteration to ``IMPLICIT_RTOL`` (Hairer, Lubich & Wanner 2006, sec. VIII.6).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import config
from ..errors import StabilityRegionError
from ._base import psd_sqrt
from ._families import HamiltonianScheme, LangevinScheme
from ._ops import draw, gradients, is_record_step, record_after, record_before

__all__ = ["ExplicitEuler", "EulerMaruyama", "RK4", "ImplicitMidpoint"]


@njit(parallel=True, cache=True)
def _euler_kernel(loss, dr, rec, theta, p, dt, inv_mass, force, friction, weight_decay, langevin, k0, n):
    M, d = theta.shape
    G = np.empty_like(theta)
    xi = dr.W[0] if (dr.W.shape[0] > 0 and not langevin) else np.empty((0, d))
    dW = dr.W[0] if (dr.W.shape[0] > 0 and langevin) else np.empty((0, d))
    for k in range(k0, k0 + n):
        recording = is_record_step(rec, k)
        if recording:
            record_before(loss, rec, k, theta, p)
        draw(loss, dr, k)
        gradients(loss, theta, dr.batch, xi, G)
        for i in prange(M):
            for j in range(d):
                pij = p[i, j]
                p[i, j] = pij - dt * (force * (G[i, j] + weight_decay * theta[i, j]) + friction * pij)
                if dW.shape[0] > 0:
                    p[i, j] += dW[i, j]
                theta[i, j] += dt * inv_mass[j] * pij
        if recording:
            record_after(loss, rec, k, theta, p)


class ExplicitEuler(HamiltonianScheme):
    """Explicit Euler: ``theta_{k+1} = theta_k + dt M^-1 p_k``, ``p_{k+1} = p_k + dt p'(theta_k, p_k)``."""

    name = "explicit_euler"
    order = 1
    reference = "Hairer, Norsett & Wanner 1993, sec. I.7"
    hyper = {**HamiltonianScheme.hyper, "friction": 0.0}

    def advance(self, loss, draws, rec, theta, v, state, k0, n):
        p = self.params
        _euler_kernel(
            loss, draws, rec, theta, v, p["dt"], p["inv_mass"], 1.0, p["friction"],
            p["weight_decay"], False, k0, n,
        )


class EulerMaruyama(LangevinScheme):
    """Euler-Maruyama for seed 003 eq. 3; one normal vector per step.

    ``v_{k+1} = v_k - dt (c1 grad V(theta_k) + c2 v_k) + sqrt(2 c2 dt / kappa) Sigma^{1/2} z_k``.
    Strong order 1 because the noise is additive (Kloeden & Platen 1992, sec. 10.2).
    """

    name = "euler_maruyama"
    strong_order = 1.0
    weak_order = 1.0
    reference = "Kloeden & Platen 1992, eq. 10.2.1, applied to seed 003 eq. 3"

    def noise(self):
        if self.noise_cov is None:
            return 0, self.d, None
        return 1, self.d, psd_sqrt(self.noise_cov) * np.sqrt(2.0 * self.c2 * self.params["dt"] / self.kappa)

    def advance(self, loss, draws, rec, theta, v, state, k0, n):
        p = self.params
        _euler_kernel(
            loss, draws, rec, theta, v, p["dt"], np.ones(self.d), self.c1, self.c2,
            p["weight_decay"], True, k0, n,
        )


@njit(parallel=True, cache=True)
def _rk4_kernel(loss, dr, rec, theta, p, dt, inv_mass, friction, weight_decay, k0, n):
    M, d = theta.shape
    G = np.empty_like(theta)
    Yt = np.empty_like(theta)
    Yp = np.empty_like(theta)
    At = np.empty_like(theta)
    Ap = np.empty_like(theta)
    xi = dr.W[0] if dr.W.shape[0] > 0 else np.empty((0, d))
    weights = (1.0, 2.0, 2.0, 1.0)
    nodes = (0.5, 0.5, 1.0, 0.0)
    for k in range(k0, k0 + n):
        recording = is_record_step(rec, k)
        if recording:
            record_before(loss, rec, k, theta, p)
        draw(loss, dr, k)
        for i in prange(M):
            for j in range(d):
                Yt[i, j] = theta[i, j]
                Yp[i, j] = p[i, j]
                At[i, j] = 0.0
                Ap[i, j] = 0.0
        for s in range(4):
            w = weights[s]
            c = nodes[s] * dt
            gradients(loss, Yt, dr.batch, xi, G)
            for i in prange(M):
                for j in range(d):
                    kt = inv_mass[j] * Yp[i, j]
                    kp = -(G[i, j] + weight_decay * Yt[i, j]) - friction * Yp[i, j]
                    At[i, j] += w * kt
                    Ap[i, j] += w * kp
                    Yt[i, j] = theta[i, j] + c * kt
                    Yp[i, j] = p[i, j] + c * kp
        for i in prange(M):
            for j in range(d):
                theta[i, j] += dt / 6.0 * At[i, j]
                p[i, j] += dt / 6.0 * Ap[i, j]
        if recording:
            record_after(loss, rec, k, theta, p)


class RK4(HamiltonianScheme):
    """Classical fourth-order Runge-Kutta; the step's minibatch is shared by its 4 stages."""

    name = "rk4"
    order = 4
    reference = "Hairer, Norsett & Wanner 1993, sec. II.1, Table 1.2 (left)"
    hyper = {**HamiltonianScheme.hyper, "friction": 0.0}

    def advance(self, loss, draws, rec, theta, v, state, k0, n):
        p = self.params
        _rk4_kernel(
            loss, draws, rec, theta, v, p["dt"], p["inv_mass"], p["friction"], p["weight_decay"], k0, n,
        )


@njit(parallel=True, cache=True)
def _midpoint_kernel(loss, dr, rec, theta, p, dt, inv_mass, weight_decay, rtol, max_iter, k0, n):
    """Returns the number of steps whose fixed-point iteration did not converge."""
    M, d = theta.shape
    G = np.empty_like(theta)
    Yt = np.empty_like(theta)
    Yp = np.empty_like(theta)
    gap = np.empty(M)
    xi = dr.W[0] if dr.W.shape[0] > 0 else np.empty((0, d))
    h = 0.5 * dt
    failures = 0
    for k in range(k0, k0 + n):
        recording = is_record_step(rec, k)
        if recording:
            record_before(loss, rec, k, theta, p)
        draw(loss, dr, k)
        for i in prange(M):
            for j in range(d):
                Yt[i, j] = theta[i, j]
                Yp[i, j] = p[i, j]
        converged = False
        for _ in range(max_iter):
            gradients(loss, Yt, dr.batch, xi, G)
            for i in prange(M):
                change = 0.0
                size = 0.0
                for j in range(d):
                    yt = theta[i, j] + h * inv_mass[j] * Yp[i, j]
                    yp = p[i, j] - h * (G[i, j] + weight_decay * Yt[i, j])
                    change = max(change, abs(yt - Yt[i, j]), abs(yp - Yp[i, j]))
                    size = max(size, abs(yt), abs(yp))
                    Yt[i, j] = yt
                    Yp[i, j] = yp
                gap[i] = change - rtol * size
            if gap.max() <= 0.0:
                converged = True
                break
        if not converged:
            failures += 1
        for i in prange(M):
            for j in range(d):
                theta[i, j] = 2.0 * Yt[i, j] - theta[i, j]
                p[i, j] = 2.0 * Yp[i, j] - p[i, j]
        if recording:
            record_after(loss, rec, k, theta, p)
    return failures


class ImplicitMidpoint(HamiltonianScheme):
    """Implicit midpoint ``z_{k+1} = z_k + dt f((z_k + z_{k+1}) / 2)``: symplectic and symmetric.

    The midpoint ``Y = z_k + dt/2 f(Y)`` is found by fixed-point iteration until the update of
    every path is below ``IMPLICIT_RTOL`` times its size (at most ``IMPLICIT_MAX_ITER`` rounds;
    it contracts by about ``dt/2 ||f'||`` per round).
    """

    name = "implicit_midpoint"
    order = 2
    symplectic = True
    reversible = True
    reference = "Hairer, Lubich & Wanner 2006, sec. I.1.2 and Theorem VI.3.5 (Gauss collocation)"

    def advance(self, loss, draws, rec, theta, v, state, k0, n):
        p = self.params
        failures = _midpoint_kernel(
            loss, draws, rec, theta, v, p["dt"], p["inv_mass"], p["weight_decay"],
            config.IMPLICIT_RTOL, config.IMPLICIT_MAX_ITER, k0, n,
        )
        if failures:
            raise StabilityRegionError(
                f"implicit_midpoint: the fixed-point iteration did not converge in "
                f"{config.IMPLICIT_MAX_ITER} rounds on {failures} step(s); dt = {p['dt']} is too "
                "large for it (it needs dt/2 ||f'|| < 1, f' the Jacobian of the flow)"
            )
