"""Numba building blocks shared by every scheme kernel: draws, gradients, losses, recording.

The kernels advance an ensemble ``theta, v`` of shape ``(M, d)`` (one row per path). Three
bundles of arrays travel with them, built by :mod:`dynlab.integrators._run`:

* :class:`Loss` -- the problem: ``L(theta) = 1/2 theta^T H theta - b^T theta + c``, and for
  linear regression the data ``X, Y`` whose rows form the minibatches;
* :class:`Draws` -- the randomness of a step: per-path generator states, the minibatch rows and
  ``n_slots`` vectors of standard normals mapped through a factor ``Ft`` (``W = Z @ Ft``), or
  the same read from injected arrays (``normals``, ``batches``) instead of the generators;
* :class:`Rec` -- the observables recorded every ``every`` steps.

Matrix products over all paths go through :func:`rows_matmul`: one BLAS GEMM when
``blas`` is set (large d), per-path loops otherwise.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from ._rng import fill_normals, shuffle

__all__ = [
    "Loss",
    "Draws",
    "Rec",
    "rows_matmul",
    "draw",
    "gradients",
    "losses",
    "energies",
    "is_record_step",
    "record_before",
    "record_after",
]


class Loss(NamedTuple):
    """The loss of the problem and the data of its minibatch gradients."""

    H: np.ndarray  # (d, d) Hessian
    b: np.ndarray  # (d,) linear term
    c: float  # constant, so that L = 1/2 theta^T H theta - b^T theta + c
    X: np.ndarray  # (N, d) data rows (linear regression) or (0, d)
    Y: np.ndarray  # (N,) targets or (0,)
    linreg: bool  # minibatch gradients from rows of X, Y (else H theta - b)
    blas: bool  # products over all paths as one GEMM


class Draws(NamedTuple):
    """Random inputs of the current step and where they come from."""

    states: np.ndarray  # (M, 4) uint64 per-path xoshiro256** states
    normals: np.ndarray  # injected standard normals (n_steps, n_slots, M, dn), or empty
    batches: np.ndarray  # injected minibatch rows (n_steps, M, S) int64, or empty
    perm: np.ndarray  # (M, N) int64 per-path permutation of the rows (one epoch)
    pos: np.ndarray  # (M,) int64 position of the next batch in perm
    Ft: np.ndarray  # (dn, dn) factor, W = Z @ Ft; (0, 0) means W = Z
    Z: np.ndarray  # (n_slots, M, dn) work: raw normals when Ft is given
    W: np.ndarray  # (n_slots, M, dn) the step's noise vectors
    batch: np.ndarray  # (M, S) int64 rows of the step's minibatch (S = 0: no sampling)


class Rec(NamedTuple):
    """Recording spec and outputs; arrays with 0 rows are not recorded."""

    every: int
    basis: np.ndarray  # (d, p) projection vectors as columns
    inv_mass: np.ndarray  # (d,) inverse mass of the kinetic energy (Hamiltonian schemes)
    weight_decay: float  # potential V = L + weight_decay / 2 |theta|^2 in the energy
    theta0: np.ndarray  # (M, d) state at step 0 (for Delta_k)
    theta_prev: np.ndarray  # (M, d) work: theta before a recorded step (for delta_k)
    energy_prev: np.ndarray  # (M,) work: energy before a recorded step
    work: np.ndarray  # (M, d) work for H theta
    loss: np.ndarray  # (R, M)
    delta2: np.ndarray  # (R, M) ||theta_k - theta_{k-1}||^2
    Delta2: np.ndarray  # (R, M) ||theta_k - theta_0||^2
    proj_theta: np.ndarray  # (R, M, p)
    proj_v: np.ndarray  # (R, M, p)
    energy: np.ndarray  # (R, M) or (0, M)
    energy_change: np.ndarray  # (R, M) or (0, M)
    cap: np.ndarray  # (R, M) int64 cap engagements since the last record, or (0, M)
    cap_count: np.ndarray  # (M,) int64 running count of cap engagements
    traj_theta: np.ndarray  # (R, M, d) or (0, M, d)
    traj_v: np.ndarray  # (R, M, d) or (0, M, d)


@njit(parallel=True, cache=True)
def rows_matmul(Y, A, out, blas):
    """``out = Y @ A`` for ``Y`` of shape (M, n) and ``A`` of shape (n, m)."""
    if blas:
        np.dot(Y, A, out)
        return
    M, n = Y.shape
    m = A.shape[1]
    for i in prange(M):
        for j in range(m):
            out[i, j] = 0.0
        for l in range(n):
            y = Y[i, l]
            for j in range(m):
                out[i, j] += y * A[l, j]


@njit(parallel=True, cache=True)
def draw(loss, dr, k):
    """Draw step ``k``'s minibatch rows and noise vectors for every path.

    Per path, in this order: the minibatch (the next ``S`` rows of the path's permutation,
    reshuffled when fewer than ``S`` rows are left in the epoch: sampling without replacement,
    the last ``N mod S`` rows of an epoch are skipped), then ``n_slots`` vectors of ``dn``
    standard normals. Injected ``batches`` / ``normals`` replace the generators.
    """
    # Fields are bound to locals, one statement each: a parallel loop that reads an array
    # through the tuple gets a copy of it (writes to it are lost), and so does one reading a
    # local bound by tuple unpacking (numba 0.68).
    states = dr.states
    perm = dr.perm
    pos = dr.pos
    batch = dr.batch
    normals = dr.normals
    batches = dr.batches
    Ft = dr.Ft
    W = dr.W
    M = states.shape[0]
    S = batch.shape[1]
    N = perm.shape[1]
    n_slots = W.shape[0]
    factor = Ft.shape[0] > 0
    Z = dr.Z if factor else W
    inject_b = batches.shape[0] > 0
    inject_n = normals.shape[0] > 0
    for i in prange(M):
        s = states[i]
        if S > 0:
            if inject_b:
                for r in range(S):
                    batch[i, r] = batches[k, i, r]
            else:
                if pos[i] + S > N:
                    shuffle(s, perm[i])
                    pos[i] = 0
                for r in range(S):
                    batch[i, r] = perm[i, pos[i] + r]
                pos[i] += S
        for slot in range(n_slots):
            if inject_n:
                for j in range(Z.shape[2]):
                    Z[slot, i, j] = normals[k, slot, i, j]
            else:
                fill_normals(s, Z[slot, i])
    if factor:
        for slot in range(n_slots):
            rows_matmul(Z[slot], Ft, W[slot], loss.blas)


@njit(parallel=True, cache=True)
def gradients(loss, Y, batch, xi, G):
    """``G[i] = grad L_B(Y[i]) + xi[i]``: the gradient of path i's loss at ``Y[i]``.

    A linear regression with minibatch rows (``batch`` of shape (M, S), S > 0): the minibatch
    gradient ``X_B^T (X_B y - Y_B) / S`` of the rows ``batch[i]``; otherwise (a quadratic, or
    S = 0: the exact gradient) ``H y - b``. ``xi`` of shape (M, d) is added (additive gradient
    noise); pass shape (0, d) for none.
    """
    M, d = Y.shape
    X = loss.X  # locals: see draw()
    y = loss.Y
    b = loss.b
    noisy = xi.shape[0] > 0
    S = batch.shape[1]
    if loss.linreg and S > 0:
        for i in prange(M):
            for j in range(d):
                G[i, j] = xi[i, j] if noisy else 0.0
            for r in range(S):
                row = batch[i, r]
                res = -y[row]
                for j in range(d):
                    res += X[row, j] * Y[i, j]
                res /= S
                for j in range(d):
                    G[i, j] += res * X[row, j]
        return
    rows_matmul(Y, loss.H, G, loss.blas)
    for i in prange(M):
        for j in range(d):
            G[i, j] -= b[j]
            if noisy:
                G[i, j] += xi[i, j]


@njit(parallel=True, cache=True)
def losses(loss, theta, work, out):
    """``out[i] = L(theta[i]) = 1/2 theta_i^T H theta_i - b^T theta_i + c``."""
    rows_matmul(theta, loss.H, work, loss.blas)
    M, d = theta.shape
    b = loss.b  # locals: see draw()
    c = loss.c
    for i in prange(M):
        acc = 0.0
        for j in range(d):
            acc += theta[i, j] * (0.5 * work[i, j] - b[j])
        out[i] = acc + c


@njit(parallel=True, cache=True)
def energies(loss, theta, p, inv_mass, weight_decay, work, out):
    """``out[i] = 1/2 p_i^T M^-1 p_i + L(theta_i) + weight_decay / 2 |theta_i|^2`` (seed 000, sec. 2.1)."""
    losses(loss, theta, work, out)
    M, d = theta.shape
    for i in prange(M):
        acc = 0.0
        for j in range(d):
            acc += inv_mass[j] * p[i, j] * p[i, j] + weight_decay * theta[i, j] * theta[i, j]
        out[i] += 0.5 * acc


@njit(cache=True)
def is_record_step(rec, k):
    """Whether the step from k to k + 1 ends on a recorded step."""
    return (k + 1) % rec.every == 0


@njit(parallel=True, cache=True)
def record_before(loss, rec, k, theta, v):
    """Before a recorded step: keep theta (for delta) and the energy (for Delta H)."""
    M, d = theta.shape
    theta_prev = rec.theta_prev  # locals: see draw()
    energy = rec.energy
    energy_prev = rec.energy_prev
    for i in prange(M):
        for j in range(d):
            theta_prev[i, j] = theta[i, j]
    if energy.shape[0] > 0:
        row = (k + 1) // rec.every - 1
        if rec.every == 1 and row > 0:
            for i in prange(M):
                energy_prev[i] = energy[row - 1, i]
        else:
            energies(loss, theta, v, rec.inv_mass, rec.weight_decay, rec.work, energy_prev)


@njit(parallel=True, cache=True)
def record_after(loss, rec, k, theta, v):
    """After a recorded step ending at step k + 1: fill row ``(k + 1) // every - 1``."""
    row = (k + 1) // rec.every - 1
    M, d = theta.shape
    # locals: see draw()
    basis = rec.basis
    theta0 = rec.theta0
    theta_prev = rec.theta_prev
    delta2 = rec.delta2
    Delta2 = rec.Delta2
    proj_theta = rec.proj_theta
    proj_v = rec.proj_v
    traj_theta = rec.traj_theta
    traj_v = rec.traj_v
    cap = rec.cap
    cap_count = rec.cap_count
    energy = rec.energy
    energy_change = rec.energy_change
    energy_prev = rec.energy_prev
    n_proj = basis.shape[1]
    keep = traj_theta.shape[0] > 0
    capped = cap.shape[0] > 0
    losses(loss, theta, rec.work, rec.loss[row])
    for i in prange(M):
        a = 0.0
        c = 0.0
        for j in range(d):
            x = theta[i, j] - theta_prev[i, j]
            y = theta[i, j] - theta0[i, j]
            a += x * x
            c += y * y
        delta2[row, i] = a
        Delta2[row, i] = c
        for q in range(n_proj):
            a = 0.0
            c = 0.0
            for j in range(d):
                a += theta[i, j] * basis[j, q]
                c += v[i, j] * basis[j, q]
            proj_theta[row, i, q] = a
            proj_v[row, i, q] = c
        if keep:
            for j in range(d):
                traj_theta[row, i, j] = theta[i, j]
                traj_v[row, i, j] = v[i, j]
        if capped:
            cap[row, i] = cap_count[i]
            cap_count[i] = 0
    if energy.shape[0] > 0:
        energies(loss, theta, v, rec.inv_mass, rec.weight_decay, rec.work, energy[row])
        for i in prange(M):
            energy_change[row, i] = energy[row, i] - energy_prev[i]
