"""Every kernel of the zoo gives the numbers of the slow numpy reference.

The reference lives in tests/naive_integrators.py.

Both sides consume the same injected standard normals and minibatch rows, so they must agree to
rounding. Tolerance (rounding): the kernels sum in another order than numpy and factor Sigma by
eigh instead of scipy's sqrtm; each step adds errors of a few eps times d ||state||, amplified
by at most the step map's norm (< 3 here) over 6 steps, so 1e-12 of the trajectory's scale is
3 orders of magnitude above the expected differences and far below any wrong-formula gap
(>= 1e-3 here).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive_integrators import energy, loss, naive_run

from dynlab import config
from dynlab.integrators import SCHEMES, Recording, normals_shape, run
from dynlab.integrators._rng import fill_normals, seed_states
from dynlab.models import LinearRegressionProblem, QuadraticProblem

RTOL = 1e-12

MASS = [1.0, 0.5, 2.0]
HYPER = {
    "gd": dict(lr=0.1, momentum=0.5, weight_decay=0.01),
    "sgd": dict(lr=0.1, weight_decay=0.01, batch_size=2),
    "heavy_ball": dict(lr=0.1, momentum=0.9, weight_decay=0.01, batch_size=2),
    "nesterov": dict(lr=0.1, momentum=0.9, weight_decay=0.01, batch_size=2),
    "adam": dict(lr=0.05, weight_decay=0.01, batch_size=2),
    "adamw": dict(lr=0.05, weight_decay=0.1, batch_size=2, betas=(0.8, 0.99), eps=1e-6),
    "leapfrog": dict(dt=0.1, inv_mass=MASS, weight_decay=0.01, batch_size=2),
    "symplectic_euler": dict(dt=0.1, inv_mass=MASS, weight_decay=0.01, batch_size=2),
    "damped_leapfrog": dict(
        dt=0.1, inv_mass=MASS, weight_decay=0.01, batch_size=2, friction=0.3, cap=1.0
    ),
    "explicit_euler": dict(dt=0.1, inv_mass=MASS, weight_decay=0.01, batch_size=2, friction=0.3),
    "rk4": dict(dt=0.1, inv_mass=MASS, weight_decay=0.01, batch_size=2, friction=0.3),
    "implicit_midpoint": dict(dt=0.1, inv_mass=MASS, weight_decay=0.01, batch_size=2),
    "euler_maruyama": dict(lr=0.1, momentum=0.9, weight_decay=0.01, batch_size=2, dt=0.05),
    "baoab": dict(lr=0.1, momentum=0.9, weight_decay=0.01, batch_size=2, dt=0.05),
    "obabo": dict(lr=0.1, momentum=0.9, weight_decay=0.01, batch_size=2, dt=0.05),
    "exact_ou": dict(lr=0.1, momentum=0.9, weight_decay=0.01, batch_size=2, dt=0.05),
}
SDE = {name for name, cls in SCHEMES.items() if cls.kind == "sde"}


def _spd(rng, d, scale=1.0):
    A = rng.standard_normal((d, d))
    return scale * (A @ A.T / d + 0.5 * np.eye(d))


@pytest.fixture(scope="module")
def quadratic():
    rng = np.random.default_rng(1)
    return QuadraticProblem(
        _spd(rng, 3), rng.standard_normal(3), noise_cov=_spd(rng, 3, 0.5), c=5.0
    )


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((10, 3))
    return LinearRegressionProblem(X, X @ rng.standard_normal(3) + 0.3 * rng.standard_normal(10))


def _compare(
    name, problem, *, hyper=None, M=3, n_steps=6, extra_noise_cov=None, seed=0, layout="auto"
):
    hyper = HYPER[name] if hyper is None else hyper
    rng = np.random.default_rng(seed)
    d = problem.d
    shape = normals_shape(
        name, problem, n_paths=M, n_steps=n_steps, extra_noise_cov=extra_noise_cov, **hyper
    )
    normals = rng.standard_normal(shape)
    uses_rows = isinstance(problem, LinearRegressionProblem) and SCHEMES[name].minibatch
    batches = rng.integers(0, problem.N, (n_steps, M, hyper["batch_size"])) if uses_rows else None
    theta0 = rng.standard_normal((M, d))
    v0 = 0.3 * rng.standard_normal((M, d))
    rec = run(
        name,
        problem,
        n_paths=M,
        n_steps=n_steps,
        seed=seed,
        theta0=theta0,
        v0=v0,
        record=Recording(every=1, trajectories=True),
        normals=normals,
        batches=batches,
        extra_noise_cov=extra_noise_cov,
        layout=layout,
        **hyper,
    )
    noise_cov = problem.noise_cov if isinstance(problem, QuadraticProblem) else extra_noise_cov
    ref_t, ref_v, caps = naive_run(
        name, problem, theta0, v0, normals, batches, noise_cov=noise_cov, **hyper
    )
    scale = max(np.abs(ref_t).max(), np.abs(ref_v).max())
    np.testing.assert_allclose(rec.theta_path, ref_t[1:], rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_allclose(rec.v_path, ref_v[1:], rtol=RTOL, atol=RTOL * scale)
    return rec, ref_t, ref_v, caps


@pytest.mark.parametrize("layout", ["paths", "batched"])
@pytest.mark.parametrize("name", sorted(HYPER))
def test_kernel_matches_reference_on_quadratic(name, layout, quadratic):
    rec, _, _, caps = _compare(name, quadratic, layout=layout)
    if name == "damped_leapfrog":
        assert caps.sum() > 0, "the test must exercise the cap"
        np.testing.assert_array_equal(rec.cap, caps)


@pytest.mark.parametrize("layout", ["paths", "batched"])
@pytest.mark.parametrize("name", sorted(set(HYPER) - SDE))
def test_kernel_matches_reference_on_regression_minibatches(name, layout, regression):
    extra = 0.1 * np.eye(3) + 0.05
    _compare(name, regression, extra_noise_cov=extra, layout=layout)


def test_every_scheme_is_covered():
    assert set(HYPER) == set(SCHEMES)


def test_auto_layout_at_the_blas_threshold_matches_reference():
    # d at the threshold: layout "auto" steps all paths together, products as one GEMM
    d = config.INTEGRATOR_BLAS_MIN_DIM
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    H = (Q * rng.uniform(0.1, 1.0, d)) @ Q.T
    problem = QuadraticProblem(
        H, rng.standard_normal(d), noise_cov=np.diag(rng.uniform(0.05, 0.2, d))
    )
    _compare("heavy_ball", problem, M=2, n_steps=3)


@pytest.mark.parametrize("layout", ["paths", "batched"])
@pytest.mark.parametrize("name", ["sgd", "heavy_ball", "nesterov", "adam", "adamw"])
def test_generated_noise_matches_reference(name, layout, quadratic):
    # Quadratic loss with generated (not injected) noise takes the optimizers' fused fast path:
    # the step's only draw is z, and F z is summed inside the gradient's pass (per path), or
    # theta and z go through one GEMM with [H; F] (batched). Regenerate each
    # path's normals from its stream (seed_states + fill_normals, in the order the kernel draws
    # them: d per step) and feed them to the numpy reference. Tolerance: as in _compare.
    M, K, d, seed = 3, 6, quadratic.d, 7
    hyper = HYPER[name]
    states = seed_states(np.random.SeedSequence(seed), M)
    normals = np.empty((K, 1, M, d))
    for i in range(M):
        for k in range(K):
            fill_normals(states[i], normals[k, 0, i])
    rng = np.random.default_rng(seed)
    theta0, v0 = rng.standard_normal((M, d)), 0.3 * rng.standard_normal((M, d))
    rec = run(
        name,
        quadratic,
        n_paths=M,
        n_steps=K,
        seed=seed,
        theta0=theta0,
        v0=v0,
        record=Recording(every=1, trajectories=True),
        layout=layout,
        **hyper,
    )
    ref_t, ref_v, _ = naive_run(
        name, quadratic, theta0, v0, normals, None, noise_cov=quadratic.noise_cov, **hyper
    )
    scale = max(np.abs(ref_t).max(), np.abs(ref_v).max())
    np.testing.assert_allclose(rec.theta_path, ref_t[1:], rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_allclose(rec.v_path, ref_v[1:], rtol=RTOL, atol=RTOL * scale)


def test_recorded_observables_match_trajectories(quadratic):
    rng = np.random.default_rng(4)
    basis = np.linalg.qr(rng.standard_normal((3, 2)))[0]
    hyper = HYPER["damped_leapfrog"]
    M, K, every = 4, 12, 3
    theta0 = rng.standard_normal((M, 3))
    v0 = rng.standard_normal((M, 3))
    rec = run(
        "damped_leapfrog",
        quadratic,
        n_paths=M,
        n_steps=K,
        seed=7,
        theta0=theta0,
        v0=v0,
        record=Recording(every=1, basis=basis, trajectories=True),
        **hyper,
    )
    sparse = run(
        "damped_leapfrog",
        quadratic,
        n_paths=M,
        n_steps=K,
        seed=7,
        theta0=theta0,
        v0=v0,
        record=Recording(every=every, basis=basis),
        **hyper,
    )
    th = np.concatenate([theta0[None], rec.theta_path])
    v = np.concatenate([v0[None], rec.v_path])
    inv_mass = np.array(MASS)
    E = np.array(
        [
            [energy(quadratic, th[k, i], v[k, i], inv_mass, 0.01) for i in range(M)]
            for k in range(K + 1)
        ]
    )
    rows = np.arange(every, K + 1, every)
    np.testing.assert_array_equal(sparse.steps, rows)
    scale = np.abs(E).max()
    want = {
        "loss": np.array([[loss(quadratic, th[k, i]) for i in range(M)] for k in rows]),
        "delta2": np.sum((th[rows] - th[rows - 1]) ** 2, axis=-1),
        "Delta2": np.sum((th[rows] - th[0]) ** 2, axis=-1),
        "proj_theta": th[rows] @ basis,
        "proj_v": v[rows] @ basis,
        "energy": E[rows],
        "energy_change": E[rows] - E[rows - 1],
        "cap": rec.cap.reshape(K // every, every, M).sum(axis=1),
    }
    for key, value in want.items():
        np.testing.assert_allclose(
            getattr(sparse, key), value, rtol=RTOL, atol=RTOL * scale, err_msg=key
        )
    mean, sem = sparse.mean("Delta2"), sparse.sem("Delta2")
    np.testing.assert_allclose(mean, want["Delta2"].mean(axis=1), rtol=RTOL)
    np.testing.assert_allclose(sem, want["Delta2"].std(axis=1, ddof=1) / np.sqrt(M), rtol=RTOL)


def test_linear_regression_loss_is_the_data_loss(regression):
    rec = run("sgd", regression, n_paths=2, n_steps=4, seed=0, lr=0.05, batch_size=3)
    # rounding: the quadratic form and the residual form of L differ by ~eps (||Y||^2 / N)
    want = np.array([loss(regression, t) for t in rec.theta])
    np.testing.assert_allclose(rec.loss[-1], want, rtol=1e-12, atol=1e-12 * regression.c)


def test_same_numbers_for_any_thread_count(regression):
    kwargs = dict(
        n_paths=5,
        n_steps=30,
        seed=11,
        lr=0.05,
        momentum=0.9,
        batch_size=3,
        extra_noise_cov=0.1 * np.eye(3),
        record=Recording(every=1, trajectories=True),
    )
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run("heavy_ball", regression, **kwargs)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = run("heavy_ball", regression, **kwargs)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.theta_path, two.theta_path)


def test_path_streams_do_not_depend_on_ensemble_size(quadratic):
    kwargs = dict(n_steps=20, seed=5, lr=0.1, momentum=0.9, batch_size=2)
    small = run("heavy_ball", quadratic, n_paths=2, **kwargs)
    large = run("heavy_ball", quadratic, n_paths=6, **kwargs)
    np.testing.assert_array_equal(small.theta, large.theta[:2])
    again = run("heavy_ball", quadratic, n_paths=2, **kwargs)
    np.testing.assert_array_equal(small.theta, again.theta)
    other = run("heavy_ball", quadratic, n_paths=2, **{**kwargs, "seed": 6})
    assert not np.array_equal(small.theta, other.theta)


@settings(max_examples=20, deadline=None)
@given(
    st.integers(0, 2**80),
    st.lists(st.integers(0, 2**32 - 1), max_size=3),
    st.integers(1, 300),
)
def test_seed_states_are_numpys_seed_sequence_words(seed, spawn_key, n_paths):
    # the compiled hash against numpy's own SeedSequence.generate_state, bit for bit
    ss = np.random.SeedSequence(seed, spawn_key=tuple(spawn_key))
    ref = ss.generate_state(4 * n_paths, np.uint64).reshape(n_paths, 4)
    ref[np.all(ref == 0, axis=1), 0] = 1
    np.testing.assert_array_equal(seed_states(ss, n_paths), ref)
