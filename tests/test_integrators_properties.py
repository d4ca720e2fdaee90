"""Structural properties the zoo's schemes declare, and the statistics of the ensembles they make.

* symplecticity of the one-step map (read off the kernel: the map is affine on a quadratic),
  and its failure for the non-symplectic schemes;
* time-reversibility (forward, flip momentum, back) to rounding for the reversible schemes,
  O(1) errors for the others (seed 000 sec. 4.2, Fig. 2);
* energy drift of leapfrog: tail-median |Delta H| ~ dt^3 (seed 000 eqs. 1 and 6);
* heavy-ball SGD ensembles started at stationarity stay at the exact discrete stationary law
  (docs/theory.md, "Reference: the formulas dynlab evaluates", the exact recursion; scipy's
  discrete Lyapunov solver);
* linear-regression minibatches are drawn without replacement, uniformly, reshuffled per epoch.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab.config import EPS, IMPLICIT_RTOL
from dynlab.integrators import SCHEMES, Recording, run
from dynlab.models import LinearRegressionProblem, QuadraticProblem
from dynlab.observables import ols_loglog, reversibility_error, tail_median_abs
from dynlab.sgd import SGDPhaseSpace
from dynlab.testing.strategies import spd_matrices

D = 3
SYMPLECTIC = sorted(n for n, c in SCHEMES.items() if c.symplectic)
HAMILTONIAN = sorted(n for n, c in SCHEMES.items() if c.kind == "hamiltonian")


def _one_step_map(name, problem, **hyper):
    """(F, c) with z1 = F z0 + c for one step of a deterministic scheme (probing unit states)."""
    d = problem.d
    z0 = np.vstack([np.zeros(2 * d), np.eye(2 * d)])
    rec = run(
        name, problem, n_paths=2 * d + 1, n_steps=1, seed=0, theta0=z0[:, :d], v0=z0[:, d:], **hyper
    )
    z1 = np.hstack([rec.theta, rec.v])
    return (z1[1:] - z1[0]).T, z1[0]


def _omega(d):
    I, Z = np.eye(d), np.zeros((d, d))
    return np.block([[Z, I], [-I, Z]])


def _symplectic_defect(F):
    """max |F^T Omega F - Omega| relative to ||F||^2 (rounding scale of the product)."""
    Om = _omega(F.shape[0] // 2)
    return np.abs(F.T @ Om @ F - Om).max() / max(1.0, np.abs(F).max() ** 2)


#: rounding: F^T Omega F sums 2d products of entries of F, each off by a few eps (IMPLICIT_RTOL
#: for the midpoint iteration); 100 (eps + IMPLICIT_RTOL) bounds it with margin.
SYMPLECTIC_TOL = 100 * (EPS + IMPLICIT_RTOL)


@pytest.mark.parametrize("name", SYMPLECTIC)
@settings(max_examples=15)
@given(
    H=spd_matrices(D, max_cond=100.0),
    inv_mass=st.lists(st.floats(0.5, 2.0), min_size=D, max_size=D),
    dt=st.floats(0.01, 0.1),
)
def test_symplectic_schemes_preserve_the_symplectic_form(name, H, inv_mass, dt):
    problem = QuadraticProblem(H, np.ones(D))
    F, _ = _one_step_map(name, problem, dt=dt, inv_mass=np.array(inv_mass), weight_decay=0.1)
    assert _symplectic_defect(F) < SYMPLECTIC_TOL


def _fixed_problem():
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((D, D)))[0]
    return QuadraticProblem((Q * [2.0, 1.0, 0.5]) @ Q.T, np.ones(D))


@pytest.mark.parametrize("name", sorted(set(HAMILTONIAN) - set(SYMPLECTIC) - {"damped_leapfrog"}))
def test_non_symplectic_schemes_break_the_symplectic_form(name):
    # explicit Euler's map is I + dt J, whose defect is exactly dt^2 J^T Omega J (J Hamiltonian);
    # RK4's is O(dt^5): both far above the rounding tolerance at dt = 0.1
    F, _ = _one_step_map(name, _fixed_problem(), dt=0.1, friction=0.0)
    assert _symplectic_defect(F) > 1e4 * SYMPLECTIC_TOL


def test_explicit_euler_defect_is_dt_squared_JT_Omega_J():
    problem = _fixed_problem()
    dt = 0.1
    F, _ = _one_step_map("explicit_euler", problem, dt=dt)
    Z, I = np.zeros((D, D)), np.eye(D)
    J = np.block([[Z, I], [-problem.H, Z]])
    Om = _omega(D)
    np.testing.assert_allclose(F.T @ Om @ F - Om, dt**2 * J.T @ Om @ J, atol=SYMPLECTIC_TOL)


@pytest.mark.parametrize("friction", [0.0, 0.3, 2.0])
def test_damped_leapfrog_is_conformally_symplectic(friction):
    # seed 000 sec. 3.1: with gamma > 0 the form contracts by exp(-gamma dt) per step
    dt = 0.05
    F, _ = _one_step_map(
        "damped_leapfrog", _fixed_problem(), dt=dt, friction=friction, inv_mass=[1.0, 2.0, 0.5]
    )
    Om = _omega(D)
    np.testing.assert_allclose(F.T @ Om @ F, np.exp(-friction * dt) * Om, atol=SYMPLECTIC_TOL)


def _advance(name, problem, **hyper):
    def advance(theta, p, n):
        rec = run(
            name,
            problem,
            n_paths=theta.shape[0],
            n_steps=n,
            seed=0,
            theta0=theta,
            v0=p,
            record=n,
            **hyper,
        )
        return rec.theta, rec.v

    return advance


REVERSIBILITY_CASES = {
    "leapfrog": {},
    "implicit_midpoint": {},
    "symplectic_euler": {},
    "explicit_euler": {},
    "rk4": {},
    "damped_leapfrog": {"friction": 0.1},
}


def test_reversibility_cases_cover_the_hamiltonian_schemes():
    assert set(REVERSIBILITY_CASES) == set(HAMILTONIAN)


@pytest.mark.parametrize("name", sorted(REVERSIBILITY_CASES))
def test_time_reversibility(name):
    problem = _fixed_problem()
    theta0 = np.array([[1.0, -0.5, 0.3], [0.2, 0.4, -1.0]])
    p0 = np.array([[0.0, 1.0, 0.5], [-0.3, 0.0, 0.8]])
    n = 100
    err = reversibility_error(
        _advance(name, problem, dt=0.1, **REVERSIBILITY_CASES[name]), theta0, p0, n
    )
    # rounding: 2n steps, each off by a few eps (or IMPLICIT_RTOL) of ||z||, and the
    # near-isometric map does not amplify them; 4 (2n) (eps + IMPLICIT_RTOL) bounds the sum
    tol = 4 * 2 * n * (EPS + IMPLICIT_RTOL)
    if SCHEMES[name].reversible:
        assert np.all(err < tol), err
    else:
        # a non-symmetric or damped scheme misses its start by O(T dt^order) or O(friction T)
        assert np.all(err > 1e4 * tol), err
        if SCHEMES[name].order == 1:
            # seed 000 Fig. 2: first-order methods, round-trip error 4.6e-2
            assert np.all(err > 1e-2), err


def test_leapfrog_energy_drift_scales_as_dt_cubed():
    # seed 000 eq. 1 and eq. 6 (the dt^3 symplectic truncation term), deterministic gradients:
    # |Delta H_k| oscillates with amplitude O(dt^3); its tail median over many periods has
    # log-log slope 3 up to O(dt^2) corrections (0.1 tolerance, as the order tests).
    problem = _fixed_problem()
    dts = np.array([0.02, 0.04, 0.08, 0.16])
    drift = []
    for dt in dts:
        n = int(round(60.0 / dt))
        rec = run(
            "leapfrog",
            problem,
            n_paths=1,
            n_steps=n,
            seed=0,
            theta0=[1.0, -0.5, 0.3],
            v0=[0.0, 0.5, 0.2],
            dt=dt,
            record=1,
        )
        drift.append(tail_median_abs(rec.energy_change[:, 0]))
    fit = ols_loglog(dts, drift)
    assert abs(fit.slope - 3.0) < 0.1, (fit, drift)


# -- stationary statistics of heavy-ball SGD ---------------------------------------------------


def _discrete_stationary(H, b, Sigma, lr, momentum, weight_decay, S):
    """z_{k+1} = F z_k + G xi_k + c; P = F P F^T + G Sigma/S G^T (scipy; docs/theory.md)."""
    d = H.shape[0]
    I = np.eye(d)
    K = H + weight_decay * I
    F = np.block([[I - lr * K, lr * momentum * I], [-K, momentum * I]])
    G = np.vstack([-lr * I, -I])
    P = scipy.linalg.solve_discrete_lyapunov(F, G @ (Sigma / S) @ G.T)
    return F, 0.5 * (P + P.T), np.concatenate([np.linalg.solve(K, b), np.zeros(d)])


@pytest.mark.montecarlo
def test_heavy_ball_ensemble_keeps_the_exact_stationary_law():
    rng = np.random.default_rng(12)
    Q = np.linalg.qr(rng.standard_normal((D, D)))[0]
    H = (Q * [2.0, 0.8, 0.3]) @ Q.T
    A = rng.standard_normal((D, D))
    Sigma = A @ A.T / D + 0.1 * np.eye(D)  # does not commute with H
    b = rng.standard_normal(D)
    hyper = dict(lr=0.4, momentum=0.7, weight_decay=0.05, batch_size=4)
    F, P, z_star = _discrete_stationary(
        H, b, Sigma, hyper["lr"], hyper["momentum"], hyper["weight_decay"], 4
    )
    core = SGDPhaseSpace(H, b, noise_cov=Sigma, **hyper).discrete
    # rounding: two Stein solvers (modal closed forms vs Bartels-Stewart), cond(P) ~ 1e2
    np.testing.assert_allclose(core.stationary_cov(), P, atol=1e-12 * np.abs(P).max())
    np.testing.assert_allclose(core.stationary_mean(), z_star, atol=1e-12 * np.abs(z_star).max())

    M, K = 40_000, 60
    z0 = rng.multivariate_normal(z_star, P, size=M)
    rec = run(
        "heavy_ball",
        QuadraticProblem(H, b, noise_cov=Sigma),
        n_paths=M,
        n_steps=K,
        seed=3,
        theta0=z0[:, :D],
        v0=z0[:, D:],
        record=20,
        **hyper,
    )
    z = np.hstack([rec.theta, rec.v])
    # Monte Carlo: z-scores of the mean, every covariance entry (standard error of the sample
    # mean of the products, estimated from the ensemble), the speed E||delta_k||^2 = lr^2 tr P_vv
    # and the displacement E||Delta_k||^2 = 2 tr P_tt - 2 tr (F^k P)_tt (docs/theory.md); 31 checks
    # at |z| < 4 (fixed seed).
    zs = []
    dz = z - z_star
    zs += list(dz.mean(axis=0) / (dz.std(axis=0, ddof=1) / np.sqrt(M)))
    iu = np.triu_indices(2 * D)
    prods = dz[:, iu[0]] * dz[:, iu[1]]
    zs += list((prods.mean(axis=0) - P[iu]) / (prods.std(axis=0, ddof=1) / np.sqrt(M)))
    speed = hyper["lr"] ** 2 * np.trace(P[D:, D:])
    zs.append((rec.mean("delta2")[-1] - speed) / rec.sem("delta2")[-1])
    for r, k in enumerate(rec.steps):
        FkP = np.linalg.matrix_power(F, k) @ P
        disp = 2 * np.trace(P[:D, :D]) - 2 * np.trace(FkP[:D, :D])
        zs.append((rec.mean("Delta2")[r] - disp) / rec.sem("Delta2")[r])
    assert len(zs) == 31
    assert np.max(np.abs(zs)) < 4.0, np.round(zs, 2)


# -- minibatch sampling of a linear regression ------------------------------------------------


def _sampled_rows(N, S, M, epochs, seed):
    """Rows of every minibatch, recovered from SGD on X = I, Y = 0 with lr = S / 2.

    Then ``theta_r <- theta_r (1 - lr / S) = theta_r / 2`` for the rows r of the batch and is
    unchanged otherwise, so from theta0 = 1 the exponent ``-log2 theta_r`` counts how often row
    r was drawn (powers of two are exact).
    """
    problem = LinearRegressionProblem(np.eye(N), np.zeros(N))
    steps = epochs * (N // S)
    rec = run(
        "sgd",
        problem,
        n_paths=M,
        n_steps=steps,
        seed=seed,
        theta0=np.ones(N),
        lr=S / 2,
        batch_size=S,
        record=Recording(every=1, trajectories=True),
    )
    counts = -np.log2(np.concatenate([np.ones((1, M, N)), rec.theta_path]))
    assert np.array_equal(counts, np.round(counts))
    return np.diff(counts, axis=0).astype(int)  # (steps, M, N): 1 where row drawn at that step


@pytest.mark.parametrize("N,S", [(6, 2), (7, 2), (5, 5)])
def test_minibatches_are_drawn_without_replacement_each_epoch(N, S):
    drawn = _sampled_rows(N, S, M=50, epochs=4, seed=1)
    per_step = drawn.sum(axis=2)
    assert np.all(per_step == S)
    per_epoch = drawn.reshape(4, N // S, 50, N).sum(axis=1)
    # every row at most once per epoch; N mod S rows skipped (drop-last)
    assert per_epoch.max() == 1
    assert np.all(per_epoch.sum(axis=2) == N - N % S)


@pytest.mark.montecarlo
def test_minibatch_rows_are_uniform():
    # Monte Carlo: which row the first batch holds, over 6000 paths, chi-square test of
    # uniformity (p-value threshold 1e-3, fixed seed); and the epochs reshuffle: the first
    # batch of epoch 2 is independent of epoch 1's (chi-square on the 6 x 6 contingency table).
    N, M = 6, 6000
    drawn = _sampled_rows(N, 1, M=M, epochs=2, seed=2)
    first = drawn[0].argmax(axis=1)
    second = drawn[N].argmax(axis=1)
    assert scipy.stats.chisquare(np.bincount(first, minlength=N)).pvalue > 1e-3
    table = np.zeros((N, N))
    np.add.at(table, (first, second), 1)
    assert scipy.stats.chi2_contingency(table).pvalue > 1e-3
