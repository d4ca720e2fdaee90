"""Numba building blocks shared by every scheme kernel: draws, gradients, losses, recording.

The kernels advance an ensemble ``theta, v`` of shape ``(M, d)`` (one row per path). Three
bundles of arrays travel with them, built by :mod:`dynlab.integrators._run`:

* :class:`Loss` -- the problem: ``L(theta) = 1/2 theta^T H theta - b^T theta + c``, and for
  linear regression the data ``X, Y`` whose rows form the minibatches;
* :class:`Draws` -- the randomness of a step: per-path generator states, the minibatch rows and
  ``n_slots`` vectors of standard normals ``z`` mapped through a symmetric factor ``F``
  (noise ``w = F z``), or the same read from injected arrays (``normals``, ``batches``);
* :class:`Rec` -- the observables recorded every ``every`` steps.

Every scheme runs in one of two layouts (its ``_kernel`` picks by ``loss.blas``):

* per path (small d): ``_path`` functions take one path through all steps of a chunk with
  1-D views of its rows, bound once per chunk, and the small helpers below (``draw_path``,
  ``gradient_path``, ``matvec``): passing the bundles themselves costs a reference count per
  array per call, which would dominate a step at small d; :func:`dynlab.integrators.run` gives
  blocks of paths to worker threads (the kernels release the GIL);
* batched (large d): ``_batch`` functions step all paths together, products over paths as one
  BLAS GEMM (``draw_batch``, ``gradient_batch``, multi-threaded by BLAS).

A path's numbers depend on neither the number of threads nor the other paths.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._cache import njit
from ._rng import fill_normals
from ._sampling import draw_rows

__all__ = [
    "Loss",
    "Draws",
    "Rec",
    "matvec",
    "path_views",
    "draw_path",
    "gradient_path",
    "noisy_gradient_path",
    "draw_batch",
    "gradient_batch",
    "fused_noise",
    "stacked_factors",
    "noisy_gradient_batch",
    "record_before",
    "record_after",
    "losses",
]

#: Reassociation lets LLVM vectorise the dot products of ``matvec`` (results differ from a
#: sequential sum by rounding only); no other fast-math flag (NaN and inf stay visible).
FASTMATH = {"reassoc", "contract"}

#: Options of the helpers a ``_path`` function calls every step: ``_nrt=False`` switches off
#: numba's reference counting inside them (they allocate nothing, keep no reference past the
#: call, and call nothing that does). With it on, each call costs two atomic operations per
#: array argument, as much as a whole step at small d (heavy-ball, d = 10: 256 -> 122 ns per
#: path-step for draw + noise). Callees compile with their caller's options, so a function
#: that records (allocating) must not use them.
HOT = {"cache": True, "_nrt": False}


class Loss(NamedTuple):
    """The loss of the problem and the data of its minibatch gradients."""

    H: np.ndarray  # (d, d) Hessian
    b: np.ndarray  # (d,) linear term
    c: float  # constant, so that L = 1/2 theta^T H theta - b^T theta + c
    X: np.ndarray  # (N, d) data rows (linear regression) or (0, d)
    Y: np.ndarray  # (N,) targets or (0,)
    blas: bool  # batched layout: products over all paths as one GEMM


class Draws(NamedTuple):
    """Random inputs of the current step and where they come from."""

    states: np.ndarray  # (M, 4) uint64 per-path xoshiro256** states
    normals: np.ndarray  # injected standard normals (n_steps, n_slots, M, dn), or empty
    batches: np.ndarray  # injected minibatch rows (n_steps, M, S) int64, or empty
    sampling: int  # how rows are drawn: an index of dynlab.integrators._sampling.SAMPLING
    perm: np.ndarray  # (M, N) int64 per-path work permutation of the rows
    pos: np.ndarray  # (M,) int64 position of the next batch in perm (reshuffling)
    F: np.ndarray  # (dn, dn) symmetric noise factor, w = F z; (0, 0) means w = z
    Z: np.ndarray  # (M, n_slots, dn) the step's standard normals
    W: np.ndarray  # (M, n_slots, dn) the step's noise vectors (W is Z when F is empty)
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
    cap: np.ndarray  # (R, M) int64 cap engagements in the steps of each row, or (0, M)
    traj_theta: np.ndarray  # (R, M, d) or (0, M, d)
    traj_v: np.ndarray  # (R, M, d) or (0, M, d)


# -- per path ---------------------------------------------------------------------------------


@njit(fastmath=FASTMATH, **HOT)
def matvec(A, x, out):
    """``out = A @ x`` by row dot products."""
    for j in range(out.shape[0]):
        acc = 0.0
        for l in range(x.shape[0]):
            acc += A[j, l] * x[l]
        out[j] = acc


@njit(**HOT)
def draw_path(k, i, state, perm, sampler, batch, Z, W, F, normals, batches):
    """Draw step ``k``'s minibatch rows ``batch`` (S,) and normals ``Z`` (n_slots, dn) of path
    i, and set its noise ``W[s] = F Z[s]`` (when F is empty, W is Z).

    In this order: the minibatch (:func:`dynlab.integrators._sampling.draw_rows` with the
    sampling mode and epoch positions ``sampler = (mode, pos)`` and the path's work permutation
    ``perm``), then the normals. Injected ``batches`` / ``normals`` (non-empty) replace the
    generator ``state``.
    """
    S = batch.shape[0]
    if S > 0:
        if batches.shape[0] > 0:
            for r in range(S):
                batch[r] = batches[k, i, r]
        else:
            draw_rows(state, sampler[0], perm, sampler[1], i, batch)
    for slot in range(Z.shape[0]):
        if normals.shape[0] > 0:
            for j in range(Z.shape[1]):
                Z[slot, j] = normals[k, slot, i, j]
        else:
            fill_normals(state, Z[slot])
        if F.shape[0] > 0:
            matvec(F, Z[slot], W[slot])


@njit(fastmath=FASTMATH, **HOT)
def gradient_path(H, b, X, Y, rows, xi, theta, g):
    """``g = grad L_B(theta) + xi`` for one path.

    With minibatch rows (``rows`` of length S > 0): ``X_B^T (X_B theta - Y_B) / S``; otherwise
    the full gradient ``H theta - b``. ``xi`` (d,) is added (additive noise); empty for none.
    """
    d = theta.shape[0]
    S = rows.shape[0]
    if S > 0:
        for j in range(d):
            g[j] = 0.0
        for r in range(S):
            # the row index in a local: read inside the loops, it would be reloaded after every
            # store to g (which LLVM cannot prove does not alias rows), and nothing vectorises
            # (the main job, mostly such gradients, halved: its report prints its time)
            row = rows[r]
            res = -Y[row]
            for j in range(d):
                res += X[row, j] * theta[j]
            res /= S
            for j in range(d):
                g[j] += res * X[row, j]
    else:
        matvec(H, theta, g)
        for j in range(d):
            g[j] -= b[j]
    if xi.shape[0] > 0:
        for j in range(d):
            g[j] += xi[j]


@njit(fastmath=FASTMATH, **HOT)
def noisy_gradient_path(HF, b, u, g):
    """``g = H theta - b + F z`` for one path: the full gradient plus the noise ``w = F z``, as
    ``[H | F] u - b`` with ``u = [theta; z]`` (``HF`` from :func:`stacked_factors`).

    The same numbers as :func:`draw_path` setting ``w = F z`` followed by :func:`gradient_path`
    (up to the order of the sums), in one pass over the rows of ``[H | F]``: one dot product of
    length 2d per row, no intermediate ``w``, and four rows at a time, so that four independent
    sums hide each other's latency (faster than a row at a time, which waits on its chain of
    dependent multiply-adds: ``benchmarks/zoo_parts.py`` times both).
    """
    d = g.shape[0]
    n = u.shape[0]
    j = 0
    while j + 4 <= d:
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        for l in range(n):
            x = u[l]
            a0 += HF[j, l] * x
            a1 += HF[j + 1, l] * x
            a2 += HF[j + 2, l] * x
            a3 += HF[j + 3, l] * x
        g[j] = a0 - b[j]
        g[j + 1] = a1 - b[j + 1]
        g[j + 2] = a2 - b[j + 2]
        g[j + 3] = a3 - b[j + 3]
        j += 4
    while j < d:
        acc = 0.0
        for l in range(n):
            acc += HF[j, l] * u[l]
        g[j] = acc - b[j]
        j += 1


@njit(cache=True)
def path_views(loss, dr, i):
    """What path i's step loop touches, bound once per chunk: a ``_path`` function must not read
    the bundles inside its loop (each read of a field costs a reference count, see HOT).

    Returns ``(state, perm, batch, Z, W, sampler, F, normals, batches, H, b, X, Y)`` with
    ``sampler = (sampling mode, epoch positions)`` for :func:`draw_path`.
    """
    return (
        dr.states[i],
        dr.perm[i],
        dr.batch[i],
        dr.Z[i],
        dr.W[i],
        (dr.sampling, dr.pos),
        dr.F,
        dr.normals,
        dr.batches,
        loss.H,
        loss.b,
        loss.X,
        loss.Y,
    )


# -- all paths (batched layout) ---------------------------------------------------------------


@njit(cache=True)
def draw_batch(dr, k):
    """Step ``k``'s draws for every path (per-path streams), noise by one GEMM per slot."""
    no_factor = np.empty((0, 0))
    for i in range(dr.states.shape[0]):
        draw_path(
            k,
            i,
            dr.states[i],
            dr.perm[i],
            (dr.sampling, dr.pos),
            dr.batch[i],
            dr.Z[i],
            dr.W[i],
            no_factor,
            dr.normals,
            dr.batches,
        )
    if dr.F.shape[0] > 0:
        for slot in range(dr.Z.shape[1]):
            dr.W[:, slot, :] = np.dot(np.ascontiguousarray(dr.Z[:, slot, :]), dr.F)


