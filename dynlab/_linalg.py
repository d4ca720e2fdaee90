"""Small dense linear-algebra helpers, each the one home of its formula in dynlab.

The symmetric and skew-symmetric parts of a matrix, the eigendecomposition in the seed's
descending order, and
the square root (or a factor) of a positive semi-definite matrix, and the in-place inverse of a
positive definite one. Every other module calls
these; none paraphrases them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sym", "skew", "eigh_descending", "psd_factor", "psd_sqrt", "spd_inverse", "expm"]


def sym(M: np.ndarray) -> np.ndarray:
    """Symmetric part ``(M + M^T) / 2`` of a matrix (or of a stack, over the last two axes).

    Exact for an already symmetric ``M`` (``m + m`` and the halving do not round).

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[1.0, 2.0], [0.0, 3.0]])
    >>> bool(np.array_equal(sym(M), sym(M).T)) and bool(np.array_equal(sym(sym(M)), sym(M)))
    True
    """
    return 0.5 * (M + np.swapaxes(M, -1, -2))


def skew(M: np.ndarray) -> np.ndarray:
    """Skew-symmetric part ``(M - M^T) / 2`` (over the last two axes).

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[1.0, 2.0], [0.0, 3.0]])
    >>> bool(np.array_equal(sym(M) + skew(M), M)) and bool(np.array_equal(skew(M), -skew(M).T))
    True
    """
    return 0.5 * (M - np.swapaxes(M, -1, -2))


def eigh_descending(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of a symmetric matrix, eigenvalues in DESCENDING order (``rho_1`` the top).

    Returns contiguous copies ``(rho, q)`` with ``M q[:, i] = rho[i] q[:, i]``.

    Examples
    --------
    >>> import numpy as np
    >>> rho, q = eigh_descending(np.diag([1.0, 3.0, 2.0]))
    >>> rho.tolist()
    [3.0, 2.0, 1.0]
    >>> bool(np.allclose(np.diag([1.0, 3.0, 2.0]) @ q, q * rho))
    True
    """
    w, v = np.linalg.eigh(M)
    return w[::-1].copy(), v[:, ::-1].copy()


def _factor(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, V = np.linalg.eigh(sym(C))
    return V * np.sqrt(np.clip(w, 0.0, None))[..., None, :], V


def psd_factor(C: np.ndarray) -> np.ndarray:
    """A factor ``L = V sqrt(w)`` with ``L L^T = C`` for a PSD ``C`` (singular allowed).

    ``C = V diag(w) V^T`` from ``eigh`` of its symmetric part; eigenvalues that rounding made
    slightly negative are clipped to 0. Works on stacks of matrices (last two axes).

    Examples
    --------
    >>> import numpy as np
    >>> C = np.array([[2.0, 1.0], [1.0, 1.0]])
    >>> L = psd_factor(C)
    >>> bool(np.allclose(L @ L.T, C))
    True
    """
    return _factor(C)[0]


def psd_sqrt(C: np.ndarray) -> np.ndarray:
    """The symmetric PSD square root ``C^{1/2}`` (singular ``C`` allowed), symmetric exactly.

    ``V sqrt(w) V^T`` from :func:`psd_factor`, then symmetrised so that ``R z`` and ``z^T R``
    agree bit for bit (the integrator kernels use either).

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> C = np.array([[2.0, 1.0], [1.0, 1.0]])
    >>> R = psd_sqrt(C)
    >>> bool(np.allclose(R, scipy.linalg.sqrtm(C))) and bool(np.array_equal(R, R.T))
    True
    """
    L, V = _factor(C)
    return sym(L @ np.swapaxes(V, -1, -2))


#: Rows per block when spd_inverse sums |B| and mirrors the inverse's triangle into the other:
#: temporaries of this many rows only (whole-matrix ones would double the peak memory).
_MIRROR_ROWS = 256


def expm(M: np.ndarray) -> np.ndarray:
    """Matrix exponential of ``M`` (stacks too): ``scipy.linalg.expm``, imported on first use.

    >>> import numpy as np
    >>> bool(np.allclose(expm(np.array([[0.0, 1.0], [-1.0, 0.0]])), [[np.cos(1), np.sin(1)],
    ...                                                            [-np.sin(1), np.cos(1)]]))
    True
    """
    import scipy.linalg  # kept out of `import dynlab` (benchmarks/performance.py, goal 5)

    return scipy.linalg.expm(M)


def spd_inverse(B: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Inverse of a symmetric positive definite ``B`` by Cholesky, IN PLACE, and its rcond.

    LAPACK's ``potrf``, ``pocon`` (the reciprocal 1-norm condition number, estimated in
    ``O(n^2)`` from the factor) and ``potri`` work in ``B``'s own memory: no second ``n x n``
    array is allocated, and the cost is ``n^3`` flops against ``2 n^3`` for an LU inverse.
    ``B`` must be C-contiguous; it is destroyed. Returns ``(None, 0.0)`` when ``B`` is not
    numerically positive definite (the factorisation breaks down).

    Examples
    --------
    >>> import numpy as np
    >>> B = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> U, rcond = spd_inverse(B.copy())
    >>> bool(np.allclose(U @ B, np.eye(2))) and bool(np.array_equal(U, U.T))
    True
    >>> spd_inverse(np.array([[1.0, 2.0], [2.0, 1.0]]))[0] is None
    True
    """
    n = B.shape[0]
    if n == 0:
        return B, 1.0
    # ||B||_1 (= the largest row sum of |B|, B being symmetric), by blocks of rows: np.abs(B)
    # whole would be a second n x n array
    norm1 = max(
        float(np.max(np.sum(np.abs(B[i : i + _MIRROR_ROWS]), axis=1)))
        for i in range(0, n, _MIRROR_ROWS)
    )
    from scipy.linalg import lapack  # imported on first use: keeps `import dynlab` light

    # B.T is B (symmetric) as a Fortran-ordered view: LAPACK works on it without a copy; its
    # lower triangle is B's upper one
    c, info = lapack.dpotrf(B.T, lower=1, overwrite_a=1, clean=0)
    if info != 0:
        return None, 0.0
    rcond, info = lapack.dpocon(c, norm1, uplo="L")
    inv, info = lapack.dpotri(c, lower=1, overwrite_c=1)
    if info != 0:
        return None, 0.0
    U = inv.T  # B's memory again, C-ordered; its upper triangle holds the inverse
    for i in range(0, n, _MIRROR_ROWS):
        j = min(i + _MIRROR_ROWS, n)
        block = U[i:j, i:j]
        U[i:j, i:j] = np.triu(block) + np.triu(block, 1).T
        U[j:, i:j] = U[i:j, j:].T
    return U, float(rcond)
