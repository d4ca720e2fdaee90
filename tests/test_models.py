"""Problem definitions: losses, gradients and noise covariances against direct formulas."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynlab import config
from dynlab.errors import NonFiniteError, NotPositiveDefiniteError, NotSymmetricError, ShapeError
from dynlab.models import LinearRegressionProblem, QuadraticProblem, synthetic_regression
from dynlab.testing.strategies import psd_matrices, seeds, spd_matrices


@given(spd_matrices(4), seeds)
def test_quadratic_grad_is_derivative_of_loss(H, seed):
    rng = np.random.default_rng(seed)
    b = rng.standard_normal(4)
    p = QuadraticProblem(H, b)
    theta = rng.standard_normal(4)
    # central differences: error O(h^2 ||third derivative||) = 0 for a quadratic, so only
    # rounding remains: |L| eps / h, with h = 1e-3 and |L| <= ~1e2 here.
    h = 1e-3
    fd = np.array([(p.loss(theta + h * e) - p.loss(theta - h * e)) / (2 * h) for e in np.eye(4)])
    scale = (
        np.abs(p.loss(theta))
        + np.abs(theta) @ np.abs(H) @ np.abs(theta)
        + np.abs(b) @ np.abs(theta)
    )
    np.testing.assert_allclose(fd, p.grad(theta), atol=100 * config.EPS * scale / h)


def test_scalar_noise_cov_means_sigma2_times_H():
    H = np.diag([3.0, 1.0])
    assert np.array_equal(QuadraticProblem(H, noise_cov=("hessian", 0.5)).noise_cov, 0.5 * H)


@given(psd_matrices(5))
def test_noise_factor_squares_to_noise_cov(S):
    p = QuadraticProblem(np.eye(5), noise_cov=S)
    L = p.noise_factor
    # eigh backward error: O(n eps ||S||)
    np.testing.assert_allclose(L @ L.T, S, atol=50 * 5 * config.EPS * np.linalg.norm(S, 2))
    np.testing.assert_array_equal(L, L.T)  # the symmetric root, exactly (dynlab._linalg.psd_sqrt)


def test_spectrum_is_descending_and_reconstructs_H():
    H = np.array([[2.0, 1.0], [1.0, 3.0]])
    rho, q = QuadraticProblem(H).spectrum
    assert rho[0] > rho[1]
    np.testing.assert_allclose((q * rho) @ q.T, H, atol=10 * config.EPS * 4)


def test_minimizer_rejects_singular_hessian():
    with pytest.raises(NotPositiveDefiniteError, match="singular"):
        QuadraticProblem(np.diag([1.0, 0.0]), np.ones(2)).minimizer()
    mu = QuadraticProblem(np.diag([1.0, 0.0]), np.ones(2)).minimizer(weight_decay=0.5)
    np.testing.assert_allclose(mu, [1 / 1.5, 1 / 0.5])


def test_bad_inputs_name_the_problem():
    with pytest.raises(NotSymmetricError, match="H must be symmetric"):
        QuadraticProblem([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(NotPositiveDefiniteError, match="H must be positive semi-definite"):
        QuadraticProblem(np.diag([1.0, -1.0]))
    with pytest.raises(NonFiniteError, match="b contains NaN"):
        QuadraticProblem(np.eye(2), [np.nan, 0.0])
    with pytest.raises(ShapeError, match=r"b must have shape \(2,\)"):
        QuadraticProblem(np.eye(2), np.ones(3))
    with pytest.raises(NotPositiveDefiniteError, match="noise_cov"):
        QuadraticProblem(np.eye(2), noise_cov=np.diag([1.0, -0.1]))
    with pytest.raises(ShapeError, match="Y must have shape"):
        LinearRegressionProblem(np.ones((4, 2)), np.ones(3))


@given(seeds, st.integers(2, 6))
def test_linear_regression_matches_direct_formulas(seed, d):
    rng = np.random.default_rng(seed)
    N = 50
    X, Y = rng.standard_normal((N, d)), rng.standard_normal(N)
    p = LinearRegressionProblem(X, Y)
    theta = rng.standard_normal(d)
    r = Y - X @ theta
    scale = (np.abs(Y) + np.abs(X) @ np.abs(theta)) ** 2
    tol = 20 * d * config.EPS * scale.mean()
    np.testing.assert_allclose(p.loss(theta), r @ r / (2 * N), atol=tol)
    np.testing.assert_allclose(
        p.loss(theta), 0.5 * theta @ p.H @ theta - p.b @ theta + p.c, atol=tol
    )
    # Sigma(theta) from an explicit loop over samples
    G = np.array([X[i] * (X[i] @ theta - Y[i]) for i in range(N)])
    Sigma = np.cov(G.T, bias=True)
    np.testing.assert_allclose(
        p.gradient_noise_cov(theta), Sigma, atol=tol * np.abs(X).max() ** 2 * 10
    )


def test_gradient_noise_vanishes_without_label_noise():
    p = synthetic_regression(512, 8, noise_std=0.0, seed=1)
    S = p.gradient_noise_cov()
    # residuals at the minimizer are rounding-level: |r| ~ eps |Y| cond(X)
    assert np.linalg.norm(S, 2) < 1e-20 * np.linalg.norm(p.H, 2)


def test_synthetic_regression_is_reproducible_and_anisotropic():
    a = synthetic_regression(256, 16, decay=2.0, seed=3)
    b = synthetic_regression(256, 16, decay=2.0, seed=3)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.Y, b.Y)
    rho = np.linalg.eigvalsh(a.H)
    assert rho[-1] / rho[0] > 16.0  # population condition number 16^2 = 256
