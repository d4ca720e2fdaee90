"""The general OU process against scipy, numerical integration and Monte Carlo."""

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab import config
from dynlab.errors import (
    HyperparameterError,
    NonFiniteError,
    NotControllableError,
    NotPositiveDefiniteError,
    ShapeError,
    UnstableDriftError,
)
from dynlab.ou import OUProcess
from dynlab.testing.strategies import psd_matrices, seeds, stable_matrices

EPS = config.EPS


def lyapunov_operator_cond(A):
    """2-norm condition number of X -> A X + X A^T (as an n^2 x n^2 matrix)."""
    n = A.shape[0]
    L = np.kron(np.eye(n), A) + np.kron(A, np.eye(n))
    return np.linalg.cond(L)


@st.composite
def ou_processes(draw, n_max=6):
    n = draw(st.integers(1, n_max))
    A = draw(stable_matrices(n))
    D = draw(psd_matrices(n, rank=n))
    kappa = draw(st.floats(0.1, 100.0))
    mu = np.random.default_rng(draw(seeds)).standard_normal(n)
    return OUProcess(A, D, kappa=kappa, mu=mu)


@given(ou_processes())
def test_lyapunov_residual_and_scipy(ou):
    B = ou.lyapunov()
    A, D = ou.A, ou.D
    n = ou.n
    # backward-stable solver: residual ~ n eps (||A|| ||B|| + ||D||); 100x margin
    scale = 2 * np.linalg.norm(A, 2) * np.linalg.norm(B, 2) + 2 * np.linalg.norm(D, 2)
    assert np.linalg.norm(A @ B + B @ A.T - 2 * D, 2) <= 100 * n * EPS * scale
    # forward error of either solver: eps * cond(Lyapunov operator); both solvers err, 100x margin
    ref = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    tol = 100 * n * EPS * lyapunov_operator_cond(A)
    assert np.linalg.norm(B - ref, 2) <= tol * np.linalg.norm(ref, 2)
    np.testing.assert_array_equal(B, B.T)


@given(ou_processes())
def test_decomposition(ou):
    Q, U = ou.decompose()
    A, D, B = ou.A, ou.D, ou.lyapunov()
    np.testing.assert_array_equal(Q, -Q.T)
    assert np.all(np.linalg.eigvalsh(U) > 0)
    # A = (D + Q) U holds to eps * cond(B) (U = B^-1) times the Lyapunov forward error
    err = np.linalg.norm(A - (D + Q) @ U, 2) / np.linalg.norm(A, 2)
    tol = 100 * ou.n * EPS * np.linalg.cond(B) * lyapunov_operator_cond(A)
    assert err <= tol


def test_decomposition_of_symmetric_drift_has_detailed_balance():
    # A symmetric and D = A (Gibbs case): U = I, Q = 0, no probability current
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    ou = OUProcess(A, A)
    Q, U = ou.decompose()
    np.testing.assert_allclose(U, np.eye(2), atol=50 * EPS)
    np.testing.assert_allclose(Q, 0.0, atol=50 * EPS)
    np.testing.assert_allclose(ou.current(np.array([0.3, -0.2])), 0.0, atol=50 * EPS)


def test_unstable_drift_is_named():
    with pytest.raises(UnstableDriftError, match="not stable.*eigenvalue"):
        OUProcess(np.diag([1.0, -0.5]), np.eye(2)).lyapunov()
    with pytest.raises(UnstableDriftError, match="not stable"):
        OUProcess(np.diag([1.0, 0.0]), np.eye(2)).decompose()
    # a pure rotation: eigenvalues +- i, real part 0
    with pytest.raises(UnstableDriftError):
        OUProcess([[0.0, -1.0], [1.0, 0.0]], np.eye(2)).stationary_cov()


def test_uncontrollable_noise_is_named():
    # D reaches only the first coordinate and A does not couple them: B = diag(., 0)
    ou = OUProcess(np.diag([1.0, 2.0]), np.diag([1.0, 0.0]))
    with pytest.raises(NotControllableError, match="not controllable"):
        ou.decompose()
    # ... but coupling through A makes it controllable (the SGD situation)
    OUProcess([[0.0, -1.0], [1.0, 1.0]], np.diag([0.0, 1.0])).decompose()


def test_bad_inputs():
    with pytest.raises(ShapeError, match="A must be square"):
        OUProcess(np.ones((2, 3)), np.eye(2))
    with pytest.raises(ShapeError, match="D must be 2 x 2"):
        OUProcess(np.eye(2), np.eye(3))
    with pytest.raises(NonFiniteError, match="A contains NaN"):
        OUProcess([[np.nan, 0.0], [0.0, 1.0]], np.eye(2))
    with pytest.raises(NotPositiveDefiniteError, match="D must be positive semi-definite"):
        OUProcess(np.eye(2), np.diag([1.0, -1e-3]))
    with pytest.raises(HyperparameterError, match="kappa"):
        OUProcess(np.eye(2), np.eye(2), kappa=0.0)
    with pytest.raises(ShapeError, match="mu must have shape"):
        OUProcess(np.eye(2), np.eye(2), mu=np.ones(3))
    with pytest.raises(ShapeError, match="time must be >= 0"):
        OUProcess(np.eye(2), np.eye(2)).cov(time=-1.0)


