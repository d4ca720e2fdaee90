"""dynlab.spectrum.Spectrum (one eigendecomposition shared by models), the SDE decomposition's
block route with its in-place Cholesky inverse, and the eigenbasis commutation test, each
against an independent reference (scipy's Lyapunov solver and inverse, numpy's eigenvalues of
the one-step matrix, the commutator formed in the original basis)."""

import tracemalloc

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab import config
from dynlab._linalg import spd_inverse
from dynlab.errors import NotControllableError, NotPositiveDefiniteError
from dynlab.hyper import HeavyBall
from dynlab.ou_process import lyapunov_inverse
from dynlab.sgd import SGDPhaseSpace
from dynlab.spectrum import Spectrum

EPS = config.EPS


def _problem(d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2 * d, d))
    Y = rng.standard_normal((2 * d, d))
    return X.T @ X / (2 * d), Y.T @ Y / (2 * d) + 0.1 * np.eye(d)


def test_models_on_one_spectrum_equal_models_on_H_bit_for_bit():
    H, Sigma = _problem(6, 0)
    spectrum = Spectrum(H)
    for lr in (0.05, 0.3):
        shared = SGDPhaseSpace(spectrum, hyper=HeavyBall(lr, 0.9, batch_size=4), noise_cov=Sigma)
        own = SGDPhaseSpace(H, lr=lr, momentum=0.9, batch_size=4, noise_cov=Sigma)
        assert shared.q is spectrum.q  # no second eigh
        np.testing.assert_array_equal(shared.lyapunov(), own.lyapunov())
        np.testing.assert_array_equal(shared.decompose()[1], own.decompose()[1])
        assert shared.speed(exact=True) == own.speed(exact=True)


def test_spectrum_refuses_indefinite_H():
    with pytest.raises(NotPositiveDefiniteError, match="H must be positive semi-definite"):
        Spectrum(np.diag([1.0, -0.5]))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**31), st.floats(0.0, 0.99))
def test_decompose_general_route_against_scipy(d, seed, beta):
    H, Sigma = _problem(d, seed)
    m = SGDPhaseSpace(H, lr=0.2, momentum=beta, batch_size=3, noise_cov=Sigma)
    A, D = m.ou.A, m.ou.D
    B = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    Q_ref, U_ref = A @ B - D, scipy.linalg.inv(B)
    Q, U = m.decompose()
    if not m.commutes:  # the block route (random Sigma commutes only for d = 1)
        # both sides carry forward error ~ eps cond(Lyapunov operator) in B, amplified by
        # cond(B) in U; 100 x 4n margin over that first-order bound
        lyap = np.kron(np.eye(2 * d), A) + np.kron(A, np.eye(2 * d))
        tol = 100 * 8 * d * EPS * np.linalg.cond(lyap) * np.linalg.cond(B)
        assert np.linalg.norm(U - U_ref) <= tol * np.linalg.norm(U_ref)
        assert np.linalg.norm(Q - Q_ref) <= tol * np.linalg.norm(A) * np.linalg.norm(B)
    np.testing.assert_array_equal(Q, -Q.T)
    np.testing.assert_array_equal(U, U.T)


def test_decompose_is_cached_read_only_and_small_in_memory():
    d = 300  # 2d > 256: spd_inverse's row blocks are a fraction of the matrix, as at large d
    H, Sigma = _problem(d, 3)
    m = SGDPhaseSpace(H, lr=0.1, momentum=0.9, noise_cov=Sigma)
    assert not m.commutes
    m._sigma_modal  # noqa: B018 -- q^T Sigma q formed before the measurement, as lyapunov would
    tracemalloc.start()
    Q, U = m.decompose()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # B (whose memory becomes U), Q and a few d x d temporaries (a quarter each): under three
    # 2d x 2d arrays (the generic route holds A, B, A B, its skew part and an LU inverse)
    assert peak <= 3 * (2 * d) ** 2 * 8
    assert m.decompose()[0] is Q
    with pytest.raises(ValueError, match="read-only"):
        U[0, 0] = 1.0


def test_spd_inverse_in_place_and_breakdown():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((700, 700))  # > 256 rows: the block mirror crosses blocks
    B = X @ X.T / 700 + 0.5 * np.eye(700)
    work = B.copy()
    U, rcond = spd_inverse(work)
    assert np.shares_memory(U, work)
    np.testing.assert_array_equal(U, U.T)
    ref = np.linalg.inv(B)
    cond = np.linalg.cond(B)  # inverse's forward error <= n eps cond(B), x 10 margin
    assert np.linalg.norm(U - ref) <= 10 * 700 * EPS * cond * np.linalg.norm(ref)
    # rcond: LAPACK's 1-norm estimate, a lower bound of the exact one within a factor ~3
    exact = 1.0 / np.linalg.cond(B, 1)
    assert exact <= rcond <= 10 * exact
    assert spd_inverse(np.diag([1.0, -1.0]))[0] is None
    with pytest.raises(NotControllableError, match="singular"):
        lyapunov_inverse(np.diag([1.0, 1e-14]), noise="Sigma")


def test_singular_general_sigma_is_not_controllable():
    H = np.diag([2.0, 1.0, 0.5])
    v = np.array([1.0, 1.0, 0.0])
    Sigma = np.outer(v, v)  # rank one, does not commute with H
    m = SGDPhaseSpace(H, lr=0.1, momentum=0.5, noise_cov=Sigma)
    assert not m.commutes
    with pytest.raises(NotControllableError, match="singular"):
        m.decompose()


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**31), st.floats(-16.0, -1.0))
def test_commutes_against_the_commutator_in_the_original_basis(d, seed, log_eps):
    H, Y = _problem(d, seed)
    Sigma = H @ H + np.eye(d) + 10.0**log_eps * Y  # commutes, plus a perturbation
    C = H @ Sigma - Sigma @ H
    ratio = np.linalg.norm(C) / (np.linalg.norm(H, 2) * np.linalg.norm(Sigma))
    # away from the threshold (a factor 10 either side: rounding of either basis is
    # O(d eps) relative, far below that)
    if 0.1 * config.COMMUTE_RTOL < ratio < 10 * config.COMMUTE_RTOL:
        return
    m = SGDPhaseSpace(H, lr=0.1, noise_cov=Sigma)
    assert m.commutes == (ratio <= config.COMMUTE_RTOL)  # before q^T Sigma q: H Sigma - (.)^T
    m._sigma_modal  # noqa: B018 -- now in the eigenbasis: (rho_i - rho_j) (q^T Sigma q)_ij
    assert m.commutes == (ratio <= config.COMMUTE_RTOL)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 0.99), st.floats(-6.0, -0.3), st.booleans(), st.integers(0, 2**31))
def test_stable_against_the_spectral_radius_at_the_edge(beta, log_gap, above, seed):
    """lr = limit (1 +- 10^log_gap): just inside or outside the edge 2 (1 + beta) / rho_max."""
    H, _ = _problem(3, seed)
    rho_max = np.linalg.eigvalsh(H)[-1]
    lr = 2 * (1 + beta) / rho_max * (1 + (1 if above else -1) * 10.0**log_gap)
    I = np.eye(3)
    F = np.block([[I - lr * H, lr * beta * I], [-H, beta * I]])
    radius = np.max(np.abs(np.linalg.eigvals(F)))
    # at a gap of 1e-6 in lr the radius moves by >~ 1e-7 from 1, far beyond eigvals' rounding
    assert Spectrum(H).stable(lr=lr, momentum=beta) == (radius < 1)
