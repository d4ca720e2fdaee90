"""The generic Lyapunov solver's recursive blocked path against scipy's unblocked one."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab import _lyapunov, config
from dynlab.errors import UnstableDriftError
from dynlab.testing.strategies import seeds

EPS = config.EPS


def lyapunov_operator_cond_bound(A):
    """Upper bound on the 2-norm condition number of L: X -> A X + X A^T for diagonalisable
    A = V diag(w) V^-1: ||L|| <= 2 ||A||, ||L^-1|| <= cond(V)^2 / min |w_i + w_j|."""
    w, V = np.linalg.eig(A)
    gap = np.min(np.abs(w[:, None] + w[None, :]))
    return 2 * np.linalg.norm(A, 2) * np.linalg.cond(V) ** 2 / gap


def drift_with_pairs(n, seed):
    """A stable real matrix with mostly complex eigenvalue pairs: its real Schur form is full of
    2x2 blocks, so a split of the recursion lands on one for most block sizes."""
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(n // 2):
        a, b = rng.uniform(0.2, 2.0), rng.uniform(0.5, 3.0)
        blocks.append([[a, b], [-b, a]])
    if n % 2:
        blocks.append([[rng.uniform(0.2, 2.0)]])
    J = scipy.linalg.block_diag(*blocks)
    V = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    return V @ J @ np.linalg.inv(V)


def check_against_scipy(A, C, X):
    n = A.shape[0]
    # backward stable: residual ~ n eps (||A|| ||X|| + ||C||); 100x margin
    scale = 2 * np.linalg.norm(A, 2) * np.linalg.norm(X, 2) + np.linalg.norm(C, 2)
    assert np.linalg.norm(A @ X + X @ A.T - C, 2) <= 100 * n * EPS * scale
    # forward error of either solver: eps * cond(Lyapunov operator); 100x margin
    ref = scipy.linalg.solve_continuous_lyapunov(A, C)
    tol = 100 * n * EPS * lyapunov_operator_cond_bound(A)
    assert np.linalg.norm(X - ref, 2) <= tol * np.linalg.norm(ref, 2)
    np.testing.assert_array_equal(X, X.T)


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 24), st.integers(1, 5), seeds)
def test_blocked_equals_scipy(n, block, seed):
    A = drift_with_pairs(n, seed)
    G = np.random.default_rng(seed + 1).standard_normal((n, n))
    C = G @ G.T
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(config, "LYAPUNOV_BLOCK", block)  # small blocks: deep recursion at small n
        X = _lyapunov.solve_lyapunov(A, C)
    check_against_scipy(A, C, X)


def test_default_block_above_crossover_equals_scipy():
    n = 3 * config.LYAPUNOV_BLOCK + 5  # two levels of recursion with the shipped block size
    A = drift_with_pairs(n, 7)
    G = np.random.default_rng(8).standard_normal((n, n))
    check_against_scipy(A, G @ G.T, _lyapunov.solve_lyapunov(A, G @ G.T))


def test_unstable_pair_is_rejected():
    # eigenvalues -0.1 +- 2i: the real part sits on the diagonal of a 2x2 Schur block
    A = drift_with_pairs(6, 3)
    A[:2, :2] = [[-0.1, 2.0], [-2.0, -0.1]]
    A[2:, :2] = 0.0
    with pytest.raises(UnstableDriftError, match="not stable"):
        _lyapunov.solve_lyapunov(A, np.eye(6))
