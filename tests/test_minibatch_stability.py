"""The mean-square stability edge: the root of the Perron root, its bracketing, its plateaus.

References are independent of the code under test: the dense operator ``E[A_B (x) A_B]`` built
by enumerating every batch (tests/naive_minibatch.py), and the asymptotes of the module's
docstring (the two plateaus) whose neglected terms are stated at each assert.
"""

import naive_minibatch as naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab import config
from dynlab.hyper import HeavyBall
from dynlab.minibatch import (
    FiniteData,
    MinibatchSGD,
    crossover_batch_size,
    max_stable_lr,
    noise_sharpness,
)

ROUND = 1e4 * config.EPS


def dataset(seed, N, d, decay=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d)) * np.arange(1, d + 1) ** -decay
    return X, X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(N)


def dense_radius(X, y, lr, momentum, weight_decay, S, sampling):
    AA, _ = naive.dense_second_moment(
        X, y, lr=lr, momentum=momentum, weight_decay=weight_decay, S=S, sampling=sampling
    )
    return np.max(np.abs(np.linalg.eigvals(AA)))


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**16),
    S=st.integers(1, 3),
    momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]),
    weight_decay=st.sampled_from([0.0, 0.3]),
    replacement=st.booleans(),
)
def test_edge_brackets_the_enumerated_radius(seed, S, momentum, weight_decay, replacement):
    """At lr (1 -+ 1e-6) the enumerated operator's radius is below / above 1."""
    sampling = "with_replacement" if replacement else "without_replacement"
    X, y = dataset(seed, 5, 2)
    data = FiniteData(X, y, weight_decay)
    lr = max_stable_lr(data, momentum=momentum, batch_size=S, sampling=sampling)
    below = dense_radius(X, y, lr * (1 - 1e-6), momentum, weight_decay, S, sampling)
    above = dense_radius(X, y, lr * (1 + 1e-6), momentum, weight_decay, S, sampling)
    # the radius moves by O(1e-6) across the bracket, far above its rounding (cond * ROUND)
    assert below < 1.0 < above or lr == 2 * (1 + momentum) / data.k[0]


@pytest.mark.parametrize("frac", [1 - 1e-3, 1 - 1e-6])
def test_stationary_near_the_edge(frac):
    """Just inside the edge the stationary solve still matches the dense solve."""
    X, y = dataset(1, 6, 2)
    data = FiniteData(X, y)
    lr = frac * max_stable_lr(data, momentum=0.9, batch_size=2)
    AA, cc = naive.dense_second_moment(
        X, y, lr=lr, momentum=0.9, weight_decay=0.0, S=2, sampling="with_replacement"
    )
    I_AA = np.eye(AA.shape[0]) - AA
    P_ref = np.linalg.solve(I_AA, cc.ravel()).reshape(cc.shape)
    P = MinibatchSGD(data, HeavyBall(lr, 0.9, batch_size=2)).stationary()
    # rounding amplified by the condition number of I - E[A (x) A] (~ 1 / (1 - frac))
    assert np.max(np.abs(P - P_ref)) <= ROUND * np.linalg.cond(I_AA) * np.max(np.abs(P_ref))


def test_beyond_the_edge_raises():
    X, y = dataset(1, 6, 2)
    data = FiniteData(X, y)
    lr = (1 + 1e-3) * max_stable_lr(data, momentum=0.9, batch_size=2)
    sgd = MinibatchSGD(data, HeavyBall(lr, 0.9, batch_size=2))
    assert not sgd.is_mean_square_stable
    with pytest.raises(ValueError, match="stability edge"):
        sgd.stationary()


@pytest.mark.parametrize("momentum", [0.9, 0.99])
def test_two_plateaus_and_their_crossover(momentum):
    """Andreyev et al.'s plateaus: lr * noise sharpness -> 2 (1 - beta) at small S,
    lr (rho_1 + lambda) -> 2 (1 + beta) at large S, meeting at crossover_batch_size.

    Asymptotic, not rounding: each plateau's neglected term is the other plateau's share
    ``r_small = lr sigma_S / (2 (1 - beta))``, ``r_large = lr k_1 / (2 (1 + beta))``. On this
    data set their sum stays within 5 % of 1 across all S (measured: 1.003 .. 1.042, largest at
    the crossover), so the edge is the harmonic combination of the two plateaus to 5 %, and at
    the crossover each share is 1/2 (measured 0.52).
    """
    X, y = dataset(0, 200, 4)
    data = FiniteData(X, y)
    Sx = crossover_batch_size(data, momentum=momentum)
    for S in [1, int(Sx), int(64 * Sx)]:
        lr = max_stable_lr(data, momentum=momentum, batch_size=S)
        r_small = lr * noise_sharpness(data, batch_size=S) / (2 * (1 - momentum))
        r_large = lr * data.k[0] / (2 * (1 + momentum))
        assert abs(r_small + r_large - 1) <= 0.05
        if S == 1:
            assert abs(1 - r_small) <= 2 * r_large
        elif S == int(Sx):
            assert abs(r_small - 0.5) <= 0.05 and abs(r_large - 0.5) <= 0.05
        else:
            assert abs(1 - r_large) <= 2 * r_small


def test_edge_grows_with_batch_size_and_without_replacement():
    X, y = dataset(2, 30, 3)
    data = FiniteData(X, y, 0.1)
    with_r = [max_stable_lr(data, momentum=0.9, batch_size=S) for S in (1, 3, 10)]
    without = [
        max_stable_lr(data, momentum=0.9, batch_size=S, sampling="without_replacement")
        for S in (1, 3, 10)
    ]
    assert np.all(np.diff(with_r) > 0)
    assert without[0] == pytest.approx(with_r[0], rel=1e-8)  # c_1 = 1 either way
    assert np.all(np.array(without[1:]) > np.array(with_r[1:]))  # smaller c_S
