"""dynlab.observables against scipy, closed forms and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from dynlab.config import EPS
from dynlab.errors import DynlabError, ShapeError
from dynlab.integrators import Recording, run
from dynlab.models import QuadraticProblem
from dynlab.modes import mode_frequencies
from dynlab.observables import (
    dominant_frequencies,
    ensemble_mean_sem,
    fit_power_law,
    local_exponent,
    ols_loglog,
    reversibility_error,
    tail_median_abs,
)
from dynlab.testing.strategies import seeds


@given(seeds, st.integers(3, 12))
def test_ols_loglog_matches_scipy_linregress(seed, n):
    rng = np.random.default_rng(seed)
    x = np.exp(rng.uniform(-3, 1, n))
    y = np.exp(rng.normal(0.5 * np.log(x), 0.3))
    fit = ols_loglog(x, y, level=0.9)
    ref = scipy.stats.linregress(np.log10(x), np.log10(y))
    # rounding: both are O(n) sums of O(1) log values; cond of the fit <= max|log x| / spread
    np.testing.assert_allclose(
        [fit.slope, fit.intercept], [ref.slope, ref.intercept], rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(fit.stderr, ref.stderr, rtol=1e-9, atol=1e-12)
    t = scipy.stats.t.ppf(0.95, n - 2)
    np.testing.assert_allclose(
        [fit.ci_low, fit.ci_high],
        [ref.slope - t * ref.stderr, ref.slope + t * ref.stderr],
        rtol=1e-9,
        atol=1e-9,
    )
    assert fit.n == n and fit.level == 0.9


@pytest.mark.montecarlo
def test_ols_interval_covers_the_true_slope_at_its_level():
    # Monte Carlo: 4000 fits of 4 points (as seed 000's Table 1) with Gaussian errors in log10 y;
    # the 95% t-interval must cover the true slope 1.5 with frequency 0.95 (binomial z < 4).
    rng = np.random.default_rng(0)
    x = np.array([0.002, 0.0025, 0.003, 0.0035])
    trials = 4000
    hits = 0
    for _ in range(trials):
        y = 10 ** (1.5 * np.log10(x) + 0.3 + rng.normal(0, 0.05, x.size))
        fit = ols_loglog(x, y)
        hits += fit.ci_low <= 1.5 <= fit.ci_high
    p = 0.95
    assert abs(hits / trials - p) / np.sqrt(p * (1 - p) / trials) < 4


def test_ols_loglog_rejects_bad_input():
    with pytest.raises(ShapeError, match="n >= 3"):
        ols_loglog([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(DynlabError, match="x must be positive"):
        ols_loglog([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(DynlabError, match="two distinct"):
        ols_loglog([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])


@given(st.floats(-1.0, 2.5), st.floats(0.1, 10.0))
def test_power_law_is_recovered_exactly(c, alpha):
    k = np.arange(1, 301, 3, dtype=float)
    y = alpha * k**c
    # the last 2/3 rule: points before n // 3 are ignored, so corrupt them
    y_bad = y.copy()
    y_bad[: k.size // 3] *= 7.0
    fit = fit_power_law(k, y_bad)
    # rounding: log10 of ~100 values, condition ~ max |log k| / spread of log k ~ 10
    assert abs(fit.c - c) < 1e3 * EPS * (1 + abs(c))
    assert abs(fit.prefactor / alpha - 1) < 1e4 * EPS
    assert fit.n == k.size - k.size // 3 and fit.k_lo == k[k.size // 3] and fit.k_hi == k[-1]
    window = fit_power_law(k, y_bad, window=(k[50], k[80]))
    assert window.n == 31 and abs(window.c - c) < 1e3 * EPS * (1 + abs(c))
    with pytest.raises(ShapeError, match="window"):
        fit_power_law(k, y, window="last_half")


@given(st.floats(-1.0, 2.5), st.floats(-1.0, 2.5))
def test_local_exponent(c1, c2):
    k = np.geomspace(1, 1e4, 400)
    # exact for a pure power law (log y is linear in log k): rounding only
    np.testing.assert_allclose(local_exponent(k, 3.0 * k**c1), c1, atol=1e-9)
    # a sum of two power laws: the exponent (c1 k^c1 + c2 k^c2) / (k^c1 + k^c2); centred
    # differences err by O(h^2 y'''), h = log-spacing 0.023, so 1e-3 at the interior points
    y = np.stack([k**c1 + k**c2, 2 * k**c1], axis=1)
    want = (c1 * k**c1 + c2 * k**c2) / (k**c1 + k**c2)
    got = local_exponent(k, y)
    np.testing.assert_allclose(got[1:-1, 0], want[1:-1], atol=1e-3)
    np.testing.assert_allclose(got[:, 1], c1, atol=1e-9)


def test_tail_median_abs_is_seed_000_eq_1():
    rng = np.random.default_rng(0)
    dH = rng.normal(size=(400, 3))
    np.testing.assert_array_equal(tail_median_abs(dH), np.median(np.abs(dH[320:]), axis=0))
    np.testing.assert_array_equal(tail_median_abs(dH[:, 0], tail=1.0), np.median(np.abs(dH[:, 0])))
    assert tail_median_abs(dH[:, 0], tail=1e-6) == abs(dH[-1, 0])
    with pytest.raises(ShapeError):
        tail_median_abs(dH, tail=0.0)


def test_reversibility_error():
    def rotate(theta, p, n):  # exact flow of the unit oscillator: reversible
        a = 0.1 * n
        return theta * np.cos(a) + p * np.sin(a), -theta * np.sin(a) + p * np.cos(a)

    def damp(theta, p, n):  # p <- p / 2 per step: not reversible
        return theta + p, p * 0.5**n

    theta0, p0 = np.array([[1.0, 0.0], [0.5, 2.0]]), np.array([[0.0, 1.0], [1.0, 1.0]])
    assert np.all(reversibility_error(rotate, theta0, p0, 7) < 10 * EPS)
    # by hand: theta1 = theta0 + p0, p1 = p0 / 2; theta2 = theta1 - p1, p2 = -p1 / 2
    theta2 = theta0 + p0 / 2
    p2 = -p0 / 4
    want = np.sqrt(
        np.sum((theta2 - theta0) ** 2 + (-p2 - p0) ** 2, axis=1) / np.sum(theta0**2 + p0**2, axis=1)
    )
    np.testing.assert_allclose(reversibility_error(damp, theta0, p0, 1), want, rtol=1e-15)
    with pytest.raises(DynlabError, match="zero"):
        reversibility_error(rotate, np.zeros(2), np.zeros(2), 1)


@given(st.integers(32, 400), st.floats(0.0, 1.0), st.floats(0.0, 2 * np.pi))
def test_dominant_frequency_of_a_tone(T, u, phase):
    # a tone at least 4 bins from 0 and Nyquist: the Hann + 4x padding + log-parabola estimate
    # is within 0.0016 bin of it (measured over 1500 random tones); tolerance 0.005 / T
    f = 4 / T + u * (0.5 - 8 / T)
    x = 2.0 * np.cos(2 * np.pi * f * np.arange(T) + phase) + 0.3
    assert abs(dominant_frequencies(x)[0] - f) < 0.005 / T
    assert abs(dominant_frequencies(x, dt=0.5)[0] - 2 * f) < 0.01 / T


def test_two_tones_strongest_first_and_shapes():
    T = 512
    t = np.arange(T)
    x = np.stack(
        [
            np.cos(2 * np.pi * 0.1 * t) + 3 * np.cos(2 * np.pi * 0.31 * t),
            np.sin(2 * np.pi * 0.2 * t),
        ],
        axis=1,
    )
    got = dominant_frequencies(x[:, None, :], n_peaks=2)
    assert got.shape == (2, 1, 2)
    np.testing.assert_allclose(got[:, 0, 0], [0.31, 0.1], atol=0.005 / T)
    assert abs(got[0, 0, 1] - 0.2) < 0.005 / T
    with pytest.raises(DynlabError, match="spectral peaks"):
        dominant_frequencies(np.ones(64))


def test_heavy_ball_oscillates_at_the_discrete_mode_frequencies():
    # GD with momentum on a diagonal quadratic: theta_i is a damped sinusoid whose frequency is
    # arg(lambda_i) / 2 pi of the 2 x 2 mode recursion (dynlab.modes, exact=True); light
    # damping (|lambda| = sqrt(0.999)) keeps the peak within the tone tolerance 0.005 / T.
    rho = np.array([1.0, 0.3])
    T = 2000
    rec = run(
        "gd",
        QuadraticProblem(np.diag(rho)),
        n_paths=1,
        n_steps=T,
        seed=0,
        lr=0.05,
        momentum=0.999,
        theta0=[1.0, 1.0],
        record=Recording(every=1, basis=np.eye(2)),
    )
    got = dominant_frequencies(rec.proj_theta[:, 0, :])[0]
    want = mode_frequencies(rho, lr=0.05, momentum=0.999, exact=True)
    np.testing.assert_allclose(got, want, atol=0.005 / T)


def test_ensemble_mean_sem():
    x = np.arange(12.0).reshape(3, 4) ** 2
    mean, sem = ensemble_mean_sem(x, axis=1)
    np.testing.assert_allclose(mean, x.mean(axis=1))
    np.testing.assert_allclose(sem, np.std(x, axis=1, ddof=1) / 2)
    with pytest.raises(ShapeError):
        ensemble_mean_sem(np.ones((1, 3)))
