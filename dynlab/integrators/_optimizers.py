"""Discrete optimizers, one kernel: GD, SGD, heavy-ball momentum, Nesterov, Adam and AdamW.

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

from ..errors import HyperparameterError
from ._base import REQUIRED, Scheme, nonnegative, positive, unit_interval
from ._cache import njit
from ._ops import (
    HOT,
    draw_batch,
    draw_path,
    fused_noise,
    gradient_batch,
    gradient_path,
    noisy_gradient_batch,
    noisy_gradient_path,
    path_views,
    record_after,
    record_before,
    stacked_factors,
)
from ._rng import fill_normals

__all__ = ["GD", "SGD", "HeavyBall", "Nesterov", "Adam", "AdamW"]


@njit(**HOT)
def _momentum_update(theta, v, g, lr, momentum, weight_decay, nesterov):
    for j in range(theta.shape[0]):
        gj = g[j] + weight_decay * theta[j]
        vj = momentum * v[j] - gj
        v[j] = vj
        if nesterov:
            theta[j] += lr * (momentum * vj - gj)
        else:
            theta[j] += lr * vj


@njit(**HOT)
def _adam_update(theta, v, s, g, lr, beta1, beta2, eps, weight_decay, decoupled, k):
    step_size = lr / (1.0 - beta1 ** (k + 1))
    sqrt_bc2 = np.sqrt(1.0 - beta2 ** (k + 1))
    for j in range(theta.shape[0]):
        gj = g[j]
        if decoupled:
            theta[j] *= 1.0 - lr * weight_decay
        else:
            gj += weight_decay * theta[j]
        v[j] = beta1 * v[j] - (1.0 - beta1) * gj
        s[j] = beta2 * s[j] + (1.0 - beta2) * gj * gj
        theta[j] += step_size * v[j] / (np.sqrt(s[j]) / sqrt_bc2 + eps)


#: update rules of the optimizer kernel
_HEAVY_BALL, _NESTEROV, _ADAM, _ADAMW = 0, 1, 2, 3


@njit(**HOT)
def _update(rule, theta, v, s, g, hp, k):
    """One optimizer step of one path from its gradient g; ``hp = (lr, momentum, weight_decay,
    beta1, beta2, eps)``, a tuple (its values stay in registers: an array's would be reloaded
    after every store to theta, which it might alias); ``s`` is Adam's second moment (unused
    otherwise)."""
    if rule >= _ADAM:
        _adam_update(theta, v, s, g, hp[0], hp[3], hp[4], hp[5], hp[2], rule == _ADAMW, k)
    else:
        _momentum_update(theta, v, g, hp[0], hp[1], hp[2], rule == _NESTEROV)


@njit(cache=True)
def _optimizer_path(loss, dr, rec, theta, v, s, G, rule, hp, k0, n, i, HF, u):
    th, vv, g = theta[i], v[i], G[i]
    ss = s[i] if s.shape[0] > 0 else th[:0]
    state, perm, batch, Z, W, pos, F, normals, batches, H, b, X, Y = path_views(loss, dr, i)
    xi = W[0] if W.shape[0] > 0 else th[:0]
    # Full gradient plus generated noise w = F z (fused_noise: no minibatch rows, no injected
    # normals): the step's only draw is z, as in draw_path, into u = [theta; z], and
    # [H | F] u - b is one pass (noisy_gradient_path).
    fused = HF.shape[0] > 0
    d = th.shape[0]
    z = u[d:]
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, v, i, i + 1)
        if fused:
            fill_normals(state, z)
            for j in range(d):
                u[j] = th[j]
            noisy_gradient_path(HF, b, u, g)
        else:
            draw_path(k, i, state, perm, pos, batch, Z, W, F, normals, batches)
            gradient_path(H, b, X, Y, batch, xi, th, g)
        _update(rule, th, vv, ss, g, hp, k)
        if recording:
            record_after(loss, rec, k, theta, v, i, i + 1)


@njit(cache=True)
def _optimizer_batch(loss, dr, rec, theta, v, s, G, rule, hp, k0, n):
    M, d = theta.shape
    none = theta[0, :0]
    fused = fused_noise(dr)
    if fused:
        U, HF = np.empty((M, 2 * d)), stacked_factors(loss, dr)
    else:
        U, HF = np.empty((0, 0)), np.empty((0, 0))
    for k in range(k0, k0 + n):
        recording = (k + 1) % rec.every == 0
        if recording:
            record_before(loss, rec, k, theta, v, 0, M)
        if fused:
            noisy_gradient_batch(loss, dr, theta, U, HF, G)
        else:
            draw_batch(dr, k)
            gradient_batch(loss, theta, dr.batch, dr.W, dr.W.shape[1] > 0, G)
        for i in range(M):
            _update(rule, theta[i], v[i], s[i] if s.shape[0] > 0 else none, G[i], hp, k)
        if recording:
            record_after(loss, rec, k, theta, v, 0, M)


@njit(cache=True, nogil=True)
def _optimizer_kernel(loss, dr, rec, theta, v, s, G, rule, hp, k0, n, i0, i1):
    if loss.blas:
        _optimizer_batch(loss, dr, rec, theta, v, s, G, rule, hp, k0, n)
    else:
        d = theta.shape[1]
        if fused_noise(dr):  # [H | F] once per call, u = [theta; z] per path in turn
            HF, u = stacked_factors(loss, dr), np.empty(2 * d)
        else:
            HF, u = np.empty((0, 0)), np.empty(2 * d)
        for i in range(i0, i1):
            _optimizer_path(loss, dr, rec, theta, v, s, G, rule, hp, k0, n, i, HF, u)


class _Momentum(Scheme):
    """Heavy-ball family; subclasses fix ``_nesterov`` and whether the gradient is exact."""

    kind = "optimizer"
    linear_step = "momentum"
    reference = "seed 003 eq. 2 (PyTorch SGD semantics, docs/conventions.md)"
    _nesterov = False

    def _check(self, values):
        hp = self._heavy_ball(values)
        #: the optimizer (its kernel tuple is ``heavy_ball.as_tuple()``)
        self.heavy_ball = hp
        out = {"lr": hp.lr, "momentum": hp.momentum, "weight_decay": hp.weight_decay}
        if "batch_size" in values:
            out["batch_size"] = hp.batch_size
        return out

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        lr, momentum, weight_decay = self.heavy_ball.as_tuple()[:3]
        hp = (lr, momentum, weight_decay, 0.0, 0.0, 0.0)
        rule = _NESTEROV if self._nesterov else _HEAVY_BALL
        _optimizer_kernel(loss, draws, rec, theta, v, theta[:0], work[0], rule, hp, k0, n, i0, i1)


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
    linear_step = "nesterov"


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

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        p = self.params
        beta1, beta2 = p["betas"]
        hp = (
            float(p["lr"]),
            0.0,
            float(p["weight_decay"]),
            float(beta1),
            float(beta2),
            float(p["eps"]),
        )
        rule = _ADAMW if self._decoupled else _ADAM
        _optimizer_kernel(
            loss, draws, rec, theta, v, state["exp_avg_sq"], work[0], rule, hp, k0, n, i0, i1
        )


class Adam(_AdamFamily):
    """``torch.optim.Adam``: L2 weight decay added to the gradient."""

    name = "adam"
    reference = "torch.optim.Adam (Kingma & Ba 2015, Algorithm 1)"
    hyper = {
        "lr": REQUIRED,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "batch_size": 1,
    }


class AdamW(_AdamFamily):
    """``torch.optim.AdamW``: decoupled weight decay ``theta <- theta (1 - lr weight_decay)``."""

    name = "adamw"
    reference = "torch.optim.AdamW (Loshchilov & Hutter 2019, Algorithm 2)"
    hyper = {
        "lr": REQUIRED,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 1e-2,
        "batch_size": 1,
    }
    _decoupled = True
