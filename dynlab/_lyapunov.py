"""Continuous Lyapunov equation ``A X + X A^T = C`` by Bartels-Stewart on the complex Schur form.

Sign convention: dynlab solves ``A X + X A^T = C`` with A positive-stable (every eigenvalue
has positive real part); scipy's ``solve_continuous_lyapunov(a, q)`` solves ``a x + x a^H = q``
(the same equation for real A), python-control's ``lyap`` solves ``A X + X A^T + Q = 0``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from . import config
from .errors import UnstableDriftError

__all__ = ["check_stable", "solve_lyapunov"]


def check_stable(eigenvalues: np.ndarray, norm: float, name: str = "A") -> None:
    """Raise :class:`UnstableDriftError` unless every eigenvalue has real part > STABILITY_RTOL * norm."""
    re = np.real(eigenvalues)
    i = int(np.argmin(re))
    if re[i] <= config.STABILITY_RTOL * norm:
        raise UnstableDriftError(
            f"{name} is not stable: it has eigenvalue {complex(eigenvalues[i]):.6g} with real part "
            f"<= {config.STABILITY_RTOL:g} * ||{name}|| = {config.STABILITY_RTOL * norm:.3g}; the "
            "process dX = -A (X - mu) dt + ... has no stationary law"
        )


def solve_lyapunov(A: np.ndarray, C: np.ndarray) -> np.ndarray:
    r"""Solve :math:`A X + X A^\top = C` for real A (positive-stable) and symmetric C.

    Bartels-Stewart with the complex Schur form ``A = Z T Z^H`` (T upper triangular): with
    ``Y = Z^H X Z`` and ``F = Z^H C Z`` the equation becomes ``T Y + Y T^H = F``, solved one column
    at a time from the last, ``(T + conj(T_jj) I) y_j = f_j - sum_{k > j} y_k conj(T_jk)``
    (a triangular solve each). O(n^3) flops; backward stable.

    Raises
    ------
    UnstableDriftError
        If an eigenvalue of A has real part <= STABILITY_RTOL * ||A||_2 (then
        ``lambda_i + conj(lambda_j)`` may vanish and the solution is not unique).
    """
    n = A.shape[0]
    T, Z = scipy.linalg.schur(A, output="complex")
    check_stable(np.diag(T), np.linalg.norm(A, 2) if n else 0.0)
    F = Z.conj().T @ C @ Z
    Y = np.zeros((n, n), dtype=np.complex128)
    Tc = T.conj()
    shifted = T.copy()
    diag = np.diag(T).copy()
    idx = np.arange(n)
    for j in range(n - 1, -1, -1):
        rhs = F[:, j] - Y[:, j + 1 :] @ Tc[j, j + 1 :]
        shifted[idx, idx] = diag + Tc[j, j]
        Y[:, j] = scipy.linalg.solve_triangular(shifted, rhs, lower=False, check_finite=False)
    X = (Z @ Y @ Z.conj().T).real
    return 0.5 * (X + X.T)
