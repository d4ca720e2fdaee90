"""Hypothesis strategies for linear-algebra inputs of SGD dynamics.

Every random quantity is drawn through hypothesis (a seed drawn by hypothesis feeds numpy),
so failures shrink and replay. Use them in your own tests::

    from hypothesis import given
    from dynlab.testing.strategies import spd_matrices

    @given(spd_matrices(5, max_cond=1e4))
    def test_something(H): ...
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "seeds",
    "orthogonal_matrices",
    "spectra",
    "spd_matrices",
    "psd_matrices",
    "stable_matrices",
]

#: 32-bit seeds for numpy Generators, drawn (and shrunk) by hypothesis.
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def _orthogonal(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@st.composite
def orthogonal_matrices(draw, d: int) -> np.ndarray:
    """Haar-random d x d orthogonal matrices."""
    return _orthogonal(d, draw(seeds))


@st.composite
def spectra(draw, d: int, *, min_value: float = 1e-3, max_cond: float = 1e6) -> np.ndarray:
    """``d`` eigenvalues, sorted descending, with condition number up to ``max_cond``.

    The top eigenvalue is drawn in ``[1, 10]``, the others log-uniformly in
    ``[top / max_cond, top]``; all are floored at ``min_value``.
    """
    top = draw(st.floats(1.0, 10.0))
    logs = draw(
        st.lists(st.floats(-np.log10(max_cond), 0.0), min_size=d - 1, max_size=d - 1)
    )
    w = np.array([top] + [top * 10.0**x for x in logs])
    w = np.maximum(w, min_value)
    return np.sort(w)[::-1]


@st.composite
def spd_matrices(draw, d: int, *, min_value: float = 1e-3, max_cond: float = 1e6) -> np.ndarray:
    """Symmetric positive definite matrices ``Q diag(w) Q^T`` with spread spectra."""
    w = draw(spectra(d, min_value=min_value, max_cond=max_cond))
    Q = draw(orthogonal_matrices(d))
    M = (Q * w) @ Q.T
    return 0.5 * (M + M.T)


@st.composite
def psd_matrices(draw, d: int, *, rank: int | None = None) -> np.ndarray:
    """Positive semi-definite matrices ``G G^T`` of the given rank (drawn in 1..d if None)."""
    r = draw(st.integers(1, d)) if rank is None else rank
    rng = np.random.default_rng(draw(seeds))
    G = rng.standard_normal((d, r)) / np.sqrt(r)
    M = G @ G.T
    return 0.5 * (M + M.T)


@st.composite
def stable_matrices(draw, n: int, *, min_real: float = 0.05, max_real: float = 5.0) -> np.ndarray:
    """Non-symmetric matrices whose eigenvalues all have real part in ``[min_real, max_real]``.

    Built as ``T J T^{-1}`` with J block diagonal (real eigenvalues and 2 x 2 rotation blocks
    ``[[a, -w], [w, a]]``, i.e. complex pairs ``a +- i w``) and T = I + a bounded perturbation,
    so the eigenvector basis is well conditioned (cond(T) <= 3).
    """
    rng = np.random.default_rng(draw(seeds))
    J = np.zeros((n, n))
    i = 0
    while i < n:
        a = float(np.exp(rng.uniform(np.log(min_real), np.log(max_real))))
        if i + 1 < n and draw(st.booleans()):
            w = float(rng.uniform(0.1, 3.0))
            J[i : i + 2, i : i + 2] = [[a, -w], [w, a]]
            i += 2
        else:
            J[i, i] = a
            i += 1
    P = rng.standard_normal((n, n))
    T = np.eye(n) + 0.5 * P / np.linalg.norm(P, 2)
    return T @ J @ np.linalg.inv(T)
