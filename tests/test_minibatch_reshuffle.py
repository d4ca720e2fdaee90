"""Random reshuffling: the subset recursion and the additive map against every permutation.

The oracle runs the optimizer through every permutation of a tiny data set
(tests/naive_minibatch.py) and averages the resulting affine epoch maps. Tolerances are
rounding: both sides sum O(N!) or O(2^N) products of O(1) matrices; ROUND = 1e4 eps relative to
the largest entry, times the condition number of the fixed-point solve where there is one.
"""

import naive_minibatch as naive
import numpy as np
import pytest

from dynlab import config
from dynlab.errors import DynlabError, HyperparameterError
from dynlab.hyper import HeavyBall
from dynlab.minibatch import FiniteData, MinibatchSGD, Reshuffle, reshuffle_fdr_violation

ROUND = 1e4 * config.EPS


def dataset(seed, N, d):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d))
    return X, X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(N)


def brute_force(X, y, hp):
    Psi = naive.reshuffle_operators(
        X, y, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay, S=hp.batch_size
    )
    n = Psi.shape[-1]
    E1 = Psi[-1].mean(axis=0)
    K = np.einsum("pab,pce->acbe", Psi[-1], Psi[-1]).reshape(n * n, n * n) / Psi.shape[1]
    Kj = [np.einsum("pab,pce->acbe", P, P).reshape(n * n, n * n) / P.shape[0] for P in Psi]
    return E1, K, Kj


@pytest.mark.parametrize(
    "N, S, momentum, weight_decay", [(4, 1, 0.0, 0.0), (6, 2, 0.9, 0.2), (6, 3, 0.5, 0.0)]
)
def test_exact_epoch_moments_equal_enumeration(N, S, momentum, weight_decay):
    X, y = dataset(N + S, N, 2)
    data = FiniteData(X, y, weight_decay)
    hp = HeavyBall(0.3 / data.k[0], momentum, weight_decay, batch_size=S)
    E1, K, Kj = brute_force(X, y, hp)
    n = E1.shape[0]
    m_ref = np.linalg.solve(np.eye(n - 1) - E1[:-1, :-1], E1[:-1, -1])
    r = np.arange(n * n - 1)
    A = np.eye(n * n - 1) - K[np.ix_(r, r)]
    W0 = np.append(np.linalg.solve(A, K[r, -1]), 1.0).reshape(n, n)
    rs = Reshuffle(data, hp)
    m0 = rs.exact_epoch_start_mean()
    scale = np.max(np.abs(W0))
    cond = np.linalg.cond(A)
    assert np.max(np.abs(m0 - m_ref)) <= ROUND * cond * scale
    mean, P0 = rs.exact_epoch_start()
    assert np.max(np.abs(mean - m_ref)) <= ROUND * cond * scale
    assert np.max(np.abs(P0 - W0[:-1, :-1])) <= ROUND * cond * scale
    means, Ps = rs.exact_within_epoch()
    for j, Kjj in enumerate(Kj):
        Wj = (Kjj @ W0.ravel()).reshape(n, n)
        assert np.max(np.abs(Ps[j] - Wj[:-1, :-1])) <= ROUND * cond * scale
        assert np.max(np.abs(means[j] - Wj[:-1, -1])) <= ROUND * cond * scale


@pytest.mark.parametrize("N, S, momentum", [(6, 1, 0.0), (6, 2, 0.9), (6, 3, 0.5)])
def test_additive_map_is_exact_without_multiplicative_noise(N, S, momentum):
    """x_i = +-c (d = 1): per-sample Hessians equal H, so the additive map is the exact one."""
    X = 1.3 * np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])[:N, None]
    y = np.array([0.3, -1.2, 0.8, 2.0, 0.1, -0.4])[:N]
    data = FiniteData(X, y, 0.1)
    hp = HeavyBall(0.4 / data.k[0], momentum, 0.1, batch_size=S)
    rs = Reshuffle(data, hp)
    mean, _ = rs.exact_within_epoch()
    _, P = rs.exact_within_epoch()
    scale = np.max(np.abs(P))
    assert np.max(np.abs(mean)) <= ROUND * scale**0.5  # the additive epoch-start mean is 0
    assert np.max(np.abs(rs.additive_within_epoch() - P)) <= 10 * ROUND * scale / (1 - momentum)
    assert np.max(np.abs(rs.hybrid_within_epoch() - P)) <= 10 * ROUND * scale / (1 - momentum)


