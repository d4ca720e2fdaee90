"""Splitting schemes, one kernel: a step is a sequence of exact sub-flows.

* ``A(f)``: drift ``theta += f dt M^-1 p``;
* ``B(f)``: kick ``p -= f dt force (grad L_B(theta) + weight_decay theta)``;
* ``O(f)``: friction ``p <- exp(-friction f dt) p`` plus, for the Langevin SDE, the exact
  Ornstein-Uhlenbeck noise ``sqrt(1 - exp(-2 friction f dt)) (Sigma / kappa)^{1/2} z``.

Hamiltonian: leapfrog / velocity Verlet = B(1/2) A(1) B(1/2); symplectic Euler = B(1) A(1);
the damped leapfrog of seed 000 eqs. 2-4 = O(1/2) B(1/2) A(1) O(1/2) B(1/2) with the energy cap
of eq. 7. Langevin (seed 003 eq. 3; force c1, friction c2, M = I): BAOAB = B A O A B (halves,
O whole) and OBABO = O B A B O (halves, A whole), Leimkuhler & Matthews (2013).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import config
from .._validate import as_scalar
from ..errors import HyperparameterError
from ._base import psd_sqrt
from ._families import HamiltonianScheme, LangevinScheme
from ._ops import (
    HOT,
    draw_batch,
    draw_path,
    gradient_batch,
    gradient_path,
    losses,
    matvec,
    path_views,
    record_after,
    record_before,
)

__all__ = ["Leapfrog", "DampedLeapfrog", "SymplecticEuler", "BAOAB", "OBABO"]

_A, _B, _O = 0, 1, 2


@njit(**HOT)
def _drift(theta, p, h, inv_mass):
    for j in range(theta.shape[0]):
        theta[j] += h * inv_mass[j] * p[j]


@njit(**HOT)
def _kick(theta, p, g, h, force, weight_decay):
    for j in range(theta.shape[0]):
        p[j] -= h * force * (g[j] + weight_decay * theta[j])


@njit(**HOT)
def _friction(p, w, decay, amp):
    """``p <- decay p + amp w`` (w empty: no noise)."""
    for j in range(p.shape[0]):
        p[j] *= decay
        if w.shape[0] > 0:
            p[j] += amp * w[j]


@njit(**HOT)
def _cap(theta, p, Ltheta, inv_mass, weight_decay, alpha, H0):
    """Seed 000 eq. 7 on one path given L(theta); returns whether the cap engaged."""
    K = 0.0
    V = Ltheta
    for j in range(theta.shape[0]):
        K += 0.5 * inv_mass[j] * p[j] * p[j]
        V += 0.5 * weight_decay * theta[j] * theta[j]
    if K + V <= alpha * H0:
        return False
    scale = np.sqrt(max(config.ENERGY_CAP_EPS, alpha * H0 - V) / max(config.ENERGY_CAP_EPS, K))
    for j in range(p.shape[0]):
        p[j] *= scale
    return True


@njit(cache=True)
def _o_coefficients(friction, h, noisy_o):
    """Decay and noise amplitude of O over time h: exp(-friction h), sqrt(1 - exp(-2 friction h))."""
    return np.exp(-friction * h), (np.sqrt(-np.expm1(-2.0 * friction * h)) if noisy_o else 0.0)


@njit(cache=True)
def _splitting_path(
    loss,
    dr,
    rec,
    theta,
    p,
    work,
    ops,
    fracs,
    dt,
    inv_mass,
    force,
    friction,
    weight_decay,
    langevin,
    cap_alpha,
    H0,
    k0,
    n,
    i,
):
    G, T, L = work
    th, pp, g, t = theta[i], p[i], G[i], T[i]
    c = loss.c
    state, perm, batch, Z, W, pos, F, normals, batches, H, b, X, Y = path_views(loss, dr, i)
    none = th[:0]
    xi = W[0] if (W.shape[0] > 0 and not langevin) else none
    noisy_o = langevin and W.shape[0] > 0
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, p, i, i + 1)
        draw_path(k, i, state, perm, pos, batch, Z, W, F, normals, batches)
        slot = 0
        for q in range(ops.shape[0]):
            h = fracs[q] * dt
            if ops[q] == _A:
                _drift(th, pp, h, inv_mass)
            elif ops[q] == _B:
                gradient_path(H, b, X, Y, batch, xi, th, g)
                _kick(th, pp, g, h, force, weight_decay)
            else:
                decay, amp = _o_coefficients(friction, h, noisy_o)
                _friction(pp, W[slot] if noisy_o else none, decay, amp)
                slot += noisy_o
        if cap_alpha > 0.0:
            matvec(H, th, t)
            Lth = c
            for j in range(th.shape[0]):
                Lth += th[j] * (0.5 * t[j] - b[j])
            if (
                _cap(th, pp, Lth, inv_mass, weight_decay, cap_alpha, H0[i])
                and k // rec.every < rec.cap.shape[0]
            ):
                rec.cap[k // rec.every, i] += 1
        if recording:
            record_after(loss, rec, k, theta, p, i, i + 1)


@njit(cache=True)
def _splitting_batch(
    loss,
    dr,
    rec,
    theta,
    p,
    work,
    ops,
    fracs,
    dt,
    inv_mass,
    force,
    friction,
    weight_decay,
    langevin,
    cap_alpha,
    H0,
    k0,
    n,
):
    G, T, L = work
    M = theta.shape[0]
    none = theta[0, :0]
    noisy = dr.W.shape[1] > 0
    noisy_o = langevin and noisy
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, p, 0, M)
        draw_batch(dr, k)
        slot = 0
        for q in range(ops.shape[0]):
            h = fracs[q] * dt
            if ops[q] == _A:
                for i in range(M):
                    _drift(theta[i], p[i], h, inv_mass)
            elif ops[q] == _B:
                gradient_batch(loss, theta, dr.batch, dr.W, noisy and not langevin, G)
                for i in range(M):
                    _kick(theta[i], p[i], G[i], h, force, weight_decay)
            else:
                decay, amp = _o_coefficients(friction, h, noisy_o)
                for i in range(M):
                    _friction(p[i], dr.W[i, slot] if noisy_o else none, decay, amp)
                slot += noisy_o
        if cap_alpha > 0.0:
            losses(loss, theta, T, L, 0, M)
            for i in range(M):
                if (
                    _cap(theta[i], p[i], L[i], inv_mass, weight_decay, cap_alpha, H0[i])
                    and k // rec.every < rec.cap.shape[0]
                ):
                    rec.cap[k // rec.every, i] += 1
        if recording:
            record_after(loss, rec, k, theta, p, 0, M)


@njit(cache=True, nogil=True)
def _splitting_kernel(
    loss,
    dr,
    rec,
    theta,
    p,
    work,
    ops,
    fracs,
    dt,
    inv_mass,
    force,
    friction,
    weight_decay,
    langevin,
    cap_alpha,
    H0,
    k0,
    n,
    i0,
    i1,
):
    if loss.blas:
        _splitting_batch(
            loss,
            dr,
            rec,
            theta,
            p,
            work,
            ops,
            fracs,
            dt,
            inv_mass,
            force,
            friction,
            weight_decay,
            langevin,
            cap_alpha,
            H0,
            k0,
            n,
        )
    else:
        for i in range(i0, i1):
            _splitting_path(
                loss,
                dr,
                rec,
                theta,
                p,
                work,
                ops,
                fracs,
                dt,
                inv_mass,
                force,
                friction,
                weight_decay,
                langevin,
                cap_alpha,
                H0,
                k0,
                n,
                i,
            )


def _workspace(M, d):
    """Work arrays of the splitting kernel: gradients, H theta, losses."""
    return np.empty((M, d)), np.empty((M, d)), np.empty(M)


class _HamiltonianSplitting(HamiltonianScheme):
    """Hamiltonian splitting: ``_ops`` / ``_fracs`` give the composition."""

    symplectic = True
    linear_step = "splitting"
    _ops: tuple = ()
    _fracs: tuple = ()

    def _cap(self) -> float:
        return 0.0

    def workspace(self, M):
        return _workspace(M, self.d)

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        p = self.params
        H0 = state["H0"] if self.capped else np.zeros(theta.shape[0])
        _splitting_kernel(
            loss,
            draws,
            rec,
            theta,
            v,
            work,
            np.array(self._ops, dtype=np.int64),
            np.array(self._fracs, dtype=np.float64),
            p["dt"],
            p["inv_mass"],
            1.0,
            p.get("friction", 0.0),
            p["weight_decay"],
            False,
            self._cap(),
            H0,
            k0,
            n,
            i0,
            i1,
        )


class Leapfrog(_HamiltonianSplitting):
    """Leapfrog / velocity Verlet (kick-drift-kick), seed 000 eqs. 2-4 with no friction."""

    name = "leapfrog"
    order = 2
    reversible = True
    reference = "seed 000 eqs. 2-4 with gamma = 0 (Hairer, Lubich & Wanner 2006, sec. I.1.4)"
    _ops = (_B, _A, _B)
    _fracs = (0.5, 1.0, 0.5)


class SymplecticEuler(_HamiltonianSplitting):
    """Symplectic Euler: ``p_{k+1} = p_k - dt grad V(theta_k)``, ``theta_{k+1} = theta_k + dt M^-1 p_{k+1}``."""

    name = "symplectic_euler"
    order = 1
    reference = "Hairer, Lubich & Wanner 2006, Theorem VI.3.3"
    _ops = (_B, _A)
    _fracs = (1.0, 1.0)


class DampedLeapfrog(_HamiltonianSplitting):
    """Damped leapfrog of seed 000 eqs. 2-4 with mass preconditioning and the energy cap (eq. 7).

    ``friction`` is seed 000's gamma; ``cap`` is its alpha (None: no cap). With the cap, after
    every step whose energy exceeds ``cap * H0`` (H0 = energy at step 0, per path) the momentum
    is rescaled to ``sqrt(max(eps, cap H0 - V) / max(eps, K))``, eps = ``ENERGY_CAP_EPS``.
    With friction > 0 the map is conformally symplectic (the symplectic form shrinks by
    ``exp(-friction dt)`` per step), neither symplectic nor reversible, and only first order:
    eqs. 2 and 4 damp before each half kick, so a step misses ``friction dt^2 / 4 grad V`` of
    the exact damped flow (with friction 0 it is the second-order leapfrog).
    """

    name = "damped_leapfrog"
    order = 1
    symplectic = False
    reference = "seed 000 eqs. 2-4 (friction = gamma) and eq. 7 (cap = alpha)"
    hyper = {**HamiltonianScheme.hyper, "friction": 1e-3, "cap": None}
    _ops = (_O, _B, _A, _O, _B)
    _fracs = (0.5, 0.5, 1.0, 0.5, 0.5)

    def _check(self, values):
        out = super()._check(values)
        if values["cap"] is None:
            out["cap"] = None
        else:
            out["cap"] = as_scalar(values["cap"], "cap", low=1.0)
        return out

    @property
    def capped(self) -> bool:
        return self.params["cap"] is not None

    def _cap(self) -> float:
        return 0.0 if self.params["cap"] is None else self.params["cap"]

    def init_state(self, theta, v):
        if not self.capped:
            return {}
        p = self.params
        H0 = (
            0.5 * np.sum(p["inv_mass"] * v * v, axis=1)
            + self.problem.loss(theta)
            + 0.5 * p["weight_decay"] * np.sum(theta * theta, axis=1)
        )
        if np.any(H0 <= 0.0):
            raise HyperparameterError(
                "the energy cap of seed 000 eq. 7 needs a positive initial energy H0 on every path "
                f"(min H0 = {H0.min():.3g}); shift the loss (QuadraticProblem(..., c=...)) or start "
                "elsewhere"
            )
        return {"H0": H0}


class _LangevinSplitting(LangevinScheme):
    """BAOAB / OBABO for the SDE of seed 003 eq. 3."""

    linear_step = "splitting"
    strong_order = 1.0
    weak_order = 2.0
    _ops: tuple = ()
    _fracs: tuple = ()

    def noise(self):
        if self.noise_cov is None:
            return 0, self.d, None
        n_o = sum(op == _O for op in self._ops)
        return n_o, self.d, psd_sqrt(self.noise_cov) / np.sqrt(self.kappa)

    def workspace(self, M):
        return _workspace(M, self.d)

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        p = self.params
        _splitting_kernel(
            loss,
            draws,
            rec,
            theta,
            v,
            work,
            np.array(self._ops, dtype=np.int64),
            np.array(self._fracs, dtype=np.float64),
            p["dt"],
            np.ones(self.d),
            self.c1,
            self.c2,
            p["weight_decay"],
            True,
            0.0,
            np.zeros(theta.shape[0]),
            k0,
            n,
            i0,
            i1,
        )


class BAOAB(_LangevinSplitting):
    """BAOAB: B(1/2) A(1/2) O(1) A(1/2) B(1/2); one normal vector per step."""

    name = "baoab"
    reference = "Leimkuhler & Matthews 2013 (AMRX), applied to seed 003 eq. 3"
    _ops = (_B, _A, _O, _A, _B)
    _fracs = (0.5, 0.5, 1.0, 0.5, 0.5)


class OBABO(_LangevinSplitting):
    """OBABO: O(1/2) B(1/2) A(1) B(1/2) O(1/2); two normal vectors per step (slot 0, slot 1)."""

    name = "obabo"
    reference = "Leimkuhler & Matthews 2013 (AMRX), applied to seed 003 eq. 3"
    _ops = (_O, _B, _A, _B, _O)
    _fracs = (0.5, 0.5, 1.0, 0.5, 0.5)
