"""dynlab.traces: scalar forms of eq. 12 and the displacement, Lanczos quadrature of tr(f(H) Sigma).

References are independent of the code under test: dense numpy (eigh of H, traces of products
of full matrices), dynlab.sgd.SGDPhaseSpace (full-matrix Lyapunov / Stein solutions) and Monte
Carlo with a known Sigma.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab.errors import HyperparameterError, ShapeError
from dynlab.hyper import HeavyBall
from dynlab.sgd import SGDPhaseSpace
from dynlab.traces import (
    displacement_weight,
    gauss_rules,
    lanczos_quadrature,
    noise_trace,
    speed_from_trace,
    speed_weight,
    trace_from_speed,
)

EPS = np.finfo(float).eps


def _problem(seed, d=8):
    """A random H (eigenvalues in [0.05, 3]) and a Sigma that does NOT commute with it."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    rho = np.geomspace(3.0, 0.05, d)
    L = rng.standard_normal((d, d)) / np.sqrt(d)
    return Q @ np.diag(rho) @ Q.T, L @ L.T + 0.01 * np.eye(d), rho, Q


@pytest.mark.parametrize("momentum", [0.0, 0.9, 0.99])
def test_speed_from_trace_is_dynlabs_sde_speed_and_inverts(momentum):
    H, Sigma, _, _ = _problem(0)
    hp = HeavyBall(lr=0.01, momentum=momentum, batch_size=16)
    m = SGDPhaseSpace(H, lr=0.01, momentum=momentum, batch_size=16, noise_cov=Sigma)
    # rounding: a few eps relative (two products and a division)
    assert speed_from_trace(hp, np.trace(Sigma)) == pytest.approx(m.speed(), rel=64 * EPS)
    assert trace_from_speed(hp, m.speed()) == pytest.approx(np.trace(Sigma), rel=64 * EPS)


def test_speed_from_trace_broadcasts_over_a_sweep():
    hp = HeavyBall(lr=np.array([1e-3, 3e-3]), momentum=0.9, batch_size=np.array([[64], [256]]))
    out = speed_from_trace(hp, 2.0)
    assert out.shape == (2, 2)
    assert out[1, 1] == pytest.approx(3e-3**2 * 2.0 / (256 * (1 - 0.81)), rel=1e-13)


@pytest.mark.parametrize("exact", [True, False])
def test_trace_weights_reproduce_the_full_model_for_a_non_commuting_sigma(exact):
    """tr(f(H) Sigma) with dense f(H) = Q f(rho) Q^T equals the full model's speed/displacement.

    For the exact recursion the speed depends only on diag(Q^T Sigma Q) (the mode covariance
    is linear in Sigma and the traces pick its diagonal blocks); SGDPhaseSpace solves the full
    Stein equation, so this is an independent check of that claim.
    """
    H, Sigma, rho, Q = _problem(1)
    hp = HeavyBall(lr=0.05, momentum=0.8, batch_size=4)
    m = SGDPhaseSpace(H, lr=0.05, momentum=0.8, batch_size=4, noise_cov=Sigma)
    fH = Q @ np.diag(speed_weight(rho, hp, exact=exact)) @ Q.T
    cond = np.linalg.cond(H)
    assert np.trace(fH @ Sigma) == pytest.approx(m.speed(exact=exact), rel=1e3 * cond * EPS)
    k = np.array([1, 7, 50, 400])
    W = displacement_weight(k, rho, hp, exact=exact)
    got = [np.trace(Q @ np.diag(w) @ Q.T @ Sigma) for w in W]
    np.testing.assert_allclose(got, m.displacement(steps=k, exact=exact), rtol=1e3 * cond * EPS)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 25), m=st.integers(1, 4))
def test_lanczos_quadrature_is_exact_with_n_steps_equal_to_the_dimension(seed, n, m):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    H = (A + A.T) / 2  # indefinite allowed
    Z = rng.standard_normal((m, n))
    w, U = np.linalg.eigh(H)

    def f(x):
        return np.stack([np.cos(x), x**2], axis=-1)

    dense = np.einsum("mi,ik,mi->mk", Z @ U, f(w), Z @ U)
    got = lanczos_quadrature(lambda v: H @ v, Z, f, n_steps=n)
    scale = np.sum(Z**2, axis=1)[:, None] * (1 + np.abs(w).max() ** 2)
    # rounding: reorthogonalized Lanczos and eigh are backward stable, error O(n eps ||z||^2 ||f||)
    assert np.all(np.abs(got - dense) <= 1e3 * n * EPS * scale)


def test_lanczos_quadrature_is_exact_for_low_degree_polynomials():
    """Gauss quadrature with j nodes integrates polynomials up to degree 2j - 1 exactly."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((40, 40))
    H = A @ A.T / 40
    Z = rng.standard_normal((2, 40))
    exact = np.einsum("mi,ij,mj->m", Z, np.linalg.matrix_power(H, 5), Z)
    assert np.allclose(lanczos_quadrature(lambda v: H @ v, Z, lambda x: x**5, 3), exact, rtol=1e-9)
    # and it is not exact below that degree (the test can fail):
    assert not np.allclose(lanczos_quadrature(lambda v: H @ v, Z, lambda x: x**5, 2), exact)


def test_noise_trace_recovers_a_non_commuting_sigma_monte_carlo():
    H, Sigma, rho, Q = _problem(2, d=10)
    hp = HeavyBall(lr=0.05, momentum=0.9, batch_size=8)
    rng = np.random.default_rng(7)
    M = 3000
    g = rng.multivariate_normal(np.zeros(10), Sigma / 8, size=M) + 0.3  # a mean gradient
    k = np.array([5, 100])

    def f(x):
        return displacement_weight(k, np.clip(x, 0.0, None), hp).T  # nodes -> (nodes, len(k))

    rules = gauss_rules(lambda v: H @ v, g - g.mean(0), n_steps=10)
    est = noise_trace(*rules, f, batch_size=8, n_centred=M)
    exact = [np.trace(Q @ np.diag(w) @ Q.T @ Sigma) for w in displacement_weight(k, rho, hp)]
    z = (est.value - exact) / est.se
    assert np.all(np.abs(z) <= 4.0), z  # Monte Carlo: z-score of the mean over M probes


def test_bad_inputs_name_the_argument():
    hp = HeavyBall(lr=0.1)
    with pytest.raises(ShapeError, match="probes"):
        lanczos_quadrature(lambda v: v, np.zeros(3), np.exp, 2)
    with pytest.raises(ShapeError, match="n_steps"):
        lanczos_quadrature(lambda v: v, np.ones((1, 3)), np.exp, 0)
    with pytest.raises(ShapeError, match="matvec"):
        lanczos_quadrature(lambda v: v[:2], np.ones((1, 3)), np.exp, 2)
    with pytest.raises(ShapeError, match="probes"):
        noise_trace(np.ones((1, 3)), np.ones((1, 3)), np.exp, batch_size=1, n_centred=5)
    with pytest.raises(HyperparameterError, match="speed_weight"):
        speed_weight([1.0], HeavyBall(lr=[0.1, 0.2]))
    assert lanczos_quadrature(lambda v: v, np.zeros((1, 3)), np.exp, 2)[0] == 0.0
    assert displacement_weight(0, [1.0], hp)[0] == 0.0