@njit(cache=True)
def gradient_batch(loss, Y, batch, W, noisy, G):
    """``G[i] = grad L_B(Y[i]) (+ W[i, 0] if noisy)`` for every path; ``H Y`` as one GEMM."""
    M, d = Y.shape
    if batch.shape[1] > 0:
        none = Y[0, :0]
        for i in range(M):
            gradient_path(
                loss.H, loss.b, loss.X, loss.Y, batch[i], W[i, 0] if noisy else none, Y[i], G[i]
            )
        return
    np.dot(Y, loss.H, G)
    for i in range(M):
        for j in range(d):
            G[i, j] -= loss.b[j]
            if noisy:
                G[i, j] += W[i, 0, j]


@njit(cache=True)
def fused_noise(dr):
    """Whether a step's gradient plus noise is one product with ``[H | F]``
    (:func:`noisy_gradient_path`, :func:`noisy_gradient_batch`): one slot of generated normals
    through a factor F, no minibatch rows, nothing injected."""
    return (
        dr.F.shape[0] > 0
        and dr.Z.shape[1] == 1
        and dr.batch.shape[1] == 0
        and dr.normals.shape[0] == 0
    )


@njit(cache=True)
def stacked_factors(loss, dr):
    """``[H | F]`` (d, 2d), the matrix of :func:`noisy_gradient_path` and, transposed (H and F are
    symmetric, so it is ``[H; F]``), of :func:`noisy_gradient_batch`."""
    d = loss.H.shape[0]
    HF = np.empty((d, 2 * d))
    HF[:, :d] = loss.H
    HF[:, d:] = dr.F
    return HF


