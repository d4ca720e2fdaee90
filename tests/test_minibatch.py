"""Exact moments of minibatch SGD with independent batches against brute-force enumeration.

The oracle (tests/naive_minibatch.py) runs the optimizer on every possible batch sequence of a
tiny data set and averages; the dense references build ``E[A_B (x) A_B]`` over all batches.
Neither calls dynlab.minibatch. Tolerances are rounding: both sides sum O(steps * N^S) products
of O(1) numbers, so their difference is a few hundred eps relative to the largest entry; we
allow ``ROUND = 1e4 eps`` (~2e-12) times that entry (times the condition number 1 / (1 - rho)
of the stationary solve where one is involved).
"""

import naive_minibatch as naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab import config
from dynlab.errors import DynlabError, HyperparameterError, StabilityRegionError
from dynlab.hyper import HeavyBall
from dynlab.minibatch import FiniteData, MinibatchSGD, batch_factor, max_stable_lr
from dynlab.sgd import SGDPhaseSpace

ROUND = 1e4 * config.EPS


def dataset(seed, N, d, scale=1.0):
    rng = np.random.default_rng(seed)
    X = scale * rng.standard_normal((N, d))
    return X, X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(N)


def close(a, b, factor=1.0):
    scale = max(np.max(np.abs(b)), np.finfo(float).tiny)
    return np.max(np.abs(a - b)) <= factor * ROUND * scale


@pytest.mark.parametrize("sampling", ["with_replacement", "without_replacement"])
@pytest.mark.parametrize(
    "N, S, momentum, weight_decay", [(5, 1, 0.0, 0.0), (6, 2, 0.9, 0.3), (5, 3, 0.5, 0.0)]
)
def test_moments_equal_enumeration(sampling, N, S, momentum, weight_decay):
    X, y = dataset(N + S, N, 2)
    steps = 3 if (S > 1 and sampling == "with_replacement") else 4
    hp = HeavyBall(lr=0.15, momentum=momentum, weight_decay=weight_decay, batch_size=S)
    theta0 = np.array([0.3, -0.7])
    ref_m, ref_P = naive.independent_moments(
        X,
        y,
        steps,
        lr=hp.lr,
        momentum=momentum,
        weight_decay=weight_decay,
        S=S,
        sampling=sampling,
        theta0=theta0,
    )
    sgd = MinibatchSGD(FiniteData(X, y, weight_decay), hp, sampling)
    m, P = sgd.moments(steps=np.arange(steps + 1)[::-1], theta0=theta0)
    assert close(m[::-1], ref_m)
    assert close(P[::-1], ref_P)


@given(
    seed=st.integers(0, 2**16),
    N=st.integers(3, 6),
    S=st.integers(1, 3),
    momentum=st.sampled_from([0.0, 0.3, 0.9, 0.99]),
    weight_decay=st.sampled_from([0.0, 0.2]),
    replacement=st.booleans(),
    lr_frac=st.floats(0.05, 0.95),
)
def test_stationary_solves_the_enumerated_map(
    seed, N, S, momentum, weight_decay, replacement, lr_frac
):
    """Stationary P against a dense solve of P = E[A_B P A_B^T] + E[c_B c_B^T] (enumeration)."""
    sampling = "with_replacement" if replacement else "without_replacement"
    S = min(S, N)
    X, y = dataset(seed, N, 2)
    data = FiniteData(X, y, weight_decay)
    lr = lr_frac * 2 * (1 + momentum) / data.k[0]
    hp = HeavyBall(lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=S)
    AA, cc = naive.dense_second_moment(
        X, y, lr=lr, momentum=momentum, weight_decay=weight_decay, S=S, sampling=sampling
    )
    rho_ref = np.max(np.abs(np.linalg.eigvals(AA)))
    sgd = MinibatchSGD(data, hp, sampling)
    assert abs(sgd.spectral_radius() - rho_ref) <= ROUND * np.linalg.cond(AA)
    if rho_ref >= 0.999:  # near the edge the dense reference itself is ill-conditioned
        return
    if sgd.c_S == 0.0:  # the full batch: no noise, the stationary state is theta* exactly
        assert np.all(sgd.stationary() == 0.0)
        return
    n = AA.shape[0]
    I_AA = np.eye(n) - AA
    P_ref = np.linalg.solve(I_AA, cc.ravel()).reshape(cc.shape)
    assert close(sgd.stationary(), P_ref, np.linalg.cond(I_AA))


def test_stationary_is_the_limit_of_moments():
    X, y = dataset(3, 6, 3)
    sgd = MinibatchSGD(FiniteData(X, y, 0.1), HeavyBall(0.1, 0.5, 0.1, batch_size=2))
    _, P = sgd.moments(steps=4000)
    assert close(P[0], sgd.stationary(), 10)


