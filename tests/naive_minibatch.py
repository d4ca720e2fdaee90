"""Brute-force oracles for minibatch SGD on tiny data sets: every batch, every permutation.

Each function runs the optimizer in plain numpy, in PyTorch's convention written with
``v = -buf``, on every possible sequence of batches and averages with the exact probabilities.
Nothing here calls :mod:`dynlab.minibatch`; cost grows like (number of batches)^steps or N!.
"""

from itertools import combinations, permutations, product

import numpy as np


def batches(N, S, sampling):
    """All equally likely batches (index tuples) of one independent draw."""
    if sampling == "with_replacement":
        return list(product(range(N), repeat=S))
    return list(combinations(range(N), S))


def step(X, y, theta, v, B, lr, momentum, weight_decay):
    """One heavy-ball step on the batch ``B`` for states of shape (n, d)."""
    XB, yB = X[list(B)], y[list(B)]
    g = (theta @ XB.T - yB) @ XB / len(B) + weight_decay * theta
    v = momentum * v - g
    return theta + lr * v, v


def independent_moments(X, y, steps, *, lr, momentum, weight_decay, S, sampling, theta0=None):
    """Exact ``(E z_k, E z_k z_k^T)``, ``z = (theta - theta*, v)``, k = 0..steps, by enumeration."""
    N, d = X.shape
    H = X.T @ X / N + weight_decay * np.eye(d)
    theta_star = np.linalg.solve(H, X.T @ y / N)
    theta = np.zeros((1, d)) if theta0 is None else np.asarray(theta0, float)[None, :]
    v = np.zeros((1, d))
    all_b = batches(N, S, sampling)
    means, seconds = [], []
    for k in range(steps + 1):
        z = np.concatenate([theta - theta_star, v], axis=1)
        means.append(z.mean(axis=0))
        seconds.append(z.T @ z / z.shape[0])
        if k == steps:
            break
        new = [step(X, y, theta, v, B, lr, momentum, weight_decay) for B in all_b]
        theta = np.concatenate([t for t, _ in new])
        v = np.concatenate([w for _, w in new])
    return np.array(means), np.array(seconds)


def reshuffle_epoch(X, y, theta0, v0, *, lr, momentum, weight_decay, S):
    """States at positions j = 0..M of one reshuffled epoch for every permutation.

    Returns ``theta, v`` of shape (M + 1, N!, d) from the start ``(theta0, v0)`` (each (d,) or
    (N!, d) for a start that already differs per permutation).
    """
    N, d = X.shape
    perms = list(permutations(range(N)))
    M = N // S
    theta = np.broadcast_to(np.asarray(theta0, float), (len(perms), d)).copy()
    v = np.broadcast_to(np.asarray(v0, float), (len(perms), d)).copy()
    out_t, out_v = [theta.copy()], [v.copy()]
    P = np.array(perms)
    for j in range(M):
        idx = P[:, j * S : (j + 1) * S]  # (n_perm, S)
        XB, yB = X[idx], y[idx]  # (n, S, d), (n, S)
        r = np.einsum("nsd,nd->ns", XB, theta) - yB
        g = np.einsum("ns,nsd->nd", r, XB) / S + weight_decay * theta
        v = momentum * v - g
        theta = theta + lr * v
        out_t.append(theta.copy())
        out_v.append(v.copy())
    return np.array(out_t), np.array(out_v)


def batch_matrices(X, y, B, *, lr, momentum, weight_decay):
    """``(A_B, G a_B)`` of one batch: ``z' = A_B z + G a_B`` for ``z = (theta - theta*, v)``."""
    N, d = X.shape
    H = X.T @ X / N + weight_decay * np.eye(d)
    theta_star = np.linalg.solve(H, X.T @ y / N)
    XB, yB = X[list(B)], y[list(B)]
    HB = XB.T @ XB / len(B) + weight_decay * np.eye(d)
    gB = XB.T @ (XB @ theta_star - yB) / len(B) + weight_decay * theta_star  # gradient at theta*
    I = np.eye(d)
    A = np.block([[I - lr * HB, lr * momentum * I], [-HB, momentum * I]])
    return A, np.concatenate([-lr * gB, -gB])


def dense_second_moment(X, y, *, lr, momentum, weight_decay, S, sampling):
    """``(E[A_B (x) A_B], E[(G a_B)(G a_B)^T])`` over one independent batch, by enumeration."""
    pairs = [
        batch_matrices(X, y, B, lr=lr, momentum=momentum, weight_decay=weight_decay)
        for B in batches(X.shape[0], S, sampling)
    ]
    AA = np.mean([np.kron(A, A) for A, _ in pairs], axis=0)
    cc = np.mean([np.outer(c, c) for _, c in pairs], axis=0)
    return AA, cc


def reshuffle_operators(X, y, *, lr, momentum, weight_decay, S):
    """``Psi_j`` (augmented affine maps of the first j batches), j = 0..M, per permutation.

    Found by running :func:`reshuffle_epoch` from ``z = 0`` and from each unit vector in the
    coordinates ``z = (theta - theta*, v)``. Shape (M + 1, N!, 2d + 1, 2d + 1).
    """
    N, d = X.shape
    H = X.T @ X / N + weight_decay * np.eye(d)
    theta_star = np.linalg.solve(H, X.T @ y / N)
    starts = np.vstack([np.zeros(2 * d), np.eye(2 * d)])
    runs = []
    for z in starts:
        t, v = reshuffle_epoch(
            X,
            y,
            theta_star + z[:d],
            z[d:],
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            S=S,
        )
        runs.append(np.concatenate([t - theta_star, v], axis=-1))  # (M + 1, n_perm, 2d)
    offset = runs[0]
    M1, n_perm = offset.shape[:2]
    Psi = np.zeros((M1, n_perm, 2 * d + 1, 2 * d + 1))
    Psi[..., -1, -1] = 1.0
    Psi[..., :-1, -1] = offset
    for k in range(2 * d):
        Psi[..., :-1, k] = runs[k + 1] - offset
    return Psi
