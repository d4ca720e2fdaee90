"""dynlab.minibatch against theory.minibatch (sympy, derived by enumerating batches) in d = 1.

Tolerances are rounding: the closed forms and dynlab's GMRES / Brent solves agree to a few
hundred eps relative, times the condition number 1 / (1 - rho) of the fixed point (ROUND =
1e4 eps); the edge to Brent's xtol (config.MINIBATCH_LR_RTOL of the deterministic limit).
"""

import numpy as np
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from dynlab import config
from dynlab.hyper import HeavyBall
from dynlab.minibatch import FiniteData, MinibatchSGD, batch_factor, max_stable_lr
from theory import minibatch as theory

ROUND = 1e4 * config.EPS
STATIONARY = theory.stationary()
EDGE = sp.lambdify((theory.m2, theory.m4, theory.c, theory.lam), theory.edge_momentum0())


def data_1d(seed, N, weight_decay):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(N) * rng.uniform(0.2, 2.0, N)
    return FiniteData(x[:, None], 0.7 * x + rng.standard_normal(N), weight_decay)


@given(
    seed=st.integers(0, 2**16),
    N=st.integers(3, 40),
    S=st.integers(1, 3),
    momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]),
    weight_decay=st.sampled_from([0.0, 0.3]),
    replacement=st.booleans(),
    frac=st.floats(0.05, 0.95),
)
def test_stationary_equals_theory(seed, N, S, momentum, weight_decay, replacement, frac):
    sampling = "with_replacement" if replacement else "without_replacement"
    data = data_1d(seed, N, weight_decay)
    lr = frac * max_stable_lr(data, momentum=momentum, batch_size=S, sampling=sampling)
    sgd = MinibatchSGD(data, HeavyBall(lr, momentum, weight_decay, batch_size=S), sampling)
    x2 = data.X[:, 0] ** 2
    ref = STATIONARY(
        np.mean(x2),
        np.mean(x2**2),
        data.Sigma_a[0, 0],
        batch_factor(N, S, sampling),
        lr,
        momentum,
        weight_decay,
    )
    got = sgd.stationary()
    assert np.max(np.abs(got - ref)) <= ROUND / (1 - frac) / (1 - momentum) * np.max(np.abs(ref))


@given(seed=st.integers(0, 2**16), N=st.integers(3, 40), S=st.integers(1, 3))
def test_momentum0_edge_equals_theory(seed, N, S):
    data = data_1d(seed, N, 0.1)
    x2 = data.X[:, 0] ** 2
    ref = EDGE(np.mean(x2), np.mean(x2**2), batch_factor(N, S, "with_replacement"), 0.1)
    got = max_stable_lr(data, momentum=0.0, batch_size=S)
    assert abs(got - ref) <= 2 * config.MINIBATCH_LR_RTOL * 2 / data.k[0]
