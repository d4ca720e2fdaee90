"""The exact heavy-ball recursion in dynlab (sgd.discrete, modes exact=True) vs theory.discrete.

``theory.discrete`` derives F, G and the Stein solution P from the update itself (sympy); here
its closed forms are the reference. Tolerances are rounding, stated at each assert.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynlab import config, modes
from dynlab.errors import StabilityRegionError
from dynlab.sgd import SGDPhaseSpace
from dynlab.testing.strategies import sgd_setups
from theory import discrete, ou_mode

EPS = config.EPS
D = 3


def stein_cond(F):
    n = F.shape[0]
    return np.linalg.cond(np.eye(n * n) - np.kron(F, F))


def modal(m):
    w, q = np.linalg.eigh(m.H)
    return w, q, q.T @ m.noise_cov @ q


def hyper(m):
    return dict(lr=m.lr, momentum=m.momentum, weight_decay=m.weight_decay)


@given(sgd_setups(D))
def test_transition(kw):
    m = SGDPhaseSpace(**kw)
    w, q, _ = modal(m)
    F, G = discrete.transition(w, **hyper(m))
    Fl = ou_mode.phase_space_matrix(q, F)
    # q diag(.) q^T reconstructs I - lr K etc. to d eps ||F|| (eigh backward error)
    assert np.max(np.abs(m.discrete.F - Fl)) <= 8 * D * EPS * np.max(np.abs(m.discrete.F))
    assert np.all(G == G[0]) and np.array_equal(
        m.discrete.G, np.vstack([G[0, 0, 0] * np.eye(D), G[0, 1, 0] * np.eye(D)])
    )


@given(sgd_setups(D))
def test_stationary_cov_any_noise(kw):
    m = SGDPhaseSpace(**kw)
    w, q, S = modal(m)
    P = ou_mode.phase_space_matrix(
        q, discrete.pair_stationary_cov(w, S, batch_size=m.batch_size, **hyper(m))
    )
    # both backward-stable evaluations of P(H, Sigma): forward error eps cond(Stein operator)
    tol = 4 * 2 * D * EPS * stein_cond(m.discrete.F)
    assert np.linalg.norm(m.discrete.stationary_cov() - P, 2) <= tol * np.linalg.norm(P, 2)
    assert np.linalg.norm(m.stationary_cov(exact=True) - P, 2) <= tol * np.linalg.norm(P, 2)


@given(sgd_setups(D))
def test_mode_variances_and_speed_exact(kw):
    m = SGDPhaseSpace(**kw)
    w, q, S = modal(m)
    s = np.diag(S)
    P = discrete.stationary_cov(w, s, batch_size=m.batch_size, **hyper(m))
    var_t, var_v, cov = modes.stationary_mode_variances(
        w, s, batch_size=m.batch_size, exact=True, **hyper(m)
    )
    # closed forms of the same inputs; 2(1+beta) - lr K cancels near the stability edge, which
    # amplifies rounding by 2(1+beta) / (2(1+beta) - lr K)
    edge = 2 * (1 + m.momentum) / (2 * (1 + m.momentum) - m.lr * (w + m.weight_decay))
    for got, ref in ((var_t, P[:, 0, 0]), (var_v, P[:, 1, 1])):
        assert np.all(np.abs(got - ref) <= 16 * EPS * (1 + edge) * np.abs(ref))
    # dynlab writes Cov(theta_i, v_i) with (k_i - beta k_i): relative rounding eps / (1 - beta)
    assert np.all(
        np.abs(cov - P[:, 0, 1])
        <= 16 * EPS * (1 + edge + 1 / (1 - m.momentum)) * np.abs(P[:, 0, 1])
    )
    ref_speed = discrete.speed(w, s, batch_size=m.batch_size, **hyper(m))
    assert abs(m.speed(exact=True) - ref_speed) <= 16 * D * EPS * np.max(1 + edge) * ref_speed


@given(sgd_setups(D), st.integers(0, 200))
def test_displacement_exact(kw, k):
    m = SGDPhaseSpace(**kw)
    w, q, S = modal(m)
    s = np.diag(S)
    F, _ = discrete.transition(w, **hyper(m))
    P = discrete.stationary_cov(w, s, batch_size=m.batch_size, **hyper(m))
    powers = [np.linalg.matrix_power(F[i], k) for i in range(D)]
    ref = sum(2 * P[i, 0, 0] - 2 * (powers[i] @ P[i])[0, 0] for i in range(D))
    # F^k by repeated squaring: error k eps max_j ||F^j|| (transient growth of a non-normal F);
    # the result subtracts from 2 Var theta_i, so the error is absolute in units of it
    growth = max(
        max(np.linalg.norm(np.linalg.matrix_power(F[i], j), 2) for j in range(k + 1))
        for i in range(D)
    )
    tol = 4 * (k + 1) * EPS * growth * 2 * np.sum(P[:, 0, 0])
    assert abs(m.displacement(steps=np.array([k]), exact=True)[0] - ref) <= tol


@given(sgd_setups(D), st.integers(0, 60))
def test_mean_exact(kw, k):
    m = SGDPhaseSpace(**kw)
    rng = np.random.default_rng(2)
    theta0, v0 = rng.standard_normal(D), rng.standard_normal(D)
    F, _ = discrete.transition(m.rho, **hyper(m))
    a0, b0 = m.q.T @ (theta0 - m.mu), m.q.T @ v0
    ab = np.array([np.linalg.matrix_power(F[i], k) @ [a0[i], b0[i]] for i in range(D)])
    th, v = m.mean(steps=np.array(k), theta0=theta0, v0=v0, exact=True)
    growth = max(
        max(np.linalg.norm(np.linalg.matrix_power(F[i], j), 2) for j in range(k + 1))
        for i in range(D)
    )
    # as in test_displacement_exact, then a rotation by q (d eps)
    tol = 2 * D * (k + 1) * EPS * growth * (np.linalg.norm(theta0 - m.mu) + np.linalg.norm(v0))
    assert np.linalg.norm(th - (m.mu + m.q @ ab[:, 0])) <= tol + 2 * D * EPS * np.linalg.norm(m.mu)
    assert np.linalg.norm(v - m.q @ ab[:, 1]) <= tol


@given(sgd_setups(D))
def test_exact_frequencies(kw):
    m = SGDPhaseSpace(**kw)
    ref = discrete.frequency(m.rho, **hyper(m))
    got = modes.mode_frequencies(m.rho, exact=True, **hyper(m))
    # arccos(c) has derivative 1/sqrt(1 - c^2): rounding of c = a/(2 sqrt beta) is amplified by it
    a = 1 + m.momentum - m.lr * (m.rho + m.weight_decay)
    c = np.clip(a / (2 * np.sqrt(m.momentum)), -1, 1) if m.momentum > 0 else np.zeros_like(a)
    amp = 1 / np.sqrt(np.maximum(1 - c * c, EPS))
    assert np.all(np.abs(got - ref) <= 2 * EPS * (1 + amp))


@given(sgd_setups(D))
def test_equipartition_exact(kw):
    m = SGDPhaseSpace(**kw)
    w, q, S = modal(m)
    P = discrete.stationary_cov(w, np.diag(S), batch_size=m.batch_size, **hyper(m))
    mass = m.lr * (1 + m.momentum) / 2
    pot = 0.5 * np.sum((w + m.weight_decay) * P[:, 0, 0])
    kin = 0.5 * mass * np.sum(P[:, 1, 1])
    e = m.equipartition(exact=True)
    edge = np.max(2 * (1 + m.momentum) / (2 * (1 + m.momentum) - m.lr * (w + m.weight_decay)))
    # sums of positive closed-form terms; near the stability edge see
    # test_mode_variances_and_speed_exact
    assert abs(e.potential - pot) <= 16 * D * EPS * (1 + edge) * pot
    assert abs(e.kinetic - kin) <= 16 * D * EPS * (1 + edge) * kin
    # and the derived exact identity K P_tt = M P_vv, mode by mode
    assert abs(pot - kin) <= 16 * D * EPS * (1 + edge) * kin


@given(sgd_setups(D), st.floats(1e-9, 1e-3))
def test_stability_limit(kw, margin):
    kw = dict(kw)
    rho_max = float(np.linalg.eigvalsh(kw["H"])[-1])
    limit = float(
        discrete.stability_limit(rho_max, momentum=kw["momentum"], weight_decay=kw["weight_decay"])
    )
    SGDPhaseSpace(**{**kw, "lr": limit * (1 - margin)})
    with pytest.raises(StabilityRegionError):
        SGDPhaseSpace(**{**kw, "lr": limit * (1 + margin)})
