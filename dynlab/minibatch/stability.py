r"""The mean-square stability edge of minibatch heavy-ball SGD on finite data.

The second moment of :class:`~dynlab.minibatch.MinibatchSGD` obeys an affine map whose linear
part ``R: P -> F P F^T + c_S G (M(P_dd) - H P_dd H) G^T`` is positive (PSD to PSD). The
optimizer is mean-square stable iff its spectral radius (its Perron root) is below 1
(Ziyin et al., ICLR 2022, and Mulayoff & Michaeli, COLT 2024, for momentum 0; Velikanov,
Kuznedelev & Yarotsky, ICLR 2023, sample-space form). The Perron root grows from
``rho(F)^2 < 1`` at small lr to at least ``rho(F)^2 = 1`` at the deterministic limit
``lr = 2 (1 + beta) / (rho_1 + lambda)``, so the largest stable lr is the root of
``rho(R(lr)) = 1`` in between, found by Brent's method.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .. import config
from ..errors import HyperparameterError
from ..hyper import HeavyBall
from ..progress import progress
from .data import FiniteData
from .independent import MinibatchSGD, batch_factor, perron_root

__all__ = ["max_stable_lr", "stability_map", "noise_sharpness", "crossover_batch_size"]


def _radius(data, lr, momentum, batch_size, sampling) -> float:
    hp = HeavyBall(lr, momentum, data.weight_decay, batch_size=batch_size)
    hp.require_scalar("max_stable_lr (stability_map sweeps momenta and batch sizes)")
    return MinibatchSGD(data, hp, sampling).spectral_radius()


def max_stable_lr(
    data: FiniteData,
    *,
    momentum: float,
    batch_size: int,
    weight_decay: float | None = None,
    sampling: str = "with_replacement",
) -> float:
    r"""Largest lr with mean-square stable minibatch SGD: the root of ``spectral_radius = 1``.

    Located by Brent's method to a relative accuracy ``config.MINIBATCH_LR_RTOL`` of the
    deterministic limit ``2 (1 + beta) / (rho_1 + lambda)`` (which bounds it from above).

    Parameters
    ----------
    data : FiniteData
    momentum : float
    batch_size : int
    weight_decay : float, optional
        Must equal ``data.weight_decay`` if given (theta* and H_lambda depend on it).
    sampling : {"with_replacement", "without_replacement"}

    Examples
    --------
    With momentum 0, ``d = 1`` and one sample per step the linear part is
    ``E delta'^2 = N^-1 sum_i (1 - lr x_i^2)^2 E delta^2``: stable iff ``lr < 2 m_2 / m_4`` with
    ``m_k = N^-1 sum_i x_i^k``:

    >>> x = np.array([0.5, 1.0, 2.0]); data = FiniteData(x[:, None], np.zeros(3) + 1.0)
    >>> lr = max_stable_lr(data, momentum=0.0, batch_size=1)
    >>> bool(abs(lr - 2 * np.mean(x**2) / np.mean(x**4)) < 1e-9 * lr)
    True
    """
    if weight_decay is not None and weight_decay != data.weight_decay:
        raise HyperparameterError(
            f"weight_decay = {weight_decay} differs from data.weight_decay = {data.weight_decay}"
        )
    top = HeavyBall(1.0, momentum, data.weight_decay).max_stable_lr(data.rho[0])
    hi, lo = top, 0.5 * top
    for _ in range(200):
        if _radius(data, lo, momentum, batch_size, sampling) < 1.0:
            break
        hi, lo = lo, 0.5 * lo
    else:  # pragma: no cover - rho(R) -> rho(F)^2 < 1 as lr -> 0
        raise HyperparameterError("no mean-square stable lr found above 2^-200 of the limit")
    if _radius(data, hi, momentum, batch_size, sampling) < 1.0:
        return hi  # no noise reaches the top mode: the deterministic limit itself
    return brentq(
        lambda lr: _radius(data, lr, momentum, batch_size, sampling) - 1.0,
        lo,
        hi,
        xtol=config.MINIBATCH_LR_RTOL * top,
        rtol=4 * config.EPS,
    )


def stability_map(
    data: FiniteData,
    *,
    momentum,
    batch_sizes,
    sampling: str = "with_replacement",
) -> np.ndarray:
    """:func:`max_stable_lr` over ``momentum`` x ``batch_sizes``: shape ``(n_momentum, n_S)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> data = FiniteData(rng.standard_normal((20, 2)), rng.standard_normal(20))
    >>> edge = stability_map(data, momentum=[0.0, 0.9], batch_sizes=[1, 4])
    >>> bool(edge.shape == (2, 2) and np.all(np.diff(edge, axis=1) > 0))   # larger S, larger lr
    True
    """
    betas = np.atleast_1d(np.asarray(momentum, dtype=np.float64))
    sizes = np.atleast_1d(np.asarray(batch_sizes))
    out = np.empty((betas.size, sizes.size))
    cells = [(i, j) for i in range(betas.size) for j in range(sizes.size)]
    for i, j in progress(cells, desc="stability edge"):
        out[i, j] = max_stable_lr(
            data, momentum=float(betas[i]), batch_size=int(sizes[j]), sampling=sampling
        )
    return out


def noise_sharpness(data: FiniteData, *, batch_size: int, sampling="with_replacement") -> float:
    r"""``2 c_S r_0``, the curvature that sets the small-batch stability plateau.

    ``r_0`` is the spectral radius of ``L_0: Y -> (M(Y) - H Y H)_ij / (k_i + k_j)`` (eigenbasis of
    H, ``k = rho + lambda``). For ``lr k << (1 - beta)^2`` the Stein weights of the recursion are
    ``lr / ((1 - beta)(k_i + k_j))`` to leading order, so the position part of the second-moment
    map is ``lr c_S / (1 - beta) L_0`` and the mean-square edge is

    .. math:: \mathrm{lr}\cdot 2 c_S r_0 = 2 (1 - \beta)

    -- the small-batch plateau of Andreyev et al. (arXiv 2604.14108) with the noise sharpness in
    place of their batch sharpness; the large-batch plateau is
    ``lr (rho_1 + lambda) = 2 (1 + beta)``.

    Examples
    --------
    In ``d = 1`` ``L_0`` is the number ``(m_4 - m_2^2) / (2 m_2)``, ``m_k = N^-1 sum x_i^k``:

    >>> x = np.array([0.5, 1.0, 2.0]); data = FiniteData(x[:, None], np.ones(3))
    >>> m2, m4 = np.mean(x**2), np.mean(x**4)
    >>> bool(np.isclose(noise_sharpness(data, batch_size=1), (m4 - m2**2) / m2, rtol=1e-12))
    True
    """
    c_S = batch_factor(data.N, batch_size, sampling)
    kk = data.k[:, None] + data.k[None, :]
    rr = data.rho[:, None] * data.rho[None, :]

    def L0(Y):
        Y = 0.5 * (Y + np.swapaxes(Y, -1, -2))
        return (data.fourth_moment_modal(Y) - rr * Y) / kk

    return 2.0 * c_S * perron_root(L0, (data.d, data.d))


def crossover_batch_size(data: FiniteData, *, momentum: float) -> float:
    r"""The batch size where the two stability plateaus meet (sampling with replacement).

    ``2 (1 - beta) / (2 r_0 / S) = 2 (1 + beta) / (rho_1 + lambda)`` gives
    ``S_x = (1 + beta) / (1 - beta) * 2 r_0 / (rho_1 + lambda)`` (:func:`noise_sharpness` at S = 1
    is ``2 r_0``). Below ``S_x`` the edge grows like ``S (1 - beta)``; above it, it saturates at
    the deterministic limit.

    Examples
    --------
    >>> x = np.array([0.5, 1.0, 2.0]); data = FiniteData(x[:, None], np.ones(3))
    >>> s = crossover_batch_size(data, momentum=0.9)
    >>> bool(np.isclose(2 * 0.1 * s / noise_sharpness(data, batch_size=1), 2 * 1.9 / data.k[0]))
    True
    """
    momentum = HeavyBall(1.0, momentum).momentum  # validated: [0, 1)
    return (1.0 + momentum) / (1.0 - momentum) * noise_sharpness(data, batch_size=1) / data.k[0]
