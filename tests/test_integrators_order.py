"""Convergence orders of the zoo's integrators against exact solutions.

* Hamiltonian schemes (deterministic order p): the flow of ``theta' = M^-1 p,
  p' = -(K theta - b) - friction p`` is linear, solved exactly by ``scipy.linalg.expm``.
* SDE solvers, weak order: for a linear SDE one step of a scheme is an affine Gaussian map
  ``z1 = F z0 + c + G n``; F, c and G are read off the kernel (one step with unit initial
  states / unit injected normals), the scheme's exact moments after n steps follow by linear
  algebra, and are compared with the OU's exact moments (expm, Lyapunov).
* SDE solvers, strong order: coarse and fine runs driven by the same Brownian path
  (injected normals summed over fine sub-steps).

Slopes are fitted with :func:`dynlab.observables.ols_loglog` over a factor 8 of step sizes
chosen in the asymptotic range. Tolerance 0.1 on a slope: the next term of the error expansion
bends the log-log line (the local slopes between successive step sizes measured here stay
within 0.06 of the order, 0.08 for the Monte Carlo strong errors), while a wrong order is off
by >= 1.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from dynlab.integrators import SCHEMES, normals_shape, run
from dynlab.models import QuadraticProblem
from dynlab.observables import ols_loglog

SLOPE_TOL = 0.1

D = 3
RNG = np.random.default_rng(20)
_Q = np.linalg.qr(RNG.standard_normal((D, D)))[0]
H = (_Q * np.array([2.0, 1.0, 0.5])) @ _Q.T
B_VEC = RNG.standard_normal(D)
SIGMA = (lambda A: A @ A.T / D + 0.2 * np.eye(D))(RNG.standard_normal((D, D)))
INV_MASS = np.array([1.0, 0.7, 1.4])

#: (hyperparameters, step sizes) per Hamiltonian scheme; friction where the scheme takes one.
ODE_CASES = {
    "leapfrog": ({}, [0.1, 0.05, 0.025, 0.0125]),
    "symplectic_euler": ({}, [0.02, 0.01, 0.005, 0.0025]),
    "implicit_midpoint": ({}, [0.1, 0.05, 0.025, 0.0125]),
    "damped_leapfrog": ({"friction": 0.5}, [0.1, 0.05, 0.025, 0.0125]),
    "explicit_euler": ({"friction": 0.5}, [0.01, 0.005, 0.0025, 0.00125]),
    "rk4": ({"friction": 0.5}, [0.2, 0.1, 0.05, 0.025]),
}


def test_every_scheme_has_an_order_test():
    hamiltonian = {n for n, c in SCHEMES.items() if c.kind == "hamiltonian"}
    sde = {n for n, c in SCHEMES.items() if c.kind == "sde"}
    assert hamiltonian == set(ODE_CASES)
    assert sde == set(SDE_WEAK) | {"exact_ou"}


def _flow(T, z0, friction, weight_decay=0.0):
    """Exact flow of the affine ODE via the augmented matrix exponential."""
    I, Z = np.eye(D), np.zeros((D, D))
    J = np.block([[Z, np.diag(INV_MASS)], [-(H + weight_decay * I), -friction * I]])
    aug = np.zeros((2 * D + 1, 2 * D + 1))
    aug[: 2 * D, : 2 * D] = J
    aug[D : 2 * D, -1] = B_VEC
    E = scipy.linalg.expm(aug * T)
    return z0 @ E[: 2 * D, : 2 * D].T + E[: 2 * D, -1]


@pytest.mark.parametrize("name", sorted(ODE_CASES))
def test_hamiltonian_scheme_order(name):
    extra, dts = ODE_CASES[name]
    problem = QuadraticProblem(H, B_VEC)
    T = 1.0
    theta0 = np.array([[1.0, -0.5, 0.3], [0.0, 1.0, 2.0]])
    p0 = np.array([[0.2, 0.1, -1.0], [1.0, 0.0, 0.5]])
    exact = _flow(T, np.hstack([theta0, p0]), extra.get("friction", 0.0))
    errors = []
    for dt in dts:
        n = int(round(T / dt))
        rec = run(
            name,
            problem,
            n_paths=2,
            n_steps=n,
            seed=0,
            theta0=theta0,
            v0=p0,
            record=n,
            dt=dt,
            inv_mass=INV_MASS,
            **extra,
        )
        errors.append(np.max(np.linalg.norm(np.hstack([rec.theta, rec.v]) - exact, axis=1)))
    fit = ols_loglog(dts, errors)
    assert abs(fit.slope - SCHEMES[name].order) < SLOPE_TOL, (name, fit.slope, errors)


# -- SDE solvers ----------------------------------------------------------------------------

SDE_HYPER = dict(lr=0.1, momentum=0.9, weight_decay=0.05, batch_size=2)
SDE_WEAK = {
    "euler_maruyama": [0.02, 0.01, 0.005, 0.0025],
    "baoab": [0.08, 0.04, 0.02, 0.01],
    "obabo": [0.08, 0.04, 0.02, 0.01],
}


def _ou_exact(T, z0):
    """Mean, covariance and propagator at SDE time T from z0 (A, D of Kunin et al. 2021,
    arXiv:2107.09133, eq. 4; scipy expm and Lyapunov)."""
    lr, beta, wd, S = (SDE_HYPER[k] for k in ("lr", "momentum", "weight_decay", "batch_size"))
    c1, c2 = 2 / (lr * (1 + beta)), 2 * (1 - beta) / (lr * (1 + beta))
    kappa = S * (1 - beta**2)
    I, Z = np.eye(D), np.zeros((D, D))
    K = H + wd * I
    A = np.block([[Z, -I], [c1 * K, c2 * I]])
    Dm = np.block([[Z, Z], [Z, c2 * SIGMA]])
    mu = np.concatenate([np.linalg.solve(K, B_VEC), np.zeros(D)])
    B = scipy.linalg.solve_continuous_lyapunov(A, 2 * Dm)
    Phi = scipy.linalg.expm(-A * T)
    return mu + Phi @ (z0 - mu), (B - Phi @ B @ Phi.T) / kappa, Phi


def _affine_step(name, problem, dt):
    """(F, c, G) of one step, z1 = F z0 + c + G n, read off the kernel with injected inputs."""
    shape = normals_shape(name, problem, n_paths=1, n_steps=1, dt=dt, **SDE_HYPER)
    _, n_slots, _, dn = shape
    n_noise = n_slots * dn
    M = 1 + 2 * D + n_noise
    z0 = np.zeros((M, 2 * D))
    z0[1 : 1 + 2 * D] = np.eye(2 * D)
    normals = np.zeros((1, n_slots, M, dn))
    for col in range(n_noise):
        normals[0, col // dn, 1 + 2 * D + col, col % dn] = 1.0
    rec = run(
        name,
        problem,
        n_paths=M,
        n_steps=1,
        seed=0,
        theta0=z0[:, :D],
        v0=z0[:, D:],
        normals=normals,
        dt=dt,
        **SDE_HYPER,
    )
    z1 = np.hstack([rec.theta, rec.v])
    c = z1[0]
    return (z1[1 : 1 + 2 * D] - c).T, c, (z1[1 + 2 * D :] - c).T


@pytest.mark.parametrize("name", sorted(SDE_WEAK))
def test_sde_weak_order(name):
    problem = QuadraticProblem(H, B_VEC, noise_cov=SIGMA)
    T = 0.8
    z0 = np.concatenate([np.ones(D), -0.5 * np.ones(D)])
    m_T, C_T, _ = _ou_exact(T, z0)
    errors = []
    for dt in SDE_WEAK[name]:
        F, c, G = _affine_step(name, problem, dt)
        m, C = z0.copy(), np.zeros((2 * D, 2 * D))
        for _ in range(int(round(T / dt))):
            m = F @ m + c
            C = F @ C @ F.T + G @ G.T
        errors.append(np.linalg.norm(m - m_T) + np.linalg.norm(C - C_T))
    fit = ols_loglog(SDE_WEAK[name], errors)
    assert abs(fit.slope - SCHEMES[name].weak_order) < SLOPE_TOL, (name, fit.slope, errors)


def test_exact_ou_transition_is_exact():
    # rounding: expm, Van Loan and the Lyapunov route agree to ~1e3 eps of ||C||, ||Phi||
    problem = QuadraticProblem(H, B_VEC, noise_cov=SIGMA)
    for dt in (0.05, 0.4):
        F, c, G = _affine_step("exact_ou", problem, dt)
        m, C, Phi = _ou_exact(dt, np.zeros(2 * D))
        np.testing.assert_allclose(c, m, atol=1e-12 * np.abs(m).max())
        np.testing.assert_allclose(F, Phi, atol=1e-12)
        np.testing.assert_allclose(G @ G.T, C, atol=1e-12 * np.abs(C).max())


#: strong order: coarse steps of each scheme; the reference is the same scheme at dt / 32
SDE_STRONG = {
    "euler_maruyama": [0.02, 0.01, 0.005, 0.0025],
    "baoab": [0.04, 0.02, 0.01, 0.005],
    "obabo": [0.04, 0.02, 0.01, 0.005],
}


@pytest.mark.montecarlo
@pytest.mark.parametrize("name", sorted(SDE_STRONG))
def test_sde_strong_order(name):
    # Monte Carlo: the RMS error over 200 coupled paths is known to ~5% at each dt; the errors
    # share the Brownian paths, so their ratios (hence the slope) are far more precise.
    problem = QuadraticProblem(H, B_VEC, noise_cov=SIGMA)
    T, M, refine = 0.4, 200, 32
    dts = SDE_STRONG[name]
    fine_dt = dts[-1] / refine
    n_fine = int(round(T / fine_dt))
    shape = normals_shape(name, problem, n_paths=M, n_steps=n_fine, dt=fine_dt, **SDE_HYPER)
    n_slots = shape[1]
    fine = np.random.default_rng(3).standard_normal(shape)
    z0 = np.tile(np.concatenate([np.ones(D), np.zeros(D)]), (M, 1))
    kw = dict(n_paths=M, seed=0, theta0=z0[:, :D], v0=z0[:, D:], **SDE_HYPER)
    ref = run(name, problem, n_steps=n_fine, normals=fine, dt=fine_dt, record=n_fine, **kw)
    z_ref = np.hstack([ref.theta, ref.v])
    # sub-interval s of step k covers Brownian time
    # [(k n_slots + s), (k n_slots + s + 1)) dt / n_slots
    flat = fine.reshape(n_fine * n_slots, M, D)
    errors = []
    for dt in dts:
        r = int(round(dt / fine_dt))
        n = n_fine // r
        coarse = flat.reshape(n * n_slots, r, M, D).sum(axis=1) / np.sqrt(r)
        rec = run(
            name,
            problem,
            n_steps=n,
            normals=coarse.reshape(n, n_slots, M, D),
            dt=dt,
            record=n,
            **kw,
        )
        errors.append(
            np.sqrt(np.mean(np.sum((np.hstack([rec.theta, rec.v]) - z_ref) ** 2, axis=1)))
        )
    fit = ols_loglog(dts, errors)
    assert abs(fit.slope - SCHEMES[name].strong_order) < SLOPE_TOL, (name, fit.slope, errors)
