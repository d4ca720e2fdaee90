"""dynlab.symmetry's exact broken-conservation laws against theory.neural_mechanics.

Kunin et al. 2021, arXiv:2012.04728.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dynlab import config
from dynlab.symmetry import discrete_law, modified_flow_law
from dynlab.testing.strategies import seeds
from theory import neural_mechanics as tnm

EPS = config.EPS
hyper = dict(
    lr=st.floats(1e-3, 0.5), momentum=st.floats(0.0, 0.99), weight_decay=st.floats(0.0, 0.5)
)


@given(q0=st.floats(-3, 3), p0=st.floats(-1, 1), n=st.integers(1, 300), **hyper)
def test_translation_heavy_ball(q0, p0, n, lr, momentum, weight_decay):
    ours = discrete_law(
        "translation", q0, lr=lr, n_steps=n, momentum=momentum, weight_decay=weight_decay, p0=p0
    )
    ref = tnm.translation_heavy_ball(q0, p0, n, lr=lr, momentum=momentum, weight_decay=weight_decay)
    # two evaluations of one linear recursion: rounding ~ n eps max|state|
    np.testing.assert_allclose(
        ours, ref, rtol=0, atol=8 * n * EPS * (1 + np.abs(ref).max() + abs(p0))
    )


@given(st.floats(0.1, 10), seeds, st.integers(1, 300), st.floats(1e-3, 0.5), st.floats(0.0, 0.5))
def test_scale_gd_with_gradient_drive(q0, seed, n, lr, weight_decay):
    G = np.random.default_rng(seed).exponential(1.0, n)
    ours = discrete_law("scale", q0, lr=lr, weight_decay=weight_decay, grad_sq=G)
    ref = tnm.scale_norm_gd(q0, G, lr=lr, weight_decay=weight_decay)
    np.testing.assert_allclose(ours, ref, rtol=8 * n * EPS)  # sums of positive terms


@given(q0=st.floats(0.1, 10), p0=st.floats(-1, 1), seed=seeds, n=st.integers(1, 300), **hyper)
def test_scale_heavy_ball_with_kinetic_drive(q0, p0, seed, n, lr, momentum, weight_decay):
    Kin = np.random.default_rng(seed).exponential(1.0, n)
    ours = discrete_law(
        "scale", q0, lr=lr, momentum=momentum, weight_decay=weight_decay, p0=p0, kinetic=Kin
    )
    ref, _ = tnm.heavy_ball_scale(q0, p0, Kin, lr=lr, momentum=momentum, weight_decay=weight_decay)
    scale = 1 + np.abs(ref).max() + lr**2 * Kin.sum()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=16 * n * EPS * scale)


@given(st.floats(-3, 3), st.floats(1e-3, 0.5), st.floats(0.0, 0.5))
def test_translation_modified_flow(q0, lr, weight_decay):
    t = np.linspace(0.0, 10.0, 51)
    ours = modified_flow_law("translation", q0, t, lr=lr, weight_decay=weight_decay)
    ref = tnm.translation_flow(q0, t, lr=lr, weight_decay=weight_decay)
    np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=1e-300)
