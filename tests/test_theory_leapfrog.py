"""The zoo's leapfrog kernels against the sympy derivation of seed 000 eqs. 2-4.

The derivation is theory.leapfrog.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab import config
from dynlab.integrators import Recording, run
from dynlab.models import QuadraticProblem
from dynlab.testing.strategies import seeds, spd_matrices
from theory import leapfrog as tl

EPS = config.EPS
D = 3


def state(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(D), rng.standard_normal(D), rng.uniform(0.2, 1.0, D)


@settings(max_examples=20)
@given(spd_matrices(D, max_cond=1e2), seeds, st.floats(0.01, 0.5), st.floats(0.0, 2.0))
def test_one_step_is_the_derived_map(K, seed, dt, friction):
    theta0, p0, inv_mass = state(seed)
    scheme = "damped_leapfrog" if friction > 0 else "leapfrog"
    extra = dict(friction=friction) if friction > 0 else {}
    rec = run(
        scheme,
        QuadraticProblem(K),
        n_paths=1,
        n_steps=1,
        seed=0,
        theta0=theta0,
        v0=p0,
        dt=dt,
        inv_mass=inv_mass,
        **extra,
    )
    Phi = tl.step_matrix(dt, K, inv_mass, friction)
    z1 = Phi @ np.r_[theta0, p0]
    # the same three sub-steps in a different association: rounding ~ eps (1 + dt^2 ||K M||) |z|
    tol = 64 * EPS * (1 + np.abs(Phi).max()) * (1 + np.abs(np.r_[theta0, p0]).max())
    np.testing.assert_allclose(np.r_[rec.theta[0], rec.v[0]], z1, rtol=0, atol=tol)


@settings(max_examples=20)
@given(spd_matrices(D, max_cond=1e2), seeds, st.floats(0.01, 0.5), st.floats(0.0, 1.0))
def test_recorded_energy_change_is_the_derived_quadratic_form(K, seed, dt, friction):
    theta0, p0, inv_mass = state(seed)
    rec = run(
        "damped_leapfrog",
        QuadraticProblem(K),
        n_paths=1,
        n_steps=1,
        seed=0,
        theta0=theta0,
        v0=p0,
        dt=dt,
        inv_mass=inv_mass,
        friction=friction,
        record=Recording(every=1),
    )
    ref = tl.energy_change(theta0, p0, dt, K, inv_mass, friction)
    scale = (1 + np.abs(K).max()) * (1 + np.abs(np.r_[theta0, p0]).max()) ** 2 * (1 + dt) ** 2
    # Delta H is a difference of two energies of size |z|^2 ||S||: absolute rounding of that size
    assert rec.mean("energy_change")[0] == pytest.approx(ref, abs=256 * EPS * scale)


@settings(max_examples=10)
@given(spd_matrices(D, max_cond=1e2), seeds, st.floats(0.05, 0.9))
def test_undamped_leapfrog_conserves_the_derived_shadow_energy(K, seed, frac):
    theta0, p0, inv_mass = state(seed)
    omega_max = np.sqrt(np.max(np.linalg.eigvals(K @ np.diag(inv_mass)).real))
    dt = frac * 2.0 / omega_max  # inside the stability limit 2 / omega_max
    n = 200
    rec = run(
        "leapfrog",
        QuadraticProblem(K),
        n_paths=1,
        n_steps=n,
        seed=0,
        theta0=theta0,
        v0=p0,
        dt=dt,
        inv_mass=inv_mass,
        record=Recording(every=1, trajectories=True),
    )
    th, p = rec.theta_path[:, 0], rec.v_path[:, 0]  # steps 1..n
    shadow = tl.shadow_energy(th, p, dt, K, inv_mass)
    energy = 0.5 * np.einsum("ni,ij,ni->n", th, K, th) + 0.5 * np.einsum(
        "ni,i,ni->n", p, inv_mass, p
    )
    # conserved exactly by the map: rounding grows ~ linearly in steps
    s0 = tl.shadow_energy(theta0, p0, dt, K, inv_mass)
    assert np.max(np.abs(shadow - s0)) <= 64 * EPS * n * np.max(np.abs(energy)) * (
        1 + np.abs(K).max()
    )
    # while the true energy oscillates by O(dt^2): the shadow form is not a restatement of it
    assert np.ptp(energy) > 1e3 * np.max(np.abs(shadow - s0))
