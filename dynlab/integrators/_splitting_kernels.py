"""The splitting kernel: a step is a sequence of exact sub-flows A (drift), B (kick), O (friction).

Opcodes ``_A, _B, _O`` and fractions of ``dt`` describe the composition; the schemes in
:mod:`dynlab.integrators._splitting` choose them.
"""

from __future__ import annotations

import numpy as np

from .. import config
from ._cache import njit
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
    """Decay and noise amplitude of O over time h: exp(-friction h),
    sqrt(1 - exp(-2 friction h))."""
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
