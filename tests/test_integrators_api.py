"""The zoo's registry, input validation, record helpers and random streams."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from numba import njit

from dynlab.errors import (
    ArgumentTypeError,
    HyperparameterError,
    ShapeError,
    StabilityRegionError,
)
from dynlab.integrators import (
    REQUIRED,
    SCHEMES,
    Recording,
    Scheme,
    _base,
    _rng,
    layer_inv_mass,
    run,
)
from dynlab.models import LinearRegressionProblem, QuadraticProblem

QUAD = QuadraticProblem(np.diag([2.0, 1.0]), [1.0, 0.0], noise_cov=0.1 * np.eye(2))
REG = LinearRegressionProblem(np.arange(12.0).reshape(6, 2) / 10, np.ones(6))

#: a valid value for every REQUIRED hyperparameter
FILL = {"lr": 0.05, "momentum": 0.5, "dt": 0.05}


# -- registry -------------------------------------------------------------------------------


def test_registry_is_read_only_and_rejects_duplicate_names():
    with pytest.raises(TypeError):
        SCHEMES["x"] = None
    with pytest.raises(ValueError, match="already registered"):

        class Again(SCHEMES["leapfrog"]):
            name = "leapfrog"

    assert SCHEMES["leapfrog"].__name__ == "Leapfrog"


def test_defining_a_scheme_registers_it():
    class Unit(SCHEMES["sgd"]):
        name = "_test_unit_sgd"

    try:
        assert SCHEMES["_test_unit_sgd"] is Unit
        rec = run("_test_unit_sgd", QUAD, n_paths=2, n_steps=3, seed=0, lr=0.1)
        ref = run("sgd", QUAD, n_paths=2, n_steps=3, seed=0, lr=0.1)
        np.testing.assert_array_equal(rec.theta, ref.theta)
    finally:
        del _base._REGISTRY["_test_unit_sgd"]


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_declared_properties_are_consistent(name):
    cls = SCHEMES[name]
    assert issubclass(cls, Scheme) and cls.name == name
    assert cls.kind in ("optimizer", "hamiltonian", "sde")
    assert cls.reference
    assert cls.hamiltonian == (cls.kind == "hamiltonian")
    if cls.kind == "hamiltonian":
        assert cls.order in (1, 2, 4) and cls.strong_order is None and cls.weak_order is None
    if cls.kind == "sde":
        assert cls.stochastic and not cls.minibatch and cls.order is None
        assert cls.strong_order >= 1 and cls.weak_order >= 1
    if cls.kind == "optimizer":
        assert cls.order is None and not cls.stochastic
    assert not (cls.symplectic or cls.reversible) or cls.kind == "hamiltonian"


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_every_scheme_runs_with_its_defaults(name):
    hyper = {k: FILL[k] for k, v in SCHEMES[name].hyper.items() if v is REQUIRED}
    rec = run(name, QUAD, n_paths=2, n_steps=4, seed=0, record=2, **hyper)
    assert rec.loss.shape == (2, 2) and np.all(np.isfinite(rec.loss))
    assert (rec.energy is not None) == SCHEMES[name].hamiltonian


# -- validation -----------------------------------------------------------------------------


def test_unknown_scheme_and_hyperparameters_are_named():
    with pytest.raises(ShapeError, match="unknown scheme 'leap'"):
        run("leap", QUAD, n_paths=1, n_steps=1, seed=0)
    with pytest.raises(HyperparameterError, match="unknown \\['momentum'\\]"):
        run("sgd", QUAD, n_paths=1, n_steps=1, seed=0, lr=0.1, momentum=0.9)
    with pytest.raises(HyperparameterError, match="needs hyperparameter\\(s\\) \\['momentum'\\]"):
        run("heavy_ball", QUAD, n_paths=1, n_steps=1, seed=0, lr=0.1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(lr=0.0, momentum=0.5), HyperparameterError, "lr must be > 0"),
        (dict(lr=0.1, momentum=1.0), HyperparameterError, "momentum must lie in"),
        (
            dict(lr=0.1, momentum=0.5, weight_decay=-1.0),
            HyperparameterError,
            "weight_decay must be >= 0",
        ),
        (dict(lr=0.1, momentum=0.5, batch_size=0), HyperparameterError, "batch_size must be >= 1"),
        (dict(lr=0.1, momentum=0.5, theta0=np.zeros(3)), ShapeError, "theta0 must have shape"),
        (dict(lr=0.1, momentum=0.5, v0=[np.nan, 0.0]), Exception, "v0 contains NaN"),
        (
            dict(lr=0.1, momentum=0.5, normals=np.zeros((1, 1, 2, 2))),
            ShapeError,
            "normals must have shape",
        ),
        (
            dict(lr=0.1, momentum=0.5, batches=np.zeros((1, 2, 1), int)),
            ShapeError,
            "batches must be None",
        ),
        (
            dict(lr=0.1, momentum=0.5, extra_noise_cov=np.eye(2)),
            ShapeError,
            "extra_noise_cov is for",
        ),
        (
            dict(lr=0.1, momentum=0.5, record=Recording(basis=np.ones((3, 1)))),
            ShapeError,
            "record.basis",
        ),
        (dict(lr=0.1, momentum=0.5, seed="x"), ArgumentTypeError, "seed must be"),
    ],
)
def test_bad_input_raises_a_named_error(kwargs, error, match):
    kw = dict(n_paths=2, n_steps=3, seed=0)
    kw.update(kwargs)
    with pytest.raises(error, match=match):
        run("heavy_ball", QUAD, **kw)


def test_regression_specific_checks():
    with pytest.raises(HyperparameterError, match="batch_size must be <= the number of rows N = 6"):
        run("sgd", REG, n_paths=1, n_steps=1, seed=0, lr=0.1, batch_size=7)
    with pytest.raises(ShapeError, match="as_quadratic"):
        run("baoab", REG, n_paths=1, n_steps=1, seed=0, lr=0.1)
    with pytest.raises(ShapeError, match="row indices"):
        run("sgd", REG, n_paths=1, n_steps=1, seed=0, lr=0.1, batches=np.full((1, 1, 1), 6))


def test_divergence_is_an_error_not_nan():
    with pytest.raises(StabilityRegionError, match="unstable here: lr = 1.5"):
        run("gd", QUAD, n_paths=1, n_steps=2000, seed=0, lr=1.5, theta0=[1.0, 1.0])
    with pytest.raises(StabilityRegionError, match="fixed-point iteration did not converge"):
        run("implicit_midpoint", QUAD, n_paths=1, n_steps=1, seed=0, dt=3.0, theta0=[1.0, 1.0])


def test_energy_cap_needs_positive_initial_energy():
    with pytest.raises(HyperparameterError, match="positive initial energy"):
        run(
            "damped_leapfrog",
            QUAD,
            n_paths=1,
            n_steps=1,
            seed=0,
            dt=0.1,
            cap=2.0,
            theta0=[0.5, 0.0],
        )


def test_record_helpers():
    rec = run("heavy_ball", QUAD, n_paths=3, n_steps=10, seed=0, lr=0.1, momentum=0.5, record=5)
    np.testing.assert_array_equal(rec.steps, [5, 10])
    np.testing.assert_allclose(rec.time, [0.5, 1.0])
    with pytest.raises(ShapeError, match="not recorded"):
        rec.mean("energy")
    with pytest.raises(ShapeError, match="unknown observable"):
        rec.mean("kinetic")
    single = run("heavy_ball", QUAD, n_paths=1, n_steps=2, seed=0, lr=0.1, momentum=0.5)
    with pytest.raises(ShapeError, match="at least 2 samples"):
        single.sem("loss")
    sde = run("baoab", QUAD, n_paths=2, n_steps=4, seed=0, lr=0.1, dt=0.025, record=2)
    np.testing.assert_allclose(sde.time, [0.05, 0.1])


def test_layer_inverse_mass_is_seed_000_eq_5():
    m = layer_inv_mass([(2, 64), (3, 4), (1, None), (2, 0), (1, 10**6)])
    np.testing.assert_array_equal(m, [1 / 8, 1 / 8, 1 / 2, 1 / 2, 1 / 2, 1.0, 1.0, 1.0, 1 / 8])
    with pytest.raises(ShapeError):
        layer_inv_mass([])
    with pytest.raises(ShapeError):
        layer_inv_mass([(1.5, 3)])


# -- random streams -------------------------------------------------------------------------


def _xoshiro_reference(state, n):
    """xoshiro256** in Python integers (Blackman & Vigna's reference C code, transcribed)."""
    mask = (1 << 64) - 1
    s = [int(x) for x in state]

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & mask

    out = []
    for _ in range(n):
        out.append(rotl((s[1] * 5) & mask, 7) * 9 & mask)
        t = (s[1] << 17) & mask
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


@njit
def _outputs(state, n):
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = _rng.next_u64(state)
    return out


def test_xoshiro_matches_the_reference_algorithm():
    state = _rng.seed_states(np.random.SeedSequence(9), 1)[0]
    np.testing.assert_array_equal(
        _outputs(state.copy(), 50).tolist(), _xoshiro_reference(state, 50)
    )
    big = _rng.seed_states(np.random.SeedSequence(9), 5)
    np.testing.assert_array_equal(big[:1], _rng.seed_states(np.random.SeedSequence(9), 1))


@pytest.mark.montecarlo
def test_normals_are_standard_normal():
    # Monte Carlo, 10^6 draws (fixed seed): mean, variance and kurtosis z-scores < 4 with
    # their exact standard errors (1, sqrt 2, sqrt 96 over sqrt n); KS test p > 1e-3; and a
    # chi-square test on 92 bins whose outer two are the ziggurat's tails beyond +-4.5 (the
    # tail sampler starts at r = 3.44), p > 1e-3.
    x = np.empty(10**6)
    _rng.fill_normals(_rng.seed_states(np.random.SeedSequence(1), 1)[0], x)
    n = x.size
    assert abs(x.mean()) * np.sqrt(n) < 4
    assert abs(x.var() - 1) / np.sqrt(2 / n) < 4
    assert abs(np.mean(x**4) - 3) / np.sqrt(96 / n) < 4
    assert scipy.stats.kstest(x, "norm").pvalue > 1e-3
    edges = np.concatenate([[-np.inf], np.linspace(-4.5, 4.5, 91), [np.inf]])
    expected = n * np.diff(scipy.stats.norm.cdf(edges))
    assert scipy.stats.chisquare(np.histogram(x, edges)[0], expected).pvalue > 1e-3


@njit
def _draw_below(state, n, size):
    out = np.empty(size, dtype=np.int64)
    for i in range(size):
        out[i] = _rng.below(state, n)
    return out


@njit
def _first_positions(state, n, size):
    out = np.empty(size, dtype=np.int64)
    a = np.arange(n)
    for i in range(size):
        _rng.shuffle(state, a)
        out[i] = np.argmax(a == 0)
    return out


@pytest.mark.montecarlo
def test_bounded_integers_and_shuffles_are_uniform():
    # Monte Carlo: chi-square tests of uniformity (p > 1e-3, fixed seeds)
    state = _rng.seed_states(np.random.SeedSequence(2), 1)[0]
    counts = np.bincount(_draw_below(state, 7, 70_000), minlength=7)
    assert counts.size == 7 and scipy.stats.chisquare(counts).pvalue > 1e-3
    positions = np.bincount(_first_positions(state, 5, 50_000), minlength=5)
    assert scipy.stats.chisquare(positions).pvalue > 1e-3
    assert math.isclose(positions.sum(), 50_000)