@njit(cache=True)
def noisy_gradient_batch(loss, dr, theta, U, HF, G):
    """``G[i] = H theta_i - b + F z_i`` for every path as one GEMM ``[theta | z] @ [H; F]``.

    The batched counterpart of :func:`noisy_gradient_path`: each path draws its ``z`` from its
    own stream, as :func:`draw_batch` does, into the right half of ``U`` (M, 2d); one product with
    inner dimension 2d then replaces two with inner dimension d and the pass adding ``W``
    (``[H; F]`` is ``HF.T``, from :func:`stacked_factors`).
    """
    M, d = theta.shape
    for i in range(M):
        fill_normals(dr.states[i], U[i, d:])
        for j in range(d):
            U[i, j] = theta[i, j]
    np.dot(U, HF.T, G)
    for i in range(M):
        for j in range(d):
            G[i, j] -= loss.b[j]


# -- losses and recording (rows i0 <= i < i1; only at recorded steps) -------------------------


@njit(cache=True)
def losses(loss, theta, work, out, i0, i1):
    """``out[i] = L(theta[i]) = 1/2 theta_i^T H theta_i - b^T theta_i + c``."""
    if loss.blas:
        np.dot(theta[i0:i1], loss.H, work[i0:i1])
    else:
        for i in range(i0, i1):
            matvec(loss.H, theta[i], work[i])
    d = theta.shape[1]
    for i in range(i0, i1):
        acc = 0.0
        for j in range(d):
            acc += theta[i, j] * (0.5 * work[i, j] - loss.b[j])
        out[i] = acc + loss.c


