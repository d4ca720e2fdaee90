"""Continuous Lyapunov equation ``A X + X A^T = C`` by recursive blocked Bartels-Stewart.

Sign convention: dynlab solves ``A X + X A^T = C`` with A positive-stable (every eigenvalue
has positive real part); scipy's ``solve_continuous_lyapunov(a, q)`` solves ``a x + x a^H = q``
(the same equation for real A), python-control's ``lyap`` solves ``A X + X A^T + Q = 0``.

Algorithm: the real Schur form ``A = Z T Z^T`` turns the equation into ``T Y + Y T^T = F``
(T quasi-upper-triangular, ``Y = Z^T X Z``, ``F = Z^T C Z``). Up to ``LYAPUNOV_BLOCK`` rows it
is solved by LAPACK's ``dtrsyl`` (scipy's own path); above, by the recursive splitting of
Jonsson & Kagstrom (2002, "Recursive blocked algorithms for solving triangular systems -- Part I",
ACM TOMS 28(4), algorithms RECLYCT and RECSYCT), which moves the O(n^3) work into matrix
products and uses the symmetry of Y to halve it.
"""

from __future__ import annotations

import functools

import numpy as np

from . import config
from .errors import UnstableDriftError

__all__ = ["check_stable", "solve_lyapunov"]


def check_stable(eigenvalues: np.ndarray, norm: float, name: str = "A") -> None:
    """Raise :class:`UnstableDriftError` unless each eigenvalue has Re > STABILITY_RTOL * norm."""
    re = np.real(eigenvalues)
    i = int(np.argmin(re))
    if re[i] <= config.STABILITY_RTOL * norm:
        raise UnstableDriftError(
            f"{name} is not stable: it has eigenvalue {complex(eigenvalues[i]):.6g} with real part "
            f"<= {config.STABILITY_RTOL:g} * ||{name}|| = {config.STABILITY_RTOL * norm:.3g}; the "
            "process dX = -A (X - mu) dt + ... has no stationary law"
        )


def _leaf() -> int:
    """Order up to which the recursion stops (a 2x2 block of the real Schur form is not split)."""
    return max(config.LYAPUNOV_BLOCK, 2)


def _split(T: np.ndarray) -> int:
    """Half of T's order, moved by one where it would cut a 2x2 block of the real Schur form."""
    k = T.shape[0] // 2
    return k + 1 if T[k, k - 1] != 0.0 else k


def _trsyl(S: np.ndarray, T: np.ndarray, F: np.ndarray) -> np.ndarray:
    """``S Y + Y T^T = F`` for small quasi-triangular S, T by LAPACK's dtrsyl."""
    from scipy.linalg.lapack import dtrsyl  # imported on first use: keeps `import dynlab` light

    Y, scale, info = dtrsyl(S, T, F, tranb="T")
    if info < 0:  # info = 1 (S, -T close eigenvalues) is excluded by the stability check
        raise ValueError(f"dtrsyl: illegal argument {-info}")
    return Y / scale


def _sylvester(S: np.ndarray, T: np.ndarray, F: np.ndarray) -> np.ndarray:
    """``S Y + Y T^T = F`` with S, T quasi-upper-triangular (RECSYCT): split the larger side."""
    m, n = F.shape
    if max(m, n) <= _leaf():
        return _trsyl(S, T, F)
    Y = np.empty_like(F)
    if m >= n:
        k = _split(S)
        Y[k:] = _sylvester(S[k:, k:], T, F[k:])
        Y[:k] = _sylvester(S[:k, :k], T, F[:k] - S[:k, k:] @ Y[k:])
    else:
        k = _split(T)
        Y[:, k:] = _sylvester(S, T[k:, k:], F[:, k:])
        Y[:, :k] = _sylvester(S, T[:k, :k], F[:, :k] - Y[:, k:] @ T[:k, k:].T)
    return Y


