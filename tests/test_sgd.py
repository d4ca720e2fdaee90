"""SGDPhaseSpace: fast eigenbasis paths against scipy's generic solvers, closed forms against the
general route, and the exact discrete predictions against Monte Carlo of the optimizer."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab import config
from dynlab.errors import (
    HyperparameterError,
    NonFiniteError,
    NotControllableError,
    NotPositiveDefiniteError,
    ShapeError,
    StabilityRegionError,
    UnstableDriftError,
)
from dynlab.hyper import HeavyBall
from dynlab.models import synthetic_regression
from dynlab.ou_process import OUProcess
from dynlab.sgd import SGDPhaseSpace
from dynlab.testing.strategies import critical_setups, sgd_setups

EPS = config.EPS


def stein_cond(F):
    n = F.shape[0]
    return np.linalg.cond(np.eye(n * n) - np.kron(F, F))


def lyap_cond(A):
    n = A.shape[0]
    return np.linalg.cond(np.kron(np.eye(n), A) + np.kron(A, np.eye(n)))


@given(sgd_setups(3))
def test_lyapunov_eigenbasis_path_matches_scipy(kw):
    m = SGDPhaseSpace(**kw)
    B = m.lyapunov()
    A, D = m.ou.A, m.ou.D
    ref = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    # both solutions carry forward error <= eps * cond(Lyapunov operator) (x n, x 100 margin)
    tol = 100 * 6 * EPS * lyap_cond(A)
    assert np.linalg.norm(B - ref, 2) <= tol * np.linalg.norm(ref, 2)
    # and the fast path's own residual is at rounding level relative to the terms
    scale = 2 * np.linalg.norm(A, 2) * np.linalg.norm(B, 2) + 2 * np.linalg.norm(D, 2)
    assert np.linalg.norm(A @ B + B @ A.T - 2 * D, 2) <= 100 * 6 * EPS * scale * np.linalg.cond(
        m.H + (m.weight_decay + 1e-300) * np.eye(3)
    )


@given(sgd_setups(3, noise="scalar"))
def test_closed_form_decomposition_matches_general_route(kw):
    m = SGDPhaseSpace(**kw)
    assert m.commutes
    Q, U = m.decompose()
    Qg, Ug = OUProcess(m.ou.A, m.ou.D, kappa=m.kappa, mu=np.r_[m.mu, np.zeros(3)]).decompose()
    B = m.lyapunov()
    # the general route inverts the Schur-solved B: error eps * cond(B) * cond(Lyapunov operator)
    tol = 1e3 * EPS * np.linalg.cond(B) * lyap_cond(m.ou.A)
    assert np.linalg.norm(U - Ug, 2) <= tol * np.linalg.norm(U, 2)
    assert np.linalg.norm(Q - Qg, 2) <= tol * np.linalg.norm(Q, 2)
    # A = (D + Q) U exactly in the closed form, to rounding of the products
    A = m.ou.A
    assert np.linalg.norm(A - (m.ou.D + Q) @ U, 2) <= 1e3 * EPS * np.linalg.norm(
        A, 2
    ) * np.linalg.cond(m.H + m.weight_decay * np.eye(3))


@given(sgd_setups(3, noise="matrix"))
def test_general_noise_decomposition(kw):
    m = SGDPhaseSpace(**kw)
    Q, U = m.decompose()
    A, D, B = m.ou.A, m.ou.D, m.lyapunov()
    np.testing.assert_array_equal(Q, -Q.T)
    tol = 1e3 * EPS * np.linalg.cond(B) * lyap_cond(A)
    assert np.linalg.norm(A - (D + Q) @ U, 2) <= tol * np.linalg.norm(A, 2)


@given(sgd_setups(3))
def test_stein_eigenbasis_path_matches_scipy(kw):
    m = SGDPhaseSpace(**kw)
    F, G, N = m.discrete.F, m.discrete.G, m.discrete.noise_cov
    ref = scipy.linalg.solve_discrete_lyapunov(F, G @ N @ G.T)
    P = m.discrete.stationary_cov()
    # forward error <= eps * cond(I - F (x) F), both solvers, 1e3 margin
    assert np.linalg.norm(P - ref, 2) <= 1e3 * EPS * stein_cond(F) * np.linalg.norm(ref, 2)


@given(sgd_setups(3))
def test_speed_and_equipartition_against_scipy_solutions(kw):
    m = SGDPhaseSpace(**kw)
    d = 3
    F, G, N = m.discrete.F, m.discrete.G, m.discrete.noise_cov
    P = scipy.linalg.solve_discrete_lyapunov(F, G @ N @ G.T)
    B = scipy.linalg.solve_continuous_lyapunov(m.ou.A, 2 * m.ou.D) / m.kappa
    tol_exact = 1e3 * EPS * stein_cond(F)
    tol_sde = 1e3 * EPS * lyap_cond(m.ou.A)
    assert m.speed(exact=True) == pytest.approx(m.lr**2 * np.trace(P[d:, d:]), rel=tol_exact)
    assert m.speed() == pytest.approx(m.lr**2 * np.trace(B[d:, d:]), rel=tol_sde)
    K = m.H + m.weight_decay * np.eye(d)
    mass = m.lr * (1 + m.momentum) / 2
    for exact, C, tol in ((True, P, tol_exact), (False, B, tol_sde)):
        eq = m.equipartition(exact=exact)
        assert eq.mass == mass
        assert eq.potential == pytest.approx(0.5 * np.trace(K @ C[:d, :d]), rel=tol)
        assert eq.kinetic == pytest.approx(0.5 * mass * np.trace(C[d:, d:]), rel=tol)
        assert eq.kinetic == pytest.approx(eq.potential, rel=100 * EPS)  # the identity itself
    # the SDE constant re-derived for appendix G.3: lr tr(Sigma) / (4 S (1 - beta))
    const = m.lr * np.trace(m.noise_cov) / (4 * m.batch_size * (1 - m.momentum))
    assert m.equipartition().potential == pytest.approx(const, rel=100 * EPS)


@settings(max_examples=25)
@given(sgd_setups(3), st.lists(st.integers(1, 3000), min_size=1, max_size=4))
def test_displacement_against_matrix_powers_and_expm(kw, ks):
    m = SGDPhaseSpace(**kw)
    d = 3
    k = np.array(ks)
    F, G, N = m.discrete.F, m.discrete.G, m.discrete.noise_cov
    P = scipy.linalg.solve_discrete_lyapunov(F, G @ N @ G.T)
    ref = np.array(
        [
            2 * np.trace(P[:d, :d]) - 2 * np.trace((np.linalg.matrix_power(F, j) @ P)[:d, :d])
            for j in ks
        ]
    )
    got = m.displacement(steps=k, exact=True)
    # the reference subtracts O(tr P) terms: error eps * tr P * (cond(Stein) + k ||F||^k growth)
    tol = (
        1e3
        * EPS
        * np.trace(P[:d, :d])
        * (stein_cond(F) + k * np.linalg.norm(F, 2) ** np.minimum(k, 50))
    )
    assert np.all(np.abs(got - ref) <= tol)
    Bk = scipy.linalg.solve_continuous_lyapunov(m.ou.A, 2 * m.ou.D)
    ref_sde = np.array(
        [
            2
            / m.kappa
            * np.trace(Bk[:d, :d] - (Bk @ scipy.linalg.expm(-m.ou.A.T * m.lr * j))[:d, :d])
            for j in ks
        ]
    )
    tol = (
        1e3
        * EPS
        * np.trace(Bk[:d, :d])
        / m.kappa
        * lyap_cond(m.ou.A)
        * (1 + np.abs(m.ou.A).max() * m.lr * k)
    )
    assert np.all(np.abs(m.displacement(steps=k) - ref_sde) <= tol)


@given(sgd_setups(4))
def test_displacement_small_and_large_lags(kw):
    m = SGDPhaseSpace(**kw)
    # one step of the recursion: E||theta_1 - theta_0||^2 = lr^2 tr P_vv, i.e. the exact speed,
    # through an independent path (recursion u_1 = e / (1 + beta) vs the Stein blocks)
    assert m.displacement(steps=1, exact=True) == pytest.approx(m.speed(exact=True), rel=50 * EPS)
    # SDE at t -> 0: E||Delta||^2 / t^2 -> tr(Sigma) / kappa, with no cancellation in the series
    k = 1e-7
    assert m.displacement(steps=k) / (m.lr * k) ** 2 == pytest.approx(
        np.trace(m.noise_cov) / m.kappa, rel=1e-5
    )
    # saturation at 2 tr Var(theta)
    big = 1e9
    for exact in (False, True):
        P = m.stationary_cov(exact=exact)
        sat = 2 * np.trace(P[:4, :4])
        # decays like (spectral radius)^k; at k = 1e9 only modes with 1 - r < 1e-7 are not saturated
        if np.max(m.modes.spectral_radius) < 1 - 1e-7:
            assert m.displacement(steps=np.array(big), exact=exact) == pytest.approx(sat, rel=1e-6)


@given(sgd_setups(3), st.integers(2, 2000))
def test_diffusion_exponent(kw, k):
    m = SGDPhaseSpace(**kw)
    # SDE: analytic derivative vs a central difference of log D in log k (h = 1e-5:
    # truncation 1e-10, rounding eps / h ~ 1e-11 relative)
    h = 1e-5
    fd = (np.log(m.displacement(steps=k * (1 + h))) - np.log(m.displacement(steps=k * (1 - h)))) / (
        np.log1p(h) - np.log1p(-h)
    )
    c = m.diffusion_exponent(steps=k)
    assert abs(c - fd) <= 1e-6 * (1 + abs(c))
    # exact: the centred secant on the integer grid
    D = m.displacement(steps=np.array([k - 1, k + 1]), exact=True)
    assert m.diffusion_exponent(steps=k, exact=True) == pytest.approx(
        np.log(D[1] / D[0]) / np.log((k + 1) / (k - 1)), rel=1e-12
    )
    # ballistic start: c -> 2 as t -> 0
    assert m.diffusion_exponent(steps=1e-6) == pytest.approx(2.0, abs=1e-4)


@settings(max_examples=25)
@given(sgd_setups(3), st.lists(st.integers(0, 400), min_size=1, max_size=5))
def test_mean_trajectories(kw, ks):
    m = SGDPhaseSpace(**kw)
    rng = np.random.default_rng(0)
    th0, v0 = rng.standard_normal(3), rng.standard_normal(3)
    z0 = np.r_[th0, v0]
    k = np.array(ks)
    th, v = m.mean(steps=k, theta0=th0, v0=v0)
    ref = m.ou.mean(time=m.lr * k, x0=z0)
    scale = 1 + np.abs(z0).max() + np.abs(m.mu).max()
    # expm of a (2d x 2d) drift: error eps * ||A t|| growth; closed forms: eps * cond(H + lambda)
    tol = (
        1e3
        * EPS
        * scale
        * (1 + np.abs(m.ou.A).max() * m.lr * k.max())
        * np.linalg.cond(m.H + m.weight_decay * np.eye(3))
    )
    np.testing.assert_allclose(np.concatenate([th, v], -1), ref, atol=tol)
    th_e, v_e = m.mean(steps=k, theta0=th0, v0=v0, exact=True)
    zs = m.discrete.stationary_mean()
    ref_e = np.array([zs + np.linalg.matrix_power(m.discrete.F, j) @ (z0 - zs) for j in ks])
    tol = (
        1e3
        * EPS
        * scale
        * (k.max() + 1)
        * np.linalg.norm(m.discrete.F, 2) ** min(k.max(), 60)
        * np.linalg.cond(m.H + m.weight_decay * np.eye(3))
    )
    np.testing.assert_allclose(np.concatenate([th_e, v_e], -1), ref_e, atol=tol)


@given(critical_setups(3))
def test_critical_damping_mean_is_continuous(kw):
    m = SGDPhaseSpace(**kw)
    assert m.modes.zeta[0] == pytest.approx(1.0, abs=1e-12)
    th0 = m.q[:, 0]  # excite the critical mode only
    k = np.array([1, 10, 100, 1000])
    th, _ = m.mean(steps=k, theta0=th0 + m.mu)
    gamma = m.modes.gamma
    t = m.lr * k
    a_crit = np.exp(-gamma * t) * (1 + gamma * t)  # a0 = 1, b0 = 0 at omega = gamma
    # zeta - 1 = O(eps cond) from the eigendecomposition; a depends smoothly on it
    np.testing.assert_allclose(th @ m.q[:, 0] - m.mu @ m.q[:, 0], a_crit, atol=1e-9)


@given(sgd_setups(3), st.integers(0, 50))
def test_discrete_cross_cov_and_cov(kw, k):
    m = SGDPhaseSpace(**kw)
    F, G, N = m.discrete.F, m.discrete.G, m.discrete.noise_cov
    P = scipy.linalg.solve_discrete_lyapunov(F, G @ N @ G.T)
    Fk = np.linalg.matrix_power(F, k)
    scale = np.linalg.norm(P, 2) * max(1.0, np.linalg.norm(Fk, 2)) ** 2 * stein_cond(F)
    np.testing.assert_allclose(
        m.discrete.stationary_cross_cov(steps=k), P @ Fk.T, atol=1e3 * EPS * scale
    )
    np.testing.assert_allclose(m.discrete.cov(steps=k), P - Fk @ P @ Fk.T, atol=1e3 * EPS * scale)


def test_mode_frequencies_and_modes_record():
    H = np.diag([4.0, 1.0, 1e-3])
    m = SGDPhaseSpace(H, lr=0.2, momentum=0.9, noise_cov=("hessian", 1.0))
    md = m.modes
    np.testing.assert_array_equal(md.rho, [4.0, 1.0, 1e-3])
    assert md.gamma == pytest.approx(0.1 / (0.2 * 1.9))
    np.testing.assert_allclose(md.omega, np.sqrt(2 * md.rho / (0.2 * 1.9)), rtol=4 * EPS)
    assert list(md.regime) == ["under", "under", "over"]
    assert m.discrete.spectral_radius == pytest.approx(
        max(np.abs(np.linalg.eigvals(m.discrete.F))), rel=1e-7
    )


def test_modified_loss_is_isotropic_on_range_of_H_without_weight_decay():
    # seed 003 eq. 10: with Sigma = sigma2 H and lambda = 0,
    # Psi_theta = |theta - mu|^2 / (lr (1+beta) sigma2)
    rng = np.random.default_rng(3)
    Qm = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    H = (Qm * np.array([10.0, 1.0, 0.1, 0.01])) @ Qm.T
    lr, beta, s2 = 0.05, 0.9, 0.3
    m = SGDPhaseSpace(H, rng.standard_normal(4), lr=lr, momentum=beta, noise_cov=("hessian", s2))
    dth = rng.standard_normal((5, 4))
    psi = m.modified_loss(m.mu + dth, 0.0)
    np.testing.assert_allclose(psi, np.sum(dth**2, -1) / (lr * (1 + beta) * s2), rtol=1e-12)
    v = rng.standard_normal((5, 4))
    np.testing.assert_allclose(
        m.modified_loss(m.mu, v),
        0.5 * np.einsum("ni,ij,nj->n", v, np.linalg.inv(H), v) / s2,
        rtol=1e-10,
    )
    psi_t, psi_v = m.modified_loss_terms(m.mu + dth, v)
    np.testing.assert_allclose(psi_t + psi_v, m.modified_loss(m.mu + dth, v), rtol=1e-13)
    np.testing.assert_allclose(psi_t, np.sum(dth**2, -1) / (lr * (1 + beta) * s2), rtol=1e-12)
    general = SGDPhaseSpace(H, lr=lr, momentum=beta, noise_cov=np.diag([1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(NotControllableError, match="does not commute"):
        general.modified_loss_terms(dth, v)


def test_from_data_estimates_noise_at_the_stationary_mean():
    prob = synthetic_regression(512, 5, seed=2)
    m = SGDPhaseSpace.from_data(
        prob.X, prob.Y, lr=0.1, momentum=0.5, weight_decay=0.01, batch_size=16
    )
    np.testing.assert_allclose(m.H, prob.H)
    np.testing.assert_allclose(m.mu, np.linalg.solve(prob.H + 0.01 * np.eye(5), prob.b), rtol=1e-12)
    G = np.array([x * (x @ m.mu - y) for x, y in zip(prob.X, prob.Y)])
    np.testing.assert_allclose(m.noise_cov, np.cov(G.T, bias=True), rtol=1e-10, atol=1e-14)
    m2 = SGDPhaseSpace.from_data(
        prob.X, prob.Y, lr=0.1, batch_size=16, replacement=False, weight_decay=0.01
    )
    np.testing.assert_allclose(m2.noise_cov, m.noise_cov * (512 - 16) / 511, rtol=1e-14)


def test_bad_inputs_are_named():
    H = np.diag([1.0, 0.5])
    ok = dict(lr=0.1, momentum=0.9, noise_cov=("hessian", 1.0))
    with pytest.raises(HyperparameterError, match="momentum must lie in"):
        SGDPhaseSpace(H, **{**ok, "momentum": 1.0})
    with pytest.raises(HyperparameterError, match="lr must be > 0"):
        SGDPhaseSpace(H, **{**ok, "lr": 0.0})
    with pytest.raises(HyperparameterError, match="batch_size"):
        SGDPhaseSpace(H, batch_size=0, **ok)
    with pytest.raises(HyperparameterError, match="weight_decay"):
        SGDPhaseSpace(H, weight_decay=-1.0, **ok)
    with pytest.raises(StabilityRegionError, match="lr < 3.8"):
        SGDPhaseSpace(H, **{**ok, "lr": 3.8})
    with pytest.raises(UnstableDriftError, match="singular"):
        SGDPhaseSpace(np.diag([1.0, 0.0]), **ok)
    SGDPhaseSpace(np.diag([1.0, 0.0]), weight_decay=0.1, **ok)  # weight decay restores stability
    with pytest.raises(NotPositiveDefiniteError, match="noise_cov"):
        SGDPhaseSpace(H, lr=0.1, noise_cov=np.diag([1.0, -1.0]))
    with pytest.raises(NotPositiveDefiniteError, match="H must be positive semi-definite"):
        SGDPhaseSpace(np.diag([1.0, -0.5]), **ok)
    with pytest.raises(NonFiniteError, match="H contains NaN"):
        SGDPhaseSpace(np.diag([1.0, np.nan]), **ok)
    with pytest.raises(ShapeError, match="noise_cov is required"):
        SGDPhaseSpace(H, lr=0.1, noise_cov=None)
    with pytest.raises(ShapeError, match=r"b must have shape \(2,\)"):
        SGDPhaseSpace(H, np.ones(3), **ok)
    with pytest.raises(NotControllableError, match="Sigma is singular"):
        SGDPhaseSpace(H, lr=0.1, noise_cov=np.diag([1.0, 0.0])).decompose()


# ---------------------------------------------------------------------------- Monte Carlo


def simulate_heavy_ball(m: SGDPhaseSpace, z0: np.ndarray, n_steps: int, seed: int):
    """Plain numpy reference of the optimizer (seed 003 eq. 2), Gaussian gradient noise."""
    rng = np.random.default_rng(seed)
    d = m.d
    L = np.linalg.cholesky(m.noise_cov / m.batch_size)
    theta, v = z0[:, :d].copy(), z0[:, d:].copy()
    traj = [theta.copy()]
    vel = [v.copy()]
    for _ in range(n_steps):
        g = theta @ m.H - m.b + rng.standard_normal(theta.shape) @ L.T
        v = m.momentum * v - (g + m.weight_decay * theta)
        theta = theta + m.lr * v
        traj.append(theta.copy())
        vel.append(v.copy())
    return np.array(traj), np.array(vel)


@pytest.mark.montecarlo
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_exact_predictions_match_simulated_optimizer(momentum):
    # an anisotropic 3-D problem with a large step: lr rho_max = 0.6 (1 + beta), where the
    # SDE's O(lr) error is visible, so the exact and SDE predictions differ
    rng = np.random.default_rng(11)
    Qm = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    H = (Qm * np.array([2.0, 0.5, 0.05])) @ Qm.T
    Sigma = 0.5 * H + 0.1 * np.eye(3)  # does not commute with H
    lr = 0.6 * (1 + momentum) / 2.0
    m = SGDPhaseSpace(
        H,
        rng.standard_normal(3),
        lr=lr,
        momentum=momentum,
        weight_decay=0.01,
        batch_size=4,
        noise_cov=Sigma,
    )
    M, K = 20000, 60
    P = m.discrete.stationary_cov()
    z0 = m.discrete.stationary_mean() + rng.standard_normal((M, 6)) @ np.linalg.cholesky(P).T
    theta, v = simulate_heavy_ball(m, z0, K, seed=5)
    zs = []
    # speed at the last step: one sample per path, paths independent
    x = np.sum((theta[-1] - theta[-2]) ** 2, -1)
    zs.append((x.mean() - m.speed(exact=True)) / (x.std(ddof=1) / np.sqrt(M)))
    sde_gap = (m.speed() - m.speed(exact=True)) / (x.std(ddof=1) / np.sqrt(M))
    # displacement from stationarity at several lags
    for k in (1, 5, 20, 60):
        x = np.sum((theta[k] - theta[0]) ** 2, -1)
        zs.append((x.mean() - m.displacement(steps=k, exact=True)) / (x.std(ddof=1) / np.sqrt(M)))
    # stationarity is preserved: the covariance at step K equals P (diagonal entries)
    zK = np.concatenate([theta[-1], v[-1]], -1)
    var = zK.var(0, ddof=1)
    zs.extend((var - np.diag(P)) / (np.sqrt(2.0 / M) * np.diag(P)))
    # equipartition measured: potential and kinetic energy, each against the exact value
    K_mat = m.H + m.weight_decay * np.eye(3)
    dth = theta[-1] - m.mu
    pot = 0.5 * np.einsum("ni,ij,nj->n", dth, K_mat, dth)
    kin = 0.5 * m.equipartition(exact=True).mass * np.sum(v[-1] ** 2, -1)
    eq = m.equipartition(exact=True)
    zs.append((pot.mean() - eq.potential) / (pot.std(ddof=1) / np.sqrt(M)))
    zs.append((kin.mean() - eq.kinetic) / (kin.std(ddof=1) / np.sqrt(M)))
    zs = np.array(zs)
    # 13 z-scores per case, 26 in all: |z| < 4.5 keeps the family-wise false-alarm rate < 2e-4
    assert np.all(np.abs(zs) < 4.5), zs
    # and the SDE's eq. 12 is measurably off at this lr (the gap the exact model removes)
    assert abs(sde_gap) > 10


def test_eq13_velocity_sum_gap_is_the_euler_maclaurin_kink_term():
    H = np.diag([3.0, 1.0, 0.2])
    for lr, beta in ((0.01, 0.9), (0.001, 0.99)):
        m = SGDPhaseSpace(H, lr=lr, momentum=beta, batch_size=4, noise_cov=("hessian", 0.5))
        w, md = m._sigma_diag, m.modes
        # internal check: the cumulative sums equal the direct double sum over step pairs
        k0 = 50
        lag = np.abs(np.subtract.outer(np.arange(k0), np.arange(k0)))
        C = phi22(m, lag[..., None]) @ w
        assert m.displacement_eq13(steps=k0) == pytest.approx(C.sum() * lr**2 / m.kappa, rel=1e-12)
        k = np.array([10, 100, 1000, 5000])
        t = lr * k
        gap = (m.displacement_eq13(steps=k) - m.displacement(steps=k)) / (lr**2 / m.kappa * w.sum())
        em = (1 + 2 * md.gamma * t[:, None] - phi22(m, k[:, None])) @ w / (6 * w.sum())
        # next Euler-Maclaurin term: relative O((lr max(gamma, omega))^2); 10x margin
        h = lr * max(md.gamma, md.omega.max())
        np.testing.assert_allclose(gap, em, rtol=10 * h**2, atol=10 * h**2)
    # the trace form saturates; the eq. 13 form keeps growing, at lr^2 / kappa tr(Sigma) gamma lr
    # / 3 per step
    far = np.array([200000, 400000])
    assert m.displacement(steps=far)[1] == pytest.approx(m.displacement(steps=far)[0], rel=1e-12)
    growth = np.diff(m.displacement_eq13(steps=far))[0] / 200000
    assert growth == pytest.approx(lr**2 / m.kappa * w.sum() * md.gamma * lr / 3, rel=10 * h**2)


def phi22(m, k):
    from dynlab.modes import mode_propagator

    return mode_propagator(m.lr * k, m.modes.gamma, m.modes.omega)[3]


def test_one_heavy_ball_object_or_the_keywords_build_the_same_model():
    H = np.diag([2.0, 1.0, 0.5])
    b = np.array([1.0, -1.0, 0.5])
    Sigma = np.array([[1.0, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.1, 0.3]])
    kw = dict(lr=0.3, momentum=0.8, weight_decay=0.05, batch_size=4)
    hp = HeavyBall(**kw)
    a = SGDPhaseSpace(H, b, hyper=hp, noise_cov=Sigma)
    k = SGDPhaseSpace(H, b, noise_cov=Sigma, **kw)
    assert a.hyper == hp == k.hyper
    assert (a.lr, a.momentum, a.weight_decay, a.batch_size) == (0.3, 0.8, 0.05, 4)
    np.testing.assert_array_equal(a.lyapunov(), k.lyapunov())  # same object, same bits
    np.testing.assert_array_equal(a.discrete.stationary_cov(), k.discrete.stationary_cov())
    # the SDE's constants are seed 003 eq. 4's closed forms (to a few roundings)
    c1, c2 = 2 / (0.3 * 1.8), 2 * 0.2 / (0.3 * 1.8)
    A = a.ou.A
    np.testing.assert_allclose(A[3:, :3], c1 * (H + 0.05 * np.eye(3)), rtol=4 * EPS)
    np.testing.assert_allclose(A[3:, 3:], c2 * np.eye(3), rtol=4 * EPS)
    assert abs(a.kappa - 4 * 0.2 * 1.8) <= 4 * EPS * a.kappa
    with pytest.raises(AttributeError):
        a.lr = 0.1  # read-only: the model and its HeavyBall cannot disagree


def test_hyper_object_misuse_is_named():
    H = np.diag([1.0, 0.5])
    with pytest.raises(HyperparameterError, match="not both"):
        SGDPhaseSpace(H, hyper=HeavyBall(0.1), lr=0.1, noise_cov=("hessian", 1.0))
    sweep = SGDPhaseSpace(H, hyper=HeavyBall(lr=[0.1, 0.2]), noise_cov=("hessian", 1.0))
    with pytest.raises(HyperparameterError, match="SGDPhaseSpace.lyapunov takes one optimizer"):
        sweep.lyapunov()  # matrix-valued: one optimizer only (sweeps: tests/test_broadcast.py)
    with pytest.raises(HyperparameterError, match="plain heavy ball"):
        SGDPhaseSpace(H, hyper=HeavyBall(0.1, 0.9, nesterov=True), noise_cov=("hessian", 1.0))
    with pytest.raises(HyperparameterError, match="lr is required"):
        SGDPhaseSpace(H, noise_cov=("hessian", 1.0))