@settings(max_examples=15)
@given(ou_processes(n_max=4), st.floats(0.01, 3.0))
def test_mean_matches_ode_solution(ou, t):
    x0 = np.linspace(-1.0, 2.0, ou.n)
    sol = scipy.integrate.solve_ivp(
        lambda _, x: -ou.A @ (x - ou.mu), (0.0, t), x0, rtol=1e-12, atol=1e-14, method="DOP853"
    )
    # the ODE solver's own tolerance dominates: rtol 1e-12 over O(1) states, 1e3 margin
    np.testing.assert_allclose(
        ou.mean(time=t, x0=x0), sol.y[:, -1], atol=1e-9 * (1 + np.abs(x0).max())
    )


@settings(max_examples=15)
@given(ou_processes(n_max=3), st.floats(0.01, 2.0))
def test_cov_matches_quadrature(ou, t):
    def integrand(s):
        E = scipy.linalg.expm(-ou.A * s)
        return E @ (2 * ou.D / ou.kappa) @ E.T

    ref, _ = scipy.integrate.quad_vec(integrand, 0.0, t, epsabs=1e-13, epsrel=1e-11)
    # quad_vec's requested accuracy (1e-11 relative), 100x margin
    np.testing.assert_allclose(ou.cov(time=t), ref, atol=1e-9 * np.abs(ref).max())


@given(ou_processes(), st.floats(1e-3, 50.0))
def test_cov_agrees_with_lyapunov_form(ou, t):
    B = ou.lyapunov()
    E = scipy.linalg.expm(-ou.A * t)
    ref = (B - E @ B @ E.T) / ou.kappa
    C = ou.cov(time=t)
    # the reference subtracts two O(||B||) terms: its error is eps ||B|| cond-scaled
    tol = 100 * ou.n * EPS * np.linalg.norm(B, 2) / ou.kappa * lyapunov_operator_cond(ou.A)
    assert np.abs(C - ref).max() <= tol * max(1.0, np.linalg.norm(E, 2) ** 2)


def test_cov_small_and_large_time():
    ou = OUProcess([[1.0, -3.0], [2.0, 0.5]], [[0.2, 0.0], [0.0, 1.0]], kappa=2.0)
    # small t: C(t) = 2 D t / kappa + O(t^2); at t = 1e-9 the O(t^2) term is 1e-9 relative
    t = 1e-9
    np.testing.assert_allclose(ou.cov(time=t), 2 * ou.D * t / ou.kappa, rtol=1e-8, atol=1e-8 * t)
    # large t (the doubling path, ||A|| t = 1e4): the stationary covariance
    np.testing.assert_allclose(ou.cov(time=2000.0), ou.stationary_cov(), rtol=1e-12)


def test_cov_of_unstable_process_grows():
    # no stationary law, but finite-time moments exist: 1-D dX = +X dt + sqrt(2) dW
    ou = OUProcess([[-1.0]], [[1.0]])
    t = 3.0
    # Var X_t = int_0^t e^{2s} 2 ds = e^{2t} - 1
    np.testing.assert_allclose(ou.cov(time=t)[0, 0], np.expm1(2 * t), rtol=1e-12)


@given(ou_processes(n_max=4), st.floats(0.0, 2.0), st.floats(0.0, 2.0))
def test_cross_cov_structure(ou, t, s):
    C_ts, C_st = ou.cross_cov(time=t, time2=s), ou.cross_cov(time=s, time2=t)
    # Cov(X_t, X_s) = Cov(X_s, X_t)^T: the two branches of the formula, to rounding
    scale = np.abs(C_ts).max() + np.abs(ou.cov(time=max(t, s))).max()
    np.testing.assert_allclose(C_ts, C_st.T, atol=1e3 * EPS * scale)
    np.testing.assert_allclose(
        ou.cross_cov(time=t, time2=t), ou.cov(time=t), atol=1e3 * EPS * scale
    )


@given(ou_processes(n_max=4), st.floats(-3.0, 3.0))
def test_stationary_cross_cov_is_the_long_time_limit(ou, tau):
    # Cov(X_t, X_{t+tau}) from a fixed start tends to the stationary one as t -> infinity
    t = 60.0 / np.min(np.real(np.linalg.eigvals(ou.A)))
    ref = ou.cross_cov(time=t, time2=t + tau) if tau >= 0 else ou.cross_cov(time=t - tau, time2=t).T
    ref = ref if tau >= 0 else ref.T
    scale = np.abs(ou.stationary_cov()).max()
    # e^{-60} memory of the start, plus rounding of the transient path
    np.testing.assert_allclose(ou.stationary_cross_cov(time=tau), ref, atol=1e-10 * scale)