def _lyapunov(T: np.ndarray, F: np.ndarray) -> np.ndarray:
    """``T Y + Y T^T = F`` with T quasi-upper-triangular, F and Y symmetric (RECLYCT).

    With ``T = [[T11, T12], [0, T22]]``: ``T22 Y22 + Y22 T22^T = F22``, then
    ``T11 Y12 + Y12 T22^T = F12 - T12 Y22``, then
    ``T11 Y11 + Y11 T11^T = F11 - T12 Y12^T - Y12 T12^T``.
    """
    n = F.shape[0]
    if n <= _leaf():
        return _trsyl(T, T, F)
    k = _split(T)
    T11, T12, T22 = T[:k, :k], T[:k, k:], T[k:, k:]
    Y = np.empty_like(F)
    Y[k:, k:] = _lyapunov(T22, F[k:, k:])
    Y12 = _sylvester(T11, T22, F[:k, k:] - T12 @ Y[k:, k:])
    W = T12 @ Y12.T
    Y[:k, :k] = _lyapunov(T11, F[:k, :k] - W - W.T)
    Y[:k, k:] = Y12
    Y[k:, :k] = Y12.T
    return Y


def solve_lyapunov(A: np.ndarray, C: np.ndarray) -> np.ndarray:
    r"""Solve :math:`A X + X A^\top = C` for real A (positive-stable) and symmetric C.

    Bartels & Stewart (1972, Commun. ACM 15(9), algorithm 432) on the real Schur form
    ``A = Z T Z^T``, with the recursive blocked triangular solve of Jonsson & Kagstrom (2002)
    above ``config.LYAPUNOV_BLOCK`` rows. O(n^3) flops; backward stable.

    Raises
    ------
    UnstableDriftError
        If an eigenvalue of A has real part <= STABILITY_RTOL * ||A||_F (then
        ``lambda_i + conj(lambda_j)`` may vanish and the solution is not unique).

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((300, 300)) / 20 + 2 * np.eye(300)
    >>> G = rng.standard_normal((300, 300))
    >>> X = solve_lyapunov(A, G @ G.T)
    >>> ref = scipy.linalg.solve_continuous_lyapunov(A, G @ G.T)
    >>> bool(np.linalg.norm(X - ref) <= 1e-12 * np.linalg.norm(ref))
    True
    """
    n = A.shape[0]
    if n == 0:
        return np.zeros((0, 0))
    T, Z, re = _real_schur(A)
    # ||T||_F = ||A||_F >= ||A||_2 costs O(n^2), where the 2-norm would cost an SVD.
    check_stable(re, float(np.sqrt(np.vdot(T, T))))
    X = Z @ _lyapunov(T, Z.T @ C @ Z) @ Z.T
    return 0.5 * (X + X.T)


def _no_selection(wr, wi):
    return False


@functools.lru_cache(maxsize=32)
def _gees_lwork(n: int) -> int:
    """LAPACK's optimal workspace of dgees at order n (its workspace query, done once per n)."""
    from scipy.linalg.lapack import dgees

    work = dgees(_no_selection, np.eye(n), compute_v=1, lwork=-1)[-2]
    return max(int(work[0]), 3 * n, 1)


def _real_schur(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``A = Z T Z^T`` (real Schur form, LAPACK dgees on a copy) and the real parts of A's
    eigenvalues.

    LAPACK's standardised real Schur form puts the real part of each complex pair on both
    diagonal entries of its 2x2 block, so the real parts are ``diag(T)``; dgees returns them.
    The same call as ``scipy.linalg.schur(A, output="real")``, without its per-call checks and
    workspace query (at small n these are much of a solve: benchmarks/performance.py, goal 3).
    """
    from scipy.linalg.lapack import dgees

    T, _, wr, _, Z, _, info = dgees(_no_selection, A, compute_v=1, lwork=_gees_lwork(A.shape[0]))
    if info != 0:
        raise np.linalg.LinAlgError(f"dgees: the QR algorithm failed to converge (info {info})")
    return T, Z, wr