def test_fluctuation_dissipation_holds_exactly():
    """Yaida's relation E[delta^T H_lambda delta] = (1 + beta)/(2 lr) E||Delta theta||^2."""
    X, y = dataset(4, 30, 4)
    data = FiniteData(X, y, 0.2)
    hp = HeavyBall(0.05, 0.9, 0.2, batch_size=3)
    sgd = MinibatchSGD(data, hp, "without_replacement")
    lhs = 2 * sgd.excess_loss()
    rhs = (1 + hp.momentum) / (2 * hp.lr) * sgd.speed()
    assert abs(lhs - rhs) <= 100 * ROUND * rhs


@given(
    c=st.floats(0.3, 2.0),
    momentum=st.sampled_from([0.0, 0.5, 0.99]),
    weight_decay=st.sampled_from([0.0, 0.4]),
    S=st.integers(1, 4),
    lr_frac=st.floats(0.05, 0.9),
)
def test_additive_limit_equals_discrete_sgd(c, momentum, weight_decay, S, lr_frac):
    """Per-sample Hessians equal to H (x_i = +-c, d = 1): dynlab.sgd's exact Stein solution."""
    X = c * np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0])[:, None]
    y = np.array([0.3, -1.2, 0.8, 2.0, 0.1, -0.4, 1.1])
    data = FiniteData(X, y, weight_decay)
    lr = lr_frac * 2 * (1 + momentum) / data.k[0]
    hp = HeavyBall(lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=S)
    sgd = MinibatchSGD(data, hp, "without_replacement")
    c_S = batch_factor(7, S, "without_replacement")
    ref = SGDPhaseSpace(
        data.H,
        X.T @ y / 7,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        noise_cov=c_S * data.Sigma_a,
    ).stationary_cov(exact=True)
    assert close(sgd.stationary(), ref, 10 / (1 - momentum))
    assert abs(sgd.spectral_radius() - float(np.max(ref_radius(data, hp))) ** 2) <= ROUND


def ref_radius(data, hp):
    F = np.array([[1 - hp.lr * data.k[0], hp.lr * hp.momentum], [-data.k[0], hp.momentum]])
    return np.abs(np.linalg.eigvals(F))


def test_arpack_equals_dense(monkeypatch):
    X, y = dataset(5, 40, 6)
    data = FiniteData(X, y)
    sgd = MinibatchSGD(data, HeavyBall(0.3 / data.k[0], 0.9, batch_size=1))
    dense = sgd.spectral_radius()
    monkeypatch.setattr(config, "MINIBATCH_DENSE_MAX", 0)
    assert abs(sgd.spectral_radius() - dense) <= 100 * ROUND


def test_displacement_against_moments():
    """E||theta_{k+t} - theta_k||^2 from the stationary law against an explicit F^t P."""
    X, y = dataset(6, 12, 3)
    data = FiniteData(X, y, 0.1)
    hp = HeavyBall(0.1, 0.7, 0.1, batch_size=2)
    sgd = MinibatchSGD(data, hp)
    P = sgd.stationary()
    d = 3
    I = np.eye(d)
    F = np.block(
        [[I - hp.lr * data.H_lambda, hp.lr * hp.momentum * I], [-data.H_lambda, hp.momentum * I]]
    )
    t = np.array([1, 2, 7, 30])
    ref = [
        2 * np.trace(P[:d, :d]) - 2 * np.trace((np.linalg.matrix_power(F, k) @ P)[:d, :d])
        for k in t
    ]
    assert close(sgd.displacement(steps=t), np.array(ref), 10)
    c = sgd.diffusion_exponent(steps=np.array([1, 5]))
    assert 1.0 < c[0] <= 2.0 and c[1] < c[0]


def test_fourth_moment_is_matrix_free_and_right():
    X, y = dataset(7, 9, 4)
    data = FiniteData(X, y)
    Y = np.random.default_rng(0).standard_normal((4, 4))
    ref = np.einsum("ia,ib,ic,id,bc->ad", X, X, X, X, Y) / 9
    assert close(data.fourth_moment(Y), ref)