def test_fdr_detects_reshuffling():
    """The full-gradient FDR holds for independent batches and breaks under reshuffling."""
    X, y = dataset(3, 6, 2)
    data = FiniteData(X, y, 0.1)
    hp = HeavyBall(0.2 / data.k[0], 0.9, 0.1, batch_size=2)
    for exact in (False, True):
        f = reshuffle_fdr_violation(data, hp, exact=exact)
        assert f.ratio < 1 - 0.05  # reshuffled noise is anti-correlated with the displacement
    sgd = MinibatchSGD(data, hp, "without_replacement")
    lhs = 2 * sgd.excess_loss()
    assert abs(lhs - (1 + hp.momentum) / (2 * hp.lr) * sgd.speed()) <= 100 * ROUND * lhs


def test_reshuffle_errors():
    X, y = dataset(1, 6, 2)
    data = FiniteData(X, y)
    with pytest.raises(HyperparameterError, match="batch_size"):
        Reshuffle(data, HeavyBall(0.1, batch_size=4))
    big = FiniteData(*dataset(1, 40, 2))
    with pytest.raises(DynlabError, match="additive"):
        Reshuffle(big, HeavyBall(0.01, batch_size=1)).exact_epoch_start()


def test_moments_over_two_epochs_equal_enumeration():
    """Steps 0..2M from a fixed start: every pair of permutations (N = 4, S = 2)."""
    X, y = dataset(5, 4, 2)
    data = FiniteData(X, y, 0.1)
    hp = HeavyBall(0.3 / data.k[0], 0.7, 0.1, batch_size=2)
    theta0 = np.array([0.4, -0.2])
    d = 2
    t1, v1 = naive.reshuffle_epoch(
        X, y, theta0, np.zeros(d), lr=hp.lr, momentum=0.7, weight_decay=0.1, S=2
    )
    zs = [np.concatenate([t1[j], v1[j]], axis=-1) for j in range(3)]
    second = [  # every second-epoch permutation after every first-epoch one
        naive.reshuffle_epoch(
            X, y, t1[-1, p], v1[-1, p], lr=hp.lr, momentum=0.7, weight_decay=0.1, S=2
        )
        for p in range(t1.shape[1])
    ]
    t2 = np.concatenate([t for t, _ in second], axis=1)
    v2 = np.concatenate([v for _, v in second], axis=1)
    zs += [np.concatenate([t2[j], v2[j]], axis=-1) for j in (1, 2)]
    star = np.concatenate([data.theta_star, np.zeros(d)])
    ref_m = np.array([(z - star).mean(axis=0) for z in zs])
    ref_P = np.array([(z - star).T @ (z - star) / z.shape[0] for z in zs])
    m, P = Reshuffle(data, hp).moments(steps=np.arange(5), theta0=theta0)
    assert np.max(np.abs(m - ref_m)) <= ROUND * np.max(np.abs(ref_P)) ** 0.5
    assert np.max(np.abs(P - ref_P)) <= ROUND * np.max(np.abs(ref_P))


def test_minibatch_sgd_refuses_reshuffle_and_names_the_model():
    # reshuffled batches are not independent: MinibatchSGD points to Reshuffle for every method
    X, y = dataset(6, 4, 2)
    data = FiniteData(X, y)
    hp = HeavyBall(0.2 / data.k[0], 0.5, batch_size=2)
    sgd = MinibatchSGD(data, hp, "reshuffle")
    for method in (
        lambda: sgd.moments(steps=[3, 0, 5]),
        sgd.stationary,
        sgd.spectral_radius,
        sgd.speed,
    ):
        with pytest.raises(DynlabError, match="Reshuffle"):
            method()
