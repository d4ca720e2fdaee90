"""Hypothesis strategies for linear-algebra inputs of SGD dynamics.

Every random quantity is drawn through hypothesis (a seed drawn by hypothesis feeds numpy),
so failures shrink and replay. Use them in your own tests::

    from hypothesis import given
    from dynlab.testing.strategies import spd_matrices

    @given(spd_matrices(5, max_cond=1e4))
    def test_something(H): ...
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "seeds",
    "orthogonal_matrices",
    "spectra",
    "spd_matrices",
    "psd_matrices",
    "stable_matrices",
    "sgd_setups",
    "critical_setups",
]

#: 32-bit seeds for numpy Generators, drawn (and shrunk) by hypothesis.
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def _orthogonal(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@st.composite
def orthogonal_matrices(draw, d: int) -> np.ndarray:
    """Haar-random d x d orthogonal matrices."""
    return _orthogonal(d, draw(seeds))


@st.composite
def spectra(draw, d: int, *, min_value: float = 1e-3, max_cond: float = 1e6) -> np.ndarray:
    """``d`` eigenvalues, sorted descending, with condition number up to ``max_cond``.

    The top eigenvalue is drawn in ``[1, 10]``, the others log-uniformly in
    ``[top / max_cond, top]``; all are floored at ``min_value``.
    """
    top = draw(st.floats(1.0, 10.0))
    logs = draw(st.lists(st.floats(-np.log10(max_cond), 0.0), min_size=d - 1, max_size=d - 1))
    w = np.array([top] + [top * 10.0**x for x in logs])
    w = np.maximum(w, min_value)
    return np.sort(w)[::-1]


@st.composite
def spd_matrices(draw, d: int, *, min_value: float = 1e-3, max_cond: float = 1e6) -> np.ndarray:
    """Symmetric positive definite matrices ``Q diag(w) Q^T`` with spread spectra."""
    w = draw(spectra(d, min_value=min_value, max_cond=max_cond))
    Q = draw(orthogonal_matrices(d))
    M = (Q * w) @ Q.T
    return 0.5 * (M + M.T)


@st.composite
def psd_matrices(draw, d: int, *, rank: int | None = None) -> np.ndarray:
    """Positive semi-definite matrices ``G G^T`` of the given rank (drawn in 1..d if None)."""
    r = draw(st.integers(1, d)) if rank is None else rank
    rng = np.random.default_rng(draw(seeds))
    G = rng.standard_normal((d, r)) / np.sqrt(r)
    M = G @ G.T
    return 0.5 * (M + M.T)


@st.composite
def stable_matrices(draw, n: int, *, min_real: float = 0.05, max_real: float = 5.0) -> np.ndarray:
    """Non-symmetric matrices whose eigenvalues all have real part in ``[min_real, max_real]``.

    Built as ``T J T^{-1}`` with J block diagonal (real eigenvalues and 2 x 2 rotation blocks
    ``[[a, -w], [w, a]]``, i.e. complex pairs ``a +- i w``) and T = I + a bounded perturbation,
    so the eigenvector basis is well conditioned (cond(T) <= 3).
    """
    rng = np.random.default_rng(draw(seeds))
    J = np.zeros((n, n))
    i = 0
    while i < n:
        a = float(np.exp(rng.uniform(np.log(min_real), np.log(max_real))))
        if i + 1 < n and draw(st.booleans()):
            w = float(rng.uniform(0.1, 3.0))
            J[i : i + 2, i : i + 2] = [[a, -w], [w, a]]
            i += 2
        else:
            J[i, i] = a
            i += 1
    P = rng.standard_normal((n, n))
    T = np.eye(n) + 0.5 * P / np.linalg.norm(P, 2)
    return T @ J @ np.linalg.inv(T)


@st.composite
def sgd_setups(
    draw, d: int, *, noise: str = "any", max_cond: float = 1e4, max_momentum: float = 0.999
):
    """Keyword arguments for :class:`dynlab.ou.SGDPhaseSpace` inside its stability region.

    ``lr`` is a drawn fraction in [0.01, 0.95] of the stability limit ``2 (1 + momentum) /
    (rho_max + weight_decay)``; ``noise`` is ``"scalar"`` (``("hessian", sigma2)``: Sigma =
    sigma2 H), ``"matrix"`` (a PSD matrix not commuting with H), or ``"any"``. Momentum spans
    [0, max_momentum], so all three damping regimes occur.
    """
    H = draw(spd_matrices(d, max_cond=max_cond))
    momentum = draw(st.one_of(st.just(0.0), st.floats(0.0, max_momentum)))
    weight_decay = draw(st.one_of(st.just(0.0), st.floats(1e-4, 1.0)))
    rho_max = float(np.linalg.eigvalsh(H)[-1])
    lr = draw(st.floats(0.01, 0.95)) * 2.0 * (1.0 + momentum) / (rho_max + weight_decay)
    kind = draw(st.sampled_from(["scalar", "matrix"])) if noise == "any" else noise
    if kind == "scalar":
        noise_cov = ("hessian", draw(st.floats(0.01, 10.0)))
    else:
        noise_cov = draw(psd_matrices(d, rank=d))
    rng = np.random.default_rng(draw(seeds))
    return dict(
        H=H,
        b=rng.standard_normal(d),
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        batch_size=draw(st.integers(1, 512)),
        noise_cov=noise_cov,
    )


@st.composite
def critical_setups(draw, d: int, *, offset: float = 0.0):
    """SGD setups whose top mode is critically damped (zeta_1 = 1 up to ``offset``).

    From ``zeta = (1 - beta) / sqrt(2 lr (1 + beta)(rho + lambda))``: the top eigenvalue is set to
    ``rho_1 = (1 - beta)^2 (1 + offset) / (2 lr (1 + beta)) - lambda``, the others below it;
    ``offset`` > 0 makes it slightly underdamped, < 0 overdamped.
    """
    momentum = draw(st.floats(0.0, 0.99))
    lr = draw(st.floats(1e-3, 1.0))
    weight_decay = draw(st.one_of(st.just(0.0), st.floats(1e-4, 1e-2)))
    rho1 = (1.0 - momentum) ** 2 * (1.0 + offset) / (2.0 * lr * (1.0 + momentum)) - weight_decay
    if rho1 <= 0:
        rho1 = (1.0 - momentum) ** 2 * (1.0 + offset) / (2.0 * lr * (1.0 + momentum))
        weight_decay = 0.0
    others = rho1 * np.array(draw(st.lists(st.floats(1e-3, 0.99), min_size=d - 1, max_size=d - 1)))
    w = np.concatenate([[rho1], others])
    Q = draw(orthogonal_matrices(d))
    H = (Q * w) @ Q.T
    return dict(
        H=0.5 * (H + H.T),
        b=np.zeros(d),
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        batch_size=draw(st.integers(1, 64)),
        noise_cov=("hessian", draw(st.floats(0.01, 10.0))),
    )