def test_errors_name_the_argument():
    X, y = dataset(8, 6, 2)
    data = FiniteData(X, y, 0.1)
    with pytest.raises(HyperparameterError, match="weight_decay"):
        MinibatchSGD(data, HeavyBall(0.1, batch_size=2))
    with pytest.raises(HyperparameterError, match="batch_size"):
        MinibatchSGD(data, HeavyBall(0.1, 0.0, 0.1, batch_size=7), "without_replacement")
    with pytest.raises(DynlabError, match="sampling"):
        MinibatchSGD(data, HeavyBall(0.1, 0.0, 0.1), "bootstrap")
    with pytest.raises(DynlabError, match="steps"):
        MinibatchSGD(data, HeavyBall(0.1, 0.0, 0.1)).moments(steps=-1)
    sgd = MinibatchSGD(data, HeavyBall(1.9 / data.k[0], 0.0, 0.1))
    assert not sgd.is_mean_square_stable
    with pytest.raises(StabilityRegionError):
        sgd.stationary()


@settings(max_examples=20)
@given(
    seed=st.integers(0, 2**16),
    N=st.integers(3, 5),
    S=st.integers(1, 2),
    momentum=st.sampled_from([0.0, 0.5, 0.99]),
    weight_decay=st.sampled_from([0.0, 0.3]),
    replacement=st.booleans(),
    lr_frac=st.floats(0.05, 1.2),
)
def test_moments_equal_enumeration_random(seed, N, S, momentum, weight_decay, replacement, lr_frac):
    """Random data and hyperparameters, also beyond the mean-square edge (lr_frac > 1 of the
    deterministic limit): the transient moments are exact whether or not they converge."""
    sampling = "with_replacement" if replacement else "without_replacement"
    X, y = dataset(seed, N, 2)
    data = FiniteData(X, y, weight_decay)
    lr = lr_frac * 2 * (1 + momentum) / data.k[0]
    hp = HeavyBall(lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=S)
    ref_m, ref_P = naive.independent_moments(
        X, y, 3, lr=lr, momentum=momentum, weight_decay=weight_decay, S=S, sampling=sampling
    )
    m, P = MinibatchSGD(data, hp, sampling).moments(steps=np.arange(4))
    assert close(m, ref_m)
    assert close(P, ref_P)


def test_a_sweep_stacks_the_scalar_models_axes_first():
    # lr x batch_size broadcast (2, 1) x (3,) -> (2, 3): every observable of the sweep at an
    # index equals, bit for bit, that of the model built for the optimizer there
    X, y = dataset(5, 6, 2)
    data = FiniteData(X, y, 0.2)
    lr, S = np.array([[0.05], [0.2]]), np.array([1, 2, 3])
    sweep = MinibatchSGD(data, HeavyBall(lr, 0.5, 0.2, batch_size=S), "without_replacement")
    m, P = sweep.moments(steps=[1, 5])
    assert m.shape == (2, 3, 2, 4) and P.shape == (2, 3, 2, 4, 4)
    results = {
        "stationary": sweep.stationary(),
        "mode_variance": sweep.mode_variance(),
        "excess_loss": sweep.excess_loss(),
        "speed": sweep.speed(),
        "displacement": sweep.displacement(steps=[1, 10]),
        "spectral_radius": sweep.spectral_radius(),
    }
    assert results["stationary"].shape == (2, 3, 4, 4)
    assert results["excess_loss"].shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        one = MinibatchSGD(
            data, HeavyBall(float(lr[i, 0]), 0.5, 0.2, batch_size=int(S[j])), "without_replacement"
        )
        m1, P1 = one.moments(steps=[1, 5])
        np.testing.assert_array_equal(m[i, j], m1)
        np.testing.assert_array_equal(P[i, j], P1)
        for name, value in results.items():
            expected = getattr(one, name)(steps=[1, 10]) if name == "displacement" else None
            expected = getattr(one, name)() if expected is None else expected
            np.testing.assert_array_equal(value[i, j], expected)
        assert sweep.is_mean_square_stable[i, j] == one.is_mean_square_stable


def test_a_sweep_keeps_the_data_weight_decay_and_refuses_what_it_cannot_be():
    X, y = dataset(5, 6, 2)
    data = FiniteData(X, y, 0.2)
    with pytest.raises(HyperparameterError, match="weight_decay"):
        MinibatchSGD(data, HeavyBall(0.1, 0.5, [0.2, 0.3], batch_size=2))
    with pytest.raises(HyperparameterError, match="empty sweep"):
        MinibatchSGD(data, HeavyBall(np.array([]), 0.5, 0.2, batch_size=2))
    sweep = MinibatchSGD(
        data, HeavyBall(0.1, 0.5, 0.2, batch_size=[1, 2, 6]), "without_replacement"
    )
    np.testing.assert_array_equal(sweep.c_S, [1.0, 0.4, 0.0])  # (N - S) / (S (N - 1)), N = 6
    with pytest.raises(HyperparameterError, match="one optimizer"):
        max_stable_lr(data, momentum=[0.0, 0.5], batch_size=1)
