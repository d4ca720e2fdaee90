"""Discrete optimizers: GD, SGD, heavy-ball momentum, Nesterov (one kernel), Adam and AdamW.

Heavy-ball in the seed's sign convention (seed 003 eq. 2, docs/conventions.md; PyTorch's
momentum buffer is ``-v``)::

    v_{k+1} = momentum v_k - (g_B(theta_k) + weight_decay theta_k)
    theta_{k+1} = theta_k + lr v_{k+1}                       (nesterov: + lr (momentum v_{k+1} - g))

GD is the same recursion with the exact gradient, SGD with momentum 0. Adam and AdamW follow
``torch.optim.Adam`` / ``AdamW`` (Kingma & Ba 2015, Algorithm 1; Loshchilov & Hutter 2019,
Algorithm 2) with ``v = -m`` (the first moment with the seed's sign) and second moment ``s``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..errors import HyperparameterError
from ._base import REQUIRED, Scheme, nonnegative, positive, unit_interval
from ._ops import draw, gradients, is_record_step, record_after, record_before

__all__ = ["GD", "SGD", "HeavyBall", "Nesterov", "Adam", "AdamW"]


@njit(parallel=True, cache=True)
def _momentum_kernel(loss, dr, rec, theta, v, lr, momentum, weight_decay, nesterov, k0, n):
    M, d = theta.shape
    G = np.empty_like(theta)
    xi = dr.W[0] if dr.W.shape[0] > 0 else np.empty((0, d))
    for k in range(k0, k0 + n):
        recording = is_record_step(rec, k)
        if recording:
            record_before(loss, rec, k, theta, v)
        draw(loss, dr, k)
        gradients(loss, theta, dr.batch, xi, G)
        for i in prange(M):
            for j in range(d):
                g = G[i, j] + weight_decay * theta[i, j]
                vj = momentum * v[i, j] - g
                v[i, j] = vj
                if nesterov:
                    theta[i, j] += lr * (momentum * vj - g)
                else:
                    theta[i, j] += lr * vj
        if recording:
            record_after(loss, rec, k, theta, v)


class _Momentum(Scheme):
    """Heavy-ball family; subclasses fix ``_nesterov`` and whether the gradient is exact."""

    kind = "optimizer"
    reference = "seed 003 eq. 2 (PyTorch SGD semantics, docs/conventions.md)"
    _nesterov = False

    def _check(self, values):
        out = {
            "lr": positive(values["lr"], "lr"),
            "momentum": unit_interval(values.get("momentum", 0.0), "momentum"),
            "weight_decay": nonnegative(values["weight_decay"], "weight_decay"),
        }
        if "batch_size" in values:
            out["batch_size"] = self._batch_size(values["batch_size"])
        return out

    def advance(self, loss, draws, rec, theta, v, state, k0, n):
        p = self.params
        _momentum_kernel(
            loss, draws, rec, theta, v, p["lr"], p["momentum"], p["weight_decay"],
            self._nesterov, k0, n,
        )


class GD(_Momentum):
    """Full-batch gradient descent (with optional heavy-ball momentum): the exact gradient."""

    name = "gd"
    minibatch = False
    hyper = {"lr": REQUIRED, "momentum": 0.0, "weight_decay": 0.0}


class SGD(_Momentum):
    """Minibatch SGD: ``theta <- theta - lr (g_B + weight_decay theta)``."""

    name = "sgd"
    hyper = {"lr": REQUIRED, "weight_decay": 0.0, "batch_size": 1}


class HeavyBall(_Momentum):
    """Heavy-ball momentum SGD, PyTorch semantics (seed 003 eq. 2)."""

    name = "heavy_ball"
    hyper = {"lr": REQUIRED, "momentum": REQUIRED, "weight_decay": 0.0, "batch_size": 1}


class Nesterov(_Momentum):
    """Nesterov momentum as in ``torch.optim.SGD(nesterov=True)``."""

    name = "nesterov"
    reference = "torch.optim.SGD(nesterov=True) (Sutskever et al. 2013), seed sign v = -buf"
    hyper = {"lr": REQUIRED, "momentum": REQUIRED, "weight_decay": 0.0, "batch_size": 1}
    _nesterov = True


@njit(parallel=True, cache=True)
def _adam_kernel(loss, dr, rec, theta, v, s, lr, beta1, beta2, eps, weight_decay, decoupled, k0, n):
    M, d = theta.shape
    G = np.empty_like(theta)
    xi = dr.W[0] if dr.W.shape[0] > 0 else np.empty((0, d))
    for k in range(k0, k0 + n):
        recording = is_record_step(rec, k)
        if recording:
            record_before(loss, rec, k, theta, v)
        draw(loss, dr, k)
        gradients(loss, theta, dr.batch, xi, G)
        step_size = lr / (1.0 - beta1 ** (k + 1))
        sqrt_bc2 = np.sqrt(1.0 - beta2 ** (k + 1))
        for i in prange(M):
            for j in range(d):
                g = G[i, j]
                if decoupled:
                    theta[i, j] *= 1.0 - lr * weight_decay
                else:
                    g += weight_decay * theta[i, j]
                v[i, j] = beta1 * v[i, j] - (1.0 - beta1) * g
                s[i, j] = beta2 * s[i, j] + (1.0 - beta2) * g * g
                theta[i, j] += step_size * v[i, j] / (np.sqrt(s[i, j]) / sqrt_bc2 + eps)
        if recording:
            record_after(loss, rec, k, theta, v)


class _AdamFamily(Scheme):
    """Adam with coupled (L2) or decoupled (AdamW) weight decay; ``v = -exp_avg``."""

    kind = "optimizer"
    _decoupled = False

    def _check(self, values):
        betas = values["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise HyperparameterError(f"betas must be a pair (beta1, beta2); got {betas!r}")
        return {
            "lr": positive(values["lr"], "lr"),
            "betas": (unit_interval(betas[0], "betas[0]"), unit_interval(betas[1], "betas[1]")),
            "eps": positive(values["eps"], "eps"),
            "weight_decay": nonnegative(values["weight_decay"], "weight_decay"),
            "batch_size": self._batch_size(values["batch_size"]),
        }

    def init_state(self, theta, v):
        return {"exp_avg_sq": np.zeros_like(theta)}

    def advance(self, loss, draws, rec, theta, v, state, k0, n):
        p = self.params
        _adam_kernel(
            loss, draws, rec, theta, v, state["exp_avg_sq"], p["lr"], p["betas"][0],
            p["betas"][1], p["eps"], p["weight_decay"], self._decoupled, k0, n,
        )


class Adam(_AdamFamily):
    """``torch.optim.Adam``: L2 weight decay added to the gradient."""

    name = "adam"
    reference = "torch.optim.Adam (Kingma & Ba 2015, Algorithm 1)"
    hyper = {"lr": REQUIRED, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "batch_size": 1}


class AdamW(_AdamFamily):
    """``torch.optim.AdamW``: decoupled weight decay ``theta <- theta (1 - lr weight_decay)``."""

    name = "adamw"
    reference = "torch.optim.AdamW (Loshchilov & Hutter 2019, Algorithm 2)"
    hyper = {"lr": REQUIRED, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2, "batch_size": 1}
    _decoupled = True