@njit(cache=True)
def _energies(loss, rec, theta, p, out, i0, i1):
    """``out[i] = 1/2 p_i^T M^-1 p_i + L(theta_i) + weight_decay / 2 |theta_i|^2``
    (seed 000, sec. 2.1)."""
    losses(loss, theta, rec.work, out, i0, i1)
    d = theta.shape[1]
    for i in range(i0, i1):
        acc = 0.0
        for j in range(d):
            acc += (
                rec.inv_mass[j] * p[i, j] * p[i, j] + rec.weight_decay * theta[i, j] * theta[i, j]
            )
        out[i] += 0.5 * acc


@njit(cache=True)
def record_before(loss, rec, k, theta, v, i0, i1):
    """Before a recorded step (from k to k + 1, ``(k + 1) % every == 0``): keep theta (for
    delta) and the energy (for Delta H)."""
    d = theta.shape[1]
    for i in range(i0, i1):
        for j in range(d):
            rec.theta_prev[i, j] = theta[i, j]
    if rec.energy.shape[0] > 0:
        row = (k + 1) // rec.every - 1
        if rec.every == 1 and row > 0:
            for i in range(i0, i1):
                rec.energy_prev[i] = rec.energy[row - 1, i]
        else:
            _energies(loss, rec, theta, v, rec.energy_prev, i0, i1)


@njit(cache=True)
def record_after(loss, rec, k, theta, v, i0, i1):
    """After a recorded step ending at step k + 1: fill row ``(k + 1) // every - 1``."""
    row = (k + 1) // rec.every - 1
    d = theta.shape[1]
    n_proj = rec.basis.shape[1]
    losses(loss, theta, rec.work, rec.loss[row], i0, i1)
    for i in range(i0, i1):
        a = 0.0
        c = 0.0
        for j in range(d):
            x = theta[i, j] - rec.theta_prev[i, j]
            y = theta[i, j] - rec.theta0[i, j]
            a += x * x
            c += y * y
        rec.delta2[row, i] = a
        rec.Delta2[row, i] = c
        for q in range(n_proj):
            a = 0.0
            c = 0.0
            for j in range(d):
                a += theta[i, j] * rec.basis[j, q]
                c += v[i, j] * rec.basis[j, q]
            rec.proj_theta[row, i, q] = a
            rec.proj_v[row, i, q] = c
        if rec.traj_theta.shape[0] > 0:
            for j in range(d):
                rec.traj_theta[row, i, j] = theta[i, j]
                rec.traj_v[row, i, j] = v[i, j]
    if rec.energy.shape[0] > 0:
        _energies(loss, rec, theta, v, rec.energy[row], i0, i1)
        for i in range(i0, i1):
            rec.energy_change[row, i] = rec.energy[row, i] - rec.energy_prev[i]
