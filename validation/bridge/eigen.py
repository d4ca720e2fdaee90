"""Top-k eigenpairs of a symmetric operator known only through matrix-vector products.

Lanczos with full reorthogonalization (two Gram-Schmidt passes per step) on the device; the
tridiagonal eigenproblem is solved on the host in float64 (:func:`scipy.linalg.eigh_tridiagonal`).
Used on Hessian-vector products of the network (seed 003 appendix H.1 uses subspace iteration;
Lanczos reaches the same top-k with fewer products). Iteration stops when the Lanczos residual
bound ``|beta_j s_{j,i}|`` of each of the k largest Ritz values is below ``tol * |theta_1|``; the
returned residuals are then computed explicitly, ``||H q_i - rho_i q_i||``, one product each.

Limitation (exact arithmetic): Lanczos sees one copy of a repeated eigenvalue. Hessians of
trained networks have no exactly repeated top eigenvalues.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.linalg import eigh_tridiagonal

from dynlab.progress import progress

__all__ = ["EigenResult", "lanczos_topk"]


@dataclass
class EigenResult:
    """Top-k eigenpairs: ``rho`` (k,) descending, ``Q`` (k, n) rows, explicit ``residuals`` (k,)."""

    rho: np.ndarray
    Q: torch.Tensor
    residuals: np.ndarray
    ritz_bounds: np.ndarray
    n_matvec: int
    n_iter: int
    seconds: float


def lanczos_topk(
    matvec,
    n: int,
    k: int,
    *,
    max_iter: int | None = None,
    tol: float = 1e-3,
    seed: int = 0,
    device="cpu",
    dtype=torch.float32,
    check_every: int = 5,
    desc: str = "lanczos",
) -> EigenResult:
    """The k algebraically largest eigenpairs of the symmetric operator ``matvec``.

    Parameters
    ----------
    matvec : callable
        ``matvec(x) -> H x`` for a flat tensor ``x`` of shape (n,).
    n, k : int
        Dimension and number of eigenpairs (k < n).
    max_iter : int, optional
        Lanczos steps at most (default ``min(n, max(4 k, k + 40))``).
    tol : float
        Stop when every Ritz bound of the top k is below ``tol * |rho_1|``.
    seed : int
        Seed of the random starting vector.
    """
    if not 1 <= k < n:
        raise ValueError(f"need 1 <= k < n; got k={k}, n={n}")
    m_max = min(n, max_iter if max_iter is not None else max(4 * k, k + 40))
    if m_max < k:
        raise ValueError(f"max_iter={m_max} is smaller than k={k}")
    t0 = time.monotonic()
    gen = torch.Generator(device=device).manual_seed(seed)
    V = torch.zeros(m_max + 1, n, device=device, dtype=dtype)
    V[0] = torch.randn(n, device=device, dtype=dtype, generator=gen)
    V[0] /= torch.linalg.vector_norm(V[0])
    alpha, beta = np.zeros(m_max), np.zeros(m_max)
    n_matvec, m = 0, 0
    bar = progress(total=m_max, desc=desc, unit="Hv")
    for j in range(m_max):
        w = matvec(V[j])
        n_matvec += 1
        alpha[j] = float(torch.dot(w, V[j]))  # one host sync per product: negligible next to an Hv
        for _ in range(2):  # full reorthogonalization against V[0..j], twice (DGKS)
            w -= V[: j + 1].T @ (V[: j + 1] @ w)
        beta[j] = float(torch.linalg.vector_norm(w))
        m = j + 1
        bar.update()
        scale = max(np.abs(alpha[:m]).max(), np.finfo(float).tiny)
        if beta[j] <= np.finfo(np.float32).eps * scale:  # invariant subspace found
            break
        if m >= k and m % check_every == 0:
            theta, s = eigh_tridiagonal(alpha[:m], beta[: m - 1])
            if np.all(
                np.abs(beta[j] * s[-1, -k:]) <= tol * max(np.abs(theta).max(), np.finfo(float).tiny)
            ):
                break
        V[j + 1] = w / beta[j]
    bar.close()
    if m < k:
        raise ValueError(
            f"the operator has an invariant subspace of dimension {m} < k={k} "
            "containing the start vector"
        )
    theta, s = eigh_tridiagonal(alpha[:m], beta[: m - 1])
    top = np.argsort(theta)[::-1][:k]
    rho = theta[top]
    ritz_bounds = np.abs(beta[m - 1] * s[-1, top])
    S = torch.as_tensor(s[:, top].T.copy(), device=device, dtype=dtype)  # (k, m)
    Q = S @ V[:m]
    Q /= torch.linalg.vector_norm(Q, dim=1, keepdim=True)
    residuals = np.empty(k)
    for i in range(k):
        r = matvec(Q[i]) - float(rho[i]) * Q[i]
        residuals[i] = float(torch.linalg.vector_norm(r))
        n_matvec += 1
    return EigenResult(
        rho=rho,
        Q=Q,
        residuals=residuals,
        ritz_bounds=ritz_bounds,
        n_matvec=n_matvec,
        n_iter=m,
        seconds=time.monotonic() - t0,
    )
