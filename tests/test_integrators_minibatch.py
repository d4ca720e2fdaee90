"""Minibatch SGD on finite data: the three sampling modes of the zoo's linear-regression runs.

Two kinds of check. (1) The kernels equal a slow reference that draws the rows itself, from a
pure-Python xoshiro256** seeded with the same words (tests/naive_integrators.py), to rounding:
the rows are integers and must match exactly, the trajectories to 1e-12 of their scale (the
tolerance argument of tests/test_integrators_reference.py: a few eps per step over 8 steps of a
step map of norm < 3). (2) The rows' statistics match the exact probabilities of each sampling
scheme, z-scores from the standard error over independent paths.
"""

from __future__ import annotations

import itertools

import numba
import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st
from naive_integrators import naive_run, sampled_batches

from dynlab.errors import HyperparameterError
from dynlab.integrators import Recording, run
from dynlab.integrators._rng import seed_states
from dynlab.integrators._sampling import SAMPLING, sample_rows
from dynlab.models import LinearRegressionProblem, QuadraticProblem

RTOL = 1e-12

#: Family-wise false-alarm probability of a Monte Carlo test with many z-scores: each |z| is
#: compared with the two-sided normal quantile of ALPHA / (number of z-scores) (Bonferroni).
ALPHA = 1e-3


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((7, 3))
    return LinearRegressionProblem(X, X @ rng.standard_normal(3) + 0.3 * rng.standard_normal(7))