def test_density_and_potential_match_scipy_gaussian():
    ou = OUProcess([[0.5, -1.0], [1.0, 0.3]], [[0.3, 0.1], [0.1, 0.4]], kappa=3.0, mu=[1.0, -1.0])
    x = np.array([[0.1, 0.2], [1.0, -1.0], [2.0, 0.5]])
    ref = scipy.stats.multivariate_normal(ou.mu, ou.stationary_cov())
    np.testing.assert_allclose(ou.stationary_density(x), ref.pdf(x), rtol=1e-12)
    # p_ss ~ exp(-kappa Psi): log p + kappa Psi is constant
    c = ref.logpdf(x) + ou.kappa * ou.modified_potential(x)
    np.testing.assert_allclose(c, c[0], rtol=1e-12)


@given(ou_processes(n_max=4), seeds)
def test_current_is_divergence_free_and_orthogonal_to_grad_psi(ou, seed):
    x = ou.mu + np.random.default_rng(seed).standard_normal(ou.n) * np.sqrt(
        np.diag(ou.stationary_cov())
    )
    J = ou.current(x)
    U = ou.decompose()[1]
    grad_psi = U @ (x - ou.mu)
    # J . grad Psi = -p (x-mu)^T U Q U (x-mu) = 0 since U Q U is skew: rounding only
    assert abs(J @ grad_psi) <= 1e3 * EPS * np.linalg.norm(J) * np.linalg.norm(grad_psi) + 1e-300
    # divergence by central differences, h = 1e-4 of the stationary scale: each term has
    # truncation error O(h^2) = 1e-8 of its size, and rounding O(eps |J| / h)
    h = 1e-4 * np.sqrt(np.min(np.diag(ou.stationary_cov())))
    terms = [
        (ou.current(x + h * e)[i] - ou.current(x - h * e)[i]) / (2 * h)
        for i, e in enumerate(np.eye(ou.n))
    ]
    J_max = max(np.abs(ou.current(x + s * h * e)).max() for e in np.eye(ou.n) for s in (-1, 1))
    assert abs(sum(terms)) <= 1e-6 * sum(abs(t) for t in terms) + 1e3 * EPS * J_max / h


@pytest.mark.montecarlo
def test_sample_moments_match_exact_law():
    ou = OUProcess([[0.5, -1.0], [1.0, 0.3]], [[0.3, 0.1], [0.1, 0.4]], kappa=3.0, mu=[1.0, -1.0])
    x0 = np.array([2.0, 0.0])
    t = np.array([0.3, 1.0, 1.0, 4.0])  # a repeated time (zero step) must not move the state
    M = 40000
    X = ou.sample(x0, time=t, n_paths=M, seed=12345)
    np.testing.assert_array_equal(X[1], X[2])
    for j, tj in enumerate(t):
        m, C = ou.mean(time=tj, x0=x0), ou.cov(time=tj)
        z_mean = (X[j].mean(0) - m) / np.sqrt(np.diag(C) / M)
        # sample variance of a Gaussian: standard error sqrt(2/M) * variance
        z_var = (X[j].var(0, ddof=1) - np.diag(C)) / (np.sqrt(2.0 / M) * np.diag(C))
        # 16 z-scores in this test: |z| < 4.5 has family-wise false-alarm rate < 1e-4
        assert np.all(np.abs(z_mean) < 4.5) and np.all(np.abs(z_var) < 4.5)
    # exact transitions: the lag-(1 - 0.3) cross-covariance along the paths
    c_emp = np.mean((X[0] - X[0].mean(0))[:, 0] * (X[1] - X[1].mean(0))[:, 1])
    c_th = ou.cross_cov(time=0.3, time2=1.0)[0, 1]
    # |se| bound for a product of Gaussians
    se = np.sqrt(ou.cov(time=0.3)[0, 0] * ou.cov(time=1.0)[1, 1] / M)
    assert abs(c_emp - c_th) < 4.5 * se


@pytest.mark.montecarlo
def test_sample_from_stationary_law():
    ou = OUProcess([[1.0, -2.0], [2.0, 1.0]], [[1.0, 0.0], [0.0, 0.5]], mu=[0.5, 0.5])
    M = 40000
    X = ou.sample(None, time=[0.0, 0.7], n_paths=M, seed=7)
    P = ou.stationary_cov()
    for j in range(2):
        z = (X[j].var(0, ddof=1) - np.diag(P)) / (np.sqrt(2.0 / M) * np.diag(P))
        assert np.all(np.abs(z) < 4.5)  # 4 z-scores
