"""Tests of dynlab.energy (seed 000): the exact law of the per-step energy change of leapfrog."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special, stats

from dynlab.config import EPS
from dynlab.energy import GeneralizedChi2, LeapfrogQuadratic, heuristic_fit, loglog_slope
from dynlab.errors import StabilityRegionError, UnstableDriftError
from dynlab.models import QuadraticProblem
from dynlab.testing.strategies import psd_matrices, seeds, spd_matrices
from theory.energy_drift import window_band_edges

MODES = ["step", "kick", "fsal"]


def naive_leapfrog(H, b, inv_mass, dt, gamma, L, theta, p, n_steps, rng, mode, wd=0.0):
    """Seed 000 eqs. 2-4 transcribed loop by loop: returns the |Delta H| of every step.

    theta, p: (n, d) ensembles; L: noise factor (Sigma / S = L L^T).
    """
    K = H + wd * np.eye(H.shape[0])
    a = np.exp(-0.5 * gamma * dt)

    def energy(th, pp):
        return (
            0.5 * np.sum(pp * pp * inv_mass, 1) + 0.5 * np.einsum("ni,ij,nj->n", th, K, th) - th @ b
        )

    def noise():
        return rng.standard_normal(theta.shape) @ L.T

    xi_next = noise()
    out = []
    for _ in range(n_steps):
        xi1 = xi_next if mode == "fsal" else noise()
        p_half = a * p - 0.5 * dt * (theta @ K - b + xi1)
        theta_new = theta + dt * inv_mass * p_half
        xi2 = xi1 if mode == "step" else noise()
        p_new = a * p_half - 0.5 * dt * (theta_new @ K - b + xi2)
        out.append(energy(theta_new, p_new) - energy(theta, p))
        theta, p, xi_next = theta_new, p_new, xi2
    return np.array(out), theta, p


# ---------------------------------------------------------------------------------------------
# Generalized chi-square
# ---------------------------------------------------------------------------------------------


@settings(max_examples=15)
@given(
    lam=st.floats(0.01, 10.0),
    delta=st.floats(-3.0, 3.0),
    c=st.floats(-5.0, 5.0),
    m=st.floats(0.05, 20.0),
)
def test_abs_cdf_matches_scipy_noncentral_chi2(lam, delta, c, m):
    # X = lam (w + delta)^2 + c: P(|X| <= m) = P(-m - c <= lam chi'^2 <= m - c), scipy's ncx2.
    law = GeneralizedChi2(np.array([lam]), np.array([2 * lam * delta]), c + lam * delta**2)
    dist = stats.ncx2(1, delta**2, scale=lam)
    ref = dist.cdf(m - c) - dist.cdf(-m - c)
    # Gil-Pelaez inversion integrated to GCHI2_RTOL = 1e-10 absolute per integral; scipy's ncx2
    # is good to ~1e-12.
    assert law.abs_cdf(m) == pytest.approx(ref, abs=1e-8)
    assert law.cdf(m - 1.0) == pytest.approx(dist.cdf(m - 1.0 - c), abs=1e-8)


@given(beta=st.floats(0.1, 10.0), c=st.floats(-5.0, 5.0))
def test_gaussian_law_and_the_median_of_a_product_of_normals(beta, c):
    law = GeneralizedChi2(np.array([0.0]), np.array([beta]), c)
    s = np.linspace(-3.0, 3.0, 7)
    np.testing.assert_allclose(
        law.charfn(s), np.exp(1j * c * s - 0.5 * beta**2 * s**2), rtol=1e-12, atol=1e-300
    )
    m = law.abs_quantile()
    assert stats.norm.cdf((m - c) / beta) - stats.norm.cdf((-m - c) / beta) == pytest.approx(
        0.5, abs=1e-8
    )
    # Z1 Z2 = ((Z1+Z2)^2 - (Z1-Z2)^2) / 4: lambdas (1/2, -1/2); |Z1 Z2| has density (2/pi) K0.
    prod = GeneralizedChi2(np.array([0.5, -0.5]) * beta, np.zeros(2), 0.0)
    ref = optimize.brentq(
        lambda x: 2 / np.pi * integrate.quad(special.k0, 0, x)[0] - 0.5, 0.1, 1.0, xtol=1e-14
    )
    assert prod.abs_quantile() == pytest.approx(ref * beta, rel=1e-8)


@pytest.mark.montecarlo
@settings(max_examples=20)
@given(seed=seeds, n=st.integers(1, 6))
def test_abs_quantiles_match_monte_carlo_on_random_laws(seed, n):
    rng = np.random.default_rng(seed)
    lam = rng.standard_normal(n) * 10.0 ** rng.uniform(-2, 1, n)
    beta = rng.standard_normal(n) * (rng.uniform(size=n) < 0.6)
    law = GeneralizedChi2.trimmed(lam, beta, rng.standard_normal())
    x = np.abs(law.sample(100_000, rng))
    for q in (0.25, 0.5, 0.9):
        frac = np.mean(x <= law.abs_quantile(q))
        # Monte Carlo: the fraction below the exact quantile is Binomial(n, q) / n.
        assert abs(frac - q) < 4.5 * np.sqrt(q * (1 - q) / x.size)


@given(A=psd_matrices(4), M=spd_matrices(4, max_cond=1e3), seed=seeds)
def test_quadratic_form_moments(A, M, seed):
    rng = np.random.default_rng(seed)
    A = A - 0.7 * np.eye(4)  # indefinite
    a, a0, mean = rng.standard_normal(4), rng.standard_normal(), rng.standard_normal(4)
    law = GeneralizedChi2.from_quadratic_form(A, a, a0, mean, M)
    mean_ref = 0.5 * np.trace(A @ M) + 0.5 * mean @ A @ mean + a @ mean + a0
    g = A @ mean + a
    var_ref = 0.5 * np.trace(A @ M @ A @ M) + g @ M @ g
    scale = (
        np.linalg.norm(A) * np.linalg.norm(M) + np.linalg.norm(g) ** 2 * np.linalg.norm(M) + abs(a0)
    )
    # Rounding: eigen-decompositions of 4 x 4 matrices of condition <= 1e3: 1e3 * 64 eps.
    assert law.mean == pytest.approx(mean_ref, abs=64e3 * EPS * scale)
    assert law.var == pytest.approx(var_ref, abs=64e3 * EPS * scale**2)


# ---------------------------------------------------------------------------------------------
# Leapfrog as a linear-Gaussian recursion
# ---------------------------------------------------------------------------------------------


def _problem(seed, d=3):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    H = (Q * np.linspace(1.0, 0.1, d)) @ Q.T
    G = rng.standard_normal((d, d))
    return QuadraticProblem(
        0.5 * (H + H.T), rng.standard_normal(d), noise_cov=G @ G.T / d + 0.1 * np.eye(d), c=2.0
    )


@pytest.mark.parametrize("mode", MODES)
def test_affine_map_is_the_leapfrog_step(mode):
    prob = _problem(0)
    d = prob.d
    lf = LeapfrogQuadratic(
        prob,
        dt=0.3,
        gamma=0.7,
        inv_mass=np.array([0.5, 1.0, 2.0]),
        weight_decay=0.05,
        batch_size=4,
        noise=mode,
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal(lf.n_state)
    eta = rng.standard_normal(lf.G.shape[1])
    x1 = lf.F @ x + lf.G @ eta + lf.c
    # the same step by hand, with the noise the map's G columns assign
    L = prob.noise_factor / 2.0
    K = prob.H + 0.05 * np.eye(d)
    a, h, minv = np.exp(-0.5 * 0.7 * 0.3), 0.15, np.array([0.5, 1.0, 2.0])
    theta, p = x[:d], x[d : 2 * d]
    if mode == "step":
        xi1 = xi2 = L @ eta
    elif mode == "kick":
        xi1, xi2 = L @ eta[:d], L @ eta[d:]
    else:
        xi1, xi2 = x[2 * d :], L @ eta
    p_half = a * p - h * (K @ theta - prob.b + xi1)
    theta1 = theta + 0.3 * minv * p_half
    p1 = a * p_half - h * (K @ theta1 - prob.b + xi2)
    ref = np.concatenate([theta1, p1] + ([xi2] if mode == "fsal" else []))
    np.testing.assert_allclose(x1, ref, rtol=0, atol=64 * EPS * (1 + np.abs(ref).max()))
    assert lf.energy(theta1, p1) == pytest.approx(
        0.5 * x1 @ lf.energy_form()[0] @ x1 + lf.energy_form()[1] @ x1 + lf.energy_form()[2],
        rel=1e-13,
    )


@pytest.mark.parametrize("mode", MODES)
def test_stationary_law_solves_stein_and_conserves_mean_energy(mode):
    lf = LeapfrogQuadratic(_problem(2), dt=0.4, gamma=0.5, inv_mass=1.5, batch_size=2, noise=mode)
    m, P = lf.stationary()
    res = lf.F @ P @ lf.F.T + lf.G @ lf.G.T - P
    # Rounding: Stein solution residual ~ cond(I - F (x) F) eps ||P||; rho(F) < 0.95 here.
    assert np.max(np.abs(res)) <= 1e4 * EPS * np.max(np.abs(P))
    law = lf.delta_h_law(m, P)
    # E[H(x_{t+1})] = E[H(x_t)] at stationarity: the mean energy change is 0 (to rounding).
    assert abs(law.mean) <= 1e4 * EPS * np.sqrt(law.var)


@pytest.mark.montecarlo
@pytest.mark.parametrize("mode", MODES)
def test_stationary_median_matches_naive_simulation(mode):
    prob = _problem(3)
    lf = LeapfrogQuadratic(prob, dt=0.5, gamma=2.0, inv_mass=1.0, batch_size=2, noise=mode)
    pred = lf.stationary_drift()
    rng = np.random.default_rng(4)
    n = 20_000
    # gamma dt = 1: the law forgets its start within ~10 steps; 60 steps leave e^{-30}
    dH, _, _ = naive_leapfrog(
        prob.H,
        prob.b,
        1.0,
        0.5,
        2.0,
        prob.noise_factor / np.sqrt(2),
        np.zeros((n, 3)),
        np.zeros((n, 3)),
        60,
        rng,
        mode,
    )
    frac = np.mean(np.abs(dH[-1]) <= pred)
    # Monte Carlo: n independent paths, Binomial(n, 1/2) / n has sd 0.5 / sqrt(n).
    assert abs(frac - 0.5) < 4.5 * 0.5 / np.sqrt(n)


@pytest.mark.montecarlo
def test_window_median_matches_naive_simulation_of_the_seed_protocol():
    prob = _problem(5)
    theta0 = np.array([1.0, -2.0, 0.5])
    lf = LeapfrogQuadratic(prob, dt=0.2, gamma=1e-3, inv_mass=0.5, batch_size=16)
    m0, P0 = lf.initial_state(theta0, 0.01 * np.eye(3))
    pred = lf.window_drift(40, 50, m0, P0)
    rng = np.random.default_rng(6)
    n = 4000
    th = theta0 + 0.1 * rng.standard_normal((n, 3))
    dH, _, _ = naive_leapfrog(
        prob.H,
        prob.b,
        0.5,
        0.2,
        1e-3,
        prob.noise_factor / 4.0,
        th,
        np.zeros((n, 3)),
        50,
        rng,
        "step",
    )
    per_path = np.mean(np.abs(dH[40:50]) <= pred, axis=0)
    # Monte Carlo: paths are independent; the per-path window fractions average to 1/2.
    assert abs(per_path.mean() - 0.5) < 4.5 * per_path.std() / np.sqrt(n)


def test_no_stationary_law_errors():
    prob = _problem(0)
    with pytest.raises(UnstableDriftError, match="gamma = 0"):
        LeapfrogQuadratic(prob, dt=0.1).stationary()
    with pytest.raises(StabilityRegionError, match="stability limit"):
        LeapfrogQuadratic(prob, dt=5.0, gamma=0.1).stationary()
    flat = QuadraticProblem(np.diag([1.0, 0.0]), noise_cov=np.eye(2))
    with pytest.raises(UnstableDriftError, match="singular"):
        LeapfrogQuadratic(flat, dt=0.1, gamma=0.1).stationary()


# ---------------------------------------------------------------------------------------------
# Curves
# ---------------------------------------------------------------------------------------------


def test_loglog_slope_and_heuristic_fit():
    dt = np.geomspace(1e-3, 1e-1, 9)
    assert np.allclose(loglog_slope(dt, 3.0 * dt**1.7), 1.7, atol=1e-12)
    curve = 2.0 * dt**3 + 0.5 * 0.1 * dt**2 + 0.3 * 1e-3 * dt
    coef, fit = heuristic_fit(dt, curve, sigma2=0.1, gamma=1e-3)
    np.testing.assert_allclose(coef, [2.0, 0.5, 0.3], rtol=1e-8)
    slopes = loglog_slope(dt, fit)
    assert np.all((slopes >= 1.0 - 1e-12) & (slopes <= 3.0 + 1e-12))


# ---------------------------------------------------------------------------------------------
# The validation script (exact laws vs the integrator zoo)
# ---------------------------------------------------------------------------------------------


@pytest.mark.montecarlo
def test_quick_validation_report_numbers(tmp_path):
    import json

    from validation.energy_drift import main

    assert main(["--quick", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    exact = [p for p in res["predictions"] if p["exact"]]
    # window medians at 4 dt, stationary median and variance at 3 dt, the secant's two medians
    # and its slope
    assert len(exact) == 4 + 6 + 3
    for p in exact:
        # Monte Carlo z-scores over independent paths of the zoo's damped_leapfrog.
        assert abs(p["z"]) < 4.5, p
    values = res["values"]
    # the stationary band: only "step" noise goes negative, next to the stability limit
    mins = values["map_min_slope"]
    assert mins["step"] < 0.0 < min(mins["kick"], mins["fsal"])
    rows = values["band_map_1d"]["step"]["rows"]
    for g, r in zip(values["band_map_1d"]["step"]["ratio"], rows):
        assert (r["band"] is not None) == (g < values["band_closing_ratio"]), (g, r["band"])
    assert values["secant"]["exact"] < 0.0
    fit = np.array(values["window_curves"]["heuristic"]["fit"])
    assert np.all(fit > 0)
    assert (tmp_path / "energy_window.png").stat().st_size > 1000


# ---------------------------------------------------------------------------------------------
# Against the sympy derivations of theory.leapfrog
# ---------------------------------------------------------------------------------------------


@settings(max_examples=10)
@given(
    K=spd_matrices(3, max_cond=1e2), seed=seeds, dt=st.floats(0.01, 0.8), gamma=st.floats(0.0, 2.0)
)
def test_step_matrix_and_delta_h_match_theory(K, seed, dt, gamma):
    from theory import leapfrog as tl

    rng = np.random.default_rng(seed)
    minv = rng.uniform(0.2, 1.0, 3)
    lf = LeapfrogQuadratic(QuadraticProblem(K), dt=dt, gamma=gamma, inv_mass=minv)
    Phi = tl.step_matrix(dt, K, minv, gamma)
    # Rounding: the same three sub-steps composed in a different order, entries O(1 + dt^2 ||K M||).
    np.testing.assert_allclose(lf.F, Phi, rtol=0, atol=64 * EPS * (1 + np.abs(Phi).max()))
    z = rng.standard_normal(6)
    law = lf.delta_h_law(z, np.zeros((6, 6)))  # a fixed state, no noise: a point mass
    assert law.degenerate
    ref = tl.energy_change(z[:3], z[3:], dt, K, minv, gamma)
    assert law.c == pytest.approx(
        ref, abs=1e3 * EPS * (1 + np.abs(z).max() ** 2 * np.abs(Phi).max() ** 2)
    )


@pytest.mark.parametrize("gamma", [0.05, 0.5])
def test_stability_limit_matches_theory(gamma):
    from theory import leapfrog as tl

    prob = QuadraticProblem(np.diag([2.0]), noise_cov=np.eye(1))
    limit = tl.stability_limit(np.sqrt(2.0 * 0.5), gamma)  # omega = sqrt(k m)
    LeapfrogQuadratic(prob, dt=0.999 * limit, gamma=gamma, inv_mass=0.5).stationary()
    with pytest.raises(StabilityRegionError):
        LeapfrogQuadratic(prob, dt=1.001 * limit, gamma=gamma, inv_mass=0.5).stationary()


def test_finite_window_bands_match_the_single_mode_phase_formula():
    # Noise-free, undamped, one mode (omega = 1), start at rest: theory.energy_drift derives
    # Delta H_k = -(omega dt)^2 E sin(phi) sin((2k + 1) phi) / 4, so over a short window
    # [0.8 T, T) the median's local slope is 3 + psi cot(psi), psi = 1.8 omega dt T: negative
    # for psi in (psi_n, n pi), psi_n cot psi_n = -3.
    prob = QuadraticProblem(np.eye(1))
    T = 400
    dts = np.geomspace(0.003, 0.014, 150)
    med = []
    for dt in dts:
        lf = LeapfrogQuadratic(prob, dt=dt, gamma=0.0)
        W = lf.energy_form()[0]
        x, E = np.array([1.0, 0.0]), []
        for _ in range(T + 1):
            E.append(0.5 * x @ W @ x)
            x = lf.F @ x
        med.append(np.median(np.abs(np.diff(E))[int(0.8 * T) : T]))
    neg = loglog_slope(dts, np.array(med)) < 0
    starts = dts[1:][np.diff(neg.astype(int)) == 1]
    for (psi, _), start in zip(window_band_edges(3), starts):
        # The band opens where the formula says, to the grid spacing (1%) plus the O((omega dt)^2)
        # shift of omega~ and the window's phase width.
        assert start == pytest.approx(psi / (1.8 * T), rel=0.02)
    assert len(starts) == 3