@pytest.mark.parametrize("layout", ["paths", "batched"])
@pytest.mark.parametrize("sampling", SAMPLING)
@pytest.mark.parametrize("name", ["sgd", "heavy_ball", "nesterov"])
def test_kernel_matches_reference_loop(name, sampling, layout, regression):
    M, n_steps, S, seed = 3, 8, 3, 4
    hyper = dict(lr=0.1, weight_decay=0.05, batch_size=S)
    if name != "sgd":
        hyper["momentum"] = 0.9
    rng = np.random.default_rng(seed)
    theta0 = rng.standard_normal((M, 3))
    v0 = 0.3 * rng.standard_normal((M, 3))
    rec = run(
        name,
        regression,
        n_paths=M,
        n_steps=n_steps,
        seed=seed,
        theta0=theta0,
        v0=v0,
        sampling=sampling,
        layout=layout,
        record=Recording(every=1, trajectories=True),
        **hyper,
    )
    states = seed_states(np.random.SeedSequence(seed), M)
    batches = sampled_batches(states, regression.N, S, n_steps, sampling)
    normals = np.zeros((n_steps, 0, M, 3))
    ref_t, ref_v, _ = naive_run(name, regression, theta0, v0, normals, batches, **hyper)
    scale = max(np.abs(ref_t).max(), np.abs(ref_v).max())
    np.testing.assert_allclose(rec.theta_path, ref_t[1:], rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_allclose(rec.v_path, ref_v[1:], rtol=RTOL, atol=RTOL * scale)


@pytest.mark.parametrize("sampling", SAMPLING)
def test_sample_rows_are_the_reference_draws(sampling):
    N, S, M, n_steps, seed = 9, 4, 5, 12, 8
    rows = sample_rows(N, S, n_steps=n_steps, n_paths=M, sampling=sampling, seed=seed)
    states = seed_states(np.random.SeedSequence(seed), M)
    np.testing.assert_array_equal(rows, sampled_batches(states, N, S, n_steps, sampling))
    # per-path streams: path i's rows do not depend on the ensemble size
    fewer = sample_rows(N, S, n_steps=n_steps, n_paths=2, sampling=sampling, seed=seed)
    np.testing.assert_array_equal(fewer, rows[:, :2])


@given(
    N=st.integers(1, 12),
    S_frac=st.floats(0.0, 1.0),
    sampling=st.sampled_from(SAMPLING),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_size_draws_the_reference_rows(N, S_frac, sampling, seed):
    # edge regimes included: N = 1, S = 1, S = N (one batch per epoch, the whole data set)
    S = max(1, round(S_frac * N))
    n_steps, M = 2 * max(1, N // S) + 1, 2
    rows = sample_rows(N, S, n_steps=n_steps, n_paths=M, sampling=sampling, seed=seed)
    states = seed_states(np.random.SeedSequence(seed), M)
    np.testing.assert_array_equal(rows, sampled_batches(states, N, S, n_steps, sampling))
    if sampling != "with_replacement":
        assert all(len(set(b)) == S for b in rows.reshape(-1, S))


def test_reshuffle_is_the_default(regression):
    kwargs = dict(n_paths=4, n_steps=20, seed=1, lr=0.1, momentum=0.5, batch_size=2)
    a = run("heavy_ball", regression, **kwargs)
    b = run("heavy_ball", regression, sampling="reshuffle", **kwargs)
    np.testing.assert_array_equal(a.theta, b.theta)


@pytest.mark.parametrize("sampling", SAMPLING[1:])
def test_same_numbers_for_any_thread_count(sampling, regression):
    kwargs = dict(n_paths=5, n_steps=30, seed=11, lr=0.05, momentum=0.9, batch_size=3)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run("heavy_ball", regression, sampling=sampling, **kwargs)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = run("heavy_ball", regression, sampling=sampling, **kwargs)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.theta, two.theta)


def test_structure_of_each_mode():
    N, S, M = 7, 3, 40
    epochs = 3
    steps = epochs * (N // S)
    wo = sample_rows(N, S, n_steps=steps, n_paths=M, sampling="without_replacement", seed=2)
    assert all(len(set(b)) == S for b in wo.reshape(-1, S))
    rs = sample_rows(N, S, n_steps=steps, n_paths=M, sampling="reshuffle", seed=2)
    per_epoch = np.moveaxis(rs.reshape(epochs, N // S, M, S), 2, 1).reshape(epochs, M, -1)
    assert all(len(set(e)) == N // S * S for e in per_epoch.reshape(-1, N // S * S))
    wr = sample_rows(N, S, n_steps=steps, n_paths=M, sampling="with_replacement", seed=2)
    assert any(len(set(b)) < S for b in wr.reshape(-1, S)), "i.i.d. rows repeat at this size"
    for rows in (wo, rs, wr):
        assert rows.min() >= 0 and rows.max() < N


def _counts(rows, N):
    """(n_steps, M, N): how often each row is in each step's batch."""
    n_steps, M, _ = rows.shape
    out = np.zeros((n_steps, M, N))
    for k in range(n_steps):
        for i in range(M):
            np.add.at(out[k, i], rows[k, i], 1.0)
    return out


def _exact_moments(sampling, N, S):
    """E[c_r], E[c_r c_s] within a step, and E[c_r(j) c_s(l)] for two steps j != l of one
    epoch, of the per-row counts c (multinomial for i.i.d. rows; hypergeometric indicators
    without replacement; a uniform permutation cut into batches for reshuffling)."""
    p = S / N
    eye = np.eye(N)
    if sampling == "with_replacement":
        within = S * (S - 1) / N**2 * (1 - eye) + (p + S * (S - 1) / N**2) * eye
    else:
        within = S * (S - 1) / (N * (N - 1)) * (1 - eye) + p * eye
    if sampling == "reshuffle":
        across = S * S / (N * (N - 1)) * (1 - eye)  # a row is in one batch of an epoch
    else:
        across = np.full((N, N), p * p)  # batches of different steps are independent
    return np.full(N, p), within, across


@pytest.mark.montecarlo
@pytest.mark.parametrize("sampling", SAMPLING)
def test_batch_statistics_match_exact_probabilities(sampling):
    # Monte Carlo: per path, the counts of the first epoch's M_e = N // S batches give each
    # row's inclusion count (averaged over the steps), the pair co-inclusion within a step
    # (averaged over the steps) and across the steps j < l of the epoch (averaged over the
    # pairs); paths are independent, so each statistic's standard error is its sample std over
    # paths / sqrt(paths). Fixed seed; bound from ALPHA over all z-scores.
    N, S, M = 7, 2, 4000  # N mod S = 1: reshuffling skips a row per epoch
    n_epoch = N // S
    rows = sample_rows(N, S, n_steps=n_epoch, n_paths=M, sampling=sampling, seed=17)
    c = _counts(rows, N)
    first = c.mean(axis=0)  # (M, N)
    within = np.einsum("kir,kis->irs", c, c) / n_epoch
    pairs = list(itertools.combinations(range(n_epoch), 2))
    across = sum(np.einsum("ir,is->irs", c[j], c[l]) for j, l in pairs) / len(pairs)
    zs = []
    for stat, exact in zip((first, within, across), _exact_moments(sampling, N, S)):
        mean = stat.mean(axis=0)
        se = stat.std(axis=0, ddof=1) / np.sqrt(M)
        ok = se > 0
        assert np.all(mean[~ok] == exact[~ok])  # deterministic entries (a row twice an epoch)
        zs.extend(((mean - exact)[ok] / se[ok]).ravel())
    bound = scipy.stats.norm.isf(ALPHA / (2 * len(zs)))
    assert np.max(np.abs(zs)) < bound, (np.max(np.abs(zs)), bound)


def test_sampling_is_validated(regression):
    with pytest.raises(HyperparameterError, match="sampling"):
        run("sgd", regression, n_paths=1, n_steps=1, seed=0, lr=0.1, sampling="bogus")
    quadratic = QuadraticProblem(np.eye(2), np.zeros(2), noise_cov=np.eye(2))
    with pytest.raises(HyperparameterError, match="sampling"):
        run("sgd", quadratic, n_paths=1, n_steps=1, seed=0, lr=0.1, sampling="with_replacement")
    with pytest.raises(HyperparameterError, match="batch_size"):
        sample_rows(3, 4, n_steps=1, n_paths=1, sampling="reshuffle", seed=0)
